"""no-public-buckets: S3 buckets block all public access; GCS buckets enforce public access prevention."""

from __future__ import annotations

import json

from pulumi_policy import ReportViolation, Severity, StackValidationArgs

from policy._common import AWS_BUCKET_TYPES, GCS_BUCKET, Unknown, get, references, stack_policy, stack_props

NAME = "no-public-buckets"
PAB_TYPE = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACL_TYPES = frozenset({"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"})
POLICY_TYPE = "aws:s3/bucketPolicy:BucketPolicy"
GCS_IAM_TYPES = frozenset({"gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding"})
GCS_ACL_TYPES = frozenset({"gcp:storage/bucketAccessControl:BucketAccessControl",
                           "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl"})
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})


def _true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _public_grants(grants: object) -> bool:
    return any(isinstance(g, dict) and (get(g, "uri") in PUBLIC_GRANTEES or get(g, "grantee", "uri") in PUBLIC_GRANTEES)
               for g in (grants if isinstance(grants, list) else []))


def _public_statement(document: object) -> bool:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    for statement in get(document, "Statement", default=[]) or []:
        principal = get(statement, "Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"]))
        if everyone and get(statement, "Effect") == "Allow" and not get(statement, "Condition"):
            return True
    return False


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = [(r, stack_props(r)) for r in args.resources]
    buckets = [(r, p) for r, p in resources if r.resource_type in AWS_BUCKET_TYPES]
    blocks: dict[str, list[dict]] = {}
    for resource, props in resources:
        kind = resource.resource_type
        if kind == PAB_TYPE:
            for bucket in references(resource, props, "bucket", props.get("bucket"), buckets):
                blocks.setdefault(bucket.urn, []).append(props)
        elif kind in ACL_TYPES:
            acl = props.get("acl")
            grants = get(props, "accessControlPolicy", "grants", default=[])
            if acl in PUBLIC_ACLS or _public_grants(grants):
                report_violation(f"bucket ACL '{resource.name}' grants public access "
                                 f"({acl if acl in PUBLIC_ACLS else 'grant to AllUsers/AuthenticatedUsers'})",
                                 resource.urn)
        elif kind == POLICY_TYPE and _public_statement(props.get("policy")):
            report_violation(f"bucket policy '{resource.name}' allows any principal ('*') without a condition",
                             resource.urn)
        elif kind in GCS_IAM_TYPES:
            members = [props.get("member")] + list(props.get("members") or [])
            public = sorted(m for m in members if m in PUBLIC_MEMBERS)
            if public:
                report_violation(f"IAM grant '{resource.name}' makes bucket public ({', '.join(public)})", resource.urn)
        elif kind in GCS_ACL_TYPES and props.get("entity") in PUBLIC_MEMBERS:
            report_violation(f"ACL '{resource.name}' makes bucket public ({props.get('entity')})", resource.urn)
        elif kind == GCS_BUCKET:
            prevention = props.get("publicAccessPrevention")
            if isinstance(prevention, Unknown):
                report_violation(f"GCS bucket '{resource.name}': cannot verify publicAccessPrevention during preview",
                                 resource.urn)
            elif prevention != "enforced":
                report_violation(f"GCS bucket '{resource.name}' does not enforce public access prevention "
                                 f"(publicAccessPrevention is {prevention or 'unset'}, must be 'enforced')",
                                 resource.urn)
            ubla = props.get("uniformBucketLevelAccess")
            if not _true(ubla) and not isinstance(ubla, Unknown):
                report_violation(f"GCS bucket '{resource.name}' does not use uniform bucket-level access",
                                 resource.urn)
    for bucket, props in buckets:
        if props.get("acl") in PUBLIC_ACLS or _public_grants(props.get("grants")):
            report_violation(f"S3 bucket '{bucket.name}' has a public ACL", bucket.urn)
        if _public_statement(props.get("policy")):
            report_violation(f"S3 bucket '{bucket.name}' has a policy allowing any principal", bucket.urn)
        found = blocks.get(bucket.urn)
        if not found:
            report_violation(f"S3 bucket '{bucket.name}' has no public access block. "
                             f"To fix: add a BucketPublicAccessBlock with {', '.join(PAB_FLAGS)} all true",
                             bucket.urn)
            continue
        for block in found:
            unknown = [f for f in PAB_FLAGS if isinstance(block.get(f), Unknown)]
            off = [f for f in PAB_FLAGS if f not in unknown and not _true(block.get(f))]
            if off:
                report_violation(f"S3 bucket '{bucket.name}': public access block leaves {', '.join(off)} off",
                                 bucket.urn)
            if unknown:
                report_violation(f"S3 bucket '{bucket.name}': cannot verify public access block flags "
                                 f"{', '.join(unknown)} during preview", bucket.urn)


POLICY = stack_policy(
    name=NAME,
    description="No bucket is readable or writable by the public.",
    severity=Severity.CRITICAL,
    rule="AWS Foundational Security Best Practices S3.8 (block public access); CIS Google Cloud 5.1 and 5.2",
    validate=validate,
    remediation="Add a BucketPublicAccessBlock with all four flags true to every S3 bucket; set "
                "publicAccessPrevention='enforced' and uniformBucketLevelAccess=true on GCS buckets; "
                "remove public ACLs, policies and IAM members.",
    tags=["storage", "exposure"],
)
