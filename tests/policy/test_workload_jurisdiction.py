"""sovereignty-workload-location: workloads run on clusters (read from their provider) where their data may go."""

from policy.workload_jurisdiction import POLICY
from tests.policy.harness import UNKNOWN, messages, provider, resource

DEPLOY = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:trainer.kubeflow.org/v1alpha1:TrainJob"
SITES = {"sites": {"hospital-dc": {"kind": "onprem", "jurisdiction": "EU"},
                   "clinic-edge": {"kind": "edge", "jurisdiction": "EU"}}}


def run(kind, labels, cluster, config=SITES, spec=None):
    prov, ref = provider("kubernetes", "k8s", {"clusterIdentifier": cluster} if cluster is not None else {})
    inputs = {"apiVersion": "v1", "kind": kind.rsplit(":", 1)[-1], "metadata": {"labels": labels}, "spec": spec or {}}
    return messages(POLICY, prov, resource(kind, "w", inputs, provider=ref), config=config)


def test_health_data_on_the_on_prem_cluster_passes():
    assert run(JOB, {"data-classes": "eu-health-sensitive"}, "hospital-dc") == []


def test_health_data_on_an_edge_site_fails():
    assert run(JOB, {"data-classes": "eu-health-sensitive"}, "clinic-edge") == [
        "runs on cluster 'clinic-edge': data class 'eu-health-sensitive' may only be processed and stored on-prem "
        "(GDPR art. 9 (special categories) and hospital data-protection agreement)"]


def test_eu_data_on_a_us_cloud_cluster_fails():
    assert run(DEPLOY, {"data-classes": "eu-model-weights"}, "gcp:us-central1") == [
        "runs on cluster 'gcp:us-central1': data class 'eu-model-weights' may not be processed or stored in US; "
        "allowed: EU (GDPR art. 9 risk assessment (model inversion) - EU only)"]


def test_the_workloads_own_labels_cannot_move_it_to_another_cluster():
    assert run(DEPLOY, {"data-classes": "eu-personal", "aiinfra.dev/place": "aws:eu-central-1"}, "aws:us-east-1") != []


def test_pod_template_data_classes_are_honoured():
    spec = {"template": {"metadata": {"labels": {"data-classes": "us-phi"}}}}
    assert run(DEPLOY, {"data-classes": "none"}, "aws:eu-west-1", spec=spec)[0].startswith(
        "runs on cluster 'aws:eu-west-1': data class 'us-phi' may not be processed or stored in EU")


def test_undeclared_site_is_reported():
    assert run(DEPLOY, {"data-classes": "eu-personal"}, "secret-dc") == [
        "runs on site 'secret-dc', which is not declared in this policy's 'sites' config; cannot verify data "
        "classes eu-personal"]


def test_provider_without_cluster_identifier_is_reported():
    assert run(DEPLOY, {"data-classes": "eu-personal"}, None) == [
        "provider k8s does not name its cluster's place (clusterIdentifier); cannot verify data classes eu-personal"]


def test_unknown_cluster_identifier_is_reported():
    assert run(DEPLOY, {"data-classes": "eu-personal"}, UNKNOWN) == [
        "cannot verify the cluster's place during preview (provider k8s: clusterIdentifier is unknown) for data "
        "classes eu-personal"]


def test_default_provider_is_reported():
    inputs = {"metadata": {"labels": {"data-classes": "eu-personal"}}, "spec": {}}
    assert messages(POLICY, resource(DEPLOY, "w", inputs)) == [
        "runs with the default Kubernetes provider, so its cluster is unknown; cannot verify data classes "
        "eu-personal. To fix: create it with the explicit provider of its cluster"]


def test_missing_label_is_reported():
    assert run(DEPLOY, {"Team": "x"}, "hospital-dc") == [
        "cannot check where this workload may process data: it has no 'data-classes' label. To fix: label it "
        "'data-classes' with the classes it reads and writes"]


def test_non_workload_objects_are_ignored():
    assert run("kubernetes:core/v1:ConfigMap", {}, "aws:us-east-1") == []


def test_eks_cluster_identifier_names_the_region():
    assert run(DEPLOY, {"data-classes": "eu-personal"}, "eks-us-east-1")[0].startswith(
        "runs on cluster 'eks-us-east-1': data class 'eu-personal' may not be processed or stored in US")


def test_gke_cluster_identifier_with_a_dashed_project_names_the_region():
    assert run(DEPLOY, {"data-classes": "eu-personal"}, "gke-acme-ml-prod-europe-west4") == []
    assert run(DEPLOY, {"data-classes": "eu-personal"}, "gke-acme-ml-prod-europe-west2")[0].startswith(
        "runs on cluster 'gke-acme-ml-prod-europe-west2': data class 'eu-personal' may not be processed or stored in UK")
