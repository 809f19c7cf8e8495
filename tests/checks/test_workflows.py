"""The pull-request workflows need no secrets on forks and never run PR code with write access."""

from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def load(name):
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads 'on' as True
    return document


def test_checks_run_on_pull_request_not_pull_request_target():
    assert set(load("pull-request.yml")["on"]) == {"pull_request"}


def test_jobs_that_run_on_forks_use_no_secrets_and_read_only_tokens():
    workflow = load("pull-request.yml")
    assert workflow["permissions"] == {"contents": "read"}
    for name in ("policy-check", "cost-diff"):
        assert "secrets." not in yaml.safe_dump(workflow["jobs"][name]), name
        assert "permissions" not in workflow["jobs"][name]


def test_secret_using_jobs_are_limited_to_same_repository_prs():
    for name, job in load("pull-request.yml")["jobs"].items():
        if "secrets." in yaml.safe_dump(job) or "permissions" in job:
            assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"], name


def test_offline_check_and_policy_pack_preview_commands_are_wired():
    text = (WORKFLOWS / "pull-request.yml").read_text()
    assert "python -m checks check --stack" in text
    assert "python -m checks costdiff --base" in text
    assert "--policy-pack policy --policy-pack-config" in text


def test_comment_workflow_never_checks_out_pr_code():
    workflow = load("pull-request-comment.yml")
    assert set(workflow["on"]) == {"workflow_run"}
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert not any(str(step.get("uses", "")).startswith("actions/checkout") for step in steps)
