"""Escape and abuse attempts against `run_python` and `run_shell`, each through the real tool.

`tests/test_sandbox.py` asserts that the sandbox blocks every one; `bench/sandbox_escapes.py`
runs them with and without it and prints what each gave. A case returns (blocked, what it
gave); "blocked" is judged on the host (the file not written, no connection accepted, no
process left), not on what the code inside says.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from agentkit.builtins.python import PythonLimits, make_python_tool
from agentkit.builtins.shell import run_shell
from agentkit.sandbox import SandboxPolicy
from agentkit.tools.scope import RunScope
from agentkit.tools.tool import FunctionTool, ToolContext

SECRET = "agentkit-test-secret-" + uuid.uuid4().hex[:8]
"""The API key of the agentkit process `read_environ` starts."""

python_tool = make_python_tool(PythonLimits(timeout=10))


def strays(marker: str, start: bytes = b"") -> list[int]:
    """Live processes on the host whose command line holds `marker` (and starts with `start`)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            if marker.encode() not in cmdline or not cmdline.startswith(start):
                continue
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] != "Z":
            found.append(int(entry))
    return found


def gone(marker: str, within: float = 5.0) -> bool:
    """Whether every process holding `marker` is gone within `within` seconds."""
    deadline = time.monotonic() + within
    while strays(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@dataclass
class Env:
    """One run's tools and the host-side things the cases aim at."""

    root: Path
    policy: SandboxPolicy

    def __post_init__(self) -> None:
        self.workspace = self.root / "ws"
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.outside = self.root / "outside"
        self.outside.mkdir(exist_ok=True)
        self.scope = RunScope(self.workspace, self.policy)
        self.marker = "agentkit-stray-" + uuid.uuid4().hex[:10]

    async def call(self, tool: FunctionTool, text: str, timeout: float = 10) -> str:
        ctx = ToolContext(call_id="c", tool_name=tool.name, scope=self.scope)
        key = "code" if tool.name == "run_python" else "command"
        arguments: dict[str, object] = {key: text}
        if tool.name == "run_shell":
            arguments["timeout"] = timeout
        return (await tool.call(arguments, ctx)).content

    async def close(self) -> None:
        await self.scope.aclose()


Case = Callable[[Env, FunctionTool], Awaitable[tuple[bool, str]]]


def _first_line(text: str, limit: int = 70) -> str:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("exit code")]
    last = lines[-1] if lines else text
    return last if len(last) <= limit else last[: limit - 1] + "…"


async def read_shadow(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    code = "print(open('/etc/shadow').read()[:30])" if tool.name == "run_python" else "head -c 30 /etc/shadow"
    result = await env.call(tool, code)
    leaked = "root:" in result
    return (not leaked, "read it: " + result.split("root:")[1][:12] + "…" if leaked else _first_line(result))


async def read_home(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    """~/.ssh and the shell start-up files of the user agentkit runs as."""
    home = Path.home()
    targets = [str(home / ".ssh"), str(home / ".bashrc"), str(home / ".profile")]
    if tool.name == "run_python":
        code = f"import os\nprint([p for p in {targets!r} if os.path.exists(p)])"
    else:
        code = "ls -d " + " ".join(targets) + " 2>/dev/null; echo listed"
    result = await env.call(tool, code)
    seen = [t for t in targets if t in result.replace("'", " ").replace("\n", " ").split()]
    there = [t for t in targets if os.path.exists(t)]
    return (not seen, f"sees {', '.join(seen)}" if seen else f"sees none of {len(there)} that exist")


async def read_environ(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    """/proc/1/environ, agentkit's own /proc/PID/environ and the code's environment, from an
    agentkit process started with a secret in its environment (`AGENTKIT_API_KEY`)."""
    if tool.name == "run_python":
        code = (
            "import glob, os, sys\nhits = []\n"
            "for p in ['/proc/1/environ', f'/proc/{os.getppid()}/environ', *glob.glob('/proc/*/environ')]:\n"
            "    try:\n"
            f"        hits += [p] if b'{SECRET}' in open(p, 'rb').read() else []\n"
            "    except OSError:\n        pass\n"
            f"hits += ['os.environ'] if '{SECRET}' in str(os.environ) else []\n"
            "print('found:', ' '.join(sorted(set(hits))) or 'nothing')"
        )
    else:
        code = (
            f"found=$(grep -l -a {SECRET} /proc/1/environ /proc/$PPID/environ /proc/*/environ 2>/dev/null "
            f"| sort -u | tr '\\n' ' '); env | grep -q {SECRET} && found=\"$found env\"; "
            'echo "found: ${found:-nothing}"'
        )
    result = await in_child(env, tool, code, {"AGENTKIT_API_KEY": SECRET})
    return ("found: nothing" in result, _first_line(result))


async def write_absolute(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    target = env.outside / "absolute.txt"
    code = f"open({str(target)!r}, 'w').write('x')" if tool.name == "run_python" else f"echo x > {target}"
    result = await env.call(tool, code)
    return (not target.exists(), "written on the host" if target.exists() else _first_line(result))


async def write_dotdot(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    target = env.root / "dotdot.txt"
    code = "open('../dotdot.txt', 'w').write('x')" if tool.name == "run_python" else "echo x > ../dotdot.txt"
    result = await env.call(tool, code)
    if target.exists():
        return (False, "written on the host")
    said = _first_line(result)
    return (True, said if "rror" in said else "written to the sandbox's own /tmp; the host is untouched")


async def write_symlink(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    """A link planted in the workspace, pointing out of it, written through."""
    link = env.workspace / "planted"
    if not link.is_symlink():
        link.symlink_to(env.outside, target_is_directory=True)
    target = env.outside / "through-link.txt"
    code = (
        "open('planted/through-link.txt', 'w').write('x')"
        if tool.name == "run_python"
        else "echo x > planted/through-link.txt"
    )
    result = await env.call(tool, code)
    return (not target.exists(), "written on the host" if target.exists() else _first_line(result))


async def setuid_file(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    """A set-user-ID program left in the workspace for the host: one the code copies and
    makes root's, and one of the workspace's owner given the bit."""
    import shutil
    import stat

    theirs = env.workspace / "owners_id"
    shutil.copy("/usr/bin/id", theirs)
    if tool.name == "run_python":
        code = (
            "import os, shutil\nshutil.copy('/usr/bin/id', 'made_id')\n"
            "for name, act in [('chown made_id', lambda: os.chown('made_id', 0, 0)),\n"
            "                  ('chmod made_id', lambda: os.chmod('made_id', 0o6755)),\n"
            "                  ('chmod owners_id', lambda: os.chmod('owners_id', 0o6755))]:\n"
            "    try:\n        act()\n    except OSError as e:\n        print(name, e.strerror)"
        )
    else:
        code = "cp /usr/bin/id made_id; chown 0:0 made_id; chmod 6755 made_id owners_id; ls -ln made_id"
    result = await env.call(tool, code)
    await env.close()  # the run ends: what it made is given back
    flagged = [
        f"{p.name} (uid {p.stat().st_uid}, {stat.filemode(p.stat().st_mode)})"
        for p in (env.workspace / "made_id", theirs)
        if p.exists() and p.stat().st_mode & (stat.S_ISUID | stat.S_ISGID)
    ]
    return (not flagged, "set-ID on the host: " + ", ".join(flagged) if flagged else _first_line(result, 60))


class Listener:
    """A TCP server on the host's loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def accepted(self) -> int:
        count = 0
        while True:
            try:
                connection, _ = self.sock.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1

    def close(self) -> None:
        self.sock.close()


async def connect_loopback(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    listener = Listener()
    try:
        if tool.name == "run_python":
            code = (
                "import socket\n"
                f"socket.create_connection(('127.0.0.1', {listener.port}), timeout=3).close()\n"
                "print('connected')"
            )
        else:
            code = f"(exec 3<>/dev/tcp/127.0.0.1/{listener.port}) && echo connected"
        result = await env.call(tool, code)
        await asyncio.sleep(0.1)
        accepted = listener.accepted()
    finally:
        listener.close()
    return (accepted == 0, "connected to the host's server" if accepted else _first_line(result))


async def fork_bomb(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    started = time.monotonic()
    if tool.name == "run_python":
        code = f"import os\n# {env.marker}\nwhile True:\n    os.fork()"
    else:
        code = f": {env.marker}; bomb() {{ bomb | bomb & }}; bomb; sleep 4"
    result = await env.call(tool, code, timeout=5)
    took = time.monotonic() - started
    left = gone(env.marker)
    _clean_up(env.marker)
    limited = "Resource temporarily unavailable" in result or "BlockingIOError" in result
    return (limited and left, f"{_first_line(result, 50)} ({took:.1f} s; {'none' if left else 'some'} left)")


async def memory_hog(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    size = 8 << 30  # over both tools' limits
    if tool.name == "run_python":
        code = f"b = bytearray({size})\nprint('allocated')"
    else:
        code = f"python3 -c \"b = bytearray({size}); print('allocated')\""
    result = await env.call(tool, code)
    refused = "MemoryError" in result or "more memory than" in result
    return (refused, _first_line(result))


async def daemon(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    """Double fork and setsid: must be gone when the run ends (shell: when the call ends)."""
    if tool.name == "run_python":
        code = (
            "import os\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        os.execvp('sleep', ['{env.marker}', '600'])\n"
            "    os._exit(0)\n"
            "os.wait()\nprint('started')"
        )
    else:
        code = (
            f"( setsid bash -c 'exec -a {env.marker} sleep 600' >/dev/null 2>&1 </dev/null & ); sleep 0.2; "
            f"echo started $(pgrep -c -f '^{env.marker}')"
        )
    result = await env.call(tool, code)
    # a shell call's end stops what it started, so it counts its own
    during = bool(strays(env.marker)) or ("started" in result and "started 0" not in result)
    await env.close()
    left = not gone(env.marker, within=3)
    _clean_up(env.marker)
    what = f"{'running' if during else 'not running'} during the run; "
    what += "left behind after it" if left else "gone after it"
    return (not left and "started" in result, what)


CHILD_SCRIPT = """
import asyncio, sys
sys.path.insert(0, {root!r})
from tests.sandbox_cases import Env, TOOLS
from agentkit.sandbox import SandboxPolicy
from pathlib import Path

async def main():
    env = Env(Path({where!r}), SandboxPolicy({mode!r}))
    print(await env.call(TOOLS[{tool!r}], {code!r}, timeout=30))
    await env.close()

asyncio.run(main())
"""


def _child(env: Env, tool: FunctionTool, code: str) -> list[str]:
    root = str(Path(__file__).resolve().parent.parent)
    where = str(env.root / f"child-{uuid.uuid4().hex[:6]}")
    script = CHILD_SCRIPT.format(root=root, where=where, mode=env.policy.mode, tool=tool.name, code=code)
    return [sys.executable, "-c", script]


async def in_child(env: Env, tool: FunctionTool, code: str, extra: dict[str, str]) -> str:
    """What the tool answers in a separate agentkit process with `extra` in its environment."""
    process = await asyncio.create_subprocess_exec(
        *_child(env, tool, code), env={**os.environ, **extra},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return out.decode(errors="replace")


def _clean_up(marker: str) -> None:
    """Kill what an unconfined run left behind."""
    for pid in strays(marker):
        with contextlib.suppress(OSError):
            os.kill(pid, 9)


async def killed_mid_call(env: Env, tool: FunctionTool) -> tuple[bool, str]:
    """agentkit killed with SIGKILL while a call runs (with a daemon of its own)."""
    marker = env.marker
    if tool.name == "run_python":
        code = (
            "import os, subprocess, time\n"
            f"subprocess.Popen(['{marker}', '600'], executable='sleep', start_new_session=True)\n"
            f"subprocess.Popen(['{marker}', '600'], executable='sleep')\n"
            "time.sleep(600)"
        )
    else:
        code = f"( setsid bash -c 'exec -a {marker} sleep 600' & ); bash -c 'exec -a {marker} sleep 600'"
    process = await asyncio.create_subprocess_exec(*_child(env, tool, code))
    deadline = time.monotonic() + 20
    sleeper = marker.encode() + b"\x00600"  # the code's own sleepers: the sandbox is up and running
    while len(strays(marker, sleeper)) < 2 and time.monotonic() < deadline and process.returncode is None:
        await asyncio.sleep(0.05)
    started = len(strays(marker, sleeper))
    with contextlib.suppress(ProcessLookupError):  # it may have ended (a refused call)
        process.kill()
    await process.wait()
    left = not gone(marker, within=5)
    _clean_up(marker)
    return (
        started >= 2 and not left,
        f"{started} started; {'left behind' if left else 'all gone'} after kill -9",
    )


CASES: list[tuple[str, Case]] = [
    ("read /etc/shadow", read_shadow),
    ("read ~/.ssh, ~/.bashrc", read_home),
    ("read /proc/1/environ, agentkit's environ", read_environ),
    ("write outside (absolute path)", write_absolute),
    ("write outside (..)", write_dotdot),
    ("write through a planted symlink", write_symlink),
    ("set-user-ID program left for the host", setuid_file),
    ("connect to a server on host loopback", connect_loopback),
    ("fork bomb", fork_bomb),
    ("memory hog (8 GiB)", memory_hog),
    ("daemon: double fork + setsid", daemon),
    ("kill -9 agentkit mid-call", killed_mid_call),
]
"""Every case; each takes a fresh `Env` (some end the run)."""

TOOLS = {"run_python": python_tool, "run_shell": run_shell}
