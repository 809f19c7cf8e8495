"""encryption-at-rest (stack policy: buckets matched to their encryption configurations)."""

from policy.encryption_at_rest import POLICY
from tests.policy.harness import UNKNOWN, messages, resource

S3 = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LT = "aws:ec2/launchTemplate:LaunchTemplate"


def sse(name, bucket, algorithm="aws:kms", **kw):
    return resource(SSE, name, {"bucket": bucket, "rules": [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}]}, **kw)


def test_bucket_with_kms_encryption_passes():
    assert messages(POLICY, resource(S3, "data", {"bucket": "acme-data"}), sse("data-sse", "acme-data")) == []


def test_bucket_without_encryption_fails():
    assert messages(POLICY, resource(S3, "data", {"bucket": "acme-data"})) == [
        "S3 bucket 'data' has no server-side encryption configuration. To fix: add a "
        "BucketServerSideEncryptionConfiguration with one of aws:kms, aws:kms:dsse, AES256"]


def test_encryption_of_another_bucket_does_not_count():
    assert messages(POLICY, resource(S3, "data", {"bucket": "acme-data"}), resource(S3, "logs", {"bucket": "acme-logs"}),
                    sse("logs-sse", "acme-logs")) == [
        "S3 bucket 'data' has no server-side encryption configuration. To fix: add a "
        "BucketServerSideEncryptionConfiguration with one of aws:kms, aws:kms:dsse, AES256"]


def test_disallowed_algorithm_fails():
    assert messages(POLICY, resource(S3, "data", {"bucket": "acme-data"}), sse("s", "acme-data", "AES256"),
                    config={"allowedAlgorithms": ["aws:kms"]}) == [
        "S3 bucket 'data' is encrypted with 'AES256', not one of aws:kms"]


def test_unknown_bucket_reference_matches_through_the_shared_parent_component():
    component = resource("aiinfra:modules:Storage", "s", {}, custom=False)
    assert messages(POLICY, component, resource(S3, "data", {}, parent=component.urn),
                    sse("s", UNKNOWN, parent=component.urn)) == []


def test_unknown_algorithm_is_reported():
    assert messages(POLICY, resource(S3, "data", {"bucket": "b"}), sse("s", "b", UNKNOWN)) == [
        "S3 bucket 'data': cannot verify its encryption algorithm during preview (rules[0]."
        "applyServerSideEncryptionByDefault.sseAlgorithm is unknown)"]


def test_inline_encryption_configuration_counts():
    inline = {"serverSideEncryptionConfiguration": {"rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}}}
    assert messages(POLICY, resource(S3, "data", inline)) == []


def test_unencrypted_launch_template_volume_fails():
    lt = {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 100.0}}]}
    assert messages(POLICY, resource(LT, "nodes", lt)) == [
        "launch template 'nodes': volume 0 (/dev/xvda) is not encrypted (ebs.encrypted must be true)"]


def test_encrypted_launch_template_volume_passes():
    lt = {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}]}
    assert messages(POLICY, resource(LT, "nodes", lt)) == []


def test_gcs_customer_managed_key_is_required_when_configured():
    assert messages(POLICY, resource("gcp:storage/bucket:Bucket", "g", {"location": "EU"}),
                    config={"requireCustomerManagedKeys": True}) == [
        "GCS bucket 'g' has no customer-managed key (encryption.defaultKmsKeyName)"]
