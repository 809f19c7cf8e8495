"""A dataset replica the plan decided on: the target store and the scheduled sync that keeps it fresh."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from modules.common import Labels, slug
from modules.workloads import cron_schedule

__all__ = ["DatasetReplica", "DatasetReplicaArgs", "RCLONE_IMAGE"]

RCLONE_IMAGE = "rclone/rclone:1.68.2"


@dataclass(frozen=True)
class DatasetReplicaArgs:
    """One planned copy (plan.dataset_copies entry), already checked against the data-class rules."""

    dataset: str
    """dataset name."""
    source: str
    """place the dataset lives (rclone remote named after the place's slug)."""
    target: str
    """place of the replica."""
    size_gb: float
    """dataset size: sizes the PVC on private targets."""
    updates_per_month: float
    """refreshes per month: the sync schedule."""
    labels: Labels
    """policy labels (data class of the dataset)."""
    namespace: str
    """namespace of the readers at the target (the sync runs there)."""
    provider: k8s.Provider
    """explicit provider of the target's cluster."""
    target_url: pulumi.Input[str] | None = None
    """bucket URL on cloud targets; None on private sites (a PVC is created)."""


class DatasetReplica(pulumi.ComponentResource):
    """PVC (private targets) + ``rclone sync`` CronJob from the source remote (credentials: Secret ``rclone-remotes``).

    Outputs: ``target`` (URL or pvc://), ``schedule``.
    """

    target: pulumi.Output[str]
    schedule: str

    def __init__(self, name: str, args: DatasetReplicaArgs, opts: pulumi.ResourceOptions | None = None):
        self.schedule = cron_schedule(args.updates_per_month, args.dataset)
        super().__init__("aiinfra:modules:DatasetReplica", name,
                         {"dataset": args.dataset, "source": args.source, "targetPlace": args.target,
                          "cron": self.schedule, "labels": args.labels.as_dict()}, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        labels = args.labels.as_dict()
        meta = lambda n: k8s.meta.v1.ObjectMetaArgs(name=n, namespace=args.namespace, labels=labels)  # noqa: E731
        volumes, mounts = [{"name": "remotes", "secret": {"secretName": "rclone-remotes"}}], \
            [{"name": "remotes", "mountPath": "/config/rclone", "readOnly": True}]
        if args.target_url is None:
            claim = f"dataset-{args.dataset}"
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-pvc", metadata=meta(claim),
                spec={"accessModes": ["ReadWriteMany"],
                      "resources": {"requests": {"storage": f"{math.ceil(args.size_gb * 1.1)}Gi"}}}, opts=child)
            volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": claim}})
            mounts.append({"name": "data", "mountPath": "/data"})
            destination: pulumi.Input[str] = f"/data/{args.dataset}"
            self.target = pulumi.Output.from_input(f"pvc://{claim}/{args.dataset}")
        else:
            destination = pulumi.Output.concat(args.target_url, f"/datasets/{args.dataset}")
            self.target = pulumi.Output.from_input(destination)
        k8s.batch.v1.CronJob(
            f"{name}-sync", metadata=meta(f"sync-{args.dataset}"),
            spec={"schedule": self.schedule, "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": {
                "backoffLimit": 6, "template": {"metadata": {"labels": labels}, "spec": {
                    "restartPolicy": "OnFailure", "volumes": volumes,
                    "containers": [{"name": "rclone", "image": RCLONE_IMAGE, "volumeMounts": mounts,
                                    "args": ["sync", f"{slug(args.source)}:datasets/{args.dataset}", destination,
                                             "--checksum", "--transfers", "16"],
                                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                                                  "limits": {"memory": "2Gi"}}}]}}}}},
            opts=child)
        self.register_outputs({"target": self.target, "schedule": self.schedule})
