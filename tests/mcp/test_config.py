"""MCP config files: the mcpServers format, variables, validation messages, secrets."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest

from agentkit.errors import ConfigError
from agentkit.mcp.config import (
    CONFIG_ENV_VAR,
    McpConfigWarning,
    closest,
    default_mcp_config_path,
    load_mcp_config,
    load_mcp_configs,
    parse_mcp_config,
)


def write(tmp_path: Path, data: object, name: str = "mcp.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_claude_desktop_style_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "mcpServers": {
                "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
                "remote": {"url": "https://example.invalid/mcp", "headers": {"Authorization": "Bearer x"}},
                "legacy": {"url": "https://example.invalid/sse"},
                "typed": {"url": "https://example.invalid/events", "type": "sse"},
                "off": {"command": "x", "disabled": True},
            }
        },
    )
    config = load_mcp_config(path)
    assert [config.servers[n].transport for n in ("fs", "remote", "legacy", "typed")] == [
        "stdio", "streamable-http", "sse", "sse",
    ]  # fmt: skip
    assert list(config.enabled()) == ["fs", "remote", "legacy", "typed"]


def test_variables_expand_everywhere_with_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOT_DIR", "/data")
    monkeypatch.setenv("API_TOKEN", "s3cr3t")
    path = write(
        tmp_path,
        {
            "mcpServers": {
                "fs": {
                    "command": "${BIN:-npx}",
                    "args": ["${ROOT_DIR}/x"],
                    "env": {"TOKEN": "${API_TOKEN}"},
                    "cwd": "${ROOT_DIR}",
                },
                "web": {
                    "url": "http://127.0.0.1:${PORT:-8765}/mcp",
                    "headers": {"Authorization": "Bearer ${API_TOKEN}"},
                },
            }
        },
    )
    config = load_mcp_config(path)
    fs, web = config.servers["fs"], config.servers["web"]
    assert (fs.command, fs.args, fs.cwd, fs.secret_env()) == (
        "npx",
        ["/data/x"],
        "/data",
        {"TOKEN": "s3cr3t"},
    )
    assert web.url == "http://127.0.0.1:8765/mcp" and web.secret_headers() == {
        "Authorization": "Bearer s3cr3t"
    }


def test_secrets_never_show_in_reprs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "s3cr3t")
    config = load_mcp_config(
        write(
            tmp_path,
            {
                "mcpServers": {
                    "a": {"command": "x", "env": {"T": "${API_TOKEN}"}},
                    "b": {"url": "http://h/mcp", "headers": {"H": "lit-secret"}},
                }
            },
        )
    )
    text = repr(config) + str(config) + config.model_dump_json()
    assert "s3cr3t" not in text and "lit-secret" not in text
    assert config.servers["a"].describe() == "x" and "lit-secret" not in config.servers["b"].describe()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"comand": "npx"}, "server 'bad': unknown key 'comand'; did you mean 'command'?"),
        ({"command": "npx", "args": "-y"}, "server 'bad': key 'args': Input should be a valid list"),
        ({"command": "a", "url": "http://x"}, "has both 'command' and 'url'"),
        ({}, "needs 'command' (a local server over stdio) or 'url' (a remote server)"),
        ({"url": "ftp://x"}, "'url' must start with http:// or https://"),
        ({"url": "http://x", "type": "websocket"}, "unknown transport 'websocket'"),
        ({"command": "a", "timeout": 0}, "key 'timeout': Input should be greater than 0"),
        ("npx", "server 'bad': expected an object, got str"),
    ],
)
def test_a_bad_entry_names_file_server_key_and_expectation(
    tmp_path: Path, entry: object, message: str
) -> None:
    path = write(tmp_path, {"mcpServers": {"bad": entry}})
    with pytest.raises(ConfigError) as info:
        load_mcp_config(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"server": {}}', 'expected a JSON object with "mcpServers".*or "servers".*VS Code'),
    ],
)
def test_a_bad_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_mcp_config(write(tmp_path, text))


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="no such MCP config file"):
        load_mcp_config("/nonexistent/mcp.json")


def test_other_clients_keys_are_tolerated(tmp_path: Path) -> None:
    config = load_mcp_config(
        write(tmp_path, {"mcpServers": {"a": {"command": "x", "autoApprove": [], "description": "d"}}})
    )
    assert config.servers["a"].command == "x"


def test_several_files_merge_but_names_must_differ(tmp_path: Path) -> None:
    one = write(tmp_path, {"mcpServers": {"a": {"command": "x"}}}, "one.json")
    two = write(tmp_path, {"mcpServers": {"b": {"command": "y"}}}, "two.json")
    assert list(load_mcp_configs([one, two]).servers) == ["a", "b"]
    with pytest.raises(ConfigError, match="server 'a' is also defined in"):
        load_mcp_configs([one, one])


def test_tool_filters_and_approval() -> None:
    config = parse_mcp_config(
        {
            "mcpServers": {
                "a": {
                    "command": "x",
                    "include_tools": ["r", "w"],
                    "exclude_tools": ["w"],
                    "require_approval": ["r"],
                }
            }
        }
    )
    server = config.servers["a"]
    assert [server.wants_tool(n) for n in ("r", "w", "z")] == [True, False, False]
    assert server.require_approval == ["r"]


def test_variables_in_args_and_url_reach_the_server_but_show_as_stars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_TOKEN", "sk-arg-secret")
    monkeypatch.setenv("KEY", "k3y-secret")
    config = parse_mcp_config(
        {
            "mcpServers": {
                "local": {
                    "command": "srv",
                    "args": [
                        "--token",
                        "${API_TOKEN}",
                        "--url=https://x/?key=${KEY}",
                        "--port",
                        "${PORT:-81}",
                    ],
                    "description": "uses ${KEY}",
                },
                "remote": {"url": "https://host/mcp?key=${KEY}&v=1"},
            }
        }
    )
    local, remote = config.servers["local"], config.servers["remote"]
    assert local.args == ["--token", "sk-arg-secret", "--url=https://x/?key=k3y-secret", "--port", "81"]
    assert remote.url == "https://host/mcp?key=k3y-secret&v=1"
    assert local.describe() == "srv --token *** --url=https://x/?key=*** --port 81"
    assert remote.describe() == "https://host/mcp?key=***&v=1 (streamable-http)"
    text = repr(config) + str(config) + repr(local) + str(remote)
    assert "sk-arg-secret" not in text and "k3y-secret" not in text
    assert "args=['--token', '***', '--url=https://x/?key=***', '--port', '81']" in text
    assert "url='https://host/mcp?key=***&v=1'" in text and "description='uses ***'" in text


def test_a_copy_shows_new_values_as_they_are_and_old_ones_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "sk-arg-secret")
    server = parse_mcp_config({"mcpServers": {"a": {"command": "srv", "args": ["${API_TOKEN}"]}}}).servers[
        "a"
    ]
    assert server.model_copy(update={"disabled": False}).describe() == "srv ***"
    assert server.model_copy(update={"args": ["--verbose"]}).describe() == "srv --verbose"


def test_redact_hides_variables_env_and_header_values_in_free_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "sk-arg-secret")
    config = parse_mcp_config(
        {
            "mcpServers": {
                "a": {
                    "command": "srv",
                    "args": ["--token=${API_TOKEN}", "${SHORT_KEY:-on}"],
                    "env": {"E": "env-value"},
                },
                "b": {"url": "http://h/mcp", "headers": {"Authorization": "Bearer lit-secret"}},
            }
        }
    )
    a, b = config.servers["a"], config.servers["b"]
    assert (
        a.redact("bad token 'sk-arg-secret' (env-value), verbose on") == "bad token '***' (***), verbose on"
    )
    assert b.redact("sent Bearer lit-secret") == "sent ***"
    assert a.describe() == "srv --token=*** ***"  # short values are hidden where agentkit builds the text


def test_a_config_error_does_not_quote_a_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEY", "k3y-secret")
    path = write(tmp_path, {"mcpServers": {"bad": {"url": "ftp://host/mcp?key=${KEY}"}}})
    with pytest.raises(ConfigError) as info:
        load_mcp_config(path)
    assert str(info.value) == (
        f"{path}: server 'bad': 'url' must start with http:// or https://, got 'ftp://host/mcp?key=***'"
    )


def test_per_run_servers_are_split_from_the_shared_ones() -> None:
    config = parse_mcp_config(
        {
            "mcpServers": {
                "a": {"command": "x"},
                "b": {"command": "y", "per_run": True},
                "c": {"url": "http://h/mcp"},
            }
        }
    )
    shared, own = config.split()
    assert list(shared.servers) == ["a", "c"] and list(own.servers) == ["b"]
    with pytest.raises(ConfigError, match="did you mean 'per_run'"):
        parse_mcp_config({"mcpServers": {"a": {"command": "x", "per_rn": True}}})


# -- other clients' shapes -------------------------------------------------------------------------


def test_vscode_servers_with_type_and_inputs(tmp_path: Path) -> None:
    config = load_mcp_config(
        write(
            tmp_path,
            {
                "inputs": [{"type": "promptString", "id": "token", "password": True}],
                "servers": {
                    "local": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"]},
                    "web": {"type": "http", "url": "http://127.0.0.1:8765/mcp"},
                    "events": {"type": "sse", "url": "http://127.0.0.1:8765/events"},
                },
            },
        )
    )
    assert {name: s.transport for name, s in config.servers.items()} == {
        "local": "stdio", "web": "streamable-http", "events": "sse",
    }  # fmt: skip


def test_vscode_settings_json_mcp_section() -> None:
    config = parse_mcp_config({"mcp": {"servers": {"a": {"command": "x"}}}}, "settings.json")
    assert config.servers["a"].command == "x"


def test_vscode_input_variable_says_to_use_an_environment_variable() -> None:
    data = {"servers": {"a": {"url": "http://127.0.0.1:1/mcp", "headers": {"A": "Bearer ${input:token}"}}}}
    with pytest.raises(
        ConfigError, match=r"server 'a': \$\{input:token\} is a value VS Code prompts for.*\$\{NAME\}"
    ):
        parse_mcp_config(data, "mcp.json")


def test_windsurf_server_url() -> None:
    config = parse_mcp_config({"mcpServers": {"w": {"serverUrl": "http://127.0.0.1:8765/sse"}}})
    assert config.servers["w"].url == "http://127.0.0.1:8765/sse" and config.servers["w"].transport == "sse"
    with pytest.raises(ConfigError, match="both 'url' and 'serverUrl'"):
        parse_mcp_config({"mcpServers": {"w": {"serverUrl": "http://a/", "url": "http://b/"}}})


@pytest.mark.parametrize(
    ("entry", "enabled"),
    [
        ({"enabled": False}, False),
        ({"disabled": True}, False),
        ({"enabled": True}, True),
        ({"enabled": True, "disabled": True}, False),
        ({}, True),
    ],
)
def test_enabled_false_and_disabled_true_turn_a_server_off(entry: dict[str, bool], enabled: bool) -> None:
    config = parse_mcp_config({"mcpServers": {"a": {"command": "x", **entry}}})
    assert ("a" in config.enabled()) is enabled


def test_enabled_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError, match="key 'enabled': expected true or false, got 'no'"):
        parse_mcp_config({"mcpServers": {"a": {"command": "x", "enabled": "no"}}})


# -- relative paths --------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "server.py").write_text("")
    monkeypatch.setenv("WHERE", "from/the/shell")
    path = write(
        folder,
        {
            "mcpServers": {
                "a": {"command": "bin/server", "args": ["server.py", "missing.py", "-v", "."], "cwd": "data"},
                "b": {"command": "python3", "args": ["${WHERE}"], "cwd": "${WHERE}"},
                "c": {"command": "/usr/bin/x", "cwd": "/srv"},
            }
        },
    )
    a, b, c = load_mcp_config(path).servers.values()
    base = folder.resolve()
    assert (a.command, a.args, a.cwd) == (
        str(base / "bin/server"), [str(base / "server.py"), "missing.py", "-v", "."], str(base / "data"),
    )  # fmt: skip
    # from a ${VAR}: relative to where the person is; a bare command is looked up on PATH
    assert (b.command, b.args, b.cwd) == ("python3", ["from/the/shell"], "from/the/shell")
    assert (c.command, c.cwd) == ("/usr/bin/x", "/srv")


def test_a_dict_keeps_relative_paths_as_written() -> None:
    server = parse_mcp_config({"mcpServers": {"a": {"command": "./x", "cwd": "data"}}}).servers["a"]
    assert (server.command, server.cwd) == ("./x", "data")


# -- the default config ----------------------------------------------------------------------------


def test_default_config_from_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, {"mcpServers": {}})
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    assert default_mcp_config_path() == path
    monkeypatch.setenv(CONFIG_ENV_VAR, "")
    assert default_mcp_config_path() is None


def test_default_config_from_the_user_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    assert default_mcp_config_path() is None  # no file: no default
    (tmp_path / "agentkit").mkdir()
    path = write(tmp_path / "agentkit", {"mcpServers": {}})
    assert default_mcp_config_path() == path


def test_vscode_env_file_is_read_into_env_which_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text('# tokens\nTOKEN="s3cr3t"\nexport REGION=eu\nLEVEL=debug\n\nnot a line\n')
    path = write(tmp_path, {"servers": {"a": {"command": "x", "envFile": ".env", "env": {"LEVEL": "info"}}}})
    server = load_mcp_config(path).servers["a"]
    assert server.secret_env() == {"TOKEN": "s3cr3t", "REGION": "eu", "LEVEL": "info"}
    assert "s3cr3t" not in repr(server) and server.redact("token s3cr3t") == "token ***"


def test_a_missing_env_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"servers": {"a": {"command": "x", "envFile": "absent.env"}}})
    with pytest.raises(ConfigError, match=r"server 'a': key 'envFile': cannot read .*absent\.env"):
        load_mcp_config(path)


@pytest.mark.parametrize("kind", ["http", "sse", "streamable-http"])
def test_a_command_with_a_remote_type_warns_that_the_command_is_used_and_how_to_fix_it(kind: str) -> None:
    with pytest.warns(McpConfigWarning) as noted:
        config = parse_mcp_config({"servers": {"x": {"type": kind, "command": "srv"}}}, "mcp.json")
    assert config.servers["x"].transport == "stdio"
    message = str(noted[0].message)
    assert message.startswith(f"mcp.json: server 'x': has 'type': {kind!r} and a 'command'")
    assert (
        "starts it with its command over stdio" in message
        and "replace 'command' and 'args' with its 'url'" in message
    )


def test_a_command_with_stdio_type_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_mcp_config({"servers": {"x": {"type": "stdio", "command": "srv"}}}, "mcp.json")


def test_variables_with_secret_names_are_hidden_and_others_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_PAT", "ghp-secret-1")
    monkeypatch.setenv("DB_PASSWORD", "pw-secret-2")
    monkeypatch.setenv("REPO", "/home/me/project")
    monkeypatch.setenv("NOTES_PORT", "8931")
    config = parse_mcp_config(
        {
            "mcpServers": {
                "git": {"command": "mcp-server-git", "args": ["--repository", "${REPO}", "${GITHUB_PAT}"]},
                "db": {"command": "db", "args": ["--password=${DB_PASSWORD}"]},
                "notes": {"url": "http://127.0.0.1:${NOTES_PORT}/mcp"},
            }
        }
    )
    git, db, notes = config.servers["git"], config.servers["db"], config.servers["notes"]
    assert git.describe() == "mcp-server-git --repository /home/me/project ***"
    assert db.describe() == "db --password=***"
    assert notes.describe() == "http://127.0.0.1:8931/mcp (streamable-http)"
    assert git.redact("lstat '/home/me/project/x' with ghp-secret-1") == "lstat '/home/me/project/x' with ***"
    assert "pw-secret-2" not in repr(db) and "/home/me/project" in repr(git)


def test_a_disabled_server_is_not_expanded_and_does_not_block_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNSET_TOKEN", raising=False)
    path = write(
        tmp_path,
        {
            "mcpServers": {
                "remote": {
                    "url": "${UNSET_URL}",
                    "headers": {"Authorization": "${UNSET_TOKEN}"},
                    "disabled": True,
                },
                "off": {"command": "x", "envFile": "missing.env", "args": ["${input:k}"], "enabled": False},
                "local": {"command": "srv"},
            }
        },
    )
    config = load_mcp_config(path)
    assert list(config.enabled()) == ["local"]
    assert config.servers["remote"].disabled and config.servers["off"].disabled
    assert all(server.problem is None for server in config.servers.values())


async def test_an_enabled_server_with_an_unset_variable_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentkit.mcp.session import McpServerError, McpSession

    monkeypatch.delenv("UNSET_TOKEN", raising=False)
    entries = {
        "on": {"url": "https://h.example/mcp", "headers": {"A": "${UNSET_TOKEN}"}},
        "local": {"command": "srv"},
    }
    path = write(tmp_path, {"mcpServers": entries})
    config = load_mcp_config(path)
    problem = config.servers["on"].problem
    assert problem == (
        f"{path}: server 'on', key 'headers', key 'A': ${{UNSET_TOKEN}} is not set; set the environment "
        "variable UNSET_TOKEN or write ${UNSET_TOKEN:-default}"
    )
    assert config.servers["local"].problem is None and list(config.enabled()) == ["on", "local"]
    session = McpSession("on", config.servers["on"])
    with pytest.raises(McpServerError) as info:
        await session.start()
    assert problem in str(info.value) and session.status == "failed" and session.error == problem


def test_vscode_workspace_variables(tmp_path: Path) -> None:
    (tmp_path / ".vscode").mkdir()
    (tmp_path / ".env").write_text("LEVEL=debug\n")
    entry = {
        "type": "stdio",
        "command": "srv",
        "envFile": "${workspaceFolder}/.env",
        "args": ["${workspaceFolderBasename}", "${userHome}${pathSeparator}x", "a${/}b"],
    }
    server = write(tmp_path / ".vscode", {"servers": {"a": entry}})
    loaded = load_mcp_config(server).servers["a"]
    assert loaded.secret_env() == {"LEVEL": "debug"}
    assert loaded.args == [tmp_path.name, str(Path.home()) + "/x", "a/b"]
    plain = load_mcp_config(
        write(tmp_path, {"mcpServers": {"a": {"command": "srv", "args": ["${workspaceFolder}"]}}})
    )
    assert plain.servers["a"].args == [str(tmp_path)]


def test_the_shipped_filesystem_config_finds_the_repositorys_npm_install_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTKIT_NPM_PREFIX", raising=False)
    monkeypatch.chdir(tmp_path)
    root = Path(__file__).resolve().parents[2]
    server = load_mcp_config(root / "mcp_configs" / "filesystem.json").servers["filesystem"]
    prefix = server.args[server.args.index("--prefix") + 1]
    assert Path(prefix).resolve() == root / ".mcp-npm"


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (
            ["get_time"],
            [],
            "include_tools names 'get_time', which is not one of its tools "
            "(did you mean 'get_current_time'?)",
        ),
        (None, ["nothing_like"], "exclude_tools names 'nothing_like', which is not one of its tools"),
    ],
)
def test_tool_filters_naming_no_tool_are_reported(
    include: list[str] | None, exclude: list[str], expected: str
) -> None:
    server = parse_mcp_config(
        {"mcpServers": {"t": {"command": "x", "include_tools": include, "exclude_tools": exclude}}}
    ).servers["t"]
    assert server.unmatched_tools(["convert_time", "get_current_time"]) == (
        f"{expected}; its tools: convert_time, get_current_time"
    )
    assert (
        server.model_copy(update={"include_tools": None, "exclude_tools": []}).unmatched_tools(["a"]) is None
    )


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [
        ("get_time", ["convert_time", "get_current_time"], "get_current_time"),
        ("convert_tim", ["convert_time", "get_current_time"], "convert_time"),
        ("doc", ["docs", "git"], "docs"),
        ("zzz", ["docs", "git"], None),
    ],
)
def test_closest_prefers_shared_words_and_start(word: str, choices: list[str], expected: str | None) -> None:
    assert closest(word, choices) == expected
