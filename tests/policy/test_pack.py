"""The pack as a whole: metadata of every policy, enforcement config, and loading from inside policy/."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, Severity, StackValidationPolicy

from checks.analyzer import PackConfig, PackConfigError, analyze
from policy.pack import POLICY_MODULES, build_policies
from policy.sovereignty import default_regions_csv, load_region_jurisdictions
from tests.policy.harness import resource

REPO = Path(__file__).resolve().parents[2]
POLICIES = build_policies()


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_policy_has_name_description_severity_rule_and_remediation(policy):
    assert policy.name and policy.name == policy.name.lower() and " " not in policy.name
    assert policy.description.endswith(".") and len(policy.description) > 20
    assert isinstance(policy.severity, Severity)
    assert policy.framework is not None and policy.framework.reference
    assert policy.remediation_steps
    assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)
    assert isinstance(policy, (ResourceValidationPolicy, StackValidationPolicy))


def test_one_policy_per_file_named_after_the_module():
    for module in POLICY_MODULES:
        assert module.POLICY.name == module.NAME
        assert Path(module.__file__).parent == REPO / "policy"
    assert len({p.name for p in POLICIES}) == len(POLICIES) >= 11


def _code_strings(path: Path) -> list[str]:
    """String literals of a module, docstrings excluded."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_policies_never_hard_code_regions_or_jurisdictions():
    regions = load_region_jurisdictions(default_regions_csv())
    places = {r for _, r in regions} | set(regions.values())
    for module in POLICY_MODULES:
        for literal in _code_strings(Path(module.__file__)):
            assert literal not in places, (module.__name__, literal)
            assert not any(region in literal for region in ("eu-central-1", "europe-west", "us-east-1")), literal


def test_enforcement_level_is_configurable_per_policy():
    policy = next(p for p in POLICIES if p.name == "imdsv2-required")
    lt = resource("aws:ec2/launchTemplate:LaunchTemplate", "lt", {})
    assert [v.level for v in analyze([lt], [policy])] == ["mandatory"]
    assert [v.level for v in analyze([lt], [policy], PackConfig({"imdsv2-required": "advisory"}))] == ["advisory"]
    assert analyze([lt], [policy], PackConfig({"imdsv2-required": {"enforcementLevel": "disabled"}})) == []
    assert [v.level for v in analyze([lt], [policy], PackConfig({"all": "advisory"}))] == ["advisory"]


def test_invalid_enforcement_level_in_config_is_rejected(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"imdsv2-required": "maybe"}')
    with pytest.raises(PackConfigError, match="unknown enforcement level 'maybe'"):
        PackConfig.load(path)


def test_pack_loads_from_inside_policy_dir_like_pulumi_does():
    """`python -m pulumi.policy` runs __main__.py with policy/ (not the repo root) on sys.path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["AIINFRA_POLICY_DRY_RUN"] = "1"
    result = subprocess.run([sys.executable, "-m", "pulumi.policy", "127.0.0.1:0", "."], cwd=REPO / "policy",
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(POLICIES))


def test_pack_requirements_are_pinned():
    lines = [l for l in (REPO / "policy" / "requirements.txt").read_text().splitlines() if l and not l.startswith("#")]
    assert {l.split("==")[0].lower() for l in lines} == {"pulumi", "pulumi-policy", "pyyaml"}
    assert all("==" in l for l in lines)
