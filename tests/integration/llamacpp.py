"""llama-cpp-python's OpenAI-compatible server on the tiny Qwen3, for integration tests (not a test).

`gguf_model(model_dir, cache)` converts the tiny checkpoint to GGUF once (cached under a hash of
its files and of this module); `llamacpp_server(gguf, log_path)` runs `python -m llama_cpp.server`
on a free 127.0.0.1 port and kills its process group on exit. Both skip the test when no
interpreter at hand (`$AGENTKIT_LLAMA_PYTHON`, this one, or `.llama-venv` at the repo root)
imports `llama_cpp` and `gguf`. llama-cpp-python builds llama.cpp from source, so it lives in its own venv:
`python -m venv .llama-venv && .llama-venv/bin/pip install 'llama-cpp-python[server]==0.3.36' gguf==0.19.0`.

The conversion (what `convert_hf_to_gguf.py --outtype bf16` writes for this model, minus the
`general.*` descriptions) runs in that interpreter as `python llamacpp.py MODEL_DIR OUT.gguf`,
and needs only numpy and gguf.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LLAMA_PYTHON_ENV = "AGENTKIT_LLAMA_PYTHON"
MODEL_ALIAS = "tiny-qwen3"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def llama_python() -> str:
    """An interpreter that can import `llama_cpp.server` and `gguf`; skips the test if none."""
    import pytest

    tried = []
    for python in (
        os.environ.get(LLAMA_PYTHON_ENV),
        sys.executable,
        str(ROOT / ".llama-venv" / "bin" / "python"),
    ):
        if not python or python in tried or not Path(python).is_file():
            continue
        tried.append(python)
        check = [python, "-c", "import llama_cpp.server.app, gguf"]
        if subprocess.run(check, capture_output=True, timeout=120).returncode == 0:
            return python
    pytest.skip(
        f"llama-cpp-python[server] and gguf are not importable (tried {tried}; see {LLAMA_PYTHON_ENV})"
    )


def gguf_model(model_dir: Path, cache: Path) -> Path:
    """The checkpoint in `model_dir` as a GGUF file in `cache`, converted on first use."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(p for p in Path(model_dir).iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    out = Path(cache) / f"tiny-qwen3-{digest.hexdigest()[:12]}.gguf"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [llama_python(), __file__, str(model_dir), str(out)], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0 or not out.is_file():
            raise RuntimeError(f"GGUF conversion failed ({done.returncode}): {done.stderr[-2000:]}")
    return out


@dataclass
class LlamaCppServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    root: str  # http://127.0.0.1:PORT
    model: str
    log_path: Path
    pid: int


@contextmanager
def llamacpp_server(
    gguf: Path, log_path: Path, *, n_ctx: int = 2048, extra_args: tuple[str, ...] = (), timeout: float = 120.0
) -> Iterator[LlamaCppServer]:
    """`python -m llama_cpp.server` serving `gguf` on a free loopback port, until the block ends.

    `--interrupt_requests False` stops a new request from cutting off the one being streamed
    (the default ends it with `[DONE]` and no finish_reason). `extra_args` go last, e.g.
    `("--chat_template_kwargs", '{"enable_thinking": false}')`.
    """
    python = llama_python()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = f"http://127.0.0.1:{port}"
    cmd = [python, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL_ALIAS]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--seed", "0"]
    cmd += ["--interrupt_requests", "False", *extra_args]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {_tail(log_path)}")
            try:
                with _DIRECT.open(root + "/v1/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"llama_cpp.server did not answer within {timeout:.0f}s: {_tail(log_path)}"
                )
            time.sleep(0.2)
        yield LlamaCppServer(root + "/v1", root, MODEL_ALIAS, Path(log_path), proc.pid)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, size: int = 2000) -> str:
    data = Path(path).read_bytes()
    return data[-size:].decode("utf-8", "replace")


# The conversion, run in the llama interpreter.

_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_LAYER_TENSORS = {
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def _gguf_name(name: str) -> str:
    if name in _TENSORS:
        return _TENSORS[name]
    _, _, layer, rest = name.split(".", 3)  # model.layers.N.<module>.weight
    return f"blk.{layer}.{_LAYER_TENSORS[rest.removesuffix('.weight')]}.weight"


def convert(model_dir: Path, out: Path) -> None:
    """Write the Qwen3 checkpoint in `model_dir` as a BF16 GGUF (norms in F32) at `out`."""
    import gguf
    import numpy as np

    config = json.loads((model_dir / "config.json").read_text())
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text())
    template = json.loads((model_dir / "tokenizer_config.json").read_text())["chat_template"]
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    rope_theta = config.get("rope_theta") or config["rope_parameters"]["rope_theta"]

    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), "qwen3")
    writer.add_name(model_dir.name)
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_rope_freq_base(rope_theta)
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_BF16)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    added = {t["id"]: t for t in tokenizer["added_tokens"]}
    by_id = {i: t for t, i in tokenizer["model"]["vocab"].items()}
    tokens, types = [], []
    for i in range(config["vocab_size"]):
        if i in added:
            text = added[i]["content"]
            control = added[i]["special"] or (
                text.startswith("<|") and text.endswith("|>")
            )  # as the converter
            tokens.append(text)
            types.append(gguf.TokenType.CONTROL if control else gguf.TokenType.USER_DEFINED)
        elif i in by_id:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]])
    writer.add_eos_token_id(config["eos_token_id"])
    writer.add_pad_token_id(config["pad_token_id"])
    writer.add_bos_token_id(config["bos_token_id"])
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    writer.add_chat_template(template)

    # safetensors: u64 header length, JSON header, then the raw tensors.
    data = (model_dir / "model.safetensors").read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    header.pop("__metadata__", None)
    for name, info in header.items():
        start, end = info["data_offsets"]
        raw = data[8 + size + start : 8 + size + end]
        if info["dtype"] == "BF16":
            array = np.frombuffer(raw, dtype="<u2").reshape(info["shape"])
            if array.ndim > 1:
                writer.add_tensor(_gguf_name(name), array, raw_dtype=gguf.GGMLQuantizationType.BF16)
                continue
            array = (array.astype("<u4") << 16).view("<f4")  # norms stay F32, as llama.cpp wants
        else:
            array = np.frombuffer(raw, dtype={"F32": "<f4", "F16": "<f2"}[info["dtype"]]).reshape(
                info["shape"]
            )
        writer.add_tensor(_gguf_name(name), array.astype("<f4"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.rename(out)


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
