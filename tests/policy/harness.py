"""Build engine-faithful policy arguments from camelCase input dicts and run a policy's real validate."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from pulumi_policy import Policy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from checks.analyzer import PackConfig, Resource, Violation, analyze

UNKNOWN = UNKNOWN_STRING_VALUE
STACK = "urn:pulumi:test::aiinfra::pulumi:pulumi:Stack::aiinfra-test"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::aiinfra::{type_}::{name}"


def resource(type_: str, name: str, inputs: Mapping[str, Any], *, provider: str = "", parent: str = "",
             outputs: Optional[Mapping[str, Any]] = None, custom: bool = True) -> Resource:
    return Resource(type=type_, name=name, urn=urn(type_, name), inputs=dict(inputs), provider=provider,
                    parent=parent, custom=custom, outputs=outputs)


def provider(package: str, name: str, inputs: Mapping[str, Any]) -> tuple[Resource, str]:
    """A provider resource and the reference string resources created with it carry."""
    res = resource(f"pulumi:providers:{package}", name, inputs)
    return res, f"{res.urn}::{name}-id"


def findings(policy: Policy, *resources: Resource, config: Optional[Mapping[str, Any]] = None,
             defaults: Optional[Mapping[str, Mapping[str, Any]]] = None) -> list[Violation]:
    pack_config = PackConfig({policy.name: dict(config)} if config else {})
    return analyze(resources, [policy], pack_config, defaults or {})


def messages(policy: Policy, *resources: Resource, **kwargs: Any) -> list[str]:
    """Messages of one policy over the resources, in report order."""
    return [v.message for v in findings(policy, *resources, **kwargs)]


def check(policy: Policy, type_: str, inputs: Mapping[str, Any], *, provider_inputs: Optional[Mapping[str, Any]] = None,
          config: Optional[Mapping[str, Any]] = None, defaults: Optional[Mapping[str, Mapping[str, Any]]] = None,
          name: str = "subject") -> list[str]:
    """Messages of one resource policy for one resource (optionally created with an explicit provider)."""
    extra = []
    ref = ""
    if provider_inputs is not None:
        prov, ref = provider(type_.split(":", 1)[0], f"{name}-provider", provider_inputs)
        extra.append(prov)
    return messages(policy, *extra, resource(type_, name, inputs, provider=ref), config=config, defaults=defaults)
