"""Headless Chromium driven over the DevTools protocol (a websocket, no extra dependency):
open a page, evaluate JavaScript in it, click, take screenshots, and collect what the page
logs as an error (console errors, uncaught exceptions, failed loads, policy violations)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websockets

CHROMIUM_ENV = "AGENTKIT_TEST_CHROMIUM"
"""The environment variable naming the browser to use, over the ones looked for on PATH."""

START_TIMEOUT = 30.0
"""Seconds for Chromium to start and open its DevTools port."""

COMMAND_TIMEOUT = 30.0
"""Seconds a DevTools command may take (a full-page screenshot included)."""

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1280,900",
)


def find_chromium() -> str | None:
    """The browser: `$AGENTKIT_TEST_CHROMIUM`, else Debian's `chromium` or another on PATH."""
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless Chromium with a new empty profile, and its first page.

    Use as `async with Chromium(path) as browser:`; `errors` holds what the page logged as
    an error since it opened.
    """

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.errors: list[str] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def __aenter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory(prefix="agentkit-chromium-")
        self._log = open(Path(self._profile.name) / "stderr.log", "wb")  # noqa: SIM115 (closed in __aexit__)
        self.proc = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        try:
            port = self._devtools_port()
            self._socket = await websockets.connect(self._page_socket(port), max_size=None, open_timeout=10)
        except BaseException:
            self._stop()
            raise
        self._reader = asyncio.ensure_future(self._read())
        for domain in ("Page", "Runtime", "Log"):
            await self.send(f"{domain}.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._socket.close(), 5)
        self._stop()

    def _stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        self._profile.cleanup()

    def _devtools_port(self) -> int:
        """The port Chromium writes to its profile once DevTools listens (bounded)."""
        marker = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}: {self._stderr()}")
            lines = marker.read_text().splitlines() if marker.exists() else []
            if lines and lines[0].isdigit():
                return int(lines[0])
            time.sleep(0.1)
        raise TimeoutError(
            f"chromium did not open its DevTools port within {START_TIMEOUT:g} s: {self._stderr()}"
        )

    def _stderr(self) -> str:
        self._log.flush()
        return (Path(self._profile.name) / "stderr.log").read_text(errors="replace")[-2000:]

    @staticmethod
    def _page_socket(port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        return str(next(t for t in targets if t.get("type") == "page")["webSocketDebuggerUrl"])

    async def _read(self) -> None:
        async for message in self._socket:
            data = json.loads(message)
            if "id" in data:
                waiting = self._waiting.pop(data["id"], None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(data)
            else:
                self._event(data.get("method", ""), data.get("params") or {})

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(
                "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails") or {}
            self.errors.append(
                f"exception: {(details.get('exception') or {}).get('description') or details.get('text')}"
            )
        elif method == "Log.entryAdded" and (params.get("entry") or {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log: {entry.get('text')} {entry.get('url') or ''}".strip())

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command and its result (bounded by `COMMAND_TIMEOUT`)."""
        number = next(self._ids)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = answer
        await self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        data = await asyncio.wait_for(answer, COMMAND_TIMEOUT)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        result: dict[str, Any] = data.get("result") or {}
        return result

    async def open(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, seconds: float = 15.0) -> Any:
        """Poll an expression until it is truthy; fail naming it after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            with contextlib.suppress(RuntimeError):  # the page may be between documents
                value = await self.evaluate(expression)
                if value:
                    return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {seconds:g} s waiting for: {expression}")
            await asyncio.sleep(0.1)

    async def click(self, selector: str) -> None:
        """A real mouse click at the middle of the first element matching `selector`."""
        script = (
            f"const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];"
        )
        box = await self.evaluate(f"(() => {{ {script} }})()")
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    async def screenshot(self, path: Path, *, full_page: bool = True) -> None:
        """A PNG of the page (all of it, or the window)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = await self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = await self.send("Page.captureScreenshot", **params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
