"""The errors agentkit raises. Each message says what went wrong and what to do next."""

from __future__ import annotations

__all__ = ["AgentkitError", "ConfigError", "ModelError", "ModelTimeout", "ModelUnreachable"]


class AgentkitError(Exception):
    """Base of agentkit's errors."""


class ConfigError(AgentkitError):
    """A configuration (arguments, a file) is wrong; the message names the fix."""


class ModelError(AgentkitError):
    """The model server answered a request with an error.

    Attributes:
        url: The URL that was requested.
        status: The HTTP status, when there was a response.
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class ModelUnreachable(ModelError):
    """No connection could be made to the model server."""


class ModelTimeout(ModelError):
    """The model server did not answer within the configured time."""
