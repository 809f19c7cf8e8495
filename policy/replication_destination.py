"""sovereignty-replication-destination: replicas and copies of a bucket go only where its data classes may be stored.

A copy is an edge from a source to a destination bucket: S3 replication (the
BucketReplicationConfig resource or a bucket's inline replication configuration), Storage
Transfer Service jobs (GCS or S3 source -> GCS sink), and Kubernetes sync jobs (``rclone
sync|copy SRC s3://bucket/...|gs://bucket/...``, the program's dataset replicas), whose own
``data-classes`` label names what they copy. Otherwise the source's ``data-classes`` label decides;
the destination must sit in an allowed jurisdiction *and* carry every class it receives in its own
label (otherwise copying into a bucket labelled ``public`` would launder the data past every other
check).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from pulumi_policy import ReportViolation, Severity, StackValidationArgs

from policy._common import (
    AWS_BUCKET_TYPES, GCS_BUCKET, Unknown, bucket_identifiers, bucket_location, class_violations, data_classes,
    find_keys, get, is_k8s_workload, label_map, provider_props, references, sovereignty, stack_policy, stack_props,
)

NAME = "sovereignty-replication-destination"
S3_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
TRANSFER_JOB = "gcp:storagetransfer/transferJob:TransferJob"
SYNC_VERBS = frozenset({"sync", "copy", "cp", "rsync"})
_BUCKET_URL = re.compile(r"^(s3|gs)://([^/]+)")


def _edges(resource: Any, props: dict) -> Iterator[tuple[str, Any, str, Any]]:
    """(source prop, source ref, destination prop, destination ref) of each copy a resource declares."""
    kind = resource.resource_type
    if kind == S3_REPLICATION:
        for index, rule in enumerate(get(props, "rules", default=[]) or []):
            yield "bucket", props.get("bucket"), "rules", get(rule, "destination", "bucket")
    elif kind in AWS_BUCKET_TYPES:
        configs = [get(props, "replicationConfiguration")] + list(get(props, "replicationConfigurations", default=[]) or [])
        for config in configs:
            for rule in get(config, "rules", default=[]) or []:
                yield "", resource.urn, "replicationConfiguration", get(rule, "destination", "bucket")
    elif kind == TRANSFER_JOB:
        spec = get(props, "transferSpec", default={})
        source = get(spec, "gcsDataSource", "bucketName") or get(spec, "awsS3DataSource", "bucketName")
        sink = get(spec, "gcsDataSink", "bucketName")
        if source is not None or sink is not None:
            yield "transferSpec", source, "transferSpec", sink


def _sync_destinations(props: dict) -> list[object]:
    """Bucket URLs a sync job writes to (the last argument of ``rclone sync|copy SRC DST``)."""
    found: list[object] = []
    for containers in find_keys(get(props, "spec", default={}), "containers"):
        for container in containers if isinstance(containers, list) else []:
            command = [*(get(container, "command", default=[]) or []), *(get(container, "args", default=[]) or [])]
            words = [w for w in command if isinstance(w, (str, Unknown))]
            verbs = [i for i, w in enumerate(words) if w in SYNC_VERBS]
            if not verbs:
                continue
            operands = [w for w in words[verbs[0] + 1:] if isinstance(w, Unknown) or not w.startswith("-")]
            if len(operands) >= 2:
                found.append(operands[1])
    return found


def _bucket_of_url(url: object) -> object:
    if isinstance(url, Unknown):
        return url
    match = _BUCKET_URL.match(str(url))
    return match.group(2) if match else None


def _check_sync_jobs(resources: list, buckets: list, props_of: dict, context: object,
                     report_violation: ReportViolation) -> None:
    for resource, props in resources:
        if not is_k8s_workload(resource.resource_type):
            continue
        for url in _sync_destinations(props):
            name = _bucket_of_url(url)
            if name is None:
                continue  # a local path: the job's cluster is checked by sovereignty-workload-location
            what = f"copy '{resource.name}'"
            if isinstance(name, Unknown):
                report_violation(f"{what}: cannot verify the destination during preview ({name.path} is unknown)",
                                 resource.urn)
                continue
            classes, problem = data_classes(label_map(resource.resource_type, props), context.rules)
            if classes is None:
                report_violation(f"{what}: cannot tell what it copies: {problem}", resource.urn)
                continue
            if classes:
                _check_destination(what, "", classes, name,
                                   [t for t, tprops in buckets if name in bucket_identifiers(t, tprops)],
                                   props_of, context, resource.urn, report_violation)


def _check_destination(what: str, source_name: str, classes: list, dest_ref: object, destinations: list,
                       props_of: dict, context: object, urn: str, report_violation: ReportViolation) -> None:
    rules = context.rules  # type: ignore[attr-defined]
    origin = f" from '{source_name}'" if source_name else ""
    if not destinations:
        restricted = [c for c in classes if not rules.rule(c).any_jurisdiction or rules.rule(c).onprem_only]
        if restricted:
            report_violation(f"{what}: destination {dest_ref!s} is not a bucket of this stack, so its "
                             f"location cannot be checked for data classes {', '.join(restricted)}", urn)
        return
    for destination in destinations:
        dest_props = props_of[destination.urn]
        dest_provider = provider_props(destination.provider)
        location, label = bucket_location(destination.resource_type, dest_props, dest_provider, context)
        if location is None:
            report_violation(f"{what} to '{destination.name}': cannot verify the destination: {label}", urn)
        else:
            for message in class_violations(classes, location, rules):
                report_violation(f"{what}{origin} to '{destination.name}' ({label}): {message}", urn)
        dest_classes, _ = data_classes(label_map(destination.resource_type, dest_props, dest_provider), rules)
        missing = [c for c in classes if c not in (dest_classes or [])]
        if missing:
            source = f" from '{source_name}'" if source_name else ""
            report_violation(f"{what}: destination '{destination.name}' receives data classes "
                             f"{', '.join(missing)}{source} but its 'data-classes' label does not declare them", urn)


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    context = sovereignty()
    resources = [(r, stack_props(r)) for r in args.resources]
    buckets = [(r, p) for r, p in resources if r.resource_type in AWS_BUCKET_TYPES or r.resource_type == GCS_BUCKET]
    props_of = {r.urn: p for r, p in buckets}
    _check_sync_jobs(resources, buckets, props_of, context, report_violation)
    for resource, props in resources:
        for source_prop, source_ref, dest_prop, dest_ref in _edges(resource, props):
            if source_prop == "":
                sources = [r for r, _ in buckets if r.urn == source_ref]
            else:
                sources = references(resource, props, source_prop, source_ref, buckets)
            what = f"copy '{resource.name}'"
            if isinstance(dest_ref, Unknown) and not getattr(resource, "property_dependencies", None):
                report_violation(f"{what}: cannot verify the destination during preview ({dest_ref.path} is unknown)",
                                 resource.urn)
                continue
            if not sources:
                report_violation(f"{what}: source bucket {source_ref!s} is not a bucket of this stack, so the "
                                 "data classes it copies are unknown", resource.urn)
                continue
            source = sources[0]
            source_props = props_of[source.urn]
            classes, problem = data_classes(label_map(source.resource_type, source_props,
                                                      provider_props(source.provider)), context.rules)
            if classes is None:
                report_violation(f"{what}: cannot tell what it copies from '{source.name}': {problem}", resource.urn)
                continue
            if not classes:
                continue
            destinations = references(resource, props, dest_prop, dest_ref,
                                      [(r, p) for r, p in buckets if r.urn != source.urn])
            _check_destination(what, source.name, classes, dest_ref, destinations, props_of, context,
                               resource.urn, report_violation)


POLICY = stack_policy(
    name=NAME,
    description="Replication and copy destinations are allowed for the data classes they receive.",
    severity=Severity.CRITICAL,
    rule="policy/sovereignty.yaml data_classes.*.allowed_jurisdictions (GDPR Chapter V transfers)",
    validate=validate,
    remediation="Replicate or copy only into buckets in allowed jurisdictions, and label the destination with "
                "every data class it receives.",
    tags=["sovereignty", "storage", "replication"],
)
