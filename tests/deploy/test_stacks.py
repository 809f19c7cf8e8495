"""Per stack, the real program under mocks: golden inventory, providers, pools, labels, outputs, config errors.

Regenerate the golden files after a reviewed change with:  UPDATE_GOLDEN=1 .venv/bin/pytest tests/deploy/test_stacks.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deploy.commands import key_inputs, location
from deploy.config import StackConfigError
from deploy.preview import OfflineRun, run_offline
from optimizer.errors import InfeasibleEstateError
from tests.deploy.helpers import WORKLOAD_KINDS, assert_labels, assert_selects_pool, get, pod_specs

REPO = Path(__file__).resolve().parents[2]

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
STACKS = ("dev", "staging", "prod")
ENVIRONMENT = {"dev": "dev", "staging": "staging", "prod": "prod"}
_RUNS: dict[str, OfflineRun] = {}


def stack_run(stack: str) -> OfflineRun:
    if stack not in _RUNS:
        _RUNS[stack] = run_offline(stack)
    return _RUNS[stack]


def inventory(run: OfflineRun) -> str:
    """One sorted line per resource: type, name, region or cluster, key inputs."""
    lines = sorted(f"{r.type}  {r.name}  {location(r, run)}  {json.dumps(key_inputs(r), sort_keys=True)}"
                   for r in run.resources)
    custom = sum(1 for r in run.resources if r.custom)
    return f"# stack {run.stack}: {custom} resources, {len(run.resources) - custom} components\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_inventory_matches_the_reviewed_golden_file(stack):
    actual = inventory(stack_run(stack))
    path = GOLDEN / f"{stack}.inventory.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    assert actual == expected, (f"{path.name} differs from what stack {stack} creates. Review the diff, then "
                                "regenerate with UPDATE_GOLDEN=1 .venv/bin/pytest tests/deploy/test_stacks.py")


@pytest.mark.parametrize("stack", STACKS)
def test_no_resource_falls_back_to_a_default_provider(stack):
    run = stack_run(stack)
    offenders = [f"{r.type} {r.name}" for r in run.resources
                 if r.custom and not r.type.startswith("pulumi:providers:") and r.provider == ""]
    assert offenders == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_uses_a_provider_of_its_own_package_and_region(stack):
    run = stack_run(stack)
    for resource in run.resources:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        provider = run.provider_resource(resource)
        package = resource.type.split(":", 1)[0]
        assert provider is not None and provider.type == f"pulumi:providers:{package}", resource.name
        if package in ("aws", "gcp") and "region" in resource.inputs:
            assert resource.inputs["region"] == provider.inputs["region"], resource.name


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_pod_selects_an_existing_pool_of_its_cluster_and_tolerates_its_taints(stack):
    run = stack_run(stack)
    pools: dict[str, dict[str, set[tuple[str, str]]]] = {}  # cluster -> pool -> taints
    for r in run.resources:
        if r.type == "aws:eks/nodeGroup:NodeGroup":
            pools.setdefault(f"eks-{r.inputs['region']}", {})[r.inputs["labels"]["aiinfra.dev/pool"]] = {
                (t["key"], t["value"]) for t in r.inputs.get("taints") or []}
        if r.type == "gcp:container/nodePool:NodePool":
            cfg = r.inputs["nodeConfig"]
            pools.setdefault(f"gke-{r.inputs['project']}-{r.inputs['location']}", {})[cfg["labels"]["aiinfra.dev/pool"]] = {
                (t["key"], t["value"]) for t in cfg.get("taints") or []}
    planned = {(where.place, where.instance_type.replace(".", "-").lower())
               for p in run.plan.placements for where in [p, *p.serving_sites]}
    checked = 0
    for r in run.resources:
        if not (r.custom and r.inputs.get("kind") in WORKLOAD_KINDS):
            continue
        if r.inputs["metadata"]["labels"]["workload"].startswith("replica-") or \
                r.inputs["metadata"]["labels"]["workload"] == "reoptimizer":
            # dataset sync jobs and the re-optimizer are platform jobs: no pool, no tolerations, so never
            # on accelerator/spot nodes
            assert all("tolerations" not in pod and "nodeSelector" not in pod for pod in pod_specs(r)), r.name
            continue
        cluster = run.provider_resource(r).inputs["clusterIdentifier"]
        for pod in pod_specs(r):
            pool = pod["nodeSelector"]["aiinfra.dev/pool"]
            tolerated = {(t["key"], t["value"]) for t in pod.get("tolerations") or []}
            if cluster in pools:
                assert pool in pools[cluster], f"{r.name}: pool {pool} not in {cluster}"
                assert pools[cluster][pool] <= tolerated, f"{r.name} does not tolerate {pools[cluster][pool]}"
            else:
                assert (cluster, pool) in planned, f"{r.name}: {pool} is not what the plan put on {cluster}"
            if ("aiinfra.dev/capacity-type", "spot") in tolerated:
                assert r.inputs["metadata"]["labels"]["checkpointing"] == "true", r.name
            checked += 1
    assert checked >= len(run.plan.placements)


@pytest.mark.parametrize("stack", STACKS)
def test_every_taggable_resource_carries_the_policy_labels(stack):
    run = stack_run(stack)
    env = ENVIRONMENT[stack]
    checked = 0
    for r in run.resources:
        if not r.custom or r.type.startswith("pulumi:providers:") or r.type == "kubernetes:helm.sh/v3:Release":
            continue
        for key in ("tags", "labels", "resourceLabels"):
            if key in r.inputs and not r.type.startswith("kubernetes:"):
                assert_labels(r.inputs[key], environment=env)
                checked += 1
        if r.type.startswith("kubernetes:"):
            assert_labels(get(r, "metadata.labels"), environment=env)
            checked += 1
    must_tag = {"aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:s3/bucket:Bucket", "aws:ec2/vpc:Vpc",
                "gcp:container/cluster:Cluster", "gcp:storage/bucket:Bucket"}
    for r in run.resources:
        if r.type in must_tag:
            assert any(k in r.inputs for k in ("tags", "labels", "resourceLabels")), r.name
    assert checked > 0


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_carry_endpoints_secret_kubeconfigs_the_plan_summary_and_its_cost(stack):
    run = stack_run(stack)
    cloud_places = {p.place for p in run.plan.placements if p.site_kind == "cloud"}
    assert set(run.outputs["clusterEndpoints"]) == cloud_places
    assert "kubeconfigs" in run.secret_outputs and set(run.outputs["kubeconfigs"]) == cloud_places
    assert run.outputs["monthlyCostUsd"] == run.plan.total_usd_per_month
    assert set(run.outputs["planSummary"]["workloads"]) == {p.workload for p in run.plan.placements}
    assert run.outputs["monthlyCostUsd"] <= run.outputs["budgetUsdPerMonth"]


def test_prod_provisions_on_prem_aws_gcp_and_edge():
    run = stack_run("prod")
    kinds = {p.site_kind for p in run.plan.placements}
    assert kinds == {"onprem", "cloud", "edge"}
    assert run.of_type("aws:eks/cluster:Cluster") and run.of_type("gcp:container/cluster:Cluster")
    identifiers = {r.inputs.get("clusterIdentifier") for r in run.of_type("pulumi:providers:kubernetes")}
    assert {"dc-frankfurt", "dc-ashburn", "store-paris", "store-chicago"} <= identifiers


def test_dev_uses_one_cloud_and_spot_for_its_batch_work():
    run = stack_run("dev")
    assert not [r for r in run.resources if r.type.startswith("gcp:")]
    assert len(run.of_type("pulumi:providers:aws")) == 1
    capacity = {r.inputs["capacityType"] for r in run.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert "SPOT" in capacity


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_private_site_kubeconfigs_reach_providers_only_as_secrets(stack):
    run = stack_run(stack)
    private = [r for r in run.of_type("pulumi:providers:kubernetes")
               if not str(r.inputs.get("clusterIdentifier", "")).startswith(("eks-", "gke-"))]
    assert private
    for provider in private:
        assert "kubeconfig" in provider.secret_paths
        assert provider.inputs["kubeconfig"].startswith("<secret:aiinfra:kubeconfigs.")


# -- config errors ------------------------------------------------------------------------------

def test_an_unknown_environment_names_the_stack_file_the_key_and_the_fix():
    with pytest.raises(StackConfigError) as error:
        run_offline("dev", config_overrides={"aiinfra:environment": "qa"})
    message = str(error.value)
    assert "stacks/Pulumi.dev.yaml" in message and "aiinfra:environment" in message and "To fix:" in message
    assert error.value.exit_code == 2


def test_kubeconfigs_in_plain_text_are_refused():
    with pytest.raises(StackConfigError, match="plain text"):
        run_offline("dev", config_overrides={"aiinfra:kubeconfigs": {"dc-x": "apiVersion: v1"}})


def test_a_site_without_its_kubeconfig_is_refused_with_the_command_that_fixes_it():
    with pytest.raises(StackConfigError, match=r"kubeconfigs\.store-paris.*To fix: pulumi config set --secret"):
        run_offline("staging", config_overrides={"aiinfra:kubeconfigs": {"dc-frankfurt": "x"}})


def test_a_misspelt_key_is_an_error_not_a_silently_ignored_setting():
    with pytest.raises(StackConfigError, match="aiinfra:natGateway.*not a known key"):
        run_offline("dev", config_overrides={"aiinfra:natGateway": "per-az"})


def test_a_budget_below_the_locked_plan_refuses_the_lock_with_the_command_that_renews_it():
    from optimizer.lockfile import PlanLockError

    with pytest.raises(PlanLockError, match="over the budget of \\$10.00. To fix: run 'python -m optimizer reoptimize --stack dev'"):
        run_offline("dev", config_overrides={"aiinfra:budgetUsdPerMonth": 10})


def test_a_budget_below_the_cheapest_plan_makes_the_stack_infeasible(tmp_path):
    # Without a plan lock the program optimizes, and the optimizer finds no plan within the budget.
    import shutil

    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("*.plan.lock.json*"))
    with pytest.raises(InfeasibleEstateError):
        run_offline("dev", config_overrides={"aiinfra:budgetUsdPerMonth": 10}, repo_root=tmp_path)
