"""sovereignty-compute-location: clusters and pools run where their data classes may be processed."""

from policy.compute_jurisdiction import POLICY
from tests.policy.harness import UNKNOWN, check

GDPR = "GDPR Chapter V (transfers to third countries), art. 44-49"
EKS, NG = "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup"
GKE, POOL = "gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool"


def test_eks_cluster_in_eu_region_passes():
    assert check(POLICY, EKS, {"region": "eu-central-1", "tags": {"data-classes": "eu-personal"}}) == []


def test_eks_node_group_with_region_only_on_provider_in_us_fails():
    assert check(POLICY, NG, {"tags": {"data-classes": "eu-model-weights"}}, provider_inputs={"region": "us-east-2"}) == [
        "region us-east-2 (set on the provider): data class 'eu-model-weights' may not be processed or stored in US; "
        "allowed: EU (GDPR art. 9 risk assessment (model inversion) - EU only)"]


def test_gke_cluster_in_a_zone_resolves_to_its_region():
    assert check(POLICY, GKE, {"location": "europe-west2-b", "resourceLabels": {"data-classes": "eu-personal"}}) == [
        f"zone europe-west2-b (set on the resource): data class 'eu-personal' may not be processed or stored in UK; "
        f"allowed: EU ({GDPR})"]


def test_gke_node_pool_location_falls_back_to_the_cluster_id():
    assert check(POLICY, POOL, {"cluster": "projects/p/locations/us-central1/clusters/c",
                                "nodeConfig": {"resourceLabels": {"data-classes": "eu-personal"}}}) == [
        f"region us-central1 (set on the cluster id): data class 'eu-personal' may not be processed or stored in US; "
        f"allowed: EU ({GDPR})"]


def test_gke_node_pool_data_class_in_kubernetes_node_labels_counts():
    assert check(POLICY, POOL, {"location": "europe-west4", "nodeConfig": {
        "resourceLabels": {"data-classes": "none"}, "labels": {"data-classes": "eu-health-sensitive"}}})[0].startswith(
        "region europe-west4 (set on the resource): data class 'eu-health-sensitive' may only be processed and "
        "stored on-prem")


def test_unknown_location_is_reported():
    assert check(POLICY, GKE, {"location": UNKNOWN, "resourceLabels": {"data-classes": "us-phi"}}) == [
        "cannot verify the GKE cluster's location during preview (location is unknown) for data classes us-phi"]


def test_cluster_without_data_class_label_is_reported():
    assert check(POLICY, EKS, {"region": "eu-west-1", "tags": {}}) == [
        "cannot check where this EKS cluster may process data: it has no 'data-classes' label. To fix: label it "
        "'data-classes' with the classes of the workloads it runs"]


def test_unrestricted_classes_pass_anywhere():
    assert check(POLICY, NG, {"region": "ap-south-1", "tags": {"data-classes": "internal_public"}}) == []
