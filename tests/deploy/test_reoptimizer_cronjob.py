"""The in-cluster re-optimizer under mocks: schedule, no overlap, no Kubernetes API access, hardened pod."""

from __future__ import annotations

import pulumi_kubernetes as k8s
import pytest

from deploy.preview import run_offline
from modules.reoptimizer_cronjob import ReoptimizerCronJob, ReoptimizerCronJobArgs
from tests.deploy.conftest import recorded
from tests.deploy.helpers import assert_explicit_provider, assert_labels, find, get


def _job():
    provider = k8s.Provider("dc-frankfurt", kubeconfig="placeholder")
    ReoptimizerCronJob("reoptimizer", ReoptimizerCronJobArgs(
        cluster="dc-frankfurt", provider=provider, environment="prod", stack="prod",
        git_repository="github.com/acme-ai/aiinfra", prices="aws"))


@pytest.fixture(scope="module")
def resources():
    return recorded(_job)


def test_the_job_runs_on_schedule_and_never_overlaps_another_run(resources):
    cron = find(resources, "kubernetes:batch/v1:CronJob")
    assert get(cron, "spec.schedule") == "17 5 * * 1"
    assert get(cron, "spec.concurrencyPolicy") == "Forbid"
    assert get(cron, "spec.jobTemplate.spec.activeDeadlineSeconds") == 3600
    container = get(cron, "spec.jobTemplate.spec.template.spec.containers.0")
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["STACK"] == "prod" and env["PRICES"] == "aws"
    assert env["GIT_REPOSITORY"] == "github.com/acme-ai/aiinfra"
    assert "python -m optimizer reoptimize --stack \"$STACK\" --prices \"$PRICES\"" in container["command"][2]


def test_the_service_account_gets_no_kubernetes_api_access(resources):
    account = find(resources, "kubernetes:core/v1:ServiceAccount")
    assert get(account, "automountServiceAccountToken") is False
    cron = find(resources, "kubernetes:batch/v1:CronJob")
    pod = get(cron, "spec.jobTemplate.spec.template.spec")
    assert pod["serviceAccountName"] == "reoptimizer" and pod["automountServiceAccountToken"] is False
    rbac = [r for r in resources if r.type.startswith("kubernetes:rbac.authorization.k8s.io")]
    assert rbac == [], "the job needs no Role or ClusterRole"


def test_the_pod_is_hardened_and_reads_only_its_own_secret(resources):
    cron = find(resources, "kubernetes:batch/v1:CronJob")
    container = get(cron, "spec.jobTemplate.spec.template.spec.containers.0")
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]
    secrets = {item["valueFrom"]["secretKeyRef"]["name"] for item in container["env"] if "valueFrom" in item}
    assert secrets == {"aiinfra-reoptimizer"}


def test_every_object_targets_the_private_cluster_with_policy_labels(resources):
    for resource in resources:
        if resource.type.startswith("kubernetes:") and resource.custom and "providers" not in resource.type:
            assert_explicit_provider(resource)
            assert_labels(get(resource, "metadata.labels"), environment="prod", workload="reoptimizer")


def test_prod_runs_the_reoptimizer_on_its_frankfurt_data_centre():
    run = run_offline("prod")
    cron = find(run.resources, "kubernetes:batch/v1:CronJob", "reoptimizer-dc-frankfurt-cron")
    provider = run.provider_resource(cron)
    assert provider is not None and provider.name == "onprem-dc-frankfurt-k8s"  # the Frankfurt cluster's provider
    assert not [r for r in run_offline("dev").resources if r.type == "kubernetes:batch/v1:CronJob"
                and r.name.startswith("reoptimizer")]


def test_an_unknown_reoptimizer_site_is_a_config_error_with_a_fix():
    from deploy.config import StackConfigError

    with pytest.raises(StackConfigError, match="aiinfra:reoptimizer.site"):
        run_offline("prod", config_overrides={"aiinfra:reoptimizer": {"site": "nowhere",
                                                                       "gitRepository": "github.com/a/b"}})
