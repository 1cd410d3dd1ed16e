"""Write the template golden files from the official Qwen3 template.

Run from the project root: `python tests/qwen3/make_goldens.py`. Each file in `golden/` holds
one conversation, the rendering options and the prompt the official template gives for
them; `test_template.py` checks that agentkit renders the same bytes. `golden/2507/` holds
the same conversations rendered by the official templates of the 2507 releases.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[2]))
from tests.qwen3.reference import official_render

GOLDEN = Path(__file__).parent / "golden"
TEMPLATES_2507 = ("qwen3-instruct-2507", "qwen3-thinking-2507")

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Suche im Netz — returns snippets (日本語 OK).",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "filters": {
                    "type": "object",
                    "properties": {"site": {"type": "string"}, "max": {"type": "integer", "default": 5}},
                },
            },
            "required": ["query"],
        },
    },
}
NO_PARAMS = {
    "type": "function",
    "function": {
        "name": "now",
        "description": "The current time.",
        "parameters": {"type": "object", "properties": {}},
    },
}


def call(name: str, arguments: Any, id: str = "call_1") -> dict[str, Any]:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_result(content: str, id: str = "call_1") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": id, "content": content}


CASES: dict[str, dict[str, Any]] = {
    "no_system": {"messages": [{"role": "user", "content": "Hello!"}]},
    "system_no_tools": {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
        ]
    },
    "system_with_tools": {
        "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather in Paris?"},
        ],
        "tools": [WEATHER, SEARCH],
    },
    "tools_no_system": {
        "messages": [{"role": "user", "content": "What time is it?"}],
        "tools": [NO_PARAMS],
    },
    "parallel_calls_object_args": {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Berlin?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    call("get_weather", {"city": "Paris"}, "a"),
                    call("get_weather", {"city": "Berlin", "unit": "celsius"}, "b"),
                ],
            },
            tool_result('{"temp": 18}', "a"),
            tool_result('{"temp": 15}', "b"),
        ],
        "tools": [WEATHER],
    },
    "string_args_and_content_before_calls": {
        "messages": [
            {"role": "user", "content": "Search for cats"},
            {
                "role": "assistant",
                "content": "Let me search.",
                "tool_calls": [
                    call("search", '{"query": "cats"}', "a"),
                    call("search", '{"query":"kittens","filters":{"max":3}}', "b"),
                ],
            },
            tool_result("cats are mammals", "a"),
            tool_result("kittens are young cats", "b"),
        ],
        "tools": [SEARCH],
    },
    "reasoning_after_last_query": {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "\nI should call get_weather.\n",
                "tool_calls": [call("get_weather", {"city": "Paris"})],
            },
            tool_result("sunny, 21C"),
            {"role": "assistant", "content": "It is sunny.", "reasoning_content": "The tool says sunny."},
        ],
        "tools": [WEATHER],
    },
    "reasoning_before_last_query_dropped": {
        "messages": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "reasoning_content": "Easy: 4."},
            {"role": "user", "content": "And 3+3?"},
            {"role": "assistant", "content": "6", "reasoning_content": "Also easy."},
        ]
    },
    "content_with_embedded_think": {
        "messages": [
            {"role": "user", "content": "Tell a joke"},
            {"role": "assistant", "content": "<think>\nSomething short.\n</think>\n\nWhy did the chicken..."},
            {"role": "user", "content": "Another"},
            {"role": "assistant", "content": "<think>\nAnother one.\n</think>\n\nKnock knock."},
        ]
    },
    "think_block_without_open_tag": {
        "messages": [
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "half a thought\n</think>\n\nA"},
        ]
    },
    "enable_thinking_false": {
        "messages": [{"role": "user", "content": "Quick answer please"}],
        "enable_thinking": False,
    },
    "enable_thinking_false_with_tools_and_history": {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Rome?"},
            {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": "Rome"})]},
            tool_result("hot"),
        ],
        "tools": [WEATHER],
        "enable_thinking": False,
    },
    "non_ascii": {
        "messages": [
            {"role": "system", "content": "Réponds en français. 日本語も大丈夫。"},
            {"role": "user", "content": "Quel temps à Zürich? 🌦"},
            {
                "role": "assistant",
                "content": "Je vérifie…",
                "tool_calls": [call("get_weather", {"city": "Zürich", "note": 'ü ß 東京 "quoted"'})],
            },
            tool_result("Température: 12°C, «nuageux»"),
        ],
        "tools": [WEATHER],
    },
    "tool_response_wrapped_user_is_not_a_query": {
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "Call the tool.",
                "tool_calls": [call("get_weather", {"city": "Oslo"})],
            },
            {"role": "user", "content": "<tool_response>\ncold\n</tool_response>"},
            {"role": "assistant", "content": "Cold.", "reasoning_content": "It says cold."},
        ],
        "tools": [WEATHER],
    },
    "system_in_the_middle": {
        "messages": [
            {"role": "system", "content": "First system."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "system", "content": "Now be formal."},
            {"role": "user", "content": "Bye"},
        ]
    },
    "no_generation_prompt": {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
        ],
        "add_generation_prompt": False,
    },
    "final_assistant_without_reasoning": {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
        ],
        "add_generation_prompt": False,
        "enable_thinking": False,
    },
    "call_without_function_wrapper_and_null_content": {
        "messages": [
            {"role": "user", "content": "time?"},
            {"role": "assistant", "content": None, "tool_calls": [{"name": "now", "arguments": {}}]},
            tool_result("12:00"),
        ],
        "tools": [NO_PARAMS],
    },
    "newline_only_content_before_call": {
        "messages": [
            {"role": "user", "content": "time?"},
            {
                "role": "assistant",
                "content": "\n\n",
                "reasoning_content": "need the clock",
                "tool_calls": [call("now", {})],
            },
            tool_result("12:00"),
        ],
        "tools": [NO_PARAMS],
    },
    "multi_turn_agent_session": {
        "messages": [
            {"role": "system", "content": "Agent."},
            {"role": "user", "content": "Find weather in Lima, then search surf spots."},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "Two steps.",
                "tool_calls": [call("get_weather", {"city": "Lima"}, "1")],
            },
            tool_result("mild", "1"),
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [call("search", {"query": "surf Lima"}, "2")],
            },
            tool_result("Punta Hermosa", "2"),
            {"role": "assistant", "content": "Mild; surf at Punta Hermosa."},
            {"role": "user", "content": "Thanks! /no_think"},
        ],
        "tools": [WEATHER, SEARCH],
    },
    "empty_reasoning_content_string": {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "<think>\nignored\n</think>\n\nHello", "reasoning_content": ""},
            {"role": "user", "content": "Again"},
        ]
    },
}


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name, case in CASES.items():
        options = {
            "add_generation_prompt": case.get("add_generation_prompt", True),
            "enable_thinking": case.get("enable_thinking", True),
        }
        prompt = official_render(case["messages"], case.get("tools"), **options)
        record = {"messages": case["messages"], "tools": case.get("tools"), **options, "prompt": prompt}
        (GOLDEN / f"{name}.json").write_text(
            json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    (GOLDEN / "2507").mkdir(exist_ok=True)
    for template in TEMPLATES_2507:
        for name, case in CASES.items():
            options = {
                "add_generation_prompt": case.get("add_generation_prompt", True),
                "enable_thinking": case.get("enable_thinking", True),
            }
            prompt = official_render(case["messages"], case.get("tools"), **options, template=template)
            record = {
                "template": template,
                "messages": case["messages"],
                "tools": case.get("tools"),
                **options,
                "prompt": prompt,
            }
            (GOLDEN / "2507" / f"{template.removeprefix('qwen3-')}--{name}.json").write_text(
                json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
    print(f"wrote {len(CASES) * (1 + len(TEMPLATES_2507))} golden files to {GOLDEN}")


if __name__ == "__main__":
    main()
