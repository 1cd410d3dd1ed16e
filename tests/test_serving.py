"""Model profiles and the vLLM command lines agentkit builds."""

from __future__ import annotations

from agentkit.serving import PROFILES, profile_for, serve_hint, vllm_serve_args


def test_profiles_cover_the_qwen3_family_with_model_card_sampling() -> None:
    assert {
        "Qwen/Qwen3-0.6B",
        "Qwen/Qwen3-1.7B",
        "Qwen/Qwen3-4B",
        "Qwen/Qwen3-8B",
        "Qwen/Qwen3-14B",
        "Qwen/Qwen3-32B",
    } <= set(PROFILES)
    profile = profile_for("qwen3-8b")
    assert profile.name == "Qwen/Qwen3-8B"
    assert profile.sampling(True).temperature == 0.6 and profile.sampling(False).top_p == 0.8


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
