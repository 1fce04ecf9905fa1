"""The built book, read in a real browser with no network.

Playwright drives Debian's Chromium (headless, launched by `executable_path`; nothing
is downloaded) against _build/html served on 127.0.0.1. Every request that would
leave 127.0.0.1 is aborted and counted as a failure, so the book must be complete
offline: MathJax, fonts, scripts and images all come from the built site.

For every page in _toc.yml: no console errors, no failed requests, the favicon the
page declares loads (and /favicon.ico, which browsers ask for regardless), every image
loaded with a real alt text, all math typeset by MathJax (no raw `$...$` or `\\(`
left, no MathJax errors), no empty glued numbers, on notebook pages a Colab launch
link to that very notebook, and no accessibility violation: axe-core (vendored in
tests/book/vendor/axe-core) runs its WCAG 2.0/2.1/2.2 level A and AA rules on the page,
less the one named in AXE_SKIPPED with its reason.
Search must find "dropout". With MLPCORE_SCREENSHOTS=1 (`make screenshots`) a
full-page screenshot of each page goes to _build/screenshots/ for people to look at;
they check nothing, and cost about a third of these tests' time, so CI takes none.

Without Chromium (or Playwright) these tests skip with a message saying what to
install; with MLPCORE_REQUIRE_BROWSER=1 (set by .ci/run) they fail instead. If
_build/html is missing or older than the book's sources it is built first
(`jupyter-book build .`, as `make book` does).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests._support import HTML, built_book, toc_pages

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "_build" / "screenshots"
REQUIRE_BROWSER = os.environ.get("MLPCORE_REQUIRE_BROWSER") == "1"
TAKE_SCREENSHOTS = os.environ.get("MLPCORE_SCREENSHOTS") == "1"

# Flags that work headless as root in a container; the last four keep Chromium from
# phoning home on its own (those requests would not be the book's fault).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
LOCAL_HOSTS = {"127.0.0.1"}


# ---------------------------------------------------------------- what to test

def load_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def expected_colab_url(page: str) -> str | None:
    """The Colab link a notebook page must carry (None for pages that are not notebooks)."""
    if not (ROOT / f"{page}.ipynb").exists():
        return None
    config = load_config()
    repo = config["repository"]
    org_repo = urlsplit(repo["url"]).path.strip("/").removesuffix(".git")
    book = str(repo.get("path_to_book", "") or "").strip("/")
    path = f"{book}/{page}.ipynb" if book else f"{page}.ipynb"
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{org_repo}/blob/{repo.get('branch', 'main')}/{path}"


PAGES = toc_pages()


# ---------------------------------------------------------------- the site

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def find_chromium() -> str | None:
    """MLPCORE_CHROMIUM if set, else the first Chromium/Chrome on PATH."""
    explicit = os.environ.get("MLPCORE_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def _unavailable(reason: str):
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason}. MLPCORE_REQUIRE_BROWSER=1, so the browser tests must run "
                    "(.ci/run installs Chromium with: apt-get install -y chromium).")
    pytest.skip(f"{reason}; browser tests skipped (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        _unavailable("No Chromium found (looked for MLPCORE_CHROMIUM, chromium, "
                     "chromium-browser, google-chrome on PATH)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -r requirements.txt -c constraints.txt)")
    built_book()
    with sync_playwright() as playwright:
        # executable_path: use the system's Chromium; `playwright install` would download one.
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site_url(browser):
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------- visiting a page

class Visit:
    """A page opened in its own browser context, with every problem it caused."""

    def __init__(self, browser, url: str):
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"JavaScript error: {exc}"))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def _only_local(self, route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.problems.append(f"request leaves the site (needs the network): {url}")
            route.abort("blockedbyclient")

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _request_failed(self, request):
        if urlsplit(request.url).hostname in LOCAL_HOSTS:
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def close(self):
        self.context.close()


# Text of the page's article, without code, scripts and typeset math.
ARTICLE_TEXT_JS = """() => {
  const root = document.querySelector('article') || document.querySelector('main') || document.body;
  const copy = root.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight')
      .forEach(node => node.remove());
  return copy.textContent;
}"""

IMAGES_JS = """async () => {
  window.scrollTo(0, document.body.scrollHeight);
  const images = Array.from(document.images);
  await Promise.all(images.map(img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  return images.map(img => ({src: img.getAttribute('src'), alt: img.getAttribute('alt'),
                              loaded: img.complete && img.naturalWidth > 0}));
}"""

MATH_JS = """async () => {
  const math = Array.from(document.querySelectorAll('.math'));
  if (math.length === 0) return {count: 0};
  const deadline = Date.now() + 20000;
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
    if (Date.now() > deadline) return {count: math.length, loaded: false};
    await new Promise(done => setTimeout(done, 100));
  }
  await MathJax.startup.promise;
  return {
    count: math.length, loaded: true,
    untypeset: math.filter(el => !el.querySelector('mjx-container'))
                   .map(el => el.textContent.trim().slice(0, 80)),
    errors: Array.from(document.querySelectorAll('mjx-merror'))
                 .map(el => el.getAttribute('data-mjx-error') || el.textContent),
  };
}"""

GLUE_JS = """() => Array.from(document.querySelectorAll(
    '.pasted-text, .pasted-inline, p span.output, li span.output, td span.output'))
  .map(el => el.textContent.trim())"""

FAVICON_JS = """() => Array.from(document.querySelectorAll('link[rel~="icon"]')).map(l => l.href)"""

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# WCAG 2.1 SC 2.5.3 (Label in Name): the theme's own search and colour-mode buttons and
# its page-contents links (pydata-sphinx-theme 0.17 templates, not the book's content)
# have aria-labels that do not contain their visible text. Every WCAG 2.0 A/AA rule runs.
AXE_SKIPPED = ["label-content-name-mismatch"]
AXE_JS = """async ([tags, skipped]) => {
  const rules = Object.fromEntries(skipped.map(id => [id, {enabled: false}]));
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, rules,
                                          resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.length, where: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""

RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\$[^$\s][^$]*?\$")
IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)


def favicon_problems(p) -> list[str]:
    """The icons the page declares, and /favicon.ico, must load as images. (Fetched
    through Playwright's request API: headless Chromium refuses a page's own fetch of
    /favicon.ico, and does not ask for icons by itself.)"""
    declared = p.evaluate(FAVICON_JS)
    problems = [] if declared else ["the page declares no favicon (<link rel=icon>)"]
    root = urlsplit(p.url)._replace(path="/favicon.ico", query="", fragment="").geturl()
    for url in declared + [root]:
        response = p.context.request.get(url)
        kind = response.headers.get("content-type", "")
        if response.status != 200 or not kind.startswith("image/"):
            problems.append(f"favicon {url} answered {response.status} {kind!r}")
    return problems


def accessibility_problems(p, skipped=AXE_SKIPPED) -> list[str]:
    p.add_script_tag(path=str(AXE))
    return [f"accessibility ({v['impact']}) {v['id']}: {v['help']}; {v['nodes']} element(s), "
            f"e.g. {v['where']}" for v in p.evaluate(AXE_JS, [AXE_TAGS, skipped])]


def save_screenshot(visit: Visit, name: str) -> None:
    """The whole page, from the top, in _build/screenshots/ (only with MLPCORE_SCREENSHOTS=1)."""
    if not TAKE_SCREENSHOTS:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visit.page.evaluate("() => window.scrollTo(0, 0)")  # sticky header back on top
    visit.page.screenshot(path=str(SCREENSHOTS / f"{name.replace('/', '__')}.png"), full_page=True)


def check_page(visit: Visit, page: str, axe_skipped=AXE_SKIPPED) -> list[str]:
    problems = list(visit.problems)
    p = visit.page
    problems += favicon_problems(p)

    for image in p.evaluate(IMAGES_JS):
        if not image["loaded"]:
            problems.append(f"image did not load: {image['src']}")
        alt = (image["alt"] or "").strip()
        # docutils falls back to the file name when a figure has no alt text.
        if not alt or IMAGE_FILE.search(alt) or alt == image["src"]:
            problems.append(f"image without alt text (say what it shows): {image['src']} alt={alt!r}")

    math = p.evaluate(MATH_JS)
    if math["count"]:
        if not math["loaded"]:
            problems.append(f"MathJax never loaded, {math['count']} formulas left as raw TeX")
        else:
            problems += [f"formula not typeset by MathJax: {tex!r}" for tex in math["untypeset"]]
            problems += [f"MathJax error: {error}" for error in math["errors"]]
    for raw in sorted(set(RAW_MATH.findall(p.evaluate(ARTICLE_TEXT_JS)))):
        problems.append(f"raw math delimiter left in the text: {raw!r}")

    if any(not text for text in p.evaluate(GLUE_JS)):
        problems.append("an empty glued value (a number the prose quotes is missing)")

    expected = expected_colab_url(page)
    colab = p.eval_on_selector_all('a[href*="colab.research.google.com"]',
                                   "links => links.map(a => a.href)")
    if expected is not None and colab != [expected]:
        problems.append(f"Colab launch link should be {expected}, found {colab}")
    if expected is None and colab:
        problems.append(f"page is not a notebook but has Colab links {colab}")
    problems += accessibility_problems(p, axe_skipped)
    return problems


# ---------------------------------------------------------------- the tests

@pytest.mark.parametrize("page", PAGES)
def test_page_reads_offline(page, browser, site_url):
    assert (HTML / f"{page}.html").exists(), f"{page}.html was not built; is it in _toc.yml?"
    visit = Visit(browser, f"{site_url}/{page}.html")
    try:
        problems = check_page(visit, page)
        save_screenshot(visit, page)
    finally:
        visit.close()
    assert not problems, f"{page}.html:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("query, expected_page", [("dropout", "book/glossary"),
                                                   ("权重衰减", "book/glossary")])
def test_search_finds(query, expected_page, browser, site_url):
    visit = Visit(browser, f"{site_url}/search.html?q={query}")
    try:
        visit.page.wait_for_selector("#search-results ul.search li a", timeout=15000)
        links = visit.page.eval_on_selector_all("#search-results ul.search li a",
                                                "links => links.map(a => a.href)")
        problems = visit.problems
    finally:
        visit.close()
    assert not problems, "search page:\n  " + "\n  ".join(problems)
    assert any(f"/{expected_page}.html" in link for link in links), \
        f"searching {query!r} should find {expected_page}; found {links}"


def test_site_root_opens_the_intro(browser, site_url):
    visit = Visit(browser, f"{site_url}/index.html")
    try:
        visit.page.wait_for_url(f"**/{PAGES[0]}.html", timeout=10000)
    finally:
        visit.close()


def test_every_built_page_is_tested(browser):
    """A page built but missing from PAGES would escape the checks above."""
    built = {str(p.relative_to(HTML).with_suffix("")) for p in (HTML / "book").rglob("*.html")}
    assert built <= set(PAGES), f"built pages not in _toc.yml: {sorted(built - set(PAGES))}"
