"""Typed errors of the optimizer, each carrying a "To fix:" hint and a CLI exit code."""

from __future__ import annotations

__all__ = [
    "EXIT_INFEASIBLE",
    "EXIT_INVALID_INPUT",
    "EXIT_OK",
    "CatalogError",
    "EstateError",
    "InfeasibleEstateError",
    "OptimizerError",
]

EXIT_OK = 0
EXIT_INVALID_INPUT = 2
EXIT_INFEASIBLE = 3


class OptimizerError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""

    exit_code = 1


class EstateError(OptimizerError):
    """The estate file is unreadable or invalid. Each problem names the file and the field."""

    exit_code = EXIT_INVALID_INPUT

    def __init__(self, source: str, problems: list[tuple[str, str, str]]):
        # problems: (field path, what is wrong, how to fix it)
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s) in the estate"]
        for location, what, fix in problems:
            lines.append(f"  - {location}: {what}. To fix: {fix}")
        super().__init__("\n".join(lines))


class CatalogError(OptimizerError):
    """The price catalog directory is missing files or has malformed rows."""

    exit_code = EXIT_INVALID_INPUT


class InfeasibleEstateError(OptimizerError):
    """No placement satisfies every hard constraint; ``reasons`` names the binding ones."""

    exit_code = EXIT_INFEASIBLE

    def __init__(self, estate: str, reasons: list[str]):
        self.estate = estate
        self.reasons = reasons
        body = "\n".join(f"  - {reason}" for reason in reasons)
        super().__init__(f"estate '{estate}' has no feasible placement:\n{body}")
