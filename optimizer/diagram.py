"""Placement diagram: where every workload of a plan runs, and what data flows between the sites.

A map-like picture drawn with matplotlib (Agg, no pyplot, no global state), from a plan, its estate
and the catalog (for the coordinates of cloud regions). No external map data: sites sit at their
longitude/latitude on an equirectangular grid (with the standard parallel at the middle latitude,
so distances look right at that latitude) over a light lat/lon graticule.

* Sites: on-prem (squares), edge (triangles), cloud regions (circles, AWS orange, GCP blue); allowed
  regions the plan leaves unused are small hollow grey circles. Sites at the same coordinates (a data
  centre next to a cloud region) are spread on a small ring so each stays visible.
* Each used site is labelled on the map with its name and monthly cost; below the map, one box per
  site lists the workloads placed there (name, node type x nodes, purchase, $/month), so the
  30-workload estate stays readable instead of stacking text on the map.
* Transfers (``plan.transfers``) are solid arrows whose width grows with log(GB/month), labelled
  with volume and $/month; dataset copies are dashed arrows; arrows between the same two sites are
  curved apart.
* Multi-site inference (``Placement.serving_sites``) and user populations (``Estate.populations``)
  are drawn when present: every serving site is a site with the service in its box, populations are
  small purple markers with a dotted line to the sites serving them.

Output by extension: ``.png`` (150 dpi) or ``.svg`` (text kept as text, fixed ``svg.hashsalt``,
no date: the same plan gives the same bytes).
"""

from __future__ import annotations

import math
import os
import tempfile
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from optimizer.errors import EXIT_INVALID_INPUT, OptimizerError

__all__ = ["DiagramError", "build_figure", "write_diagram"]

SVG_HASHSALT = "aiinfra-placement-diagram"
PNG_DPI = 150
SANS = "DejaVu Sans"
MONO = "DejaVu Sans Mono"

KIND_STYLE = {  # kind -> (marker, face colour, edge colour, legend label)
    "onprem": ("s", "#37474F", "#263238", "on-prem site"),
    "edge": ("^", "#2E7D32", "#1B5E20", "edge site"),
    "aws": ("o", "#FF9900", "#B36B00", "AWS region"),
    "gcp": ("o", "#4285F4", "#1A56B8", "GCP region"),
}
TRANSFER_COLOUR = "#6A1B9A"
COPY_COLOUR = "#00838F"
POPULATION_COLOUR = "#AD1457"
UNUSED_COLOUR = "#9E9E9E"


class DiagramError(OptimizerError):
    """The diagram cannot be written as asked (unknown file type)."""

    exit_code = EXIT_INVALID_INPUT


@dataclass
class _Site:
    place: str
    kind: str  # onprem, edge, aws, gcp
    lat: float
    lon: float
    city: str
    used: bool
    entries: list[tuple[str, str, float]] = field(default_factory=list)  # (workload, description, $/month)
    extra_usd: float = 0.0  # dataset copies kept here
    x: float = 0.0  # drawing position (map inches), after spreading co-located sites
    y: float = 0.0

    @property
    def usd_per_month(self) -> float:
        return sum(cost for _, _, cost in self.entries) + self.extra_usd


def _money(value: float) -> str:
    if value >= 10_000:
        return f"${value / 1000:,.1f}k"
    if value >= 100 or value == 0:
        return f"${value:,.0f}"
    return f"${value:,.2f}"


def _volume(gb: float) -> str:
    if gb >= 1000:
        tb = gb / 1000
        return f"{tb:,.1f} TB" if tb < 10 else f"{tb:,.0f} TB"
    return f"{gb:,.0f} GB" if gb >= 10 else f"{gb:,.1f} GB"


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


def _collect_sites(plan, estate, catalog) -> dict[str, _Site]:
    """Every place of the estate with coordinates, and what the plan runs at each."""
    sites: dict[str, _Site] = {}

    def add(place: str, used: bool) -> _Site | None:
        if place in sites:
            sites[place].used = sites[place].used or used
            return sites[place]
        private = estate.private_site(place) if hasattr(estate, "private_site") else None
        if private is not None:
            location = private.location
            site = _Site(place, private.kind, location.lat, location.lon, location.city or "", used)
        elif ":" in place:
            cloud, region = place.split(":", 1)
            fact = catalog.regions.get((cloud, region))
            if fact is None:
                return None
            site = _Site(place, cloud if cloud in KIND_STYLE else "aws", fact.lat, fact.lon, fact.city, used)
        else:
            return None
        sites[place] = site
        return site

    for place in estate.places():
        add(place, False)
    for placement in plan.placements:
        serving = list(getattr(placement, "serving_sites", None) or [])
        accel = f" ({placement.accelerators_per_node}x{placement.accelerator})" if placement.accelerator else ""
        if serving:
            for item in serving:
                place = _field(item, "place") if not isinstance(item, str) else item
                site = add(place, True)
                if site is None:
                    continue
                populations = _field(item, "populations") or []
                node_type = _field(item, "instance_type", placement.instance_type)
                nodes = _field(item, "nodes", placement.nodes)
                who = f" -> {', '.join(populations)}" if populations else ""
                purchase = _field(item, "purchase", placement.purchase)
                site.entries.append((placement.workload, f"{node_type} x{nodes} {purchase}{who}",
                                     float(_field(item, "usd_per_month", 0.0) or 0.0)))
        else:
            site = add(placement.place, True)
            if site is not None:
                site.entries.append((placement.workload,
                                     f"{placement.instance_type}{accel} x{placement.nodes} {placement.purchase}",
                                     placement.cost.total))
    for copy in plan.dataset_copies:
        for place in (copy.source, copy.target):
            add(place, True)
        if copy.target in sites:
            sites[copy.target].extra_usd += copy.usd_per_month
    for transfer in plan.transfers:
        for place in (transfer.source, transfer.target):
            add(place, True)
    return sites


GAP_MIN_DEG = 30.0  # empty longitude bands wider than this are squeezed (an ocean between site clusters)
GAP_KEEP_DEG = 6.0  # longitude kept on each side of a squeezed band
GAP_WIDTH_DEG = 3.0  # drawn width of a squeezed band
MAX_MAP_W, MIN_MAP_W, MAX_MAP_H, MIN_MAP_H = 19.0, 11.0, 7.5, 4.5


@dataclass(frozen=True)
class _Frame:
    """Map projection to inches inside the map axes: equirectangular with the standard parallel at the
    middle latitude, except that wide empty longitude bands (``gaps``) are squeezed to a narrow strip."""

    gaps: tuple[tuple[float, float], ...]  # (lon a, lon b) squeezed to GAP_WIDTH_DEG each
    u0: float  # squeezed longitude at the left edge
    lat0: float  # latitude at the bottom edge
    scale: float  # inches per degree of latitude
    cos: float  # cos(standard parallel): inches per degree of longitude = scale * cos
    width: float
    height: float

    def squeeze(self, lon: float) -> float:
        u = lon
        for a, b in self.gaps:
            removed = (b - a) - GAP_WIDTH_DEG
            if lon >= b:
                u -= removed
            elif lon > a:
                u -= (lon - a) * removed / (b - a)
        return u

    def to_in(self, lon: float, lat: float) -> tuple[float, float]:
        return (self.squeeze(lon) - self.u0) * self.scale * self.cos, (lat - self.lat0) * self.scale

    def in_gap(self, lon: float) -> bool:
        return any(a < lon < b for a, b in self.gaps)


def _frame(points: list[tuple[float, float]]) -> _Frame:
    """A projection fitting every point with margins; the map is at most MAX_MAP_W x MAX_MAP_H inches."""
    lons = sorted({round(p[0], 4) for p in points}) or [0.0]
    lats = [p[1] for p in points] or [0.0]
    gaps = tuple((left + GAP_KEEP_DEG, right - GAP_KEEP_DEG) for left, right in zip(lons, lons[1:])
                 if right - left > GAP_MIN_DEG)
    mid_lat = (max(lats) + min(lats)) / 2
    cos = max(0.2, math.cos(math.radians(mid_lat)))
    probe = _Frame(gaps, 0.0, 0.0, 1.0, cos, 0.0, 0.0)
    u_lo, u_hi = probe.squeeze(lons[0]), probe.squeeze(lons[-1])
    span_u = max(u_hi - u_lo, 8.0) + 9.0
    span_lat = max(max(lats) - min(lats), 5.0) + 7.0
    scale = MAX_MAP_H / span_lat
    width = span_u * cos * scale
    if width > MAX_MAP_W:
        scale = MAX_MAP_W / (span_u * cos)
    width = min(max(span_u * cos * scale, MIN_MAP_W), MAX_MAP_W)
    height = min(max(span_lat * scale, MIN_MAP_H), MAX_MAP_H)
    u0 = (u_lo + u_hi) / 2 - width / (scale * cos) / 2
    lat0 = mid_lat - height / scale / 2
    return _Frame(gaps, u0, lat0, scale, cos, width, height)


def _spread(sites: list[_Site], frame: _Frame, radius_in: float = 0.13) -> None:
    """Draw positions: sites closer than ``radius_in`` on the map are spread on a ring around their centre."""
    groups: list[list[_Site]] = []
    for site in sorted(sites, key=lambda s: (not s.used, s.place)):
        x, y = frame.to_in(site.lon, site.lat)
        for group in groups:
            gx, gy = frame.to_in(group[0].lon, group[0].lat)
            if math.hypot(x - gx, y - gy) < radius_in:
                group.append(site)
                break
        else:
            groups.append([site])
    for group in groups:
        cx = sum(frame.to_in(s.lon, s.lat)[0] for s in group) / len(group)
        cy = sum(frame.to_in(s.lon, s.lat)[1] for s in group) / len(group)
        for index, site in enumerate(group):
            if len(group) == 1:
                x, y = cx, cy
            else:
                angle = math.pi / 2 + 2 * math.pi * index / len(group)
                x, y = cx + radius_in * math.cos(angle), cy + radius_in * math.sin(angle)
            site.x, site.y = x, y


class _Placer:
    """Greedy text placement in map inches: the first candidate position that overlaps nothing placed."""

    def __init__(self, width: float, height: float):
        self.width, self.height = width, height
        self.boxes: list[tuple[float, float, float, float]] = []

    def block(self, x: float, y: float, half: float) -> None:
        self.boxes.append((x - half, y - half, x + half, y + half))

    def _overlap(self, box: tuple[float, float, float, float]) -> float:
        total = 0.0
        for other in self.boxes:
            dx = min(box[2], other[2]) - max(box[0], other[0])
            dy = min(box[3], other[3]) - max(box[1], other[1])
            if dx > 0 and dy > 0:
                total += dx * dy
        if box[0] < 0 or box[1] < 0 or box[2] > self.width or box[3] > self.height:
            total += 10.0
        return total

    def place(self, candidates: Iterable[tuple[float, float, str, str]], w: float, h: float,
              required: bool) -> tuple[float, float, str, str] | None:
        """Candidates are (x, y, ha, va) anchors in inches; returns the chosen one (and blocks it)."""
        best, best_cost = None, math.inf
        for x, y, ha, va in candidates:
            x0 = x - (w if ha == "right" else w / 2 if ha == "center" else 0)
            y0 = y - (h if va == "top" else h / 2 if va == "center" else 0)
            box = (x0, y0, x0 + w, y0 + h)
            cost = self._overlap(box)
            if cost == 0:
                self.boxes.append(box)
                return x, y, ha, va
            if cost < best_cost:
                best, best_cost = (x, y, ha, va, box), cost
        if not required or best is None:
            return None
        self.boxes.append(best[4])
        return best[:4]


def _text_size(lines: list[str], fontsize: float, char_w: float = 0.6) -> tuple[float, float]:
    width = max((len(line) for line in lines), default=0) * fontsize * char_w / 72
    return width + 0.04, len(lines) * fontsize * 1.25 / 72 + 0.03


def _around(x: float, y: float, gap: float) -> list[tuple[float, float, str, str]]:
    d = gap
    return [(x + d, y, "left", "center"), (x - d, y, "right", "center"), (x, y + d, "center", "bottom"),
            (x, y - d, "center", "top"), (x + d * 0.7, y + d * 0.7, "left", "bottom"),
            (x - d * 0.7, y + d * 0.7, "right", "bottom"), (x + d * 0.7, y - d * 0.7, "left", "top"),
            (x - d * 0.7, y - d * 0.7, "right", "top")]


def _bezier(p0, c, p2, t: float) -> tuple[float, float]:
    return ((1 - t) ** 2 * p0[0] + 2 * t * (1 - t) * c[0] + t ** 2 * p2[0],
            (1 - t) ** 2 * p0[1] + 2 * t * (1 - t) * c[1] + t ** 2 * p2[1])


def _site_lines(site: _Site, max_chars: int) -> list[str]:
    """Box lines: workload, what it runs on (shortened if needed, never the name), $/month."""
    lines = []
    for workload, description, cost in sorted(site.entries):
        cost_text = _money(cost).rjust(8)
        room = max_chars - len(cost_text) - 1
        text = f"{workload}  {description}"
        if len(text) > room:
            text = text[:max(room - 1, len(workload))] + "~"
        lines.append(f"{text.ljust(room)} {cost_text}")
    if site.extra_usd:
        lines.append(f"{'dataset copies kept here'.ljust(max_chars - 9)} {_money(site.extra_usd).rjust(8)}")
    return lines or ["(data only: no workload runs here)"]


def build_figure(plan, estate, catalog):
    """The placement diagram as a matplotlib Figure (Agg canvas attached); no file is written."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

    with matplotlib.rc_context({"font.family": SANS, "font.size": 8, "svg.fonttype": "none",
                                "svg.hashsalt": SVG_HASHSALT, "path.simplify": False}):
        sites = _collect_sites(plan, estate, catalog)
        populations = [p for p in (getattr(estate, "populations", None) or [])
                       if getattr(p, "location", None) is not None]
        points = [(s.lon, s.lat) for s in sites.values()]
        points += [(p.location.lon, p.location.lat) for p in populations]
        frame = _frame(points)
        _spread(list(sites.values()), frame)
        map_w, map_h = frame.width, frame.height
        margin_x = 0.5
        fig_w = map_w + 2 * margin_x

        used = sorted((s for s in sites.values() if s.used), key=lambda s: (s.lon, -s.lat, s.place))
        flows = [(t.source, t.target, t.gb_per_month, t.usd_per_month, "transfer", i, t.reason)
                 for i, t in enumerate(plan.transfers) if t.gb_per_month > 0]
        flows += [(c.source, c.target, c.size_gb, c.usd_per_month, "copy", i, f"replica of {c.dataset}")
                  for i, c in enumerate(plan.dataset_copies)]
        flows = [f for f in flows if f[0] in sites and f[1] in sites]

        # Boxes below the map: one per used site, then the data flows; packed into columns.
        columns = max(2, int((map_w + 0.2) // 4.6))
        col_w = (map_w - (columns - 1) * 0.2) / columns
        body_size, head_size = 7.0, 8.0
        line_h = body_size * 1.25 / 72
        max_chars = int((col_w - 0.3) / (body_size * 0.602 / 72))
        blocks: list[tuple[str, str, str, list[str]]] = []  # (header, kind for colours, gid, lines)
        for site in used:
            _, _, _, kind_label = KIND_STYLE[site.kind]
            city = f", {site.city}" if site.city else ""
            blocks.append((f"{site.place}  ({kind_label}{city})  {_money(site.usd_per_month)}/month", site.kind,
                           f"box-{site.place}", _site_lines(site, max_chars)))
        flow_lines = []
        full_chars = int((map_w - 0.3) / (body_size * 0.602 / 72))
        for number, (source, target, gb, usd, kind, _, reason) in enumerate(flows, start=1):
            money = "free" if usd == 0 else _money(usd)
            head = f"{'T' if kind == 'transfer' else 'C'}{number:<3}{_volume(gb):>8} {money:>8}  "
            text = f"{head}{source} -> {target}: {reason}"
            flow_lines.append(text if len(text) <= full_chars else text[:full_chars - 1] + "~")
        col_heights = [0.0] * columns
        boxes = []
        for header, kind, gid, lines in blocks:
            height = head_size * 1.35 / 72 + len(lines) * line_h + 0.14
            column = min(range(columns), key=lambda c: (col_heights[c], c))
            boxes.append((column, col_heights[column], header, kind, gid, lines, height))
            col_heights[column] += height + 0.12
        if flow_lines:  # one full-width box under the site boxes
            height = head_size * 1.35 / 72 + len(flow_lines) * line_h + 0.14
            boxes.append((-1, max(col_heights), "Data flows per month (T: transfer, C: dataset copy)", "flows",
                          "box-flows", flow_lines, height))
            col_heights = [max(col_heights) + height + 0.12] * columns
        title = (f"Placement of '{plan.estate}': ${plan.total_usd_per_month:,.0f}/month, "
                 f"{plan.total_carbon_kg_per_month:,.0f} kgCO2e/month, catalog snapshot {plan.catalog_snapshot}")
        title_size = min(15.0, (fig_w - 2 * margin_x) * 72 / (0.62 * len(title)))
        subtitle = textwrap.wrap(
            f"{len(plan.placements)} workloads at {len(used)} sites. Solid arrows: data transfers per month "
            f"(width grows with volume); dashed: dataset copies. Solver {plan.solver.name}, {plan.solver.status}. "
            f"Datasets at rest where they live: ${plan.fixed_storage_usd_per_month:,.0f}/month, not in the total.",
            width=int((fig_w - 2 * margin_x) * 72 / (9 * 0.56)))
        title_h, legend_h, bottom = 0.7 + 0.17 * len(subtitle), 0.55, 0.25
        fig_h = title_h + map_h + legend_h + max(col_heights) + bottom
        fig = Figure(figsize=(fig_w, fig_h))
        FigureCanvasAgg(fig)

        def fx(inches: float) -> float:
            return inches / fig_w

        def fy(inches_from_top: float) -> float:
            return 1 - inches_from_top / fig_h

        fig.text(fx(margin_x), fy(0.3), title, fontsize=title_size, fontweight="bold", va="center", gid="title")
        fig.text(fx(margin_x), fy(0.55), "\n".join(subtitle), fontsize=9, color="#424242", va="top")

        # The map axes: data coordinates are inches, so the projection is exact before drawing.
        ax = fig.add_axes((fx(margin_x), fy(title_h + map_h), fx(map_w), map_h / fig_h))
        ax.set_xlim(0, map_w)
        ax.set_ylim(0, map_h)
        ax.set_facecolor("#F7FAFC")
        lat_top = frame.lat0 + map_h / frame.scale
        step = 5 if map_h / frame.scale < 30 else 10
        lat_ticks = [v for v in range(-90, 91, step) if frame.lat0 < v < lat_top]
        lon_ticks, last_x = [], -1.0
        for lon in range(-180, 181, step):
            x = frame.to_in(lon, 0)[0]
            if 0 < x < map_w and not frame.in_gap(lon) and x - last_x > 0.45:
                lon_ticks.append((x, lon))
                last_x = x
        ax.set_xticks([x for x, _ in lon_ticks],
                      [f"{abs(v)}°{'E' if v > 0 else 'W' if v < 0 else ''}" for _, v in lon_ticks])
        ax.set_yticks([frame.to_in(0, v)[1] for v in lat_ticks],
                      [f"{abs(v)}°{'N' if v > 0 else 'S' if v < 0 else ''}" for v in lat_ticks])
        ax.tick_params(labelsize=7, colors="#757575", length=0)
        ax.grid(True, color="#E0E0E0", linewidth=0.6)
        for spine in ax.spines.values():
            spine.set_color("#BDBDBD")
        for a, b in frame.gaps:
            xa, xb = frame.to_in(a, 0)[0], frame.to_in(b, 0)[0]
            ax.add_patch(Rectangle((xa, 0), xb - xa, map_h, facecolor="#ECEFF1", edgecolor="#B0BEC5",
                                   hatch="////", linewidth=0.5, zorder=1))
            ax.text((xa + xb) / 2, map_h * 0.04, f"{b - a:.0f}° of longitude\nnot to scale", rotation=90,
                    fontsize=6.5, color="#78909C", ha="center", va="bottom", zorder=2)

        placer = _Placer(map_w, map_h)
        for site in sorted(sites.values(), key=lambda s: (s.used, s.place)):
            marker, face, edge, _ = KIND_STYLE[site.kind]
            if site.used:
                ax.plot([site.x], [site.y], marker=marker, markersize=11, markerfacecolor=face,
                        markeredgecolor=edge, markeredgewidth=1.2, linestyle="none", zorder=5)
            else:
                ax.plot([site.x], [site.y], marker=marker, markersize=6, markerfacecolor="white",
                        markeredgecolor=UNUSED_COLOUR, markeredgewidth=1.0, linestyle="none", zorder=4)
            placer.block(site.x, site.y, 0.08 if site.used else 0.05)

        # Populations, with a dotted line to each site serving them.
        serving_of: dict[str, list[str]] = defaultdict(list)
        for placement in plan.placements:
            for item in getattr(placement, "serving_sites", None) or []:
                for population in ([] if isinstance(item, str) else _field(item, "populations") or []):
                    serving_of[population].append(_field(item, "place"))
        population_marks = []
        for population in populations:
            x, y = frame.to_in(population.location.lon, population.location.lat)
            ax.plot([x], [y], marker="P", markersize=7, color=POPULATION_COLOUR, linestyle="none", zorder=6,
                    gid=f"population-{population.name}")
            for place in serving_of.get(population.name, []):
                if place in sites:
                    ax.plot([x, sites[place].x], [y, sites[place].y], linestyle=":", linewidth=0.9,
                            color=POPULATION_COLOUR, alpha=0.7, zorder=3)
            placer.block(x, y, 0.06)
            population_marks.append((population.name, x, y))

        max_gb = max((f[2] for f in flows if f[4] == "transfer"), default=1.0)

        def width(gb: float) -> float:
            return 0.8 + 4.2 * math.log10(1 + gb) / math.log10(1 + max(max_gb, 1.0))

        pair_count: dict[frozenset[str], int] = defaultdict(int)
        label_jobs = []
        for number, (source, target, gb, usd, kind, index, _) in enumerate(flows, start=1):
            pair = frozenset((source, target))
            nth = pair_count[pair]
            pair_count[pair] += 1
            p0 = (sites[source].x, sites[source].y)
            if source == target:  # a loop at the site
                p2, rad = (p0[0] + 0.25, p0[1] + 0.02), 2.5
            else:
                p2, rad = (sites[target].x, sites[target].y), 0.18 + 0.14 * nth
            colour = TRANSFER_COLOUR if kind == "transfer" else COPY_COLOUR
            lw = width(gb) if kind == "transfer" else 1.3
            ax.add_patch(FancyArrowPatch(p0, p2, connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                         mutation_scale=9 + 1.6 * lw, linewidth=lw, color=colour, alpha=0.8,
                                         linestyle="-" if kind == "transfer" else (0, (4, 3)),
                                         shrinkA=7, shrinkB=8, zorder=4, gid=f"{kind}-{index}"))
            dx, dy = p2[0] - p0[0], p2[1] - p0[1]  # matplotlib's arc3 control point (uniform scale)
            control = ((p0[0] + p2[0]) / 2 + rad * dy, (p0[1] + p2[1]) / 2 - rad * dx)
            tag = f"{'T' if kind == 'transfer' else 'C'}{number}"
            money = "free" if usd == 0 else f"{_money(usd)}"
            label_jobs.append((tag, f"{tag} {_volume(gb)}/mo, {money}", colour, p0, control, p2))

        # Labels: sites first, then flows (full text where it fits, else the tag of the flow table),
        # populations, and the names of unused regions only where there is room.
        for site in used:
            lines = [site.place, f"{_money(site.usd_per_month)}/mo"]
            w, h = _text_size(lines, 7.5)
            candidates = _around(site.x, site.y, 0.12) + _around(site.x, site.y, 0.3) + _around(site.x, site.y, 0.55)
            tx, ty, ha, va = placer.place(candidates, w, h, required=True)
            far = math.hypot(tx - site.x, ty - site.y) > 0.2
            ax.annotate("\n".join(lines), xy=(site.x, site.y), xytext=(tx, ty), ha=ha, va=va, fontsize=7.5,
                        fontweight="bold", color=KIND_STYLE[site.kind][2], zorder=8,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85),
                        arrowprops=dict(arrowstyle="-", color="#9E9E9E", linewidth=0.5, shrinkA=0, shrinkB=5)
                        if far else None)
        for tag, text, colour, p0, control, p2 in label_jobs:
            spots = []
            for t in (0.5, 0.38, 0.62, 0.28, 0.72):
                bx, by = _bezier(p0, control, p2, t)
                spots += [(bx, by, "center", "center"), (bx, by + 0.08, "center", "bottom"),
                          (bx, by - 0.08, "center", "top")]
            w, h = _text_size([text], 6.5, 0.58)
            spot = placer.place(spots, w, h, required=False)
            if spot is None:
                text = tag
                w, h = _text_size([text], 6.5, 0.62)
                spot = placer.place(spots + [(bx, by, "center", "center") for bx, by in
                                             (_bezier(p0, control, p2, t) for t in (0.15, 0.85, 0.1, 0.9))],
                                    w, h, required=True)
            ax.text(spot[0], spot[1], text, ha=spot[2], va=spot[3], fontsize=6.5, color=colour, zorder=7,
                    bbox=dict(boxstyle="round,pad=0.12", fc="white", ec=colour, linewidth=0.4, alpha=0.9))
        for name, x, y in population_marks:
            w, h = _text_size([name], 6.5)
            spot = placer.place(_around(x, y, 0.1) + _around(x, y, 0.25), w, h, required=True)
            ax.text(spot[0], spot[1], name, ha=spot[2], va=spot[3], fontsize=6.5, color=POPULATION_COLOUR,
                    style="italic", zorder=7)
        for site in sorted((s for s in sites.values() if not s.used), key=lambda s: s.place):
            w, h = _text_size([site.place], 6.0)
            spot = placer.place(_around(site.x, site.y, 0.08), w, h, required=False)
            if spot is not None:
                ax.text(spot[0], spot[1], site.place, ha=spot[2], va=spot[3], fontsize=6.0, color=UNUSED_COLOUR,
                        zorder=6)

        # Legend row below the map.
        handles = [Line2D([], [], marker=m, markersize=9, markerfacecolor=f, markeredgecolor=e, linestyle="none",
                          label=label) for m, f, e, label in KIND_STYLE.values()]
        handles.append(Line2D([], [], marker="o", markersize=6, markerfacecolor="white",
                              markeredgecolor=UNUSED_COLOUR, linestyle="none", label="allowed region, unused"))
        if population_marks:
            handles.append(Line2D([], [], marker="P", markersize=7, color=POPULATION_COLOUR, linestyle=":",
                                  label="user population (dotted: served from)"))
        for gb in sorted({10.0, 1000.0, max_gb}):
            if gb <= max_gb:
                handles.append(Line2D([], [], color=TRANSFER_COLOUR, linewidth=width(gb),
                                      label=f"transfer {_volume(gb)}/month"))
        handles.append(Line2D([], [], color=COPY_COLOUR, linewidth=1.3, linestyle=(0, (4, 3)),
                              label="dataset copy"))
        fig.legend(handles=handles, loc="center left", ncol=min(len(handles), 6), frameon=False, fontsize=8,
                   bbox_to_anchor=(fx(margin_x), fy(title_h + map_h + legend_h / 2)))

        top = title_h + map_h + legend_h
        for column, offset, header, kind, gid, lines, height in boxes:
            left = margin_x + max(column, 0) * (col_w + 0.2)
            box_w = map_w if column < 0 else col_w
            y_top = top + offset
            edge, colour = (("#616161", "#212121") if kind == "flows"
                            else (KIND_STYLE[kind][1], KIND_STYLE[kind][2]))
            fig.add_artist(FancyBboxPatch((fx(left), fy(y_top + height)), fx(box_w), height / fig_h,
                                          boxstyle="round,pad=0,rounding_size=0.004", transform=fig.transFigure,
                                          facecolor="white", edgecolor=edge, linewidth=1.2, gid=gid))
            fig.text(fx(left + 0.1), fy(y_top + 0.07), header, fontsize=head_size, fontweight="bold",
                     color=colour, va="top")
            for number, line in enumerate(lines):
                fig.text(fx(left + 0.1), fy(y_top + 0.07 + head_size * 1.35 / 72 + number * line_h), line,
                         fontsize=body_size, family=MONO, color="#212121", va="top")
        return fig


def write_diagram(plan, estate, catalog, path: str | Path) -> Path:
    """Draw the diagram and write it atomically to ``path`` (.png or .svg)."""
    import matplotlib

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise DiagramError(f"{path}: cannot write a '{suffix or '(none)'}' diagram. "
                           "To fix: name the output file .png or .svg")
    fig = build_figure(plan, estate, catalog)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": SVG_HASHSALT}):
            if suffix == ".svg":
                fig.savefig(temporary, format="svg", metadata={"Date": None})
            else:
                fig.savefig(temporary, format="png", dpi=PNG_DPI, metadata={"Software": None})
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
