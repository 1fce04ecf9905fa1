"""The notebook edition (booktools/notebook_edition.py): what Jupyter and Colab readers get.

For every notebook page of _toc.yml, the built edition (_build/edition) must have no
MyST role, directive or target left in its Markdown; the install cell first, ending
with the claims' warn mode; the book's code cells and stored outputs cell for cell (so
`pytest --nbval` over the edition, which `make test` runs, checks the book's notebooks
as well), except that exercise cells are stubs whose checks store the "not attempted"
line, and each reference solution is revealed in a Markdown cell after its check; and
the Colab, Binder and download buttons of the page must open it. The converter itself is tested
on small inputs at the end, including that each check here can fail.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
import yaml

from booktools.install_cell import install_cell_source
from booktools.myst_to_markdown import Citation, Resolver, convert
from booktools.notebook_edition import (
    CHECK_TAG, CLAIMS_WARN, EXERCISE_TAG, HIDDEN_TAGS, HIDDEN_TITLE, SOLUTION_TAG,
    EditionError, edition_notebook, exercise_id, nbgrader_source, solution_source, stubbed)
from tests._support import ROOT, built_book, toc_pages

CHAPTERS = [page for page in toc_pages() if (ROOT / f"{page}.ipynb").exists()]

# What MyST would still have to resolve: roles, directives, targets, equation labels.
LEFTOVER = re.compile(r"\{[A-Za-z][\w:+.-]*\}`|^\s*(`{3,}|:{3,})\s*\{[\w:+.-]+\}|^\s*\([\w\-.:]+\)=\s*$"
                      r"|\$\$\s*\([\w\-.:]+\)\s*$", re.MULTILINE)


def leftovers(markdown: str) -> list[str]:
    """MyST markup left in `markdown`, outside code blocks and inline code."""
    text = re.sub(r"^(```+)(?!\s*\{)[^\n]*\n.*?^\1\s*$", "", markdown, flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"(?<!\})(`+)[^`\n]+?\1", "", text)  # inline code that is no role's content
    return [match.group(0).strip() for match in LEFTOVER.finditer(text)]


@pytest.fixture(scope="module")
def build():
    return built_book()


def edition_of(build, page: str):
    path = build[1] / f"{page}.ipynb"
    assert path.exists(), f"{path} was not built: is {page} a notebook page of _toc.yml?"
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("page", CHAPTERS)
def test_no_myst_markup_left(build, page):
    nb = edition_of(build, page)
    problems = [f"cell {index}: {leftover!r}" for index, cell in enumerate(nb.cells)
                if cell.cell_type == "markdown" for leftover in leftovers(cell.source)]
    assert not problems, f"MyST markup left in the edition of {page}:\n  " + "\n  ".join(problems)


def book_and_edition_cells(build, page):
    """(book, edition) cell lists that line up: the book with its install cell first
    (the edition puts it first), the edition without its revealed-solution cells."""
    book = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    first_code = next(i for i, cell in enumerate(book.cells) if cell.cell_type == "code")
    book.cells.insert(0, book.cells.pop(first_code))
    edition = [cell for cell in edition_of(build, page).cells
               if SOLUTION_TAG not in cell.metadata.get("tags", [])]
    assert [c.cell_type for c in edition] == [c.cell_type for c in book.cells], \
        f"{page}: the edition's cells do not line up with the book's (rebuild: make book)"
    return book.cells, edition


@pytest.mark.parametrize("page", CHAPTERS)
def test_code_and_outputs_are_the_books(build, page):
    """Cell for cell, so a failure nbval reports at edition cell N is book cell N, except
    the documented differences (booktools/notebook_edition.py): the install cell ends with
    the claims' warn mode, exercise cells are stubs and their checks store the stub's
    "not attempted" line."""
    book, edition = book_and_edition_cells(build, page)
    for index, (ours, theirs) in enumerate(zip(edition, book)):
        if theirs.cell_type != "code":
            continue
        tags = set(theirs.metadata.get("tags", []))
        assert ours.metadata.get("tags") == theirs.metadata.get("tags"), \
            f"{page} cell {index}: tags differ (the grader finds exercises by them)"
        if index == 0:
            assert ours.source == f"{theirs.source}\n{CLAIMS_WARN}", f"{page}: install cell"
            assert ours.outputs == theirs.outputs
        elif EXERCISE_TAG in tags:
            exercise = exercise_id(theirs.source, None, f"{page} cell {index}")
            assert ours.source == stubbed(theirs.source, exercise, "book"), \
                f"{page} cell {index}: the exercise cell is not the book's cell, stubbed"
            assert ours.outputs == [] and not ours.metadata.get("jupyter", {}).get("source_hidden")
        elif CHECK_TAG in tags:
            assert ours.source == theirs.source, f"{page} cell {index}: check cell differs"
            text = "".join(output.get("text", "") for output in ours.outputs)
            assert text.count("\n") == 1 and ": not attempted yet: replace the" in text, \
                f"{page} cell {index}: the check of a stub must store one 'not attempted' line"
            assert ours.execution_count, f"{page} cell {index}: nbval skips-and-fails an unrun cell with outputs"
        else:
            hidden = index > 0 and tags & HIDDEN_TAGS
            expected = f"{HIDDEN_TITLE}\n{theirs.source}" if hidden else theirs.source
            assert ours.source == expected, f"{page} cell {index}: code differs from the book's"
            assert ours.outputs == theirs.outputs, f"{page} cell {index}: outputs differ from the book's"


@pytest.mark.parametrize("page", CHAPTERS)
def test_each_reference_solution_is_revealed_after_its_check(build, page):
    """The book's exercise cell, whole, in a collapsed Markdown block right after the
    check (so "Run all" never runs it), and nowhere in a code cell."""
    book = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    references = [cell.source for cell in book.cells
                  if EXERCISE_TAG in cell.metadata.get("tags", [])]
    cells = edition_of(build, page).cells
    revealed = []
    for index, cell in enumerate(cells):
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            assert cell.cell_type == "markdown" and cell.source.startswith("<details>")
            assert CHECK_TAG in cells[index - 1].metadata.get("tags", []), \
                f"{page} cell {index}: a solution must come right after its check"
            revealed.append(solution_source(cell))
        elif cell.cell_type == "code":
            assert "BEGIN SOLUTION" not in cell.source, f"{page} cell {index}: solution in code"
    assert revealed == references


@pytest.mark.parametrize("page", CHAPTERS)
def test_every_glued_number_is_written_out(build, page):
    """Each {glue:text} of the book reads, in the edition, as the value it stored."""
    from booktools.notebook_edition import glue_values

    book = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    values = glue_values(book)
    edition = edition_of(build, page)
    for index, cell in enumerate(book.cells):
        if cell.cell_type != "markdown":
            continue
        for name in re.findall(r"\{glue:text\}`([^`:]+)`", cell.source):
            stored = values[name]["text/plain"].strip("'\"")
            assert stored in edition.cells[index].source, \
                f"{page} cell {index}: glued {name} = {stored} is not in the edition's text"


def test_the_edition_warns_on_claims_unless_mlpcore_claims_says_otherwise(monkeypatch):
    """What the edition's first cell adds: warn mode for the learner; the Makefile's
    MLPCORE_CLAIMS=strict (make execute, nbval) wins over it."""
    from mlpcore import claims

    before = claims._state["mode"]
    try:
        monkeypatch.delenv("MLPCORE_CLAIMS", raising=False)
        exec(CLAIMS_WARN, {})
        assert claims.mode() == "warn"
        claims.claim(False, "a sentence that no longer holds")  # no raise
        assert claims.records()[-1]["passed"] is False
        monkeypatch.setenv("MLPCORE_CLAIMS", "strict")
        assert claims.mode() == "strict"
        with pytest.raises(claims.ClaimBroken):
            claims.claim(False, "a sentence that no longer holds")
    finally:
        claims.set_mode(before)


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", CHAPTERS)
def test_launch_and_download_buttons_open_the_edition(build, page):
    html = (build[0] / f"{page}.html").read_text(encoding="utf-8")
    repository = _config()["repository"]
    owner_repo = urlsplit(repository["url"]).path.strip("/").removesuffix(".git")
    branch = repository["branch"]
    assert branch != "main", "the launch buttons must open the edition's branch, not the sources"
    colab = re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html)
    binder = re.findall(r'href="(https://mybinder\.org/[^"]+)"', html)
    assert colab == [f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{page}.ipynb"], colab
    assert binder == [f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=tree/{page}.ipynb"], binder
    # The path they open on that branch is the edition's file of this page.
    assert (build[1] / f"{page}.ipynb").exists()
    download = re.findall(r'href="([^"]*_sources/[^"]+\.ipynb)"', html)
    assert download, f"{page}: no notebook download button"
    served = (build[0] / page).parent / download[0]
    assert served.resolve().read_bytes() == (build[1] / f"{page}.ipynb").read_bytes(), \
        f"{page}: the download button serves something other than the edition"


def test_the_workflow_publishes_the_edition_to_that_branch():
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8")
    assert "_build/edition" in workflow and "repository']['branch']" in workflow, \
        "the Pages workflow must push _build/edition to the branch _config.yml names"


# ---------------------------------------------------------------- the converter

def resolver(**overrides) -> Resolver:
    warnings: list[str] = []
    base = dict(
        glue={"acc": {"text/plain": "'95.1'"}, "n": {"text/plain": "1079"},
              "fig": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}},
        citations={"krogh1992simple": Citation("Krogh and Hertz", "1992", "https://k.org"),
                   "srivastava2014dropout": Citation("Srivastava et al.", "2014", "")},
        references_url="https://b.io/book/references.html",
        doc=lambda t: ("Glossary", "https://b.io/book/glossary.html") if t == "glossary" else None,
        ref=lambda t: ("The model", "https://b.io/book/ch.html#the-model") if t == "model" else None,
        term=lambda t: f"https://b.io/book/glossary.html#term-{t.replace(' ', '-')}"
        if t in ("epoch", "weight decay") else None,
        python=lambda name: f"https://b.io/book/api.html#{name}" if name.startswith("mlpcore") else None,
        warn=warnings.append)
    base.update(overrides)
    result = Resolver(**base)
    result.warnings = warnings
    return result


def test_roles_become_text_and_links():
    r = resolver()
    text = convert("Accuracy {glue:text}`acc`% on {glue:text}`n:,.0f` images, 30 "
                   "{term}`epochs <epoch>` of {term}`weight decay` "
                   "{cite:p}`krogh1992simple,srivastava2014dropout`; {cite:t}`krogh1992simple` "
                   "in the {doc}`glossary`, see {ref}`model`; {py:class}`~mlpcore.layers.Linear` "
                   "and {py:func}`mlpcore.train.fit`, not `{term}` in code.", r).text
    assert text == (
        "Accuracy 95.1% on 1,079 images, 30 [epochs](https://b.io/book/glossary.html#term-epoch) "
        "of [weight decay](https://b.io/book/glossary.html#term-weight-decay) "
        "([Krogh and Hertz, 1992](https://k.org); [Srivastava et al., 2014]"
        "(https://b.io/book/references.html)); [Krogh and Hertz (1992)](https://k.org) "
        "in the [Glossary](https://b.io/book/glossary.html), see [The model]"
        "(https://b.io/book/ch.html#the-model); [`Linear`](https://b.io/book/api.html#"
        "mlpcore.layers.Linear) and [`mlpcore.train.fit()`](https://b.io/book/api.html#"
        "mlpcore.train.fit), not `{term}` in code.")
    assert r.warnings == []


def test_directives_become_markdown():
    r = resolver()
    source = ("(sec-x)=\n## Title\n\n% a comment\n:::{note}\nSee {term}`epoch`.\n:::\n\n"
              "```{admonition} Why it matters\n:class: tip\nBecause.\n```\n\n"
              "```{glue:figure} fig\n:alt: Loss against epochs\n:name: fig-loss\n\nThe loss.\n```\n\n"
              "````{important}\n```{math}\na = b\n```\n````\n\n"
              "$$ x = 1 $$ (eq-x)\n\n```python\n{term}`kept in code`\n```")
    out = convert(source, r)
    assert out.text == (
        "## Title\n\n> **Note**\n>\n> See [epoch](https://b.io/book/glossary.html#term-epoch).\n\n"
        "> **Why it matters**\n>\n> Because.\n\n"
        "![Loss against epochs](attachment:fig.png)\n\n*The loss.*\n\n"
        "> **Important**\n>\n> $$\n> a = b\n> $$\n\n$$ x = 1 $$\n\n"
        "```python\n{term}`kept in code`\n```")
    assert out.attachments == {"fig.png": {"image/png": "iVBORw0KGgo="}}
    assert leftovers(out.text) == []
    assert r.warnings == []


def test_what_cannot_be_resolved_is_reported_and_left_for_the_test_to_find():
    r = resolver()
    text = convert("{unknownrole}`x` {term}`no such term` {cite:p}`nokey` {glue:text}`missing`\n\n"
                   ":::{mystery}\nbody\n:::", r).text
    assert len(r.warnings) == 5, r.warnings
    assert leftovers(text) == ["{unknownrole}`", "```{mystery}"]


def test_leftover_check_can_fail():
    assert leftovers("a {glue:text}`x` b") == ["{glue:text}`"]
    assert leftovers("```{note}\nx\n```") == ["```{note}"]
    assert leftovers("(label)=\n# T") == ["(label)="]
    assert leftovers("use `{term}` roles\n```python\n{doc}`x`\n```") == []


def small_chapter():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("install", metadata={"tags": ["remove-cell"]}),
                nbformat.v4.new_markdown_cell("# T\n{glue:text}`n`"),
                nbformat.v4.new_code_cell("glue('n', 3)", metadata={"tags": ["remove-cell"]}),
                nbformat.v4.new_code_cell("def bce_with_logits(logits, targets):\n"
                                          "    ### BEGIN SOLUTION\n    return 1\n"
                                          "    ### END SOLUTION",
                                          metadata={"tags": ["exercise", "hide-input"]}),
                nbformat.v4.new_code_cell('check("ch00.bce_with_logits", bce_with_logits)',
                                          metadata={"tags": ["exercise-check"]})]
    nb.cells[4].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1/5\n")]
    return nb


def test_hidden_cells_collapsed_exercises_stubbed_solutions_revealed_after_the_check():
    nb = small_chapter()
    result = edition_notebook(nb, lambda index: resolver(glue={"n": {"text/plain": "3"}}),
                              "00_mlp_in_numpy")
    assert result.cells[0].source == f"install\n{CLAIMS_WARN}"
    assert "jupyter" not in result.cells[0].metadata
    assert result.cells[1].source == "# T\n3"
    assert result.cells[2].source == f"{HIDDEN_TITLE}\nglue('n', 3)"
    assert result.cells[2].metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    stub = result.cells[3]
    assert stub.source == ('def bce_with_logits(logits, targets):\n    raise NotImplementedError('
                           '"ch00.bce_with_logits: replace this line with your code")')
    assert "jupyter" not in stub.metadata, "the stub is where the learner writes: not collapsed"
    check_text = result.cells[4].outputs[0]["text"]
    assert check_text.startswith("ch00.bce_with_logits: not attempted yet") and check_text.count("\n") == 1
    solution = result.cells[5]
    assert solution.cell_type == "markdown" and solution.metadata["tags"] == [SOLUTION_TAG]
    assert solution_source(solution) == nb.cells[3].source
    assert len(result.cells) == 6
    # the nbgrader source folds the solution back: the book's exercise cell, markers intact
    folded = nbgrader_source(result)
    assert [c.source for c in folded.cells[3:]] == [nb.cells[3].source, nb.cells[4].source]
    assert len(folded.cells) == 5


def test_an_exercise_without_its_check_or_markers_is_refused():
    nb = small_chapter()
    del nb.cells[4]
    with pytest.raises(EditionError, match="has no `exercise-check` cell"):
        edition_notebook(nb, lambda index: resolver(), "00_mlp_in_numpy")
    nb = small_chapter()
    nb.cells[3].source = "def bce_with_logits(logits, targets):\n    return 1"
    with pytest.raises(EditionError, match="no '### BEGIN SOLUTION'"):
        edition_notebook(nb, lambda index: resolver(), "00_mlp_in_numpy")
    nb = small_chapter()
    nb.cells[2].source = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"
    with pytest.raises(EditionError, match="not tagged `exercise`"):
        edition_notebook(nb, lambda index: resolver(), "00_mlp_in_numpy")
