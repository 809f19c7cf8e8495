"""Plan locks on disk: one committed plan per stack, written atomically, one writer at a time.

``stacks/<stack>.plan.lock.json`` holds the canonical JSON of the placement deployed for a stack.
A re-optimization run takes an exclusive, non-blocking ``flock`` on ``<lock>.run`` for its whole
duration, so two runs on one stack cannot both write; the loser fails at once with
:class:`RunInProgressError`. Files are written to a temporary file in the same directory, fsynced,
then renamed over the target; the lock is renamed last, so a crash at any point leaves either the
old lock or the new one, never a torn file.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from optimizer.errors import OptimizerError
from optimizer.plan import Plan

if TYPE_CHECKING:
    from optimizer.catalog import Catalog
    from optimizer.estate import LoadedEstate

__all__ = ["PlanLockError", "RunInProgressError", "exclusive_run", "lock_path", "plan_for_stack", "read_plan_lock",
           "write_files_atomically"]

EXIT_RUN_IN_PROGRESS = 5


class RunInProgressError(OptimizerError):
    """Another re-optimization run holds this stack's run lock."""

    exit_code = EXIT_RUN_IN_PROGRESS


class PlanLockError(OptimizerError):
    """The plan lock file exists but is not a valid, untampered plan."""

    exit_code = 2


def lock_path(stacks_dir: Path, stack: str) -> Path:
    return stacks_dir / f"{stack}.plan.lock.json"


@contextmanager
def exclusive_run(lock: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock for one stack while the body runs."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    run_file = lock.with_name(lock.name + ".run")
    handle = open(run_file, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgressError(
                f"{lock}: another re-optimization run for this stack is in progress (it holds {run_file}). "
                "To fix: wait for it to finish; runs on one stack are serialised on purpose") from None
        yield
    finally:
        handle.close()  # closing releases the flock


def read_plan_lock(path: Path) -> Plan | None:
    """The locked plan, or None when the stack has none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PlanLockError(f"{path}: cannot be read ({exc.strerror}). To fix: check its permissions") from None
    try:
        return Plan.from_json(text)
    except ValueError as exc:
        message = str(exc).splitlines()[0]
        raise PlanLockError(f"{path}: not a valid plan lock ({message}). To fix: restore it from git "
                            "(git checkout -- the file) or delete it to re-plan from scratch") from None


def write_files_atomically(files: Sequence[tuple[Path, str]]) -> None:
    """Write every file via temp + fsync + rename, in order; put the commit-point file last."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            staged.append((temporary, path))
        for temporary, path in staged:
            os.replace(temporary, path)
    finally:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)


def plan_for_stack(loaded: "LoadedEstate", catalog: "Catalog", lock: Path, *, stack: str) -> Plan:
    """The plan a deployment uses: the stack's committed lock when there is one, else a fresh optimum.

    Deploying the lock (not a fresh optimum) is what makes re-optimization a reviewed change: a
    cheaper placement reaches the clusters only through a new lock. A lock that no longer fits the
    estate (other estate, added or removed workloads, a placement its data may no longer use) is
    refused with the command that renews it.
    """
    from optimizer.federation import expand_federated
    from optimizer.solve import optimize

    plan = read_plan_lock(lock)
    if plan is None:
        return optimize(loaded, catalog)
    renew = (f"To fix: run 'python -m optimizer reoptimize --stack {stack}' and commit the new {lock.name}")
    if plan.estate != loaded.estate.name:
        raise PlanLockError(f"{lock}: locked for estate '{plan.estate}', the stack uses '{loaded.estate.name}'. {renew}")
    from optimizer.candidates import data_classes_by_workload

    expanded = expand_federated(loaded.estate, catalog, loaded.rules).estate
    planned = {w.name for w in expanded.workloads}
    classes_now = data_classes_by_workload(expanded)  # today's classes, not the ones recorded in the lock
    locked = {p.workload for p in plan.placements}
    if planned != locked:
        added, removed = sorted(planned - locked), sorted(locked - planned)
        raise PlanLockError(f"{lock}: the estate changed since the lock (new: {', '.join(added) or 'none'}; removed: "
                            f"{', '.join(removed) or 'none'}). {renew}")
    for placement in plan.placements:
        places = [placement.place] + [site.place for site in placement.serving_sites]
        for place in places:
            jurisdiction, onprem = _place_facts(loaded, catalog, place)
            for data_class in classes_now[placement.workload]:
                reason = loaded.rules.rule(data_class).violation(jurisdiction, onprem=onprem)
                if reason:
                    raise PlanLockError(f"{lock}: `{placement.workload}` at {place}: {reason}. {renew}")
    budget = loaded.estate.budget_usd_per_month
    if budget is not None and plan.total_usd_per_month > budget + 0.005:
        raise PlanLockError(f"{lock}: the locked plan costs ${plan.total_usd_per_month:,.2f}/month, over the budget of "
                            f"${budget:,.2f}. {renew}")
    return plan


def _place_facts(loaded: "LoadedEstate", catalog: "Catalog", place: str) -> tuple[str | None, bool]:
    """(jurisdiction, is_onprem) of a place named in a lock; a place the estate or catalog no longer
    knows has no jurisdiction, which a restricted data class then refuses."""
    from optimizer.candidates import place_jurisdiction
    from optimizer.model import parse_place

    parsed = parse_place(place)
    known = parsed in catalog.regions if parsed else loaded.estate.private_site(place) is not None
    return place_jurisdiction(loaded.estate, catalog, place) if known else (None, False)
