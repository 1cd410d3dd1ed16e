"""What the tool calls of one run share: a workspace, and resources closed when the run ends."""

from __future__ import annotations

import contextlib
import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from agentkit.sandbox import SandboxPolicy

__all__ = ["RunScope"]

T = TypeVar("T")


class RunScope:
    """One run's shared state for its tools.

    Args:
        workspace: The directory file tools are confined to; None makes a fresh one (under
            the system's temporary directory) the first time a tool asks for it.
        sandbox: How `run_python` and `run_shell` confine their processes (default: mode
            "auto", no network).
    """

    def __init__(self, workspace: str | Path | None = None, sandbox: SandboxPolicy | None = None) -> None:
        self._workspace = Path(workspace).expanduser().resolve() if workspace is not None else None
        self._sandbox = sandbox
        self._resources: dict[str, Any] = {}

    @property
    def workspace(self) -> Path:
        """The run's workspace directory (created if it does not exist)."""
        if self._workspace is None:
            self._workspace = Path(tempfile.mkdtemp(prefix="agentkit-workspace-")).resolve()
        self._workspace.mkdir(parents=True, exist_ok=True)
        return self._workspace

    @property
    def sandbox(self) -> SandboxPolicy:
        """The run's sandbox policy."""
        if self._sandbox is None:
            from agentkit.sandbox import SandboxPolicy

            self._sandbox = SandboxPolicy()
        return self._sandbox

    @property
    def has_workspace(self) -> bool:
        return self._workspace is not None

    def resource(self, key: str, factory: Callable[[], T]) -> T:
        """The run's resource under `key`, made by `factory` on first use (e.g. a Python
        worker that keeps state across calls). Resources with `aclose()` or `close()` are
        closed when the run ends."""
        if key not in self._resources:
            self._resources[key] = factory()
        return self._resources[key]  # type: ignore[no-any-return]

    def drop(self, key: str) -> None:
        """Forget a resource (its owner closed it)."""
        self._resources.pop(key, None)

    async def aclose(self) -> None:
        """Close every resource, newest first; one failing does not stop the others."""
        resources, self._resources = self._resources, {}
        for item in reversed(list(resources.values())):
            closer = getattr(item, "aclose", None) or getattr(item, "close", None)
            if closer is None:
                continue
            with contextlib.suppress(Exception):
                outcome = closer()
                if inspect.isawaitable(outcome):
                    await outcome
