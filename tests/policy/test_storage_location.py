"""sovereignty-storage-location: buckets sit where their data classes may be stored."""

from policy.storage_location import POLICY
from tests.policy.harness import UNKNOWN, check

S3 = "aws:s3/bucket:Bucket"
GCS = "gcp:storage/bucket:Bucket"
GDPR = "GDPR Chapter V (transfers to third countries), art. 44-49"


def test_eu_personal_s3_bucket_in_frankfurt_passes():
    assert check(POLICY, S3, {"region": "eu-central-1", "tags": {"data-classes": "eu-personal"}}) == []


def test_eu_personal_s3_bucket_in_us_region_fails():
    assert check(POLICY, S3, {"region": "us-east-1", "tags": {"data-classes": "eu-personal_internal"}}) == [
        f"region us-east-1 (set on the resource): data class 'eu-personal' may not be processed or stored in US; "
        f"allowed: EU ({GDPR})"]


def test_region_set_only_on_the_provider_is_checked():
    assert check(POLICY, S3, {"tags": {"data-classes": "eu-personal"}}, provider_inputs={"region": "us-west-2"}) == [
        f"region us-west-2 (set on the provider): data class 'eu-personal' may not be processed or stored in US; "
        f"allowed: EU ({GDPR})"]


def test_region_from_the_default_provider_config_is_checked():
    assert check(POLICY, S3, {"tags": {"data-classes": "us-phi"}}, defaults={"aws": {"region": "eu-west-1"}})[0].startswith(
        "region eu-west-1 (set on the provider): data class 'us-phi' may not be processed or stored in EU")


def test_resource_region_wins_over_provider_region():
    assert check(POLICY, S3, {"region": "eu-west-1", "tags": {"data-classes": "eu-personal"}},
                 provider_inputs={"region": "us-east-1"}) == []


def test_uk_region_is_not_allowed_for_an_eu_only_class():
    assert check(POLICY, S3, {"region": "eu-west-2", "tags": {"data-classes": "eu-personal"}}) == [
        f"region eu-west-2 (set on the resource): data class 'eu-personal' may not be processed or stored in UK; "
        f"allowed: EU ({GDPR})"]


def test_uk_region_is_allowed_for_an_adequacy_class():
    assert check(POLICY, S3, {"region": "eu-west-2", "tags": {"data-classes": "eu-personal-adequate"}}) == []


def test_missing_region_everywhere_is_reported():
    assert check(POLICY, S3, {"tags": {"data-classes": "eu-personal"}}) == [
        "cannot verify where this bucket stores data classes eu-personal: its region is set neither on the bucket "
        "nor on its provider"]


def test_unknown_region_during_preview_is_reported_not_passed():
    assert check(POLICY, S3, {"region": UNKNOWN, "tags": {"data-classes": "eu-personal"}}) == [
        "cannot verify where this bucket stores data classes eu-personal: its region is unknown during preview (region)"]


def test_unknown_provider_region_during_preview_is_reported():
    assert check(POLICY, S3, {"tags": {"data-classes": "eu-personal"}}, provider_inputs={"region": UNKNOWN}) == [
        "cannot verify where this bucket stores data classes eu-personal: its region is unknown during preview (region)"]


def test_odd_case_label_key_and_value_still_restrict_the_bucket():
    assert check(POLICY, S3, {"region": "us-east-1", "tags": {"Data-Classes": "EU-Personal"}}) == [
        f"region us-east-1 (set on the resource): data class 'eu-personal' may not be processed or stored in US; "
        f"allowed: EU ({GDPR})"]


def test_missing_data_class_label_is_reported():
    assert check(POLICY, S3, {"region": "us-east-1", "tags": {"team": "x"}}) == [
        "cannot check where this bucket may store data: it has no 'data-classes' label. To fix: label it "
        "'data-classes' with the classes it holds ('none' if no data)"]


def test_unknown_data_class_name_is_reported():
    messages = check(POLICY, S3, {"region": "us-east-1", "tags": {"data-classes": "eu-personal,internal"}})
    assert messages[0].startswith("cannot check where this bucket may store data: its 'data-classes' label names "
                                  "unknown data class(es) 'eu-personal,internal'")


def test_bucket_without_data_passes_anywhere():
    assert check(POLICY, S3, {"region": "us-east-1", "tags": {"data-classes": "none"}}) == []


def test_provider_default_tags_supply_the_data_class():
    assert check(POLICY, S3, {"region": "us-east-1"},
                 provider_inputs={"region": "us-east-1", "defaultTags": '{"tags":{"data-classes":"us-phi"}}'}) == []


def test_on_prem_only_class_may_not_be_stored_in_any_cloud_bucket():
    assert check(POLICY, GCS, {"location": "europe-west4", "labels": {"data-classes": "eu-health-sensitive"}}) == [
        "location europe-west4: data class 'eu-health-sensitive' may only be processed and stored on-prem "
        "(GDPR art. 9 (special categories) and hospital data-protection agreement)"]


def test_gcs_eu_multi_region_passes_for_eu_only_class():
    assert check(POLICY, GCS, {"location": "EU", "labels": {"data-classes": "eu-personal"}}) == []


def test_gcs_us_multi_region_fails_for_eu_only_class():
    assert check(POLICY, GCS, {"location": "US", "labels": {"data-classes": "eu-personal"}}) == [
        f"location US (multi-region): data class 'eu-personal' may not be processed or stored in US; "
        f"allowed: EU ({GDPR})"]


def test_gcs_dual_region_spanning_eu_and_uk_fails_for_eu_only_class():
    assert check(POLICY, GCS, {"location": "EUR5", "labels": {"data-classes": "eu-personal"}}) == [
        f"location EUR5 (dual-region: europe-west1, europe-west2): data class 'eu-personal' may not be processed "
        f"or stored in UK; allowed: EU ({GDPR})"]


def test_gcs_dual_region_within_the_eu_passes():
    assert check(POLICY, GCS, {"location": "eur4", "labels": {"data-classes": "eu-personal"}}) == []


def test_gcs_configurable_dual_region_is_resolved_from_data_locations():
    assert check(POLICY, GCS, {"location": "EU", "customPlacementConfig": {"dataLocations": ["EUROPE-WEST1", "EUROPE-WEST6"]},
                               "labels": {"data-classes": "eu-personal"}}) == [
        f"location EU (dual-region: europe-west1, europe-west6): data class 'eu-personal' may not be processed or "
        f"stored in CH; allowed: EU ({GDPR})"]


def test_gcs_plus_form_dual_region_is_resolved():
    assert check(POLICY, GCS, {"location": "europe-west4+us-east1", "labels": {"data-classes": "eu-personal"}}) == [
        f"location europe-west4+us-east1 (dual-region: europe-west4, us-east1): data class 'eu-personal' may not be "
        f"processed or stored in US; allowed: EU ({GDPR})"]


def test_gcs_unknown_location_code_is_reported():
    assert check(POLICY, GCS, {"location": "MARS1", "labels": {"data-classes": "eu-personal"}}) == [
        "location MARS1: data class 'eu-personal' is restricted to EU but the location's jurisdiction is unknown "
        "(no jurisdiction known for mars1)"]


def test_other_resource_types_are_ignored():
    assert check(POLICY, "aws:ec2/vpc:Vpc", {"region": "us-east-1", "tags": {"data-classes": "eu-personal"}}) == []
