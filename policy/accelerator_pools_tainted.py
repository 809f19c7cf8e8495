"""accelerator-pools-tainted: GPU, Neuron and TPU node pools carry their NoSchedule taint.

Without the taint, any pod lands on (and blocks) expensive accelerator nodes. Taints follow
docs/conventions.md: ``nvidia.com/gpu=present``, ``aws.amazon.com/neuron=present``,
``google.com/tpu=present``, effect ``NO_SCHEDULE``.
"""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from policy._common import EKS_NODEGROUP, GKE_NODEPOOL, Unknown, get, plain, resource_policy
from policy._common import no_schedule as _no_schedule

NAME = "accelerator-pools-tainted"
GPU, NEURON, TPU = "nvidia.com/gpu", "aws.amazon.com/neuron", "google.com/tpu"
# Accelerated instance families (instance-type naming, not places).
_AWS_GPU = re.compile(r"^(p\d|g\d|gr\d)[a-z0-9-]*\.")
_AWS_NEURON = re.compile(r"^(inf\d|trn\d)[a-z0-9-]*\.")
_GCP_GPU = re.compile(r"^(a2|a3|a4|g2|g4)-")
_GCP_TPU = re.compile(r"^(ct\d|tpu)")


def _aws_accelerator(props: dict) -> object:
    types = get(props, "instanceTypes", default=[])
    ami = get(props, "amiType", default="")
    if isinstance(types, Unknown) or isinstance(ami, Unknown):
        return Unknown("instanceTypes")
    ami = str(ami).upper()
    if "NEURON" in ami or any(isinstance(t, str) and _AWS_NEURON.match(t) for t in types):
        return NEURON
    if "NVIDIA" in ami or "GPU" in ami or any(isinstance(t, str) and _AWS_GPU.match(t) for t in types):
        return GPU
    if any(isinstance(t, Unknown) for t in types):
        return Unknown("instanceTypes")
    return None


def _gcp_accelerator(props: dict) -> object:
    machine = get(props, "nodeConfig", "machineType", default="")
    guests = get(props, "nodeConfig", "guestAccelerators", default=[])
    if isinstance(machine, Unknown) or isinstance(guests, Unknown):
        return Unknown("nodeConfig")
    if _GCP_TPU.match(str(machine)):
        return TPU
    if guests or _GCP_GPU.match(str(machine)):
        return GPU
    return None


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == EKS_NODEGROUP:
        props = plain(args.props)
        accelerator = _aws_accelerator(props)
        taints = get(props, "taints", default=[])
    elif args.resource_type == GKE_NODEPOOL:
        props = plain(args.props)
        accelerator = _gcp_accelerator(props)
        taints = get(props, "nodeConfig", "taints", default=[])
    else:
        return
    if isinstance(accelerator, Unknown):
        report_violation("cannot tell during preview whether the pool has accelerators (instance type is unknown)",
                         None)
        return
    if accelerator is None:
        return
    if isinstance(taints, Unknown):
        report_violation(f"cannot verify the pool's taints during preview; it needs {accelerator}=present:NO_SCHEDULE",
                         None)
        return
    for taint in taints:
        if isinstance(taint, dict) and taint.get("key") == accelerator and taint.get("value") == "present" \
                and _no_schedule(taint.get("effect")):
            return
    report_violation(f"accelerator pool is not tainted {accelerator}=present:NO_SCHEDULE, so any pod can be "
                     "scheduled onto its accelerator nodes", None)


POLICY = resource_policy(
    name=NAME,
    description="Accelerator (GPU, Neuron, TPU) node pools are tainted NoSchedule.",
    severity=Severity.MEDIUM,
    rule="docs/conventions.md 'Kubernetes placement': accelerator pools are tainted NoSchedule",
    validate=validate,
    remediation="Add the taint {key: nvidia.com/gpu | aws.amazon.com/neuron | google.com/tpu, value: present, "
                "effect: NO_SCHEDULE} to the pool and a matching toleration to the workloads meant for it.",
    tags=["kubernetes", "accelerators", "cost"],
)
