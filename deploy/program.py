"""The program builder: one plan in, the components that provision it out. Pure wiring, no module-level resources.

Per cloud place (``aws:<region>`` / ``gcp:<region>``): an explicit provider, the network, the cluster
with one node pool per (instance type, purchase option) plus a small system pool, team namespaces
with quotas, device plugins, one bucket per data class processed there, and the workloads.
Per on-prem site: the private cluster (provider from the secret kubeconfig), namespaces, quotas,
device plugin, workloads. Per edge site: the edge fleet with its inference servers.
Dataset replicas only where the plan put them and the data class allows the target.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from deploy.config import NAMESPACE, StackConfig, StackConfigError
from modules.common import (Labels, NodePoolSpec, accelerator_kind, accelerator_resource, pool_name, slug)
from modules.dataset_replica import DatasetReplica, DatasetReplicaArgs
from modules.device_plugins import DevicePlugins, DevicePluginsArgs
from modules.edge_fleet import EdgeFleet, EdgeFleetArgs
from modules.eks_cluster import EksCluster, EksClusterArgs
from modules.gke_cluster import GkeCluster, GkeClusterArgs
from modules.network_aws import AwsNetwork, AwsNetworkArgs
from modules.network_gcp import GcpNetwork, GcpNetworkArgs
from modules.object_storage import ObjectStorage, ObjectStorageArgs
from modules.onprem_cluster import OnPremCluster, OnPremClusterArgs
from modules.reoptimizer_cronjob import ReoptimizerCronJob, ReoptimizerCronJobArgs
from modules.team_namespaces import TeamNamespaces, TeamNamespacesArgs, TeamQuota
from modules.workloads import Workload, WorkloadArgs, WorkloadSpec
from optimizer.estate import LoadedEstate
from optimizer.model import Estate
from optimizer.model import Workload as EstateWorkload
from optimizer.plan import Placement, Plan

__all__ = ["Built", "SYSTEM_POOLS", "build", "deployed_placements", "node_pools", "team_quotas", "workload_spec"]

# Small on-demand CPU pool per cluster for system pods (CoreDNS, operators, device-plugin controllers):
# every planned pool is tainted or may scale to zero.
SYSTEM_POOLS = {"aws": "m6i.large", "gcp": "e2-standard-4"}


@dataclass
class Built:
    """What ``build`` created, for tests and the preview (components by place)."""

    clusters: dict[str, pulumi.ComponentResource]
    providers: dict[str, pulumi.ProviderResource]
    workloads: dict[str, Workload]
    buckets: dict[tuple[str, str], ObjectStorage]
    replicas: dict[str, DatasetReplica]
    outputs: dict[str, object]
    reoptimizer: ReoptimizerCronJob | None = None


def node_pools(placements: list[Placement], cloud: str, headroom: StackConfig) -> tuple[NodePoolSpec, ...]:
    """One pool per (instance type, purchase option) at a cloud place, plus the system pool.

    Always-on inference nodes set min and desired; batch nodes only raise the ceiling (they scale
    from zero). The ceiling is the sum of both, plus the stack's autoscaling headroom.
    """
    groups: dict[str, list[Placement]] = defaultdict(list)
    for placement in placements:
        if placement.purchase == "owned":
            raise ValueError(f"{placement.workload}: 'owned' capacity planned on cloud place {placement.place}")
        groups[pool_name(placement.instance_type, placement.purchase)].append(placement)
    system = pool_name(SYSTEM_POOLS[cloud], "on_demand")
    pools = []
    for name, members in sorted(groups.items()):
        first = members[0]
        always_on = sum(p.nodes for p in members if p.kind == "inference")
        batch = sum(p.nodes for p in members if p.kind != "inference")
        floor = max(always_on, 1) if name == system else always_on
        pools.append(NodePoolSpec(
            name=name, instance_type=first.instance_type, purchase=first.purchase, accelerator=first.accelerator,
            accelerators_per_node=first.accelerators_per_node, min_nodes=floor, desired_nodes=floor,
            max_nodes=max(headroom.max_with_headroom(always_on + batch), floor + (1 if name == system else 0), 1),
            workloads=tuple(sorted(p.workload for p in members))))
    if system not in groups:
        pools.append(NodePoolSpec(name=system, instance_type=SYSTEM_POOLS[cloud], purchase="on_demand",
                                  accelerator=None, accelerators_per_node=0, min_nodes=1, desired_nodes=2,
                                  max_nodes=3))
    return tuple(pools)


def sizing(placement: Placement, estate: Estate) -> EstateWorkload:
    """The estate workload that sizes a placement; a federated trainer or aggregator is sized like
    the workload it was expanded from (the aggregator with the federation's own vCPUs and memory)."""
    workload = next((w for w in estate.workloads if w.name == placement.workload), None)
    if workload is not None:
        return workload
    origin = next(w for w in estate.workloads if w.name == placement.federated_of)
    if placement.federated_role == "aggregator" and origin.federation is not None:
        return origin.model_copy(update={"vcpus": origin.federation.aggregator_vcpus,
                                         "memory_gib": origin.federation.aggregator_memory_gib})
    return origin


def team_quotas(placements: list[Placement], estate: Estate) -> tuple[TeamQuota, ...]:
    """Per team: vCPU, memory and accelerators of its workloads at one place, all running at once."""
    totals: dict[str, dict[str, object]] = {}
    for placement in placements:
        workload = sizing(placement, estate)
        per = placement.replicas if placement.kind == "inference" else 1
        team = totals.setdefault(placement.team, {"cost_centre": placement.cost_centre, "classes": set(),
                                                  "cpu": 0.0, "memory": 0.0, "acc": defaultdict(int)})
        team["classes"].update(placement.data_classes)  # type: ignore[union-attr]
        team["cpu"] += workload.vcpus * per  # type: ignore[operator]
        team["memory"] += workload.memory_gib * per  # type: ignore[operator]
        resource = accelerator_resource(accelerator_kind(placement.accelerator))
        if resource:
            team["acc"][resource] += placement.accelerators_per_node * placement.nodes  # type: ignore[index]
    return tuple(TeamQuota(team=name, cost_centre=str(t["cost_centre"]), data_classes=tuple(sorted(t["classes"])),
                           cpu=float(t["cpu"]), memory_gib=float(t["memory"]), accelerators=dict(t["acc"]))
                 for name, t in sorted(totals.items()))


def workload_spec(placement: Placement, estate: Estate, config: StackConfig,
                  model_uri: pulumi.Input[str] | None = None) -> WorkloadSpec:
    """The plan's placement joined with the estate's per-run size and the stack's choices."""
    workload = sizing(placement, estate)
    kind = accelerator_kind(placement.accelerator)
    site = next((s for s in placement.serving_sites if s.place == placement.place), None)
    return WorkloadSpec(
        name=placement.workload, kind=placement.kind, team=placement.team,
        labels=Labels(environment=config.environment, workload=placement.workload,
                      data_classes=tuple(placement.data_classes), team=placement.team,
                      cost_centre=placement.cost_centre),
        pool=pool_name(placement.instance_type, placement.purchase), purchase=placement.purchase,
        accelerator=kind, accelerators_per_node=placement.accelerators_per_node, nodes=placement.nodes,
        replicas=placement.replicas, vcpus=workload.vcpus, memory_gib=workload.memory_gib,
        checkpointing=placement.checkpointing, runs_per_month=workload.runs_per_month,
        image=f"{config.image_registry}/{placement.team}/{placement.workload}:{config.environment}",
        model_uri=model_uri, tpu_instance_type=placement.instance_type if kind == "tpu" else None,
        max_replicas=config.max_with_headroom(placement.replicas) if placement.kind == "inference" else None,
        min_replicas=site.min_replicas if site is not None else None)


def deployed_placements(plan: Plan) -> list[tuple[Placement, str]]:
    """(placement, component suffix) per place a workload runs at.

    A multi-site inference service (``serving_sites``) becomes one placement per serving site; the
    first site keeps the plain name, the others are suffixed with their place.
    """
    result: list[tuple[Placement, str]] = []
    for placement in plan.placements:
        sites = getattr(placement, "serving_sites", None) or []
        if len(sites) <= 1:
            result.append((placement, ""))
            continue
        for site in sites:
            update = {field: getattr(site, field) for field in (
                "place", "site_kind", "cloud", "region", "jurisdiction", "instance_type", "purchase", "accelerator",
                "accelerators_per_node", "nodes", "replicas")}
            suffix = "" if site.place == placement.place else f"-{slug(site.place)}"
            result.append((placement.model_copy(update=update), suffix))
    return result


def _bucket_name(estate: str, environment: str, region: str, data_class: str) -> str:
    name = f"{slug(estate)[:16]}-{environment}-{region}-{data_class}"
    if len(name) > 63:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[:54]}-{digest}"
    return name.strip("-")


def build(config: StackConfig, loaded_estate: LoadedEstate, plan: Plan) -> Built:
    """Create every component the plan needs and export the stack outputs."""
    estate, rules = loaded_estate.estate, loaded_estate.rules
    env = config.environment
    shared = Labels(environment=env)
    by_place: dict[str, list[Placement]] = defaultdict(list)
    suffixes: dict[tuple[str, str], str] = {}
    for placement, suffix in deployed_placements(plan):
        by_place[placement.place].append(placement)
        suffixes[(placement.workload, placement.place)] = suffix
    jurisdiction = {p.place: p.jurisdiction for ps in by_place.values() for p in ps}
    for site in [*estate.onprem, *estate.edge]:
        jurisdiction.setdefault(site.name, site.jurisdiction)
    if any(p.cloud == "gcp" for ps in by_place.values() for p in ps) and not config.gcp_project:
        raise StackConfigError(config.stack_file, [(f"{NAMESPACE}:gcpProject", "is required: the plan places "
                                                    "workloads on GCP", "set it to the GCP project id")])

    built = Built(clusters={}, providers={}, workloads={}, buckets={}, replicas={}, outputs={})
    k8s_providers: dict[str, k8s.Provider] = {}
    cloud_providers: dict[str, aws.Provider | gcp.Provider] = {}
    namespaces: dict[str, dict[str, pulumi.Resource]] = {}
    endpoints: dict[str, pulumi.Output[str]] = {}
    kubeconfigs: dict[str, pulumi.Output[str]] = {}
    default_labels = {"environment": env, "managed-by": "aiinfra"}

    def bucket(place: str, data_class: str) -> ObjectStorage:
        key = (place, data_class)
        if key not in built.buckets:
            cloud, region = place.split(":", 1)
            if not rules.rule(data_class).allows(jurisdiction.get(place), onprem=False):
                raise ValueError(f"{data_class} data may not be stored in {place} "
                                 f"({rules.rule(data_class).regulation}). To fix: re-plan; the plan is inconsistent")
            built.buckets[key] = ObjectStorage(f"store-{slug(place)}-{data_class}", ObjectStorageArgs(
                cloud=cloud, region=region, provider=cloud_providers[place],  # type: ignore[arg-type]
                bucket_name=_bucket_name(estate.name, env, region, data_class), project=config.gcp_project,
                labels=Labels(environment=env, data_classes=(data_class,))))
        return built.buckets[key]

    for place in sorted(by_place):
        placements = by_place[place]
        first = placements[0]
        if first.site_kind == "cloud":
            cloud, region = str(first.cloud), str(first.region)
            pools = node_pools(placements, cloud, config)
            if cloud == "aws":
                provider = aws.Provider(f"aws-{region}", region=region,
                                        default_tags=aws.ProviderDefaultTagsArgs(tags=default_labels))
                network = AwsNetwork(f"net-{slug(place)}", AwsNetworkArgs(
                    region=region, provider=provider, labels=shared, nat_gateways=config.nat_gateways))
                cluster = EksCluster(f"eks-{region}", EksClusterArgs(
                    region=region, provider=provider, subnet_ids=network.private_subnet_ids, labels=shared,
                    node_pools=pools, version=config.kubernetes_version,
                    public_access_cidrs=config.api_allowed_cidrs, deletion_protection=config.deletion_protection))
                kinds = {pool.kind for pool in pools}
                if kinds & {"nvidia", "neuron"}:
                    DevicePlugins(f"plugins-{slug(place)}", DevicePluginsArgs(
                        cluster=place, provider=cluster.k8s_provider, labels=shared,
                        nvidia="nvidia" in kinds, neuron="neuron" in kinds))
            else:
                provider = gcp.Provider(f"gcp-{region}", project=config.gcp_project, region=region,
                                        default_labels=default_labels)
                net = GcpNetwork(f"net-{slug(place)}", GcpNetworkArgs(
                    project=str(config.gcp_project), region=region, provider=provider, labels=shared))
                cluster = GkeCluster(f"gke-{region}", GkeClusterArgs(
                    project=str(config.gcp_project), region=region, provider=provider, network_id=net.network_id,
                    subnetwork_id=net.subnetwork_id, pods_range=net.pods_range, services_range=net.services_range,
                    labels=shared, node_pools=pools, release_channel=config.gke_release_channel,
                    authorized_cidrs=config.api_allowed_cidrs, deletion_protection=config.deletion_protection))
            cloud_providers[place] = provider
            built.providers[place] = provider
            k8s_providers[place] = cluster.k8s_provider
            built.clusters[place] = cluster
            endpoints[place] = cluster.endpoint
            kubeconfigs[place] = cluster.kubeconfig
            teams = TeamNamespaces(f"teams-{slug(place)}", TeamNamespacesArgs(
                cluster=place, provider=cluster.k8s_provider, environment=env,
                teams=team_quotas(placements, estate)))
            namespaces[place] = dict(teams.namespaces)
            for placement in placements:
                model_uri = None
                if placement.kind == "inference":
                    store = bucket(place, (placement.data_classes or ["internal"])[0])
                    model_uri = store.url.apply(lambda url, w=placement.workload: f"{url}/models/{w}")
                else:
                    for data_class in placement.data_classes:
                        bucket(place, data_class)
                spec = workload_spec(placement, estate, config, model_uri)
                pool_components = cluster.node_pools if isinstance(cluster, GkeCluster) else cluster.node_groups
                suffix = suffixes[(placement.workload, place)]
                built.workloads[placement.workload + suffix] = Workload(f"wl-{placement.workload}{suffix}", WorkloadArgs(
                    cluster=place, provider=cluster.k8s_provider, spec=spec, training_api=config.training_api,
                    inference_server=config.inference_server,
                    depends_on=(namespaces[place][placement.team], pool_components[spec.pool])))
        elif first.site_kind == "onprem":
            site = estate.private_site(place)
            assert site is not None, place  # the plan only names sites of its estate
            inventory: dict[str, int] = defaultdict(int)
            for inv in site.accelerators:
                inventory[str(accelerator_resource(accelerator_kind(inv.type)))] += inv.count
            onprem = OnPremCluster(f"onprem-{place}", OnPremClusterArgs(
                site=place, kubeconfig=config.kubeconfig(place), environment=env,
                teams=team_quotas(placements, estate), inventory=dict(inventory),
                nvidia=any(accelerator_kind(i.type) == "nvidia" for i in site.accelerators)))
            built.clusters[place] = onprem
            k8s_providers[place] = onprem.k8s_provider
            namespaces[place] = dict(onprem.namespaces)
            for placement in placements:
                suffix = suffixes[(placement.workload, place)]
                built.workloads[placement.workload + suffix] = Workload(f"wl-{placement.workload}{suffix}", WorkloadArgs(
                    cluster=place, provider=onprem.k8s_provider, spec=workload_spec(placement, estate, config),
                    training_api=config.training_api, inference_server=config.inference_server,
                    depends_on=(onprem.namespaces[placement.team],)))
        else:
            site = estate.private_site(place)
            assert site is not None, place
            edge = EdgeFleet(f"edge-{place}", EdgeFleetArgs(
                site=place, kubeconfig=config.kubeconfig(place), environment=env,
                teams=team_quotas(placements, estate),
                services=tuple(workload_spec(p, estate, config) for p in placements),
                gpu_runtime=any(accelerator_kind(i.type) == "nvidia" for i in site.accelerators)))
            built.clusters[place] = edge
            k8s_providers[place] = edge.k8s_provider
            built.workloads.update({name + suffixes[(name, place)]: svc for name, svc in edge.services.items()})

    for copy in plan.dataset_copies:
        target_kind = "cloud" if copy.cloud else ("onprem" if any(s.name == copy.target for s in estate.onprem)
                                                  else "edge")
        rule = rules.rule(copy.data_class)
        if not rule.allows(jurisdiction.get(copy.target), onprem=target_kind == "onprem"):
            raise ValueError(f"plan copies {copy.dataset} ({copy.data_class}) to {copy.target}, which its rule "
                             f"forbids ({rule.regulation}). To fix: re-plan; the plan is inconsistent")
        if copy.target not in k8s_providers:
            raise ValueError(f"plan copies {copy.dataset} to {copy.target}, where nothing runs. To fix: re-plan")
        readers = sorted(p.team for p in by_place[copy.target] if copy.dataset in p.reads) or \
            sorted(p.team for p in by_place[copy.target])
        dataset = next(d for d in estate.datasets if d.name == copy.dataset)
        built.replicas[copy.dataset] = DatasetReplica(f"replica-{copy.dataset}-{slug(copy.target)}", DatasetReplicaArgs(
            dataset=copy.dataset, source=copy.source, target=copy.target, size_gb=copy.size_gb,
            updates_per_month=dataset.updates_per_month, namespace=readers[0], provider=k8s_providers[copy.target],
            labels=Labels(environment=env, workload=f"replica-{copy.dataset}", data_classes=(copy.data_class,)),
            target_url=bucket(copy.target, copy.data_class).url if target_kind == "cloud" else None),
            opts=pulumi.ResourceOptions(depends_on=list(namespaces.get(copy.target, {}).values())))

    if config.reoptimizer is not None:
        site = config.reoptimizer.site
        if site not in k8s_providers or not any(s.name == site for s in [*estate.onprem, *estate.edge]):
            raise StackConfigError(config.stack_file, [(
                "aiinfra:reoptimizer.site", f"'{site}' is not a private site this stack deploys to",
                f"use one of: {', '.join(sorted(s.name for s in estate.onprem if s.name in k8s_providers)) or 'none'}")])
        built.reoptimizer = ReoptimizerCronJob(f"reoptimizer-{slug(site)}", ReoptimizerCronJobArgs(
            cluster=site, provider=k8s_providers[site], environment=env, stack=config.stack,
            git_repository=config.reoptimizer.git_repository, schedule=config.reoptimizer.schedule,
            prices=config.reoptimizer.prices, image=config.reoptimizer.image))

    summary = {
        "estate": plan.estate, "catalogSnapshot": plan.catalog_snapshot, "solverStatus": plan.solver.status,
        "workloads": {p.workload: {"place": p.place, "instanceType": p.instance_type, "nodes": p.nodes,
                                   "purchase": p.purchase, "usdPerMonth": p.cost.total} for p in plan.placements},
        "datasetCopies": [f"{c.dataset} -> {c.target}" for c in plan.dataset_copies],
    }
    built.outputs = {
        "clusterEndpoints": endpoints,
        "kubeconfigs": pulumi.Output.secret(kubeconfigs),
        "planSummary": summary,
        "monthlyCostUsd": plan.total_usd_per_month,
        "budgetUsdPerMonth": config.budget_usd_per_month,
    }
    for name, value in built.outputs.items():
        pulumi.export(name, value)
    return built
