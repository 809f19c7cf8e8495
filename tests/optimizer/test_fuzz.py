"""Fuzzing load_estate: thousands of malformed estate files, each must end in an EstateError that
names the file and a location and says "To fix:", never in any other exception.

Three sources of malformed files: arbitrary text and bytes, YAML-ish text assembled from estate
keys and treacherous scalars (bad dates, bad !!tags, aliases, deep nesting), and mutations of the
healthcare estate (wrong types, missing fields, unknown keys, bad references, cycles, negative
numbers, huge nesting, non-UTF-8 bytes) that are each guaranteed to make the estate invalid.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.errors import EstateError
from optimizer.estate import load_estate
from tests.optimizer.helpers import HEALTHCARE, catalog

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
HEALTHCARE_DOC = yaml.safe_load(HEALTHCARE.read_text(encoding="utf-8"))
FUZZ_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                         derandomize=True)


def fuzz(examples: int) -> settings:
    return settings(FUZZ_SETTINGS, max_examples=examples)


_DIR = tempfile.mkdtemp(prefix="estate-fuzz-")


def _write(name: str, data: bytes) -> str:
    path = os.path.join(_DIR, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def assert_estate_error(path: str, *, with_catalog: bool = True) -> EstateError:
    with pytest.raises(EstateError) as info:
        load_estate(path, catalog() if with_catalog else None)
    error = info.value
    message = str(error)
    assert message.startswith(f"{path}: "), message
    assert "To fix:" in message, message
    assert error.problems, message
    for location, what, fix in error.problems:
        assert location and what and fix, error.problems
        assert f"  - {location}: " in message
    return error


# --- arbitrary text and bytes --------------------------------------------------------------------

@fuzz(300)
@given(st.binary(max_size=400))
def test_random_bytes(data):
    assert_estate_error(_write("bytes.yaml", data))


@fuzz(300)
@given(st.text(max_size=300))
def test_random_text(text):
    assert_estate_error(_write("text.yaml", text.encode("utf-8")))


# --- YAML-ish text ---------------------------------------------------------------------------------

_KEYS = ["name", "home", "cloud", "region", "onprem", "clouds", "regions", "quotas", "datasets", "workloads",
         "kind", "team", "accelerators", "type", "count", "reads", "dataset", "depends_on", "outputs",
         "size_gb", "data_class", "location", "lat", "lon", "budget_usd_per_month", "network", "links",
         "sovereignty_rules", "<<", "? [a]", "bogus-key"]
_SCALARS = ["2001-13-45", "2001-02-29", "!!int abc", "!!float abc", "!!bool maybe", "!!timestamp x", "0x_",
            "!!binary '@@'", "!!python/object:os.system x", "&a [*a]", "*undefined", "~", ".nan", ".inf", "-.inf",
            "1e999", "-1", "0", "'x'", "\"\\u00e9\"", "[", "]", "{", "}", ": :", "- -", "!!set {a, b}",
            "!!omap [a: 1]", "aws:eu-central-1", "hospital-dc", "eu-personal", "H100", "inference", "|\n  text",
            "\t", "%YAML 1.1", "---", "...", "!local x", "'unterminated", "\"bad \\q escape\""]


@st.composite
def yamlish(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        indent = "  " * draw(st.integers(0, 3))
        dash = draw(st.sampled_from(["", "- "]))
        key = draw(st.sampled_from(_KEYS))
        value = draw(st.one_of(st.sampled_from(_SCALARS), st.text(max_size=12),
                               st.integers(-10**20, 10**20).map(str)))
        lines.append(f"{indent}{dash}{key}: {value}")
    return "\n".join(lines)


@fuzz(400)
@given(yamlish())
def test_yamlish_text(text):
    assert_estate_error(_write("yamlish.yaml", text.encode("utf-8")))


@pytest.mark.parametrize("scalar", [s for s in _SCALARS if not re.fullmatch(r"[a-z][a-z0-9-]{0,46}[a-z0-9]", s)])
def test_every_treacherous_scalar_as_the_estate_name(scalar):
    """Each value that can break YAML construction, in the one place every estate has."""
    text = HEALTHCARE.read_text(encoding="utf-8").replace("name: healthcare-case-study", f"name: {scalar}", 1)
    assert_estate_error(_write("scalar.yaml", text.encode("utf-8")))


@pytest.mark.parametrize("depth", [50, 1000, 50000])
def test_huge_nesting(depth):
    text = HEALTHCARE.read_text(encoding="utf-8") + f"\nextra: {'[' * depth}{']' * depth}\n"
    assert_estate_error(_write("nested.yaml", text.encode("utf-8")))
    flow = "{a: " * depth + "1" + "}" * depth
    assert_estate_error(_write("nested2.yaml", f"name: {flow}\n".encode("utf-8")))


# --- mutations of the healthcare estate --------------------------------------------------------------

def _paths(node, prefix=()):
    """Every (path, value) in a document, containers included."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


def _parent(doc, path):
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


ALL_PATHS = [path for path, _ in _paths(HEALTHCARE_DOC) if path]
LEAF_PATHS = [path for path in ALL_PATHS if not isinstance(_parent(HEALTHCARE_DOC, path)[path[-1]], (dict, list))]
NUMBER_PATHS = [p for p in LEAF_PATHS if isinstance(_parent(HEALTHCARE_DOC, p)[p[-1]], (int, float))
                and not isinstance(_parent(HEALTHCARE_DOC, p)[p[-1]], bool)]
MAPPING_PATHS = [()] + [p for p in ALL_PATHS if isinstance(_parent(HEALTHCARE_DOC, p)[p[-1]], dict)]
# Keys without a default: removing one always invalidates the estate.
REQUIRED = {"name", "home", "workloads", "cloud", "region", "regions", "jurisdiction", "location", "lat", "lon",
            "type", "count", "usd_per_hour", "kind", "team", "size_gb", "data_class", "dataset", "a", "b"}
REQUIRED_PATHS = [p for p in ALL_PATHS if isinstance(p[-1], str) and p[-1] in REQUIRED
                  and not (p[-1] == "usd_per_gb")]
REFERENCE_PATHS = ([p for p in ALL_PATHS if p[-1] in ("location", "dataset", "a", "b") and
                    isinstance(_parent(HEALTHCARE_DOC, p)[p[-1]], str)]
                   + [p for p in ALL_PATHS if len(p) >= 2 and p[-2] == "depends_on"])


def _wrong_type(value):
    if isinstance(value, bool):
        return [1]
    if isinstance(value, (int, float)):
        return "lots"
    if isinstance(value, str):
        return [1, 2]
    if isinstance(value, list):
        return 17
    return "x"


@st.composite
def mutated(draw):
    """(file bytes, what was done) for a healthcare estate broken in one random way."""
    doc = copy.deepcopy(HEALTHCARE_DOC)
    kind = draw(st.sampled_from(["wrong_type", "missing", "unknown_key", "bad_reference", "cycle", "negative",
                                 "nesting", "non_utf8", "unknown_class", "unknown_region", "duplicate_name",
                                 "truncate"]))
    raw = None
    if kind == "wrong_type":
        path = draw(st.sampled_from([p for p in ALL_PATHS if p[-1] not in ("description", "city")]))
        parent = _parent(doc, path)
        parent[path[-1]] = _wrong_type(parent[path[-1]])
    elif kind == "missing":
        path = draw(st.sampled_from(REQUIRED_PATHS))
        del _parent(doc, path)[path[-1]]
    elif kind == "unknown_key":
        path = draw(st.sampled_from(MAPPING_PATHS))
        node = doc
        for part in path:
            node = node[part]
        node[draw(st.sampled_from(["colour", "Name", "name_", "quota", "x-1"]))] = {"bogus": [1]}
    elif kind == "bad_reference":
        path = draw(st.sampled_from(REFERENCE_PATHS))
        _parent(doc, path)[path[-1]] = draw(st.sampled_from(["no-such-thing", "aws:eu-west-2", "gcp:mars-1"]))
    elif kind == "cycle":
        first = draw(st.integers(0, len(doc["workloads"]) - 2))
        last = draw(st.integers(first + 1, len(doc["workloads"]) - 1))
        doc["workloads"][first].setdefault("depends_on", []).append(doc["workloads"][last]["name"])
    elif kind == "negative":
        path = draw(st.sampled_from(NUMBER_PATHS))
        _parent(doc, path)[path[-1]] = draw(st.sampled_from([-1e9, -10**12]))
    elif kind == "nesting":
        path = draw(st.sampled_from(LEAF_PATHS))
        value: object = 1
        for _ in range(draw(st.integers(2, 200))):
            value = [value]
        _parent(doc, path)[path[-1]] = value
    elif kind == "unknown_class":
        target = draw(st.sampled_from(["datasets", "workloads"]))
        if target == "datasets":
            doc["datasets"][draw(st.integers(0, len(doc["datasets"]) - 1))]["data_class"] = "top-secret"
        else:
            doc["workloads"][0]["outputs"][0]["data_class"] = "eu_personal"
    elif kind == "unknown_region":
        doc["clouds"][draw(st.integers(0, 1))]["regions"].append("moon-base-1")
    elif kind == "duplicate_name":
        collection = draw(st.sampled_from(["datasets", "workloads", "onprem"]))
        doc[collection].append(copy.deepcopy(doc[collection][0]))
    text = yaml.dump(doc, Dumper=_DUMPER, sort_keys=False).encode("utf-8")
    if kind == "non_utf8":
        at = draw(st.integers(0, len(text)))
        raw = text[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80abc"])) + text[at:]
    elif kind == "truncate":
        # cut inside the first workload: 'workloads:' survives, its entries do not all
        cut = text.index(b"workloads:") + draw(st.integers(11, 40))
        raw = text[:cut] + b"\n  - {name: [unclosed\n"
    return (raw if raw is not None else text), kind


@fuzz(700)
@given(mutated())
def test_mutated_healthcare_estate(case):
    data, kind = case
    error = assert_estate_error(_write(f"mutated-{kind}.yaml", data))
    if kind == "non_utf8":
        assert "UTF-8" in str(error)
    if kind == "cycle":
        assert "cycle" in str(error)


def test_the_unmutated_estate_loads():
    """The mutation fuzzer starts from a valid estate (otherwise it would prove nothing)."""
    loaded = load_estate(_write("clean.yaml", yaml.safe_dump(HEALTHCARE_DOC).encode("utf-8")), catalog())
    assert loaded.estate.name == "healthcare-case-study"


@pytest.mark.parametrize("rules", ["nul\x00byte.yaml", ".", "/", "x" * 5000, "healthcare.yaml", "no/such/file.yaml"])
def test_sovereignty_rules_paths_that_cannot_be_rules(rules, tmp_path):
    (tmp_path / "healthcare.yaml").write_bytes(b"\xff\xfe not text")
    doc = copy.deepcopy(HEALTHCARE_DOC)
    doc["sovereignty_rules"] = rules
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    error = assert_estate_error(str(path))
    assert any(location == "sovereignty_rules" for location, _, _ in error.problems)


@pytest.mark.parametrize("value,paths", [(".inf", NUMBER_PATHS), ("-.inf", NUMBER_PATHS[::7]),
                                         (".nan", NUMBER_PATHS[3::7])])
def test_non_finite_numbers_are_refused(value, paths):
    """'.inf' once validated as a positive size and came out of the optimizer as a plan costing NaN."""
    assert paths
    for path in paths:
        doc = copy.deepcopy(HEALTHCARE_DOC)
        _parent(doc, path)[path[-1]] = 1234.5
        text = yaml.dump(doc, Dumper=_DUMPER, sort_keys=False).replace("1234.5", value)
        error = assert_estate_error(_write("non-finite.yaml", text.encode("utf-8")))
        assert any(location.endswith(f".{path[-1]}") for location, _, _ in error.problems), (path, error.problems)
