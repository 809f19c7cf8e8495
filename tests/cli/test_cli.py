"""Behaviour of `python -m optimizer` as scripts see it: output, files and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HEALTHCARE = REPO / "stacks" / "estates" / "healthcare.yaml"


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimizer", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_plan_json_is_the_canonical_plan_with_a_hash_and_nothing_else_on_stdout():
    result = run_cli("plan", str(HEALTHCARE), "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["estate"] == "healthcare-case-study"
    assert plan["catalog_snapshot"] == "2026-11-29"
    assert plan["content_hash"].startswith("sha256:")
    assert {p["workload"] for p in plan["placements"]} == {
        "preprocess-deid-scans", "train-tumour-detector", "tune-tumour-detector", "serve-tumour-dashboards"}


def test_plan_out_writes_the_same_bytes_twice(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert run_cli("plan", str(HEALTHCARE), "--out", str(first)).returncode == 0
    assert run_cli("plan", str(HEALTHCARE), "--out", str(second)).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file may be left behind"


def test_explain_reports_the_baseline_saving_and_alternatives():
    result = run_cli("explain", str(HEALTHCARE), "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["baseline"]["total_usd_per_month"] > body["baseline"]["plan_total_usd_per_month"] > 0
    assert 0 < body["baseline"]["saving_percent"] < 100
    training = next(w for w in body["workloads"] if w["workload"] == "train-tumour-detector")
    assert any("sovereignty" in reason for reason in training["binding"])


def test_invalid_estate_exits_2_naming_file_field_and_fix(tmp_path):
    document = yaml.safe_load(HEALTHCARE.read_text())
    document["workloads"][0]["reads"][0]["dataset"] = "no-such-dataset"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    result = run_cli("plan", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr
    assert "workloads[0].reads[0].dataset" in result.stderr
    assert "To fix:" in result.stderr
    assert "Traceback" not in result.stderr


def test_infeasible_estate_exits_3_with_the_binding_constraint(tmp_path):
    document = yaml.safe_load(HEALTHCARE.read_text())
    train = next(w for w in document["workloads"] if w["name"] == "train-tumour-detector")
    train["accelerators"] = [{"type": "A100", "count": 32}]  # the hospital owns 16
    bad = tmp_path / "infeasible.yaml"
    bad.write_text(yaml.safe_dump(document))
    result = run_cli("plan", str(bad))
    assert result.returncode == 3, result.stderr
    assert "train-tumour-detector" in result.stderr
    assert "needs 32 A100, site has 16" in result.stderr


def test_unknown_option_is_a_usage_error_with_exit_2():
    assert run_cli("plan", str(HEALTHCARE), "--no-such-flag").returncode == 2


@pytest.mark.parametrize("missing", ["no-such-dir"])
def test_missing_catalog_directory_exits_2(missing):
    result = run_cli("plan", str(HEALTHCARE), "--catalog", missing)
    assert result.returncode == 2
    assert "catalog directory does not exist" in result.stderr


def test_committed_estate_schema_is_current():
    result = run_cli("schema")
    assert result.returncode == 0
    committed = (REPO / "schemas" / "estate.schema.json").read_text()
    assert json.loads(result.stdout) == json.loads(committed), "run: python -m optimizer schema -o schemas/estate.schema.json"


def test_a_skypilot_layout_catalog_directory_is_accepted_and_its_date_shown(tmp_path):
    bundled = REPO / "catalog" / "2026-11-29"
    for cloud in ("aws", "gcp"):
        (tmp_path / cloud).mkdir()
        lines = (bundled / f"{cloud}_vms.csv").read_text().splitlines()
        (tmp_path / cloud / "vms.csv").write_text("\n".join(lines) + "\n")
    import os
    stamp = 1_790_000_000  # 2026-09-21 UTC
    for path in tmp_path.rglob("vms.csv"):
        os.utime(path, (stamp, stamp))
    result = run_cli("plan", str(HEALTHCARE), "--catalog", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["catalog_snapshot"] == "2026-09-21 (file date)"
    assert plan["catalog_source"] == str(tmp_path)
