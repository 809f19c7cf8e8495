"""Scheduled re-optimization: hysteresis over price trajectories, fault injection, atomic locks,
live price clients driven by recorded API responses, and the report against a golden file."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from optimizer.catalog import Catalog, Offer, load_catalog
from optimizer.estate import load_estate
from optimizer.lockfile import (PlanLockError, RunInProgressError, exclusive_run, lock_path, read_plan_lock,
                                write_files_atomically)
from optimizer.plan import Plan
from optimizer.prices import AwsPriceListSource, GcpBillingCatalogSource, validate_refresh
from optimizer.reoptimize import MigrationPolicy, replan
from optimizer.report import render_report

REPO = Path(__file__).resolve().parents[2]
RECORDED = Path(__file__).with_name("recorded")
HEALTHCARE = REPO / "stacks" / "estates" / "healthcare.yaml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def loaded(catalog):
    return load_estate(HEALTHCARE, catalog)


@pytest.fixture(scope="module")
def initial_plan(loaded, catalog) -> Plan:
    decision = replan(loaded, catalog, None)
    assert decision.status == "initial"
    return decision.adopted


def scaled(catalog: Catalog, factor) -> Catalog:
    """The catalog with every offer's prices multiplied by factor(offer)."""
    offers = []
    for offer in catalog.offers:
        f = factor(offer)
        offers.append(dataclasses.replace(
            offer, on_demand_usd_per_hour=offer.on_demand_usd_per_hour * f,
            spot_usd_per_hour=offer.spot_usd_per_hour * f if offer.spot_usd_per_hour is not None else None))
    return catalog.with_offers(offers)


def test_noisy_prices_over_many_runs_move_nothing(loaded, catalog, initial_plan):
    rng = random.Random(7)
    lock = initial_plan
    for run in range(15):
        noise = {offer: 1 + rng.uniform(-0.04, 0.04) for offer in catalog.offers}
        decision = replan(loaded, scaled(catalog, noise.__getitem__), lock)
        assert decision.status == "unchanged", (run, decision.reasons)
        assert decision.adopted is lock
        lock = decision.adopted
    assert lock.canonical_json() == initial_plan.canonical_json()


def test_a_lasting_price_drop_moves_exactly_the_affected_workload_once(loaded, catalog, initial_plan):
    serving = initial_plan.placement("serve-tumour-dashboards")
    assert serving.place == "gcp:europe-west4"
    cheaper_paris = lambda o: 0.5 if (o.cloud, o.region) == ("aws", "eu-west-3") else 1.0  # noqa: E731
    rng = random.Random(11)
    lock, moved_runs = initial_plan, []
    for run in range(10):
        noise = {offer: 1 + rng.uniform(-0.03, 0.03) for offer in catalog.offers}
        drop = cheaper_paris if run >= 3 else (lambda o: 1.0)
        decision = replan(loaded, scaled(catalog, lambda o: noise[o] * drop(o)), lock)
        if decision.status == "moved":
            moved_runs.append(run)
            assert [m.workload for m in decision.moves] == ["serve-tumour-dashboards"]
            assert decision.moves[0].target.startswith("aws:eu-west-3 ")
            assert decision.saving_usd_per_month > 100
        lock = decision.adopted
    assert moved_runs == [3]
    assert lock.placement("serve-tumour-dashboards").place == "aws:eu-west-3"
    others = {p.workload: (p.place, p.instance_type) for p in lock.placements if p.workload != "serve-tumour-dashboards"}
    assert others == {p.workload: (p.place, p.instance_type) for p in initial_plan.placements
                      if p.workload != "serve-tumour-dashboards"}


def test_a_saving_below_the_threshold_is_reported_but_not_adopted(loaded, catalog, initial_plan):
    # europe-west1 becomes 10% cheaper than europe-west4 for L4 serving: a saving of ~$80/month < $100.
    cheaper = lambda o: 0.9 if (o.cloud, o.region) == ("gcp", "europe-west1") else 1.0  # noqa: E731
    decision = replan(loaded, scaled(catalog, cheaper), initial_plan)
    assert decision.status == "unchanged"
    assert decision.adopted is initial_plan
    assert any("below the $100.00 threshold" in reason for reason in decision.reasons)
    lenient = replan(loaded, scaled(catalog, cheaper), initial_plan, MigrationPolicy(min_saving_percent=0,
                                                                                        min_saving_usd=0))
    assert lenient.status == "moved"


def test_an_offer_withdrawn_forces_a_replan_without_thresholds(loaded, catalog, initial_plan):
    gone = catalog.with_offers(o for o in catalog.offers
                               if not (o.cloud == "gcp" and o.region == "europe-west4" and o.instance_type == "g2-standard-4"))
    decision = replan(loaded, gone, initial_plan)
    assert decision.status == "forced"
    assert any("no longer possible" in reason for reason in decision.reasons)
    assert decision.adopted.placement("serve-tumour-dashboards").instance_type != "g2-standard-4" or \
        decision.adopted.placement("serve-tumour-dashboards").place != "gcp:europe-west4"


# --- plausibility gate (fault injection on the price data) ------------------------------------------

REGIONS = {("aws", "eu-north-1"), ("gcp", "europe-west4")}


def test_truncated_price_data_is_rejected(catalog):
    truncated = catalog.with_offers(o for o in catalog.offers if not (o.cloud == "aws" and o.region == "eu-north-1"))
    problems = validate_refresh(catalog, truncated, REGIONS)
    assert problems and "no offers at all for regions in use: aws:eu-north-1" in problems[0]


def test_prices_off_by_orders_of_magnitude_are_rejected(catalog):
    wrong_unit = scaled(catalog, lambda o: 1000.0 if o.cloud == "gcp" else 1.0)  # e.g. $/1000h read as $/h
    problems = validate_refresh(catalog, wrong_unit, REGIONS)
    assert len(problems) == 1 and "prices moved by more than 5x" in problems[0]


def test_an_ordinary_market_move_passes_the_gate(catalog):
    assert validate_refresh(catalog, scaled(catalog, lambda o: 1.3), REGIONS) == []


# --- locks and atomic writes ------------------------------------------------------------------------

def test_a_crash_between_writes_leaves_the_old_lock_intact(tmp_path, monkeypatch, initial_plan):
    lock = tmp_path / "prod.plan.lock.json"
    lock.write_text("old lock\n")
    real_replace = os.replace
    calls = []

    def crash_on_lock(src, dst):
        calls.append(Path(dst).name)
        if Path(dst) == lock:
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_lock)
    with pytest.raises(OSError, match="simulated crash"):
        write_files_atomically([(tmp_path / "report.md", "new report\n"), (lock, initial_plan.canonical_json())])
    assert lock.read_text() == "old lock\n"
    assert calls == ["report.md", "prod.plan.lock.json"]
    assert not list(tmp_path.glob(".*.tmp")), "temporary files must be cleaned up"


def test_two_runs_on_one_stack_cannot_both_write(tmp_path):
    lock = lock_path(tmp_path, "prod")
    with exclusive_run(lock):
        with pytest.raises(RunInProgressError, match="another re-optimization run"):
            with exclusive_run(lock):
                pass  # pragma: no cover - must not be reached
    with exclusive_run(lock):  # released after the first run ended
        pass


def test_a_second_process_is_refused_while_the_first_holds_the_stack(tmp_path):
    lock = lock_path(tmp_path, "prod")
    code = ("import sys; from pathlib import Path; from optimizer.lockfile import exclusive_run, RunInProgressError\n"
            "try:\n    exclusive_run(Path(sys.argv[1])).__enter__()\nexcept RunInProgressError:\n    sys.exit(5)\n")
    with exclusive_run(lock):
        result = subprocess.run([sys.executable, "-c", code, str(lock)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 5, result.stderr


def test_an_edited_lock_is_refused_with_a_fix(tmp_path, initial_plan):
    lock = tmp_path / "prod.plan.lock.json"
    lock.write_text(initial_plan.canonical_json().replace('"nodes": 3', '"nodes": 30'))
    with pytest.raises(PlanLockError, match="To fix: restore it from git"):
        read_plan_lock(lock)
    assert read_plan_lock(tmp_path / "absent.json") is None


# --- live price clients on recorded responses -------------------------------------------------------

def _small_catalog(catalog: Catalog) -> Catalog:
    keep = {("aws", "eu-north-1", "m6i.24xlarge"), ("aws", "eu-north-1", "g6.xlarge"),
            ("aws", "eu-north-1", "p4d.24xlarge"), ("gcp", "europe-west4", "g2-standard-4"),
            ("gcp", "europe-west4", "n2-standard-8"), ("gcp", "europe-west4", "tpu-v5p-8")}
    offers = [o for o in catalog.offers if (o.cloud, o.region, o.instance_type) in keep]
    if not any(o.instance_type == "p4d.24xlarge" for o in offers):  # keep the test meaningful either way
        offers.append(Offer("aws", "eu-north-1", "p4d.24xlarge", "A100", 8, 96.0, 1152.0, 35.0, 10.0, ("eun1-az1",)))
    return catalog.with_offers(offers)


def test_aws_price_list_client_reads_on_demand_and_median_latest_spot(catalog):
    baseline = _small_catalog(catalog)
    recorded = json.loads((RECORDED / "aws_get_products.json").read_text())
    spot = json.loads((RECORDED / "aws_describe_spot_price_history.json").read_text())
    for item in spot["SpotPriceHistory"]:
        item["Timestamp"] = datetime.fromisoformat(item["Timestamp"].replace("Z", "+00:00"))
    pricing = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    ec2 = boto3.client("ec2", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(pricing) as pricing_stub, Stubber(ec2) as ec2_stub:
        ec2_stub.add_response("describe_spot_price_history", spot, {
            "InstanceTypes": ["g6.xlarge", "m6i.24xlarge", "p4d.24xlarge"], "ProductDescriptions": ["Linux/UNIX"],
            "StartTime": ANY, "MaxResults": 1000})
        for instance_type in ("g6.xlarge", "m6i.24xlarge", "p4d.24xlarge"):
            pricing_stub.add_response("get_products", recorded[instance_type], {
                "ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "MaxResults": 100, "Filters": [
                    {"Type": "TERM_MATCH", "Field": "instanceType", "Value": instance_type},
                    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-north-1"},
                    {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
                    {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
                    {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"},
                    {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"}]})
        source = AwsPriceListSource(pricing_client=pricing, ec2_client_for=lambda region: ec2)
        fresh, notes = source.refresh(baseline, {("aws", "eu-north-1")})
        pricing_stub.assert_no_pending_responses()
        ec2_stub.assert_no_pending_responses()
    prices = {o.instance_type: o for o in fresh.offers_in("aws", "eu-north-1")}
    assert prices["m6i.24xlarge"].on_demand_usd_per_hour == 4.4064
    # latest per zone: a 1.5123 (not the older 1.9), b 1.6111, c 1.4012 -> median 1.5123
    assert prices["m6i.24xlarge"].spot_usd_per_hour == 1.5123
    assert prices["g6.xlarge"].on_demand_usd_per_hour == 0.8536
    assert prices["g6.xlarge"].spot_usd_per_hour == 0.301
    old_p4d = next(o for o in baseline.offers if o.instance_type == "p4d.24xlarge")
    assert prices["p4d.24xlarge"].on_demand_usd_per_hour == old_p4d.on_demand_usd_per_hour
    assert notes == (f"aws eu-north-1 p4d.24xlarge: no on-demand price returned, kept {old_p4d.on_demand_usd_per_hour}",)
    assert "live AWS prices" in fresh.snapshot_date
    assert validate_refresh(baseline, fresh, {("aws", "eu-north-1")}) == []


def test_gcp_billing_catalog_client_composes_machine_prices_from_skus(catalog):
    baseline = _small_catalog(catalog)
    pages = json.loads((RECORDED / "gcp_billing_skus_pages.json").read_text())
    requested = []

    def recorded_transport(url: str) -> dict:
        requested.append(url)
        return pages[len(requested) - 1]

    fresh, notes = GcpBillingCatalogSource("test-key", get_json=recorded_transport).refresh(
        baseline, {("gcp", "europe-west4")})
    assert len(requested) == 2 and "pageToken=page-2" in requested[1] and "key=test-key" in requested[0]
    prices = {o.instance_type: o for o in fresh.offers_in("gcp", "europe-west4")}
    g2 = prices["g2-standard-4"]  # 4 vCPU, 16 GiB, 1 L4
    assert g2.on_demand_usd_per_hour == pytest.approx(4 * 0.027523 + 16 * 0.003226 + 0.644046, abs=1e-6)
    assert g2.spot_usd_per_hour == pytest.approx(4 * 0.009633 + 16 * 0.001129 + 0.225416, abs=1e-6)
    n2 = prices["n2-standard-8"]  # the custom-core and commitment SKUs must not be used
    assert n2.on_demand_usd_per_hour == pytest.approx(8 * 0.034802 + 32 * 0.004664, abs=1e-6)
    assert n2.spot_usd_per_hour is None  # no spot N2 SKU recorded
    tpu_before = next(o for o in baseline.offers if o.instance_type == "tpu-v5p-8")
    assert prices["tpu-v5p-8"] == tpu_before
    assert notes == ("1 GCP offers (TPU slices and machine families without core/RAM SKUs) kept their previous prices",)


# --- the report and the CLI -------------------------------------------------------------------------

def test_the_report_for_a_known_change_matches_the_golden_file(loaded, catalog, initial_plan):
    cheaper_paris = lambda o: 0.5 if (o.cloud, o.region) == ("aws", "eu-west-3") else 1.0  # noqa: E731
    policy = MigrationPolicy()
    decision = replan(loaded, scaled(catalog, cheaper_paris), initial_plan, policy)
    text = render_report("prod", decision, policy, price_source="recorded test prices")
    golden = Path(__file__).with_name("golden_report.md")
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), "review the diff, then rerun with UPDATE_GOLDEN=1"


def test_cli_writes_the_lock_once_and_keeps_it_byte_identical_when_nothing_changes(tmp_path):
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.demo.yaml").write_text("config:\n  aiinfra:environment: dev\n"
                                             "  aiinfra:estate: stacks/estates/healthcare.yaml\n")
    (stacks / "estates").mkdir()
    (stacks / "estates" / "healthcare.yaml").write_text(HEALTHCARE.read_text())
    command = [sys.executable, "-m", "optimizer", "reoptimize", "--stack", "demo", "--stacks-dir", str(stacks),
               "--report", str(tmp_path / "report.md")]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    lock = stacks / "demo.plan.lock.json"
    before = lock.read_bytes()
    mtime = lock.stat().st_mtime_ns
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "unchanged" in second.stdout
    assert lock.read_bytes() == before and lock.stat().st_mtime_ns == mtime
    assert "No change" in (tmp_path / "report.md").read_text()


def test_cli_keeps_the_last_good_plan_when_the_price_source_is_broken(tmp_path):
    stacks = tmp_path / "stacks"
    (stacks / "estates").mkdir(parents=True)
    (stacks / "Pulumi.demo.yaml").write_text("config:\n  aiinfra:estate: stacks/estates/healthcare.yaml\n")
    (stacks / "estates" / "healthcare.yaml").write_text(HEALTHCARE.read_text())
    base = [sys.executable, "-m", "optimizer", "reoptimize", "--stack", "demo", "--stacks-dir", str(stacks),
            "--report", str(tmp_path / "report.md")]
    assert subprocess.run(base, cwd=REPO, capture_output=True, text=True).returncode == 0
    lock = stacks / "demo.plan.lock.json"
    good = lock.read_bytes()
    broken = tmp_path / "broken-catalog"  # a refresh that lost every GCP row: truncated data
    (broken / "aws").mkdir(parents=True)
    (broken / "aws" / "vms.csv").write_text((REPO / "catalog" / "2026-11-29" / "aws_vms.csv").read_text())
    result = subprocess.run(base + ["--prices", f"dir:{broken}"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 6, result.stderr
    assert "refresh rejected, last good plan kept" in result.stderr
    assert lock.read_bytes() == good
    report = (tmp_path / "report.md").read_text()
    assert "price refresh rejected" in report and "gcp:europe-west4" in report


# --- the program deploys the lock ------------------------------------------------------------------

def test_the_program_deploys_the_locked_plan_not_a_fresh_optimum(tmp_path, loaded, catalog, initial_plan):
    from optimizer.lockfile import plan_for_stack
    from optimizer.solve import optimize

    cheaper_paris = lambda o: 0.5 if (o.cloud, o.region) == ("aws", "eu-west-3") else 1.0  # noqa: E731
    moved = replan(loaded, scaled(catalog, cheaper_paris), initial_plan).adopted
    lock = tmp_path / "prod.plan.lock.json"
    lock.write_text(moved.canonical_json())
    deployed = plan_for_stack(loaded, catalog, lock, stack="prod")
    assert deployed.placement("serve-tumour-dashboards").place == "aws:eu-west-3"
    assert optimize(loaded, catalog).placement("serve-tumour-dashboards").place == "gcp:europe-west4"
    assert plan_for_stack(loaded, catalog, tmp_path / "absent.json", stack="prod") == optimize(loaded, catalog)


def test_a_lock_that_no_longer_fits_the_estate_is_refused_with_the_renewal_command(tmp_path, catalog, initial_plan):
    from optimizer.lockfile import plan_for_stack
    import yaml as yaml_module

    lock = tmp_path / "prod.plan.lock.json"
    lock.write_text(initial_plan.canonical_json())
    document = yaml_module.safe_load(HEALTHCARE.read_text())
    document["workloads"].append({"name": "new-job", "kind": "preprocessing", "team": "imaging-ml"})
    (tmp_path / "estate.yaml").write_text(yaml_module.safe_dump(document))
    grown = load_estate(tmp_path / "estate.yaml", catalog)
    with pytest.raises(PlanLockError, match=r"new: new-job; removed: none\). To fix: run 'python -m optimizer "
                                            r"reoptimize --stack prod'"):
        plan_for_stack(grown, catalog, lock, stack="prod")
    document["workloads"].pop()
    document["datasets"][1]["data_class"] = "eu-health-sensitive"  # de-identified scans reclassified: on-prem only
    (tmp_path / "estate.yaml").write_text(yaml_module.safe_dump(document))
    stricter = load_estate(tmp_path / "estate.yaml", catalog)
    with pytest.raises(PlanLockError, match="`preprocess-deid-scans` at aws:eu-north-1: data class "
                                            "'eu-health-sensitive' may only be processed and stored on-prem"):
        plan_for_stack(stricter, catalog, lock, stack="prod")


def test_replanning_keeps_multi_site_serving_and_federation(tmp_path, catalog):
    """Regression: the sticky re-plan must solve the same problem (serving sites, federated roles),
    only with migration penalties added - never a per-replica service mistaken for a whole one."""
    from optimizer.solve import optimize

    enterprise = load_estate(REPO / "stacks" / "estates" / "enterprise.yaml", catalog)
    fresh = optimize(enterprise, catalog)
    decision = replan(enterprise, catalog, fresh)
    assert decision.status == "unchanged"
    assert decision.current_usd_per_month == pytest.approx(fresh.total_usd_per_month, abs=0.01)
    assert decision.proposed.total_usd_per_month == pytest.approx(fresh.total_usd_per_month, abs=0.01)
    serving = decision.proposed.placement("serve-us-ranker")
    assert serving.serving_sites and serving.replicas == sum(s.replicas for s in serving.serving_sites)
    assert decision.proposed.placement("train-variant-caller-aggregator").federated_role == "aggregator"


# --- --apply and failing price sources --------------------------------------------------------------

def test_apply_is_blocked_by_a_mandatory_policy_violation(monkeypatch):
    import checks.commands
    from optimizer import cli

    calls = []
    monkeypatch.setattr(checks.commands, "check_command", lambda *args: calls.append(args) or 4)
    monkeypatch.setattr("shutil.which", lambda name: pytest.fail("pulumi must not run after a failed check"))
    assert cli._apply_stack("prod") == 4
    assert calls == [("prod", None, None, False)]


def test_apply_without_the_pulumi_cli_skips_with_a_clear_message(monkeypatch, capsys):
    import checks.commands
    from optimizer import cli

    monkeypatch.setattr(checks.commands, "check_command", lambda *args: 0)
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert cli._apply_stack("prod") == 0
    assert "--apply skipped: the Pulumi CLI is not installed" in capsys.readouterr().err


def test_a_live_price_source_that_fails_keeps_the_last_good_plan(tmp_path, monkeypatch):
    from botocore.exceptions import EndpointConnectionError
    from typer.testing import CliRunner

    from optimizer import cli

    stacks = tmp_path / "stacks"
    (stacks / "estates").mkdir(parents=True)
    (stacks / "Pulumi.demo.yaml").write_text("config:\n  aiinfra:estate: stacks/estates/healthcare.yaml\n")
    (stacks / "estates" / "healthcare.yaml").write_text(HEALTHCARE.read_text())
    runner = CliRunner()
    args = ["reoptimize", "--stack", "demo", "--stacks-dir", str(stacks), "--report", str(tmp_path / "r.md")]
    assert runner.invoke(cli.app, args).exit_code == 0
    lock = stacks / "demo.plan.lock.json"
    good = lock.read_bytes()

    class Unreachable:
        name = "AWS Price List API + EC2 spot price history"

        def refresh(self, baseline, regions):
            raise EndpointConnectionError(endpoint_url="https://api.pricing.us-east-1.amazonaws.com/")

    monkeypatch.setattr(cli, "_price_source", lambda spec: Unreachable())
    result = runner.invoke(cli.app, args + ["--prices", "aws"])
    assert result.exit_code == 6
    assert lock.read_bytes() == good
    assert "EndpointConnectionError" in (tmp_path / "r.md").read_text()


def test_a_lock_written_before_a_field_existed_still_verifies(tmp_path, initial_plan):
    """Schema evolution: the hash is checked over the file as written, so a lock from an older version
    (here: without the later 'serving_sites' and carbon fields) loads, and an edit to it is still caught."""
    import hashlib

    from optimizer.plan import _dump

    body = json.loads(initial_plan.canonical_json())
    for key in ("total_usd_per_month", "total_carbon_kg_per_month", "carbon_price_usd_per_tonne",
                "carbon_cap_kg_per_month"):
        body.pop(key)
    for placement in body["placements"]:
        for key in ("serving_sites", "carbon_kg_per_month", "federated_of", "federated_role"):
            placement.pop(key)
    body["content_hash"] = ""
    body["content_hash"] = "sha256:" + hashlib.sha256(_dump(body).encode()).hexdigest()
    lock = tmp_path / "old.plan.lock.json"
    lock.write_text(_dump(body))
    old = read_plan_lock(lock)
    assert old.placement("serve-tumour-dashboards").serving_sites == []
    assert old.content_hash == body["content_hash"]
    lock.write_text(_dump(body).replace('"nodes": 3', '"nodes": 4'))
    with pytest.raises(PlanLockError, match="hash mismatch"):
        read_plan_lock(lock)
