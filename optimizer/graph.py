"""The network graph: places, the internet, dedicated links, and $/GB, bandwidth and latency on each edge.

Transfer cost between any two places is the cheapest path in a networkx DiGraph:

* ``<cloud>:<region>`` -> ``internet:<cloud>`` at the cloud's internet egress rate (first paid tier);
  the internet reaches every place for free (ingress is free on both clouds);
* region -> region of the same cloud at the inter-region rate from egress.csv (0.02 $/GB within
  North America or Europe, special pairs such as us-east-1 <-> us-east-2 at 0.01), through one
  backbone node per cloud (per continent for GCP); other pairs (inter-continental, and AWS
  Asia-Pacific/South-America/Middle-East/Africa sources) are not in the source data and are charged
  the internet rate as an upper bound;
* on-prem and edge sites -> internet at their declared WAN egress rate;
* dedicated links (Direct Connect, Interconnect) from the estate, both directions, at their own rate.

Latency is a measured link value where the estate gives one, otherwise a distance-based estimate
(5 ms + 1 ms per 100 km great-circle, which allows for indirect fibre routes). Bandwidth of a path is
its narrowest edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import networkx as nx

from optimizer.catalog import Catalog
from optimizer.geo import distance_km, estimate_latency_ms
from optimizer.model import Estate, parse_place

__all__ = ["NetworkCosts", "build_network_graph", "distance_km", "egress_node", "estimate_latency_ms", "network_costs"]

_NORTH_AMERICA = {"US", "CA", "MX"}
_EUROPE = {"EU", "UK", "CH"}
_AWS_STANDARD_SOURCES = _NORTH_AMERICA | _EUROPE
_CLOUD_BANDWIDTH_GBPS = 25.0  # per-flow throughput assumed between cloud regions and to the internet


def _continent(jurisdiction: str) -> str:
    if jurisdiction in _NORTH_AMERICA:
        return "north-america"
    if jurisdiction in _EUROPE:
        return "europe"
    return jurisdiction


def _place_facts(estate: Estate, catalog: Catalog) -> dict[str, tuple[str, float, float]]:
    """place -> (jurisdiction, lat, lon)."""
    facts: dict[str, tuple[str, float, float]] = {}
    for site in [*estate.onprem, *estate.edge]:
        facts[site.name] = (site.jurisdiction, site.location.lat, site.location.lon)
    for place in estate.places():
        parsed = parse_place(place)
        if parsed:
            fact = catalog.regions[parsed]
            facts[place] = (fact.jurisdiction, fact.lat, fact.lon)
    return facts


def build_network_graph(estate: Estate, catalog: Catalog) -> nx.DiGraph:
    """The priced network graph of an estate (see module docstring for the edge rules)."""
    graph = nx.DiGraph()
    facts = _place_facts(estate, catalog)
    for place, (jurisdiction, lat, lon) in sorted(facts.items()):
        graph.add_node(place, kind="place", jurisdiction=jurisdiction, lat=lat, lon=lon)
    clouds = sorted({account.cloud for account in estate.clouds})
    for cloud in clouds:
        hub = f"internet:{cloud}"
        graph.add_node(hub, kind="internet")
    graph.add_node("internet", kind="internet")
    for cloud in clouds:
        graph.add_edge(f"internet:{cloud}", "internet", usd_per_gb=0.0, bandwidth_gbps=_CLOUD_BANDWIDTH_GBPS)
    for place in sorted(facts):
        parsed = parse_place(place)
        if parsed:
            cloud = parsed[0]
            graph.add_edge(place, f"internet:{cloud}", usd_per_gb=catalog.egress.internet_rate(cloud),
                           bandwidth_gbps=_CLOUD_BANDWIDTH_GBPS)
            graph.add_edge("internet", place, usd_per_gb=0.0, bandwidth_gbps=_CLOUD_BANDWIDTH_GBPS)
        else:
            site = estate.private_site(place)
            assert site is not None  # every non-cloud place is a private site (validated by the model)
            graph.add_node(egress_node(place), kind="egress")
            graph.add_edge(egress_node(place), "internet", usd_per_gb=site.wan_egress_usd_per_gb,
                           bandwidth_gbps=site.wan_bandwidth_gbps)
            # Data produced and consumed on the same site never leaves it.
            graph.add_edge(egress_node(place), place, usd_per_gb=0.0, bandwidth_gbps=site.wan_bandwidth_gbps)
            graph.add_edge("internet", place, usd_per_gb=0.0, bandwidth_gbps=site.wan_bandwidth_gbps)
    # Inter-region transfer goes through one backbone node per cloud (AWS: the rate depends on the
    # source region only) or per cloud and continent (GCP: 0.02 within North America or Europe), so
    # the graph stays linear in the number of regions; prices equal the pairwise rules exactly.
    for place in sorted(p for p in facts if parse_place(p)):
        cloud = parse_place(place)[0]  # type: ignore[index]
        continent = _continent(facts[place][0])
        if cloud == "aws":
            backbone = "backbone:aws"
            rate = catalog.egress.inter_region["aws"] if facts[place][0] in _AWS_STANDARD_SOURCES \
                else catalog.egress.inter_continent_assumption["aws"]
        elif continent in ("north-america", "europe"):
            backbone, rate = f"backbone:gcp:{continent}", catalog.egress.inter_region["gcp"]
        else:
            continue  # other GCP continents reach every region at the internet rate
        graph.add_node(backbone, kind="backbone")
        graph.add_edge(place, backbone, usd_per_gb=rate, bandwidth_gbps=_CLOUD_BANDWIDTH_GBPS)
        graph.add_edge(backbone, place, usd_per_gb=0.0, bandwidth_gbps=_CLOUD_BANDWIDTH_GBPS)
    for pair, rate in sorted(catalog.egress.inter_region_pairs.items(), key=lambda item: sorted(item[0])):
        first, second = sorted(pair)
        if first in facts and second in facts:
            for source, target in ((first, second), (second, first)):
                graph.add_edge(source, target, usd_per_gb=rate, bandwidth_gbps=_CLOUD_BANDWIDTH_GBPS)
    for link in estate.network.links:
        for source, target in ((link.a, link.b), (link.b, link.a)):
            source = egress_node(source)
            existing = graph.get_edge_data(source, target)
            if existing is None or existing["usd_per_gb"] > link.usd_per_gb:
                graph.add_edge(source, target, usd_per_gb=link.usd_per_gb, bandwidth_gbps=link.bandwidth_gbps,
                               latency_ms=link.latency_ms, dedicated=True)
    return graph


def egress_node(place: str) -> str:
    """The node data leaves a place from. Private sites send from a separate node so that no path
    transits through a private site: nobody relays cloud traffic through a hospital's uplink."""
    return place if parse_place(place) else f"{place}>"


@dataclass(frozen=True)
class NetworkCosts:
    """All-pairs transfer price, bandwidth and latency between the places of an estate."""

    price: Mapping[tuple[str, str], float]
    bandwidth: Mapping[tuple[str, str], float]
    latency: Mapping[tuple[str, str], float]
    paths: Mapping[tuple[str, str], tuple[str, ...]]  # graph nodes of the cheapest route (egress node first)
    arc_price: Mapping[tuple[str, str], float]  # $/GB of every graph edge
    coordinates: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # place -> (lat, lon)

    def usd_per_gb(self, source: str, target: str) -> float:
        return 0.0 if source == target else self.price[(source, target)]


def network_costs(graph: nx.DiGraph) -> NetworkCosts:
    """Cheapest path ($/GB) between every pair of places, with that path's bandwidth and latency."""
    places = sorted(node for node, data in graph.nodes(data=True) if data["kind"] == "place")
    price: dict[tuple[str, str], float] = {}
    bandwidth: dict[tuple[str, str], float] = {}
    latency: dict[tuple[str, str], float] = {}
    paths: dict[tuple[str, str], tuple[str, ...]] = {}
    for source in places:
        start = egress_node(source)
        lengths, routes = nx.single_source_dijkstra(graph, start, weight="usd_per_gb")
        for target in places:
            if target == source:
                continue
            if target not in routes:
                continue
            route = routes[target]  # starts at the egress node of ``source``
            edges = [graph.edges[a, b] for a, b in zip(route, route[1:])]
            price[(source, target)] = round(lengths[target], 6)
            bandwidth[(source, target)] = min(edge["bandwidth_gbps"] for edge in edges)
            measured = [edge.get("latency_ms") for edge in edges if edge.get("latency_ms") is not None]
            if len(edges) == 1 and measured:
                latency[(source, target)] = float(measured[0])
            else:
                a, b = graph.nodes[source], graph.nodes[target]
                latency[(source, target)] = estimate_latency_ms(distance_km(a["lat"], a["lon"], b["lat"], b["lon"]))
            paths[(source, target)] = tuple(route)
    arc_price = {(a, b): float(data["usd_per_gb"]) for a, b, data in graph.edges(data=True)}
    coordinates = {place: (graph.nodes[place]["lat"], graph.nodes[place]["lon"]) for place in places}
    return NetworkCosts(price=price, bandwidth=bandwidth, latency=latency, paths=paths, arc_price=arc_price,
                        coordinates=coordinates)
