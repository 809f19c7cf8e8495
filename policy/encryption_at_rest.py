"""encryption-at-rest: every bucket and node volume is encrypted at rest with an allowed algorithm."""

from __future__ import annotations

from pulumi_policy import PolicyConfigSchema, ReportViolation, Severity, StackValidationArgs

from policy._common import (
    AWS_BUCKET_TYPES, GCS_BUCKET, LAUNCH_TEMPLATE, Unknown, get, references, stack_policy, stack_props,
)

NAME = "encryption-at-rest"
SSE_TYPES = frozenset({
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
})
DEFAULT_ALGORITHMS = ["aws:kms", "aws:kms:dsse", "AES256"]

CONFIG_SCHEMA = PolicyConfigSchema(properties={
    "allowedAlgorithms": {"type": "array", "items": {"type": "string"}, "default": DEFAULT_ALGORITHMS,
                          "description": "S3 sseAlgorithm values accepted"},
    "requireCustomerManagedKeys": {"type": "boolean", "default": False,
                                   "description": "GCS buckets must name a Cloud KMS key (encryption.defaultKmsKeyName)"},
})


def _algorithms(rules: object) -> list[object]:
    if not isinstance(rules, list):
        return [rules] if isinstance(rules, Unknown) else []
    found: list[object] = []
    for rule in rules:
        value = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        if value is not None:
            found.append(value)
    return found


def _inline_algorithms(props: dict) -> list[object]:
    """Deprecated inline configuration: Bucket.serverSideEncryptionConfiguration / BucketV2 ...Configurations."""
    found: list[object] = []
    single = get(props, "serverSideEncryptionConfiguration")
    configs = [single] if single is not None else []
    configs += get(props, "serverSideEncryptionConfigurations", default=[]) or []
    for config in configs:
        if isinstance(config, Unknown):
            found.append(config)
            continue
        rules = get(config, "rule", default=None) or get(config, "rules", default=[])
        found.extend(_algorithms(rules if isinstance(rules, list) else [rules]))
    return found


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    allowed = list(config.get("allowedAlgorithms") or DEFAULT_ALGORITHMS)
    require_cmek = bool(config.get("requireCustomerManagedKeys", False))
    resources = [(r, stack_props(r)) for r in args.resources]
    buckets = [(r, p) for r, p in resources if r.resource_type in AWS_BUCKET_TYPES]
    covered: dict[str, list[object]] = {}
    for resource, props in resources:
        if resource.resource_type in SSE_TYPES:
            for bucket in references(resource, props, "bucket", props.get("bucket"), buckets):
                covered.setdefault(bucket.urn, []).extend(_algorithms(props.get("rules")))
    for bucket, props in buckets:
        algorithms = covered.get(bucket.urn, []) + _inline_algorithms(props)
        if not algorithms:
            report_violation(f"S3 bucket '{bucket.name}' has no server-side encryption configuration. "
                             f"To fix: add a BucketServerSideEncryptionConfiguration with one of {', '.join(allowed)}",
                             bucket.urn)
            continue
        for algorithm in algorithms:
            if isinstance(algorithm, Unknown):
                report_violation(f"S3 bucket '{bucket.name}': cannot verify its encryption algorithm during preview "
                                 f"({algorithm.path} is unknown)", bucket.urn)
            elif algorithm not in allowed:
                report_violation(f"S3 bucket '{bucket.name}' is encrypted with '{algorithm}', "
                                 f"not one of {', '.join(allowed)}", bucket.urn)
    for resource, props in resources:
        if resource.resource_type == GCS_BUCKET and require_cmek:
            key = get(props, "encryption", "defaultKmsKeyName")
            if isinstance(key, Unknown):
                continue  # a key created in the same stack is unknown in preview but present
            if not key:
                report_violation(f"GCS bucket '{resource.name}' has no customer-managed key "
                                 "(encryption.defaultKmsKeyName)", resource.urn)
        if resource.resource_type == LAUNCH_TEMPLATE:
            for index, mapping in enumerate(get(props, "blockDeviceMappings", default=[]) or []):
                ebs = get(mapping, "ebs")
                if not isinstance(ebs, dict):
                    continue
                encrypted = ebs.get("encrypted")
                if isinstance(encrypted, Unknown):
                    report_violation(f"launch template '{resource.name}': cannot verify that volume {index} is "
                                     "encrypted during preview", resource.urn)
                elif str(encrypted).lower() != "true":
                    report_violation(f"launch template '{resource.name}': volume {index} "
                                     f"({get(mapping, 'deviceName', default='?')}) is not encrypted "
                                     "(ebs.encrypted must be true)", resource.urn)


POLICY = stack_policy(
    name=NAME,
    description="Buckets and node volumes are encrypted at rest.",
    severity=Severity.HIGH,
    rule="AWS Foundational Security Best Practices S3.4 / EC2.3; GDPR art. 32 (security of processing)",
    validate=validate,
    remediation="Give every S3 bucket a BucketServerSideEncryptionConfiguration (aws:kms or AES256), set "
                "ebs.encrypted on launch-template volumes, and a KMS key on GCS buckets where required.",
    config_schema=CONFIG_SCHEMA,
    tags=["encryption", "storage"],
)
