"""An object-storage bucket for one data class in one cloud region: KMS-encrypted, versioned, never public."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

from modules.common import Labels

__all__ = ["ObjectStorage", "ObjectStorageArgs"]


@dataclass(frozen=True)
class ObjectStorageArgs:
    """Inputs of one bucket."""

    cloud: Literal["aws", "gcp"]
    """S3 or GCS."""
    region: str
    """AWS region / GCS location: the plan's place, so data stays where sovereignty rules allow."""
    provider: aws.Provider | gcp.Provider
    """explicit provider of that region (and project)."""
    bucket_name: str
    """globally unique bucket name."""
    labels: Labels
    """policy labels; ``data-classes`` says what the bucket may hold."""
    project: str | None = None
    """GCP project (GCS only)."""
    noncurrent_days: int = 30
    """keep overwritten/deleted object versions this long (recovery window), then expire them."""


class ObjectStorage(pulumi.ComponentResource):
    """S3: KMS key, bucket, versioning, SSE-KMS, public-access block, owner-enforced ownership, TLS-only policy.
    GCS: key ring + key, KMS grant to the GCS service agent, bucket with CMEK, versioning, uniform access,
    public access prevention enforced.

    Outputs: ``bucket_name``, ``url`` (s3:// or gs://).
    """

    bucket_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:modules:ObjectStorage", name,
                         {"cloud": args.cloud, "region": args.region, "bucketName": args.bucket_name,
                          "labels": args.labels.as_dict()}, opts)
        if args.cloud == "aws":
            self._s3(name, args)
        else:
            self._gcs(name, args)
        self.register_outputs({"bucketName": self.bucket_name, "url": self.url})

    def _s3(self, name: str, args: ObjectStorageArgs) -> None:
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        tags, region = args.labels.as_dict(), args.region
        key = aws.kms.Key(f"{name}-key", description=f"SSE-KMS key of {args.bucket_name}", enable_key_rotation=True,
                          deletion_window_in_days=30, region=region, tags=tags, opts=child)
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=args.bucket_name, region=region, tags=tags,
                               force_destroy=False, opts=child)
        aws.s3.BucketPublicAccessBlock(f"{name}-public-access", bucket=bucket.id, region=region,
                                       block_public_acls=True, block_public_policy=True, ignore_public_acls=True,
                                       restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket.id, region=region, opts=child,
                                       rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"))
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id, region=region, opts=child,
                                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                                    status="Enabled"))
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse", bucket=bucket.id, region=region, opts=child,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                bucket_key_enabled=True,
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=key.arn))])
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket.id, region=region, opts=child,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.noncurrent_days))])
        aws.s3.BucketPolicy(f"{name}-tls-only", bucket=bucket.id, region=region, opts=child,
                            policy=bucket.arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [{
                                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                                "Resource": [arn, f"{arn}/*"],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})))
        self.bucket_name = bucket.bucket
        self.url = bucket.bucket.apply(lambda b: f"s3://{b}")

    def _gcs(self, name: str, args: ObjectStorageArgs) -> None:
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        labels = args.labels.as_dict()
        ring = gcp.kms.KeyRing(f"{name}-ring", name=f"{args.bucket_name}-ring", project=args.project,
                               location=args.region, opts=child)
        key = gcp.kms.CryptoKey(f"{name}-key", name=f"{args.bucket_name}-key", key_ring=ring.id,
                                rotation_period="7776000s", labels=labels, opts=child)
        agent = gcp.storage.get_project_service_account_output(
            project=args.project, opts=pulumi.InvokeOutputOptions(parent=self, provider=args.provider))
        grant = gcp.kms.CryptoKeyIAMMember(f"{name}-gcs-agent", crypto_key_id=key.id,
                                           role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                                           member=agent.email_address.apply(lambda e: f"serviceAccount:{e}"),
                                           opts=child)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket", name=args.bucket_name, project=args.project, location=args.region.upper(),
            storage_class="STANDARD", uniform_bucket_level_access=True, public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=key.id),
            lifecycle_rules=[gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(days_since_noncurrent_time=args.noncurrent_days,
                                                                       with_state="ARCHIVED"))],
            labels=labels, force_destroy=False,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[grant]))
        self.bucket_name = bucket.name
        self.url = bucket.name.apply(lambda b: f"gs://{b}")
