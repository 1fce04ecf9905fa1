"""The Chinese edition's machinery (booktools/i18n.py, locale/README.md): how pages are cut
into catalogue entries, that applying a catalogue changes the prose and nothing else, and
the translator's format check."""
import json

import polib
import pytest

from booktools import i18n
from booktools.i18n import format_errors
from booktools.i18n_messages import message_entries, template_errors


@pytest.fixture(scope="module")
def page_blocks():
    """{page: [msgid, ...] in order} for every page of the book."""
    return {p: [b.msgid for u in i18n.read_units(p) for b in u.blocks] for p in i18n.pages()}


def _apply(tmp_path, page_blocks, translate):
    tables = {i18n.page_name(p): {m: translate(m) for m in ids} for p, ids in page_blocks.items()}
    i18n.apply(tmp_path, tables=tables, quiet=True)
    return tmp_path


def test_every_page_has_entries(page_blocks):
    assert {p.as_posix() for p in page_blocks} >= {
        "book/intro.md", "book/glossary.md", "book/references.md", "book/robustness.md",
        "book/api.md", "book/00_mlp_in_numpy.ipynb"}
    for page, ids in page_blocks.items():
        assert ids, f"{page}: no translatable block found"


def test_identity_catalogue_reproduces_every_source_byte_for_byte(tmp_path, page_blocks):
    out = _apply(tmp_path, page_blocks, lambda m: m)
    for page in page_blocks:
        assert (out / page).read_bytes() == (i18n.ROOT / page).read_bytes(), page


def test_notebook_writer_is_nbformats(page_blocks):
    """apply re-serialises a translated notebook: it must write what nbformat writes, so
    that the code cells and outputs are byte-identical, not just equal."""
    for page in page_blocks:
        if page.suffix == ".ipynb":
            raw = (i18n.ROOT / page).read_text(encoding="utf-8")
            assert i18n.dump_notebook(json.loads(raw)) == raw, page


def test_dummy_translation_changes_every_block_and_nothing_else(tmp_path, page_blocks):
    out = _apply(tmp_path, page_blocks, lambda m: "ZH " + m)
    for page, ids in page_blocks.items():
        if page.suffix == ".ipynb":
            english = json.loads((i18n.ROOT / page).read_text(encoding="utf-8"))
            chinese = json.loads((out / page).read_text(encoding="utf-8"))
            assert english["metadata"] == chinese["metadata"]
            assert len(english["cells"]) == len(chinese["cells"])
            again = []
            for e, z in zip(english["cells"], chinese["cells"]):
                if e["cell_type"] != "markdown":
                    # the source and outputs as they were; only the figure's alt text
                    # and caption in the metadata are prose
                    assert {k: v for k, v in e.items() if k != "metadata"} == \
                        {k: v for k, v in z.items() if k != "metadata"}, \
                        f"{page}: a code cell or its outputs changed"
                    texts = dict(i18n._figure_texts(e))
                    for kind, text in i18n._figure_texts(z):
                        assert text == "ZH " + texts[kind]
                        again.append(text)
                    strip = lambda c: json.dumps(c["metadata"]).replace("ZH ", "")  # noqa: E731
                    assert strip(e) == strip(z)
                else:
                    assert {k: v for k, v in e.items() if k != "source"} == \
                        {k: v for k, v in z.items() if k != "source"}
                    again.extend(b.msgid for b in i18n.blocks("".join(z["source"])))
        else:
            again = [b.msgid for b in i18n.blocks((out / page).read_text(encoding="utf-8"))]
        assert again == ["ZH " + m for m in ids], f"{page}: a block was not replaced in place"


SAMPLE = """\
# A title

A paragraph with {glue:text}`x` and $a^2$
on two lines.

1. First item,
   continued.
2. {glue:text}`only_a_number`

| name | value |
|---|---|
| the loss | 3.5 |

```{note}
:class: dropdown
Inside a **note**.
```

:::{admonition} A title to translate
Body of the admonition.
:::

```{figure} path/to/x.png
:alt: Not translated here.

The caption.
```

```{glossary}
weight decay
权重衰减
  The definition.
```

```python
x = "code is never translated"
```

$$
y = x
$$

(a-label)=
> A quoted paragraph.
"""


def test_cutting_rules():
    found = i18n.blocks(SAMPLE)
    assert [b.msgid for b in found] == [
        "A title",
        "A paragraph with {glue:text}`x` and $a^2$\non two lines.",
        "First item,\ncontinued.",
        "name", "value", "the loss",
        "Inside a **note**.",
        "A title to translate",
        "Body of the admonition.",
        "The caption.",
        "The definition.",
        "A quoted paragraph.",
    ]
    assert [b.kind for b in found][:6] == ["heading", "paragraph", "paragraph",
                                           "table cell", "table cell", "table cell"]
    table = {b.msgid: "中" + b.msgid.replace("\n", "\n中") for b in found}
    out = i18n.replace_blocks(SAMPLE, dict(enumerate(table[b.msgid] for b in found)), found)
    assert "1. 中First item,\n   中continued." in out
    assert "| 中the loss | 3.5 |" in out
    assert ":alt: Not translated here." in out and 'x = "code is never translated"' in out
    assert "weight decay\n权重衰减\n  中The definition." in out
    assert "> 中A quoted paragraph." in out
    # a longer translation of a list item keeps its indentation, a table cell one line
    one = {i: "a\nb\nc" for i, b in enumerate(found)
           if b.msgid in ("First item,\ncontinued.", "the loss")}
    out = i18n.replace_blocks(SAMPLE, one, found)
    assert "1. a\n   b\n   c\n2." in out and "| a b c | 3.5 |" in out


def test_format_check_accepts_a_faithful_translation():
    msgid = ("With {term}`weight decay` ({term}`Weight decay <weight decay>`) the loss is "
             "{glue:text}`loss` at $\\lambda = 0.1$; see {doc}`02_dropout`, `SGD` and "
             "[the paper](https://example.org/p) {cite:p}`krogh1991simple`.")
    msgstr = ("使用{term}`权重衰减 <weight decay>`（{term}`weight decay`）时，在 "
              "$\\lambda = 0.1$ 处损失为 {glue:text}`loss`；参见 {doc}`02_dropout`、`SGD` 和"
              "[论文](https://example.org/p) {cite:p}`krogh1991simple`。")
    assert i18n.format_errors(msgid, msgstr) == []


@pytest.mark.parametrize("broken, what", [
    ("损失为 {glue:text}`los`。", "role '{glue:text}`loss`' missing"),
    ("损失为 {glue:text}`loss`，$\\lambda=0.1$。", "math '$\\\\lambda = 0.1$' missing"),
    ("{term}`权重衰减` {glue:text}`loss` $\\lambda = 0.1$", "term 'weight decay' missing"),
    ("{glue:text}`loss` $\\lambda = 0.1$ {term}`weight decay` SGD", "code '`SGD`' missing"),
])
def test_format_check_names_what_a_translation_lost(broken, what):
    msgid = "With {term}`weight decay` the loss is {glue:text}`loss` at $\\lambda = 0.1$ (`SGD`)."
    assert what in i18n.format_errors(msgid, broken)


def test_format_check_finds_emphasis_that_does_not_parse():
    """CommonMark's flanking rules: a closing ** after full-width punctuation and before
    a character does not close, and the reader sees the asterisks."""
    msgid = "**The one-sentence version:** a multilayer perceptron with *enough* capacity"
    assert i18n.format_errors(msgid, "**一句话版本**：具有*足够*容量的多层感知机") == []
    errors = i18n.format_errors(msgid, "**一句话版本：**具有*足够*容量的多层感知机")
    assert errors and errors[0].startswith("markup: the English has 1 bold, 1 italic, "
                                           "the translation 1 italic")


def test_format_check_one_line_blocks():
    assert i18n.format_errors("the loss", "损失\n函数", single_line=True)
    assert i18n.format_errors("the loss", "损失 | 函数", single_line=True)


def _catalogue(entries):
    po = i18n.new_catalogue("a test")
    for msgid, msgstr in entries:
        po.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
    return po


def test_reextraction_keeps_translations_marks_changed_ones_fuzzy_and_drops_gone_ones():
    old = _catalogue([
        ("The training loss keeps falling while the held-out loss rises.", "训练损失持续下降，而留出损失上升。"),
        ("A heading", "一个标题"),
        ("A paragraph that was removed from the page entirely, long ago.", "一段被删除的文字。"),
    ])
    new = i18n.merge(i18n.new_catalogue("a test"), old, [
        ("A heading", [("book/x.md", "1")], [], set()),
        ("The training loss keeps falling while the held-out loss rises a lot.", [("book/x.md", "3")], [], set()),
        ("Something new.", [("book/x.md", "5")], [], set()),
    ])
    by_id = {e.msgid: e for e in new if not e.obsolete}
    assert by_id["A heading"].msgstr == "一个标题" and not by_id["A heading"].fuzzy
    changed = by_id["The training loss keeps falling while the held-out loss rises a lot."]
    assert changed.fuzzy and changed.previous_msgid.startswith("The training loss")
    assert by_id["Something new."].msgstr == ""
    assert [e.msgid for e in new.obsolete_entries()] == [
        "The training loss keeps falling while the held-out loss rises.",
        "A paragraph that was removed from the page entirely, long ago."]


def test_extracted_catalogue_is_deterministic(tmp_path):
    """Two extractions of the same page give the same file (no dates in the header)."""
    entries, _ = i18n.page_entries(i18n.Path("book/intro.md"))
    texts = []
    for _ in range(2):
        po = i18n.merge(i18n.new_catalogue("x"), None, entries)
        texts.append(str(po))
    assert texts[0] == texts[1] and "Creation-Date" not in texts[0]


def test_mlpcore_messages_are_extracted_with_their_templates():
    from mlpcore.exercises import _runner
    entries = {m: flags for m, _, _, flags in message_entries()}
    assert _runner.NOT_ATTEMPTED in entries
    assert "all cases pass" in entries
    assert entries["your function changed its input `{changed}` in place"] == {"python-brace-format"}
    # not for learners: docstrings, regular expressions, raise messages
    assert not any(m.startswith("The registry of graded exercises") for m in entries)
    assert "name '(\\w+)' is not defined" not in entries


def test_mlpcore_template_check():
    msgid = "{label}: expected {preview(expected)}, got {preview(array)}; max abs error {error:.3g}"
    good = "{label}：应为 {preview(expected)}，得到 {preview(array)}；最大绝对误差 {error:.3g}"
    assert template_errors(msgid, good) == []
    assert template_errors(msgid, good.replace("{error:.3g}", "{error}")) == [
        "field {error:.3g} missing", "field {error} not in the English"]
    assert "a single { or } (write {{ or }} for a literal brace)" in template_errors(
        msgid, good + " {")
    assert template_errors("use `x.copy()`", "使用 x.copy()", brace_format=False)


# ---------------------------------------------------------------- never stale

#: THE STRICTNESS SWITCH. True: `make test` fails while any English block of any page
#: (or any check() message) lacks a finished Chinese translation (missing or fuzzy).
#: False while the translation is being written: then only the catalogues' being in step
#: with the English (every block has an entry: run `python -m booktools.i18n extract`)
#: and the format of the translations that exist are enforced.
REQUIRE_COMPLETE_TRANSLATION = True

ALWAYS = {"not in catalogue", "no catalogue", "format"}


@pytest.mark.parametrize("name", i18n.catalogue_names())
def test_catalogue_is_not_stale(name):
    """Every English block has an entry, and (with REQUIRE_COMPLETE_TRANSLATION) a
    translation that is not fuzzy and passes the format check; named by page and first
    words, as `python -m booktools.i18n check` prints them."""
    problems = [p for p in i18n.check_page(name)
                if REQUIRE_COMPLETE_TRANSLATION or p.status in ALWAYS]
    shown = "\n  ".join(str(p) for p in problems[:25])
    more = f"\n  ... and {len(problems) - 25} more" if len(problems) > 25 else ""
    if problems:
        pytest.fail(f"{len(problems)} stale or untranslated entries in "
                    f"{i18n.catalogue_path(name).relative_to(i18n.ROOT)} "
                    f"(python -m booktools.i18n check {name}):\n  {shown}{more}", pytrace=False)


def test_staleness_is_detected(tmp_path, monkeypatch):
    """An English paragraph that changes makes its entry 'not in catalogue' until extract
    runs, then fuzzy; a translation that drops a glued number fails the format check."""
    page = i18n.Path("book/references.md")
    text = (i18n.ROOT / page).read_text(encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE", tmp_path)
    entries, _ = i18n.page_entries(page)
    po = i18n.merge(i18n.new_catalogue("x"), None, entries)
    for e in po:
        e.msgstr = "参考文献" if e.msgid == "References" else "原始论文 " + e.msgid
    po.save(str(tmp_path / "references.po"))
    assert i18n.check_page("references") == []
    changed = text.replace("two textbooks to read", "three textbooks to read")
    monkeypatch.setattr(i18n, "read_units", lambda p, warn=None: [
        i18n.Unit(0, changed, i18n.blocks(changed))])
    stale = i18n.check_page("references")
    assert [p.status for p in stale] == ["not in catalogue"]
    assert str(stale[0]).startswith("references [book/references.md:3] not in catalogue") and \
        '"The original papers behind each idea' in str(stale[0])
    i18n.extract_page(page)
    assert [p.status for p in i18n.check_page("references")] == ["fuzzy"]
    po = polib.pofile(str(tmp_path / "references.po"))
    po.find("References").msgstr = "参考文献 {glue:text}`x`"
    po.save()
    assert "format" in [p.status for p in i18n.check_page("references")]


# ---------------------------------------------------------------- check() in Chinese

@pytest.fixture
def chinese_messages(tmp_path, monkeypatch):
    """A test-only mlpcore catalogue with a few translations (the real one is being
    written), in force for the test."""
    from mlpcore.exercises import _i18n, _runner
    po = polib.pofile(str(i18n.MLPCORE_PO))
    zh = {
        _runner.NOT_ATTEMPTED: "尚未作答：把练习单元格中 `raise NotImplementedError(...)` 那一行换成你的代码，"
                               "运行该单元格，再运行这个检查",
        "all cases pass": "全部用例通过",
        "see below": "见下",
        _i18n.HEADER: "{self.exercise}：{self.points}/{self.max_points} 分，{verdict}",
        _i18n.HINT: " → 提示：{self.hint}",
        "{label}: expected shape {expected.shape}, got shape {array.shape}":
            "{label}：形状应为 {expected.shape}，得到 {array.shape}",
    }
    for e in po:
        if e.msgid in zh:
            e.msgstr = zh.pop(e.msgid)
    assert not zh, f"not in mlpcore.po: {list(zh)}"
    path = tmp_path / "zh_CN" / "LC_MESSAGES" / "mlpcore.po"
    path.parent.mkdir(parents=True)
    po.save(str(path))
    monkeypatch.setattr(_i18n, "LOCALE_DIR", tmp_path)
    _i18n.catalogue.cache_clear()
    _i18n.set_language("zh_CN")
    yield
    _i18n.set_language(None)
    _i18n.catalogue.cache_clear()


def _stub_and_wrong(exercise_id):
    from mlpcore.exercises import get_exercise
    exercise = get_exercise(exercise_id)
    namespace = {}
    exec(f"def {exercise.function}({', '.join(exercise.params)}):\n"
         f"    raise NotImplementedError\n", namespace)
    stub = namespace[exercise.function]
    exec(f"import numpy as np\ndef {exercise.function}({', '.join(exercise.params)}):\n"
         f"    return np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1))\n", namespace)
    return stub, namespace[exercise.function]


def test_check_speaks_chinese_and_falls_back_to_english_per_string(chinese_messages, capsys):
    from mlpcore.exercises import check
    stub, wrong = _stub_and_wrong("ch00.scale_shift_backward")
    check("ch00.scale_shift_backward", stub)
    assert capsys.readouterr().out.startswith("ch00.scale_shift_backward: 尚未作答：")
    check("ch00.scale_shift_backward", wrong)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ch00.scale_shift_backward：0/") and lines[0].endswith("分，见下")
    # the message's template is translated, its fields filled with the English values;
    # the case names have no translation here: English
    assert any(": grad_x：形状应为 (" in line and "，得到 (1, 1)" in line for line in lines[1:]), lines


def test_check_is_english_by_default(capsys):
    from mlpcore.exercises import _runner, check
    stub, _ = _stub_and_wrong("ch00.scale_shift_backward")
    check("ch00.scale_shift_backward", stub)
    assert capsys.readouterr().out == f"ch00.scale_shift_backward: {_runner.NOT_ATTEMPTED}\n"


def test_the_runner_templates_check_translates_are_the_runners():
    """mlpcore/exercises/_i18n.py formats the runner's lines from the runner's own
    f-strings (as extracted): if the runner rewords one, this fails (update _i18n)."""
    from mlpcore.exercises import _i18n
    extracted = {m: flags for m, _, _, flags in message_entries()}
    for template in _i18n.TEMPLATES:
        assert extracted.get(template) == {"python-brace-format"}, template


# ---------------------------------------------------------------- glued phrases, links


def test_glued_phrases_may_quote_only_the_english_numbers():
    from booktools.i18n_glue import glue_errors, has_words
    assert has_words("below 1e-12") and not has_words("1e-05") and not has_words("+2.8")
    assert glue_errors("5 of 5", "5") == []
    assert glue_errors("none", "0") == [] and glue_errors("all ten", "10") == []
    assert glue_errors("between 1e-3 and 1e-2", "在 1e-3 到 1e-2 之间") == []
    assert glue_errors("below 1e-12", "不到 1e-11") == ["number 1e-11 is not in the English value"]
    assert glue_errors("[+2.8, +9.3] points", "[+2.8, +9.4] 个百分点")


def test_glued_phrases_are_translated_in_the_outputs_only():
    from booktools.i18n_glue import translate_glue_outputs
    record = "application/papermill.record/"  # myst-nb's prefix of a glued value's data

    def glued(name, text):
        return {"data": {record + "text/plain": text}, "output_type": "display_data",
                "metadata": {"scrapbook": {"name": name, "mime_prefix": record}}}

    output, number = glued("count", "'5 of 5'"), glued("acc", "'94.4'")
    nb = {"cells": [{"cell_type": "code", "outputs": [output, number]}]}
    assert translate_glue_outputs(nb, "02_dropout", {("02_dropout:count", "5 of 5"): "5"}) == 1
    assert output["data"][record + "text/plain"] == "'5'"
    assert number["data"][record + "text/plain"] == "'94.4'"


def test_doc_and_ref_links_may_show_chinese_text_but_keep_their_target():
    english = "see the {doc}`robustness appendix <robustness>` and {ref}`the curves <ch01-curves>`"
    assert format_errors(english, "见{doc}`稳健性附录 <robustness>`和{ref}`那些曲线 <ch01-curves>`") == []
    assert format_errors("{doc}`02_dropout`", "{doc}`第 2 章 <02_dropout>`") == []
    assert format_errors(english, "见{doc}`稳健性附录 <references>`和{ref}`曲线 <ch01-curves>`") == [
        "doc 'robustness' missing", "doc 'references' not in the English"]
