"""Run the policy pack's real ``pulumi_policy`` validation callbacks over recorded resources.

This is the offline twin of the engine's analyzer (``pulumi_policy.policy._PolicyAnalyzerServicer``):
props are wrapped in ``unknown_checking_proxy``, each resource gets its provider as a
``PolicyProviderResource`` (explicit provider resolved from ``"<urn>::<id>"``, else the default
provider built from stack config), enforcement levels come from a policy-pack config in the
format ``pulumi preview --policy-pack-config`` reads, and an ``UnknownValueError`` escaping a policy
becomes a reported advisory finding exactly as in the engine -- never a silent pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

__all__ = [
    "PackConfig", "PackConfigError", "Resource", "Violation", "analyze", "provider_for",
    "resource_validation_args", "stack_validation_args",
]

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Resource:
    """A registered resource as the mock engine saw it (mirrors deploy.preview.RegisteredResource)."""

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    provider: str = ""
    parent: str = ""
    custom: bool = True
    outputs: Optional[Mapping[str, Any]] = None

    @classmethod
    def of(cls, registered: Any) -> "Resource":
        """Adapt any object with RegisteredResource's attributes."""
        return cls(type=registered.type, name=registered.name, urn=registered.urn,
                   inputs=dict(registered.inputs or {}), provider=registered.provider or "",
                   parent=registered.parent or "", custom=bool(registered.custom),
                   outputs=getattr(registered, "outputs", None))


@dataclass(frozen=True)
class Violation:
    """One finding: a policy violation, or a policy that could not run (unknown value, crash)."""

    policy: str
    level: str  # mandatory | advisory
    severity: str
    message: str
    urn: str
    resource_type: str
    resource_name: str
    kind: str = "violation"  # violation | unknown | error

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"


class PackConfigError(ValueError):
    """The policy-pack config file is malformed."""


@dataclass(frozen=True)
class PackConfig:
    """Policy-pack config as ``--policy-pack-config`` takes it.

    ``{"all": "advisory", "<policy>": "mandatory" | {"enforcementLevel": "...", <property>: ...}}``
    """

    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> "PackConfig":
        if path is None or not Path(path).exists():
            return cls({})
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise PackConfigError(f"{path}: not valid JSON ({exc}). To fix: correct the JSON") from None
        if not isinstance(document, dict):
            raise PackConfigError(f"{path}: must be a JSON object of policy name -> level or settings")
        config = cls(document)
        for key in document:
            config.level_override(key)
        return config

    def level_override(self, name: str) -> EnforcementLevel | None:
        value = self.raw.get(name)
        if isinstance(value, dict):
            value = value.get("enforcementLevel")
        if value is None:
            return None
        try:
            return EnforcementLevel(value)
        except ValueError:
            raise PackConfigError(
                f"policy config '{name}': unknown enforcement level {value!r}. "
                "To fix: use advisory, mandatory or disabled") from None

    def level(self, policy: Policy) -> EnforcementLevel:
        return (self.level_override(policy.name) or self.level_override("all")
                or policy.enforcement_level or EnforcementLevel.ADVISORY)

    def properties(self, policy: Policy) -> dict[str, Any]:
        value = self.raw.get(policy.name)
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k != "enforcementLevel"}
        return {}

    def properties_by_name(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        return {k: v for k, v in value.items() if k != "enforcementLevel"} if isinstance(value, dict) else {}

    def with_properties(self, name: str, **properties: Any) -> "PackConfig":
        raw = dict(self.raw)
        current = raw.get(name)
        entry = dict(current) if isinstance(current, dict) else (
            {"enforcementLevel": current} if isinstance(current, str) else {})
        entry.update(properties)
        raw[name] = entry
        return PackConfig(raw)


def _options(parent: str = "") -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
                                 parent=parent or None)


def provider_for(resource: Resource, by_urn: Mapping[str, Resource],
                 default_providers: Mapping[str, Mapping[str, Any]]) -> Optional[PolicyProviderResource]:
    """The provider a resource is created with, as the engine hands it to a resource policy."""
    if resource.type.startswith("pulumi:providers:") or not resource.custom:
        return None
    if resource.provider:
        urn = resource.provider.rsplit("::", 1)[0] if resource.provider.count("::") > 3 else resource.provider
        provider = by_urn.get(urn)
        if provider is None:
            return PolicyProviderResource("pulumi:providers:unknown", unknown_checking_proxy({}), urn, urn)
        return PolicyProviderResource(provider.type, unknown_checking_proxy(dict(provider.inputs)),
                                      provider.urn, provider.name)
    package = resource.type.split(":", 1)[0]
    props = dict(default_providers.get(package, {}))
    return PolicyProviderResource(f"pulumi:providers:{package}", unknown_checking_proxy(props),
                                  f"urn:pulumi:default::{package}::pulumi:providers:{package}::default",
                                  "default")


def resource_validation_args(resource: Resource, provider: Optional[PolicyProviderResource],
                             config: Mapping[str, Any] | None = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(resource.type, unknown_checking_proxy(dict(resource.inputs)), resource.urn,
                                  resource.name, _options(resource.parent), provider, dict(config or {}))


def stack_validation_args(resources: Sequence[Resource], by_urn: Mapping[str, Resource],
                          default_providers: Mapping[str, Mapping[str, Any]],
                          config: Mapping[str, Any] | None = None) -> StackValidationArgs:
    """Stack policies see outputs; offline we give inputs overlaid with any mock outputs."""
    policy_resources: dict[str, PolicyResource] = {}
    for resource in resources:
        props = dict(resource.inputs)
        if resource.outputs:
            props.update(resource.outputs)
        policy_resources[resource.urn] = PolicyResource(
            resource.type, unknown_checking_proxy(props), resource.urn, resource.name, _options(resource.parent),
            provider_for(resource, by_urn, default_providers), None, [], {})
    for resource in resources:
        if resource.parent and resource.parent in policy_resources:
            policy_resources[resource.urn].parent = policy_resources[resource.parent]
    return StackValidationArgs(list(policy_resources.values()), dict(config or {}))


def _severity(policy: Policy) -> str:
    return policy.severity.value if policy.severity is not None else "unspecified"


def analyze(resources: Iterable[Resource], policies: Sequence[Policy], config: PackConfig | None = None,
            default_providers: Mapping[str, Mapping[str, Any]] | None = None) -> list[Violation]:
    """Every finding of every enabled policy over the resources (resource policies, then stack policies)."""
    config = config or PackConfig()
    default_providers = default_providers or {}
    resources = list(resources)
    by_urn = {r.urn: r for r in resources}
    findings: list[Violation] = []
    for policy in policies:
        level = config.level(policy)
        if level == EnforcementLevel.DISABLED:
            continue
        level_name = "mandatory" if level in (EnforcementLevel.MANDATORY, EnforcementLevel.REMEDIATE) else "advisory"
        properties = config.properties(policy)
        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                if resource.type == STACK_TYPE:
                    continue
                args = resource_validation_args(resource, provider_for(resource, by_urn, default_providers),
                                                properties)
                findings.extend(_run(policy, args, level_name, resource, resource.urn))
        elif isinstance(policy, StackValidationPolicy):
            args = stack_validation_args(resources, by_urn, default_providers, properties)
            findings.extend(_run(policy, args, level_name, None, ""))
    return findings


def _run(policy: Policy, args: Any, level: str, resource: Optional[Resource], default_urn: str) -> list[Violation]:
    found: list[Violation] = []
    by_urn = {}
    if isinstance(args, StackValidationArgs):
        by_urn = {r.urn: r for r in args.resources}

    def describe(urn: str) -> tuple[str, str]:
        if resource is not None:
            return resource.type, resource.name
        target = by_urn.get(urn)
        return (target.resource_type, target.name) if target is not None else (STACK_TYPE, "stack")

    def report(message: str, urn: Optional[str] = None) -> None:
        target = (resource.urn if resource is not None else (urn or default_urn))
        rtype, rname = describe(target)
        found.append(Violation(policy.name, level, _severity(policy), message or policy.description,
                               target, rtype, rname))

    try:
        result = policy.validate(args, report)
        if result is not None and hasattr(result, "__await__"):
            import asyncio
            asyncio.new_event_loop().run_until_complete(result)
    except UnknownValueError as error:
        rtype, rname = describe(default_urn)
        found.append(Violation(policy.name, "advisory", _severity(policy),
                               f"can't run policy '{policy.name}' during preview: {error.message}",
                               default_urn, rtype, rname, kind="unknown"))
    except _NotApplicableError:
        pass
    except Exception as error:  # noqa: BLE001 - a crashing policy must fail the check, not vanish
        rtype, rname = describe(default_urn)
        found.append(Violation(policy.name, "mandatory", _severity(policy),
                               f"policy '{policy.name}' failed: {type(error).__name__}: {error}",
                               default_urn, rtype, rname, kind="error"))
    return found
