"""Team namespaces on one cluster, each with a ResourceQuota sized to the plan's use of that cluster."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from modules.common import Labels

__all__ = ["TeamNamespaces", "TeamNamespacesArgs", "TeamQuota"]


@dataclass(frozen=True)
class TeamQuota:
    """What one team's planned workloads use on one cluster at once."""

    team: str
    """team name = namespace name."""
    cost_centre: str
    """chargeback label."""
    data_classes: tuple[str, ...]
    """classes the team's workloads here process (namespace label for policies)."""
    cpu: float
    """vCPUs requested by the team's workloads here (sum over workloads x replicas)."""
    memory_gib: float
    """memory requested, GiB."""
    accelerators: dict[str, int] = field(default_factory=dict)
    """extended resource (nvidia.com/gpu, aws.amazon.com/neuron, google.com/tpu) -> devices."""

    def hard(self) -> dict[str, str]:
        hard = {"requests.cpu": str(math.ceil(self.cpu)), "limits.cpu": str(math.ceil(self.cpu)),
                "requests.memory": f"{math.ceil(self.memory_gib)}Gi", "limits.memory": f"{math.ceil(self.memory_gib)}Gi"}
        for resource, count in sorted(self.accelerators.items()):
            hard[f"requests.{resource}"] = str(count)
        return hard


@dataclass(frozen=True)
class TeamNamespacesArgs:
    """Inputs: the cluster and the teams planned onto it."""

    cluster: str
    """cluster label (place) for names and the preview."""
    provider: k8s.Provider
    """explicit provider of that cluster."""
    environment: str
    """environment label."""
    teams: tuple[TeamQuota, ...]
    """one namespace + quota per team."""
    enforce_quotas: bool = True
    """create ResourceQuotas (on by default: teams share the cluster)."""


class TeamNamespaces(pulumi.ComponentResource):
    """Namespace per team (labelled for chargeback and sovereignty) and its ResourceQuota.

    Outputs: ``namespaces`` (team -> Namespace resource).
    """

    namespaces: dict[str, k8s.core.v1.Namespace]

    def __init__(self, name: str, args: TeamNamespacesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:modules:TeamNamespaces", name,
                         {"cluster": args.cluster, "quotas": {t.team: t.hard() for t in args.teams}}, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespaces = {}
        for quota in args.teams:
            labels = Labels(environment=args.environment, workload="shared", data_classes=quota.data_classes,
                            team=quota.team, cost_centre=quota.cost_centre).as_dict()
            namespace = k8s.core.v1.Namespace(
                f"{name}-{quota.team}", metadata=k8s.meta.v1.ObjectMetaArgs(name=quota.team, labels=labels), opts=child)
            self.namespaces[quota.team] = namespace
            if args.enforce_quotas:
                k8s.core.v1.ResourceQuota(
                    f"{name}-{quota.team}-quota",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name="planned-use", namespace=quota.team, labels=labels),
                    spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=quota.hard()),
                    opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace]))
        self.register_outputs({"namespaces": {team: ns.metadata.name for team, ns in self.namespaces.items()}})
