"""Renderings of policy findings: a plain table, a markdown summary and SARIF 2.1.0."""

from __future__ import annotations

import hashlib
import json
from typing import Sequence

from pulumi_policy import Policy

from checks.analyzer import Violation

__all__ = ["SARIF_SCHEMA", "markdown", "sarif", "table"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"mandatory": "error", "advisory": "warning"}
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "unspecified": "5.0"}


def _sorted(violations: Sequence[Violation]) -> list[Violation]:
    return sorted(violations, key=lambda v: (v.level != "mandatory", v.policy, v.resource_name, v.message))


def table(violations: Sequence[Violation]) -> str:
    """Fixed-width text table: level, policy, resource, message."""
    if not violations:
        return "No policy violations.\n"
    rows = [(v.level, v.policy, f"{v.resource_name} ({v.resource_type})", v.message) for v in _sorted(violations)]
    widths = [max(len(r[i]) for r in rows + [("level", "policy", "resource", "")]) for i in range(3)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("level", "policy", "resource"), widths)) + "  message"]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(stack: str, violations: Sequence[Violation], policies: Sequence[Policy]) -> str:
    """Pull-request summary: verdict, counts per policy, then every finding."""
    mandatory = sum(v.mandatory for v in violations)
    advisory = len(violations) - mandatory
    verdict = "❌ blocked" if mandatory else ("⚠️ passed with advisories" if advisory else "✅ passed")
    lines = [f"### Policy check `{stack}`: {verdict}", "",
             f"{len(policies)} policies, {mandatory} mandatory and {advisory} advisory finding(s).", ""]
    if violations:
        lines += ["| level | policy | resource | message |", "|---|---|---|---|"]
        for v in _sorted(violations):
            lines.append(f"| {v.level} | `{v.policy}` | `{_cell(v.resource_name)}` ({_cell(v.resource_type)}) "
                         f"| {_cell(v.message)} |")
        lines.append("")
    return "\n".join(lines)


def _fingerprint(violation: Violation) -> str:
    return hashlib.sha256(f"{violation.policy}\0{violation.urn}\0{violation.message}".encode()).hexdigest()


def sarif(stack: str, violations: Sequence[Violation], policies: Sequence[Policy], artifact: str,
          version: str = "0.1.0") -> dict:
    """A SARIF 2.1.0 log: one rule per policy, one result per finding (located at the stack config)."""
    rules = []
    index = {}
    for i, policy in enumerate(policies):
        index[policy.name] = i
        severity = policy.severity.value if policy.severity is not None else "unspecified"
        level = policy.enforcement_level.value if policy.enforcement_level is not None else "advisory"
        rules.append({
            "id": policy.name,
            "name": policy.name,
            "shortDescription": {"text": policy.description},
            "fullDescription": {"text": f"{policy.description} Rule: "
                                        f"{policy.framework.reference if policy.framework else 'n/a'}."},
            "help": {"text": policy.remediation_steps or policy.description},
            "defaultConfiguration": {"level": _SARIF_LEVEL.get(level, "warning")},
            "properties": {"tags": list(policy.tags or []), "security-severity": _SECURITY_SEVERITY[severity],
                           "severity": severity},
        })
    results = []
    for v in _sorted(violations):
        result = {
            "ruleId": v.policy,
            "level": _SARIF_LEVEL[v.level],
            "message": {"text": f"{v.resource_name} ({v.resource_type}): {v.message}"},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": artifact}, "region": {"startLine": 1}},
                "logicalLocations": [{"name": v.resource_name, "fullyQualifiedName": v.urn or f"stack:{stack}",
                                      "kind": "resource"}],
            }],
            "partialFingerprints": {"aiinfraPolicyFinding/v1": _fingerprint(v)},
            "properties": {"stack": stack, "enforcementLevel": v.level, "kind": v.kind},
        }
        if v.policy in index:
            result["ruleIndex"] = index[v.policy]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "aiinfra-guardrails", "version": version,
                                "informationUri": "https://www.pulumi.com/docs/insights/policy/", "rules": rules}},
            "automationDetails": {"id": f"aiinfra-policy/{stack}/"},
            "results": results,
        }],
    }


def sarif_text(*args, **kwargs) -> str:
    return json.dumps(sarif(*args, **kwargs), indent=2, sort_keys=True) + "\n"
