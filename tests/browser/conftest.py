"""A local web server for the built book and a headless Chromium with every non-local request blocked.

Chromium is the system's (Debian's `chromium` package), driven by Playwright; nothing downloads a browser.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("LOTTERY_BOOK_HTML", ROOT / "_build" / "html"))
INSTALL_HINT = ("headless Chromium not found: on Debian, `sudo apt-get install chromium` "
                "(or set LOTTERY_CHROMIUM to a Chromium or Chrome executable)")
# Flags for a container or CI machine: no sandbox (root), no GPU, and no background traffic of Chromium's own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(scope="session")
def book_url():
    """The built book served from 127.0.0.1 on a free port."""
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built book in {HTML}: run `make book` first")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(HTML)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _chromium() -> str:
    path = os.environ.get("LOTTERY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(INSTALL_HINT)
    return path


@pytest.fixture(scope="session")
def blocked_requests() -> list[str]:
    """URLs of every request the pages tried to make outside this machine (all refused)."""
    return []


@pytest.fixture(scope="session")
def browser_context(book_url, blocked_requests):
    """One Chromium profile, fresh for this session, whose requests reach only the local server."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )

        def only_local(route):
            if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
                route.continue_()
            else:
                blocked_requests.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", only_local)
        yield context
        context.close()
