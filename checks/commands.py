"""Command bodies for the lead to wire into ``python -m optimizer`` (also runnable as ``python -m checks``).

* :func:`check_command` -- run the program offline under the mock engine (``deploy.preview.run_offline``),
  run every policy of the pack over the registered resources with the real ``pulumi_policy`` callbacks,
  print the findings, write markdown and SARIF, exit 4 on any mandatory violation.
* :func:`costdiff_command` -- per-stack, per-workload monthly cost diff between two revisions.
* :func:`policy_config_command` -- the ``--policy-pack-config`` JSON for a real ``pulumi preview``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from checks.analyzer import PackConfig, PackConfigError, Resource, Violation, analyze, STACK_TYPE
from checks.report import markdown, sarif_text, table
from policy.pack import PACK_NAME, build_policies

__all__ = ["EXIT_INVALID", "EXIT_MANDATORY", "CheckResult", "check_command", "costdiff_command",
           "policy_config_command", "policy_config_for", "run_check"]

EXIT_OK, EXIT_UNEXPECTED, EXIT_INVALID, EXIT_MANDATORY = 0, 1, 2, 4
REPO_ROOT = Path(__file__).resolve().parent.parent
POLICY_CONFIG_DIR = REPO_ROOT / "policy" / "config"
WORKLOAD_POLICY = "sovereignty-workload-location"


@dataclass(frozen=True)
class CheckResult:
    stack: str
    violations: list[Violation]
    resources: int

    @property
    def mandatory(self) -> int:
        return sum(v.mandatory for v in self.violations)

    @property
    def exit_code(self) -> int:
        return EXIT_MANDATORY if self.mandatory else EXIT_OK


def _sites_from_plan(plan: Any) -> dict[str, dict[str, str]]:
    sites: dict[str, dict[str, str]] = {}
    for placement in getattr(plan, "placements", []) or []:
        # a multi-site service runs at every serving site, private ones included
        for where in [placement, *(getattr(placement, "serving_sites", None) or [])]:
            if where.site_kind in ("onprem", "edge"):
                sites[where.place] = {"kind": where.site_kind, "jurisdiction": where.jurisdiction}
    return sites


def policy_config_for(stack: str, plan: Any, config_dir: Path = POLICY_CONFIG_DIR) -> PackConfig:
    """The stack's pack config (``policy/config/<stack>.json``) plus the sites the plan uses."""
    config = PackConfig.load(config_dir / f"{stack}.json")
    existing = config.properties_by_name(WORKLOAD_POLICY).get("sites") or {}
    sites = {**_sites_from_plan(plan), **existing}
    return config.with_properties(WORKLOAD_POLICY, sites=sites) if sites else config


def _default_providers(run: Any) -> dict[str, dict[str, Any]]:
    """Default-provider props from stack config keys such as ``aws:region`` (what the engine passes)."""
    providers: dict[str, dict[str, Any]] = {}
    for key, value in (getattr(run, "config", None) or {}).items():
        package, _, name = key.partition(":")
        if package in ("aws", "gcp", "kubernetes") and name:
            providers.setdefault(package, {})[name] = value
    return providers


def run_check(run: Any, stack: str, config: PackConfig | None = None,
              policies: Sequence[Any] | None = None) -> CheckResult:
    """Every finding of the pack over an OfflineRun (resources, outputs, plan)."""
    policies = list(policies) if policies is not None else build_policies()
    config = config if config is not None else policy_config_for(stack, getattr(run, "plan", None))
    resources = [Resource.of(r) for r in run.resources]
    if not any(r.type == STACK_TYPE for r in resources):
        resources.append(Resource(type=STACK_TYPE, name=f"aiinfra-{stack}", urn=f"urn:pulumi:{stack}::aiinfra::"
                                  f"{STACK_TYPE}::aiinfra-{stack}", inputs={}, custom=False,
                                  outputs=dict(getattr(run, "outputs", None) or {})))
    else:
        resources = [Resource(r.type, r.name, r.urn, r.inputs, r.provider, r.parent, r.custom,
                              dict(getattr(run, "outputs", None) or {}) or r.outputs)
                     if r.type == STACK_TYPE else r for r in resources]
    return CheckResult(stack, analyze(resources, policies, config, _default_providers(run)), len(resources))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)


def _run_offline(stack: str) -> Any:
    from deploy.preview import run_offline  # imported late: the program is optional for the pack itself

    return run_offline(stack)


def check_command(stack: str, markdown_out: Optional[Path] = None, sarif_out: Optional[Path] = None,
                  json_output: bool = False, *, run_offline: Callable[[str], Any] = _run_offline,
                  config_dir: Path = POLICY_CONFIG_DIR) -> int:
    """``check --stack S``: 0 clean or advisory only, 4 mandatory violation, 2 invalid config."""
    try:
        run = run_offline(stack)
        policies = build_policies()
        result = run_check(run, stack, policy_config_for(stack, getattr(run, "plan", None), config_dir), policies)
    except PackConfigError as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_INVALID
    if json_output:
        sys.stdout.write(json.dumps({"stack": stack, "resources": result.resources, "mandatory": result.mandatory,
                                     "violations": [asdict(v) for v in result.violations]}, indent=2) + "\n")
    else:
        sys.stdout.write(table(result.violations))
        sys.stdout.write(f"{len(result.violations)} finding(s), {result.mandatory} mandatory, over "
                         f"{result.resources} resources of stack '{stack}'\n")
    if markdown_out is not None:
        _write(Path(markdown_out), markdown(stack, result.violations, policies))
    if sarif_out is not None:
        artifact = getattr(run, "stack_file", None) or f"Pulumi.{stack}.yaml"
        _write(Path(sarif_out), sarif_text(stack, result.violations, policies, str(artifact)))
    return result.exit_code


def policy_config_command(stack: str, out: Optional[Path] = None, *,
                          run_offline: Callable[[str], Any] = _run_offline) -> int:
    """Write the ``--policy-pack-config`` JSON of a stack (its config file plus the plan's sites)."""
    try:
        config = policy_config_for(stack, getattr(run_offline(stack), "plan", None))
    except PackConfigError as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_INVALID
    text = json.dumps(dict(config.raw), indent=2, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        _write(Path(out), text)
    return EXIT_OK


def costdiff_command(base: str, head: str = ".", stacks: Sequence[str] = (), markdown_out: Optional[Path] = None,
                     json_output: bool = False) -> int:
    """``costdiff --base REF|DIR|plan.json --head DIR|plan.json --stack S...``: markdown cost diff."""
    from checks.costdiff import CostDiffError, diff_stacks, load_side, render_markdown

    try:
        base_plans = load_side(base, stacks)
        head_plans = load_side(head, stacks)
    except CostDiffError as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_INVALID
    diffs = diff_stacks(base_plans, head_plans)
    text = render_markdown(diffs, base, head)
    if json_output:
        sys.stdout.write(json.dumps([d.as_dict() for d in diffs], indent=2) + "\n")
    else:
        sys.stdout.write(text)
    if markdown_out is not None:
        _write(Path(markdown_out), text)
    return EXIT_OK


__all__ += ["PACK_NAME"]
