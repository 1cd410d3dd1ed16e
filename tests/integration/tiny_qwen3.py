"""Build a tiny random-weight Qwen3 checkpoint that a real vLLM can serve in integration tests.

The model is a 2-layer Qwen3 of about 10 M parameters (nearly all embedding), with random weights
from a fixed seed. The tokenizer is Qwen's real byte-level BPE (`qwen.tiktoken`) with Qwen3's 26
added tokens at their real ids, and the chat template is agentkit's own. When `qwen.tiktoken`
cannot be had, a small BPE trained on a built-in sample stands in, with the added tokens still at
their real ids.

Run as a script: `python tests/integration/tiny_qwen3.py OUT_DIR [--tiktoken FILE]`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import Qwen3Config, Qwen3ForCausalLM

from agentkit.qwen3.template import template_source

__all__ = ["QWEN_TIKTOKEN_ENV", "build", "main"]

QWEN_TIKTOKEN_ENV = "AGENTKIT_QWEN_TIKTOKEN"
"""Environment variable naming a local `qwen.tiktoken`, used when `build` is given none."""

_QWEN_TIKTOKEN_SHA256 = "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186"
_QWEN_AGENT_WHEEL = "qwen-agent==0.0.34"  # a PyPI wheel that ships qwen.tiktoken
_QWEN_AGENT_WHEEL_GLOB = "qwen_agent-0.0.34-*.whl"
_QWEN_TIKTOKEN_MEMBER = "qwen_agent/utils/qwen.tiktoken"
_PIP_DOWNLOAD_TIMEOUT_S = 300.0

_BPE_SIZE = 151_643  # ids below this are BPE tokens; the added tokens follow
_VOCAB_SIZE = 151_936  # the embedding rows, as in every Qwen3 checkpoint
_SEED = 0

# Qwen2's pre-tokenizer regex, as in Qwen's tokenizer.json.
_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# (id, content, special): Qwen3's added_tokens_decoder.
_ADDED_TOKENS: tuple[tuple[int, str, bool], ...] = (
    (151643, "<|endoftext|>", True),
    (151644, "<|im_start|>", True),
    (151645, "<|im_end|>", True),
    (151646, "<|object_ref_start|>", True),
    (151647, "<|object_ref_end|>", True),
    (151648, "<|box_start|>", True),
    (151649, "<|box_end|>", True),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False),
    (151660, "<|fim_middle|>", False),
    (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False),
    (151663, "<|repo_name|>", False),
    (151664, "<|file_sep|>", False),
    (151665, "<tool_response>", False),
    (151666, "</tool_response>", False),
    (151667, "<think>", False),
    (151668, "</think>", False),
)
_KEY_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)
_ROUND_TRIP_TEXTS = (
    "Hello, world! It's a test.",
    "def f(x):\n    return x**2  # square\r\n",
    '{"name": "add", "arguments": {"a": 1, "b": 2}}',
    "Café, naïve, Ångström; 中文测试。你好世界 日本語 🤖🚀",
)

# Training text for the stand-in tokenizer, used only when qwen.tiktoken is unavailable.
_FALLBACK_SAMPLE = """\
The quick brown fox jumps over the lazy dog. It's what they'd said we'll see, and you're right.
An agent reads the user's question, thinks, calls a tool, reads the tool's response and answers.
<think>
The user wants the sum of two numbers, so I should call the add tool.
</think>

<tool_call>
{"name": "add", "arguments": {"a": 1, "b": 2}}
</tool_call>
<tool_response>
{"result": 3}
</tool_response>
def add(a: int, b: int) -> int:
    \"\"\"Return the sum of a and b.\"\"\"
    return a + b

for i in range(10):
    print(f"{i}: {add(i, i)}")
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 3.14159 1e-10 2024-01-01
Café, naïve, Ångström, Straße, señor, déjà vu. 中文测试。你好世界。日本語のテキスト。한국어 텍스트 🙂
"""

_log = logging.getLogger(__name__)


def build(out: Path, *, tiktoken: Path | None = None) -> Path:
    """Build the checkpoint into `out`, replacing whatever is there.

    The files are written to a temporary directory beside `out` that is renamed at the end, so a
    directory at `out` is always complete.

    Args:
        out: The checkpoint directory to create.
        tiktoken: Qwen's `qwen.tiktoken`. Defaults to the file named by `$AGENTKIT_QWEN_TIKTOKEN`,
            else the one inside the `qwen-agent` wheel, downloaded with pip into `_downloads`
            beside `out`. If none can be had, a small stand-in tokenizer is built instead.

    Returns:
        `out`.

    Raises:
        RuntimeError: The built tokenizer fails a self-check.
    """
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        ranks = _qwen_ranks(tiktoken, out.parent / "_downloads")
        if ranks is None:
            _log.warning("tokenizer: a small stand-in BPE, NOT Qwen's (qwen.tiktoken unavailable)")
            vocab, merges = _fallback_bpe()
        else:
            _log.info("tokenizer: Qwen's BPE from qwen.tiktoken")
            vocab, merges = _qwen_bpe(ranks)
        _write_json(tmp / "tokenizer.json", _tokenizer_json(vocab, merges), indent=None)
        _write_json(tmp / "tokenizer_config.json", _tokenizer_config())
        _check_tokenizer(tmp / "tokenizer.json")
        _write_model(tmp)
        tmp.chmod(0o755)  # mkdtemp made it private
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _qwen_ranks(path: Path | None, downloads: Path) -> dict[bytes, int] | None:
    """Qwen's BPE ranks from `path`, `$AGENTKIT_QWEN_TIKTOKEN` or PyPI; None if unavailable."""
    if path is None and os.environ.get(QWEN_TIKTOKEN_ENV):
        path = Path(os.environ[QWEN_TIKTOKEN_ENV])
    try:
        data = path.read_bytes() if path is not None else _download_qwen_tiktoken(downloads)
    except (OSError, subprocess.SubprocessError, zipfile.BadZipFile, KeyError) as exc:
        _log.warning("could not read qwen.tiktoken: %s", exc)
        return None
    digest = hashlib.sha256(data).hexdigest()
    if digest != _QWEN_TIKTOKEN_SHA256:
        _log.warning("qwen.tiktoken has sha256 %s, expected %s", digest, _QWEN_TIKTOKEN_SHA256)
        return None
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _download_qwen_tiktoken(downloads: Path) -> bytes:
    """`qwen.tiktoken` out of the `qwen-agent` wheel, which is downloaded once into `downloads`."""
    wheels = sorted(downloads.glob(_QWEN_AGENT_WHEEL_GLOB))
    if not wheels:
        downloads.mkdir(parents=True, exist_ok=True)
        _log.info("downloading %s into %s", _QWEN_AGENT_WHEEL, downloads)
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--retries", "1", "--timeout", "30"]
        done = subprocess.run(
            [*pip, "-d", str(downloads), _QWEN_AGENT_WHEEL],
            capture_output=True,
            text=True,
            timeout=_PIP_DOWNLOAD_TIMEOUT_S,
        )
        wheels = sorted(downloads.glob(_QWEN_AGENT_WHEEL_GLOB))
        if done.returncode != 0 or not wheels:
            last_line = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise OSError(f"pip download {_QWEN_AGENT_WHEEL} failed: {last_line}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        return wheel.read(_QWEN_TIKTOKEN_MEMBER)


def _byte_to_char() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters, as the ByteLevel steps use."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    chars = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in chars]
    chars.update({b: chr(256 + n) for n, b in enumerate(others)})
    return chars


def _merge_parts(ranks: dict[bytes, int], token: bytes) -> list[bytes]:
    """The parts tiktoken's byte-pair merge leaves of `token` using only ranks below its own."""
    limit = ranks[token]
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:  # two parts could only merge into `token` itself
        best_rank, best = limit, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1], limit)
            if rank < best_rank:
                best_rank, best = rank, i
        if best < 0:
            break
        parts[best : best + 2] = [parts[best] + parts[best + 1]]
    return parts


def _qwen_bpe(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[list[str]]]:
    """The vocab and merges of a `tokenizers` BPE that encodes exactly as tiktoken does with `ranks`.

    A token's merge is the pair its own bytes reduce to under the lower-ranked merges.
    """
    chars = _byte_to_char()

    def text(token: bytes) -> str:
        return "".join(chars[b] for b in token)

    vocab = {text(token): rank for token, rank in ranks.items()}
    merges = []
    for token in sorted(ranks, key=ranks.__getitem__):
        if len(token) > 1:
            left, right = _merge_parts(ranks, token)
            merges.append([text(left), text(right)])
    return vocab, merges


def _fallback_bpe() -> tuple[dict[str, int], list[list[str]]]:
    """A small byte-level BPE trained on `_FALLBACK_SAMPLE`, its vocab padded to Qwen's size."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=1024, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(_FALLBACK_SAMPLE.splitlines(keepends=True), trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab: dict[str, int] = model["vocab"]
    # Unreachable fillers so that the added tokens keep their real ids.
    vocab.update({f"<|unused_{i}|>": i for i in range(len(vocab), _BPE_SIZE)})
    return vocab, model["merges"]


def _tokenizer_json(vocab: dict[str, int], merges: list[list[str]]) -> dict[str, Any]:
    """A `tokenizer.json` laid out as Qwen3's: NFC, Qwen2 regex split, byte-level BPE."""
    byte_level = {"add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": id_,
                "content": content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": special,
            }
            for id_, content, special in _ADDED_TOKENS
        ],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": _PRETOKENIZE_REGEX},
                    "behavior": "Isolated",
                    "invert": False,
                },
                {"type": "ByteLevel", **byte_level},
            ],
        },
        "post_processor": {"type": "ByteLevel", **byte_level},
        "decoder": {"type": "ByteLevel", **byte_level},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


def _tokenizer_config() -> dict[str, Any]:
    """Qwen3's `tokenizer_config.json`, with agentkit's chat template."""
    return {
        "tokenizer_class": "Qwen2Tokenizer",
        "added_tokens_decoder": {
            str(id_): {
                "content": content,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": special,
            }
            for id_, content, special in _ADDED_TOKENS
        },
        "additional_special_tokens": [
            content for _, content, special in _ADDED_TOKENS if special and content != "<|endoftext|>"
        ],
        "add_bos_token": False,
        "add_prefix_space": False,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        "model_max_length": 4096,
        "split_special_tokens": False,
        "chat_template": template_source(),
    }


def _check_tokenizer(path: Path) -> None:
    """Raise RuntimeError unless the tokenizer keeps Qwen3's special-token ids and behaviour."""
    tokenizer = Tokenizer.from_file(str(path))
    real_ids = {content: id_ for id_, content, _ in _ADDED_TOKENS}
    for content in _KEY_TOKENS:
        ids = tokenizer.encode(content, add_special_tokens=False).ids
        if ids != [real_ids[content]]:
            raise RuntimeError(f"{path}: {content!r} encodes to {ids}, not [{real_ids[content]}]")
    for text in _ROUND_TRIP_TEXTS:
        back = tokenizer.decode(tokenizer.encode(text, add_special_tokens=False).ids)
        if back != text:
            raise RuntimeError(f"{path}: {text!r} decodes back as {back!r}")
    kept = "<think>\nhm\n</think>\n\n<tool_call>\n{}\n</tool_call>"
    ids = tokenizer.encode(kept + "<|im_end|>", add_special_tokens=False).ids
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    if decoded != kept:
        raise RuntimeError(
            f"{path}: skip_special_tokens should drop only <|im_end|> of {kept!r}<|im_end|>, got {decoded!r}"
        )


def _write_model(out: Path) -> None:
    """Write the random-weight Qwen3 (bfloat16 safetensors) and its generation config to `out`."""
    config = Qwen3Config(
        vocab_size=_VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=4096,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
        tie_word_embeddings=True,
        bos_token_id=151643,
        eos_token_id=151645,
        pad_token_id=151643,
        dtype="bfloat16",
    )
    torch.manual_seed(_SEED)
    model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out)
    # No sampling keys (temperature, top_p, top_k...): vLLM would make them its defaults.
    generation = {"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643}
    _write_json(out / "generation_config.json", generation)


def _write_json(path: Path, value: dict[str, Any], *, indent: int | None = 2) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=indent), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: `tiny_qwen3.py OUT_DIR [--tiktoken FILE]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="checkpoint directory to create")
    parser.add_argument(
        "--tiktoken", type=Path, help=f"Qwen's qwen.tiktoken (default: ${QWEN_TIKTOKEN_ENV}, else PyPI)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    _log.info("built %s", build(args.out, tiktoken=args.tiktoken))


if __name__ == "__main__":
    main()
