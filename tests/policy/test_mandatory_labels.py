"""mandatory-labels."""

from policy.mandatory_labels import POLICY
from tests.policy.harness import UNKNOWN, check

S3, GCS, DEPLOY = "aws:s3/bucket:Bucket", "gcp:storage/bucket:Bucket", "kubernetes:apps/v1:Deployment"
GOOD = {"environment": "prod", "workload": "serve-x", "data-classes": "eu-personal_internal", "team": "ml",
        "cost-centre": "radiology-ai", "managed-by": "aiinfra"}


def test_complete_labels_pass():
    assert check(POLICY, S3, {"tags": GOOD}) == []


def test_bucket_without_tags_fails():
    assert check(POLICY, S3, {"region": "eu-west-1"}) == [
        "has no tags; required: environment, workload, data-classes, team, cost-centre, managed-by"]


def test_missing_key_is_named():
    assert check(POLICY, GCS, {"labels": {k: v for k, v in GOOD.items() if k != "team"}}) == ["missing label 'team'"]


def test_odd_case_key_is_reported_as_misspelt():
    labels = {**{k: v for k, v in GOOD.items() if k != "data-classes"}, "Data-Classes": "none"}
    assert check(POLICY, DEPLOY, {"metadata": {"labels": labels}}) == [
        "label key 'Data-Classes' must be spelled 'data-classes' (keys are case-sensitive)"]


def test_invalid_environment_value_fails():
    assert check(POLICY, S3, {"tags": {**GOOD, "environment": "Production"}}) == [
        "label 'environment' is 'Production', not one of dev, staging, prod"]


def test_environment_must_match_the_configured_stack_environment():
    assert check(POLICY, S3, {"tags": {**GOOD, "environment": "dev"}}, config={"environment": "prod"}) == [
        "label 'environment' is 'dev' but this stack is 'prod'"]


def test_unsorted_data_classes_fail():
    assert check(POLICY, S3, {"tags": {**GOOD, "data-classes": "internal_eu-personal"}}) == [
        "label 'data-classes' is 'internal_eu-personal'; write the classes sorted and once: 'eu-personal_internal'"]


def test_unknown_data_class_fails():
    assert check(POLICY, S3, {"tags": {**GOOD, "data-classes": "secret"}}) == [
        "label 'data-classes' names unknown data class(es) 'secret'"]


def test_upper_case_team_value_fails():
    assert check(POLICY, GCS, {"labels": {**GOOD, "team": "ML"}}) == [
        "label 'team' is 'ML'; use lower-case letters, digits and '-' (max 63)"]


def test_wrong_managed_by_fails():
    assert check(POLICY, S3, {"tags": {**GOOD, "managed-by": "terraform"}}) == [
        "label 'managed-by' is 'terraform', not 'aiinfra'"]


def test_aws_provider_default_tags_count():
    assert check(POLICY, S3, {"tags": {"Name": "b"}}, provider_inputs={"defaultTags": {"tags": GOOD}}) == []


def test_unknown_label_value_is_reported():
    assert check(POLICY, S3, {"tags": {**GOOD, "workload": UNKNOWN}}) == ["label 'workload' is unknown during preview"]


def test_resources_that_take_no_tags_are_ignored():
    assert check(POLICY, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {"bucket": "b"}) == []
