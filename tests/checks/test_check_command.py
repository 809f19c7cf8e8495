"""check_command / run_check over a hand-built OfflineRun: findings, exit codes, markdown, SARIF."""

import json
from types import SimpleNamespace

from checks.analyzer import PackConfig
from checks.commands import EXIT_INVALID, EXIT_MANDATORY, EXIT_OK, check_command, run_check

LABELS = {"environment": "prod", "workload": "shared", "data-classes": "eu-personal", "team": "platform",
          "cost-centre": "platform", "managed-by": "aiinfra"}
PROVIDER_URN = "urn:pulumi:prod::aiinfra::pulumi:providers:aws::eu"


def reg(type_, name, inputs, provider="", parent="", custom=True):
    return SimpleNamespace(type=type_, name=name, urn=f"urn:pulumi:prod::aiinfra::{type_}::{name}", inputs=inputs,
                           provider=provider, parent=parent, custom=custom)


def storage(name, region=None, labels=LABELS, public_block=True):
    component = reg("aiinfra:modules:ObjectStorage", name, {}, custom=False)
    bucket_inputs = {"bucket": name, "tags": labels, **({"region": region} if region else {})}
    items = [component,
             reg("aws:s3/bucket:Bucket", f"{name}-bucket", bucket_inputs, provider=f"{PROVIDER_URN}::id",
                 parent=component.urn),
             reg("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                 f"{name}-sse", {"bucket": name, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
                 provider=f"{PROVIDER_URN}::id", parent=component.urn)]
    if public_block:
        items.append(reg("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-pab",
                         {"bucket": name, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
                          "restrictPublicBuckets": True}, provider=f"{PROVIDER_URN}::id", parent=component.urn))
    return items


def offline_run(*resources, outputs=None):
    provider = reg("pulumi:providers:aws", "eu", {"region": "eu-central-1", "defaultTags": json.dumps({"tags": LABELS})})
    return SimpleNamespace(resources=[provider, *resources],
                           outputs=outputs if outputs is not None else {"monthlyCostUsd": 100.0, "budgetUsdPerMonth": 500.0},
                           plan=SimpleNamespace(placements=[]), stack_file="stacks/Pulumi.prod.yaml")


def test_compliant_run_has_no_findings():
    assert run_check(offline_run(*storage("data")), "prod", PackConfig()).violations == []


def test_public_us_bucket_yields_exactly_the_expected_findings():
    result = run_check(offline_run(*storage("data", region="us-east-1", public_block=False)), "prod", PackConfig())
    assert sorted((v.policy, v.resource_name) for v in result.violations) == [
        ("no-public-buckets", "data-bucket"), ("sovereignty-storage-location", "data-bucket")]
    assert result.exit_code == EXIT_MANDATORY


def test_advisory_config_turns_the_exit_code_to_zero():
    config = PackConfig({"all": "advisory"})
    result = run_check(offline_run(*storage("data", region="us-east-1")), "prod", config)
    assert [v.level for v in result.violations] == ["advisory"] and result.exit_code == EXIT_OK


def test_budget_policy_sees_the_stack_outputs():
    result = run_check(offline_run(*storage("data"), outputs={"monthlyCostUsd": 900.0, "budgetUsdPerMonth": 500.0}),
                       "prod", PackConfig())
    assert [(v.policy, v.message) for v in result.violations] == [
        ("budget-within-limit", "monthly cost $900.00 exceeds the budget of $500.00 (stack output "
                                "'budgetUsdPerMonth') by $400.00")]


def test_check_command_writes_markdown_and_sarif_and_exits_4(tmp_path, capsys):
    run = offline_run(*storage("data", region="us-east-1"))
    code = check_command("prod", tmp_path / "check.md", tmp_path / "check.sarif", False,
                         run_offline=lambda stack: run, config_dir=tmp_path)
    assert code == EXIT_MANDATORY
    out = capsys.readouterr().out
    assert "sovereignty-storage-location" in out and "data-bucket" in out and "mandatory" in out
    markdown = (tmp_path / "check.md").read_text()
    assert markdown.startswith("### Policy check `prod`: ❌ blocked")
    log = json.loads((tmp_path / "check.sarif").read_text())
    assert log["version"] == "2.1.0"
    run_ = log["runs"][0]
    assert {r["id"] for r in run_["tool"]["driver"]["rules"]} >= {"sovereignty-storage-location", "no-public-buckets"}
    [result] = run_["results"]
    assert result["ruleId"] == "sovereignty-storage-location" and result["level"] == "error"
    assert run_["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "stacks/Pulumi.prod.yaml"


def test_check_command_json_output(tmp_path, capsys):
    code = check_command("prod", None, None, True, run_offline=lambda s: offline_run(*storage("data")),
                         config_dir=tmp_path)
    document = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK and document["mandatory"] == 0 and document["violations"] == []


def test_per_stack_config_file_sets_levels(tmp_path):
    (tmp_path / "prod.json").write_text('{"sovereignty-storage-location": "disabled"}')
    code = check_command("prod", None, None, True, run_offline=lambda s: offline_run(*storage("d", region="us-east-1")),
                         config_dir=tmp_path)
    assert code == EXIT_OK


def test_malformed_config_file_is_invalid_input(tmp_path, capsys):
    (tmp_path / "prod.json").write_text('{"budget-within-limit": "sometimes"}')
    assert check_command("prod", None, None, False, run_offline=lambda s: offline_run(), config_dir=tmp_path) == EXIT_INVALID
    assert "unknown enforcement level 'sometimes'" in capsys.readouterr().err


def test_sites_of_the_plan_reach_the_workload_policy():
    plan = SimpleNamespace(placements=[SimpleNamespace(place="hospital-dc", site_kind="onprem", jurisdiction="EU")])
    k8s = reg("pulumi:providers:kubernetes", "dc", {"clusterIdentifier": "hospital-dc"})
    job = reg("kubernetes:batch/v1:Job", "train", {"metadata": {"labels": {**LABELS, "data-classes": "eu-health-sensitive"}},
                                                   "spec": {}}, provider=f"{k8s.urn}::id")
    run = SimpleNamespace(resources=[k8s, job], outputs={"monthlyCostUsd": 1, "budgetUsdPerMonth": 2}, plan=plan)
    assert run_check(run, "prod").violations == []


def test_a_crashing_policy_is_a_mandatory_finding():
    from pulumi_policy import ResourceValidationPolicy

    def boom(args, report):
        raise RuntimeError("bug")

    policy = ResourceValidationPolicy(name="boom", description="d", validate=boom)
    result = run_check(offline_run(), "prod", PackConfig(), [policy])
    assert {(v.kind, v.level) for v in result.violations} == {("error", "mandatory")}


def test_unknown_value_escaping_a_policy_is_reported_like_the_engine_does():
    from pulumi_policy import ResourceValidationPolicy
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    def naive(args, report):
        if args.resource_type == "aws:s3/bucket:Bucket" and args.props["region"] != "eu-central-1":
            report("wrong region")

    policy = ResourceValidationPolicy(name="naive", description="d", validate=naive,
                                      enforcement_level=__import__("pulumi_policy").EnforcementLevel.MANDATORY)
    bucket = reg("aws:s3/bucket:Bucket", "b", {"region": UNKNOWN_STRING_VALUE})
    [finding] = run_check(offline_run(bucket), "prod", PackConfig(), [policy]).violations
    assert (finding.kind, finding.level) == ("unknown", "advisory")
    assert finding.message == "can't run policy 'naive' during preview: string value at .region can't be known during preview"
