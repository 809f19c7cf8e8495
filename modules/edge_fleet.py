"""One edge site (k3s or similar): its own provider, the inference servers planned there, GPU runtime if present."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from modules.common import Labels
from modules.device_plugins import DevicePlugins, DevicePluginsArgs
from modules.team_namespaces import TeamNamespaces, TeamNamespacesArgs, TeamQuota
from modules.workloads import Workload, WorkloadArgs, WorkloadSpec

__all__ = ["EdgeFleet", "EdgeFleetArgs"]


@dataclass(frozen=True)
class EdgeFleetArgs:
    """Inputs of one edge site."""

    site: str
    """site name (place); the provider's cluster identifier."""
    kubeconfig: pulumi.Input[str]
    """kubeconfig contents from secret stack config."""
    environment: str
    """environment label."""
    teams: tuple[TeamQuota, ...]
    """namespaces and quotas of the teams serving here."""
    services: tuple[WorkloadSpec, ...]
    """inference services the plan placed on the site."""
    gpu_runtime: bool
    """the site has NVIDIA GPUs: device plugin and ``runtimeClassName: nvidia`` on GPU pods (k3s)."""


class EdgeFleet(pulumi.ComponentResource):
    """Provider (skips updates while the site is unreachable), namespaces, device plugin, Triton + Service + HPA.

    Outputs: ``k8s_provider``, ``services`` (workload -> component).
    """

    k8s_provider: k8s.Provider
    services: dict[str, Workload]

    def __init__(self, name: str, args: EdgeFleetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:modules:EdgeFleet", name,
                         {"site": args.site, "gpuRuntime": args.gpu_runtime,
                          "serviceNames": [s.name for s in args.services]}, opts)
        # Edge links drop: skip updates instead of failing the whole stack; keep state when unreachable.
        self.k8s_provider = k8s.Provider(f"{name}-k8s", kubeconfig=args.kubeconfig, cluster_identifier=args.site,
                                         skip_update_unreachable=True, delete_unreachable=False,
                                         enable_server_side_apply=True, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self)
        teams = TeamNamespaces(f"{name}-teams", TeamNamespacesArgs(
            cluster=args.site, provider=self.k8s_provider, environment=args.environment, teams=args.teams), opts=child)
        runtime = "nvidia" if args.gpu_runtime else None
        if args.gpu_runtime:
            DevicePlugins(f"{name}-plugins", DevicePluginsArgs(
                cluster=args.site, provider=self.k8s_provider, labels=Labels(environment=args.environment),
                nvidia=True, runtime_class=runtime), opts=child)
        self.services = {
            spec.name: Workload(f"{name}-{spec.name}", WorkloadArgs(
                cluster=args.site, provider=self.k8s_provider, spec=spec, inference_server="triton",
                runtime_class=runtime, depends_on=tuple(teams.namespaces.values())), opts=child)
            for spec in args.services}
        self.register_outputs({"site": args.site, "services": sorted(self.services)})
