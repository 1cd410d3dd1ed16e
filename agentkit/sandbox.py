"""The sandbox `run_python` and `run_shell` run in: bubblewrap on Linux.

Each sandboxed process gets new mount, PID, IPC, UTS and (unless allowed) network namespaces.
It sees a read-only root built from the system's `/usr` (and the `/bin`, `/lib` links), the
Python environment agentkit runs in, a few files of `/etc` (no passwords, no keys), a private
`/proc`, `/dev` and `/tmp`, and the workspace, the only writable path and its working
directory. Home directories, `/root`, the host's `/proc` and `/run` are not there. When the
sandbox's first process ends, the kernel kills everything in its PID namespace, so nothing the
code starts outlives the call, however it forks; `--die-with-parent` ties that process to
agentkit, so a killed agentkit leaves nothing behind either.

Modes (`Agent(sandbox=...)`, `agentkit run --sandbox`):
    auto: sandbox when bubblewrap works here; otherwise the tools run with process limits
        only, and the run says so once (`SandboxWarning`, and the CLI's start line).
    required: without a working bubblewrap the tools refuse every call, saying why.
    off: no sandbox, knowingly: process limits only.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agentkit.errors import ToolError

__all__ = [
    "INSTALL_HINT",
    "SANDBOX_MODES",
    "SANDBOX_PROBE_TIMEOUT",
    "SandboxMode",
    "SandboxPolicy",
    "SandboxStatus",
    "SandboxWarning",
    "bwrap_command",
    "sandbox_status",
]

SandboxMode = Literal["auto", "required", "off"]
SANDBOX_MODES: tuple[SandboxMode, ...] = ("auto", "required", "off")

SANDBOX_PROBE_TIMEOUT = 10.0
"""Seconds the one-time check that bubblewrap works here may take."""

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt install bubblewrap; Fedora: dnf install bubblewrap; "
    "Arch: pacman -S bubblewrap)"
)

# /etc entries a process needs to find libraries, encodings, time zones and certificates;
# nothing with passwords, keys or site credentials (shadow, ssh, ssl/private, pip.conf, ...).
_ETC = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "timezone",
    "nsswitch.conf", "host.conf", "gai.conf", "protocols", "services", "mime.types", "magic",
    "os-release", "debian_version", "locale.alias", "locale.conf", "inputrc", "fonts",
    "ssl/certs", "ssl/openssl.cnf", "ca-certificates", "ca-certificates.conf", "pki/tls/certs",
    "pki/ca-trust", "crypto-policies",
)  # fmt: skip
_ETC_NETWORK = ("hosts", "resolv.conf")
_SITE_FOLDERS = ("site-packages", "dist-packages")
_TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Kept for a process started by root, which switches to `nobody` (setuid, setgid) and then
# keeps only dac_override, to read and write the root-owned workspace, and net_bind_service.
# Not chown or fowner: with those, code could turn a file of the workspace into a
# set-user-ID root program for the host.
_ROOT_CAPS = ("CAP_DAC_OVERRIDE", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE")


_NAMESPACES_HINT = (
    "let bubblewrap make namespaces here: run agentkit as root, or allow unprivileged user "
    "namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 and later, "
    "kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap); in a "
    "container, allow it to create namespaces"
)


class SandboxWarning(UserWarning):
    """Code the model writes runs without a sandbox (mode auto, bubblewrap unavailable)."""


@dataclass(frozen=True)
class SandboxStatus:
    """Whether the sandbox works on this machine.

    Attributes:
        available: bubblewrap is installed and could start a sandbox here.
        tool: What does the sandboxing, e.g. "bubblewrap 0.8.0".
        problem: Why it is not available, in words.
        fix: What would make it available.
    """

    available: bool
    tool: str = ""
    problem: str | None = None
    fix: str = INSTALL_HINT


@dataclass(frozen=True)
class SandboxPolicy:
    """How a run confines the code its model writes.

    Attributes:
        mode: "auto", "required" or "off" (see the module's docstring).
        network: Network inside the sandbox: False (none: only a private loopback), True
            (the host's networking for every sandboxed tool), or the names of the tools
            that get it.
    """

    mode: SandboxMode = "auto"
    network: bool | frozenset[str] = False
    _warned: list[bool] = field(default_factory=lambda: [False], compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in SANDBOX_MODES:
            raise ValueError(f"sandbox mode must be one of {', '.join(SANDBOX_MODES)}, not {self.mode!r}")
        if not isinstance(self.network, bool):
            object.__setattr__(self, "network", frozenset(_names(self.network)))

    @classmethod
    def of(cls, value: SandboxPolicy | str | None, network: bool | Iterable[str] = False) -> SandboxPolicy:
        """A policy from `Agent(sandbox=..., sandbox_network=...)`."""
        if isinstance(value, SandboxPolicy):
            return value
        return cls(value or "auto", network if isinstance(network, bool) else frozenset(_names(network)))  # type: ignore[arg-type]

    def network_for(self, tool: str) -> bool:
        return self.network if isinstance(self.network, bool) else tool in self.network

    def sandboxed(self, tool: str) -> bool:
        """Whether `tool`'s processes go into the sandbox.

        Raises:
            ToolError: The mode is "required" and the sandbox does not work here.
        """
        if self.mode == "off":
            return False
        status = sandbox_status()
        if status.available:
            return True
        if self.mode == "required":
            raise ToolError(
                f"{tool} is refused: the sandbox is required (--sandbox required) but {status.problem}. "
                f"To run code, {status.fix}; or the user may choose --sandbox off"
            )
        if not self._warned[0]:
            self._warned[0] = True
            warnings.warn(unsandboxed_warning(status), SandboxWarning, stacklevel=2)
        return False

    def describe(self, tools: Iterable[str]) -> str:
        """One line for a run's start and its transcript: how the named tools, which run
        code, are confined."""
        names = list(tools)
        if self.mode == "off":
            return "off (--sandbox off): model-written code runs outside any sandbox"
        status = sandbox_status()
        if not status.available:
            if self.mode == "required":
                return f"required, but {status.problem}: {', '.join(names)} will refuse every call"
            return "auto, but none: " + unsandboxed_warning(status)
        online = [t for t in names if self.network_for(t)]
        network = f"network on for {', '.join(online)}" if online else "network off"
        return f"{self.mode}: {status.tool} ({network})"


def unsandboxed_warning(status: SandboxStatus) -> str:
    return (
        f"{status.problem}, so run_python and run_shell run without a sandbox: the code the "
        f"model writes can read every file agentkit can and reach the network. To sandbox it, "
        f"{status.fix}; to silence this, choose --sandbox off"
    )


def _names(tools: Iterable[str]) -> list[str]:
    if isinstance(tools, str):
        raise ValueError(
            f"sandbox network takes True, False or a list of tool names, not the string {tools!r}"
        )
    return list(tools)


_status: SandboxStatus | None = None
_status_lock = threading.Lock()


def sandbox_status() -> SandboxStatus:
    """Whether the sandbox works here: bubblewrap is found and starts a sandbox with the
    arguments the tools use. Checked once per process (about 30 ms)."""
    global _status
    with _status_lock:
        if _status is None:
            _status = _probe()
        return _status


def _probe() -> SandboxStatus:
    if not sys.platform.startswith("linux"):
        return SandboxStatus(
            False, problem=f"the sandbox needs Linux (this is {sys.platform})", fix="run agentkit on Linux"
        )
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxStatus(False, problem="bubblewrap (bwrap) is not installed")
    try:
        version = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=SANDBOX_PROBE_TIMEOUT
        )
        workspace = tempfile.mkdtemp(prefix="agentkit-sandbox-probe-")
        try:
            argv = bwrap_command(Path(workspace), network=False, bwrap=bwrap)
            ran = subprocess.run(
                [*argv, sys.executable, "-I", "-c", "import os; open('probe', 'w').write(os.getcwd())"],
                capture_output=True, text=True, timeout=SANDBOX_PROBE_TIMEOUT, cwd=workspace,
                env={"PATH": "/usr/bin:/bin"},
            )  # fmt: skip
            wrote = Path(workspace, "probe").read_text() if Path(workspace, "probe").exists() else ""
        finally:
            shutil.rmtree(workspace, ignore_errors=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SandboxStatus(False, problem=f"bubblewrap could not be run ({exc})")
    if ran.returncode != 0 or wrote != workspace:
        said = (ran.stderr or ran.stdout).strip().splitlines()
        reason = said[-1] if said else f"exit code {ran.returncode}"
        return SandboxStatus(
            False, problem=f"bubblewrap cannot make a sandbox here ({reason})", fix=_NAMESPACES_HINT
        )
    return SandboxStatus(True, tool=version.stdout.strip() or "bubblewrap")


def bwrap_command(workspace: Path, *, network: bool, bwrap: str | None = None) -> list[str]:
    """The bubblewrap command line that runs a program in the sandbox; the program's
    argv follows it."""
    root = os.geteuid() == 0
    argv = [bwrap or shutil.which("bwrap") or "bwrap"]
    argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    if root:  # no user namespace: the worker can become `nobody`, whom RLIMIT_NPROC binds
        argv += ["--cap-drop", "ALL"]
        for cap in _ROOT_CAPS:
            argv += ["--cap-add", cap]
    else:
        argv += ["--unshare-user"]
    if not network:
        argv.append("--unshare-net")
    argv += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    # the private /tmp first: what is bound later (a venv or workspace under /tmp) lies on it
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in _TOP_LEVEL:
        path = Path("/", name)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--dir", "/etc"]
    for name in (*_ETC, *(_ETC_NETWORK if network else ())):
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    etc = _identity_files()
    argv += ["--ro-bind", str(etc / "passwd"), "/etc/passwd", "--ro-bind", str(etc / "group"), "/etc/group"]
    for folder in python_paths():
        argv += ["--ro-bind", folder, folder]
    argv += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    argv += ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
    argv += ["--remount-ro", "/", "--"]
    return argv


@functools.lru_cache(maxsize=1)
def python_paths() -> list[str]:
    """The folders of the Python environment agentkit runs in, outside /usr: interpreter,
    standard library, site-packages, and what `.pth` files and editable installs add; never
    a home directory, /, or the folder of the script that started Python."""
    prefixes = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    sites = [
        p for p in sys.path
        if os.path.isabs(p) and (_inside(p, prefixes) or os.path.basename(p) in _SITE_FOLDERS)
    ]  # fmt: skip
    candidates = [*prefixes, os.path.dirname(sys.executable), *sites]
    for site in sites:
        candidates += _installed_elsewhere(site)
    homes = {os.path.realpath(p) for p in (os.path.expanduser("~"), "/root", "/home")}
    found: dict[str, None] = {}
    for path in candidates:
        for form in (os.path.abspath(path), os.path.realpath(path)):
            if not os.path.exists(form) or form == "/" or form in homes:
                continue
            if _inside("/usr", [form]) or any(_inside(home, [form]) for home in homes):
                continue  # mounted already, or a folder that holds home directories
            found[form] = None
    return [p for p in sorted(found) if not any(_inside(p, [q]) and q != p for q in found)]


def _inside(path: str, folders: Iterable[str]) -> bool:
    """Whether `path` is one of `folders` or inside one."""
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def _installed_elsewhere(site: str) -> list[str]:
    """Folders a site-packages folder points to: directory lines of `.pth` files and the
    package folders of editable installs (setuptools' `__editable__` finders)."""
    import ast
    import re

    found: list[str] = []
    try:
        names = os.listdir(site)
    except OSError:
        return found
    for name in names:
        path = os.path.join(site, name)
        try:
            if name.endswith(".pth"):
                with open(path, encoding="utf-8", errors="replace") as f:
                    found += [line.strip() for line in f if os.path.isabs(line.strip())]
            elif name.startswith("__editable__") and name.endswith("_finder.py"):
                with open(path, encoding="utf-8", errors="replace") as f:
                    mapping = re.search(r"^MAPPING\b[^=]*=\s*(\{.*?\})\s*$", f.read(), re.M | re.S)
                if mapping:
                    found += [str(v) for v in ast.literal_eval(mapping.group(1)).values()]
        except (OSError, ValueError, SyntaxError):
            continue
    return found


_etc_dir: Path | None = None


def _identity_files() -> Path:
    """A `passwd` and `group` naming only root, nobody and the user agentkit runs as, so that
    programs can look up their user without seeing the host's accounts. Kept in the user's
    cache folder under a name made from their content, so processes share them and a killed
    one leaves nothing new behind."""
    global _etc_dir
    if _etc_dir is None:
        import hashlib
        import pwd

        import platformdirs

        uid, gid = os.getuid(), os.getgid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = "user"
        users = {0: ("root", 0), 65534: ("nobody", 65534), uid: (name, gid)}
        passwd = "".join(f"{n}:x:{u}:{g}:{n}:/tmp:/bin/sh\n" for u, (n, g) in sorted(users.items()))
        groups = {0: "root", 65534: "nogroup", gid: name if gid not in (0, 65534) else ""}
        group = "".join(f"{n}:x:{g}:\n" for g, n in sorted(groups.items()) if n)
        digest = hashlib.sha256((passwd + group).encode()).hexdigest()[:12]
        cache = platformdirs.user_cache_path("agentkit", appauthor=False)
        folder = cache / f"sandbox-etc-{digest}"
        if not (folder / "group").exists():
            try:
                cache.mkdir(parents=True, exist_ok=True)
                ready = Path(tempfile.mkdtemp(prefix="sandbox-etc-", dir=cache))
            except OSError:  # no writable cache folder: a temporary one
                ready = folder = Path(tempfile.mkdtemp(prefix="agentkit-sandbox-etc-"))
            (ready / "passwd").write_text(passwd)
            (ready / "group").write_text(group)
            for entry in (ready / "passwd", ready / "group"):
                entry.chmod(0o644)
            ready.chmod(0o755)
            if ready != folder:
                try:
                    os.replace(ready, folder)  # whole, or not at all if another process was first
                except OSError:
                    shutil.rmtree(ready, ignore_errors=True)
        _etc_dir = folder
    return _etc_dir
