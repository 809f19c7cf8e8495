"""accelerator-pools-tainted."""

from policy.accelerator_pools_tainted import POLICY
from tests.policy.harness import UNKNOWN, check

NG, POOL = "aws:eks/nodeGroup:NodeGroup", "gcp:container/nodePool:NodePool"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}


def test_tainted_gpu_node_group_passes():
    assert check(POLICY, NG, {"instanceTypes": ["g6.xlarge"], "taints": [GPU_TAINT]}) == []


def test_untainted_gpu_node_group_fails():
    assert check(POLICY, NG, {"instanceTypes": ["p5.48xlarge"], "taints": []}) == [
        "accelerator pool is not tainted nvidia.com/gpu=present:NO_SCHEDULE, so any pod can be scheduled onto its "
        "accelerator nodes"]


def test_neuron_pool_needs_the_neuron_taint_not_the_gpu_one():
    assert check(POLICY, NG, {"instanceTypes": ["inf2.xlarge"], "taints": [GPU_TAINT]}) == [
        "accelerator pool is not tainted aws.amazon.com/neuron=present:NO_SCHEDULE, so any pod can be scheduled "
        "onto its accelerator nodes"]


def test_gpu_taint_with_prefer_no_schedule_is_not_enough():
    assert check(POLICY, NG, {"instanceTypes": ["g5.2xlarge"],
                              "taints": [{**GPU_TAINT, "effect": "PREFER_NO_SCHEDULE"}]}) != []


def test_cpu_node_group_needs_no_taint():
    assert check(POLICY, NG, {"instanceTypes": ["m6i.24xlarge", "c6g.large"]}) == []


def test_gke_pool_with_guest_accelerators_is_an_accelerator_pool():
    assert check(POLICY, POOL, {"nodeConfig": {"machineType": "n1-standard-8",
                                               "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 1.0}]}}) == [
        "accelerator pool is not tainted nvidia.com/gpu=present:NO_SCHEDULE, so any pod can be scheduled onto its "
        "accelerator nodes"]


def test_gke_tpu_pool_needs_the_tpu_taint():
    assert check(POLICY, POOL, {"nodeConfig": {"machineType": "ct5p-hightpu-4t", "taints": [
        {"key": "google.com/tpu", "value": "present", "effect": "NO_SCHEDULE"}]}}) == []


def test_unknown_instance_type_is_reported():
    assert check(POLICY, NG, {"instanceTypes": UNKNOWN}) == [
        "cannot tell during preview whether the pool has accelerators (instance type is unknown)"]
