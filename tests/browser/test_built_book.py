"""The built book as a reader sees it: every page of _build/html opened in headless Chromium, offline.

Each page must log no JavaScript error, decode every image, show no raw MyST or glue markup, typeset its
equations (MathJax ships with the book; requests that leave the machine are refused), link only to pages
and anchors that exist, and, for a chapter notebook, offer the Colab link of that notebook in the repository
named by _config.yml. The search page must find "winning ticket". One full-page screenshot per page goes to
_build/screenshots/. Run with `make browser` after `make book`.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("LOTTERY_BOOK_HTML", ROOT / "_build" / "html"))
SCREENSHOTS = ROOT / "_build" / "screenshots"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = sorted(
    p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html") if not p.relative_to(HTML).parts[0].startswith("_")
) if HTML.is_dir() else []
# Markup that must never reach the reader: MyST roles and directives, glue, colon fences, unrendered display math.
RAW_MARKUP = ("{glue", "{cite", "{ref}", "{doc}", "{numref}", "```{", ":::", "$$", "{{", "<!--", "claim:")
REDIRECT = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)"', re.I)

WAIT_FOR_MATH = """async () => {
  const math = Array.from(document.querySelectorAll(".math"));
  if (math.length === 0) return {count: 0, raw: [], errors: []};
  const started = Date.now();
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() - started < 20000)
    await new Promise(r => setTimeout(r, 100));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  return {
    count: math.length,
    raw: math.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.trim().slice(0, 60)),
    errors: Array.from(document.querySelectorAll("mjx-merror")).map(e => e.textContent.slice(0, 60)),
  };
}"""
DECODE_IMAGES = """async () => {
  const failed = [];
  await Promise.all(Array.from(document.images).map(async img => {
    img.loading = "eager";
    try { await img.decode(); } catch (e) {}
    if (!img.complete || img.naturalWidth === 0) failed.push(img.getAttribute("src"));
  }));
  return failed;
}"""
VISIBLE_TEXT = """() => {
  const skip = "pre, code, script, style, textarea, .math, mjx-container";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (el && !el.closest(skip) && el.checkVisibility()) parts.push(n.textContent);
  }
  return parts.join(" ");
}"""


# A local web server for the built book, and the system's Chromium (Debian's `chromium` package) driven by
# Playwright, with every request that would leave this machine refused. Nothing downloads a browser.
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


def _toc_files() -> list[str]:
    files, stack = [TOC["root"]], list(TOC.get("chapters", [])) + list(TOC.get("parts", []))
    while stack:
        entry = stack.pop()
        files += [entry["file"]] if "file" in entry else []
        stack += entry.get("chapters", []) + entry.get("sections", [])
    return files


def expected_colab_url(page: str) -> str:
    """The launch link of a chapter: its notebook in the repository and branch that _config.yml names."""
    repo = urlsplit(CONFIG["repository"]["url"]).path.strip("/")
    branch = CONFIG["repository"].get("branch", "main")
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{page.removesuffix('.html')}.ipynb"


def is_chapter_notebook(page: str) -> bool:
    return (ROOT / page).with_suffix(".ipynb").exists()


def has_math(page: str) -> bool:
    return 'class="math' in (HTML / page).read_text(encoding="utf-8")


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


def broken_local_links(hrefs: list[str], book_url: str) -> list[str]:
    """Links into the book whose file, or whose #anchor in that file, does not exist."""
    broken = []
    for href in hrefs:
        if not href.startswith(book_url):
            continue
        parts = urlsplit(href)
        relative = unquote(parts.path)[1:]
        target = HTML / (relative + "index.html" if relative.endswith("/") or not relative else relative)
        if not target.is_file():
            broken.append(href)
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _anchors(target):
            broken.append(href)
    return broken


def test_every_page_of_the_table_of_contents_was_built():
    assert PAGES, f"no HTML pages in {HTML}: run `make book` first"
    missing = [f for f in _toc_files() if not (HTML / f"{f}.html").is_file()]
    assert not missing, f"pages in _toc.yml without HTML: {missing}"
    assert any(has_math(p) for p in PAGES), "no page has math: the typesetting check would check nothing"
    assert any(is_chapter_notebook(p) for p in PAGES), "no chapter notebook page: the Colab check would check nothing"


@pytest.mark.parametrize("page", PAGES)
def test_page_as_a_reader_sees_it(page, browser_context, book_url, blocked_requests):
    html = (HTML / page).read_text(encoding="utf-8")
    redirect = REDIRECT.search(html)
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    blocked_before = len(blocked_requests)
    try:
        tab.goto(book_url + page, wait_until="load")
        if redirect:  # index.html only forwards to the first page, which is checked on its own
            tab.wait_for_url(book_url + str(Path(page).parent / redirect.group(1)).removeprefix("./"))
            return
        math = tab.evaluate(WAIT_FOR_MATH)
        broken_images = tab.evaluate(DECODE_IMAGES)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=SCREENSHOTS / (page.removesuffix(".html").replace("/", "__") + ".png"), full_page=True)
        text = tab.evaluate(VISIBLE_TEXT)
        hrefs = tab.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    finally:
        tab.close()

    problems = [f"console error: {e}" for e in errors]
    problems += [f"request outside this machine (refused): {u}" for u in blocked_requests[blocked_before:]]
    problems += [f"image not decoded: {src}" for src in broken_images]
    problems += [f"raw markup {m!r} in the visible text" for m in RAW_MARKUP if m in text]
    if has_math(page):
        problems += [f"equation not typeset: {raw!r}" for raw in math["raw"]]
        problems += [f"MathJax error: {e!r}" for e in math["errors"]]
        problems += [] if math["count"] else ["the page's equations were not found in the browser"]
    colab = sorted({h for h in hrefs if h.startswith("https://colab.research.google.com")})
    if is_chapter_notebook(page):
        problems += [] if colab == [expected_colab_url(page)] else [f"Colab links {colab}, expected "
                                                                     f"[{expected_colab_url(page)}]"]
    else:
        problems += [f"Colab link on a page that is not a notebook: {h}" for h in colab]
    problems += [f"broken link: {h}" for h in broken_local_links(hrefs, book_url)]
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def test_search_finds_winning_ticket(browser_context, book_url):
    tab = browser_context.new_page()
    try:
        tab.goto(book_url + "search.html?q=winning+ticket", wait_until="load")
        tab.wait_for_function("() => document.querySelector('#search-results .search-summary')?.textContent",
                              timeout=30_000)  # the search has finished, with or without results
        found = tab.eval_on_selector_all("#search-results ul.search li a", "links => links.map(a => a.href)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=SCREENSHOTS / "search-winning-ticket.png", full_page=True)
    finally:
        tab.close()
    assert any("03_winning_tickets" in href for href in found), found
