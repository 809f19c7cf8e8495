"""One EKS managed node group (GPU, Neuron or CPU) with an IMDSv2-only launch template."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from modules.common import Labels, NodePoolSpec

__all__ = ["EksNodeGroup", "EksNodeGroupArgs", "ami_type_for"]

_ARM = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")  # m7g, c7gn, g5g, r6gd: Graviton families
_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


def ami_type_for(pool: NodePoolSpec) -> str:
    """EKS AMI type: AL2023 NVIDIA for GPUs, AL2023 Neuron for Inferentia/Trainium, AL2023 standard for CPU.

    (AL2 AMIs are no longer published since 2025-11-26; see the reference §3.2.)
    """
    arm = bool(_ARM.match(pool.instance_type))
    if pool.kind == "nvidia":
        return "AL2023_ARM_64_NVIDIA" if arm else "AL2023_x86_64_NVIDIA"
    if pool.kind == "neuron":
        return "AL2023_x86_64_NEURON"
    if pool.kind == "tpu":
        raise ValueError(f"pool {pool.name}: TPUs do not exist on AWS. To fix: plan TPU slices on gcp places only")
    return "AL2023_ARM_64_STANDARD" if arm else "AL2023_x86_64_STANDARD"


@dataclass(frozen=True)
class EksNodeGroupArgs:
    """Inputs of one managed node group."""

    region: str
    """AWS region of the cluster (pinned on every resource)."""
    provider: aws.Provider
    """explicit provider of that region."""
    cluster_name: pulumi.Input[str]
    """the EKS cluster the group joins."""
    node_role_arn: pulumi.Input[str]
    """instance role (worker, CNI, ECR pull-only policies)."""
    subnet_ids: pulumi.Input[list[str]]
    """private subnets: nodes get no public IPs."""
    pool: NodePoolSpec
    """what the plan asked for: instance type, purchase option, bounds, accelerator."""
    labels: Labels
    """policy tags."""
    disk_size_gib: int = 200
    """root volume; container images for GPU frameworks are large."""


class EksNodeGroup(pulumi.ComponentResource):
    """Launch template (IMDSv2 required, hop limit 2, encrypted gp3 root) + ``aws.eks.NodeGroup``.

    Outputs: ``node_group_name``, ``ami_type``.
    """

    node_group_name: pulumi.Output[str]
    ami_type: str

    def __init__(self, name: str, args: EksNodeGroupArgs, opts: pulumi.ResourceOptions | None = None):
        pool = args.pool
        self.ami_type = ami_type_for(pool)
        capacity = "SPOT" if pool.purchase == "spot" else "ON_DEMAND"
        super().__init__("aiinfra:modules:EksNodeGroup", name,
                         {"region": args.region, "pool": pool.name, "instanceType": pool.instance_type,
                          "amiType": self.ami_type, "capacityType": capacity, "minSize": pool.min_nodes,
                          "maxSize": pool.max_nodes, "tags": args.labels.as_dict()}, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        tags = args.labels.as_dict()
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt", region=args.region, tags=tags, update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=2),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=args.disk_size_gib, volume_type="gp3", encrypted="true", delete_on_termination="true"))],
            tag_specifications=[aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags=tags),
                                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="volume", tags=tags)],
            opts=child)
        group = aws.eks.NodeGroup(
            f"{name}-ng", cluster_name=args.cluster_name, node_group_name=pool.name, node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids, region=args.region, ami_type=self.ami_type, capacity_type=capacity,
            instance_types=[pool.instance_type],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=pool.min_nodes, desired_size=pool.desired_nodes, max_size=pool.max_nodes),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels={**args.labels.as_dict(), **pool.node_labels},
            taints=[aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=_EFFECTS[t.effect])
                    for t in pool.taints],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version.apply(str)),
            tags={**tags, "k8s.io/cluster-autoscaler/enabled": "true"},
            # the cluster autoscaler owns desired_size after creation
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, ignore_changes=["scalingConfig.desiredSize"]))
        self.node_group_name = group.node_group_name
        self.register_outputs({"nodeGroupName": self.node_group_name, "amiType": self.ami_type})
