"""spot-pools-checkpointing-only."""

from policy.spot_checkpointing_only import POLICY
from tests.policy.harness import check

NG, POOL = "aws:eks/nodeGroup:NodeGroup", "gcp:container/nodePool:NodePool"
JOB = "kubernetes:batch/v1:Job"
SPOT_TAINT = {"key": "aiinfra.dev/capacity-type", "value": "spot", "effect": "NO_SCHEDULE"}
SPOT_TOLERATION = {"key": "aiinfra.dev/capacity-type", "operator": "Equal", "value": "spot", "effect": "NoSchedule"}


def job(labels, pod_spec):
    return {"metadata": {"labels": labels}, "spec": {"template": {"spec": pod_spec}}}


def test_tainted_spot_node_group_passes():
    assert check(POLICY, NG, {"capacityType": "SPOT", "taints": [SPOT_TAINT]}) == []


def test_untainted_spot_node_group_fails():
    assert check(POLICY, NG, {"capacityType": "SPOT", "taints": []}) == [
        "spot pool is not tainted aiinfra.dev/capacity-type=spot:NO_SCHEDULE, so workloads that cannot checkpoint "
        "may be scheduled on it"]


def test_untainted_gke_spot_pool_fails():
    assert check(POLICY, POOL, {"nodeConfig": {"spot": True}}) != []


def test_on_demand_pool_needs_no_spot_taint():
    assert check(POLICY, NG, {"capacityType": "ON_DEMAND"}) == []


def test_checkpointing_job_tolerating_spot_passes():
    assert check(POLICY, JOB, job({"checkpointing": "true"}, {"tolerations": [SPOT_TOLERATION]})) == []


def test_non_checkpointing_job_tolerating_spot_fails():
    assert check(POLICY, JOB, job({"checkpointing": "false"}, {"tolerations": [SPOT_TOLERATION]})) == [
        "may run on spot nodes (tolerates aiinfra.dev/capacity-type=spot) but its 'checkpointing' label is 'false', "
        "not 'true'"]


def test_tolerate_everything_counts_as_spot():
    assert check(POLICY, JOB, job({}, {"tolerations": [{"operator": "Exists"}]})) == [
        "may run on spot nodes (tolerates every taint) but its 'checkpointing' label is missing, not 'true'"]


def test_selecting_a_spot_pool_by_name_counts_as_spot():
    assert check(POLICY, JOB, job({"checkpointing": "True"}, {"nodeSelector": {"aiinfra.dev/pool": "g6-xlarge-spot"}})) == [
        "may run on spot nodes (selects spot pool g6-xlarge-spot) but its 'checkpointing' label is 'True', not 'true'"]


def test_inference_service_tolerations_are_found_in_the_predictor():
    isvc = {"metadata": {"labels": {}}, "spec": {"predictor": {"tolerations": [SPOT_TOLERATION]}}}
    assert check(POLICY, "kubernetes:serving.kserve.io/v1beta1:InferenceService", isvc) != []


def test_workload_staying_off_spot_needs_no_label():
    assert check(POLICY, JOB, job({}, {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]})) == []
