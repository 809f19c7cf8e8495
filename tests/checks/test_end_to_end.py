"""End to end: the real program under the mock engine, the whole pack, exact findings.

The bundled stacks must pass. Non-compliant variants are the prod run with deliberate defects
injected into what the program registered (the program itself refuses to build a non-compliant plan),
so each test names exactly the findings it expects.
"""

import dataclasses

import pytest

from checks.analyzer import PackConfig
from checks.commands import EXIT_MANDATORY, EXIT_OK, check_command, policy_config_for, run_check

preview = pytest.importorskip("deploy.preview")

GDPR = "GDPR Chapter V (transfers to third countries), art. 44-49"
US_BUCKET = "acme-enterprise-prod-us-east-1-us-personal"


@pytest.fixture(scope="module")
def prod():
    return preview.run_offline("prod")


def mutate(run, name, change):
    """The run with resource ``name``'s inputs replaced by ``change(inputs)``."""
    resources = []
    found = False
    for r in run.resources:
        if r.name == name:
            found = True
            inputs = dataclasses.replace(r).inputs
            r = dataclasses.replace(r, inputs=change(__import__("copy").deepcopy(inputs)))
        resources.append(r)
    assert found, name
    return dataclasses.replace(run, resources=tuple(resources))


def findings(run, stack="prod"):
    result = run_check(run, stack)
    return sorted((v.policy, v.resource_name, v.message) for v in result.violations), result.exit_code


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_bundled_stacks_pass(stack, capsys):
    assert check_command(stack, None, None, False) == EXIT_OK
    assert "No policy violations." in capsys.readouterr().out


def _redirect_copy_to_us(inputs):
    container = inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["args"][2] = f"s3://{US_BUCKET}/datasets/support-tickets-eu"
    return inputs


def _public(inputs):
    inputs["blockPublicPolicy"] = False
    return inputs


def _untaint_gpu(inputs):
    inputs["taints"] = [t for t in inputs["taints"] if t["key"] != "nvidia.com/gpu"]
    return inputs


def test_non_compliant_stack_yields_exactly_the_expected_violations(prod, tmp_path, capsys):
    run = mutate(prod, "replica-support-tickets-eu-dc-frankfurt-sync", _redirect_copy_to_us)
    run = mutate(run, "store-aws-eu-west-1-eu-personal-public-access", _public)
    run = mutate(run, "eks-eu-west-1-p4d-24xlarge-spot-ng", _untaint_gpu)
    found, code = findings(run)
    adequate = "GDPR art. 45 (adequacy decisions)"
    assert found == [
        ("accelerator-pools-tainted", "eks-eu-west-1-p4d-24xlarge-spot-ng",
         "accelerator pool is not tainted nvidia.com/gpu=present:NO_SCHEDULE, so any pod can be scheduled onto its "
         "accelerator nodes"),
        ("no-public-buckets", "store-aws-eu-west-1-eu-personal-bucket",
         "S3 bucket 'store-aws-eu-west-1-eu-personal-bucket': public access block leaves blockPublicPolicy off"),
        ("sovereignty-replication-destination", "replica-support-tickets-eu-dc-frankfurt-sync",
         "copy 'replica-support-tickets-eu-dc-frankfurt-sync' to 'store-aws-us-east-1-us-personal-bucket' "
         "(region us-east-1 (set on the resource)): data class 'eu-personal-adequate' may not be processed or stored "
         f"in US; allowed: CA, CH, EU, IL, JP, KR, UK ({adequate})"),
        ("sovereignty-replication-destination", "replica-support-tickets-eu-dc-frankfurt-sync",
         "copy 'replica-support-tickets-eu-dc-frankfurt-sync': destination 'store-aws-us-east-1-us-personal-bucket' "
         "receives data classes eu-personal-adequate but its 'data-classes' label does not declare them"),
    ]
    assert code == EXIT_MANDATORY
    assert check_command("prod", tmp_path / "c.md", tmp_path / "c.sarif", False, run_offline=lambda s: run) == 4
    assert "❌ blocked" in (tmp_path / "c.md").read_text()


def test_region_only_on_the_provider_is_still_checked(prod):
    def evade(inputs):
        del inputs["region"]
        inputs["tags"]["data-classes"] = "eu-personal"
        return inputs

    found, _ = findings(mutate(prod, "store-aws-us-east-1-us-personal-bucket", evade))
    assert found == [("sovereignty-storage-location", "store-aws-us-east-1-us-personal-bucket",
                      "region us-east-1 (set on the provider): data class 'eu-personal' may not be processed or "
                      f"stored in US; allowed: EU ({GDPR})")]


def test_odd_case_labels_do_not_lift_the_location_check(prod):
    def evade(inputs):
        del inputs["tags"]["data-classes"]
        inputs["tags"]["Data-Classes"] = "EU-Personal"
        return inputs

    found, _ = findings(mutate(prod, "store-aws-us-east-1-us-personal-bucket", evade))
    assert found == [
        ("mandatory-labels", "store-aws-us-east-1-us-personal-bucket",
         "label key 'Data-Classes' must be spelled 'data-classes' (keys are case-sensitive)"),
        ("sovereignty-storage-location", "store-aws-us-east-1-us-personal-bucket",
         f"region us-east-1 (set on the resource): data class 'eu-personal' may not be processed or stored in US; "
         f"allowed: EU ({GDPR})")]


def test_missing_labels_are_reported_not_passed(prod):
    def evade(inputs):
        del inputs["tags"]
        return inputs

    found, _ = findings(mutate(prod, "store-aws-us-east-1-us-personal-bucket", evade))
    # the provider's default tags still supply environment and managed-by
    assert [(p, m) for p, _, m in found] == [
        ("mandatory-labels", "missing label 'cost-centre'"), ("mandatory-labels", "missing label 'data-classes'"),
        ("mandatory-labels", "missing label 'team'"), ("mandatory-labels", "missing label 'workload'"),
        ("sovereignty-storage-location", "cannot check where this bucket may store data: it has no 'data-classes' "
                                         "label. To fix: label it 'data-classes' with the classes it holds ('none' if no data)")]


def test_dual_region_spanning_two_jurisdictions_fails(prod):
    def evade(inputs):
        inputs["location"] = "EUR5"
        return inputs

    found, _ = findings(mutate(prod, "store-gcp-europe-west4-eu-model-weights-bucket", evade))
    assert found == [("sovereignty-storage-location", "store-gcp-europe-west4-eu-model-weights-bucket",
                      "location EUR5 (dual-region: europe-west1, europe-west2): data class 'eu-model-weights' may not "
                      "be processed or stored in UK; allowed: EU (GDPR art. 9 risk assessment (model inversion) - EU only)")]


def test_uk_region_for_an_eu_only_class_fails(prod):
    def evade(inputs):
        inputs["region"] = "eu-west-2"
        return inputs

    found, _ = findings(mutate(prod, "store-aws-eu-west-1-eu-personal-bucket", evade))
    assert found == [("sovereignty-storage-location", "store-aws-eu-west-1-eu-personal-bucket",
                      "region eu-west-2 (set on the resource): data class 'eu-personal' may not be processed or stored "
                      f"in UK; allowed: EU ({GDPR})")]


def test_workload_moved_to_a_us_cluster_is_caught_through_its_provider(prod):
    k8s = {r.name: r for r in prod.resources if r.type == "pulumi:providers:kubernetes"}
    us = k8s["eks-us-east-1-k8s"]
    eu_jobs = [r for r in prod.resources if r.type.startswith("kubernetes:trainer")
               and "eu-" in r.inputs["metadata"]["labels"]["data-classes"]]
    assert eu_jobs, "prod has EU training jobs"
    job = eu_jobs[0]
    moved = dataclasses.replace(prod, resources=tuple(
        dataclasses.replace(r, provider=f"{us.urn}::id") if r.urn == job.urn else r for r in prod.resources))
    found, _ = findings(moved)
    assert found and {(p, n) for p, n, _ in found} == {("sovereignty-workload-location", job.name)}
    assert all(m.startswith("runs on cluster 'eks-us-east-1': data class ") and "may not be processed or stored in US"
               in m for _, _, m in found), found


def test_policy_config_for_a_real_preview_declares_the_plans_sites(prod):
    sites = policy_config_for("prod", prod.plan).properties_by_name("sovereignty-workload-location")["sites"]
    assert sites["dc-frankfurt"] == {"kind": "onprem", "jurisdiction": "EU"}
    assert sites["store-paris"]["kind"] == "edge"
