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
from typing import Iterator, Sequence

from optimizer.errors import OptimizerError
from optimizer.plan import Plan

__all__ = ["PlanLockError", "RunInProgressError", "exclusive_run", "lock_path", "read_plan_lock",
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
