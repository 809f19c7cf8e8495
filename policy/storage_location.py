"""sovereignty-storage-location: S3 and GCS buckets sit where their data classes may be stored."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from policy._common import (
    AWS_BUCKET_TYPES, GCS_BUCKET, bucket_location, class_violations, data_classes, label_map, plain,
    provider_props, resource_policy, sovereignty,
)

NAME = "sovereignty-storage-location"


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in AWS_BUCKET_TYPES and args.resource_type != GCS_BUCKET:
        return
    context = sovereignty()
    props = plain(args.props)
    provider = provider_props(args.provider)
    classes, problem = data_classes(label_map(args.resource_type, props, provider), context.rules)
    if classes is None:
        report_violation(f"cannot check where this bucket may store data: {problem}. "
                         f"To fix: label it 'data-classes' with the classes it holds ('none' if no data)", None)
        return
    if not classes:
        return
    location, label = bucket_location(args.resource_type, props, provider, context)
    if location is None:
        report_violation(f"cannot verify where this bucket stores data classes {', '.join(classes)}: {label}", None)
        return
    for message in class_violations(classes, location, context.rules):
        report_violation(f"{label}: {message}", None)


POLICY = resource_policy(
    name=NAME,
    description="Buckets are stored only in jurisdictions every data class they hold allows.",
    severity=Severity.CRITICAL,
    rule="policy/sovereignty.yaml data_classes.*.allowed_jurisdictions (GDPR Chapter V, HIPAA, contracts)",
    validate=validate,
    remediation="Move the bucket to a region (or GCS dual/multi-region) whose every member is allowed for "
                "its data classes, or correct its 'data-classes' label.",
    tags=["sovereignty", "storage"],
)
