"""Behaviour of the placement diagram: deterministic SVG, every site and workload named, one arrow per flow."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import pytest

from optimizer.catalog import load_catalog
from optimizer.diagram import DiagramError, write_diagram
from optimizer.estate import load_estate
from optimizer.solve import optimize

REPO = Path(__file__).resolve().parents[2]
ESTATES = {name: REPO / "stacks" / "estates" / f"{name}.yaml" for name in ("healthcare", "enterprise")}
SVG = "{http://www.w3.org/2000/svg}"


@lru_cache(maxsize=None)
def planned(name: str):
    catalog = load_catalog()
    loaded = load_estate(ESTATES[name], catalog)
    return optimize(loaded, catalog), loaded.estate, catalog


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


def svg_ids(path: Path, prefix: str) -> list[str]:
    root = ET.parse(path).getroot()
    return [element.get("id") for element in root.iter() if (element.get("id") or "").startswith(prefix)]


def test_svg_is_byte_identical_across_two_runs(tmp_path):
    plan, estate, catalog = planned("enterprise")
    first = write_diagram(plan, estate, catalog, tmp_path / "a.svg").read_bytes()
    second = write_diagram(plan, estate, catalog, tmp_path / "b.svg").read_bytes()
    assert first == second
    assert b"<dc:date>" not in first
    assert not list(tmp_path.glob(".*")), "no temporary file may be left behind"


@pytest.mark.parametrize("name", ["healthcare", "enterprise"])
def test_svg_names_every_site_of_the_plan_and_every_workload_in_a_text_element(tmp_path, name):
    plan, estate, catalog = planned(name)
    texts = svg_texts(write_diagram(plan, estate, catalog, tmp_path / "d.svg"))
    sites = ({p.place for p in plan.placements} | {t.source for t in plan.transfers}
             | {t.target for t in plan.transfers} | {c.target for c in plan.dataset_copies})
    for label in sorted(sites) + [p.workload for p in plan.placements]:
        assert any(label in text for text in texts), f"no text element names {label}"
    title = next(text for text in texts if text.startswith("Placement of"))
    assert f"${plan.total_usd_per_month:,.0f}/month" in title
    assert f"{plan.total_carbon_kg_per_month:,.0f} kgCO2e/month" in title
    assert plan.catalog_snapshot in title


@pytest.mark.parametrize("name", ["healthcare", "enterprise"])
def test_one_arrow_per_transfer_with_positive_volume_and_one_dashed_arrow_per_copy(tmp_path, name):
    plan, estate, catalog = planned(name)
    path = write_diagram(plan, estate, catalog, tmp_path / "d.svg")
    assert len(svg_ids(path, "transfer-")) == sum(1 for t in plan.transfers if t.gb_per_month > 0) > 0
    assert len(svg_ids(path, "copy-")) == len(plan.dataset_copies)


def test_a_transfer_without_volume_gets_no_arrow(tmp_path):
    plan, estate, catalog = planned("healthcare")
    transfers = list(plan.transfers)
    transfers[0] = transfers[0].model_copy(update={"gb_per_month": 0.0})
    quiet = plan.model_copy(update={"transfers": transfers})
    path = write_diagram(quiet, estate, catalog, tmp_path / "d.svg")
    ids = svg_ids(path, "transfer-")
    assert len(ids) == len(plan.transfers) - 1 and "transfer-0" not in ids


def test_png_is_a_valid_png_of_reasonable_size(tmp_path):
    plan, estate, catalog = planned("enterprise")
    data = write_diagram(plan, estate, catalog, tmp_path / "d.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 1500 <= width <= 4000 and 1000 <= height <= 5000
    assert 50_000 < len(data) < 5_000_000
    assert data.rstrip(b"\x00")[-8:-4] == b"IEND"


def test_serving_sites_and_populations_are_drawn_when_present(tmp_path):
    plan, estate, catalog = planned("healthcare")
    serve = plan.placement("serve-tumour-dashboards")
    serving = [SimpleNamespace(place="gcp:europe-west4", instance_type=serve.instance_type, nodes=2,
                               populations=["heidelberg-clinicians"], usd_per_month=900.0),
               SimpleNamespace(place="aws:eu-west-3", instance_type="g6.xlarge", nodes=1,
                               populations=["paris-clinicians"], usd_per_month=700.0)]
    placements = [SimpleNamespace(**{**dict(p), "serving_sites": serving}) if p.workload == serve.workload else p
                  for p in plan.placements]
    fake_plan = SimpleNamespace(**{**dict(plan), "placements": placements},
                                total_usd_per_month=plan.total_usd_per_month,
                                total_carbon_kg_per_month=plan.total_carbon_kg_per_month)
    populations = [SimpleNamespace(name="heidelberg-clinicians", location=SimpleNamespace(lat=49.4, lon=8.7)),
                   SimpleNamespace(name="paris-clinicians", location=SimpleNamespace(lat=48.86, lon=2.35))]
    fake_estate = SimpleNamespace(places=estate.places, private_site=estate.private_site, populations=populations)
    path = write_diagram(fake_plan, fake_estate, catalog, tmp_path / "d.svg")
    texts = svg_texts(path)
    box_headers = [text for text in texts if text.startswith("aws:eu-west-3  (")]
    assert box_headers and "$700" in box_headers[0], "the second serving site gets its own box with its cost"
    assert any("serve-tumour-dashboards" in text and "paris-clinicians" in text for text in texts)
    assert sorted(svg_ids(path, "population-")) == ["population-heidelberg-clinicians", "population-paris-clinicians"]


def test_an_unknown_image_type_is_an_input_error_with_a_fix(tmp_path):
    plan, estate, catalog = planned("healthcare")
    with pytest.raises(DiagramError, match="To fix: name the output file .png or .svg") as caught:
        write_diagram(plan, estate, catalog, tmp_path / "d.jpg")
    assert caught.value.exit_code == 2


def test_cli_diagram_plans_and_writes_the_svg(tmp_path):
    target = tmp_path / "out" / "healthcare.svg"
    result = subprocess.run([sys.executable, "-m", "optimizer", "diagram", str(ESTATES["healthcare"]), "-o",
                             str(target)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(b"<?xml")
