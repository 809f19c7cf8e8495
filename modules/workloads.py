"""One planned workload on its cluster: a Kubeflow job, a KServe/Triton service or a preprocessing CronJob.

Every pod is bound to the planned node pool (``aiinfra.dev/pool`` selector) and tolerates exactly the
taints of that pool: the accelerator taint, and the spot taint only for checkpointing workloads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from modules.common import (ACCELERATOR_TAINTS, POOL_LABEL, SPOT_TAINT, AcceleratorKind, Labels,
                            accelerator_resource, tpu_slice)

__all__ = ["Workload", "WorkloadArgs", "WorkloadSpec", "TRITON_IMAGE", "cron_schedule"]

TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:24.07-py3"
TRAINING_RUNTIMES = {"nvidia": "torch-distributed", "neuron": "torch-distributed", "tpu": "jax-distributed",
                     None: "torch-distributed"}
PATCH_MANAGER = "aiinfra.dev/pulumi"


def cron_schedule(runs_per_month: float, name: str) -> str:
    """A cron schedule giving about ``runs_per_month`` runs, at a stable per-workload minute."""
    minute = sum(map(ord, name)) % 60
    runs = max(1, round(runs_per_month))
    if runs >= 28:  # daily or more often: spread the runs over the day
        per_day = min(24, max(1, round(runs / 30)))
        hours = ",".join(str(h) for h in range(0, 24, 24 // per_day)[:per_day])
        return f"{minute} {hours} * * *"
    days = ",".join(str(1 + (i * 28) // runs) for i in range(runs))
    return f"{minute} 2 {days} * *"


@dataclass(frozen=True)
class WorkloadSpec:
    """The plan's placement of one workload, joined with the estate's per-run size."""

    name: str
    """workload name (object names, the workload label)."""
    kind: Literal["training", "inference", "preprocessing", "tuning"]
    """decides the Kubernetes object."""
    team: str
    """namespace (one per team)."""
    labels: Labels
    """policy labels of every object."""
    pool: str
    """node pool the plan chose (value of aiinfra.dev/pool)."""
    purchase: str
    """spot, on_demand or owned; spot needs checkpointing."""
    accelerator: AcceleratorKind | None
    """nvidia / neuron / tpu / None."""
    accelerators_per_node: int
    """devices per node (TPU: chips per slice)."""
    nodes: int
    """nodes the plan runs at once (inference: all replicas)."""
    replicas: int
    """inference replicas (1 for batch)."""
    vcpus: float
    """vCPUs per run (training) or per replica (inference), from the estate."""
    memory_gib: float
    """memory per run / per replica, from the estate."""
    checkpointing: bool
    """resumable: may run on spot, gets a checkpoint volume."""
    runs_per_month: float = 1.0
    """preprocessing schedule."""
    image: str = ""
    """training / preprocessing container image."""
    model_uri: pulumi.Input[str] | None = None
    """model repository for inference (s3://, gs:// or pvc://)."""
    tpu_instance_type: str | None = None
    """TPU slice name for TPU workloads (selects accelerator + topology)."""
    max_replicas: int | None = None
    """inference autoscaling ceiling (defaults to replicas)."""
    min_replicas: int | None = None
    """inference autoscaling floor: the forecast demand trough (defaults to replicas: no scale-in)."""
    checkpoint_gib: int = 200
    """size of the checkpoint volume."""

    @property
    def per_node_cpu(self) -> float:
        if self.kind == "inference":
            return self.vcpus
        return self.vcpus / max(self.nodes, 1)

    @property
    def per_node_memory_gib(self) -> float:
        if self.kind == "inference":
            return self.memory_gib
        return self.memory_gib / max(self.nodes, 1)

    @property
    def devices_per_pod(self) -> int:
        if not self.accelerator:
            return 0
        if self.kind == "inference":
            return max(1, (self.accelerators_per_node * self.nodes) // max(self.replicas, 1))
        if self.accelerator == "tpu":
            return 4 if self.accelerators_per_node >= 4 else self.accelerators_per_node
        return self.accelerators_per_node

    def node_selector(self) -> dict[str, str]:
        selector = {POOL_LABEL: self.pool}
        if self.tpu_instance_type:
            tpu = tpu_slice(self.tpu_instance_type)
            selector["cloud.google.com/gke-tpu-accelerator"] = tpu.accelerator_label
            selector["cloud.google.com/gke-tpu-topology"] = tpu.topology
        return selector

    def tolerations(self) -> list[dict[str, str]]:
        tolerations = []
        if self.accelerator:
            tolerations.append(ACCELERATOR_TAINTS[self.accelerator].toleration())
        if self.purchase == "spot":
            tolerations.append(SPOT_TAINT.toleration())
        return tolerations

    def resources(self) -> dict[str, dict[str, str]]:
        cpu = f"{max(math.floor(self.per_node_cpu * 900), 100)}m"  # leave ~10% for daemonsets
        memory = f"{max(math.floor(self.per_node_memory_gib * 0.9 * 1024), 256)}Mi"
        requests = {"cpu": cpu, "memory": memory}
        limits = {"memory": memory}
        resource = accelerator_resource(self.accelerator)
        if resource and self.devices_per_pod:
            requests[resource] = limits[resource] = str(self.devices_per_pod)
        return {"requests": requests, "limits": limits}


@dataclass(frozen=True)
class WorkloadArgs:
    """Where and how to run one workload."""

    cluster: str
    """cluster label (place)."""
    provider: k8s.Provider
    """explicit provider of the planned cluster."""
    spec: WorkloadSpec
    """what to run."""
    training_api: Literal["trainjob", "pytorchjob"] = "trainjob"
    """Kubeflow Trainer v2 TrainJob, or the v1 training operator's PyTorchJob."""
    inference_server: Literal["kserve", "triton"] = "kserve"
    """KServe InferenceService, or a plain Triton Deployment + Service + HPA."""
    runtime_class: str | None = None
    """RuntimeClass of GPU pods (k3s edge nodes: nvidia)."""
    depends_on: tuple[pulumi.Resource, ...] = field(default=())
    """namespaces / pools that must exist first."""


class Workload(pulumi.ComponentResource):
    """The Kubernetes objects of one workload, all bound to the planned pool.

    Outputs: ``objects`` (logical name -> resource), ``kind``.
    """

    objects: dict[str, pulumi.CustomResource]

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        spec = args.spec
        super().__init__("aiinfra:modules:Workload", name,
                         {"cluster": args.cluster, "kind": spec.kind, "pool": spec.pool, "purchase": spec.purchase,
                          "nodeSelector": spec.node_selector(), "tolerations": spec.tolerations(),
                          "labels": self._labels(spec)}, opts)
        if spec.purchase == "spot" and not spec.checkpointing:
            raise ValueError(f"workload {spec.name}: planned on spot but does not checkpoint. "
                             "To fix: set checkpointing: true in the estate or re-plan")
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        self.objects = {}
        if spec.kind in ("training", "tuning"):
            self._training(name, spec, args.training_api)
        elif spec.kind == "inference":
            if args.inference_server == "kserve":
                self._kserve(name, spec)
            else:
                self._triton(name, spec)
        else:
            self._preprocessing(name, spec)
        self.register_outputs({"kind": spec.kind, "objects": sorted(self.objects)})

    @staticmethod
    def _labels(spec: WorkloadSpec) -> dict[str, str]:
        return {**spec.labels.as_dict(), "checkpointing": str(spec.checkpointing).lower()}

    def _meta(self, spec: WorkloadSpec, name: str, **extra: object) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=spec.team, labels=self._labels(spec), **extra)

    def _pod_labels(self, spec: WorkloadSpec) -> dict[str, str]:
        return {**self._labels(spec), "app": spec.name}

    def _volume(self, name: str, spec: WorkloadSpec, suffix: str, size_gib: int) -> str:
        claim = f"{spec.name}-{suffix}"
        self.objects[claim] = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-{suffix}", metadata=self._meta(spec, claim),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{size_gib}Gi"})),
            opts=self._child)
        return claim

    def _pod_spec_extras(self, spec: WorkloadSpec) -> dict[str, object]:
        extras: dict[str, object] = {"nodeSelector": spec.node_selector(), "tolerations": spec.tolerations()}
        if self._args.runtime_class and spec.accelerator == "nvidia":
            extras["runtimeClassName"] = self._args.runtime_class
        return extras

    def _container(self, spec: WorkloadSpec, name: str, image: str, mounts: list[dict[str, str]]) -> dict[str, object]:
        container: dict[str, object] = {"name": name, "image": image, "resources": spec.resources(),
                                        "env": [{"name": "WORKLOAD", "value": spec.name}]}
        if mounts:
            container["volumeMounts"] = mounts
        return container

    # -- training / tuning ------------------------------------------------------------------
    def _training(self, name: str, spec: WorkloadSpec, api: str) -> None:
        volumes, mounts = [], []
        if spec.checkpointing:
            claim = self._volume(name, spec, "checkpoints", spec.checkpoint_gib)
            volumes = [{"name": "checkpoints", "persistentVolumeClaim": {"claimName": claim}}]
            mounts = [{"name": "checkpoints", "mountPath": "/checkpoints"}]
        pod = {**self._pod_spec_extras(spec), **({"volumes": volumes} if volumes else {})}
        if api == "trainjob":
            trainer: dict[str, object] = {
                "image": spec.image, "numNodes": spec.nodes, "resourcesPerNode": spec.resources(),
                "env": [{"name": "CHECKPOINT_DIR", "value": "/checkpoints" if spec.checkpointing else ""}]}
            body = {
                "runtimeRef": {"name": TRAINING_RUNTIMES[spec.accelerator]},
                "trainer": trainer,
                "runtimePatches": [{"manager": PATCH_MANAGER, "trainingRuntimeSpec": {"template": {"spec": {
                    "replicatedJobs": [{"name": "node", "template": {"spec": {"template": {
                        "metadata": {"labels": self._pod_labels(spec)},
                        "spec": {**pod, **({"containers": [{"name": "node", "volumeMounts": mounts}]} if mounts else {})},
                    }}}}]}}}}],
            }
            self.objects[spec.name] = k8s.apiextensions.CustomResource(
                f"{name}-trainjob", api_version="trainer.kubeflow.org/v1alpha1", kind="TrainJob",
                metadata=self._meta(spec, spec.name), spec=body, opts=self._child)
            return
        template = {"metadata": {"labels": self._pod_labels(spec)},
                    "spec": {**pod, "containers": [self._container(spec, "pytorch", spec.image, mounts)]}}
        replicas = {"Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": template}}
        if spec.nodes > 1:
            replicas["Worker"] = {"replicas": spec.nodes - 1, "restartPolicy": "OnFailure", "template": template}
        self.objects[spec.name] = k8s.apiextensions.CustomResource(
            f"{name}-pytorchjob", api_version="kubeflow.org/v1", kind="PyTorchJob",
            metadata=self._meta(spec, spec.name),
            spec={"pytorchReplicaSpecs": replicas, "runPolicy": {"cleanPodPolicy": "None"}}, opts=self._child)

    # -- inference --------------------------------------------------------------------------
    def _model_uri(self, name: str, spec: WorkloadSpec) -> pulumi.Input[str]:
        if spec.model_uri is None:
            claim = self._volume(name, spec, "models", 100)
            return f"pvc://{claim}/"
        return spec.model_uri

    def _max_replicas(self, spec: WorkloadSpec) -> int:
        return max(spec.max_replicas or spec.replicas, spec.replicas)

    def _kserve(self, name: str, spec: WorkloadSpec) -> None:
        predictor: dict[str, object] = {
            **self._pod_spec_extras(spec), "minReplicas": min(spec.min_replicas or spec.replicas, spec.replicas), "maxReplicas": self._max_replicas(spec),
            "labels": self._pod_labels(spec),
            "model": {"modelFormat": {"name": "triton"}, "runtime": "kserve-tritonserver", "protocolVersion": "v2",
                      "storageUri": self._model_uri(name, spec), "resources": spec.resources()}}
        self.objects[spec.name] = k8s.apiextensions.CustomResource(
            f"{name}-isvc", api_version="serving.kserve.io/v1beta1", kind="InferenceService",
            metadata=self._meta(spec, spec.name, annotations={"serving.kserve.io/deploymentMode": "Standard"}),
            spec={"predictor": predictor}, opts=self._child)

    def _triton(self, name: str, spec: WorkloadSpec) -> None:
        uri = self._model_uri(name, spec)
        mounts, volumes = [], []
        repository: pulumi.Input[str] = uri
        if isinstance(uri, str) and uri.startswith("pvc://"):
            claim = uri[len("pvc://"):].strip("/")
            volumes = [{"name": "models", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}]
            mounts = [{"name": "models", "mountPath": "/models", "readOnly": True}]
            repository = "/models"
        probe = lambda path, **extra: {"httpGet": {"path": path, "port": "http"}, **extra}  # noqa: E731
        container = {
            **self._container(spec, "triton", TRITON_IMAGE, mounts),
            "args": [pulumi.Output.concat("tritonserver --model-repository=", repository)],
            "command": ["/bin/sh", "-c"],
            "ports": [{"name": "http", "containerPort": 8000}, {"name": "grpc", "containerPort": 8001},
                      {"name": "metrics", "containerPort": 8002}],
            "livenessProbe": probe("/v2/health/live"), "readinessProbe": probe("/v2/health/ready"),
            "startupProbe": probe("/v2/health/ready", failureThreshold=30, periodSeconds=10),
            "securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "allowPrivilegeEscalation": False},
        }
        pod_spec = {**self._pod_spec_extras(spec), "containers": [container], **({"volumes": volumes} if volumes else {})}
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deploy", metadata=self._meta(spec, spec.name),
            spec={"replicas": spec.replicas, "selector": {"matchLabels": {"app": spec.name}},
                  "template": {"metadata": {"labels": self._pod_labels(spec)}, "spec": pod_spec}},
            opts=self._child)
        self.objects[spec.name] = deployment
        self.objects[f"{spec.name}-svc"] = k8s.core.v1.Service(
            f"{name}-svc", metadata=self._meta(spec, spec.name),
            spec={"selector": {"app": spec.name}, "ports": [
                {"name": "http", "port": 8000, "targetPort": "http"}, {"name": "grpc", "port": 8001, "targetPort": "grpc"},
                {"name": "metrics", "port": 8002, "targetPort": "metrics"}]},
            opts=self._child)
        self.objects[f"{spec.name}-hpa"] = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa", metadata=self._meta(spec, spec.name),
            spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
                  "minReplicas": min(spec.min_replicas or spec.replicas, spec.replicas), "maxReplicas": self._max_replicas(spec),
                  "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                      "type": "Utilization", "averageUtilization": 70}}}]},
            opts=self._child)

    # -- preprocessing ----------------------------------------------------------------------
    def _preprocessing(self, name: str, spec: WorkloadSpec) -> None:
        volumes, mounts = [], []
        if spec.checkpointing:
            claim = self._volume(name, spec, "checkpoints", spec.checkpoint_gib)
            volumes = [{"name": "checkpoints", "persistentVolumeClaim": {"claimName": claim}}]
            mounts = [{"name": "checkpoints", "mountPath": "/checkpoints"}]
        container = self._container(spec, "preprocess", spec.image, mounts)
        pod_spec = {**self._pod_spec_extras(spec), "restartPolicy": "OnFailure", "containers": [container],
                    **({"volumes": volumes} if volumes else {})}
        self.objects[spec.name] = k8s.batch.v1.CronJob(
            f"{name}-cron", metadata=self._meta(spec, spec.name),
            spec={"schedule": cron_schedule(spec.runs_per_month, spec.name), "concurrencyPolicy": "Forbid",
                  "jobTemplate": {"metadata": {"labels": self._pod_labels(spec)}, "spec": {
                      "completionMode": "Indexed", "completions": spec.nodes, "parallelism": spec.nodes,
                      "backoffLimit": 20 if spec.purchase == "spot" else 4,
                      "template": {"metadata": {"labels": self._pod_labels(spec)}, "spec": pod_spec}}}},
            opts=self._child)

