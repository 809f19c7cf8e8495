"""The estate model: sites, network, datasets and AI workloads of an organisation (pydantic v2).

An estate file is YAML validated into :class:`Estate`. Every model forbids unknown keys and is
frozen, so a typo is an error, not a silently ignored field, and the optimizer cannot mutate
what it was given. Cross-references (dataset locations, reads, DAG edges) are checked here too;
checks that need the catalog or the sovereignty rules happen in :mod:`optimizer.estate`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AcceleratorInventory",
    "AcceleratorOption",
    "CarbonPolicy",
    "Cloud",
    "CloudAccount",
    "Dataset",
    "DatasetRead",
    "EdgeSite",
    "Estate",
    "EstateProblems",
    "Federation",
    "Home",
    "Link",
    "Location",
    "OnPremSite",
    "Output",
    "Population",
    "LatencyMeasurement",
    "Workload",
    "WorkloadKind",
    "cloud_place",
    "parse_place",
]

Cloud = Literal["aws", "gcp"]
WorkloadKind = Literal["training", "inference", "preprocessing", "tuning"]
HOURS_PER_MONTH = 730.0

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,46}[a-z0-9]$",
                            description="lower-case DNS label: letters, digits, '-'")]
# A place is an on-prem or edge site name, or "<cloud>:<region>" such as "aws:eu-central-1".
Place = Annotated[str, Field(pattern=r"^([a-z][a-z0-9-]*[a-z0-9]|(aws|gcp):[a-z0-9-]+)$",
                             description="site name or '<cloud>:<region>'")]
# Upper bounds keep every cost the solver sees finite and well below HiGHS's infinity (1e20): a
# typo such as 1e300 is an input error with a location, not a solver failure.
NonNegative = Annotated[float, Field(ge=0, le=1e9)]
Positive = Annotated[float, Field(gt=0, le=1e9)]

_CLOUD_PLACE = re.compile(r"^(aws|gcp):([a-z0-9-]+)$")


def cloud_place(cloud: str, region: str) -> str:
    """The place name of a cloud region, as used in estates and plans."""
    return f"{cloud}:{region}"


def parse_place(place: str) -> tuple[str, str] | None:
    """(cloud, region) for a cloud place, None for an on-prem or edge site name."""
    match = _CLOUD_PLACE.match(place)
    return (match.group(1), match.group(2)) if match else None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)


class Location(_Strict):
    """Where a site is; used for distance-based latency estimates."""

    city: str | None = Field(default=None, description="human-readable place")
    lat: float = Field(ge=-90, le=90, description="latitude in degrees")
    lon: float = Field(ge=-180, le=180, description="longitude in degrees")


class AcceleratorInventory(_Strict):
    """Accelerators a private site owns."""

    type: str = Field(min_length=1, description="accelerator model as named in the catalog, e.g. A100, H100, L4")
    count: int = Field(gt=0, le=1_000_000, description="how many devices the site has")
    usd_per_hour: NonNegative = Field(description="amortized cost per device-hour (hardware, power, ops)")


class _PrivateSite(_Strict):
    name: Name = Field(description="site name, used as a place in datasets and links")
    jurisdiction: str = Field(min_length=2, description="jurisdiction code (EU, US, UK, CH, ...)")
    location: Location
    accelerators: list[AcceleratorInventory] = Field(default_factory=list)
    vcpus: int = Field(default=0, ge=0, description="vCPUs available to AI workloads")
    memory_gib: NonNegative = Field(default=0, description="memory available to AI workloads")
    usd_per_vcpu_hour: NonNegative = Field(default=0.0, description="amortized cost per vCPU-hour")
    max_utilization: float = Field(default=0.85, gt=0, le=1,
                                   description="share of the inventory's hours the planner may book")
    wan_egress_usd_per_gb: NonNegative = Field(default=0.0, description="cost per GB leaving the site over the WAN")
    wan_bandwidth_gbps: Positive = Field(default=10.0, description="WAN uplink bandwidth")
    storage_usd_per_gb_month: NonNegative = Field(default=0.01, description="cost of keeping one GB for a month")
    grid_carbon_g_per_kwh: NonNegative | None = Field(
        default=None, description="grid carbon intensity of the site's power; default: nearest cloud region's")
    pue: float = Field(default=1.5, ge=1.0, le=3.0, description="power usage effectiveness of the site")

    @field_validator("accelerators")
    @classmethod
    def _unique_types(cls, value: list[AcceleratorInventory]) -> list[AcceleratorInventory]:
        types = [inv.type for inv in value]
        if len(types) != len(set(types)):
            raise ValueError("an accelerator type is listed twice. To fix: merge the entries into one count")
        return value


class OnPremSite(_PrivateSite):
    """An organisation-owned Kubernetes cluster in its own data centre."""

    kind: Literal["onprem"] = "onprem"


class EdgeSite(_PrivateSite):
    """A small cluster near users (a hospital, a store, a factory), usually for inference."""

    kind: Literal["edge"] = "edge"
    storage_usd_per_gb_month: NonNegative = 0.02


class CloudAccount(_Strict):
    """A public-cloud account and the regions the organisation allows in it."""

    cloud: Cloud
    regions: list[str] = Field(min_length=1, description="regions workloads may be placed in")
    quotas: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="region -> accelerator family -> max concurrent devices (e.g. {eu-central-1: {H100: 32}})",
    )
    spot_interruptions_per_hour: NonNegative = Field(
        default=0.02, description="expected spot preemptions per instance-hour (for the overhead model)")

    @model_validator(mode="after")
    def _quotas_in_allowed_regions(self) -> "CloudAccount":
        for region in self.quotas:
            if region not in self.regions:
                raise ValueError(
                    f"quota for region '{region}' which is not in regions {self.regions}. "
                    "To fix: add the region to 'regions' or remove its quota")
        for region, families in self.quotas.items():
            for family, limit in families.items():
                if limit < 0:
                    raise ValueError(f"quota {region}.{family} is negative. To fix: use 0 or more")
        if len(set(self.regions)) != len(self.regions):
            raise ValueError("a region is listed twice. To fix: list each region once")
        return self


class Link(_Strict):
    """A dedicated network link (Direct Connect, Interconnect, MPLS) cheaper than the public path."""

    a: Place = Field(description="one end: site name or '<cloud>:<region>'")
    b: Place = Field(description="other end")
    usd_per_gb: NonNegative = Field(description="price per GB in each direction")
    bandwidth_gbps: Positive = Field(default=10.0, description="link bandwidth")
    latency_ms: NonNegative | None = Field(default=None, description="measured one-way latency; distance-based if absent")


class Dataset(_Strict):
    """A dataset at rest in one place."""

    name: Name
    location: Place = Field(description="site name or '<cloud>:<region>' where the data lives")
    size_gb: Positive
    data_class: str = Field(min_length=1, description="data class from the sovereignty rules")
    updates_per_month: float = Field(default=1.0, ge=0, le=10_000, description="how often a replica must be refreshed")


class DatasetRead(_Strict):
    """A dataset a workload reads, and how many passes each run makes over it."""

    dataset: Name
    passes: float = Field(default=1.0, gt=0, le=10_000, description="reads of the whole dataset per run (epochs when streamed)")


class Output(_Strict):
    """An artifact a workload produces each run (features, a checkpoint, a model)."""

    name: Name
    size_gb: Positive
    data_class: str = Field(min_length=1)


class AcceleratorOption(_Strict):
    """An accelerator set a workload can run on, with its throughput relative to the reference."""

    type: str = Field(min_length=1, description="accelerator model or family (A100, H100, L4, tpu-v5p, Trainium)")
    count: int = Field(gt=0, le=100_000, description="devices per run (per replica for inference); TPU: chips")
    speedup: Positive = Field(default=1.0, description="throughput relative to the workload's first option")


class Federation(_Strict):
    """Federated training: datasets stay where they are, trainers go to the data, updates travel."""

    rounds_per_run: int = Field(gt=0, description="aggregation rounds per run")
    update_gb: Positive = Field(description="size of one model update (and of the aggregated model sent back)")
    update_data_class: str = Field(min_length=1, description="data class of the updates: where they may go")
    aggregator_vcpus: Positive = Field(default=8.0, description="vCPUs of the aggregation server")
    aggregator_memory_gib: Positive = Field(default=32.0, description="memory of the aggregation server")
    trainers_at: Literal["data-site", "jurisdiction"] = Field(
        default="data-site", description="local trainers run at each dataset's own place, or anywhere in its "
                                         "jurisdiction (data then streams to them within that jurisdiction)")


class Workload(_Strict):
    """One AI workload: what it needs, what it reads and produces, and how often it runs."""

    name: Name
    kind: WorkloadKind
    team: Name = Field(description="owning team; becomes a namespace and a cost label")
    cost_centre: str = Field(default="default", min_length=1)
    accelerators: list[AcceleratorOption] = Field(
        default_factory=list, description="acceptable accelerator sets, the first is the reference; empty = CPU only")
    vcpus: Positive = Field(default=4.0, description="vCPUs per run (per replica for inference)")
    memory_gib: Positive = Field(default=16.0, description="memory per run (per replica for inference)")
    hours_per_run: float = Field(default=1.0, gt=0, le=8760, description="hours per run on the reference accelerators")
    runs_per_month: float = Field(default=1.0, gt=0, le=10_000, description="runs per month (ignored for inference)")
    replicas: int = Field(default=1, ge=1, le=100_000,
                          description="inference: always-on replicas at the reference speed")
    reads: list[DatasetRead] = Field(default_factory=list)
    outputs: list[Output] = Field(default_factory=list)
    depends_on: list[Name] = Field(default_factory=list,
                                   description="upstream workloads whose outputs this one consumes")
    checkpointing: bool = Field(default=False, description="can resume after preemption, so spot is allowed")
    restart_cost_hours: NonNegative = Field(default=0.25, description="work lost and restore time per preemption")
    deadline_hours: Positive | None = Field(default=None, description="each run must finish within this time")
    allowed_places: list[Place] | None = Field(default=None, description="optional pin to these places")
    federation: Federation | None = Field(
        default=None, description="train federated: a local trainer per dataset read, plus an aggregator")
    serves: list[Name] = Field(
        default_factory=list,
        description="inference: user populations to serve, each from a place within its latency target; "
                    "the service may then run at several places at once")
    replica_requests_per_second: Positive | None = Field(
        default=None, description="inference with 'serves': requests/s one replica sustains on the first "
                                  "accelerator option (others scale by their speedup)")

    @property
    def monthly_hours(self) -> float:
        """Reference hours per month: always-on for inference, runs x hours otherwise."""
        if self.kind == "inference":
            return HOURS_PER_MONTH
        return self.hours_per_run * self.runs_per_month

    @property
    def runs(self) -> float:
        """Runs per month; an inference service counts as one deployment per month."""
        return 1.0 if self.kind == "inference" else self.runs_per_month


class Home(_Strict):
    """The region a team would use without this tool: the naive baseline's home."""

    cloud: Cloud
    region: str


class Population(_Strict):
    """Users of an inference service in one place, with the latency they need."""

    name: Name
    location: Location
    requests_per_second: Positive | None = Field(
        default=None, description="peak demand to size replicas for (or give demand_history)")
    trough_requests_per_second: NonNegative | None = Field(
        default=None, description="lowest demand, for the autoscaler's minimum; default: the peak (no scale-in)")
    demand_history: str | None = Field(
        default=None, description="hourly CSV (timestamp,population,requests_per_second), relative to the estate "
                                  "file: the next week's forecast sets the peak (upper bound) and the trough")
    latency_ms: Positive = Field(description="target network latency from the users to the serving place")

    @model_validator(mode="after")
    def _demand_given_once(self) -> "Population":
        if (self.requests_per_second is None) == (self.demand_history is None):
            raise ValueError("give exactly one of requests_per_second or demand_history. "
                             "To fix: state the peak requests/s, or point to an hourly history CSV to forecast")
        return self

    @property
    def peak_rps(self) -> float:
        assert self.requests_per_second is not None, "demand histories are forecast when the estate is loaded"
        return self.requests_per_second

    @property
    def trough_rps(self) -> float:
        return self.trough_requests_per_second if self.trough_requests_per_second is not None else self.peak_rps


class LatencyMeasurement(_Strict):
    """A measured latency that replaces the distance-based estimate for one population and place."""

    population: Name
    place: Place
    latency_ms: NonNegative


class Network(_Strict):
    links: list[Link] = Field(default_factory=list)
    latencies: list[LatencyMeasurement] = Field(default_factory=list,
                                                description="measured population -> place latencies")


class CarbonPolicy(_Strict):
    """How emissions weigh in the plan: a price per tonne in the objective, or a hard monthly cap."""

    price_usd_per_tonne: NonNegative | None = Field(default=None, description="internal carbon price, $/tCO2e")
    cap_kg_per_month: NonNegative | None = Field(default=None, description="hard limit on kgCO2e per month")

    @model_validator(mode="after")
    def _one_of(self) -> "CarbonPolicy":
        if (self.price_usd_per_tonne is None) == (self.cap_kg_per_month is None):
            raise ValueError("set exactly one of price_usd_per_tonne or cap_kg_per_month. "
                             "To fix: choose a carbon price (objective) or a carbon cap (constraint)")
        return self


class Estate(_Strict):
    """The whole estate an optimizer run plans for."""

    name: Name
    description: str = ""
    home: Home
    sovereignty_rules: str | None = Field(
        default=None, description="rules file relative to the estate file; default: policy/sovereignty.yaml")
    budget_usd_per_month: Positive | None = None
    carbon: CarbonPolicy | None = Field(default=None, description="carbon price or cap; none: carbon is reported only")
    onprem: list[OnPremSite] = Field(default_factory=list)
    edge: list[EdgeSite] = Field(default_factory=list)
    clouds: list[CloudAccount] = Field(default_factory=list)
    network: Network = Field(default_factory=Network)
    datasets: list[Dataset] = Field(default_factory=list)
    populations: list[Population] = Field(default_factory=list)
    workloads: list[Workload] = Field(min_length=1)

    def places(self) -> list[str]:
        """Every place workloads may run, in a stable order."""
        names = [site.name for site in self.onprem] + [site.name for site in self.edge]
        for account in self.clouds:
            names.extend(cloud_place(account.cloud, region) for region in account.regions)
        return names

    def private_site(self, name: str) -> OnPremSite | EdgeSite | None:
        for site in [*self.onprem, *self.edge]:
            if site.name == name:
                return site
        return None

    @model_validator(mode="after")
    def _cross_references(self) -> "Estate":
        problems = _cross_reference_problems(self)
        if problems:
            raise EstateProblems(problems)
        return self


class EstateProblems(ValueError):
    """Cross-reference problems, each (field path, what is wrong, how to fix it)."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{path}: {what}. To fix: {fix}" for path, what, fix in problems))


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({name for name in names if name in seen or seen.add(name)})


def _cross_reference_problems(estate: Estate) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    for name in _duplicates([site.name for site in [*estate.onprem, *estate.edge]]):
        problems.append(("onprem/edge", f"two sites are named '{name}'", "give every site a unique name"))
    for cloud in _duplicates([account.cloud for account in estate.clouds]):
        problems.append(("clouds", f"cloud '{cloud}' is listed twice", "merge its regions into one entry"))
    places = set(estate.places())
    hint = f"use one of the known places: {', '.join(sorted(places))}"
    if not places:
        problems.append(("onprem/clouds", "the estate has no site at all", "add an on-prem site or a cloud account"))
    for name in _duplicates([d.name for d in estate.datasets]):
        problems.append(("datasets", f"two datasets are named '{name}'", "give every dataset a unique name"))
    for index, dataset in enumerate(estate.datasets):
        if dataset.location not in places:
            problems.append((f"datasets[{index}].location",
                             f"'{dataset.location}' is not a site or allowed region of this estate", hint))
    for index, link in enumerate(estate.network.links):
        for end_name in ("a", "b"):
            end = getattr(link, end_name)
            if end not in places:
                problems.append((f"network.links[{index}].{end_name}", f"unknown place '{end}'", hint))
    workload_names = [w.name for w in estate.workloads]
    for name in _duplicates(workload_names):
        problems.append(("workloads", f"two workloads are named '{name}'", "give every workload a unique name"))
    datasets = {d.name for d in estate.datasets}
    workloads = set(workload_names)
    graph = nx.DiGraph()
    graph.add_nodes_from(workload_names)
    for index, workload in enumerate(estate.workloads):
        where = f"workloads[{index}]"
        for read_index, read in enumerate(workload.reads):
            if read.dataset not in datasets:
                problems.append((f"{where}.reads[{read_index}].dataset", f"unknown dataset '{read.dataset}'",
                                 "declare it under 'datasets' or correct the name"))
        for dep_index, upstream in enumerate(workload.depends_on):
            if upstream not in workloads:
                problems.append((f"{where}.depends_on[{dep_index}]", f"unknown workload '{upstream}'",
                                 "correct the name"))
            elif upstream == workload.name:
                problems.append((f"{where}.depends_on[{dep_index}]", "a workload cannot depend on itself",
                                 "remove it from depends_on"))
            else:
                graph.add_edge(upstream, workload.name)
        for place_index, place in enumerate(workload.allowed_places or []):
            if place not in places:
                problems.append((f"{where}.allowed_places[{place_index}]", f"unknown place '{place}'", hint))
        if workload.kind == "inference" and workload.runs_per_month != 1.0:
            problems.append((f"{where}.runs_per_month", "inference is always on",
                             "remove runs_per_month and size the service with replicas"))
    populations = [p.name for p in estate.populations]
    for name in _duplicates(populations):
        problems.append(("populations", f"two populations are named '{name}'", "give every population a unique name"))
    serving = {w.name for w in estate.workloads if w.serves}
    for index, workload in enumerate(estate.workloads):
        where = f"workloads[{index}]"
        if not workload.serves:
            continue
        if workload.kind != "inference":
            problems.append((f"{where}.serves", "only inference workloads serve populations",
                             "remove 'serves' or make the workload kind: inference"))
        if workload.replica_requests_per_second is None:
            problems.append((f"{where}.replica_requests_per_second", "is required with 'serves'",
                             "give the requests/s one replica sustains on the first accelerator option"))
        if workload.outputs:
            problems.append((f"{where}.outputs", "a multi-site service cannot produce outputs",
                             "move the outputs to a batch workload"))
        for serve_index, population in enumerate(workload.serves):
            if population not in populations:
                problems.append((f"{where}.serves[{serve_index}]", f"unknown population '{population}'",
                                 f"declare it under 'populations' (known: {', '.join(sorted(populations)) or 'none'})"))
    for index, workload in enumerate(estate.workloads):
        for dep_index, upstream in enumerate(workload.depends_on):
            if upstream in serving:
                problems.append((f"workloads[{index}].depends_on[{dep_index}]",
                                 f"'{upstream}' serves populations from several places and has no outputs",
                                 "depend on the workload that produces the model instead"))
    for index, workload in enumerate(estate.workloads):
        if workload.federation is None:
            continue
        if workload.kind not in ("training", "tuning"):
            problems.append((f"workloads[{index}].federation", "only training and tuning can be federated",
                             "remove 'federation' or change the kind"))
        if not workload.reads:
            problems.append((f"workloads[{index}].reads", "a federated workload needs the datasets it trains on",
                             "list them under 'reads' (one local trainer runs per dataset)"))
    for index, measured in enumerate(estate.network.latencies):
        if measured.population not in populations:
            problems.append((f"network.latencies[{index}].population", f"unknown population '{measured.population}'",
                             "declare it under 'populations'"))
        if measured.place not in places:
            problems.append((f"network.latencies[{index}].place", f"unknown place '{measured.place}'", hint))
    if not nx.is_directed_acyclic_graph(graph):
        cycle = " -> ".join(edge[0] for edge in nx.find_cycle(graph))
        problems.append(("workloads[].depends_on", f"dependencies form a cycle ({cycle})",
                         "remove one of these dependencies"))
    return problems
