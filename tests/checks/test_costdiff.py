"""Cost diff between two revisions: plan files, checkouts with plan locks, git refs."""

import json
import subprocess

from checks.commands import costdiff_command
from checks.costdiff import diff_plans, load_side, render_markdown


def placement(workload, place, cost, nodes=1, purchase="on_demand", instance="g6.xlarge"):
    return {"workload": workload, "place": place, "instance_type": instance, "nodes": nodes, "purchase": purchase,
            "cost": {"compute": cost, "transfer": 0.0, "storage": 0.0}}


def plan(*placements, copies=0.0, budget=None):
    body = {"placements": list(placements), "budget_usd_per_month": budget,
            "dataset_copies": [{"dataset": "d", "usd_per_month": copies}] if copies else []}
    body["total_usd_per_month"] = round(sum(p["cost"]["compute"] for p in placements) + copies, 2)
    return body


BASE = plan(placement("serve", "aws:eu-central-1", 1000.0), placement("train", "hospital-dc", 500.0, instance="onprem-a100"))
HEAD = plan(placement("serve", "gcp:europe-west4", 800.0, nodes=2), placement("prep", "aws:eu-north-1", 50.0, purchase="spot"),
            budget=1000.0)


def test_workloads_are_classified_moved_added_removed():
    diff = diff_plans("prod", BASE, HEAD)
    assert {w.workload: (w.status, w.delta) for w in diff.workloads} == {
        "prep": ("added", 50.0), "serve": ("moved", -200.0), "train": ("removed", -500.0)}
    assert (diff.base_total, diff.head_total, diff.delta) == (1500.0, 850.0, -650.0)


def test_markdown_comment_shows_totals_and_each_change():
    text = render_markdown([diff_plans("prod", BASE, HEAD)], "main", "HEAD")
    assert "`main` → `HEAD`: **$1,500.00 → $850.00** (-$650.00/month, -43.3%)" in text
    assert "| `prod` | $1,500.00 | $850.00 | -$650.00 (-43.3%) | $1,000.00 |" in text
    assert ("| `serve` | moved | aws:eu-central-1 g6.xlarge x1 on_demand | gcp:europe-west4 g6.xlarge x2 on_demand "
            "| $1,000.00 | $800.00 | -$200.00 |") in text
    assert "| `prep` | added | — | aws:eu-north-1 g6.xlarge x1 spot | — | $50.00 | +$50.00 |" in text


def test_over_budget_head_is_flagged():
    text = render_markdown([diff_plans("prod", BASE, plan(placement("serve", "x", 2000.0), budget=1000.0))], "a", "b")
    assert "⚠️ over budget" in text


def test_new_stack_has_no_base():
    text = render_markdown([diff_plans("dev", None, HEAD)], "main", "HEAD")
    assert "New stack on this branch." in text and "| `dev` | — | $850.00 |" in text


def test_plan_json_files_are_diffed(tmp_path, capsys):
    (tmp_path / "base.json").write_text(json.dumps(BASE))
    (tmp_path / "head.json").write_text(json.dumps(HEAD))
    out = tmp_path / "diff.md"
    assert costdiff_command(str(tmp_path / "base.json"), str(tmp_path / "head.json"), ["prod"], out) == 0
    assert "| `prod` | $1,500.00 | $850.00 |" in out.read_text()


def test_invalid_base_is_invalid_input(tmp_path, capsys):
    assert costdiff_command("no-such-ref-xyz", str(tmp_path), ["prod"]) == 2
    assert "neither a plan JSON file, a directory nor a git ref" in capsys.readouterr().err


def test_git_ref_side_is_read_from_the_committed_plan_lock(tmp_path):
    repo = tmp_path / "repo"
    (repo / "stacks").mkdir(parents=True)
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    (repo / "stacks" / "prod.plan.lock.json").write_text(json.dumps(BASE))
    git("add", "stacks")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    (repo / "stacks" / "prod.plan.lock.json").write_text(json.dumps(HEAD))
    base = load_side("HEAD", ["prod"], repo=repo)
    head = load_side(str(repo), [], repo=repo)
    assert base["prod"]["total_usd_per_month"] == 1500.0 and head["prod"]["total_usd_per_month"] == 850.0
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout.strip() \
        == "M stacks/prod.plan.lock.json"
