"""One GKE node pool: CPU, NVIDIA GPUs (guest accelerators with driver installation) or a TPU slice."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from modules.common import Labels, NodePoolSpec, tpu_slice

__all__ = ["GkeNodePool", "GkeNodePoolArgs", "GPU_ACCELERATOR_TYPES", "TPU_ZONES"]

# catalog accelerator name -> GKE guest accelerator type (reference §4)
GPU_ACCELERATOR_TYPES = {
    "L4": "nvidia-l4", "T4": "nvidia-tesla-t4", "V100": "nvidia-tesla-v100", "A100": "nvidia-tesla-a100",
    "A100-80GB": "nvidia-a100-80gb", "H100": "nvidia-h100-80gb", "H100-MEGA": "nvidia-h100-mega-80gb",
    "H200": "nvidia-h200-141gb", "B200": "nvidia-b200",
}
# region -> TPU version -> zone offering it (https://cloud.google.com/tpu/docs/regions-zones; changes often).
TPU_ZONES = {
    "us-central1": {"v5p": "us-central1-a", "v5litepod": "us-central1-a", "v6e": "us-central1-b"},
    "us-east5": {"v5p": "us-east5-a", "v6e": "us-east5-b"},
    "us-east1": {"v6e": "us-east1-d"},
    "us-south1": {"v5litepod": "us-south1-a"},
    "us-west1": {"v5litepod": "us-west1-c"},
    "us-west4": {"v5litepod": "us-west4-a"},
    "us-central2": {"v4": "us-central2-b"},
    "europe-west4": {"v5p": "europe-west4-b", "v5litepod": "europe-west4-b", "v6e": "europe-west4-a"},
}
_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


@dataclass(frozen=True)
class GkeNodePoolArgs:
    """Inputs of one GKE node pool."""

    project: str
    """GCP project of the cluster."""
    region: str
    """cluster location (regional cluster)."""
    provider: gcp.Provider
    """explicit provider of that project/region."""
    cluster: pulumi.Input[str]
    """cluster name or id the pool joins."""
    service_account: pulumi.Input[str]
    """node service account email (minimal roles, not the default compute SA)."""
    pool: NodePoolSpec
    """what the plan asked for."""
    labels: Labels
    """policy labels (GCP resource labels)."""
    gpu_driver_version: str = "LATEST"
    """GKE-managed NVIDIA driver installation: DEFAULT or LATEST (never UNSPECIFIED: that installs nothing)."""


class GkeNodePool(pulumi.ComponentResource):
    """``gcp.container.NodePool`` for a planned pool.

    GPU pools carry guest accelerators with managed driver installation; TPU pools use the slice's
    machine type, the TPU zone, and for multi-host slices a COMPACT placement policy with the topology
    (atomic: 0 or all VMs). Accelerator and spot pools are tainted per conventions.
    Outputs: ``pool_name``, ``machine_type``.
    """

    pool_name: pulumi.Output[str]
    machine_type: str

    def __init__(self, name: str, args: GkeNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        pool = args.pool
        tpu = tpu_slice(pool.instance_type) if pool.kind == "tpu" else None
        self.machine_type = tpu.machine_type if tpu else pool.instance_type
        props: dict[str, object] = {"region": args.region, "pool": pool.name, "machineType": self.machine_type,
                                    "spot": pool.purchase == "spot", "labels": args.labels.as_dict()}
        if tpu:
            props["tpuTopology"] = tpu.topology
        super().__init__("aiinfra:modules:GkeNodePool", name, props, opts)
        guest = []
        node_labels = {**args.labels.as_dict(), **pool.node_labels}
        node_locations = None
        placement = None
        min_nodes, max_nodes, initial = pool.min_nodes, pool.max_nodes, pool.min_nodes
        if pool.kind == "nvidia":
            if pool.accelerator not in GPU_ACCELERATOR_TYPES:
                raise ValueError(f"pool {pool.name}: GPU '{pool.accelerator}' has no GKE accelerator type. "
                                 f"To fix: use one of {', '.join(GPU_ACCELERATOR_TYPES)}")
            guest = [gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                type=GPU_ACCELERATOR_TYPES[pool.accelerator], count=pool.accelerators_per_node,
                gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                    gpu_driver_version=args.gpu_driver_version))]
        if tpu:
            zone = TPU_ZONES.get(args.region, {}).get(tpu.version)
            if zone is None:
                raise ValueError(f"pool {pool.name}: no known {tpu.version} TPU zone in {args.region}. "
                                 f"To fix: plan the slice in one of {sorted(r for r, v in TPU_ZONES.items() if tpu.version in v)}")
            node_locations = [zone]
            # GKE itself labels TPU nodes cloud.google.com/gke-tpu-accelerator / -topology (reserved prefix)
            if tpu.multi_host:
                placement = gcp.container.NodePoolPlacementPolicyArgs(type="COMPACT", tpu_topology=tpu.topology)
                # a multi-host slice is all or nothing: the pool holds exactly one slice
                min_nodes, max_nodes, initial = 0, tpu.vms, 0
        self.pool = gcp.container.NodePool(
            f"{name}-np", name=pool.name, project=args.project, location=args.region, cluster=args.cluster,
            node_locations=node_locations, initial_node_count=initial, placement_policy=placement,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=min_nodes, total_max_node_count=max_nodes, location_policy="ANY"),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=self.machine_type, spot=pool.purchase == "spot", labels=node_labels,
                resource_labels=args.labels.as_dict(), guest_accelerators=guest or None,
                taints=[gcp.container.NodePoolNodeConfigTaintArgs(key=t.key, value=t.value, effect=_EFFECTS[t.effect])
                        for t in pool.taints],
                service_account=args.service_account,
                oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
                workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
                shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True),
                metadata={"disable-legacy-endpoints": "true"}),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                        ignore_changes=["initialNodeCount"]))
        self.pool_name = self.pool.name
        self.register_outputs({"poolName": self.pool_name, "machineType": self.machine_type})
