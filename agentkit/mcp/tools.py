"""MCP tools as agentkit `Tool`s, and MCP results as the text the model reads.

Images, audio and binary resources in a result are saved as files (in the run's workspace)
and the text names each file, its type and size: the model can hand the path on to a file
tool, and a person finds the file where the run works.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentkit._text import short_size
from agentkit.defaults import TOOL_TIMEOUT_BACKSTOP
from agentkit.mcp.session import McpServerError, McpSession
from agentkit.tools.tool import Approval, ToolContext, ToolResult, tool_spec

__all__ = ["McpTool", "SavedFile", "prefixed_name", "result_text", "save_files"]

SEPARATOR = "__"


def prefixed_name(server: str, tool: str) -> str:
    """`server__tool`, with characters a function name may not hold replaced by `_`."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", server) + SEPARATOR + tool


class McpTool:
    """A tool of an MCP server, named `server__tool`.

    Its input schema goes to the model as the server gave it and is what agentkit validates
    arguments against before the call.

    Attributes:
        server: The session of the server that owns it.
        remote_name: The tool's name on its server.
        read_only: The server's `readOnlyHint`.
        destructive: Whether the server marked the tool destructive (`destructiveHint` true
            and not read-only). A tool without annotations is not taken as marked, though
            MCP allows any such tool to be destructive; `require_approval` covers those.
        requires_approval: The config asks for approval before each call.
        approval: "ask" for destructive tools and those the config names, else "auto".
    """

    def __init__(self, session: McpSession, spec: Any) -> None:
        self.server = session
        self.remote_name: str = spec.name
        self.name = prefixed_name(session.name, spec.name)
        self.description: str = spec.description or spec.title or f"The {spec.name} tool of {session.name}."
        schema = spec.input_schema if isinstance(spec.input_schema, dict) else {}
        self.parameters: dict[str, Any] = schema or {"type": "object", "properties": {}}
        hints = spec.annotations
        self.read_only = bool(hints and hints.read_only_hint)
        self.destructive = bool(hints and hints.destructive_hint is True and not self.read_only)
        approval = session.config.require_approval
        self.requires_approval = approval is True or (isinstance(approval, list) and spec.name in approval)
        self.approval: Approval = "ask" if self.destructive or self.requires_approval else "auto"
        # The session's own timeout answers first, with the server told to cancel.
        self.timeout: float | None = session.config.tool_timeout + TOOL_TIMEOUT_BACKSTOP
        self._spec = tool_spec(self.name, self.description, self.parameters)

    def spec(self) -> dict[str, Any]:
        return self._spec

    def __repr__(self) -> str:
        return f"McpTool({self.name!r})"

    async def call(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        async def progress(done: float, total: float | None, message: str | None) -> None:
            context.progress(done, total, message)

        try:
            result = await self.server.call_tool(self.remote_name, arguments, progress=progress)
        except McpServerError as exc:
            return ToolResult(str(exc), is_error=True)
        files: list[SavedFile | None] = []
        if _has_binary(result):
            # A run without a configured workspace gets a fresh one (as file tools do); the
            # text then names that folder too, since no one has been told where it is.
            made_now = not context.scope.has_workspace
            root = context.scope.workspace
            files = save_files(result, root, self.remote_name, shown_from=root)
            if made_now:
                files = [f and f.located(f"in the run's workspace {root}") for f in files]
        text = result_text(result, files)
        return ToolResult(text, is_error=bool(result.is_error), data=result.structured_content)


@dataclass(frozen=True)
class SavedFile:
    """A binary content block written to disk.

    Attributes:
        path: Where it was written.
        shown: The path as the result text names it (relative to the folder it was saved in
            from, or absolute), with where that folder is when a reader needs telling.
        mime_type: The block's MIME type.
        size: Its size in bytes.
        error: Why it could not be written (then `path` is where it would have gone).
    """

    path: Path
    shown: str
    mime_type: str
    size: int
    error: str | None = None

    def located(self, where: str) -> SavedFile:
        """The same file, its shown path followed by where its folder is."""
        return SavedFile(self.path, f"{self.shown} {where}", self.mime_type, self.size, self.error)


_EXTENSIONS = {  # what `mimetypes` does not know on every system
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/ogg": ".ogg",
    "audio/webm": ".webm",
    "audio/flac": ".flac",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/svg+xml": ".svg",
}
_MAX_NAME_TRIES = 1000
"""How many numbered names (`x.png`, `x-2.png`, ...) are tried before giving up on a folder."""


def _binary(block: Any) -> tuple[str, str, str | None] | None:
    """(base64 data, MIME type, a name hint) of a block that carries bytes, else None."""
    kind = getattr(block, "type", None)
    if kind in ("image", "audio"):
        return block.data or "", block.mime_type or "application/octet-stream", None
    if kind == "resource":
        blob = getattr(block.resource, "blob", None)
        if blob is not None:
            uri = str(block.resource.uri)
            return (
                blob,
                block.resource.mime_type or "application/octet-stream",
                uri.rstrip("/").rsplit("/", 1)[-1],
            )
    return None


def _has_binary(result: Any) -> bool:
    return any(_binary(block) is not None for block in result.content or [])


def save_files(
    result: Any, folder: Path, stem: str, *, shown_from: Path | None = None
) -> list[SavedFile | None]:
    """Write the images, audio and binary resources of an MCP result into `folder`.

    Each file is named after `stem` (the tool's name) or, for a resource, the last part of its
    URI, with an extension from its MIME type; an existing file is never overwritten
    (`chart.png`, `chart-2.png`, ...).

    Args:
        result: The SDK's `CallToolResult`.
        folder: Where the files go (made if missing).
        stem: The name for blocks that carry none.
        shown_from: Paths under this folder are shown relative to it; others in full.

    Returns:
        One entry per content block: the file, or None for a block that is not binary. A file
        that could not be written says why in `error`.
    """
    out: list[SavedFile | None] = []
    for block in result.content or []:
        found = _binary(block)
        if found is None:
            out.append(None)
            continue
        data, mime, hint = found
        name = _file_name(hint or stem, mime)
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            out.append(SavedFile(folder / name, name, mime, len(data), "its data is not valid base64"))
            continue
        try:
            path = _write_new(folder, name, raw)
        except OSError as exc:
            out.append(SavedFile(folder / name, name, mime, len(raw), f"not saved: {exc.strerror or exc}"))
            continue
        out.append(SavedFile(path, _shown(path, shown_from), mime, len(raw)))
    return out


def _file_name(hint: str, mime: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", hint).lstrip(".") or "file"
    extension = (
        _EXTENSIONS.get(mime.split(";")[0].strip().lower()) or mimetypes.guess_extension(mime) or ".bin"
    )
    known = mimetypes.guess_type(base, strict=False)[0] is not None  # report.pdf keeps its name
    return base if known else base + extension


def _write_new(folder: Path, name: str, raw: bytes) -> Path:
    """`raw` written to a file of `folder` that did not exist: `name`, else `name-2`, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, _MAX_NAME_TRIES + 1):
        path = folder / (name if n == 1 else f"{stem}-{n}{suffix}")
        try:
            with path.open("xb") as handle:
                handle.write(raw)
        except FileExistsError:
            continue
        return path
    raise OSError(f"{_MAX_NAME_TRIES} files named {stem}-N{suffix} exist already in {folder}")


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def _size(data: str | None) -> str:
    if not data:
        return "0 B"
    try:
        size = len(base64.b64decode(data, validate=False))
    except ValueError:
        size = len(data)
    return short_size(size)


def _file_text(kind: str, saved: SavedFile) -> str:
    if saved.error is not None:
        return f"[{kind}: {saved.mime_type}, {short_size(saved.size)}; {saved.error}]"
    return f"[{kind}: {saved.mime_type}, {short_size(saved.size)}, saved as {saved.shown}]"


def _block_text(block: Any, saved: SavedFile | None = None) -> str:
    kind = getattr(block, "type", None)
    if saved is not None:
        return _file_text("resource" if kind == "resource" else str(kind), saved)
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        return f"[{kind}: {block.mime_type or 'unknown type'}, {_size(block.data)}]"
    if kind == "resource_link":
        return f"[resource link: {block.name} {block.uri}]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return str(text)
        blob = getattr(resource, "blob", None)
        return f"[resource: {resource.uri}, {resource.mime_type or 'binary'}, {_size(blob)}]"
    return f"[{kind or 'unknown'} content]"


def result_text(result: Any, files: Sequence[SavedFile | None] = ()) -> str:
    """What the model reads of a tool result: text joined, structured content as JSON, and for
    images, audio and binary resources their type and size, and the file each was saved as
    (`files`, from `save_files`) or a short placeholder when none was written."""
    blocks = list(result.content or [])
    saved = (list(files) + [None] * len(blocks))[: len(blocks)]
    parts = [_block_text(block, file) for block, file in zip(blocks, saved, strict=True)]
    structured = result.structured_content
    if structured is not None and not _already_said(parts, structured):
        parts.append(json.dumps(structured, ensure_ascii=False))
    return "\n".join(parts) if parts else "(the tool returned nothing)"


def _already_said(parts: list[str], structured: Any) -> bool:
    """Whether the text blocks already carry the structured result (servers usually send both)."""
    values = [structured]
    if isinstance(structured, dict) and len(structured) == 1:
        values.append(next(iter(structured.values())))  # {"result": ...}, {"content": ...} wrappers
    for part in parts:
        for value in values:
            if part == value:
                return True
            try:
                if json.loads(part) == value:
                    return True
            except ValueError:
                continue
    return False
