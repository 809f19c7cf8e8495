"""imdsv2-required."""

from policy.imdsv2_required import POLICY
from tests.policy.harness import UNKNOWN, check

LT, NG = "aws:ec2/launchTemplate:LaunchTemplate", "aws:eks/nodeGroup:NodeGroup"


def test_launch_template_requiring_tokens_passes():
    assert check(POLICY, LT, {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2.0}}) == []


def test_launch_template_with_optional_tokens_fails():
    assert check(POLICY, LT, {"metadataOptions": {"httpTokens": "optional"}}) == [
        "metadataOptions.httpTokens is 'optional', so IMDSv1 stays enabled; set it to 'required'"]


def test_launch_template_without_metadata_options_fails():
    assert check(POLICY, LT, {}) == [
        "metadataOptions.httpTokens is not set, so IMDSv1 stays enabled; set it to 'required'"]


def test_unknown_tokens_setting_is_reported():
    assert check(POLICY, LT, {"metadataOptions": {"httpTokens": UNKNOWN}}) == [
        "cannot verify metadataOptions.httpTokens during preview (value is unknown)"]


def test_node_group_without_launch_template_fails():
    assert check(POLICY, NG, {"clusterName": "c"}) == [
        "the node group has no launch template, so IMDSv2 cannot be enforced; give it a launch template with "
        "metadataOptions.httpTokens = 'required'"]


def test_node_group_with_launch_template_passes():
    assert check(POLICY, NG, {"launchTemplate": {"id": "lt-1", "version": "1"}}) == []
