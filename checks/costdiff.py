"""Cost diff of two revisions, per stack and per workload (what Infracost does for Terraform).

A side is a plan JSON file, a checkout directory, or a git ref (exported with ``git archive`` into a
temporary directory, so the working tree and index are never touched). In a checkout, a stack's plan
is what the program would deploy (``deploy.preview.run_offline(stack).plan``, run in a subprocess
with that checkout's code); when the checkout has no program yet, or it fails, the committed plan
lock ``stacks/<stack>.plan.lock.json`` is used; otherwise the stack is absent on that side.
Plans are read as plain JSON so that older plan schemas still diff.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

__all__ = ["CostDiffError", "StackDiff", "WorkloadDiff", "diff_plans", "diff_stacks", "load_side", "render_markdown"]

_MARK = "@@AIINFRA-PLAN@@"
_SNIPPET = f"""
import sys
sys.path.insert(0, '.')
try:
    from deploy.preview import run_offline
except ImportError:
    sys.exit(17)
run = run_offline(sys.argv[1])
print({_MARK!r} + run.plan.canonical_json())
"""


class CostDiffError(ValueError):
    """A side of the diff cannot be read."""


def _total(plan: Mapping[str, Any]) -> float:
    if "total_usd_per_month" in plan:
        return float(plan["total_usd_per_month"])
    return round(sum(_placement_cost(p) for p in plan.get("placements", []))
                 + sum(float(c.get("usd_per_month", 0)) for c in plan.get("dataset_copies", [])), 2)


def _placement_cost(placement: Mapping[str, Any]) -> float:
    cost = placement.get("cost") or {}
    return round(sum(float(cost.get(k, 0)) for k in ("compute", "transfer", "storage")), 2)


def _describe(placement: Mapping[str, Any]) -> str:
    return (f"{placement.get('place')} {placement.get('instance_type')} x{placement.get('nodes')} "
            f"{placement.get('purchase')}")


@dataclass(frozen=True)
class WorkloadDiff:
    workload: str
    base: Optional[str]
    head: Optional[str]
    base_usd: float
    head_usd: float

    @property
    def delta(self) -> float:
        return round(self.head_usd - self.base_usd, 2)

    @property
    def status(self) -> str:
        if self.base is None:
            return "added"
        if self.head is None:
            return "removed"
        if self.base != self.head:
            return "moved"
        return "changed" if abs(self.delta) >= 0.005 else "unchanged"


@dataclass(frozen=True)
class StackDiff:
    stack: str
    base_total: Optional[float]
    head_total: Optional[float]
    workloads: list[WorkloadDiff] = field(default_factory=list)
    base_copies: float = 0.0
    head_copies: float = 0.0
    base_budget: Optional[float] = None
    head_budget: Optional[float] = None

    @property
    def delta(self) -> float:
        return round((self.head_total or 0.0) - (self.base_total or 0.0), 2)

    def as_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "base_total": self.base_total, "head_total": self.head_total,
                "delta": self.delta, "base_budget": self.base_budget, "head_budget": self.head_budget,
                "dataset_copies": {"base": self.base_copies, "head": self.head_copies},
                "workloads": [{"workload": w.workload, "status": w.status, "base": w.base, "head": w.head,
                               "base_usd": w.base_usd, "head_usd": w.head_usd, "delta": w.delta}
                              for w in self.workloads]}


def diff_plans(stack: str, base: Optional[Mapping[str, Any]], head: Optional[Mapping[str, Any]]) -> StackDiff:
    """Per-workload diff of two plans (either may be None: stack added or removed)."""
    before = {p["workload"]: p for p in (base or {}).get("placements", [])}
    after = {p["workload"]: p for p in (head or {}).get("placements", [])}
    workloads = [WorkloadDiff(name,
                              _describe(before[name]) if name in before else None,
                              _describe(after[name]) if name in after else None,
                              _placement_cost(before[name]) if name in before else 0.0,
                              _placement_cost(after[name]) if name in after else 0.0)
                 for name in sorted(set(before) | set(after))]
    copies = lambda plan: round(sum(float(c.get("usd_per_month", 0)) for c in (plan or {}).get("dataset_copies", [])), 2)  # noqa: E731
    return StackDiff(stack, _total(base) if base is not None else None, _total(head) if head is not None else None,
                     workloads, copies(base), copies(head),
                     (base or {}).get("budget_usd_per_month"), (head or {}).get("budget_usd_per_month"))


def diff_stacks(base: Mapping[str, Optional[dict]], head: Mapping[str, Optional[dict]]) -> list[StackDiff]:
    return [diff_plans(stack, base.get(stack), head.get(stack)) for stack in sorted(set(base) | set(head))]


def _money(value: Optional[float]) -> str:
    return "—" if value is None else f"${value:,.2f}"


def _signed(value: float) -> str:
    if abs(value) < 0.005:
        return "$0.00"
    return f"{'+' if value > 0 else '-'}${abs(value):,.2f}"


def _percent(delta: float, base: Optional[float]) -> str:
    if not base:
        return ""
    return f" ({'+' if delta >= 0 else ''}{delta / base * 100:.1f}%)"


def render_markdown(diffs: Sequence[StackDiff], base_label: str, head_label: str) -> str:
    """The pull-request comment."""
    total_base = sum(d.base_total or 0.0 for d in diffs)
    total_head = sum(d.head_total or 0.0 for d in diffs)
    delta = round(total_head - total_base, 2)
    lines = ["<!-- aiinfra-costdiff -->", "## Monthly cost diff", "",
             f"`{base_label}` → `{head_label}`: **{_money(total_base)} → {_money(total_head)}** "
             f"({_signed(delta)}/month{_percent(delta, total_base).replace(' (', ', ').rstrip(')')})", "",
             "| stack | base /month | head /month | change | budget |", "|---|---:|---:|---:|---:|"]
    for d in diffs:
        budget = d.head_budget if d.head_budget is not None else d.base_budget
        over = " ⚠️ over budget" if budget is not None and d.head_total is not None and d.head_total > budget else ""
        lines.append(f"| `{d.stack}` | {_money(d.base_total)} | {_money(d.head_total)} | "
                     f"{_signed(d.delta)}{_percent(d.delta, d.base_total)} | {_money(budget)}{over} |")
    for d in diffs:
        changed = [w for w in d.workloads if w.status != "unchanged"]
        lines += ["", f"### `{d.stack}`", ""]
        if d.base_total is None:
            lines.append("New stack on this branch.")
        elif d.head_total is None:
            lines.append("Stack removed on this branch.")
        if not changed and abs(d.head_copies - d.base_copies) < 0.005:
            lines.append("No workload changes.")
            continue
        lines += ["| workload | change | base | head | base /month | head /month | Δ /month |",
                  "|---|---|---|---|---:|---:|---:|"]
        for w in sorted(changed, key=lambda w: (-abs(w.delta), w.workload)):
            lines.append(f"| `{w.workload}` | {w.status} | {w.base or '—'} | {w.head or '—'} | "
                         f"{_money(w.base_usd if w.base else None)} | {_money(w.head_usd if w.head else None)} | "
                         f"{_signed(w.delta)} |")
        if abs(d.head_copies - d.base_copies) >= 0.005:
            lines.append(f"| *dataset copies* | changed | | | {_money(d.base_copies)} | {_money(d.head_copies)} | "
                         f"{_signed(round(d.head_copies - d.base_copies, 2))} |")
    lines.append("")
    return "\n".join(lines)


# --- reading a side -----------------------------------------------------------------------------

def _read_plan(path: Path) -> dict:
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CostDiffError(f"{path}: not a readable plan JSON ({exc})") from None
    if not isinstance(plan, dict) or "placements" not in plan:
        raise CostDiffError(f"{path}: not a plan (no 'placements'). To fix: pass a file written by "
                            "'python -m optimizer plan --out'")
    return plan


def plan_from_checkout(root: Path, stack: str, timeout: float = 1800) -> Optional[dict]:
    """The plan a checkout would deploy for ``stack`` (program, else plan lock, else None)."""
    if (root / "deploy" / "preview.py").is_file():
        env = {**os.environ, "PYTHONPATH": str(root)}
        result = subprocess.run([sys.executable, "-c", _SNIPPET, stack], cwd=root, env=env, capture_output=True,
                                text=True, timeout=timeout)
        if result.returncode == 0 and _MARK in result.stdout:
            return json.loads(result.stdout.split(_MARK, 1)[1])
        if result.returncode != 17:
            sys.stderr.write(f"warning: plan of stack '{stack}' in {root} failed; using its plan lock if any\n"
                             f"{result.stderr[-2000:]}\n")
    lock = root / "stacks" / f"{stack}.plan.lock.json"
    return _read_plan(lock) if lock.is_file() else None


def _export_ref(ref: str, repo: Path) -> Path:
    check = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=repo,
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise CostDiffError(f"'{ref}' is neither a plan JSON file, a directory nor a git ref. "
                            "To fix: fetch the base branch (actions/checkout with fetch-depth: 0)")
    target = Path(tempfile.mkdtemp(prefix="aiinfra-costdiff-"))
    archive = subprocess.run(["git", "archive", "--format=tar", check.stdout.strip()], cwd=repo,
                             capture_output=True, check=True)
    with tempfile.TemporaryFile() as handle:
        handle.write(archive.stdout)
        handle.seek(0)
        with tarfile.open(fileobj=handle) as tar:
            tar.extractall(target, filter="data")
    return target


def _discover_stacks(root: Path) -> list[str]:
    names = {p.name[len("Pulumi."):-len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml")}
    names |= {p.name[:-len(".plan.lock.json")] for p in (root / "stacks").glob("*.plan.lock.json")}
    return sorted(names)


def load_side(spec: str, stacks: Sequence[str], repo: Path | None = None) -> dict[str, Optional[dict]]:
    """stack -> plan dict (None when the stack does not exist on that side)."""
    repo = repo or Path.cwd()
    path = Path(spec)
    if path.suffix == ".json" and path.is_file():
        name = stacks[0] if len(stacks) == 1 else path.name.split(".")[0]
        return {name: _read_plan(path)}
    cleanup = None
    if not path.is_dir():
        path = cleanup = _export_ref(spec, repo)
    try:
        names = list(stacks) or _discover_stacks(path)
        return {stack: plan_from_checkout(path, stack) for stack in names}
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
