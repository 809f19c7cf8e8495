"""Benchmark: wall time and resource count of the offline preview, as JSON lines (target: prod < 10 s).

    .venv/bin/python bench/preview_bench.py [--stack prod] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.preview import run_offline  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", help="stack(s) to preview (default: prod)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for stack in args.stack or ["prod"]:
        for attempt in range(1, args.repeat + 1):
            start = time.perf_counter()
            run = run_offline(stack)
            seconds = time.perf_counter() - start
            custom = sum(1 for r in run.resources if r.custom)
            print(json.dumps({"bench": "offline_preview", "stack": stack, "attempt": attempt,
                              "seconds": round(seconds, 3), "resources": custom,
                              "components": len(run.resources) - custom,
                              "workloads": len(run.plan.placements), "target_seconds": 10.0,
                              "ok": seconds < 10.0}), flush=True)


if __name__ == "__main__":
    main()
