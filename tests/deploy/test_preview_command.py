"""`python -m optimizer preview`: the tree and counts per provider, JSON, and exit codes."""

from __future__ import annotations

import json

from deploy.commands import preview_command


def test_the_json_preview_lists_every_resource_with_its_region_or_cluster_and_counts_per_provider(capsys):
    assert preview_command("dev", json_output=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stack"] == "dev" and data["resourceCount"] == sum(data["countsByProvider"].values())
    groups = [r for r in data["resources"] if r["type"] == "aws:eks/nodeGroup:NodeGroup"]
    assert groups and all(r["where"] == "aws us-east-1" for r in groups)
    assert all("amiType" in r["keyInputs"] for r in groups)
    assert data["outputs"]["kubeconfigs"] == "[secret]"


def test_the_table_preview_prints_the_tree_and_the_provider_counts(capsys):
    assert preview_command("dev", json_output=False) == 0
    out = capsys.readouterr().out
    assert "aws:eks/nodeGroup:NodeGroup" in out and "Resources per provider" in out and "cluster eks-us-east-1" in out


def test_an_unknown_stack_exits_2_with_a_fix(capsys):
    assert preview_command("qa", json_output=False) == 2
    err = capsys.readouterr().err
    assert "stack 'qa' has no config file" in err and "To fix: use one of: dev, prod, staging" in err
