"""Typed stack configuration: every ``aiinfra:*`` key read once from Pulumi config and validated.

Keys (declared with descriptions in Pulumi.yaml; values in stacks/Pulumi.<stack>.yaml):

==============================  =========================================================================
``aiinfra:environment``         dev | staging | prod
``aiinfra:estate``              estate file, relative to the repository root
``aiinfra:catalog``             optional catalog directory (default: the bundled snapshot)
``aiinfra:budgetUsdPerMonth``   hard monthly budget handed to the optimizer
``aiinfra:gcpProject``          GCP project (required when the plan uses GCP)
``aiinfra:kubeconfigs``         secret object: private/edge site name -> kubeconfig contents
``aiinfra:kubernetesVersion``   EKS version / informational for GKE
``aiinfra:natGateways``         single | per-az
``aiinfra:apiAllowedCidrs``     CIDRs allowed to reach the EKS/GKE API endpoints (empty: private)
``aiinfra:deletionProtection``  protect clusters from deletion
``aiinfra:autoscaleHeadroomPercent``  extra nodes/replicas allowed above the plan (max = plan x (1 + p/100))
``aiinfra:trainingApi``         trainjob | pytorchjob
``aiinfra:inferenceServer``     kserve | triton
``aiinfra:imageRegistry``       registry prefix of the teams' training/preprocessing images
``aiinfra:gkeReleaseChannel``   RAPID | REGULAR | STABLE
``aiinfra:reoptimizer``         optional object: run the scheduled re-optimizer on a private cluster
==============================  =========================================================================

Kubeconfigs are read through the low-level config getter so the *site names* can be validated
synchronously; each value is wrapped with ``pulumi.Output.secret`` immediately and never leaves this
module in plain text.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from optimizer.errors import OptimizerError

if TYPE_CHECKING:
    from optimizer.estate import LoadedEstate

__all__ = ["KEYS", "NAMESPACE", "ReoptimizerConfig", "StackConfig", "StackConfigError", "load_stack_config", "project_root"]

NAMESPACE = "aiinfra"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# config key -> StackConfig field
KEYS: dict[str, str] = {
    "environment": "environment",
    "estate": "estate",
    "catalog": "catalog",
    "budgetUsdPerMonth": "budget_usd_per_month",
    "gcpProject": "gcp_project",
    "kubeconfigs": "kubeconfig_sites",
    "kubernetesVersion": "kubernetes_version",
    "natGateways": "nat_gateways",
    "apiAllowedCidrs": "api_allowed_cidrs",
    "deletionProtection": "deletion_protection",
    "autoscaleHeadroomPercent": "autoscale_headroom_percent",
    "trainingApi": "training_api",
    "inferenceServer": "inference_server",
    "imageRegistry": "image_registry",
    "gkeReleaseChannel": "gke_release_channel",
    "reoptimizer": "reoptimizer",
}
_FIELD_TO_KEY = {field: key for key, field in KEYS.items()}


class StackConfigError(OptimizerError):
    """A stack config value is missing or invalid; the message names the file, the key and the fix."""

    exit_code = 2

    def __init__(self, stack_file: str, problems: list[tuple[str, str, str]]):
        self.stack_file = stack_file
        self.problems = problems
        lines = [f"{stack_file}: {len(problems)} problem(s) in the stack config"]
        lines += [f"  - {key}: {what}. To fix: {fix}" for key, what, fix in problems]
        super().__init__("\n".join(lines))


class ReoptimizerConfig(BaseModel):
    """Where and how the in-cluster re-optimizer runs (modules/reoptimizer_cronjob.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    site: str = Field(min_length=1, description="private site whose cluster runs the CronJob")
    git_repository: str = Field(alias="gitRepository", pattern=r"^[a-z0-9.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
                                description="host/owner/repo the job clones and opens pull requests on")
    schedule: str = Field(default="17 5 * * 1", min_length=9, description="cron schedule")
    prices: str = Field(default="snapshot", pattern=r"^(snapshot|aws|gcp|dir:.+)$", description="price source")
    image: str = Field(default="python:3.11-slim", min_length=1, description="job image (Python 3.11 + git)")


class StackConfig(BaseModel):
    """The validated configuration of one stack (environment)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    stack: str = Field(description="stack name (dev, staging, prod)")
    environment: Literal["dev", "staging", "prod"] = Field(description="environment label on every resource")
    estate: str = Field(min_length=1, description="estate file relative to the repository root")
    catalog: str | None = Field(default=None, description="catalog directory relative to the repository root")
    budget_usd_per_month: float = Field(gt=0, description="hard monthly budget handed to the optimizer")
    gcp_project: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
                                    description="GCP project id")
    kubeconfig_sites: tuple[str, ...] = Field(default=(), description="sites with a kubeconfig secret")
    kubernetes_version: str = Field(default="1.33", pattern=r"^1\.\d+$")
    nat_gateways: Literal["single", "per-az"] = "single"
    api_allowed_cidrs: tuple[str, ...] = ()
    deletion_protection: bool = False
    autoscale_headroom_percent: int = Field(default=0, ge=0, le=400)
    training_api: Literal["trainjob", "pytorchjob"] = "trainjob"
    inference_server: Literal["kserve", "triton"] = "kserve"
    image_registry: str = Field(default="ghcr.io/aiinfra", min_length=1)
    gke_release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    reoptimizer: ReoptimizerConfig | None = Field(default=None, description="scheduled re-optimizer, if any")
    root: Path = Field(default=PROJECT_ROOT, description="repository root the relative paths resolve against")
    kubeconfigs: dict[str, Any] = Field(default_factory=dict, repr=False,
                                        description="site -> kubeconfig (pulumi.Output, secret)")

    @property
    def stack_file(self) -> str:
        return f"stacks/Pulumi.{self.stack}.yaml"

    @property
    def estate_path(self) -> Path:
        return self.root / self.estate

    @property
    def catalog_path(self) -> Path | None:
        return self.root / self.catalog if self.catalog else None

    def kubeconfig(self, site: str) -> pulumi.Output[str]:
        """The secret kubeconfig of a private or edge site."""
        if site not in self.kubeconfigs:
            raise StackConfigError(self.stack_file, [(
                f"{NAMESPACE}:kubeconfigs.{site}", "is missing: the plan deploys to this site",
                f"pulumi config set --secret --path 'kubeconfigs.{site}' \"$(cat {site}.kubeconfig)\" --stack {self.stack}")])
        return self.kubeconfigs[site]

    def with_budget(self, loaded: "LoadedEstate") -> "LoadedEstate":
        """The estate with this stack's budget as its hard limit (the optimizer enforces it)."""
        estate = loaded.estate.model_copy(update={"budget_usd_per_month": self.budget_usd_per_month})
        return replace(loaded, estate=estate)

    def max_with_headroom(self, planned: int) -> int:
        """Autoscaling ceiling for ``planned`` nodes or replicas."""
        return max(planned, -(-planned * (100 + self.autoscale_headroom_percent) // 100))


def project_root() -> Path:
    """Where Pulumi.yaml lives: the engine's root directory when it names one, else this repository."""
    root = pulumi.runtime.get_root_directory() if hasattr(pulumi.runtime, "get_root_directory") else None
    if root and (Path(root) / "Pulumi.yaml").is_file():
        return Path(root)
    return PROJECT_ROOT


def _raw(key: str) -> Any:
    return pulumi.runtime.get_config(f"{NAMESPACE}:{key}")


def _parse(key: str, value: Any, stack_file: str) -> Any:
    """Config values arrive as strings; objects, lists, numbers and booleans as JSON text."""
    if not isinstance(value, str):
        return value
    if key in ("budgetUsdPerMonth", "autoscaleHeadroomPercent", "deletionProtection", "apiAllowedCidrs", "kubeconfigs",
               "reoptimizer"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise StackConfigError(stack_file, [(f"{NAMESPACE}:{key}", f"'{value}' is not valid JSON/number/boolean",
                                                 "write a number, true/false, or a YAML list/mapping")]) from None
    return value


def load_stack_config(stack: str | None = None, root: Path | None = None) -> StackConfig:
    """Read every ``aiinfra:*`` key once and validate; raises StackConfigError with "To fix:" hints."""
    stack = stack or pulumi.get_stack()
    root = root or project_root()
    stack_file = f"stacks/Pulumi.{stack}.yaml"
    known = {f"{NAMESPACE}:{key}" for key in KEYS}
    present = {k for k in pulumi.runtime.config.CONFIG.get() if k.startswith(f"{NAMESPACE}:")}
    problems = [(key, "is not a known key", f"remove it or use one of: {', '.join(sorted(known))}")
                for key in sorted(present - known)]
    values: dict[str, Any] = {"stack": stack, "root": root}
    for key, field in KEYS.items():
        raw = _raw(key)
        if raw is None:
            continue
        values[field] = _parse(key, raw, stack_file)
    kubeconfigs = values.pop("kubeconfig_sites", None) or {}
    if not isinstance(kubeconfigs, dict) or not all(isinstance(v, str) and v for v in kubeconfigs.values()):
        problems.append((f"{NAMESPACE}:kubeconfigs", "must map each site name to its kubeconfig (a secret string)",
                         "pulumi config set --secret --path 'kubeconfigs.<site>' \"$(cat site.kubeconfig)\""))
        kubeconfigs = {}
    if kubeconfigs and not pulumi.runtime.config.is_config_secret(f"{NAMESPACE}:kubeconfigs"):
        problems.append((f"{NAMESPACE}:kubeconfigs", "holds kubeconfigs in plain text",
                         "set each value with 'pulumi config set --secret --path kubeconfigs.<site> ...'"))
    values["kubeconfig_sites"] = tuple(sorted(kubeconfigs))
    values["kubeconfigs"] = {site: pulumi.Output.secret(text) for site, text in kubeconfigs.items()}
    if problems:
        raise StackConfigError(stack_file, problems)
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as error:
        raise StackConfigError(stack_file, [_problem(item) for item in error.errors()]) from None
    if not config.estate_path.is_file():
        raise StackConfigError(stack_file, [(f"{NAMESPACE}:estate", f"'{config.estate}' does not exist under {root}",
                                             "point it at an estate file such as stacks/estates/enterprise.yaml")])
    if config.catalog_path is not None and not config.catalog_path.is_dir():
        raise StackConfigError(stack_file, [(f"{NAMESPACE}:catalog", f"'{config.catalog}' is not a directory",
                                             "remove the key to use the bundled snapshot, or fix the path")])
    return config


def _problem(item: dict[str, Any]) -> tuple[str, str, str]:
    field = str(item["loc"][0]) if item["loc"] else "(config)"
    key = f"{NAMESPACE}:{_FIELD_TO_KEY.get(field, field)}"
    if item["type"] == "missing":
        return key, "is required", f"add it under 'config:' in the stack file (see Pulumi.yaml for its description)"
    expected = (item.get("ctx") or {}).get("expected")
    fix = f"use one of {expected}" if expected else "correct the value (see Pulumi.yaml for its description)"
    return key, f"{item['msg']} (got {item.get('input')!r})", fix
