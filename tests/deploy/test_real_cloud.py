"""`pulumi preview` of the real stacks through the Automation API - only where the CLI and credentials exist."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_MISSING = [name for name, ok in (
    ("the Pulumi CLI on PATH", shutil.which("pulumi") is not None),
    ("AWS credentials (AWS_ACCESS_KEY_ID or AWS_PROFILE)", bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"))),
    ("GCP credentials (GOOGLE_APPLICATION_CREDENTIALS)", bool(os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))),
    ("a Pulumi backend (PULUMI_ACCESS_TOKEN or PULUMI_BACKEND_URL)",
     bool(os.environ.get("PULUMI_ACCESS_TOKEN") or os.environ.get("PULUMI_BACKEND_URL"))),
) if not ok]

pytestmark = [pytest.mark.cloud,
              pytest.mark.skipif(bool(_MISSING), reason="real-cloud preview needs " + ", ".join(_MISSING))]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_pulumi_preview_of_the_stack_succeeds_against_the_real_providers(stack):
    from pulumi import automation

    workspace = automation.select_stack(stack_name=stack, work_dir=str(ROOT))
    result = workspace.preview(diff=False, color="never")
    assert result.change_summary.get("create", 0) + result.change_summary.get("same", 0) > 0
