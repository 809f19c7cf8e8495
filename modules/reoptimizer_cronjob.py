"""The scheduled re-optimizer, run in-house on the private cluster as a Kubernetes CronJob.

Each run clones the repository, runs ``python -m optimizer reoptimize --stack <stack>`` and, when the
plan lock changed, pushes a branch and opens a pull request whose body is the report. It needs no
Kubernetes API access at all, so its service account gets no Role and no token is mounted; the only
secret it reads is the one holding the Git token and the price-API credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from modules.common import Labels

__all__ = ["ReoptimizerCronJob", "ReoptimizerCronJobArgs", "REOPTIMIZE_SCRIPT"]

# Runs inside the job's container; stdout is the job log. A non-zero exit (e.g. 6: price refresh
# rejected, last good plan kept) marks the Job failed, so alerts on failed Jobs see it.
REOPTIMIZE_SCRIPT = """set -eu
git clone --depth 1 --branch "$GIT_BRANCH" "https://x-access-token:${GIT_TOKEN}@${GIT_REPOSITORY}" /work/repo
cd /work/repo
python -m pip install --quiet --no-cache-dir -r requirements.txt
python -m optimizer reoptimize --stack "$STACK" --prices "$PRICES" --report /work/report.md
if git diff --quiet -- "stacks/${STACK}.plan.lock.json"; then echo "no placement change"; exit 0; fi
git config user.name aiinfra-reoptimizer
git config user.email aiinfra-reoptimizer@users.noreply.github.com
git checkout -B "reoptimize/${STACK}"
git add "stacks/${STACK}.plan.lock.json"
git commit -m "reoptimize(${STACK}): new placement"
git push --force origin "reoptimize/${STACK}"
python -m checks.open_pull_request --repository "$GIT_REPOSITORY" --head "reoptimize/${STACK}" \\
  --base "$GIT_BRANCH" --title "Re-optimization of stack ${STACK}" --body-file /work/report.md
"""


@dataclass(frozen=True)
class ReoptimizerCronJobArgs:
    """Inputs of the in-cluster re-optimizer."""

    cluster: str
    """private cluster (site name) it runs on, for names and the preview."""
    provider: k8s.Provider
    """explicit provider of that cluster."""
    environment: str
    """environment label."""
    stack: str
    """stack it re-plans (``stacks/Pulumi.<stack>.yaml``)."""
    git_repository: str
    """repository host/path without scheme, e.g. github.com/acme/aiinfra."""
    schedule: str = "17 5 * * 1"
    """cron schedule (Mondays 05:17 UTC by default, like the GitHub workflow)."""
    image: str = "python:3.11-slim"
    """image with Python 3.11 and git; requirements are installed from the checkout at run time."""
    prices: str = "snapshot"
    """price source: snapshot, aws, gcp or dir:PATH."""
    git_branch: str = "main"
    """branch to re-plan and to open pull requests against."""
    credentials_secret: str = "aiinfra-reoptimizer"
    """Secret with GIT_TOKEN (push + pull request) and optional AWS_*/GCP_BILLING_API_KEY for live prices."""
    namespace: str = "aiinfra-reoptimizer"
    """namespace created for the job."""


class ReoptimizerCronJob(pulumi.ComponentResource):
    """Namespace, token-less service account and a non-overlapping CronJob for scheduled re-planning.

    Outputs: ``namespace`` and ``cron_job`` names.
    """

    def __init__(self, name: str, args: ReoptimizerCronJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:modules:ReoptimizerCronJob", name,
                         {"cluster": args.cluster, "stack": args.stack, "schedule": args.schedule}, opts)
        labels = Labels(environment=args.environment, workload="reoptimizer").as_dict()
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns", metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=labels), opts=child)
        in_namespace = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="reoptimizer", namespace=args.namespace, labels=labels),
            automount_service_account_token=False,  # it never talks to the Kubernetes API
            opts=in_namespace)
        secret_env = [
            k8s.core.v1.EnvVarArgs(name=key, value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=args.credentials_secret, key=key,
                                                                 optional=key != "GIT_TOKEN")))
            for key in ("GIT_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GCP_BILLING_API_KEY")]
        container = k8s.core.v1.ContainerArgs(
            name="reoptimize", image=args.image, command=["/bin/sh", "-c", REOPTIMIZE_SCRIPT],
            env=[k8s.core.v1.EnvVarArgs(name="STACK", value=args.stack),
                 k8s.core.v1.EnvVarArgs(name="PRICES", value=args.prices),
                 k8s.core.v1.EnvVarArgs(name="GIT_REPOSITORY", value=args.git_repository),
                 k8s.core.v1.EnvVarArgs(name="GIT_BRANCH", value=args.git_branch),
                 k8s.core.v1.EnvVarArgs(name="HOME", value="/work"), *secret_env],
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "1", "memory": "2Gi"},
                                                          limits={"cpu": "2", "memory": "4Gi"}),
            security_context=k8s.core.v1.SecurityContextArgs(
                run_as_non_root=True, run_as_user=10001, allow_privilege_escalation=False,
                read_only_root_filesystem=True, capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"])),
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="work", mount_path="/work")])
        self.cron_job = k8s.batch.v1.CronJob(
            f"{name}-cron",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="reoptimize", namespace=args.namespace, labels=labels),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=args.schedule, time_zone="Etc/UTC",
                concurrency_policy="Forbid",  # one run per stack at a time, as the plan-lock file lock demands
                successful_jobs_history_limit=3, failed_jobs_history_limit=5, starting_deadline_seconds=3600,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=1, active_deadline_seconds=3600,
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, "checkpointing": "false"}),
                            spec=k8s.core.v1.PodSpecArgs(
                                service_account_name="reoptimizer", automount_service_account_token=False,
                                restart_policy="Never", containers=[container],
                                volumes=[k8s.core.v1.VolumeArgs(
                                    name="work", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="5Gi"))],
                                security_context=k8s.core.v1.PodSecurityContextArgs(
                                    run_as_non_root=True, fs_group=10001,
                                    seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))))))),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace, account]))
        self.namespace = namespace.metadata.name
        self.register_outputs({"namespace": self.namespace, "cron_job": self.cron_job.metadata.name})
