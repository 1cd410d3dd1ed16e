"""Blocking work off the event loop, in threads that never hold a stopping process back."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["in_daemon_thread"]

T = TypeVar("T")


async def in_daemon_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a thread of its own, awaited.

    Unlike `asyncio.to_thread` (the loop's executor, which `asyncio.run` waits for when it
    ends), the thread is a daemon: a run stopped meanwhile (Ctrl-C, SIGTERM, a timeout) ends
    without waiting for a blocking tool or a terminal prompt to return.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, error = context.run(fn, *args, **kwargs), None
        except BaseException as exc:  # handed to the awaiting task, as to_thread does
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name=f"agentkit-{getattr(fn, '__name__', 'work')}", daemon=True).start()
    return await future
