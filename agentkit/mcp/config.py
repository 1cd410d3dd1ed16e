"""MCP server configs, in the shapes the MCP clients write.

`{"mcpServers": {...}}` (Claude Desktop, Cursor, Windsurf, Cline, Qwen-Agent) and VS Code's
`{"servers": {...}}` (its `mcp.json`, or `"mcp": {"servers": ...}` in its settings) are read
alike. A server is local (`command`, `args`, `env`, `cwd`: started over stdio) or remote
(`url`, or Windsurf's `serverUrl`, with `headers`: streamable HTTP, or SSE when
`"type": "sse"` or the URL ends in `/sse`; `oauth` for servers that need authorization, see
`OAuthConfig`). `"disabled": true` or `"enabled": false` keeps a
server from starting. VS Code's `envFile` is read into `env`; its `inputs` (values it prompts
for) are not: agentkit cannot prompt, so `${input:NAME}` is an error that says to use an
environment variable.

Relative paths written in a file resolve against the file's folder: `cwd`, a `command` with
a path separator (`./server.py`, `bin/server`), and an argument naming a file that exists
there (`server.py`). A value that came from a `${VAR}` is left as it is: it is relative to
where the person ran agentkit.
`${VAR}` and `${VAR:-default}` are expanded from the environment in every string, after VS
Code's own variables: `${workspaceFolder}` (the folder holding `.vscode/` for a
`.vscode/mcp.json`, else the config file's folder; the current folder for a config given as
data), `${workspaceFolderBasename}` (that folder's name), `${userHome}` and `${pathSeparator}`
(or `${/}`). An enabled server with a variable that is not set fails to start, saying which
(`ServerConfig.problem`), and the others start; a disabled one is not expanded or checked
beyond being skipped.

Secrets: the values of `env` and `headers`, `oauth.client_secret`, and the value of a
`${VAR}` whose name looks like a secret's (it holds TOKEN, KEY, SECRET, PASS, AUTH,
CREDENTIAL, COOKIE, SESSION, PRIVATE or BEARER, or is a PAT). The process and the server get
the real values, while reprs, logs, events, transcripts and quoted stderr show `***` in their
place. Other variables (paths, ports, repository names) are shown as they were expanded.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Union, cast

import pydantic
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from agentkit.defaults import DEFAULT_MCP_START_TIMEOUT, DEFAULT_TOOL_TIMEOUT
from agentkit.errors import ConfigError

__all__ = [
    "CONFIG_ENV_VAR",
    "McpConfig",
    "McpConfigWarning",
    "OAuthConfig",
    "ServerConfig",
    "default_mcp_config_path",
    "load_mcp_config",
    "load_mcp_configs",
    "parse_mcp_config",
]

Transport = Literal["stdio", "streamable-http", "sse"]


class McpConfigWarning(UserWarning):
    """A server's config means something other than it seems to; the message says what is
    used and how to say it plainly."""


_TRANSPORT_NAMES = {
    "stdio": "stdio",
    "sse": "sse",
    "http": "streamable-http",
    "streamable-http": "streamable-http",
    "streamable_http": "streamable-http",
    "streamablehttp": "streamable-http",
}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")

_PREDEFINED = re.compile(r"\$\{(workspaceFolder|workspaceFolderBasename|userHome|pathSeparator|/)\}")
"""VS Code's own variables that mean something outside VS Code, expanded before `${VAR}`s."""

_SECRET_NAME = re.compile(
    r"TOKEN|KEY|SECRET|PASS|AUTH|CREDENTIAL|COOKIE|SESSION|PRIVATE|BEARER|(^|_)PAT($|_)", re.I
)
"""A `${VAR}` whose name matches holds a secret: its value is hidden wherever it is shown."""

REDACTED = "***"
"""What a secret is shown as."""

_SHORTEST_REDACTED = 4
"""Secrets shorter than this are not looked for in free text (a server's stderr, an error
message): they are not credentials, and hiding every "1" or "on" would garble the text. The
displays agentkit builds itself (`describe()`, reprs) hide them whatever their length."""


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like `word`, or None when none is near: difflib's ratio, ties (and near
    ties) going to the choice that shares the longest start and the most `_`/`-`/`/` words
    with it (`get_time` is `get_current_time`, not `convert_time`)."""

    def words(text: str) -> set[str]:
        return set(re.split(r"[_\-/.\s]+", text.lower())) - {""}

    def score(choice: str) -> tuple[float, int]:
        ratio = difflib.SequenceMatcher(None, word.lower(), choice.lower()).ratio()
        shared = len(words(word) & words(choice)) / max(len(words(word) | words(choice)), 1)
        prefix = len(os.path.commonprefix([word.lower(), choice.lower()]))  # noqa: RUF071 (text, not paths)
        return round(ratio + shared / 2, 2), prefix

    near = [
        choice
        for choice in choices
        if difflib.SequenceMatcher(None, word.lower(), choice.lower()).ratio() >= 0.6
    ]
    return max(near, key=score) if near else None


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({s for s in secrets if len(s) >= _SHORTEST_REDACTED}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class OAuthConfig(BaseModel):
    """How agentkit authorizes with a remote server that requires OAuth (its `"oauth"` key).

    Every key is optional: by default agentkit discovers the server's authorization server,
    registers itself there (dynamic client registration) and asks for the scopes the server
    names. `"oauth": true` says the same; `"oauth": false` never authorizes (only `headers`).

    Attributes:
        client_id: A client registered with the authorization server beforehand (when it
            offers no dynamic registration); its redirect URI must be
            `http://127.0.0.1:PORT/callback` with `redirect_port` as PORT.
        client_secret: That client's secret, if it has one (secret).
        scope: Scopes to ask for (space-separated) besides those the server names.
        client_metadata_url: An HTTPS URL of a client ID metadata document describing
            agentkit as a client, used instead of registering where the authorization server
            supports such documents.
        redirect_port: The loopback port that receives the browser's redirect (default: the
            port of the last registration, else a free one).
        login_timeout: Seconds to wait for the person to authorize in the browser (default
            `agentkit.defaults.OAUTH_LOGIN_TIMEOUT`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str | None = None
    client_metadata_url: str | None = None
    redirect_port: int | None = Field(default=None, ge=1, le=65535)
    login_timeout: float | None = Field(default=None, gt=0)

    @field_validator("client_metadata_url")
    @classmethod
    def _https_document(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https://[^/]+/.+", value):
            raise ValueError(
                f"must be an https:// URL with a path (a client ID metadata document), got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _secret_needs_id(self) -> OAuthConfig:
        if self.client_secret is not None and self.client_id is None:
            raise ValueError("'client_secret' needs the 'client_id' it belongs to")
        return self


class ServerConfig(BaseModel):
    """One MCP server.

    Attributes:
        command: Program to start (a local server over stdio).
        args: Its arguments.
        env: Environment variables added to agentkit's own for it (secret).
        cwd: Its working directory.
        url: Endpoint of a remote server.
        headers: HTTP headers for a remote server (secret).
        oauth: For a remote server: an `OAuthConfig`, True (the same with every key left
            out) or False (never authorize). Left out, a server that answers 401 is
            authorized with the defaults, unless `headers` has an `Authorization` of its own.
        type: "stdio", "streamable-http" (default for `url`) or "sse".
        disabled: Skip this server (`"enabled": false` says the same).
        inherit_env: Environment variables the server gets from agentkit's own, besides the
            MCP SDK's safe set (HOME, PATH, ...) and the proxy and certificate variables:
            True for all of them, or a list of names.
        timeout: Seconds to start, initialize and list tools, and per request other than a
            tool call (`DEFAULT_MCP_START_TIMEOUT`).
        tool_timeout: Seconds per tool call.
        include_tools: Only these tools (by the server's names).
        exclude_tools: Not these tools.
        require_approval: True: every tool of this server asks before it runs; a list: these
            tools do; False: none does.
        per_run: Start a copy of this server for each run, stopped when the run ends (a
            server that keeps state, such as a browser or a scratch database), instead of
            one shared by every run of an agent or a batch. An agentkit key: other MCP
            clients ignore keys they do not know.
        resources: Offer the model the server's resources as tools (`server__list_resources`,
            `server__read_resource`) when it has any; False: not (an agentkit key). Resources
            can still be attached to a task (`--attach`).
        protocol: The MCP protocol to speak (an agentkit key): "auto" (the newest both sides
            speak, 2026-07-28 with servers built on the MCP SDK 2.x), "legacy" (the initialize
            handshake, 2025-11-25 and before: for a server that sends its own requests
            mid-call, `ctx.elicit(...)` or `ctx.session.create_message(...)`), or a version:
            a handshake-era one (such as "2025-11-25") means "legacy", a later one is used as is.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, SecretStr] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    oauth: Union[bool, OAuthConfig, None] = None
    type: Transport | None = None
    disabled: bool = False
    inherit_env: Union[bool, list[str]] = False
    timeout: float = Field(DEFAULT_MCP_START_TIMEOUT, gt=0)
    tool_timeout: float = Field(DEFAULT_TOOL_TIMEOUT, gt=0)
    include_tools: list[str] | None = None
    exclude_tools: list[str] = Field(default_factory=list)
    require_approval: Union[bool, list[str]] = False
    per_run: bool = False
    resources: bool = True
    protocol: str = "auto"

    # Set by `parse_mcp_config` for the keys whose values held `${VAR}`s: key -> (the value as
    # validated, the value with each `${VAR}` as `***`); and the values those `${VAR}`s had.
    _shown: dict[str, tuple[Any, Any]] = PrivateAttr(default_factory=dict)
    _variables: frozenset[str] = PrivateAttr(default_factory=frozenset)
    _problem: str | None = PrivateAttr(default=None)

    @field_validator("type", mode="before")
    @classmethod
    def _transport_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            name = _TRANSPORT_NAMES.get(value.lower().replace(" ", ""))
            if name is None:
                raise ValueError(f"unknown transport {value!r}: use 'stdio', 'streamable-http' or 'sse'")
            return name
        return value

    @field_validator("protocol")
    @classmethod
    def _protocol_name(cls, value: str) -> str:
        if value not in ("auto", "legacy") and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(
                f"unknown protocol {value!r}: use 'auto', 'legacy' (the initialize handshake, for a "
                "server that sends its own requests mid-call) or a version such as '2025-11-25'"
            )
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ServerConfig:
        unknown = [key for key in (self.model_extra or {}) if key not in _TOLERATED]
        for key in unknown:
            close = difflib.get_close_matches(key, _KNOWN, n=1, cutoff=0.75)
            if close:
                raise ValueError(f"unknown key {key!r}; did you mean {close[0]!r}?")
        if self.command and self.url:
            raise ValueError(
                "has both 'command' and 'url': a server is local (command) or remote (url); keep "
                "'command' (and 'args') to start it here, or 'url' to connect to one running there"
            )
        if not self.command and not self.url:
            raise ValueError("needs 'command' (a local server over stdio) or 'url' (a remote server)")
        if self.url and not re.match(r"^https?://", self.url):
            raise ValueError(f"'url' must start with http:// or https://, got {self.url!r}")
        if self.command and self.oauth not in (None, False):
            raise ValueError(
                "'oauth' is for remote servers ('url'); a local server gets its secrets in 'env'"
            )
        return self

    @property
    def problem(self) -> str | None:
        """Why this server cannot start whatever happens (a `${VAR}` in it is not set), or None."""
        return self._problem

    @property
    def transport(self) -> Transport:
        if self.command:
            return "stdio"
        if self.type in ("sse", "streamable-http"):
            return self.type
        return "sse" if (self.url or "").rstrip("/").endswith("/sse") else "streamable-http"

    def secret_env(self) -> dict[str, str]:
        return {k: v.get_secret_value() for k, v in self.env.items()}

    def secret_headers(self) -> dict[str, str]:
        return {k: v.get_secret_value() for k, v in self.headers.items()}

    def oauth_settings(self) -> OAuthConfig | None:
        """How to authorize with this server, or None when agentkit never does: a local
        server, `"oauth": false`, or (with `oauth` left out) an `Authorization` header."""
        if self.command or self.oauth is False:
            return None
        if self.oauth is None and any(key.lower() == "authorization" for key in self.headers):
            return None
        return self.oauth if isinstance(self.oauth, OAuthConfig) else OAuthConfig()

    def wants_tool(self, name: str) -> bool:
        if self.include_tools is not None and name not in self.include_tools:
            return False
        return name not in self.exclude_tools

    def unmatched_tools(self, tools: Iterable[str]) -> str | None:
        """What is wrong with `include_tools` and `exclude_tools` given the server's `tools`:
        the names that match none of them, with the closest tool and the tools it has."""
        names = list(tools)
        problems = []
        for key, wanted in (
            ("include_tools", self.include_tools or []),
            ("exclude_tools", self.exclude_tools),
        ):
            for name in wanted:
                if name not in names:
                    close = closest(name, names)
                    hint = f" (did you mean {close!r}?)" if close else ""
                    problems.append(f"{key} names {name!r}, which is not one of its tools{hint}")
        if not problems:
            return None
        return "; ".join(problems) + f"; its tools: {', '.join(names) or 'none'}"

    def describe(self) -> str:
        """Where the server is, without secrets: the command line or the URL."""
        if self.command:
            return " ".join([self._show("command"), *self._show("args")])
        return f"{self._show('url')} ({self.transport})"

    def redact(self, text: str) -> str:
        """`text` (a server's stderr, an error message) with this server's secrets as `***`:
        what its `${VAR}`s stood for, and the values of `env` and `headers`."""
        secrets = [*self._variables, *self.secret_env().values(), *self.secret_headers().values()]
        if isinstance(self.oauth, OAuthConfig) and self.oauth.client_secret is not None:
            secrets.append(self.oauth.client_secret.get_secret_value())
        return _redact(text, secrets)

    def _value(self, key: str) -> Any:
        """A key's value: a field, or a key agentkit does not know (read from the extras, not
        as an attribute: `model_dump`, say, is a method)."""
        return getattr(self, key) if key in type(self).model_fields else (self.model_extra or {}).get(key)

    def _show(self, key: str) -> Any:
        """A key's value as shown: with its `${VAR}`s as `***`, if it had any."""
        value = self._value(key)
        if key in self._shown:
            validated, shown = self._shown[key]
            if value == validated:  # else a copy with this key changed (`model_copy(update=...)`)
                return shown
        return value

    def _with_variables(
        self, expanded: Mapping[str, Any], shown: Mapping[str, Any], values: Iterable[str]
    ) -> ServerConfig:
        """Remember how the entry reads with its `${VAR}`s hidden, and what they stood for."""
        self._shown = {
            key: (self._value(key), shown[key])
            for key in expanded
            if shown[key] != expanded[key] and key not in _SECRET_KEYS  # those are SecretStr already
        }
        self._variables = frozenset(values)
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for key, value in super().__repr_args__():
            yield key, (self._show(key) if key is not None else value)


_KNOWN = [name for name in ServerConfig.model_fields]
_SECRET_KEYS = frozenset({"env", "headers"})
# Keys other clients write that agentkit has no use for: accepted and ignored.
_TOLERATED = {"description", "name", "autoApprove", "alwaysAllow", "transportType", "dev"}

CONFIG_ENV_VAR = "AGENTKIT_MCP_CONFIG"
"""The environment variable naming the default MCP config file; set but empty: no default."""

_VSCODE_INPUT = re.compile(r"\$\{input:([^}]*)\}")


class McpConfig(BaseModel):
    """The `mcpServers` of one or more config files, by server name."""

    servers: dict[str, ServerConfig]

    def enabled(self) -> dict[str, ServerConfig]:
        return {name: server for name, server in self.servers.items() if not server.disabled}

    def split(self) -> tuple[McpConfig, McpConfig]:
        """The servers shared by every run, and those started once per run (`per_run`)."""
        shared = {name: server for name, server in self.servers.items() if not server.per_run}
        own = {name: server for name, server in self.servers.items() if server.per_run}
        return McpConfig(servers=shared), McpConfig(servers=own)


_MAX_DEPTH = 100
"""How deep objects and lists may nest in a server entry (deeper would exhaust the stack)."""


class _NotSet(ConfigError):
    """A `${VAR}` with no value and no default."""


def _predefined(base: Path | None) -> dict[str, str]:
    """The values of VS Code's variables for a config file in folder `base`."""
    folder = Path.cwd() if base is None else (base.parent if base.name == ".vscode" else base)
    return {
        "workspaceFolder": str(folder),
        "workspaceFolderBasename": folder.name,
        "userHome": str(Path.home()),
        "pathSeparator": os.sep,
        "/": os.sep,
    }


def _expand(
    value: Any,
    where: str,
    values: list[str],
    predefined: Mapping[str, str],
    *,
    strict: bool = True,
    depth: int = 0,
) -> tuple[Any, Any]:
    """VS Code's variables (`predefined`), then `${VAR}` and `${VAR:-default}`, in every
    string of a JSON value.

    Args:
        strict: An unset `${VAR}` without a default is an error; False: it is left as written.

    Returns:
        The value expanded, and the value as shown: each secret `${VAR}` as `***`. What the
        secret `${VAR}`s stood for is appended to `values`.
    """
    if depth > _MAX_DEPTH:
        raise ConfigError(f"{where}: objects and lists nest more than {_MAX_DEPTH} deep; flatten it")
    if isinstance(value, str):
        value = _PREDEFINED.sub(lambda match: predefined[match.group(1)], value)
        shown: list[str] = []

        def lookup(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                found = os.environ[name]
            elif default is not None:
                found = default
            elif strict:
                raise _NotSet(
                    f"{where}: ${{{name}}} is not set; set the environment variable {name} "
                    f"or write ${{{name}:-default}}"
                )
            else:
                found = match.group(0)
            if _SECRET_NAME.search(name):
                values.append(found)
                shown.append(REDACTED)
            else:
                shown.append(found)
            return found

        expanded = _VAR.sub(lookup, value)
        answers = iter(shown)
        return expanded, _VAR.sub(lambda _: next(answers), value)
    if isinstance(value, list):
        items = [_expand(item, where, values, predefined, strict=strict, depth=depth + 1) for item in value]
        return [expanded for expanded, _ in items], [shown for _, shown in items]
    if isinstance(value, dict):
        pairs = {
            key: _expand(item, f"{where}, key {key!r}", values, predefined, strict=strict, depth=depth + 1)
            for key, item in value.items()
        }
        return {key: pair[0] for key, pair in pairs.items()}, {key: pair[1] for key, pair in pairs.items()}
    return value, value


def _explain(file: str, name: str, error: pydantic.ValidationError) -> str:
    problems = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"key {key!r}: {message}" if key else message)
    return f"{file}: server {name!r}: " + "; ".join(problems)


def load_mcp_config(path: str | Path) -> McpConfig:
    """Read one config file; relative paths in it resolve against its folder.

    Raises:
        ConfigError: The file is missing, not JSON, or a server entry is wrong; the message
            names the file, the server, the key and what is expected.
    """
    file = Path(path).expanduser()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such MCP config file") from None
    except OSError as exc:  # a folder, say, or no permission
        raise ConfigError(f"{file}: cannot read the MCP config file ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ConfigError(f"{file}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{file}: not valid JSON (nested too deep to read)") from None
    return parse_mcp_config(data, str(file), base=file.resolve().parent)


def _servers_of(data: Any, source: str) -> Mapping[Any, Any]:
    """The server entries of a config in any client's shape."""
    if isinstance(data, Mapping):
        if isinstance(data.get("mcp"), Mapping) and "mcpServers" not in data and "servers" not in data:
            data = data["mcp"]  # VS Code's settings.json
        for key in ("mcpServers", "servers"):
            if isinstance(data.get(key), Mapping):
                return cast(Mapping[Any, Any], data[key])
    raise ConfigError(
        f'{source}: expected a JSON object with "mcpServers": {{"name": {{"command": ...}}}} '
        f'(Claude Desktop, Cursor, Windsurf) or "servers": {{"name": {{"type": "stdio", "command": ...}}}} '
        "(VS Code)"
    )


def _normalize(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Other clients' spellings as agentkit's: Windsurf's `serverUrl`, `"enabled": false`."""
    entry = dict(entry)
    if "serverUrl" in entry:
        if "url" in entry:
            raise ConfigError(f"{where}: has both 'url' and 'serverUrl' (Windsurf's name for it); keep one")
        entry["url"] = entry.pop("serverUrl")
    if "enabled" in entry:
        enabled = entry.pop("enabled")
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}: key 'enabled': expected true or false, got {enabled!r}")
        if not enabled:
            entry["disabled"] = True
    return entry


def _no_inputs(shown: Any, where: str) -> None:
    """VS Code's `${input:NAME}` (a value it prompts for) has no meaning here: say so."""
    if isinstance(shown, Mapping):
        for item in shown.values():
            _no_inputs(item, where)
    elif isinstance(shown, list):
        for item in shown:
            _no_inputs(item, where)
    found = _VSCODE_INPUT.search(shown) if isinstance(shown, str) else None
    if found:
        raise ConfigError(
            f"{where}: ${{input:{found.group(1)}}} is a value VS Code prompts for, which agentkit "
            f"cannot; put it in an environment variable and write ${{NAME}} instead"
        )


def _is_path(text: str) -> bool:
    return "/" in text or (os.sep != "/" and os.sep in text)


def _with_env_file(
    entry: dict[str, Any], written: Mapping[str, Any], base: Path | None, where: str
) -> dict[str, Any]:
    """VS Code's `envFile` (`NAME=value` lines) read into `env`; `env`'s own values win."""
    name = entry.pop("envFile", None)
    if name is None:
        return entry
    if not isinstance(name, str):
        raise ConfigError(f"{where}: key 'envFile': expected a file name, got {name!r}")
    path = Path(os.path.expanduser(name))
    if base is not None and not path.is_absolute() and not _VAR.search(str(written.get("envFile"))):
        path = base / path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{where}: key 'envFile': cannot read {path} ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    own = entry.get("env", {})
    if isinstance(own, Mapping):  # else validation names the problem with `env`
        entry["env"] = values | dict(own)
    return entry


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL in it: not a file
        return False


def _resolve_paths(entry: dict[str, Any], written: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths written in the file (not from a `${VAR}`), against the file's folder."""

    def literal(key: str) -> str | None:
        value, raw = entry.get(key), written.get(key)
        return value if isinstance(value, str) and isinstance(raw, str) and not _VAR.search(raw) else None

    cwd = literal("cwd")
    if cwd is not None and not os.path.isabs(os.path.expanduser(cwd)):
        entry["cwd"] = str(base / cwd)
    command = literal("command")
    if command is not None and _is_path(command) and not Path(command).is_absolute():
        entry["command"] = str(base / command)
    args, raw_args = entry.get("args"), written.get("args")
    if isinstance(args, list) and isinstance(raw_args, list) and len(args) == len(raw_args):
        entry["args"] = [
            str(base / arg)
            if isinstance(arg, str) and isinstance(raw, str) and not _VAR.search(raw)
            and not arg.startswith("-") and not os.path.isabs(arg) and _is_file(base / arg)
            else arg
            for arg, raw in zip(args, raw_args, strict=True)
        ]  # fmt: skip
    return entry


def parse_mcp_config(data: Any, source: str = "MCP config", *, base: str | Path | None = None) -> McpConfig:
    """A config from data in any client's file format (`{"mcpServers": {...}}`, VS Code's
    `{"servers": {...}}`), as `Agent(mcp={...})` takes it.

    Args:
        data: The parsed JSON.
        source: What to call it in errors (the file's name).
        base: The folder relative paths resolve against (a file's own); None: left as written.

    Raises:
        ConfigError: As for `load_mcp_config`, naming `source` as the file.
    """
    servers: dict[str, ServerConfig] = {}
    predefined = _predefined(Path(base) if base is not None else None)
    for name, entry in _servers_of(data, source).items():
        if not isinstance(name, str):
            raise ConfigError(f"{source}: server name {name!r} is not a string")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{source}: server {name!r}: expected an object, got {type(entry).__name__}")
        where = f"{source}: server {name!r}"
        written = _normalize(entry, where)
        if written.get("disabled") is True:
            servers[name] = _skipped(written, where, predefined)
            continue
        values: list[str] = []
        try:
            expanded, shown = _expand(written, where, values, predefined)
        except _NotSet as exc:  # this server cannot start; the others can
            servers[name] = _skipped(written, where, predefined).model_copy(update={"disabled": False})
            servers[name]._problem = str(exc)
            continue
        _no_inputs(shown, where)
        expanded = _with_env_file(expanded, written, Path(base) if base is not None else None, where)
        shown.pop("envFile", None)
        if "env" in expanded and "env" not in shown:
            shown["env"] = expanded["env"]  # secret: never shown
        if base is not None:
            expanded = _resolve_paths(expanded, written, Path(base))
            shown = {key: expanded[key] if shown[key] == written.get(key) else shown[key] for key in shown}
        try:
            server = ServerConfig.model_validate(expanded)
        except pydantic.ValidationError as exc:
            raise ConfigError(_redact(_explain(source, name, exc), values)) from None
        servers[name] = server._with_variables(expanded, shown, values)
        _warn_remote_type(server, written, where)
    return McpConfig(servers=servers)


def _skipped(written: Mapping[str, Any], where: str, predefined: Mapping[str, str]) -> ServerConfig:
    """A server that will not start (disabled, or with an unset variable): what it would run,
    as far as it can be told, and no more (a mistake in it does not keep the others from
    starting)."""
    values: list[str] = []
    expanded, shown = _expand(written, where, values, predefined, strict=False)
    expanded.pop("envFile", None)
    try:
        server = ServerConfig.model_validate(expanded)
    except pydantic.ValidationError:
        # What it would run, or where it is, as written: enough to list it as disabled.
        target = next(
            (shown[key] for key in ("command", "url") if isinstance(shown.get(key), str) and shown[key]), "?"
        )
        args = shown.get("args") if shown.get("command") == target else None
        listed = [str(arg) for arg in args] if isinstance(args, list) else []
        return ServerConfig.model_validate({"command": target, "args": listed, "disabled": True})
    return server._with_variables(expanded, shown, values)


def _warn_remote_type(server: ServerConfig, written: Mapping[str, Any], where: str) -> None:
    """A `command` with a remote `type` (VS Code's `"type": "http"`): the command wins; say so."""
    if server.command and server.type in ("streamable-http", "sse"):
        import warnings

        warnings.warn(
            f"{where}: has 'type': {written.get('type')!r} and a 'command'; agentkit starts it with its "
            "command over stdio and ignores 'type'. To connect to a server running over HTTP, replace "
            "'command' and 'args' with its 'url'; to start it here, remove 'type' (or make it 'stdio')",
            McpConfigWarning,
            stacklevel=3,
        )


def user_config_folder() -> Path:
    """agentkit's folder in the user's config directory (`~/.config/agentkit` on Linux): the
    default MCP config and the OAuth tokens live there."""
    import platformdirs  # on first use: `import agentkit` does not need it

    return platformdirs.user_config_path("agentkit", appauthor=False)


def user_mcp_config() -> Path:
    """The default MCP config file's path in the user's config folder (it may not exist)."""
    return user_config_folder() / "mcp.json"


def default_mcp_config_path() -> Path | None:
    """The MCP config used when none is given, or None.

    `$AGENTKIT_MCP_CONFIG` names it (set but empty: no default config); otherwise it is
    `mcp.json` in the user's config folder (`~/.config/agentkit/mcp.json` on Linux) if that
    file exists.
    """
    named = os.environ.get(CONFIG_ENV_VAR)
    if named is not None:
        return Path(named).expanduser() if named.strip() else None
    path = user_mcp_config()
    return path if path.is_file() else None


def load_mcp_configs(paths: Iterable[str | Path]) -> McpConfig:
    """Read several config files into one; a server name may appear in only one of them."""
    merged: dict[str, ServerConfig] = {}
    origin: dict[str, str] = {}
    for path in paths:
        for name, server in load_mcp_config(path).servers.items():
            if name in merged:
                raise ConfigError(f"{path}: server {name!r} is also defined in {origin[name]}; rename one")
            merged[name] = server
            origin[name] = str(path)
    return McpConfig(servers=merged)
