#!/usr/bin/env bash
# The peers' own environment: bench/peers/.venv with the OpenAI Agents SDK, PydanticAI,
# smolagents, Qwen-Agent, the openai SDK, aiohttp, matplotlib, psutil, and agentkit itself
# (editable, from this checkout), at the versions the tables were measured with. None of the
# peers becomes an agentkit dependency.
#
#     bash bench/peers/setup.sh            # PYTHON=python3.12 bash bench/peers/setup.sh for another one
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
"${PYTHON:-python3}" -m venv "$here/.venv"
pip=("$here/.venv/bin/python" -m pip --quiet --disable-pip-version-check)
"${pip[@]}" install -r "$here/requirements.txt" -c "$here/constraints.txt"
"${pip[@]}" install -e "$root"
"$here/.venv/bin/python" -c "import agentkit, agents, pydantic_ai, smolagents, qwen_agent, openai, aiohttp, matplotlib, psutil"
echo "ready: $here/.venv/bin/python bench/peers/compare.py"
