"""Fuzzing the MCP config loader with hypothesis.

Whatever a config file holds (right shapes with random values, wrong types at every level,
unknown keys, `${VAR}`s with a random environment, deep nesting, huge strings, bytes that are
not UTF-8), loading it raises nothing but a `ConfigError` that names the file.

The example counts suit a normal test run; `AGENTKIT_FUZZ_EXAMPLES=20000` runs every property
that many times instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit.errors import ConfigError
from agentkit.mcp.config import McpConfig, load_mcp_config, load_mcp_configs, parse_mcp_config


def fuzz(examples: int) -> settings:
    """Hypothesis settings: `examples` runs, or `AGENTKIT_FUZZ_EXAMPLES` when it is set."""
    return settings(
        max_examples=int(os.environ.get("AGENTKIT_FUZZ_EXAMPLES") or examples),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for all examples (a function-scoped tmp_path would be shared by them anyway)."""
    return tmp_path_factory.mktemp("mcp config é")


# -- values --------------------------------------------------------------------------------------

_CHAR = st.characters(exclude_categories=())  # lone surrogates and NUL included
_VARIABLES = ["AKFUZZ_A", "AKFUZZ_B", "AKFUZZ_EMPTY", "AKFUZZ_UNSET"]

# The environment of one example: what the process can hold (no NUL, no lone surrogates).
_environment = st.dictionaries(
    st.sampled_from(_VARIABLES[:-1]),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12),
)

_variable = st.builds(
    lambda name, default: "${" + name + ("" if default is None else ":-" + default) + "}",
    st.sampled_from(_VARIABLES),
    st.none() | st.text(_CHAR, max_size=8),
)
_string = st.lists(
    st.one_of(
        st.text(_CHAR, max_size=10),
        _variable,
        st.sampled_from(
            ["${", "}", "$", "${AKFUZZ_A", "${1X}", "$AKFUZZ_A", "${AKFUZZ_A:-${AKFUZZ_B}}", ":-",
             "http://", "https://", "example.invalid/mcp", "/sse", "npx", " ", "\\"]
        ),
    ),
    max_size=5,
).map("".join)  # fmt: skip
_huge_string = st.builds(
    lambda unit, n: unit * n,
    st.sampled_from(["a", "${AKFUZZ_A}", "é", "\\", '"', "\ud800"]),
    st.integers(1000, 50_000),
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _string,  # NaN and infinities too
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_string, inner, max_size=4),
    max_leaves=10,
)
_strings = st.lists(_string, max_size=3)
_timeout = st.one_of(st.integers(-5, 1000), st.floats(), st.sampled_from(["5", "0", "-1", "1e400", "nan"]))

# The keys agentkit knows, each with values of the right type (mostly) and of any type.
_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "command": _string,
    "args": _strings,
    "env": st.dictionaries(_string, _string, max_size=3),
    "cwd": _string,
    "url": st.builds(
        lambda scheme, rest: scheme + rest, st.sampled_from(["http://", "https://", ""]), _string
    ),
    "headers": st.dictionaries(_string, _string, max_size=3),
    "type": st.sampled_from(["stdio", "sse", "http", "streamable-http", "Streamable HTTP", "websocket"])
    | _string,
    "disabled": st.booleans(),
    "timeout": _timeout,
    "tool_timeout": _timeout,
    "include_tools": st.none() | _strings,
    "exclude_tools": _strings,
    "require_approval": st.booleans() | _strings,
}
_OTHER_KEYS = [
    "comand", "urll", "headrs", "timout", "description", "name", "autoApprove", "alwaysAllow",
    "transportType", "enabled", "_private", "__dict__", "model_config", "model_dump", "transport",
]  # fmt: skip


@st.composite
def _entry(draw: st.DrawFn) -> Any:
    """One server entry: known keys with right or wrong values, unknown keys, or not an object."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_json)
    entry: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(sorted(_KEYS)), max_size=6, unique=True)):
        entry[key] = draw(_json) if draw(st.integers(0, 4)) == 0 else draw(_KEYS[key])
    if draw(st.integers(0, 2)) == 0:
        entry[draw(st.sampled_from(["command", "url"]))] = draw(_string)  # most often runnable
    entry.update(draw(st.dictionaries(st.sampled_from(_OTHER_KEYS) | _string, _json, max_size=2)))
    if draw(st.integers(0, 9)) == 0:
        entry[draw(st.sampled_from([*_KEYS, "x"]))] = draw(_huge_string)
    return entry


_plain = st.text(st.characters(exclude_characters="$"), min_size=1, max_size=12)
_good_entry = st.one_of(
    st.fixed_dictionaries(
        {"command": _plain},
        optional={"args": st.lists(_string), "env": st.dictionaries(_plain, _string), "cwd": _string},
    ),
    st.fixed_dictionaries(
        {"url": st.builds(lambda rest: "http://" + rest, _plain)},
        optional={"headers": st.dictionaries(_plain, _string), "type": st.sampled_from(["sse", "http"])},
    ),
).map(
    lambda entry: entry | {"timeout": 5.0, "require_approval": ["x"], "description": "${AKFUZZ_A:-d}"}
)  # a runnable server, so that the checks after each entry run too


@st.composite
def _document(draw: st.DrawFn) -> Any:
    """A config document: mostly the mcpServers shape, sometimes wrong at the top."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(_json)
    if kind == 1:
        return {"mcpServers": draw(_json)}
    document: dict[str, Any] = {
        "mcpServers": draw(st.dictionaries(_string, _good_entry | _entry(), max_size=3))
    }
    if draw(st.booleans()):
        document.update(draw(st.dictionaries(_string, _json, max_size=2)))
    return document


_DEEP = "@@deep@@"


@st.composite
def _file_bytes(draw: st.DrawFn) -> bytes:
    """The bytes of a config file: a document as JSON, now and then nested very deep, cut
    short, prefixed with a BOM, with surrogates that UTF-8 cannot hold, or random bytes."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=200))
    document = draw(_document())
    deep = draw(st.none() | st.integers(1, 5000))
    if deep is not None and isinstance(
        document.get("mcpServers") if isinstance(document, dict) else None, dict
    ):
        server = document["mcpServers"].setdefault("deep", {"command": "x"})
        if isinstance(server, dict):
            server[draw(st.sampled_from(["args", "env", "x", "description"]))] = _DEEP
    ascii_only = draw(st.booleans())
    text = json.dumps(document, ensure_ascii=ascii_only)
    if deep is not None:
        nested = "[" * deep + "]" * deep if draw(st.booleans()) else '{"a": ' * deep + "1" + "}" * deep
        text = text.replace(json.dumps(_DEEP), nested) if _DEEP in text else nested
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    if draw(st.integers(0, 19)) == 0:
        text = "\ufeff" + text
    return text.encode("utf-8", "surrogatepass")


def loaded_well(config: McpConfig) -> None:
    """What a config that loads promises: every server is runnable and can be shown."""
    for server in config.servers.values():
        assert bool(server.command) != bool(server.url)
        assert server.transport in ("stdio", "streamable-http", "sse")
        server.describe()
        server.redact("some text")
    repr(config)


# -- properties ------------------------------------------------------------------------------------


@fuzz(400)
@given(data=_file_bytes(), environment=_environment, name=st.sampled_from(["mcp.json", "my servers.json"]))
def test_any_file_loads_or_raises_a_config_error_naming_it(
    folder: Path, data: bytes, environment: dict[str, str], name: str
) -> None:
    path = folder / name
    path.write_bytes(data)
    with mock.patch.dict(os.environ, environment):
        try:
            config = load_mcp_config(path)
        except ConfigError as exc:
            assert str(exc).startswith(str(path))
            return
    loaded_well(config)


@fuzz(150)
@given(files=st.lists(_file_bytes(), min_size=1, max_size=3), environment=_environment)
def test_several_files_load_or_raise_a_config_error_naming_one(
    folder: Path, files: list[bytes], environment: dict[str, str]
) -> None:
    paths = [folder / f"part {i}.json" for i in range(len(files))]
    for path, data in zip(paths, files, strict=True):
        path.write_bytes(data)
    with mock.patch.dict(os.environ, environment):
        try:
            config = load_mcp_configs(paths)
        except ConfigError as exc:
            assert any(str(exc).startswith(str(path)) for path in paths)
            return
    loaded_well(config)


# Python values a caller may put in a dict that JSON cannot: tuples, bytes, sets, non-string keys.
_python = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _string | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.lists(inner, max_size=3)
        | st.frozensets(st.integers(), max_size=3)
        | st.dictionaries(_string | st.integers() | st.none() | st.tuples(st.integers()), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.mark.filterwarnings("ignore::agentkit.mcp.config.McpConfigWarning")  # warnings are fine here
@fuzz(500)
@given(
    data=st.one_of(
        _document(),
        st.dictionaries(
            _string | st.integers() | st.none(),
            _good_entry | _entry() | st.dictionaries(_string | st.integers(), _python),
            max_size=3,
        ).map(lambda servers: {"mcpServers": servers}),
        _python,
    ),
    environment=_environment,
)
def test_any_dict_parses_or_raises_a_config_error_naming_the_source(
    data: Any, environment: dict[str, str]
) -> None:
    with mock.patch.dict(os.environ, environment):
        try:
            config = parse_mcp_config(data, "the source")
        except ConfigError as exc:
            assert str(exc).startswith("the source: ")
            return
    loaded_well(config)


@fuzz(300)
@given(
    data=st.dictionaries(
        _string, _good_entry | _entry() | st.dictionaries(_string, _python), max_size=3
    ).flatmap(lambda servers: st.sampled_from([{"mcpServers": servers}, {"servers": servers}])),
    environment=_environment,
)
def test_any_entry_read_from_a_folder_parses_or_raises_a_config_error(
    data: Any, environment: dict[str, str]
) -> None:
    with mock.patch.dict(os.environ, environment):
        try:
            config = parse_mcp_config(data, "the source", base=Path(__file__).parent)
        except ConfigError as exc:
            assert str(exc).startswith("the source: ")
            return
    loaded_well(config)
    for server in config.servers.values():  # a path written relative is now absolute
        assert server.cwd is None or "${" in repr(data) or os.path.isabs(os.path.expanduser(server.cwd))


# -- what fuzzing found ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nested", "message"),
    [
        ("[" * 5000 + "]" * 5000, "nested too deep to read"),  # json.loads overflowed
        ("[" * 600 + "]" * 600, "nest more than 100 deep"),  # reading ${VAR}s overflowed
    ],
    ids=["too-deep-to-decode", "too-deep-to-expand"],
)
def test_a_deeply_nested_file_is_a_config_error_not_a_recursion_error(
    tmp_path: Path, nested: str, message: str
) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"a": {"command": "x", "description": ' + nested + "}}}")
    with pytest.raises(ConfigError, match=message) as info:
        load_mcp_config(path)
    assert str(info.value).startswith(str(path))


def test_a_folder_given_as_the_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the MCP config file") as info:
        load_mcp_config(tmp_path)
    assert str(info.value).startswith(str(tmp_path))


def test_a_server_name_that_is_not_a_string_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="server name 0 is not a string"):
        parse_mcp_config({"mcpServers": {0: {"command": "x"}}}, "the source")


@pytest.mark.parametrize("key", ["copy", "json", "model_dump", "describe", "transport"])
def test_an_unknown_key_named_like_a_method_shows_its_value_in_the_repr(key: str) -> None:
    # The repr read the key as an attribute: a bound method whose repr holds the config's
    # own repr, without end.
    config = parse_mcp_config({"mcpServers": {"a": {"command": "c", key: "x"}}})
    assert repr(config).endswith(f"{key}='x')}})")
