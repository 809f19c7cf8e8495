"""sovereignty-replication-destination (stack policy over copy edges)."""

from policy.replication_destination import POLICY
from tests.policy.harness import UNKNOWN, messages, provider, resource

S3 = "aws:s3/bucket:Bucket"
GCS = "gcp:storage/bucket:Bucket"
REPL = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
XFER = "gcp:storagetransfer/transferJob:TransferJob"
GDPR = "GDPR Chapter V (transfers to third countries), art. 44-49"


def bucket(name, region, classes, **kw):
    return resource(S3, name, {"bucket": name, "region": region, "tags": {"data-classes": classes}}, **kw)


def replication(source, destination):
    return resource(REPL, "repl", {"bucket": source, "role": "arn:aws:iam::1:role/r",
                                   "rules": [{"status": "Enabled", "destination": {"bucket": f"arn:aws:s3:::{destination}"}}]})


def test_replica_in_an_allowed_region_with_the_same_label_passes():
    assert messages(POLICY, bucket("src", "eu-central-1", "eu-personal"), bucket("dst", "eu-west-1", "eu-personal"),
                    replication("src", "dst")) == []


def test_eu_only_data_replicated_to_a_us_bucket_fails():
    assert messages(POLICY, bucket("src", "eu-central-1", "eu-personal"), bucket("dst", "us-east-1", "eu-personal"),
                    replication("src", "dst")) == [
        "copy 'repl' from 'src' to 'dst' (region us-east-1 (set on the resource)): data class 'eu-personal' may not "
        f"be processed or stored in US; allowed: EU ({GDPR})"]


def test_destination_labelled_with_a_weaker_class_is_data_laundering():
    assert messages(POLICY, bucket("src", "eu-central-1", "eu-personal"), bucket("dst", "eu-west-1", "public"),
                    replication("src", "dst")) == [
        "copy 'repl': destination 'dst' receives data classes eu-personal from 'src' but its 'data-classes' label "
        "does not declare them"]


def test_destination_region_set_only_on_its_provider_is_checked():
    prov, ref = provider("aws", "us", {"region": "us-west-2"})
    dst = resource(S3, "dst", {"bucket": "dst", "tags": {"data-classes": "eu-personal"}}, provider=ref)
    found = messages(POLICY, prov, bucket("src", "eu-central-1", "eu-personal"), dst, replication("src", "dst"))
    assert found == ["copy 'repl' from 'src' to 'dst' (region us-west-2 (set on the provider)): data class "
                     f"'eu-personal' may not be processed or stored in US; allowed: EU ({GDPR})"]


def test_destination_outside_the_stack_is_reported_for_restricted_data():
    assert messages(POLICY, bucket("src", "eu-central-1", "eu-personal"), replication("src", "elsewhere")) == [
        "copy 'repl': destination arn:aws:s3:::elsewhere is not a bucket of this stack, so its location cannot be "
        "checked for data classes eu-personal"]


def test_inline_replication_configuration_is_checked():
    src = resource(S3, "src", {"bucket": "src", "region": "eu-central-1", "tags": {"data-classes": "eu-personal"},
                               "replicationConfiguration": {"rules": [{"destination": {"bucket": "arn:aws:s3:::dst"}}]}})
    assert messages(POLICY, src, bucket("dst", "eu-west-2", "eu-personal"))[0].startswith(
        "copy 'src' from 'src' to 'dst' (region eu-west-2 (set on the resource)): data class 'eu-personal' may not "
        "be processed or stored in UK")


def test_transfer_job_into_a_dual_region_spanning_the_uk_fails():
    src = resource(GCS, "src", {"name": "src", "location": "EU", "labels": {"data-classes": "eu-personal"}})
    dst = resource(GCS, "dst", {"name": "dst", "location": "EUR5", "labels": {"data-classes": "eu-personal"}})
    job = resource(XFER, "copy", {"transferSpec": {"gcsDataSource": {"bucketName": "src"},
                                                   "gcsDataSink": {"bucketName": "dst"}}})
    assert messages(POLICY, src, dst, job) == [
        "copy 'copy' from 'src' to 'dst' (location EUR5 (dual-region: europe-west1, europe-west2)): data class "
        f"'eu-personal' may not be processed or stored in UK; allowed: EU ({GDPR})"]


def test_unknown_destination_is_reported():
    repl = resource(REPL, "repl", {"bucket": "src", "rules": [{"destination": {"bucket": UNKNOWN}}]})
    assert messages(POLICY, bucket("src", "eu-central-1", "eu-personal"), repl) == [
        "copy 'repl': cannot verify the destination during preview (rules[0].destination.bucket is unknown)"]


def sync_job(destination, classes="eu-personal"):
    return resource("kubernetes:batch/v1:CronJob", "sync", {
        "metadata": {"labels": {"data-classes": classes}},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{
            "name": "rclone", "image": "rclone/rclone:1.68.2",
            "args": ["sync", "dc:datasets/scans", destination, "--checksum"]}]}}}}}})


def test_sync_job_into_an_allowed_bucket_passes():
    assert messages(POLICY, bucket("eu-copy", "eu-west-1", "eu-personal"), sync_job("s3://eu-copy/datasets/scans")) == []


def test_sync_job_copying_eu_only_data_to_a_us_bucket_fails():
    assert messages(POLICY, bucket("us-copy", "us-east-1", "eu-personal"), sync_job("s3://us-copy/datasets/scans")) == [
        "copy 'sync' to 'us-copy' (region us-east-1 (set on the resource)): data class 'eu-personal' may not be "
        f"processed or stored in US; allowed: EU ({GDPR})"]


def test_sync_job_to_a_bucket_outside_the_stack_is_reported():
    assert messages(POLICY, sync_job("gs://somewhere/x")) == [
        "copy 'sync': destination somewhere is not a bucket of this stack, so its location cannot be checked for "
        "data classes eu-personal"]


def test_sync_job_to_a_local_path_is_left_to_the_workload_policy():
    assert messages(POLICY, sync_job("/data/scans")) == []
