"""``python -m checks check|costdiff|policy-config``: the pull-request checks without cloud credentials."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from checks.commands import check_command, costdiff_command, policy_config_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="run the policy pack over the program offline (exit 4 on mandatory)")
    check.add_argument("--stack", required=True)
    check.add_argument("--markdown", type=Path)
    check.add_argument("--sarif", type=Path)
    check.add_argument("--json", action="store_true")
    diff = sub.add_parser("costdiff", help="monthly cost diff per stack and workload between two revisions")
    diff.add_argument("--base", required=True, help="git ref, checkout directory or plan JSON")
    diff.add_argument("--head", default=".", help="checkout directory, git ref or plan JSON")
    diff.add_argument("--stack", action="append", default=[], help="repeatable; default: every stack")
    diff.add_argument("--markdown", type=Path)
    diff.add_argument("--json", action="store_true")
    config = sub.add_parser("policy-config", help="the --policy-pack-config JSON of a stack")
    config.add_argument("--stack", required=True)
    config.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check_command(args.stack, args.markdown, args.sarif, args.json)
    if args.command == "costdiff":
        return costdiff_command(args.base, args.head, args.stack, args.markdown, args.json)
    return policy_config_command(args.stack, args.out)


if __name__ == "__main__":
    sys.exit(main())
