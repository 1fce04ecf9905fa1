"""The two built books side by side (`make book`: _build/html and _build/html/zh, and the
notebook editions _build/edition and _build/edition-zh): the same glued numbers, a
language switch on every page, a Chinese interface and a search index that splits
Chinese words, and a Chinese notebook edition whose code is the English edition's."""
import html
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from booktools import i18n
from booktools.i18n_glue import glue_table, translate_glue_outputs
from booktools.i18n_build import EDITION_ZH, HTML_ZH, SRC, english_config, zh_branch
from booktools.i18n_sphinx import SET_LANGUAGE
from tests._support import HTML, built_book, toc_pages

ROOT = i18n.ROOT
EDITION = ROOT / "_build" / "edition"
PAGES = toc_pages()
CHAPTERS = [p for p in PAGES if (ROOT / f"{p}.ipynb").exists()]


def _inputs() -> list[Path]:
    files = [ROOT / "_config.yml", ROOT / "_toc.yml"]
    for folder in ("book", "tools", "mlpcore", "locale", "booktools"):
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file()
                  and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts]
    return files


def built_zh_book() -> tuple[Path, Path]:
    """(English html, Chinese html): both built first if missing or stale, as `make book`."""
    built_book()
    stamp = HTML_ZH / "searchindex.js"
    newest = max(p.stat().st_mtime for p in _inputs())
    if not stamp.exists() or stamp.stat().st_mtime < newest or not EDITION_ZH.exists():
        result = subprocess.run([sys.executable, "-m", "booktools.i18n", "build"], cwd=ROOT,
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail("Could not build the Chinese book (python -m booktools.i18n build):\n"
                        + (result.stdout + result.stderr)[-3000:])
    return HTML, HTML_ZH


@pytest.fixture(scope="module")
def books():
    return built_zh_book()


GLUED = re.compile(r'<span class="pasted-(?:text|inline)">(.*?)</span>', re.S)


def _glued_value(shown: str) -> str:
    """A glued value as the notebook stores it (Sphinx shows ' as a curly quote)."""
    return html.unescape(shown).replace("\u2019", "'")


@pytest.mark.parametrize("page", PAGES)
def test_glued_numbers_are_the_same_in_both_books(books, page):
    """Each page quotes the same glued values, as often, in both languages (their order
    may differ: a translation may reorder a sentence); a glued phrase is quoted in its
    Chinese form (glue.po), which the check allows to quote only the English numbers."""
    english, chinese = (Counter(_glued_value(v) for v in GLUED.findall(
        (root / f"{page}.html").read_text(encoding="utf-8"))) for root in books)
    phrases = {value: chinese for (context, value), chinese in glue_table().items()
               if context.startswith(f"{Path(page).name}:")}
    english = Counter([phrases.get(value, value) for value in english.elements()])
    assert english == chinese, (f"{page}: glued values differ; only in English: "
                                f"{dict(english - chinese)}, only in Chinese: {dict(chinese - english)}")


@pytest.mark.parametrize("page", CHAPTERS)
def test_chinese_notebooks_store_the_english_code_and_glue_outputs(books, page):
    """The Chinese book was built from notebooks whose code cells, outputs and glued
    values are the English ones, but for the glued phrases, which are glue.po's."""
    english = json.loads((ROOT / f"{page}.ipynb").read_text(encoding="utf-8"))
    chinese = json.loads((SRC / f"{page}.ipynb").read_text(encoding="utf-8"))
    translate_glue_outputs(english, Path(page).name, glue_table())  # the phrases, as glue.po says
    code = [[{k: v for k, v in c.items() if k != "metadata"} for c in nb["cells"]
             if c["cell_type"] == "code"] for nb in (english, chinese)]
    assert code[0] == code[1]
    glued = [[o for c in nb["cells"] for o in c.get("outputs", [])
              if o.get("metadata", {}).get("scrapbook")] for nb in (english, chinese)]
    assert glued[0] and glued[0] == glued[1]


@pytest.mark.parametrize("page", PAGES)
def test_language_switch_on_every_page(books, page):
    """English page -> zh/<page>.html and back, both existing files."""
    for here, there, label in ((HTML, HTML_ZH, "中文"), (HTML_ZH, HTML, "English")):
        source = here / f"{page}.html"
        html = source.read_text(encoding="utf-8")
        links = re.findall(r'<nav class="mlp-language-switch"[^>]*><a href="([^"]+)"[^>]*>'
                           + label + "</a></nav>", html)
        assert len(links) == 1, f"{source.relative_to(ROOT)}: no single language switch"
        target = (source.parent / links[0]).resolve()
        assert target == (there / f"{page}.html").resolve() and target.exists(), \
            f"{source.relative_to(ROOT)}: the switch goes to {links[0]}"


def test_chinese_book_speaks_chinese(books):
    html = (HTML_ZH / "book" / "intro.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in html
    assert "搜索" in html, "Sphinx's and the theme's interface strings should be Chinese"
    assert (HTML_ZH / "_static" / "translations.js").exists()


def _search_index(root: Path) -> dict:
    text = (root / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def _jieba_words(text: str) -> list[str]:
    import jieba
    for pattern in (i18n._TERM_ROLE, i18n._ROLE, i18n._DOLLAR, i18n._CODE):
        text = pattern.sub(" ", text)
    return [w for w in jieba.cut_for_search(text) if re.fullmatch(r"[\u4e00-\u9fff]{2,}", w)]


def test_search_splits_chinese_words(books):
    """The glossary's Chinese names are found by their parts in the Chinese book (jieba
    cuts 权重衰减 into 权重 and 衰减), where the English index only has whole runs."""
    zh, en = _search_index(HTML_ZH), _search_index(HTML)
    glossary = zh["docnames"].index("book/glossary")
    for word in ("衰减", "权重", "暂退法", "梯度"):
        found = zh["terms"].get(word)
        assert found is not None and glossary in (found if isinstance(found, list) else [found]), word
    assert "衰减" not in en["terms"]


def test_search_finds_words_of_the_translations(books):
    """A Chinese word of each translated page's translations is in the Chinese index,
    under that page (skipped for pages with no translation yet)."""
    zh = _search_index(HTML_ZH)
    checked = 0
    for page in i18n.pages():
        table = i18n.translations_of(i18n.page_name(page))
        words = [w for msgstr in list(table.values())[:20] for w in _jieba_words(msgstr)]
        if not words:
            continue
        doc = zh["docnames"].index(page.with_suffix("").as_posix())
        hits = [w for w in words if doc in (lambda f: f if isinstance(f, list) else [f])(
            zh["terms"].get(w, []))]
        assert hits, f"{page}: none of {words[:10]} is in the Chinese search index"
        checked += 1
    if not checked:
        pytest.skip("no page has translations yet (test_search_splits_chinese_words covers jieba)")


@pytest.mark.parametrize("page", CHAPTERS)
def test_chinese_edition_is_the_english_one_in_chinese(books, page):
    """Code cells and outputs as in the English edition, except: the glued phrases are
    glue.po's; the install cell sets
    check()'s language, and each check cell stores what check() prints in Chinese for
    the stub. Same cells in the same order; a launch button that opens this notebook on
    the Chinese edition's branch."""
    from mlpcore.exercises import _i18n
    from mlpcore.exercises._runner import ExerciseResult
    english = nbformat.read(EDITION / f"{page}.ipynb", as_version=4)
    chinese = nbformat.read(EDITION_ZH / f"{page}.ipynb", as_version=4)
    translate_glue_outputs(english, Path(page).name, glue_table())  # glue.po's phrases
    assert [c.cell_type for c in english.cells] == [c.cell_type for c in chinese.cells]
    line = SET_LANGUAGE.format(language="zh_CN")
    assert chinese.cells[0].source == english.cells[0].source + "\n" + line
    _i18n.set_language("zh_CN")
    try:
        for index, (e, z) in enumerate(zip(english.cells[1:], chinese.cells[1:]), start=1):
            if e.cell_type != "code":
                continue
            assert e.source == z.source, f"{page} cell {index}: code differs"
            if "exercise-check" in e.metadata.get("tags", []):
                exercise = e.outputs[0]["text"].split(":")[0]
                stub = ExerciseResult(exercise, "not_attempted", 0, 0)
                assert [o["text"] for o in z.outputs] == [stub.summary() + "\n"]
            else:
                assert e.outputs == z.outputs, f"{page} cell {index}: outputs differ"
    finally:
        _i18n.set_language(None)
    markdown = "\n".join(c.source for c in chinese.cells if c.cell_type == "markdown")
    assert "一章的笔记本版本" in markdown and "The notebook edition of a chapter" not in markdown
    assert "Reference solution" not in markdown
    html = (HTML_ZH / f"{page}.html").read_text(encoding="utf-8")
    branch = zh_branch(english_config())
    assert f"/blob/{branch}/{page}.ipynb" in html


def test_make_book_builds_both(books):
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    book = makefile.split("\nbook:", 1)[1].split("\n\n", 1)[0]
    strict = makefile.split("\nbuild-strict:", 1)[1].split("\n\n", 1)[0]
    assert "booktools.i18n build" in book and "booktools.i18n build --strict" in strict
