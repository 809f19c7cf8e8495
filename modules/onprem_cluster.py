"""The private on-prem cluster, reached through a kubeconfig from secret config: team namespaces, quotas, device plugin."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from modules.common import Labels
from modules.device_plugins import DevicePlugins, DevicePluginsArgs
from modules.team_namespaces import TeamNamespaces, TeamNamespacesArgs, TeamQuota

__all__ = ["OnPremCluster", "OnPremClusterArgs"]


@dataclass(frozen=True)
class OnPremClusterArgs:
    """Inputs of one on-prem site."""

    site: str
    """site name (place); also the provider's cluster identifier."""
    kubeconfig: pulumi.Input[str]
    """kubeconfig contents from secret stack config; never the local ~/.kube/config."""
    environment: str
    """environment label."""
    teams: tuple[TeamQuota, ...]
    """namespaces and quotas: the plan's use of the site's inventory per team."""
    inventory: dict[str, int]
    """extended resource -> devices the site owns (quotas must fit in it)."""
    nvidia: bool = False
    """the site has NVIDIA GPUs: install the device plugin."""


class OnPremCluster(pulumi.ComponentResource):
    """Kubernetes provider for the site, team namespaces with quotas, NVIDIA device plugin.

    Outputs: ``k8s_provider``, ``namespaces``.
    """

    k8s_provider: k8s.Provider
    namespaces: dict[str, k8s.core.v1.Namespace]

    def __init__(self, name: str, args: OnPremClusterArgs, opts: pulumi.ResourceOptions | None = None):
        for quota in args.teams:
            for resource, count in quota.accelerators.items():
                if count > args.inventory.get(resource, 0):
                    raise ValueError(f"site {args.site}: team {quota.team} is planned {count} x {resource} but the "
                                     f"site owns {args.inventory.get(resource, 0)}. To fix: re-plan with the "
                                     "site's inventory in the estate")
        super().__init__("aiinfra:modules:OnPremCluster", name,
                         {"site": args.site, "teams": [t.team for t in args.teams], "inventory": args.inventory,
                          "nvidia": args.nvidia}, opts)
        self.k8s_provider = k8s.Provider(f"{name}-k8s", kubeconfig=args.kubeconfig, cluster_identifier=args.site,
                                         delete_unreachable=False, enable_server_side_apply=True,
                                         opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self)
        self.namespaces = TeamNamespaces(f"{name}-teams", TeamNamespacesArgs(
            cluster=args.site, provider=self.k8s_provider, environment=args.environment, teams=args.teams),
            opts=child).namespaces
        if args.nvidia:
            DevicePlugins(f"{name}-plugins", DevicePluginsArgs(
                cluster=args.site, provider=self.k8s_provider, labels=Labels(environment=args.environment),
                nvidia=True), opts=child)
        self.register_outputs({"site": args.site, "namespaces": sorted(self.namespaces)})
