"""The mock traps of reference §1 cannot make a test pass silently: each helper is shown to fail on a wrong input."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from deploy.preview import RegisteredResource, record_resources
from tests.deploy.helpers import (assert_explicit_provider, assert_labels, assert_selects_pool, assert_tolerates_exactly,
                                  find, get)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "crd"


def _node_group(**overrides) -> RegisteredResource:
    inputs = {"capacityType": "SPOT", "scalingConfig": {"minSize": 0.0, "maxSize": 2.0, "desiredSize": 0.0}}
    inputs.update(overrides)
    return RegisteredResource(type="aws:eks/nodeGroup:NodeGroup", name="ng", urn="urn:x", inputs=inputs,
                              provider="", parent=None, custom=True)


def test_a_snake_case_path_is_a_failure_not_a_missing_value_that_passes():
    group = _node_group()
    assert get(group, "capacityType") == "SPOT"
    with pytest.raises(AssertionError, match="no input at 'capacity_type'"):
        get(group, "capacity_type")


def test_mock_numbers_are_floats_and_compare_equal_to_ints_but_not_identical():
    size = get(_node_group(), "scalingConfig.maxSize")
    assert isinstance(size, float) and size == 2 and size is not 2  # noqa: F632 - the trap itself


@pytest.mark.parametrize("preview, message", [(True, "'clusterName' is unknown"), (False, "no input at 'clusterName'")])
def test_an_input_whose_upstream_output_the_mocks_do_not_return_fails_the_lookup(preview, message):
    def program():
        role = aws.iam.Role("r", assume_role_policy="{}", opts=pulumi.ResourceOptions(
            provider=aws.Provider("p", region="eu-west-1")))
        aws.eks.NodeGroup("ng", cluster_name=role.unique_id,  # never returned by the mocks -> unknown in preview
                          node_role_arn=role.arn, subnet_ids=["s"],
                          scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=0, max_size=1, desired_size=0),
                          opts=pulumi.ResourceOptions(provider=aws.Provider("p2", region="eu-west-1")))
    resources, _ = record_resources(program, preview=preview)
    with pytest.raises(AssertionError, match=message):
        get(find(resources, "aws:eks/nodeGroup:NodeGroup"), "clusterName")


def test_the_offline_runner_executes_programs_outside_preview_mode():
    _, dry_run = record_resources(lambda: pulumi.runtime.is_dry_run())
    assert dry_run is False


def test_an_assertion_inside_apply_fails_the_run_instead_of_never_running():
    def program():
        bucket = aws.s3.Bucket("b", opts=pulumi.ResourceOptions(provider=aws.Provider("p", region="eu-west-1")))

        def check(name):
            assert name == "something-else", "deliberately wrong"
        return bucket.bucket.apply(check)

    with pytest.raises(AssertionError, match="deliberately wrong"):
        record_resources(program)


def test_a_resource_on_the_default_provider_is_recorded_with_an_empty_provider_and_fails_the_check():
    resources, _ = record_resources(lambda: k8s.core.v1.Namespace("ns"))
    namespace = find(resources, "kubernetes:core/v1:Namespace")
    assert namespace.provider == ""
    with pytest.raises(AssertionError, match="default provider"):
        assert_explicit_provider(namespace)


def test_a_resource_on_another_cluster_fails_the_provider_check():
    def program():
        k8s.core.v1.Namespace("ns", opts=pulumi.ResourceOptions(provider=k8s.Provider("edge-a", kubeconfig="{}")))
        k8s.Provider("edge-b", kubeconfig="{}")
    resources, _ = record_resources(program)
    other = next(r for r in resources if r.name == "edge-b")
    with pytest.raises(AssertionError, match="expected"):
        assert_explicit_provider(find(resources, "kubernetes:core/v1:Namespace"), other.urn)


def test_pool_and_toleration_checks_fail_on_a_pod_bound_to_the_wrong_pool_or_tolerating_spot():
    pod = {"nodeSelector": {"aiinfra.dev/pool": "m6i-large-od"},
           "tolerations": [{"key": "aiinfra.dev/capacity-type", "operator": "Equal", "value": "spot",
                            "effect": "NoSchedule"}]}
    with pytest.raises(AssertionError):
        assert_selects_pool(pod, "p4d-24xlarge-spot")
    with pytest.raises(AssertionError):
        assert_tolerates_exactly(pod, set())


def test_the_label_check_fails_when_a_policy_label_is_missing_or_wrong():
    labels = {"environment": "dev", "workload": "w", "data-classes": "none", "team": "t", "cost-centre": "c"}
    with pytest.raises(AssertionError, match="managed-by"):
        assert_labels(labels)
    with pytest.raises(AssertionError, match="environment"):
        assert_labels({**labels, "managed-by": "aiinfra"}, environment="prod")


@pytest.mark.parametrize("schema, body, message", [
    ("trainer.kubeflow.org_v1alpha1_TrainJob.json", {"trainer": {"numNodes": 2}}, "'runtimeRef' is a required"),
    ("trainer.kubeflow.org_v1alpha1_TrainJob.json", {"runtimeRef": {"name": "torch"}, "trainer": {"numNodes": "two"}},
     "is not of type 'integer'"),
    ("serving.kserve.io_v1beta1_InferenceService.json", {"predictor": {"model": {"modelFormat": {}, "storageUri": "s3://m"}}},
     "'name' is a required"),
    ("kubeflow.org_v1_PyTorchJob.json", {"runPolicy": {}}, "'pytorchReplicaSpecs' is a required"),
])
def test_the_crd_schemas_reject_deliberately_broken_custom_resources(schema, body, message):
    validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / schema).read_text()))
    errors = [e.message for e in validator.iter_errors({"apiVersion": "x", "kind": "y", "metadata": {}, "spec": body})]
    assert any(message in e for e in errors), errors
