"""The policy pack's contents: every policy, in one importable list (no server is started here).

``policy/__main__.py`` hands :func:`build_policies` to ``PolicyPack``; tests and the offline check
(``checks``) import this module directly, because constructing a ``PolicyPack`` never returns.
Enforcement levels default per policy and are overridden per stack with the usual policy-pack
config (``{"<policy-name>": "advisory" | "mandatory" | "disabled"}``), e.g. ``policy/config/<stack>.json``.
"""

from __future__ import annotations

from pulumi_policy import Policy

from policy import (
    accelerator_pools_tainted,
    budget,
    compute_jurisdiction,
    encryption_at_rest,
    imdsv2_required,
    mandatory_labels,
    no_public_buckets,
    replication_destination,
    spot_checkpointing_only,
    storage_location,
    workload_jurisdiction,
)

__all__ = ["PACK_NAME", "POLICY_MODULES", "build_policies", "pack_kwargs"]

PACK_NAME = "aiinfra-guardrails"
POLICY_MODULES = (
    storage_location,
    replication_destination,
    compute_jurisdiction,
    workload_jurisdiction,
    encryption_at_rest,
    no_public_buckets,
    imdsv2_required,
    accelerator_pools_tainted,
    spot_checkpointing_only,
    mandatory_labels,
    budget,
)


def build_policies() -> list[Policy]:
    """Every policy of the pack, in a stable order."""
    return [module.POLICY for module in POLICY_MODULES]


def pack_kwargs() -> dict:
    """Keyword arguments for ``PolicyPack`` (name, policies, description)."""
    return {
        "name": PACK_NAME,
        "policies": build_policies(),
        "description": "Data-sovereignty and guardrail policies for the aiinfra program "
                       "(rules from policy/sovereignty.yaml).",
    }
