"""An EKS cluster in one region: least-privilege IAM roles, encrypted secrets, node groups from the plan."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from modules.common import Labels, NodePoolSpec, slug
from modules.eks_node_group import EksNodeGroup, EksNodeGroupArgs

__all__ = ["EksCluster", "EksClusterArgs", "CLUSTER_POLICIES", "NODE_POLICIES"]

# Managed policies the EKS user guide requires, nothing broader (reference §3.3).
CLUSTER_POLICIES = ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",)
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)


def _assume(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


@dataclass(frozen=True)
class EksClusterArgs:
    """Inputs of one regional EKS cluster."""

    region: str
    """AWS region (pinned on every regional resource)."""
    provider: aws.Provider
    """explicit provider of that region."""
    subnet_ids: pulumi.Input[list[str]]
    """private subnets in >= 2 AZs for the control plane ENIs and the nodes."""
    labels: Labels
    """policy tags."""
    node_pools: tuple[NodePoolSpec, ...]
    """managed node groups, one per (instance type, purchase option) the plan uses here."""
    version: str = "1.33"
    """Kubernetes minor version."""
    public_access_cidrs: tuple[str, ...] = field(default=())
    """CIDRs allowed to reach the public API endpoint; empty = private endpoint only."""
    deletion_protection: bool = False
    """refuse deletion of the cluster (prod)."""


class EksCluster(pulumi.ComponentResource):
    """IAM roles, KMS key for secrets, ``aws.eks.Cluster``, node groups, and a Kubernetes provider for it.

    Outputs: ``cluster_name``, ``endpoint``, ``kubeconfig`` (secret), ``k8s_provider``, ``node_groups``.
    """

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    k8s_provider: k8s.Provider
    node_groups: dict[str, EksNodeGroup]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:modules:EksCluster", name,
                         {"region": args.region, "version": args.version, "nodePools": [p.name for p in args.node_pools],
                          "publicAccessCidrs": list(args.public_access_cidrs), "tags": args.labels.as_dict()}, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        tags = args.labels.as_dict()
        cluster_role = aws.iam.Role(f"{name}-cluster-role", assume_role_policy=_assume("eks.amazonaws.com"),
                                    tags=tags, opts=child)
        attachments = [aws.iam.RolePolicyAttachment(f"{name}-cluster-{arn.rsplit('/', 1)[1]}", role=cluster_role.name,
                                                    policy_arn=arn, opts=child) for arn in CLUSTER_POLICIES]
        node_role = aws.iam.Role(f"{name}-node-role", assume_role_policy=_assume("ec2.amazonaws.com"),
                                 tags=tags, opts=child)
        node_attachments = [aws.iam.RolePolicyAttachment(f"{name}-node-{arn.rsplit('/', 1)[1]}", role=node_role.name,
                                                         policy_arn=arn, opts=child) for arn in NODE_POLICIES]
        secrets_key = aws.kms.Key(f"{name}-secrets", description=f"EKS secrets envelope key for {name}",
                                  enable_key_rotation=True, deletion_window_in_days=30, region=args.region,
                                  tags=tags, opts=child)
        cluster = aws.eks.Cluster(
            f"{name}-eks", role_arn=cluster_role.arn, version=args.version, region=args.region, tags=tags,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids, endpoint_private_access=True,
                endpoint_public_access=bool(args.public_access_cidrs),
                public_access_cidrs=list(args.public_access_cidrs) or None),
            access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API",
                                                          bootstrap_cluster_creator_admin_permissions=True),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_key.arn)),
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            deletion_protection=args.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=attachments))
        self.node_groups = {
            pool.name: EksNodeGroup(f"{name}-{slug(pool.name)}", EksNodeGroupArgs(
                region=args.region, provider=args.provider, cluster_name=cluster.name, node_role_arn=node_role.arn,
                subnet_ids=args.subnet_ids, pool=pool,
                labels=Labels(environment=args.labels.environment, workload="shared")),
                opts=pulumi.ResourceOptions(parent=self, depends_on=node_attachments))
            for pool in args.node_pools}
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.certificate_authority.apply(lambda ca: ca.data if ca else None),
        ).apply(lambda parts: _kubeconfig(parts[0], parts[1], parts[2], args.region)))
        self.k8s_provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig,
                                         cluster_identifier=f"eks-{args.region}", delete_unreachable=False,
                                         enable_server_side_apply=True, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"clusterName": self.cluster_name, "endpoint": self.endpoint,
                               "kubeconfig": self.kubeconfig})


def _kubeconfig(cluster_name: str, endpoint: str, ca_data: str | None, region: str) -> str:
    """A kubeconfig that authenticates with ``aws eks get-token`` (no long-lived credentials stored)."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": cluster_name,
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region]}}}],
    })
