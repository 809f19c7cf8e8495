"""GKE components under mocks: GPU guest accelerators with drivers, TPU machine types and topology, spot, taints."""

from __future__ import annotations

import pulumi_gcp as gcp
import pytest

from modules.common import Labels, NodePoolSpec, tpu_slice
from modules.gke_cluster import NODE_ROLES, GkeCluster, GkeClusterArgs
from modules.network_gcp import GcpNetwork, GcpNetworkArgs
from tests.deploy.conftest import recorded
from tests.deploy.helpers import all_of, assert_explicit_provider, find, get

POOLS = (
    NodePoolSpec("g2-standard-8-od", "g2-standard-8", "on_demand", "L4", 1, 2, 2, 3),
    NodePoolSpec("a3-highgpu-8g-spot", "a3-highgpu-8g", "spot", "H100", 8, 0, 0, 2),
    NodePoolSpec("tpu-v5p-32-spot", "tpu-v5p-32", "spot", "tpu-v5p", 16, 0, 0, 1),
    NodePoolSpec("tpu-v5litepod-8-od", "tpu-v5litepod-8", "on_demand", "tpu-v5litepod", 8, 0, 0, 2),
    NodePoolSpec("e2-standard-4-od", "e2-standard-4", "on_demand", None, 0, 1, 2, 3),
)


def _cluster():
    provider = gcp.Provider("gcp-europe-west4", project="acme-ai-prod", region="europe-west4")
    net = GcpNetwork("net", GcpNetworkArgs(project="acme-ai-prod", region="europe-west4", provider=provider,
                                           labels=Labels("prod")))
    GkeCluster("gke-europe-west4", GkeClusterArgs(
        project="acme-ai-prod", region="europe-west4", provider=provider, network_id=net.network_id,
        subnetwork_id=net.subnetwork_id, pods_range=net.pods_range, services_range=net.services_range,
        labels=Labels("prod"), node_pools=POOLS))


@pytest.fixture(scope="module")
def gke():
    return recorded(_cluster)


def _pool(resources, name):
    return find(resources, "gcp:container/nodePool:NodePool", f"gke-europe-west4-{name}-np")


def test_gpu_pools_attach_the_planned_gpus_with_managed_driver_installation(gke):
    accelerators = get(_pool(gke, "a3-highgpu-8g-spot"), "nodeConfig.guestAccelerators")
    assert accelerators == [{"type": "nvidia-h100-80gb", "count": 8.0,
                             "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}]
    assert get(_pool(gke, "g2-standard-8-od"), "nodeConfig.guestAccelerators.0.type") == "nvidia-l4"


def test_spot_pools_are_spot_and_tainted_and_on_demand_pools_are_not_spot(gke):
    spot = _pool(gke, "a3-highgpu-8g-spot")
    assert get(spot, "nodeConfig.spot") is True
    assert {(t["key"], t["effect"]) for t in get(spot, "nodeConfig.taints")} == {
        ("nvidia.com/gpu", "NO_SCHEDULE"), ("aiinfra.dev/capacity-type", "NO_SCHEDULE")}
    assert get(_pool(gke, "g2-standard-8-od"), "nodeConfig.spot") is False


def test_a_multi_host_tpu_slice_gets_its_machine_type_compact_placement_and_topology(gke):
    pool = _pool(gke, "tpu-v5p-32-spot")
    assert get(pool, "nodeConfig.machineType") == "ct5p-hightpu-4t"
    assert get(pool, "placementPolicy") == {"type": "COMPACT", "tpuTopology": "2x2x4"}
    assert get(pool, "autoscaling.totalMaxNodeCount") == 4.0  # 16 chips / 4 per VM, atomic
    assert get(pool, "nodeLocations") == ["europe-west4-b"]
    assert ("google.com/tpu", "present") in {(t["key"], t["value"]) for t in get(pool, "nodeConfig.taints")}


def test_a_single_host_tpu_slice_has_no_placement_policy(gke):
    pool = _pool(gke, "tpu-v5litepod-8-od")
    assert get(pool, "nodeConfig.machineType") == "ct5lp-hightpu-8t"
    assert "placementPolicy" not in pool.inputs


@pytest.mark.parametrize("name, machine, topology, vms", [
    ("tpu-v5p-8", "ct5p-hightpu-4t", "2x2x1", 1), ("tpu-v5p-256", "ct5p-hightpu-4t", "4x4x8", 32),
    ("tpu-v6e-16", "ct6e-standard-4t", "4x4", 4), ("tpu-v5litepod-4", "ct5lp-hightpu-4t", "2x2", 1)])
def test_tpu_slice_names_map_to_gke_machine_types_and_topologies(name, machine, topology, vms):
    tpu = tpu_slice(name)
    assert (tpu.machine_type, tpu.topology, tpu.vms) == (machine, topology, vms)


def test_tpu_generations_gke_cannot_provision_are_refused_with_a_fix():
    with pytest.raises(ValueError, match="To fix"):
        tpu_slice("tpu-v3-8")


def test_pools_are_regional_autoscaled_and_labelled_with_their_pool_name(gke):
    pool = _pool(gke, "g2-standard-8-od")
    assert get(pool, "location") == "europe-west4"
    assert get(pool, "autoscaling") == {"totalMinNodeCount": 2.0, "totalMaxNodeCount": 3.0, "locationPolicy": "ANY"}
    labels = get(pool, "nodeConfig.labels")
    assert (labels["aiinfra.dev/pool"], labels["aiinfra.dev/capacity-type"]) == ("g2-standard-8-od", "on-demand")


def test_nodes_run_as_a_dedicated_service_account_with_minimal_roles(gke):
    roles = {get(m, "role") for m in all_of(gke, "gcp:projects/iAMMember:IAMMember")}
    assert roles == set(NODE_ROLES)
    email = get(_pool(gke, "e2-standard-4-od"), "nodeConfig.serviceAccount")
    assert email.endswith("@acme-ai-prod.iam.gserviceaccount.com")


def test_the_cluster_removes_the_default_pool_and_keeps_nodes_private(gke):
    cluster = find(gke, "gcp:container/cluster:Cluster")
    assert get(cluster, "removeDefaultNodePool") is True
    assert get(cluster, "privateClusterConfig.enablePrivateNodes") is True
    assert get(cluster, "workloadIdentityConfig.workloadPool") == "acme-ai-prod.svc.id.goog"


def test_every_gcp_resource_uses_the_region_provider(gke):
    provider = find(gke, "pulumi:providers:gcp")
    for resource in gke:
        if resource.custom and resource.type.startswith("gcp:"):
            assert_explicit_provider(resource, provider.urn)
