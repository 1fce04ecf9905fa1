"""Sphinx extension of both books (English and Chinese): the language switch, and the
Chinese notebook edition's two differences.

Loaded from _config.yml (``sphinx.local_extensions``) by the English build and from the
generated config of the Chinese one (booktools/i18n_build.py).

- Every page of the table of contents starts with a link to the same page in the other
  language: a ``<nav>`` landmark labelled for screen readers, the link's ``lang`` and
  ``hreflang`` set, plain HTML (no script, works offline); and a ``<link rel=alternate
  hreflang>`` in the head. ``i18n_other_root`` is where the other book's root is,
  relative to this book's root ("zh/" from the English book, "../" from the Chinese).
- In the Chinese build (``i18n_language`` = "zh_CN"): check()'s output is Chinese while
  the edition is built (``mlpcore.exercises.set_language``), so the stored "not
  attempted yet" line of every check cell is the one the learner's kernel prints; and
  after booktools/notebook_edition.py has written the edition, its first cell (the install
  cell, already the edition's own) gets one more line that sets the language, and the
  edition's own two English phrases (its note under the title, the "Reference solution"
  summary) are Chinese, in ``_build/edition-zh`` and in the pages' downloads
  (``_sources``).
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

SET_LANGUAGE = ('\n# 本版本的 check() 用中文输出（没有译文的部分保持英文）。\n'
                'from mlpcore import exercises; exercises.set_language("{language}")')
LABELS = {"zh_CN": ("中文", "zh-CN", "本页的中文版"), "en": ("English", "en", "This page in English")}


def other_language(config) -> str:
    return "en" if (config.i18n_language or "en") != "en" else "zh_CN"


def language_switch(app, pagename, templatename, context, doctree) -> None:
    if doctree is None or not app.config.i18n_other_root:
        return
    target = other_language(app.config)
    label, lang, title = LABELS[target]
    href = "../" * pagename.count("/") + app.config.i18n_other_root + pagename + ".html"
    here = "语言" if app.config.i18n_language == "zh_CN" else "Language"
    link = (f'<nav class="mlp-language-switch" aria-label="{here}" '
            f'style="text-align:right;font-size:0.9em;margin-bottom:0.5em">'
            f'<a href="{html.escape(href)}" hreflang="{lang}" lang="{lang}" '
            f'title="{html.escape(title)}">{label}</a></nav>\n')
    context["body"] = link + context.get("body", "")
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{lang}" href="{html.escape(href)}" />')


def chinese_check_output(app) -> None:
    if app.config.i18n_language and app.config.i18n_language != "en":
        from mlpcore.exercises import set_language
        set_language(app.config.i18n_language)


#: The edition's own English phrases (booktools/notebook_edition.py's EDITION_NOTE and
#: solution_cell), in Chinese: (pattern, replacement). Unmatched text stays as it is.
EDITION_PHRASES = [
    (re.compile(r"\*The notebook edition of a chapter of \[(?P<title>[^\]]*)\]\((?P<book>[^)]*)\), "
                r"for Jupyter and Colab\. \[The same chapter in the book\]\((?P<page>[^)]*)\) "
                r"hides the cells that check its claims\.\*"),
     r"*[\g<title>](\g<book>)一章的笔记本版本，供 Jupyter 和 Colab 使用。"
     r"[书中的同一章](\g<page>)隐藏了记录数字、检验论断的单元格。*"),
    (re.compile(r"<summary><b>Reference solution</b> of <code>(?P<id>[^<]*)</code> "
                r"\(open it after your own attempt\)</summary>"),
     r"<summary><b>参考答案</b>：<code>\g<id></code>（请先自己完成再打开）</summary>"),
]


def set_language_in_edition(app, exception) -> None:
    """After the edition is written (build-finished, after notebook_edition's handler):
    the install cell of every chapter of the edition sets check()'s language."""
    language = app.config.i18n_language
    if exception is not None or app.builder.name != "html" or not language or language == "en":
        return
    edition = Path(app.config.notebook_edition_dir or Path(app.outdir).parent / "edition")
    line = SET_LANGUAGE.format(language=language)
    for docname in sorted(app.env.found_docs):
        if not Path(app.env.doc2path(docname)).suffix == ".ipynb":
            continue
        for path in (edition / f"{docname}.ipynb", Path(app.outdir) / "_sources" / f"{docname}.ipynb"):
            if not path.exists():
                continue
            nb = nbformat.read(path, as_version=4)
            first = nb.cells[0]
            if first.cell_type == "code" and line not in first.source:
                first.source = first.source + "\n" + line
            for cell in nb.cells:
                if cell.cell_type == "markdown":
                    for pattern, replacement in EDITION_PHRASES:
                        cell.source = pattern.sub(replacement, cell.source)
            nbformat.write(nb, path)


class _Terms(set):
    """A set that SearchChinese.split can ``extend``."""
    def extend(self, items):
        self.update(items)


def fast_chinese_search() -> None:
    """Sphinx 7.4's Chinese search (sphinx.search.zh.SearchChinese) keeps every Latin
    word of the whole book in a list and looks each word up in it while stemming:
    quadratic, about 25 s of CPU for this book (its prose, code and tables have some
    400,000 Latin words). The same rule with a set: the same index, in linear time."""
    from sphinx import search
    from sphinx.search.zh import SearchChinese

    class SetSearchChinese(SearchChinese):
        def init(self, options):
            super().init(options)
            self.latin_terms = _Terms()

        def stem(self, word):
            lower = word.lower()
            stemmed = self.stemmer.stemWord(lower)
            if len(word) >= 3 and len(stemmed) < 3 and word in self.latin_terms:
                return lower
            return stemmed

    search.languages["zh"] = SetSearchChinese


def setup(app):
    app.add_config_value("i18n_language", "en", "env", [str])
    app.add_config_value("i18n_other_root", "", "html", [str])
    app.connect("builder-inited", chinese_check_output)
    fast_chinese_search()
    app.connect("html-page-context", language_switch)
    app.connect("build-finished", set_language_in_edition, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
