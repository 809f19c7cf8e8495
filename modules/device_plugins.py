"""Accelerator device plugins on one cluster (Helm v3 releases: visible to mocks and policies)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from modules.common import ACCELERATOR_TAINTS, SPOT_TAINT, Labels

__all__ = ["DevicePlugins", "DevicePluginsArgs", "NVIDIA_CHART", "NEURON_CHART"]

NVIDIA_CHART = ("nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "0.17.4")
# TODO(deploy): pin the Neuron chart version once checked against aws-neuron/neuron-helm-charts releases;
# unpinned, Helm installs the newest chart at deploy time.
NEURON_CHART = ("oci://public.ecr.aws/neuron/neuron-helm-chart", None, None)


@dataclass(frozen=True)
class DevicePluginsArgs:
    """Which plugins a cluster needs."""

    cluster: str
    """cluster label (place)."""
    provider: k8s.Provider
    """explicit provider of that cluster."""
    labels: Labels
    """policy labels on the releases' objects."""
    nvidia: bool = False
    """install the NVIDIA device plugin (AL2023 NVIDIA AMIs, on-prem and edge GPUs; GKE brings its own)."""
    neuron: bool = False
    """install the Neuron device plugin (Inferentia/Trainium on AL2023 Neuron AMIs)."""
    runtime_class: str | None = None
    """RuntimeClass for the plugin pods (k3s edge nodes: ``nvidia``)."""


class DevicePlugins(pulumi.ComponentResource):
    """``helm.v3.Release`` per needed plugin, tolerating the accelerator and spot taints.

    Outputs: ``releases`` (plugin -> release name).
    """

    releases: dict[str, k8s.helm.v3.Release]

    def __init__(self, name: str, args: DevicePluginsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:modules:DevicePlugins", name,
                         {"cluster": args.cluster, "nvidia": args.nvidia, "neuron": args.neuron,
                          "runtimeClass": args.runtime_class}, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.releases = {}
        if args.nvidia:
            chart, repo, version = NVIDIA_CHART
            values: dict[str, object] = {
                "tolerations": [ACCELERATOR_TAINTS["nvidia"].toleration(), SPOT_TAINT.toleration()],
                "podLabels": args.labels.as_dict()}
            if args.runtime_class:
                values["runtimeClassName"] = args.runtime_class
            self.releases["nvidia"] = k8s.helm.v3.Release(
                f"{name}-nvidia", name="nvidia-device-plugin", chart=chart, version=version, namespace="kube-system",
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo), values=values, opts=child)
        if args.neuron:
            chart, _, version = NEURON_CHART
            self.releases["neuron"] = k8s.helm.v3.Release(
                f"{name}-neuron", name="neuron", chart=chart, version=version, namespace="kube-system",
                values={"npd": {"enabled": False},
                        "devicePlugin": {"tolerations": [ACCELERATOR_TAINTS["neuron"].toleration(),
                                                         SPOT_TAINT.toleration()]}},
                opts=child)
        self.register_outputs({"releases": {k: r.name for k, r in self.releases.items()}})
