"""The run viewer: `agentkit runs view` serves a page on 127.0.0.1 that lists the runs of a
runs directory, shows one run as a timeline of its steps, follows a run in progress, and
shows a batch as a table of its runs. It reads transcripts and writes nothing.

`api` builds what the page asks for from the transcripts; `server` serves it with the page
(`static/`: plain HTML, CSS and JavaScript, no build step, nothing fetched from elsewhere).
"""

from agentkit.viewer.server import RunViewer

__all__ = ["RunViewer"]
