"""Workload objects under mocks: pool selectors, tolerations, CRD schemas, edge and on-prem clusters."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pulumi_kubernetes as k8s
import pytest

from modules.common import Labels
from modules.edge_fleet import EdgeFleet, EdgeFleetArgs
from modules.onprem_cluster import OnPremCluster, OnPremClusterArgs
from modules.team_namespaces import TeamQuota
from modules.workloads import Workload, WorkloadArgs, WorkloadSpec, cron_schedule
from tests.deploy.conftest import recorded
from tests.deploy.helpers import (WORKLOAD_KINDS, all_of, assert_explicit_provider, assert_labels,
                                  assert_selects_pool, assert_tolerates_exactly, find, get, pod_specs)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "crd"
GPU = ("nvidia.com/gpu", "present")
SPOT = ("aiinfra.dev/capacity-type", "spot")


def spec(name, kind, *, pool="p4d-24xlarge-spot", purchase="spot", accelerator="nvidia", per_node=8, nodes=2,
         replicas=1, checkpointing=True, tpu=None, model_uri=None):
    return WorkloadSpec(name=name, kind=kind, team="ml", labels=Labels("prod", workload=name, data_classes=("internal",),
                                                                       team="ml", cost_centre="ml-cc"),
                        pool=pool, purchase=purchase, accelerator=accelerator, accelerators_per_node=per_node,
                        nodes=nodes, replicas=replicas, vcpus=96, memory_gib=512, checkpointing=checkpointing,
                        runs_per_month=30, image="ghcr.io/acme/ml/x:prod", tpu_instance_type=tpu, model_uri=model_uri,
                        max_replicas=replicas * 2)


WORKLOADS = {
    "train-trainjob": (spec("train-trainjob", "training"), "trainjob", "kserve"),
    "train-pytorch": (spec("train-pytorch", "training", nodes=3), "pytorchjob", "kserve"),
    "train-tpu": (spec("train-tpu", "training", pool="tpu-v5p-32-spot", accelerator="tpu", per_node=16, nodes=1,
                       tpu="tpu-v5p-32"), "trainjob", "kserve"),
    "serve-kserve": (spec("serve-kserve", "inference", pool="g6-xlarge-od", purchase="on_demand", per_node=1,
                          nodes=3, replicas=3, checkpointing=False, model_uri="s3://models/serve"), "trainjob", "kserve"),
    "serve-triton": (spec("serve-triton", "inference", pool="inf2-xlarge-od", purchase="on_demand",
                          accelerator="neuron", per_node=1, nodes=2, replicas=2, checkpointing=False,
                          model_uri="s3://models/triton"), "trainjob", "triton"),
    "prep-cpu": (spec("prep-cpu", "preprocessing", pool="m6i-4xlarge-spot", accelerator=None, per_node=0, nodes=4),
                 "trainjob", "kserve"),
}


def _workloads():
    provider = k8s.Provider("eks-k8s", kubeconfig="{}")
    for name, (workload, api, server) in WORKLOADS.items():
        Workload(f"wl-{name}", WorkloadArgs(cluster="aws:us-east-1", provider=provider, spec=workload,
                                            training_api=api, inference_server=server))


@pytest.fixture(scope="module")
def objects():
    return recorded(_workloads)


def _object(objects, name):
    return next(r for r in objects if r.inputs.get("kind") in WORKLOAD_KINDS and get(r, "metadata.name") == name)


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_pod_selects_the_planned_pool_and_tolerates_exactly_its_taints(objects, name):
    workload = WORKLOADS[name][0]
    expected = {({"nvidia": GPU, "neuron": ("aws.amazon.com/neuron", "present"),
                  "tpu": ("google.com/tpu", "present")}[workload.accelerator])} if workload.accelerator else set()
    if workload.purchase == "spot":
        expected.add(SPOT)
    for pod in pod_specs(_object(objects, name)):
        assert_selects_pool(pod, workload.pool)
        assert_tolerates_exactly(pod, expected)


def test_tpu_training_selects_the_slice_accelerator_and_topology_and_requests_tpu_chips(objects):
    job = _object(objects, "train-tpu")
    pod = pod_specs(job)[0]
    assert pod["nodeSelector"]["cloud.google.com/gke-tpu-accelerator"] == "tpu-v5p-slice"
    assert pod["nodeSelector"]["cloud.google.com/gke-tpu-topology"] == "2x2x4"
    assert get(job, "spec.trainer.resourcesPerNode.limits")["google.com/tpu"] == "4"
    assert get(job, "spec.runtimeRef.name") == "jax-distributed"


def test_a_workload_planned_on_spot_without_checkpointing_is_refused():
    def build():
        Workload("bad", WorkloadArgs(cluster="c", provider=k8s.Provider("p", kubeconfig="{}"),
                                     spec=spec("bad", "training", checkpointing=False)))
    with pytest.raises(ValueError, match="does not checkpoint"):
        recorded(build)


def test_every_workload_object_carries_the_policy_labels_and_the_checkpointing_label(objects):
    for resource in objects:
        if resource.type.startswith("kubernetes:") and resource.custom:
            labels = get(resource, "metadata.labels")
            assert_labels(labels, environment="prod", team="ml", cost_centre="ml-cc")
            assert labels["checkpointing"] in ("true", "false")


def test_checkpointing_batch_workloads_mount_a_checkpoint_volume(objects):
    cron = _object(objects, "prep-cpu")
    pod = pod_specs(cron)[0]
    assert pod["volumes"] == [{"name": "checkpoints", "persistentVolumeClaim": {"claimName": "prep-cpu-checkpoints"}}]
    assert get(cron, "spec.jobTemplate.spec.parallelism") == 4.0
    find(objects, "kubernetes:core/v1:PersistentVolumeClaim", "wl-prep-cpu-checkpoints")


def test_triton_runs_as_a_deployment_with_a_service_and_an_hpa_between_planned_and_headroom_replicas(objects):
    hpa = find(objects, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert (get(hpa, "spec.minReplicas"), get(hpa, "spec.maxReplicas")) == (2.0, 4.0)
    assert get(hpa, "spec.scaleTargetRef.name") == "serve-triton"
    find(objects, "kubernetes:core/v1:Service", "wl-serve-triton-svc")
    container = pod_specs(_object(objects, "serve-triton"))[0]["containers"][0]
    assert container["resources"]["limits"]["aws.amazon.com/neuron"] == "1"


def test_preprocessing_schedules_follow_runs_per_month():
    assert cron_schedule(30, "x").split()[1:] == ["0", "*", "*", "*"]
    assert len(cron_schedule(4, "x").split()[2].split(",")) == 4
    assert len(cron_schedule(60, "x").split()[1].split(",")) == 2


@pytest.mark.parametrize("name, schema", [("train-trainjob", "trainer.kubeflow.org_v1alpha1_TrainJob.json"),
                                          ("train-tpu", "trainer.kubeflow.org_v1alpha1_TrainJob.json"),
                                          ("train-pytorch", "kubeflow.org_v1_PyTorchJob.json"),
                                          ("serve-kserve", "serving.kserve.io_v1beta1_InferenceService.json")])
def test_generated_custom_resources_validate_against_their_crd_schemas(objects, name, schema):
    resource = _object(objects, name)
    validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / schema).read_text()))
    errors = sorted(validator.iter_errors(resource.inputs), key=str)
    assert not errors, [e.message for e in errors]


def test_every_workload_object_uses_the_cluster_provider(objects):
    provider = find(objects, "pulumi:providers:kubernetes")
    for resource in objects:
        if resource.custom and resource.type.startswith("kubernetes:"):
            assert_explicit_provider(resource, provider.urn)


# -- private clusters ---------------------------------------------------------------------------

QUOTAS = (TeamQuota("genomics", "research", ("eu-health-sensitive",), cpu=96, memory_gib=768,
                    accelerators={"nvidia.com/gpu": 8}),)


def _private():
    OnPremCluster("onprem-dc", OnPremClusterArgs(site="dc-frankfurt", kubeconfig="<secret>", environment="prod",
                                                 teams=QUOTAS, inventory={"nvidia.com/gpu": 32}, nvidia=True))
    EdgeFleet("edge-store", EdgeFleetArgs(
        site="store-paris", kubeconfig="<secret>", environment="prod", gpu_runtime=True,
        teams=(TeamQuota("ml", "ml-cc", ("internal",), cpu=16, memory_gib=64, accelerators={"nvidia.com/gpu": 2}),),
        services=(spec("serve-shelf", "inference", pool="edge-l4", purchase="owned", per_node=2, nodes=1, replicas=2,
                       checkpointing=False),)))


@pytest.fixture(scope="module")
def private():
    return recorded(_private)


def _site_provider(resources, site):
    return next(r for r in resources if r.type == "pulumi:providers:kubernetes" and r.inputs["clusterIdentifier"] == site)


def test_every_object_of_a_private_site_targets_that_site_provider(private):
    for site, prefix in (("dc-frankfurt", "onprem-dc"), ("store-paris", "edge-store")):
        provider = _site_provider(private, site)
        objects = [r for r in private if r.custom and r.type.startswith("kubernetes:") and r.name.startswith(prefix)]
        assert len(objects) >= 3
        for resource in objects:
            assert_explicit_provider(resource, provider.urn)


def test_on_prem_team_quotas_match_the_planned_use(private):
    quota = find(private, "kubernetes:core/v1:ResourceQuota", "onprem-dc-teams-genomics-quota")
    assert get(quota, "spec.hard") == {"requests.cpu": "96", "limits.cpu": "96", "requests.memory": "768Gi",
                                       "limits.memory": "768Gi", "requests.nvidia.com/gpu": "8"}


def test_quotas_above_the_site_inventory_are_refused():
    def build():
        OnPremCluster("x", OnPremClusterArgs(site="dc", kubeconfig="k", environment="prod", teams=QUOTAS,
                                             inventory={"nvidia.com/gpu": 4}, nvidia=True))
    with pytest.raises(ValueError, match="owns 4"):
        recorded(build)


def test_private_sites_install_the_nvidia_device_plugin_and_edge_pods_use_the_nvidia_runtime(private):
    releases = all_of(private, "kubernetes:helm.sh/v3:Release")
    assert {get(r, "chart") for r in releases} == {"nvidia-device-plugin"}
    edge_plugin = next(r for r in releases if r.name.startswith("edge-store"))
    assert get(edge_plugin, "values.runtimeClassName") == "nvidia"
    deployment = find(private, "kubernetes:apps/v1:Deployment")
    assert pod_specs(deployment)[0]["runtimeClassName"] == "nvidia"
    find(private, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    find(private, "kubernetes:core/v1:Service")


def test_edge_providers_skip_updates_while_the_site_is_unreachable(private):
    assert get(_site_provider(private, "store-paris"), "skipUpdateUnreachable") == "true"
