"""The errors agentkit raises. Each message says what went wrong and what to do next."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentkit.result import RunResult

__all__ = [
    "AgentkitError",
    "ConfigError",
    "ContextOverflow",
    "ModelError",
    "ModelTimeout",
    "ModelUnreachable",
    "StreamBroken",
    "ToolError",
]


class AgentkitError(Exception):
    """Base of agentkit's errors.

    Attributes:
        result: When the error ended a run, what the run had done by then (its finished
            steps and messages, stop reason "error"); None otherwise.
    """

    result: RunResult | None = None


class ConfigError(AgentkitError):
    """A configuration (arguments, a file) is wrong; the message names the fix."""


class ModelError(AgentkitError):
    """The model server answered a request with an error, or the exchange failed.

    Attributes:
        url: The URL that was requested.
        status: The HTTP status, when there was a response.
        retryable: Whether the same request may succeed if sent again (server faults,
            overload, broken connections), as opposed to a request the server rejects.
        retry_after: Seconds the server asked the client to wait (`Retry-After`), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class ModelUnreachable(ModelError):
    """No connection could be made to the model server."""


class ModelTimeout(ModelError):
    """The model server did not answer, or went silent, within the configured time."""


class StreamBroken(ModelError):
    """A response stream ended before the server said it was complete (no `[DONE]`)."""


class ContextOverflow(ModelError):
    """The server refused a request whose prompt and output do not fit the model's window."""


class ToolError(Exception):
    """Raise inside a tool to answer the model with this message as an error, as is.

    Not an `AgentkitError`: it never leaves a run. The toolbox turns it into the call's
    result and the run goes on.
    """
