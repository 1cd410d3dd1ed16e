"""`agentkit mcp serve`'s command line: its options, and bad input refused before serving
(serving itself: tests/integration/test_mcp_serve.py)."""

from __future__ import annotations

from typer.testing import CliRunner

from agentkit.cli import app

runner = CliRunner()


def test_help_shows_the_transport_options_and_the_agent_options() -> None:
    result = runner.invoke(app, ["mcp", "serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--http", "--host", "--tool-name", "--concurrency", "--base-url", "--mcp-config", "--yes"):
        assert option in result.output


def test_a_host_without_http_is_refused() -> None:
    result = runner.invoke(app, ["mcp", "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--host goes with --http PORT" in result.output


def test_an_agent_that_cannot_be_built_is_refused_before_serving() -> None:
    result = runner.invoke(app, ["mcp", "serve", "--backend", "scripted"])
    assert result.exit_code == 2
    assert "--backend scripted needs --script FILE" in result.output


def test_a_port_in_use_is_refused_saying_how_to_pick_another() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(
            app, ["mcp", "serve", "--http", str(port), "--base-url", "http://127.0.0.1:9/v1"]
        )
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--http PORT" in result.output
