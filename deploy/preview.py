"""Offline preview: run the real Pulumi program under the SDK's mock engine and return every resource.

No CLI, no credentials, no network. ``run_offline`` is a stable interface (the policy check builds on
it):

* config comes from ``Pulumi.yaml`` defaults and ``stacks/Pulumi.<stack>.yaml`` (then
  ``config_overrides``); values are handed to the program as the engine would (strings; objects and
  lists as JSON). **Secrets**: a ``secure:`` value cannot be decrypted without the stack's secrets
  provider, so each one is replaced by the placeholder ``"<secret:<key path>>"`` and the top-level key is
  marked secret (``pulumi.runtime.is_config_secret`` is true, ``Config.require_secret*`` returns a
  secret Output). Policies therefore see *that* a value is secret, never its content.
* the program is ``__main__.py`` itself, run with ``runpy`` inside ``pulumi.runtime.set_mocks(...,
  preview=False)`` (``preview=True`` would leave computed outputs unknown and skip dependent inputs).
* the mocks return the provider-computed fields other resources consume (ids, ARNs, names, cluster
  endpoints and certificates, service-account e-mails, availability zones); everything else is the
  inputs echoed back.
* each resource is captured at registration with its parent and provider, so ``RegisteredResource``
  carries what a policy needs. Inputs use engine (camelCase) names and numbers are floats.
"""

from __future__ import annotations

import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pulumi
import yaml
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from deploy.config import StackConfigError
from optimizer.plan import Plan

__all__ = ["OfflineMocks", "OfflineRun", "RecordingMonitor", "RegisteredResource", "SECRET_PLACEHOLDER",
           "read_stack_config", "record_resources", "run_offline"]

PROJECT = "aiinfra"
CODE_ROOT = Path(__file__).resolve().parent.parent
SECRET_PLACEHOLDER = "<secret:{path}>"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class RegisteredResource:
    """One resource as the engine would receive it."""

    type: str
    """type token, e.g. ``aws:eks/nodeGroup:NodeGroup`` or ``aiinfra:modules:EksCluster``."""
    name: str
    """logical name."""
    urn: str
    """mock URN (the type part is prefixed with the parent chain, not engine-identical)."""
    inputs: dict[str, Any]
    """inputs as the engine receives them: camelCase keys, numbers as floats; component props for components."""
    provider: str
    """``""`` for the default provider, else ``"<provider urn>::<provider id>"``."""
    parent: str | None
    """URN of the parent (``None`` for the stack itself)."""
    custom: bool
    """True for real resources, False for components."""
    secret_paths: tuple[str, ...] = ()
    """dotted input paths that were Pulumi secrets (their values are unwrapped in ``inputs``)."""

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass(frozen=True)
class OfflineRun:
    """Result of one offline run."""

    stack: str
    resources: tuple[RegisteredResource, ...]
    outputs: dict[str, Any]
    """stack outputs, resolved (secret outputs stay resolved here; see ``secret_outputs``)."""
    secret_outputs: frozenset[str]
    """names of stack outputs that are secrets."""
    plan: Plan
    config: dict[str, str] = field(repr=False)
    """the config map the program saw (secrets as placeholders)."""

    def of_type(self, type_: str) -> list[RegisteredResource]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, RegisteredResource]:
        return {r.urn: r for r in self.resources}

    def provider_resource(self, resource: RegisteredResource) -> RegisteredResource | None:
        """The explicit provider a resource uses (None for the default provider)."""
        return self.by_urn().get(resource.provider_urn) if resource.provider else None


# -- config ------------------------------------------------------------------------------------

def _secure_to_placeholder(value: Any, path: str, found: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            found.append(path)
            return SECRET_PLACEHOLDER.format(path=path)
        return {k: _secure_to_placeholder(v, f"{path}.{k}", found) for k, v in value.items()}
    if isinstance(value, list):
        return [_secure_to_placeholder(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _full_key(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def read_stack_config(stack: str, repo_root: Path | None = None,
                      config_overrides: Mapping[str, object] | None = None) -> tuple[dict[str, str], list[str]]:
    """(config map as the engine passes it, secret keys) for a stack; raises StackConfigError."""
    root = repo_root or CODE_ROOT
    stack_path = root / "stacks" / f"Pulumi.{stack}.yaml"
    stack_file = f"stacks/Pulumi.{stack}.yaml"
    if not stack_path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (root / "stacks").glob("Pulumi.*.yaml"))
        raise StackConfigError(stack_file, [("(file)", f"stack '{stack}' has no config file",
                                             f"use one of: {', '.join(known) or '(none)'}")])
    try:
        project = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
        document = yaml.safe_load(stack_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise StackConfigError(stack_file, [("(file)", f"cannot be read as YAML ({error})",
                                             "fix the YAML syntax")]) from None
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, declaration in (project.get("config") or {}).items():
        if isinstance(declaration, dict) and "default" in declaration:
            config[_full_key(key)] = _as_config_string(declaration["default"])
        elif isinstance(declaration, dict) and "value" in declaration:
            config[_full_key(key)] = _as_config_string(declaration["value"])
    for key, value in (document.get("config") or {}).items():
        found: list[str] = []
        plain = _secure_to_placeholder(value, key, found)
        config[_full_key(key)] = _as_config_string(plain)
        if found:
            secret_keys.append(_full_key(key))
    for key, value in (config_overrides or {}).items():
        config[_full_key(key)] = _as_config_string(value)
    return config, secret_keys


# -- mocks -------------------------------------------------------------------------------------

def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:12]


class OfflineMocks(pulumi.runtime.Mocks):
    """Deterministic provider-computed outputs for the resource types the program uses."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        typ, name = args.typ, args.name
        rid = f"{name}-{_digest(typ, name)}"
        state: dict[str, Any] = {**inputs}
        region = str(inputs.get("region") or "us-east-1")
        if not args.custom:  # components: props are recorded, but echoing them back would clash with
            return None, {}  # the class's annotated attributes (the SDK translates returned state by them)
        if typ.startswith("pulumi:providers:"):
            return rid, state
        if typ.startswith("aws:"):
            state.setdefault("arn", f"arn:aws:{typ.split(':')[1].split('/')[0]}:{region}:{ACCOUNT}:{name}")
        if typ == "aws:eks/cluster:Cluster":
            cluster = inputs.get("name") or rid
            state.update(name=cluster, arn=f"arn:aws:eks:{region}:{ACCOUNT}:cluster/{cluster}",
                         endpoint=f"https://{_digest(cluster).upper()}.gr7.{region}.eks.amazonaws.com",
                         certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm1vY2sK"},
                         status="ACTIVE")
        elif typ == "aws:iam/role:Role":
            role = inputs.get("name") or rid
            state.update(name=role, arn=f"arn:aws:iam::{ACCOUNT}:role/{role}")
        elif typ == "aws:kms/key:Key":
            state.update(keyId=rid, arn=f"arn:aws:kms:{region}:{ACCOUNT}:key/{rid}")
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state.update(latestVersion=1, defaultVersion=1)
        elif typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or rid
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}")
            rid = bucket
        elif typ == "aws:eks/nodeGroup:NodeGroup":
            state.setdefault("nodeGroupName", rid)
        elif typ == "gcp:container/cluster:Cluster":
            cluster = inputs.get("name") or rid
            state.update(name=cluster, endpoint=f"34.{int(_digest(cluster)[:2], 16)}.0.10",
                         masterAuth={"clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm1vY2sK"})
            rid = f"projects/{inputs.get('project')}/locations/{inputs.get('location')}/clusters/{cluster}"
        elif typ == "gcp:serviceaccount/account:Account":
            state.update(email=f"{inputs.get('accountId')}@{inputs.get('project')}.iam.gserviceaccount.com")
        elif typ == "gcp:compute/network:Network":
            state.setdefault("name", rid)
            rid = f"projects/{inputs.get('project')}/global/networks/{state['name']}"
        elif typ == "gcp:compute/subnetwork:Subnetwork":
            state.setdefault("name", rid)
            rid = f"projects/{inputs.get('project')}/regions/{inputs.get('region')}/subnetworks/{state['name']}"
        elif typ == "gcp:compute/router:Router":
            state.setdefault("name", rid)
        elif typ == "gcp:kms/keyRing:KeyRing":
            rid = f"projects/{inputs.get('project')}/locations/{inputs.get('location')}/keyRings/{inputs.get('name')}"
        elif typ == "gcp:kms/cryptoKey:CryptoKey":
            rid = f"{inputs.get('keyRing')}/cryptoKeys/{inputs.get('name')}"
        elif typ == "gcp:storage/bucket:Bucket":
            state.update(url=f"gs://{inputs.get('name')}", selfLink=f"https://www.googleapis.com/storage/v1/b/{inputs.get('name')}")
            rid = str(inputs.get("name"))
        state.setdefault("name", name)
        state.setdefault("id", rid)
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            region = str(args.args.get("region") or "us-east-1")
            return {"id": region, "names": [f"{region}{z}" for z in "abc"],
                    "zoneIds": [f"{region[:3]}{i}-az{i}" for i in (1, 2, 3)], "groupNames": [region]}
        if args.token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
            project = args.args.get("project") or "project"
            return {"id": f"{project}-gcs", "project": project,
                    "emailAddress": f"service-{_digest(project)}@gs-project-accounts.iam.gserviceaccount.com"}
        return {}


class RecordingMonitor(_mocks.MockMonitor):
    """A MockMonitor that also records parent, provider and custom for each registration."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registered: list[RegisteredResource] = []

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        args = pulumi.runtime.MockResourceArgs(typ=request.type, name=request.name, inputs=inputs,
                                               provider=request.provider, resource_id=request.importId,
                                               custom=request.custom or False)
        id_, state = self.mocks.new_resource(args)
        self.resources[urn] = _mocks.MockMonitor.ResourceRegistration(urn, id_, state)
        secret_paths: list[str] = []
        self.registered.append(RegisteredResource(
            type=request.type, name=request.name, urn=urn, inputs=_plain(inputs, "", secret_paths),
            provider=request.provider or "", parent=request.parent or None, custom=bool(request.custom),
            secret_paths=tuple(secret_paths)))
        obj = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)


def _plain(value: Any, path: str, secret_paths: list[str]) -> Any:
    """Deep-copy inputs into plain dicts/lists, unwrapping secrets (their paths are recorded)."""
    if isinstance(value, Mapping):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            secret_paths.append(path)
            return _plain(value.get("value"), path, secret_paths)
        return {str(k): _plain(v, f"{path}.{k}" if path else str(k), secret_paths) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}.{i}", secret_paths) for i, v in enumerate(value)]
    return value


# -- run ---------------------------------------------------------------------------------------

def record_resources(program: Callable[[], Any], *, stack: str = "test", preview: bool = False,
                     config: Mapping[str, str] | None = None, secret_keys: list[str] | None = None,
                     root: Path | None = None) -> tuple[list[RegisteredResource], Any]:
    """Run ``program`` under the offline mocks; return (every registered resource, what it returned, resolved).

    ``program`` may return an Output or a plain value; it is awaited after all registrations finished,
    so an exception raised inside an ``apply`` fails this call instead of passing silently.
    """
    monitor = RecordingMonitor(OfflineMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys or []))
    SETTINGS.root_directory = str(root or CODE_ROOT)
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    result: dict[str, Any] = {}

    async def settle(value: Any) -> None:
        result["value"] = await pulumi.Output.from_input(value).future()

    def run() -> Any:
        return settle(program())

    try:
        _sync_await(run_pulumi_func(run))
    finally:
        pulumi.runtime.set_all_config({}, [])
    return list(monitor.registered), result.get("value")


def run_offline(stack: str, *, config_overrides: dict[str, object] | None = None,
                repo_root: Path | None = None) -> OfflineRun:
    """Run ``__main__.py`` for ``stack`` under mocks; return its resources, outputs and plan.

    Raises StackConfigError (exit 2) for a missing or invalid stack config, EstateError/CatalogError for
    invalid inputs, InfeasibleEstateError when the optimizer finds no plan.
    """
    root = (repo_root or CODE_ROOT).resolve()
    config, secret_keys = read_stack_config(stack, root, config_overrides)
    program_globals: dict[str, Any] = {}

    async def collect() -> tuple[dict[str, Any], set[str]]:
        resolved: dict[str, Any] = {}
        secrets: set[str] = set()
        stack_resource = pulumi.runtime.get_root_resource()
        for name, value in dict(getattr(stack_resource, "outputs", {})).items():
            output = pulumi.Output.from_input(value)
            resolved[name] = await output.future()
            if await output.is_secret():
                secrets.add(name)
        return resolved, secrets

    def program() -> Any:
        program_globals.update(runpy.run_path(str(CODE_ROOT / "__main__.py"), run_name="__main__"))
        return pulumi.Output.from_input(collect())

    resources, (outputs, secrets) = record_resources(program, stack=stack, config=config, secret_keys=secret_keys,
                                                     root=root)
    plan = program_globals.get("plan")
    if not isinstance(plan, Plan):  # pragma: no cover - __main__ always binds it
        raise RuntimeError("__main__.py did not bind 'plan'")
    return OfflineRun(stack=stack, resources=tuple(resources), outputs=outputs,
                      secret_outputs=frozenset(secrets), plan=plan, config=config)
