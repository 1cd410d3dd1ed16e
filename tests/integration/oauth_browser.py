"""A stand-in for a person's browser in the OAuth tests: `python oauth_browser.py URL`.

It opens the authorization URL and follows the redirects (the authorization server approves
at once) back to agentkit's loopback listener, then appends the URL it was given to the file
named by `OAUTH_TEST_BROWSER_LOG`, so a test can tell whether and how often a browser opened,
and the text of the page it ended on to `OAUTH_TEST_BROWSER_LOG` + ".pages", one line each.
"""

from __future__ import annotations

import os
import sys

import httpx

if __name__ == "__main__":
    url = sys.argv[1]
    with open(os.environ["OAUTH_TEST_BROWSER_LOG"], "a", encoding="utf-8") as log:
        log.write(url + "\n")
    response = httpx.get(url, follow_redirects=True, timeout=60)
    with open(os.environ["OAUTH_TEST_BROWSER_LOG"] + ".pages", "a", encoding="utf-8") as pages:
        pages.write(" ".join(response.text.split()) + "\n")
    sys.exit(0 if response.status_code < 500 else 1)
