"""The run viewer's web server: a page and a JSON API over the runs directory, on loopback.

It listens on 127.0.0.1 only and answers only requests whose `Host` header names that
address (or `localhost`) and its port, so a web page elsewhere cannot reach it by pointing a
name of its own at 127.0.0.1 (DNS rebinding). Every request must also carry the viewer's
token, a random string in the URL it prints (as Jupyter does): the first request gives it in
the query and gets it back as a cookie, so other users of the machine and pages in the
browser that do not know it see nothing. The page's scripts and styles come from this
package and nothing is fetched from elsewhere (the Content-Security-Policy says so).

A run in progress reaches the page as Server-Sent Events: the viewer looks at its transcript
every `poll` seconds and sends the lines added since, until the process writing it is gone.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from agentkit.defaults import (
    VIEWER_HEARTBEAT,
    VIEWER_POLL_INTERVAL,
    VIEWER_REQUEST_TIMEOUT,
    VIEWER_STREAM_TIME,
)
from agentkit.errors import ConfigError
from agentkit.store import find_run, read_head, run_info, writer_alive
from agentkit.viewer.api import RunsIndex, read_after, run_detail, run_row

__all__ = ["RunViewer"]

STATIC = Path(__file__).parent / "static"
_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
_OWNERS = ("run", "run_resumed", "user_turn")  # the records that say which process writes a run

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class RunViewer:
    """Serves the run viewer for one runs directory on 127.0.0.1.

    Args:
        directory: The runs directory.
        port: The port to listen on (0: a free one).
        token: The secret the URL carries (default: a new random one).
        poll: Seconds between looks at a live run's transcript.
        heartbeat: Seconds a live stream may stay silent before a keep-alive line.
        stream_time: Seconds one live stream stays open (the page then opens the next).
        request_timeout: Seconds a connection may wait for its request, or for the browser
            to take what is sent, before it is dropped.

    Raises:
        OSError: The port is taken.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        port: int = 0,
        token: str | None = None,
        poll: float = VIEWER_POLL_INTERVAL,
        heartbeat: float = VIEWER_HEARTBEAT,
        stream_time: float = VIEWER_STREAM_TIME,
        request_timeout: float = VIEWER_REQUEST_TIMEOUT,
    ) -> None:
        self.directory = Path(directory)
        self.token = token or secrets.token_urlsafe(24)
        self.poll, self.heartbeat, self.stream_time = poll, heartbeat, stream_time
        self.request_timeout = request_timeout
        self.index = RunsIndex(self.directory)
        self.stopping = threading.Event()
        self._lock = threading.Lock()  # the index is shared by the request threads
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.viewer = self
        self.port: int = self._server.server_address[1]
        self.hosts = {f"{name}:{self.port}" for name in ("127.0.0.1", "localhost")}
        self.cookie = f"agentkit-viewer-{self.port}"  # cookies do not tell ports apart; names do
        self._thread: threading.Thread | None = None

    def url(self, run_id: str | None = None) -> str:
        """The address to open: the page with the token, at one run when `run_id` is given."""
        page = f"http://127.0.0.1:{self.port}/?token={self.token}"
        return page + (f"#/run/{run_id}" if run_id else "")

    def serve_forever(self) -> None:
        """Answer requests until `close` (or Ctrl-C in this thread)."""
        try:
            self._server.serve_forever(poll_interval=0.5)
        finally:
            self.stopping.set()

    def start(self) -> None:
        """Answer requests in a thread of their own, until `close`."""
        self._thread = threading.Thread(target=self.serve_forever, name="agentkit-viewer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop answering: live streams end within `poll` seconds; the port is let go."""
        self.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5.0)
        self._server.server_close()

    def __enter__(self) -> RunViewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runs(self) -> dict[str, Any]:
        with self._lock:
            return self.index.runs()


def _same(given: str, token: str) -> bool:
    """Whether a token given is the viewer's, in a time that does not tell how much matched
    (as bytes: `compare_digest` refuses text that is not ASCII)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a live stream left open does not hold the process at exit
    viewer: RunViewer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        # a request that never comes, or a page that stops reading, lets the thread go
        self.connection.settimeout(self.server.viewer.request_timeout)

    server_version = "agentkit-viewer"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: the terminal shows the URL and nothing else."""

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        viewer = self.server.viewer
        host = self.headers.get("Host", "")
        if host not in viewer.hosts:
            self._text(
                HTTPStatus.FORBIDDEN,
                f"this viewer answers only at http://127.0.0.1:{viewer.port}/ (the request named {host!r})",
            )
            return
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        given = (query.get("token") or [""])[0]
        fresh = bool(given) and _same(given, viewer.token)
        if not fresh and not self._has_cookie():
            self._text(
                HTTPStatus.FORBIDDEN,
                "open the address `agentkit runs view` printed: it carries the viewer's token",
            )
            return
        self._set_cookie = fresh
        self._route(unquote(url.path), query)

    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        viewer = self.server.viewer
        parts = [p for p in path.split("/") if p]
        if not parts:
            self._file(STATIC / "index.html")
        elif parts[0] == "static" and len(parts) == 2:
            self._file(STATIC / parts[1])
        elif parts == ["api", "runs"]:
            self._json(HTTPStatus.OK, viewer.runs())
        elif len(parts) == 3 and parts[:2] == ["api", "runs"]:
            try:
                self._json(HTTPStatus.OK, run_detail(parts[2], viewer.directory))
            except ConfigError as exc:
                self._json(HTTPStatus.NOT_FOUND, {"error": str(exc)})
        elif len(parts) == 4 and parts[:2] == ["api", "runs"] and parts[3] == "events":
            self._events(parts[2], query)
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})

    def _has_cookie(self) -> bool:
        viewer = self.server.viewer
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == viewer.cookie and _same(value, viewer.token):
                return True
        return False

    def _head(self, status: HTTPStatus, kind: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        if self._set_cookie:
            viewer = self.server.viewer
            self.send_header(
                "Set-Cookie", f"{viewer.cookie}={viewer.token}; Path=/; HttpOnly; SameSite=Strict"
            )
        self.end_headers()

    def _send(self, status: HTTPStatus, kind: str, body: bytes) -> None:
        self._head(status, kind, len(body))
        if self.command != "HEAD":
            self.wfile.write(body)

    def _text(self, status: HTTPStatus, text: str) -> None:
        self._set_cookie = False
        self._send(status, "text/plain; charset=utf-8", (text + "\n").encode())

    def _json(self, status: HTTPStatus, data: Any) -> None:
        self._send(status, "application/json", json.dumps(data, default=str).encode())

    def _file(self, path: Path) -> None:
        kind = _TYPES.get(path.suffix)
        if kind is None or path.parent != STATIC or not path.is_file():
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such file: {path.name}"})
            return
        self._send(HTTPStatus.OK, f"{kind}; charset=utf-8", path.read_bytes())

    def _events(self, run_id: str, query: dict[str, list[str]]) -> None:
        """The records a run appends, as Server-Sent Events, while its writer lives.

        Each `records` event carries the new whole lines and, as its id, the byte offset
        after them (a reconnecting browser sends it back as `Last-Event-ID`); `end` says no
        process writes the run any more and carries its row. The stream closes after the
        viewer's `stream_time` (the browser then reconnects) or when the viewer stops.
        """
        viewer = self.server.viewer
        try:
            path = find_run(run_id, viewer.directory)
        except ConfigError as exc:
            self._json(HTTPStatus.NOT_FOUND, {"error": str(exc)})
            return
        start = self.headers.get("Last-Event-ID") or (query.get("from") or ["0"])[0]
        try:
            offset = max(0, int(start))
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"`from` is a byte offset, not {start!r}"})
            return
        owners = [r for r in read_after(path).records if r.get("type") in _OWNERS][-1:]
        self._head(HTTPStatus.OK, "text/event-stream; charset=utf-8")
        if self.command == "HEAD":
            return
        try:
            self._stream(path, offset, owners)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):  # the page went away, or stalled
            return

    def _stream(self, path: Path, offset: int, owners: list[dict[str, Any]]) -> None:
        viewer = self.server.viewer
        self._put("retry: 1000\n\n")
        deadline = time.monotonic() + viewer.stream_time
        quiet_since = time.monotonic()
        ended = False
        while not viewer.stopping.is_set() and time.monotonic() < deadline:
            tail = read_after(path, offset)
            if tail.records:
                owners = ([r for r in tail.records if r.get("type") in _OWNERS] or owners)[-1:]
                offset = tail.offset
                data = json.dumps({"records": tail.records, "offset": offset}, default=str)
                self._put(f"id: {offset}\nevent: records\ndata: {data}\n\n")
                quiet_since = time.monotonic()
                continue
            if ended:
                row = run_row(run_info(path), read_head(path))
                self._put(f"event: end\ndata: {json.dumps(row, default=str)}\n\n")
                return
            if writer_alive(owners) is None:
                ended = True  # one more read: lines written just before the process ended
                continue
            if time.monotonic() - quiet_since >= viewer.heartbeat:
                self._put(": still running\n\n")
                quiet_since = time.monotonic()
            viewer.stopping.wait(viewer.poll)

    def _put(self, text: str) -> None:
        self.wfile.write(text.encode())
        self.wfile.flush()
