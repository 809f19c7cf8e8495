"""A regional GKE cluster: private nodes, workload identity, a minimal node service account, pools from the plan."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from modules.common import Labels, NodePoolSpec, slug
from modules.gke_node_pool import GkeNodePool, GkeNodePoolArgs

__all__ = ["GkeCluster", "GkeClusterArgs", "NODE_ROLES"]

# What a node needs (logs, metrics, image pulls) instead of the default compute SA's Editor role.
NODE_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/artifactregistry.reader")


@dataclass(frozen=True)
class GkeClusterArgs:
    """Inputs of one regional GKE cluster."""

    project: str
    """GCP project."""
    region: str
    """cluster location: a region, so the control plane is replicated."""
    provider: gcp.Provider
    """explicit provider of that project/region."""
    network_id: pulumi.Input[str]
    """VPC of the cluster."""
    subnetwork_id: pulumi.Input[str]
    """subnetwork with the pod and service secondary ranges."""
    pods_range: str
    """secondary range name for pods."""
    services_range: str
    """secondary range name for services."""
    labels: Labels
    """policy labels (resource labels)."""
    node_pools: tuple[NodePoolSpec, ...]
    """pools the plan uses here."""
    release_channel: str = "REGULAR"
    """GKE release channel (STABLE for prod-like stability, REGULAR otherwise)."""
    authorized_cidrs: tuple[str, ...] = field(default=())
    """CIDRs allowed to reach the control plane; empty = no external access except Google's."""
    deletion_protection: bool = False
    """Terraform-style guard: the cluster can only be destroyed while false."""


class GkeCluster(pulumi.ComponentResource):
    """Node service account + IAM, ``gcp.container.Cluster`` (default pool removed), node pools, k8s provider.

    Outputs: ``cluster_name``, ``endpoint``, ``kubeconfig`` (secret), ``k8s_provider``, ``node_pools``.
    """

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    k8s_provider: k8s.Provider
    node_pools: dict[str, GkeNodePool]

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:modules:GkeCluster", name,
                         {"project": args.project, "region": args.region, "releaseChannel": args.release_channel,
                          "nodePools": [p.name for p in args.node_pools], "labels": args.labels.as_dict()}, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        account = gcp.serviceaccount.Account(f"{name}-nodes", project=args.project,
                                             account_id=f"{slug(name)[:20]}-nodes".strip("-"),
                                             display_name=f"GKE nodes of {name}", opts=child)
        for role in NODE_ROLES:
            gcp.projects.IAMMember(f"{name}-nodes-{role.split('/')[1]}", project=args.project, role=role,
                                   member=account.email.apply(lambda email: f"serviceAccount:{email}"), opts=child)
        cluster = gcp.container.Cluster(
            f"{name}-gke", project=args.project, location=args.region, network=args.network_id,
            subnetwork=args.subnetwork_id, remove_default_node_pool=True, initial_node_count=1,
            deletion_protection=args.deletion_protection, resource_labels=args.labels.as_dict(),
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=args.release_channel),
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=args.pods_range, services_secondary_range_name=args.services_range),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True, enable_private_endpoint=False, master_ipv4_cidr_block="172.16.0.0/28"),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=c)
                             for c in args.authorized_cidrs]),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=f"{args.project}.svc.id.goog"),
            node_config=gcp.container.ClusterNodeConfigArgs(service_account=account.email),
            opts=child)
        self.node_pools = {
            pool.name: GkeNodePool(f"{name}-{slug(pool.name)}", GkeNodePoolArgs(
                project=args.project, region=args.region, provider=args.provider, cluster=cluster.name,
                service_account=account.email, pool=pool,
                labels=Labels(environment=args.labels.environment)),
                opts=pulumi.ResourceOptions(parent=self))
            for pool in args.node_pools}
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate if auth else None),
        ).apply(lambda parts: _kubeconfig(parts[0], parts[1], parts[2])))
        self.k8s_provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig,
                                         cluster_identifier=f"gke-{args.project}-{args.region}",
                                         delete_unreachable=False, enable_server_side_apply=True,
                                         opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"clusterName": self.cluster_name, "endpoint": self.endpoint,
                               "kubeconfig": self.kubeconfig})


def _kubeconfig(name: str, endpoint: str, ca: str | None) -> str:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin (no static credentials)."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "gke-gcloud-auth-plugin",
            "provideClusterInfo": True}}}],
    })
