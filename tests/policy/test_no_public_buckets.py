"""no-public-buckets (stack policy)."""

from policy.no_public_buckets import POLICY
from tests.policy.harness import UNKNOWN, messages, resource

S3 = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
GCS = "gcp:storage/bucket:Bucket"
ALL_ON = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}


def test_bucket_with_full_public_access_block_passes():
    assert messages(POLICY, resource(S3, "data", {"bucket": "b"}), resource(PAB, "pab", {"bucket": "b", **ALL_ON})) == []


def test_bucket_without_public_access_block_fails():
    assert messages(POLICY, resource(S3, "data", {"bucket": "b"})) == [
        "S3 bucket 'data' has no public access block. To fix: add a BucketPublicAccessBlock with blockPublicAcls, "
        "blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true"]


def test_partial_public_access_block_fails():
    assert messages(POLICY, resource(S3, "data", {"bucket": "b"}),
                    resource(PAB, "pab", {"bucket": "b", **ALL_ON, "restrictPublicBuckets": False})) == [
        "S3 bucket 'data': public access block leaves restrictPublicBuckets off"]


def test_unknown_flag_is_reported():
    assert messages(POLICY, resource(S3, "data", {"bucket": "b"}),
                    resource(PAB, "pab", {"bucket": "b", **ALL_ON, "blockPublicPolicy": UNKNOWN})) == [
        "S3 bucket 'data': cannot verify public access block flags blockPublicPolicy during preview"]


def test_public_read_acl_fails():
    assert messages(POLICY, resource(S3, "data", {"bucket": "b"}), resource(PAB, "pab", {"bucket": "b", **ALL_ON}),
                    resource("aws:s3/bucketAclV2:BucketAclV2", "acl", {"bucket": "b", "acl": "public-read"})) == [
        "bucket ACL 'acl' grants public access (public-read)"]


def test_bucket_policy_for_everyone_fails():
    document = '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}'
    assert messages(POLICY, resource("aws:s3/bucketPolicy:BucketPolicy", "pol", {"bucket": "b", "policy": document})) == [
        "bucket policy 'pol' allows any principal ('*') without a condition"]


def test_gcs_bucket_with_enforced_prevention_passes():
    assert messages(POLICY, resource(GCS, "g", {"publicAccessPrevention": "enforced",
                                                "uniformBucketLevelAccess": True})) == []


def test_gcs_bucket_with_inherited_prevention_fails():
    assert messages(POLICY, resource(GCS, "g", {"publicAccessPrevention": "inherited",
                                                "uniformBucketLevelAccess": True})) == [
        "GCS bucket 'g' does not enforce public access prevention (publicAccessPrevention is inherited, must be "
        "'enforced')"]


def test_gcs_all_users_member_fails():
    assert messages(POLICY, resource("gcp:storage/bucketIAMMember:BucketIAMMember", "m",
                                     {"bucket": "g", "role": "roles/storage.objectViewer", "member": "allUsers"})) == [
        "IAM grant 'm' makes bucket public (allUsers)"]
