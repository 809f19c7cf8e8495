"""EKS components under mocks: region, AMI types, capacity types, taints, bounds, IMDSv2, IAM."""

from __future__ import annotations

import pulumi_aws as aws
import pytest

from modules.common import Labels, NodePoolSpec
from modules.eks_cluster import CLUSTER_POLICIES, NODE_POLICIES, EksCluster, EksClusterArgs
from modules.eks_node_group import ami_type_for
from modules.network_aws import AwsNetwork, AwsNetworkArgs
from tests.deploy.conftest import recorded
from tests.deploy.helpers import all_of, assert_explicit_provider, find, get

POOLS = (
    NodePoolSpec("p4d-24xlarge-spot", "p4d.24xlarge", "spot", "A100", 8, 0, 0, 3),
    NodePoolSpec("inf2-xlarge-od", "inf2.xlarge", "on_demand", "Inferentia2", 1, 2, 2, 4),
    NodePoolSpec("trn1-32xlarge-spot", "trn1.32xlarge", "spot", "Trainium", 16, 0, 0, 2),
    NodePoolSpec("m6i-large-od", "m6i.large", "on_demand", None, 0, 1, 2, 3),
)


def _cluster():
    provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
    net = AwsNetwork("net", AwsNetworkArgs(region="eu-west-1", provider=provider, labels=Labels("prod"),
                                           nat_gateways="per-az"))
    EksCluster("eks-eu-west-1", EksClusterArgs(region="eu-west-1", provider=provider, subnet_ids=net.private_subnet_ids,
                                               labels=Labels("prod"), node_pools=POOLS,
                                               public_access_cidrs=("203.0.113.0/24",)))


@pytest.fixture(scope="module")
def eks():
    return recorded(_cluster)


def _group(resources, pool):
    return find(resources, "aws:eks/nodeGroup:NodeGroup", f"eks-eu-west-1-{pool}-ng")


@pytest.mark.parametrize("pool, ami", [("p4d-24xlarge-spot", "AL2023_x86_64_NVIDIA"),
                                       ("inf2-xlarge-od", "AL2023_x86_64_NEURON"),
                                       ("trn1-32xlarge-spot", "AL2023_x86_64_NEURON"),
                                       ("m6i-large-od", "AL2023_x86_64_STANDARD")])
def test_each_node_group_gets_the_ami_type_of_its_accelerator(eks, pool, ami):
    assert get(_group(eks, pool), "amiType") == ami


def test_graviton_gpu_instances_get_the_arm_nvidia_ami():
    assert ami_type_for(NodePoolSpec("g5g-xlarge-od", "g5g.xlarge", "on_demand", "T4g", 1, 0, 0, 1)) == "AL2023_ARM_64_NVIDIA"


def test_spot_pools_are_spot_and_on_demand_pools_on_demand(eks):
    assert get(_group(eks, "p4d-24xlarge-spot"), "capacityType") == "SPOT"
    assert get(_group(eks, "inf2-xlarge-od"), "capacityType") == "ON_DEMAND"


def test_node_groups_run_the_planned_instance_type_within_the_planned_bounds(eks):
    group = _group(eks, "inf2-xlarge-od")
    assert get(group, "instanceTypes") == ["inf2.xlarge"]
    assert get(group, "scalingConfig") == {"minSize": 2.0, "desiredSize": 2.0, "maxSize": 4.0}


def test_accelerator_pools_are_tainted_no_schedule_and_spot_pools_also_carry_the_spot_taint(eks):
    taints = {(t["key"], t["value"], t["effect"]) for t in get(_group(eks, "p4d-24xlarge-spot"), "taints")}
    assert taints == {("nvidia.com/gpu", "present", "NO_SCHEDULE"), ("aiinfra.dev/capacity-type", "spot", "NO_SCHEDULE")}
    neuron = {(t["key"], t["effect"]) for t in get(_group(eks, "inf2-xlarge-od"), "taints")}
    assert neuron == {("aws.amazon.com/neuron", "NO_SCHEDULE")}
    assert _group(eks, "m6i-large-od").inputs.get("taints") in (None, [])


def test_node_groups_carry_the_pool_and_capacity_labels(eks):
    labels = get(_group(eks, "p4d-24xlarge-spot"), "labels")
    assert labels["aiinfra.dev/pool"] == "p4d-24xlarge-spot" and labels["aiinfra.dev/capacity-type"] == "spot"
    assert labels["environment"] == "prod" and labels["managed-by"] == "aiinfra"


def test_every_launch_template_requires_imdsv2_and_encrypts_the_root_volume(eks):
    templates = all_of(eks, "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == len(POOLS)
    for template in templates:
        assert get(template, "metadataOptions.httpTokens") == "required"
        assert get(template, "blockDeviceMappings.0.ebs.encrypted") == "true"


def test_every_regional_resource_is_pinned_to_the_region_and_uses_the_region_provider(eks):
    provider = find(eks, "pulumi:providers:aws")
    for resource in eks:
        if resource.custom and resource.type.startswith("aws:"):
            assert_explicit_provider(resource, provider.urn)
            if not resource.type.startswith("aws:iam/"):
                assert get(resource, "region") == "eu-west-1"


def test_iam_roles_get_exactly_the_managed_policies_eks_requires(eks):
    attached = {get(r, "policyArn") for r in all_of(eks, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached == set(CLUSTER_POLICIES) | set(NODE_POLICIES)
    node_role = find(eks, "aws:iam/role:Role", "eks-eu-west-1-node-role")
    assert "ec2.amazonaws.com" in get(node_role, "assumeRolePolicy")


def test_the_cluster_encrypts_secrets_and_limits_its_public_endpoint(eks):
    cluster = find(eks, "aws:eks/cluster:Cluster")
    assert get(cluster, "encryptionConfig.resources") == ["secrets"]
    assert get(cluster, "vpcConfig.publicAccessCidrs") == ["203.0.113.0/24"]
    assert get(cluster, "accessConfig.authenticationMode") == "API"


def test_node_groups_join_the_cluster_through_the_private_subnets(eks):
    private = [r for r in all_of(eks, "aws:ec2/subnet:Subnet") if "private" in r.name]
    assert len(private) == 3
    assert len(get(_group(eks, "m6i-large-od"), "subnetIds")) == 3
    assert get(_group(eks, "m6i-large-od"), "clusterName")  # resolved from the cluster's mocked name


def test_per_az_nat_gives_every_private_subnet_its_own_gateway(eks):
    assert len(all_of(eks, "aws:ec2/natGateway:NatGateway")) == 3


def test_the_kubernetes_provider_is_built_from_the_cluster_kubeconfig(eks):
    provider = find(eks, "pulumi:providers:kubernetes")
    assert "get-token" in get(provider, "kubeconfig") and "eks-eu-west-1-eks" in get(provider, "kubeconfig")
    assert "kubeconfig" in provider.secret_paths
