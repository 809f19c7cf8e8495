"""Object storage under mocks: planned region, KMS encryption, versioning, no public access."""

from __future__ import annotations

import pulumi_aws as aws
import pulumi_gcp as gcp
import pytest

from modules.common import Labels
from modules.object_storage import ObjectStorage, ObjectStorageArgs
from tests.deploy.conftest import recorded
from tests.deploy.helpers import assert_explicit_provider, assert_labels, find, get


def _buckets():
    aws_provider = aws.Provider("aws-eu-central-1", region="eu-central-1")
    gcp_provider = gcp.Provider("gcp-europe-west4", project="acme-ai-prod", region="europe-west4")
    labels = Labels("prod", data_classes=("eu-personal",))
    ObjectStorage("s3", ObjectStorageArgs(cloud="aws", region="eu-central-1", provider=aws_provider,
                                          bucket_name="acme-prod-eu-central-1-eu-personal", labels=labels))
    ObjectStorage("gcs", ObjectStorageArgs(cloud="gcp", region="europe-west4", provider=gcp_provider,
                                           bucket_name="acme-prod-europe-west4-eu-personal", labels=labels,
                                           project="acme-ai-prod"))


@pytest.fixture(scope="module")
def stores():
    return recorded(_buckets)


def test_the_s3_bucket_lives_in_the_planned_region_with_the_data_class_tag(stores):
    bucket = find(stores, "aws:s3/bucket:Bucket")
    assert get(bucket, "region") == "eu-central-1"
    assert_labels(get(bucket, "tags"), data_classes="eu-personal", environment="prod")


def test_s3_objects_are_encrypted_with_the_bucket_kms_key(stores):
    sse = find(stores, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    rule = get(sse, "rules.0.applyServerSideEncryptionByDefault")
    assert rule["sseAlgorithm"] == "aws:kms"
    assert rule["kmsMasterKeyId"].startswith("arn:aws:kms:eu-central-1:")
    assert get(find(stores, "aws:kms/key:Key"), "enableKeyRotation") is True


def test_s3_public_access_is_blocked_on_all_four_switches(stores):
    block = find(stores, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for switch in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert get(block, switch) is True, switch


def test_s3_versioning_is_enabled_and_acls_are_disabled(stores):
    assert get(find(stores, "aws:s3/bucketVersioning:BucketVersioning"), "versioningConfiguration.status") == "Enabled"
    ownership = find(stores, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert get(ownership, "rule.objectOwnership") == "BucketOwnerEnforced"


def test_s3_denies_plain_http(stores):
    assert '"aws:SecureTransport": "false"' in get(find(stores, "aws:s3/bucketPolicy:BucketPolicy"), "policy")


def test_the_gcs_bucket_is_in_the_planned_location_with_cmek_versioning_and_no_public_access(stores):
    bucket = find(stores, "gcp:storage/bucket:Bucket")
    assert get(bucket, "location") == "EUROPE-WEST4"
    assert get(bucket, "publicAccessPrevention") == "enforced"
    assert get(bucket, "uniformBucketLevelAccess") is True
    assert get(bucket, "versioning.enabled") is True
    assert get(bucket, "encryption.defaultKmsKeyName").endswith("/cryptoKeys/acme-prod-europe-west4-eu-personal-key")
    assert_labels(get(bucket, "labels"), data_classes="eu-personal")


def test_the_gcs_service_agent_may_use_the_key_and_the_key_ring_is_in_the_bucket_location(stores):
    grant = find(stores, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert get(grant, "member").startswith("serviceAccount:service-")
    assert get(find(stores, "gcp:kms/keyRing:KeyRing"), "location") == "europe-west4"


def test_every_storage_resource_names_its_provider(stores):
    for resource in stores:
        if resource.custom and not resource.type.startswith("pulumi:providers:"):
            assert_explicit_provider(resource)
