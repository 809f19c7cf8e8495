"""``python -m optimizer preview --stack <name> [--json]``: what ``pulumi up`` would create, offline."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from deploy.preview import OfflineRun, RegisteredResource, run_offline
from optimizer.errors import OptimizerError

__all__ = ["describe", "key_inputs", "location", "preview_command", "preview_json"]

# type token -> input paths worth showing (dotted; "[]" maps over a list)
_KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "aws:eks/nodeGroup:NodeGroup": ("instanceTypes", "amiType", "capacityType", "scalingConfig", "taints[].key"),
    "aws:eks/cluster:Cluster": ("version", "vpcConfig.endpointPublicAccess"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("metadataOptions.httpTokens",),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock",),
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        ("rules[].applyServerSideEncryptionByDefault.sseAlgorithm",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("policyArn",),
    "gcp:container/cluster:Cluster": ("location", "releaseChannel.channel"),
    "gcp:container/nodePool:NodePool": ("nodeConfig.machineType", "nodeConfig.spot",
                                        "nodeConfig.guestAccelerators[].type", "placementPolicy.tpuTopology",
                                        "autoscaling"),
    "gcp:storage/bucket:Bucket": ("name", "location", "publicAccessPrevention"),
    "gcp:compute/subnetwork:Subnetwork": ("ipCidrRange",),
    "kubernetes:helm.sh/v3:Release": ("chart", "version"),
}


def _get(value: Any, path: str) -> Any:
    for index, part in enumerate(path.split(".")):
        if part.endswith("[]"):
            items = (value or {}).get(part[:-2]) if isinstance(value, dict) else None
            rest = ".".join(path.split(".")[index + 1:])
            return [(_get(item, rest) if rest else item) for item in (items or [])]
        value = value.get(part) if isinstance(value, dict) else None
    return value


def key_inputs(resource: RegisteredResource) -> dict[str, Any]:
    """The inputs that matter for a review of this resource type."""
    inputs = resource.inputs
    if resource.type.startswith("kubernetes:") and "metadata" in inputs:
        meta = inputs.get("metadata") or {}
        shown: dict[str, Any] = {"namespace": meta.get("namespace")} if meta.get("namespace") else {}
        spec = inputs.get("spec") or {}
        selector = (_get(spec, "predictor.nodeSelector") or _get(spec, "template.spec.nodeSelector")
                    or _get(spec, "jobTemplate.spec.template.spec.nodeSelector"))
        if selector:
            shown["pool"] = selector.get("aiinfra.dev/pool")
        if "numNodes" in (spec.get("trainer") or {}):
            shown["numNodes"] = spec["trainer"]["numNodes"]
        if "schedule" in spec:
            shown["schedule"] = spec["schedule"]
        if "hard" in spec:
            shown["hard"] = spec["hard"]
        return shown
    if not resource.custom:
        return {}
    paths = _KEY_INPUTS.get(resource.type, ())
    shown = {path.replace("[]", ""): _get(inputs, path) for path in paths}
    return {k: v for k, v in shown.items() if v not in (None, [], {})}


def location(resource: RegisteredResource, run: OfflineRun) -> str:
    """Region (aws/gcp) or cluster (kubernetes) the resource is created in, from its explicit provider."""
    provider = run.provider_resource(resource)
    if resource.type.startswith("pulumi:providers:"):
        provider = resource
    if provider is None:
        return "-" if not resource.custom else "DEFAULT PROVIDER"
    inputs = provider.inputs
    if provider.type == "pulumi:providers:kubernetes":
        return f"cluster {inputs.get('clusterIdentifier') or provider.name}"
    if provider.type == "pulumi:providers:gcp":
        return f"gcp {inputs.get('region')} ({inputs.get('project')})"
    return f"{provider.type.rsplit(':', 1)[1]} {inputs.get('region', '')}".strip()


def describe(run: OfflineRun) -> dict[str, Any]:
    """The preview as plain data (what --json prints)."""
    resources = []
    counts: Counter[str] = Counter()
    for resource in run.resources:
        where = location(resource, run)
        if resource.custom:  # providers count under the region/cluster they configure
            counts[where] += 1
        resources.append({"type": resource.type, "name": resource.name, "where": where, "custom": resource.custom,
                          "parent": resource.parent, "keyInputs": key_inputs(resource)})
    outputs = {name: ("[secret]" if name in run.secret_outputs else value) for name, value in run.outputs.items()}
    custom = [r for r in run.resources if r.custom]
    return {"stack": run.stack, "planHash": run.plan.content_hash or _hash(run), "resources": resources,
            "resourceCount": len(custom), "componentCount": len(run.resources) - len(custom),
            "countsByProvider": dict(sorted(counts.items())), "outputs": outputs,
            "monthlyCostUsd": run.plan.total_usd_per_month}


def _hash(run: OfflineRun) -> str:
    return json.loads(run.plan.canonical_json())["content_hash"]


def preview_json(run: OfflineRun) -> str:
    return json.dumps(describe(run), indent=2, sort_keys=True, default=str)


def _render(run: OfflineRun, console: Console) -> None:
    data = describe(run)
    tree = Tree(f"[bold]stack {escape(run.stack)}[/] - what `pulumi up` would create (offline, mock engine)")
    entries = {r.urn: (r, e) for r, e in zip(run.resources, data["resources"])}
    children: dict[str | None, list[str]] = {}
    for urn, (resource, _) in entries.items():
        parent = resource.parent if resource.parent in entries else None
        children.setdefault(parent, []).append(urn)

    def add(node: Tree, parent: str | None) -> None:
        for urn in sorted(children.get(parent, []), key=lambda u: (entries[u][0].custom, entries[u][0].type,
                                                                   entries[u][0].name)):
            resource, entry = entries[urn]
            inputs = ", ".join(f"{k}={v}" for k, v in entry["keyInputs"].items())
            if resource.custom:
                label = f"{escape(resource.type)} {escape(resource.name)}  [dim]{escape(entry['where'])}[/]"
            else:
                label = f"[bold cyan]{escape(resource.type)}[/] {escape(resource.name)}"
            if inputs:
                label += f"  [green]{escape(inputs)}[/]"
            add(node.add(label), urn)

    add(tree, None)
    console.print(tree)
    table = Table(title="Resources per provider")
    table.add_column("provider (region / cluster)")
    table.add_column("resources", justify="right")
    for where, count in data["countsByProvider"].items():
        table.add_row(escape(where), str(count))
    table.add_row("[bold]total[/]", f"[bold]{data['resourceCount']}[/]")
    console.print(table)
    console.print(f"{data['componentCount']} components; plan {data['planHash'][:19]}, "
                  f"${data['monthlyCostUsd']:,.2f}/month", highlight=False)


def preview_command(stack: str, json_output: bool) -> int:
    """Print the offline preview of ``stack``; 0 ok, 2 invalid stack/config/estate, 3 infeasible, 1 unexpected."""
    try:
        run = run_offline(stack)
    except OptimizerError as error:
        sys.stderr.write(f"error: {error}\n")
        return error.exit_code
    if json_output:
        sys.stdout.write(preview_json(run) + "\n")
    else:
        _render(run, Console(width=None if sys.stdout.isatty() else 200))
    return 0
