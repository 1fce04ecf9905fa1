"""The Chinese book (_build/html/zh) in a real browser with no network: every check of
tests/book/test_browser.py (console errors, offline requests, favicon, images and alt text,
MathJax, glued values, the Colab link, axe-core accessibility less colour contrast), with
the Colab link on the Chinese edition's branch; and on the pages of both books, Chinese
text drawn with a CJK font (no tofu: Chromium reports the platform font it used for the
text, which must be one fontconfig lists for Chinese; .ci/run installs
fonts-wqy-microhei). Search on
the Chinese site finds a word that only Chinese segmentation can find (衰减, a part of
权重衰减); each Chinese page's language switch leads to the same English page, whose
switch leads back.
"""
from __future__ import annotations

import subprocess

import pytest

from booktools.i18n_build import english_config, zh_branch
from tests.book import test_browser
from tests.book.test_browser import (PAGES, Visit, browser, check_page,  # noqa: F401 (fixtures)
                                     site_url)
from tests.book.test_translation_build import built_zh_book

# Colour contrast depends on the theme's colours and the text's size and weight, which the
# two books share page for page; the English pages are checked for it, and it is nearly
# half of axe's time on a chapter.
ZH_AXE_SKIPPED = test_browser.AXE_SKIPPED + ["color-contrast"]

FIND_CJK_JS = r"""() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (/[\u4e00-\u9fff]/.test(node.nodeValue) && el && el.offsetParent !== null
        && el.getClientRects().length) {
      el.setAttribute('data-cjk-probe', '1');
      return node.nodeValue.trim().slice(0, 30);
    }
  }
  return null;
}"""


def cjk_families() -> set[str]:
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {name.strip() for line in out.splitlines() for name in line.split(",") if name.strip()}


def tofu_problems(visit: Visit) -> list[str]:
    """The first visible Chinese text of the page must be drawn with a font that has
    Chinese glyphs."""
    text = visit.page.evaluate(FIND_CJK_JS)
    if text is None:
        return ["no visible Chinese text on the page"]
    cdp = visit.context.new_cdp_session(visit.page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "[data-cjk-probe]"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    families = cjk_families()
    if not families:
        return ["fontconfig lists no font for Chinese (apt-get install fonts-wqy-microhei)"]
    if not any(f["familyName"] in families and f["glyphCount"] > 0 for f in fonts):
        return [f"Chinese text {text!r} drawn with {[f['familyName'] for f in fonts]}, none of "
                f"which has Chinese glyphs (tofu)"]
    return []


def zh_colab_url(page: str) -> str | None:
    url = ORIGINAL_COLAB_URL(page)
    if url is None:
        return None
    branch = english_config()["repository"].get("branch", "main")
    return url.replace(f"/blob/{branch}/", f"/blob/{zh_branch(english_config())}/")


ORIGINAL_COLAB_URL = test_browser.expected_colab_url


@pytest.fixture(scope="module", autouse=True)
def chinese_book_built(browser):  # noqa: F811
    """The Chinese book, built as `make book` does if missing or stale."""
    built_zh_book()


SWITCH = "nav.mlp-language-switch a"


def switch_problems(visit: Visit, site_url: str, page: str) -> list[str]:
    """Click the Chinese page's language switch: it must lead to the same page in English,
    whose own switch (中文, drawn without tofu) leads back."""
    before = len(visit.problems)
    visit.page.click(SWITCH)
    # "load", not "networkidle": a big page can take long on a busy machine, and the
    # English pages are tested on their own in test_browser.py
    visit.page.wait_for_url(f"{site_url}/{page}.html", wait_until="load", timeout=60000)
    back = visit.page.eval_on_selector(SWITCH, "a => a.href")
    problems = [] if back == f"{site_url}/zh/{page}.html" else [
        f"the English page's language switch leads to {back}, not to zh/{page}.html"]
    # a request of the page being left is aborted when the next one commits (seen once
    # for a favicon in CI); that is the navigation, not a broken link
    problems += [p for p in visit.problems[before:] if "(net::ERR_ABORTED)" not in p]
    return problems + tofu_problems(visit)


@pytest.mark.parametrize("page", PAGES)
def test_chinese_page_reads_offline(page, browser, site_url, monkeypatch):  # noqa: F811
    monkeypatch.setattr(test_browser, "expected_colab_url", zh_colab_url)
    visit = Visit(browser, f"{site_url}/zh/{page}.html")
    try:
        problems = check_page(visit, page, ZH_AXE_SKIPPED) + tofu_problems(visit)
        test_browser.save_screenshot(visit, f"zh/{page}")
        problems += switch_problems(visit, site_url, page)
    finally:
        visit.close()
    assert not problems, f"zh/{page}.html:\n  " + "\n  ".join(problems)


def test_chinese_search_finds_a_part_of_a_chinese_word(browser, site_url):  # noqa: F811
    visit = Visit(browser, f"{site_url}/zh/search.html?q=衰减")
    try:
        visit.page.wait_for_selector("#search-results ul.search li a", timeout=15000)
        links = visit.page.eval_on_selector_all("#search-results ul.search li a",
                                                "links => links.map(a => a.href)")
        problems = visit.problems
    finally:
        visit.close()
    assert not problems, "search page:\n  " + "\n  ".join(problems)
    assert any("/zh/book/glossary.html" in link for link in links), links
