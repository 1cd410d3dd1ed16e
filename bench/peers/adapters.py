"""One adapter per framework: the same 10-step tool loop, each framework's fastest sane way.

Every adapter builds, from a base URL, a `run()` that does one whole run of the task against
the stub server (bench/stub_server.py: nine calls of the tool `step`, then the answer) and
returns the model calls the framework made, as it counts them. They share the task, the system
prompt and the tool, a trivial function that counts its calls in `TOOL_CALLS`.

Peers are imported inside their adapters: only the peers' own environment (bench/peers/setup.sh)
has them, and agentkit's tests use just the agentkit and floor adapters.

Fair settings, each framework on its fastest sane path: no tracing or telemetry export
(the OpenAI Agents SDK has tracing disabled), no retries on the stub, HTTP connection pools
at least as large as the runs at once, and nothing printed per step.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

TASK = "Do the ten-step task."
SYSTEM = "You are a careful agent."
STEPS = 10  # model calls a run makes: nine tool calls, then the answer
MODEL = "stub"

TOOL_CALLS = itertools.count()  # next() is atomic in CPython: threads may share it
TOOL_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"n": {"type": "integer", "description": "The step's number."}},
    "required": ["n"],
}
TOOL_SCHEMA = {
    "type": "function",
    "function": {
        "name": "step",
        "description": "Do one step of the task.",
        "parameters": TOOL_PARAMETERS,
    },
}


def do_step(n: int) -> str:
    """The work of the benchmark's tool: count the call, and answer."""
    next(TOOL_CALLS)
    return f"step {n} done"


async def step(n: int) -> str:
    """Do one step of the task.

    Args:
        n: The step's number.
    """
    return do_step(n)


class Unsupported(Exception):
    """The framework has no such mode (the tables say so)."""


Run = Callable[[], Any]  # a coroutine function for async frameworks, a plain one for sync ones


@dataclass(frozen=True)
class Framework:
    """How to run one framework, and how to time its start-up.

    Attributes:
        name: The row's name, and the runner's argument.
        make: From (base URL, stream, runs at once), the function doing one run.
        sync: Whether `run()` is a plain function (the runner gives each run a thread).
        imports: The statement a user writes to use it, timed in a fresh interpreter.
        cli: The command whose `--help` is timed (None: the framework has no CLI).
        note: What differs for this framework, for the tables.
    """

    name: str
    make: Callable[[str, bool, int], Awaitable[Run]]
    sync: bool
    imports: str
    cli: str | None
    note: str = ""


def _httpx_limits(concurrency: int) -> Any:
    import httpx

    return httpx.Limits(max_connections=concurrency + 16, max_keepalive_connections=concurrency + 16)


def _async_openai(base_url: str, concurrency: int) -> Any:
    import openai

    http = openai.DefaultAsyncHttpxClient(limits=_httpx_limits(concurrency))
    return openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0, http_client=http)


async def make_agentkit(base_url: str, stream: bool, concurrency: int, backend: str) -> Run:
    from agentkit import Agent, tool

    if not stream:
        raise Unsupported("agentkit always streams from the server")
    agent = Agent(
        MODEL, base_url, backend=backend, tools=[tool(step)], system_prompt=SYSTEM, transcripts=False
    )

    async def run() -> int:
        result = await agent.run(TASK)
        assert result.ok, result.stop_reason
        return len(result.steps)

    return run


async def make_agentkit_completions(base_url: str, stream: bool, concurrency: int) -> Run:
    return await make_agentkit(base_url, stream, concurrency, "completions")


async def make_agentkit_chat(base_url: str, stream: bool, concurrency: int) -> Run:
    return await make_agentkit(base_url, stream, concurrency, "chat")


async def make_openai_agents(base_url: str, stream: bool, concurrency: int) -> Run:
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        RunConfig,
        Runner,
        function_tool,
        set_tracing_disabled,
    )

    set_tracing_disabled(True)
    model = OpenAIChatCompletionsModel(model=MODEL, openai_client=_async_openai(base_url, concurrency))
    agent = Agent(name="bench", instructions=SYSTEM, model=model, tools=[function_tool(step)])
    config = RunConfig(tracing_disabled=True)

    async def run() -> int:
        if stream:
            streamed = Runner.run_streamed(agent, TASK, max_turns=STEPS + 5, run_config=config)
            async for _ in streamed.stream_events():
                pass
            return len(streamed.raw_responses)
        result = await Runner.run(agent, TASK, max_turns=STEPS + 5, run_config=config)
        return len(result.raw_responses)

    return run


async def make_pydantic_ai(base_url: str, stream: bool, concurrency: int) -> Run:
    from pydantic_ai import Agent, AgentRunResultEvent
    from pydantic_ai.messages import ModelResponse
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(openai_client=_async_openai(base_url, concurrency))
    agent = Agent(OpenAIChatModel(MODEL, provider=provider), instructions=SYSTEM, tools=[step])

    def calls(messages: list[Any]) -> int:
        return sum(isinstance(m, ModelResponse) for m in messages)

    async def run() -> int:
        if stream:
            async with agent.run_stream_events(TASK) as events:
                async for event in events:
                    if isinstance(event, AgentRunResultEvent):
                        return calls(event.result.all_messages())
            raise AssertionError("the run ended without its result")
        result = await agent.run(TASK)
        return calls(result.all_messages())

    return run


async def make_smolagents(base_url: str, stream: bool, concurrency: int) -> Run:
    import httpx
    from smolagents import ActionStep, LogLevel, OpenAIServerModel, ToolCallingAgent
    from smolagents import tool as smol_tool

    def step(n: int) -> str:
        """Do one step of the task.

        Args:
            n: The step's number.
        """
        return do_step(n)

    tool = smol_tool(step)

    client = {"max_retries": 0, "http_client": httpx.Client(limits=_httpx_limits(concurrency))}
    model = OpenAIServerModel(MODEL, api_base=base_url, api_key="EMPTY", client_kwargs=client)

    def run() -> int:
        # An agent keeps its run's memory: one per run, so that runs may go on at once.
        agent = ToolCallingAgent(
            tools=[tool],
            model=model,
            max_steps=STEPS + 5,
            verbosity_level=LogLevel.OFF,
            stream_outputs=stream,
            instructions=SYSTEM,
        )
        agent.run(TASK)
        return sum(isinstance(s, ActionStep) for s in agent.memory.steps)

    return run


async def make_qwen_agent(base_url: str, stream: bool, concurrency: int) -> Run:
    import logging

    from qwen_agent.agents import FnCallAgent
    from qwen_agent.tools.base import BaseTool, register_tool

    if not stream:
        raise Unsupported("Qwen-Agent's agents always stream from the server")
    logging.getLogger("qwen_agent_logger").setLevel(logging.WARNING)

    @register_tool("step", allow_overwrite=True)
    class Step(BaseTool):  # type: ignore[misc]
        description = "Do one step of the task."
        parameters = TOOL_PARAMETERS

        def call(self, params: str | dict[str, Any], **kwargs: Any) -> str:
            args = json.loads(params) if isinstance(params, str) else params
            return do_step(args["n"])

    llm = {"model": MODEL, "model_server": base_url, "api_key": "EMPTY", "generate_cfg": {"max_retries": 0}}
    agent = FnCallAgent(function_list=["step"], llm=llm, system_message=SYSTEM)

    def run() -> int:
        (response,) = deque(agent.run([{"role": "user", "content": TASK}]), maxlen=1)  # its last
        calls = sum(1 for m in response if m["role"] == "assistant" and m.get("function_call"))
        return calls + 1  # and the answer

    return run


async def make_openai_sdk(base_url: str, stream: bool, concurrency: int) -> Run:
    """The `openai` SDK alone, with the loop written by hand: typed events, no framework."""
    client = _async_openai(base_url, concurrency)

    async def run() -> int:
        messages: list[Any] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TASK}]
        for calls in range(1, STEPS + 6):
            if stream:
                events = await client.chat.completions.create(
                    model=MODEL, messages=messages, tools=[TOOL_SCHEMA], stream=True
                )
                call: dict[str, str] = {}
                async for event in events:
                    for delta in event.choices[0].delta.tool_calls or () if event.choices else ():
                        if delta.id:
                            call = {"id": delta.id, "name": delta.function.name, "arguments": ""}
                        call["arguments"] += delta.function.arguments or ""
            else:
                answer = await client.chat.completions.create(
                    model=MODEL, messages=messages, tools=[TOOL_SCHEMA]
                )
                tool_calls = answer.choices[0].message.tool_calls or []
                call = (
                    {
                        "id": tool_calls[0].id,
                        "name": tool_calls[0].function.name,
                        "arguments": tool_calls[0].function.arguments,
                    }
                    if tool_calls
                    else {}
                )
            if not call:
                return calls
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["name"], "arguments": call["arguments"]},
                        }
                    ],
                }
            )
            result = await step(**json.loads(call["arguments"]))
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        raise AssertionError("no answer after the steps")

    return run


def chat_bodies(stream: bool) -> list[bytes]:
    """The ten chat requests of a run, as the hand loop sends them, encoded once."""
    messages: list[Any] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TASK}]
    bodies = []
    for n in range(1, STEPS + 1):
        body = {"model": MODEL, "messages": list(messages), "tools": [TOOL_SCHEMA], "stream": stream}
        bodies.append(json.dumps(body).encode())
        call = {"id": f"call_{n - 1}", "type": "function"}
        call["function"] = {"name": "step", "arguments": json.dumps({"n": n})}  # type: ignore[assignment]
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": f"step {n} done"})
    return bodies


async def make_aiohttp(base_url: str, stream: bool, concurrency: int) -> Run:
    """The floor: a bare aiohttp client sends the run's ready bodies and reads the bytes back."""
    import aiohttp

    bodies = chat_bodies(stream)
    url = base_url + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    session: list[aiohttp.ClientSession] = []  # made inside the running loop, on first use

    async def run() -> int:
        if not session:
            session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
        for n, body in enumerate(bodies, 1):
            async with session[0].post(url, data=body, headers=headers) as response:
                async for _ in response.content.iter_any():
                    pass
            if n < len(bodies):
                do_step(n)
        return len(bodies)

    return run


FRAMEWORKS = {
    f.name: f
    for f in (
        Framework(
            "agentkit completions",
            make_agentkit_completions,
            False,
            "from agentkit import Agent, tool",
            "agentkit",
            "agentkit's default backend: /v1/completions, its own Qwen3 format and stream parser",
        ),
        Framework(
            "agentkit chat",
            make_agentkit_chat,
            False,
            "from agentkit import Agent, tool",
            "agentkit",
            "/v1/chat/completions with the server's tool parser",
        ),
        Framework(
            "OpenAI Agents SDK",
            make_openai_agents,
            False,
            "import agents",
            None,
            "OpenAIChatCompletionsModel; tracing disabled",
        ),
        Framework(
            "PydanticAI",
            make_pydantic_ai,
            False,
            "from pydantic_ai import Agent; import pydantic_ai.models.openai",
            "pai",
            "OpenAIChatModel; streaming through run_stream_events",
        ),
        Framework(
            "smolagents",
            make_smolagents,
            True,
            "import smolagents",
            "smolagent",
            "ToolCallingAgent (sync: a thread per run); answers by calling final_answer; one agent per run",
        ),
        Framework(
            "Qwen-Agent",
            make_qwen_agent,
            True,
            "from qwen_agent.agents import FnCallAgent",
            None,
            "FnCallAgent (sync: a thread per run); its own function-calling prompt over plain chat, "
            "tool calls parsed from the text",
        ),
        Framework(
            "floor: openai SDK",
            make_openai_sdk,
            False,
            "import openai",
            None,
            "the loop by hand on AsyncOpenAI's typed chat.completions.create",
        ),
        Framework(
            "floor: bare aiohttp",
            make_aiohttp,
            False,
            "import aiohttp",
            None,
            "sends the ready request bodies and reads the bytes; parses nothing",
        ),
    )
}
