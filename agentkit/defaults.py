"""Every wait and bound of a run, named, with the reason for its value.

One place for them, imported by the modules that use them and by the command line (which
must not import those modules just to show `--help`). Each can be changed per `Agent` and
per command.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_BACKOFF_BASE",
    "DEFAULT_BACKOFF_CAP",
    "DEFAULT_BASE_URL",
    "DEFAULT_BATCH_CONCURRENCY",
    "DEFAULT_CHARS_PER_TOKEN",
    "DEFAULT_COMPACT_TO",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_MALFORMED",
    "DEFAULT_MAX_REPEATS",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_MCP_ASK_TIMEOUT",
    "DEFAULT_MCP_FORM_TRIES",
    "DEFAULT_MCP_START_TIMEOUT",
    "DEFAULT_OUTPUT_RESERVE",
    "DEFAULT_OUTPUT_RETRIES",
    "DEFAULT_REPLICA_ATTEMPTS",
    "DEFAULT_RETRY_ATTEMPTS",
    "DEFAULT_RETRY_TIME",
    "DEFAULT_SERVE_CANCEL_GRACE",
    "DEFAULT_SERVE_CONCURRENCY",
    "DEFAULT_SET_ASIDE",
    "DEFAULT_STEP_CANCEL_GRACE",
    "DEFAULT_TOOL_CANCEL_GRACE",
    "DEFAULT_TOOL_TIMEOUT",
    "MCP_STREAM_READ_MARGIN",
    "OAUTH_LOGIN_TIMEOUT",
    "RUNS_DIR_ENV",
    "SERVE_PORT",
    "TELEMETRY_ENV",
    "TOOL_TIMEOUT_BACKSTOP",
    "VIEWER_HEARTBEAT",
    "VIEWER_POLL_INTERVAL",
    "VIEWER_REQUEST_TIMEOUT",
    "VIEWER_STREAM_TIME",
]

# The model server

SERVE_PORT = 8000
"""The port `vllm serve` (and `agentkit serve`) listens on by default."""

DEFAULT_BASE_URL = f"http://127.0.0.1:{SERVE_PORT}/v1"
"""Where `vllm serve` listens by default."""

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to open a TCP connection to the model server (`--connect-timeout`). A local server
accepts at once; ten seconds allows for a remote one across a slow network, and no more. An
MCP server's start has a bound of its own, `DEFAULT_MCP_START_TIMEOUT`."""

DEFAULT_IDLE_TIMEOUT = 120.0
"""Seconds a response may go without a complete line (no byte at all, or a trickle that
never finishes one) before it counts as stalled and is retried or continued. The longest
silence of a healthy vLLM stream is a request queued behind a full batch plus a long
prefill; two minutes covers a 128k-token prefill on one consumer GPU. Lower it for
interactive use."""

DEFAULT_MAX_CONNECTIONS: int | None = None
"""Connections a transport keeps open to one server at most: None, no limit (aiohttp's
default is 100, httpx's 100). The runs at once bound the requests in flight (a batch's
`concurrency`); a pool limit below them would queue requests in the client, silently capping
a batch. vLLM queues what it cannot batch (`--max-num-seqs`) itself."""

# Several servers (replicas of one model)

DEFAULT_SET_ASIDE = 30.0
"""Seconds a server that failed is left out of the rotation before runs are sent to it
again. Long enough that a restarting vLLM is not hammered by every run in turn (a restart
takes 30-60 s), short enough that a server back up soon takes its share again."""

DEFAULT_REPLICA_ATTEMPTS = 3
"""Requests per model call on one server of several, the first included, before the server
is set aside and the call moves to another: a passing blip is retried where the run's prefix
cache is; a server that stays down costs the run about a second, not the whole retry time."""

DEFAULT_RETRY_ATTEMPTS = 20
"""Requests per model call, the first included. With full jitter the waits average half
their bound (0.25 s, 0.5 s, ... then 10 s once the bound reaches its cap), so twenty
attempts reach past the retry time: a restarting server (one to two minutes for vLLM) is
waited for, and the retry time is the bound that ends a wait for one that stays down."""

DEFAULT_RETRY_TIME = 120.0
"""Seconds from a call's first failure after which no retry starts. Two minutes covers a
vLLM restart with a warm cache (30-60 s) and a burst of 429/503 under load, and ends a run
against a server that stays down well before anyone wonders whether it hangs."""

DEFAULT_BACKOFF_BASE = 0.5
"""Seconds: the bound of the first wait between attempts; each retry doubles it."""

DEFAULT_BACKOFF_CAP = 20.0
"""Seconds: the largest bound a wait is drawn under (`Retry-After` may ask for longer)."""

# The run

DEFAULT_MAX_STEPS = 20
"""Model calls per run: a task that needs more is usually a model going in circles."""

DEFAULT_MAX_REPEATS = 3
"""The same call with the same result this many times in a row is enough: the next one is
answered with a correction instead of being run, and one more ends the run ("repetition")."""

DEFAULT_MAX_MALFORMED = 3
"""Steps in a row whose every call was unreadable before the run ends ("malformed_output")."""

DEFAULT_OUTPUT_RETRIES = 2
"""Times an answer that does not match the run's output type is sent back with what is
wrong before the run ends ("invalid_output"). Against a server that constrains the answer
this never happens; a model that misses the schema twice after being told the error is
unlikely to hit it on the third try."""

DEFAULT_TOOL_TIMEOUT = 120.0
"""Seconds a tool call (a function, a built-in or an MCP server's tool) may run before it is
stopped and answered with an error saying so; the run goes on. Change it per `Agent`
(`Timeouts(tool=...)`), per tool, and per MCP server (`tool_timeout` in its config)."""

DEFAULT_TOOL_CANCEL_GRACE = 2.0
"""Seconds tool calls cancelled at the end of a step (the run stopping while they run) get
to clean up (a subprocess killed, a file closed) before the run goes on without them."""

DEFAULT_STEP_CANCEL_GRACE = 5.0
"""Seconds a step cancelled by SIGTERM in `agentkit chat` gets to stop (its tool calls
cancelled, its transcript closed) before the process exits anyway: a service manager sends
SIGKILL some seconds after SIGTERM (systemd: 90 s, Docker: 10 s), so well under that."""

TOOL_TIMEOUT_BACKSTOP = 10.0
"""Seconds the toolbox gives a tool that keeps a time limit of its own (the shell's `timeout`,
`fetch_url`'s, an MCP server's `tool_timeout` and `timeout`) beyond that limit before stopping
it. The tool's own limit is the one that should answer, with the better error (the command
killed and its output so far, the MCP server told to cancel); the toolbox's is the backstop
for a tool that hangs on its way out."""

# The context window

DEFAULT_OUTPUT_RESERVE = 8192
"""Tokens kept free for the model's reply (at most a quarter of the window): room for a
long think block and a few calls. A step whose prompt leaves less than this compacts first."""

DEFAULT_COMPACT_TO = 0.5
"""Compaction brings the prompt down to this share of the room the reserve leaves, so that
the next compaction is many steps away."""

DEFAULT_CHARS_PER_TOKEN = 3.0
"""The estimate before any count came back: a little below Qwen's ~3.5-4 characters per
token on English and JSON, so that the first guess errs on the large side."""

# Batches

DEFAULT_BATCH_CONCURRENCY = 16
"""Runs at once in a batch. A run waits on its tools between model calls, so a server is
kept busy by more runs than it decodes at once; sixteen keep one vLLM busy without queueing
much. Raise it with the number of servers (and their `--max-num-seqs`)."""

# Transcripts

RUNS_DIR_ENV = "AGENTKIT_RUNS_DIR"
"""The environment variable that moves the runs directory."""

TELEMETRY_ENV = "AGENTKIT_OTEL"
"""Set to 1 to trace the runs of every `Agent` made without `telemetry=` with OpenTelemetry
(`agentkit.telemetry`)."""

# The run viewer (`agentkit runs view`)

VIEWER_POLL_INTERVAL = 0.25
"""Seconds between looks at a live run's transcript for new lines: a step's records reach
the page within a quarter second, and an idle run costs four small reads a second."""

VIEWER_HEARTBEAT = 15.0
"""Seconds a live stream to the page may stay silent before the viewer sends a comment line,
so that a proxy or the browser does not take a run that is thinking for a dead connection."""

VIEWER_REQUEST_TIMEOUT = 30.0
"""Seconds the viewer waits on one connection for a request to arrive, or for the browser to
take what it sends, before it drops the connection: a client that connects and stalls holds a
server thread no longer than this."""

VIEWER_STREAM_TIME = 300.0
"""Seconds one live stream stays open before the viewer ends it; the page opens the next at
once, from where the last left off. A tab left open on a run that never ends holds a server
thread for at most this long per connection."""

# MCP

DEFAULT_MCP_START_TIMEOUT = 30.0
"""Seconds for an MCP server to start and answer `initialize`, its tools listed (its config's
`timeout`), and for each request other than a tool call. Thirty seconds, as `npx` and `uvx`
may download and install the server first. Time a person spends authorizing it in the
browser does not count (`OAUTH_LOGIN_TIMEOUT` bounds that)."""

MCP_STREAM_READ_MARGIN = 60.0
"""Seconds an MCP server's HTTP stream (streamable HTTP or SSE) may stay silent beyond the
server's `tool_timeout` before the transport drops the connection. The stream carries the
longest call's answer, so it must outlast the call: a slow call ends with its own timeout
(and the server told to cancel), not a dropped connection; the minute more leaves room for
the server's answer to that cancel."""

DEFAULT_MCP_LOG_LEVEL = "info"
"""The least severe log message MCP servers are asked to send (`notifications/message`):
"debug", "info", "notice", "warning", "error", "critical", "alert" or "emergency"."""

DEFAULT_MCP_LIST_PAGES = 20
"""Pages of a server's resources, resource templates or prompts read at most for one listing
(`resources/list` and the like are paginated; a server that keeps handing out cursors is not
followed further, and the listing says it was cut short)."""

DEFAULT_MCP_RESOURCES_SHOWN = 30
"""Resources and templates of a server named in its `read_resource` tool's description, so
the model can read one without listing first; the rest it finds with `list_resources`."""

OAUTH_LOGIN_TIMEOUT = 300.0
"""Seconds agentkit waits for a person to authorize an MCP server in the browser (sign in,
perhaps with a second factor, and approve) before it gives up. The server's connect timeout
does not run meanwhile. Change it per server (`"oauth": {"login_timeout": ...}`) or with
`agentkit mcp login --timeout`."""

DEFAULT_MCP_ASK_TIMEOUT = 300.0
"""Seconds a person (or an `on_sampling` / `on_elicitation` callback) has to answer what an
MCP server asks: whether its sampling request may use the model, or what to put in its form.
Five minutes is time to read a form and look something up; a question left longer is
answered "cancel" (elicitation) or refused (sampling). The server's tool call waits meanwhile,
so a tool's own timeout (`tool_timeout`, the server's `toolTimeout`) bounds it too."""

DEFAULT_MCP_FORM_TRIES = 3
"""Times a form field is asked again at the terminal after an answer that does not fit it
(not a number, not one of the choices, out of range) before the form is cancelled; and times
a yes/no question (a form, a sampling request, a tool's approval) is asked again after an
answer not understood before it is taken as no."""

DEFAULT_MCP_TASK_POLL = 1.0
"""Seconds between polls of an MCP task (`tasks/get`) when its server suggests no interval;
a server's `pollIntervalMs` is honoured. The whole task is bounded by the server's
`tool_timeout`, as a plain call is."""

MCP_TASK_POLL_FLOOR = 0.05
"""The shortest wait between polls of an MCP task, whatever its server suggests."""

# Serving an agent over MCP (`agentkit mcp serve`)

DEFAULT_SERVE_CONCURRENCY = 4
"""Runs at once for the MCP clients of one `agentkit mcp serve`; further calls wait for a
free slot (and say so in a progress notification). A client delegating to a local agent
rarely sends more at once; four keep one local vLLM busy without slowing each run much."""

DEFAULT_SERVE_CANCEL_GRACE = 15.0
"""Seconds a cancelled run may take to stop (its transcript closed, its per-run MCP servers
stopped: an MCP server gets 10 s to close) before the call gives up waiting for it."""
