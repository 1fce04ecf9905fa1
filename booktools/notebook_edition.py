"""The notebook edition: every chapter as a notebook that reads right in Jupyter and Colab.

The book's notebooks are written in MyST: their Markdown quotes numbers through
``{glue:text}`` roles and links with ``{term}``, ``{cite}``, ``{doc}`` and ``{py:func}``,
which only the book's build resolves. Opened in Jupyter or Colab they show the raw
markup. The edition is the same notebooks with that markup resolved
(booktools/myst_to_markdown.py says what becomes what), built by every HTML build of the
book (a Sphinx extension loaded from _config.yml), for every notebook page of _toc.yml:

- ``_build/edition/<page>.ipynb``, plus a README.md and a requirements.txt (for Binder):
  the tree the Pages workflow (.github/workflows/book.yml) pushes to the generated
  branch that _config.yml's ``repository.branch`` names, so the Colab and Binder launch
  buttons open the edition;
- ``_build/html/_sources/<page>.ipynb``: what the page's download button serves.

Code cells are the book's, with the same stored outputs, cell for cell (so `pytest
--nbval` over the edition checks the book too, and tests/book/test_edition.py proves they
match), with three documented differences, all for the learner who opens it:

- The install cell stays first and visible, and ends with ``CLAIMS_WARN``: in this
  edition a claim guard whose sentence no longer holds (a learner changed a seed or a
  rate) warns and the notebook carries on. Where MLPCORE_CLAIMS is set (`make
  execute`, nbval in `make test`) it overrides this, so those runs stay strict.
- Each exercise cell (tagged ``exercise``) is a stub to write: the region between the
  solution markers becomes ``raise NotImplementedError("<id>: ...")``, as in the
  student edition. Its check cell stores what ``check()`` prints for that stub (one
  "not attempted yet" line, and the notebook runs on), so nbval proves that too.
- The reference solution is revealed deliberately: a Markdown cell after the check
  (tagged ``exercise-solution``), a collapsed "Reference solution" block holding the
  book's exercise cell, markers included. Markdown, so "Run all" never runs it and it
  never replaces the learner's function; nbval counts code cells only, so a failure at
  ``Cell N`` is still the book's code cell N.

Cells the book hides keep their code (they record the numbers the text quotes and
check its claims, and later cells may need them) but start collapsed: a ``#@title``
line (Colab shows the title instead of the code) and Jupyter's
``source_hidden``/``outputs_hidden`` metadata.

The same edition is where the other releases start: ``student_notebook`` (booktools/
make_student_edition.py, `make student`) drops the solution cells;
``nbgrader_source`` folds them back into the exercise cells for nbgrader's
``generate_assignment``.

The edition is built by `make book`.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from urllib.parse import urlsplit

import nbformat

from booktools.glued import glued_outputs
from booktools.myst_to_markdown import Citation, Resolver, convert

ROOT = Path(__file__).resolve().parents[1]

EDITION_DIR = "edition"  # beside the HTML output: _build/edition
HIDDEN_TAGS = {"remove-cell", "remove-input"}
COLLAPSED_TAGS = {"hide-input", "hide-cell"}
HIDDEN_TITLE = "#@title Hidden in the book: records the numbers the text quotes and checks its claims"
EXERCISE_TAG = "exercise"
CHECK_TAG = "exercise-check"
SOLUTION_TAG = "exercise-solution"
EDITION_KEY = "mlp_edition"  # notebook metadata: which edition this is
CLAIMS_WARN = ('\n# In this edition a sentence of the text that no longer holds for your settings\n'
               '# is reported as a warning and the notebook carries on (the book stays strict).\n'
               'from mlpcore import claims; claims.set_mode("warn")')
EDITION_NOTE = ("*The notebook edition of a chapter of [{title}]({book_url}), for Jupyter "
                "and Colab. [The same chapter in the book]({page_url}) hides the cells "
                "that check its claims.*")


# ---------------------------------------------------------------- addresses

def published_url(config) -> str:
    """The published book's address, ending in '/': html_baseurl if set, else the
    GitHub Pages address of the repository that _config.yml names."""
    if getattr(config, "html_baseurl", ""):
        return config.html_baseurl.rstrip("/") + "/"
    repository = (config.html_theme_options or {}).get("repository_url", "")
    parts = urlsplit(repository)
    owner, _, name = parts.path.strip("/").removesuffix(".git").partition("/")
    if parts.hostname != "github.com" or not name:
        raise ValueError("set html.baseurl in _config.yml: the notebook edition links to "
                         f"the published pages and cannot derive them from {repository!r}")
    return f"https://{owner.lower()}.github.io/{name}/"


# ---------------------------------------------------------------- glue and citations

def glue_values(nb) -> dict[str, dict]:
    """Every value a notebook glued, as {name: mime bundle without the record prefix}."""
    return {name: bundle for name, bundle, _ in glued_outputs(nb.cells)}


def _latex_to_text(text: str) -> str:
    import codecs

    import latexcodec  # noqa: F401 - registers the "ulatex" codec

    return re.sub(r"[{}]", "", codecs.decode(text, "ulatex"))


def citations(bib_files: list[Path]) -> dict[str, Citation]:
    """Author-year citations as the book prints them ("Krogh and Hertz", "Srivastava
    et al."), each with the paper's DOI, URL or arXiv address when the entry has one."""
    from pybtex.database import parse_file

    found = {}
    for bib in bib_files:
        for key, entry in parse_file(str(bib)).entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [_latex_to_text(" ".join(p.prelast_names + p.last_names)) for p in people]
            authors = (names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2
                       else f"{names[0]} et al." if names else key)
            fields = entry.fields
            url = (f"https://doi.org/{fields['doi']}" if "doi" in fields
                   else fields.get("url", "") or
                   (f"https://arxiv.org/abs/{fields['eprint']}" if "eprint" in fields else ""))
            found[key] = Citation(authors, fields.get("year", ""), url)
    return found


# ---------------------------------------------------------------- the notebook

# ---------------------------------------------------------------- exercises

def stub_line(exercise_id: str) -> str:
    """What replaces a solution region in the learner's and the student's editions."""
    return f'raise NotImplementedError("{exercise_id}: replace this line with your code")'


class EditionError(ValueError):
    """A chapter the edition cannot be built from (names the notebook, cell and fix)."""


def exercise_id(source: str, chapter: str | None, where: str) -> str:
    """The registered exercise an ``exercise`` cell defines (mlpcore/exercises/chNN.py)."""
    from mlpcore.exercises import find_by_function
    from mlpgrader.notebook import defined_functions

    functions = defined_functions(source)
    for function in functions:
        matches = find_by_function(function, [chapter] if chapter else None)
        if len(matches) == 1:
            return matches[0].id
    raise EditionError(
        f"{where} is tagged `{EXERCISE_TAG}` but defines {', '.join(functions) or 'no function'}, "
        f"not a registered exercise{' of ' + chapter if chapter else ''}: add it to "
        f"mlpcore/exercises/{chapter or 'chNN'}.py")


def stubbed(source: str, exercise: str, where: str) -> str:
    """``source`` with every solution region replaced by the stub line."""
    from mlpgrader.notebook import MarkerError, has_solution_markers, strip_solution

    if not has_solution_markers(source):
        raise EditionError(f"{where} ({exercise}) has no '### BEGIN SOLUTION' / "
                           f"'### END SOLUTION' markers")
    try:
        return strip_solution(source, stub_line(exercise), where)
    except MarkerError as exc:
        raise EditionError(str(exc)) from exc


def not_attempted_output(exercise: str, stub_source: str):
    """What ``check()`` prints for the stub: run it, as the learner's kernel will."""
    import contextlib
    import io

    import numpy as np

    from mlpcore.exercises import get_exercise, run_exercise

    namespace = {"np": np}
    exec(compile(stub_source, f"<stub of {exercise}>", "exec"), namespace)
    function = namespace[get_exercise(exercise).function]
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_exercise(get_exercise(exercise), function)
    if result.status != "not_attempted":
        raise EditionError(f"the stub of {exercise} is graded {result.status!r}, "
                           f"not 'not_attempted': {result.summary()}")
    return nbformat.v4.new_output("stream", name="stdout", text=result.summary() + "\n")


def solution_cell(exercise: str, source: str, cell_id: str):
    """The revealed reference solution: a collapsed block in a Markdown cell."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    text = (f"<details>\n<summary><b>Reference solution</b> of <code>{exercise}</code> "
            f"(open it after your own attempt)</summary>\n\n"
            f"{fence}python\n{source}\n{fence}\n\n</details>")
    cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [SOLUTION_TAG],
                                                          "exercise": exercise})
    cell.id = cell_id  # deterministic, so rebuilding changes nothing
    return cell


def solution_source(cell) -> str:
    """The book's exercise cell kept in a solution cell (inverse of ``solution_cell``)."""
    match = re.search(r"^(`{3,})python\n(.*)\n\1$", cell.source, re.MULTILINE | re.DOTALL)
    if match is None:
        raise EditionError(f"solution cell of {cell.metadata.get('exercise')} holds no code block")
    return match.group(2)


def learner_exercises(nb, name: str) -> list[str]:
    """In place: stub every exercise, store its check's "not attempted" line, and put
    the reference solution in a collapsed Markdown cell after the check. Returns the
    exercise ids, in order."""
    from mlpgrader.notebook import chapter_from_name, infer_chapter

    chapter = chapter_from_name(name) or infer_chapter([dict(c) for c in nb.cells], name)
    done, cells, pending = [], [], None
    for index, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        where = f"{name}: cell {index}"
        if cell.cell_type == "code" and EXERCISE_TAG in tags:
            if pending is not None:
                raise EditionError(f"{where}: the exercise before it ({pending[0]}) has no "
                                   f"`{CHECK_TAG}` cell under it")
            exercise = exercise_id(cell.source, chapter, where)
            reference = cell.source
            cell.source = stubbed(reference, exercise, where)
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("jupyter", None)  # a stub to write: open, not collapsed
            cell.metadata.pop("execution", None)
            pending = (exercise, reference, cell.source, cell.get("id", f"cell{index}"))
        elif cell.cell_type == "code" and CHECK_TAG in tags:
            if pending is None:
                raise EditionError(f"{where} is tagged `{CHECK_TAG}` but follows no exercise cell")
            exercise, reference, stub, cell_id = pending
            if f'"{exercise}"' not in cell.source and f"'{exercise}'" not in cell.source:
                raise EditionError(f"{where} does not check {exercise}, the exercise above it")
            cell.outputs = [not_attempted_output(exercise, stub)]
            # kept from the book: nbval refuses stored outputs of a cell without a count
            cell.execution_count = cell.execution_count or 1
            cell.metadata.pop("execution", None)
            cells += [cell, solution_cell(exercise, reference, f"{cell_id}-solution")]
            done.append(exercise)
            pending = None
            continue
        elif cell.cell_type == "code" and "BEGIN SOLUTION" in cell.source:
            raise EditionError(f"{where} has solution markers but is not tagged "
                               f"`{EXERCISE_TAG}`: its solution would be published")
        cells.append(cell)
    if pending is not None:
        raise EditionError(f"{name}: the exercise {pending[0]} has no `{CHECK_TAG}` cell under it")
    nb.cells = cells
    return done


def nbgrader_source(edition) -> nbformat.NotebookNode:
    """The edition with each reference solution back in its exercise cell (markers
    intact) and the solution cells gone: what nbgrader's ``generate_assignment`` takes
    as its source (``python -m mlpgrader stamp`` gives it nbgrader's metadata)."""
    nb = copy.deepcopy(edition)
    solutions = {cell.metadata.get("exercise"): solution_source(cell) for cell in nb.cells
                 if SOLUTION_TAG in cell.metadata.get("tags", [])}
    kept = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if SOLUTION_TAG in tags:
            continue
        if cell.cell_type == "code" and EXERCISE_TAG in tags:
            for exercise, source in solutions.items():
                if stub_line(exercise) in cell.source:
                    cell.source = source
        kept.append(cell)
    nb.cells = kept
    nb.metadata[EDITION_KEY] = "nbgrader-source"
    return nb


# ---------------------------------------------------------------- the notebook

def edition_notebook(nb, resolver_for_cell, name: str = "") -> nbformat.NotebookNode:
    """The edition of one notebook; `resolver_for_cell(index)` gives the cell's Resolver
    (the index of the book's cell) and `name` (the file's stem) names the chapter."""
    nb = copy.deepcopy(nb)
    first_code = next((i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"), None)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            converted = convert(cell.source, resolver_for_cell(index))
            cell.source = converted.text
            if converted.attachments:
                cell["attachments"] = {**cell.get("attachments", {}), **converted.attachments}
        elif cell.cell_type == "code" and index != first_code:
            tags = set(cell.metadata.get("tags", []))
            if tags & HIDDEN_TAGS:
                cell.source = f"{HIDDEN_TITLE}\n{cell.source}"
                cell.metadata["cellView"] = "form"  # Colab: show the title, not the code
                cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
            elif tags & COLLAPSED_TAGS:
                cell.metadata["jupyter"] = {"source_hidden": True}
    if first_code is not None and first_code != 0:  # the install cell comes first
        nb.cells.insert(0, nb.cells.pop(first_code))
    if first_code is not None:
        nb.cells[0].source = nb.cells[0].source + "\n" + CLAIMS_WARN
    learner_exercises(nb, name)
    nb.metadata[EDITION_KEY] = "notebook"
    return nb


def add_edition_note(nb, note: str) -> None:
    """Put `note` under the title of the first Markdown cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.split("\n")
            at = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 0)
            lines[at:at] = ["", note, ""]
            cell.source = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
            return


def readme(title: str, book_url: str, repository: str, source_branch: str,
           pages: list[str]) -> str:
    listing = "\n".join(f"- [{page}.ipynb]({page}.ipynb)" for page in pages)
    return f"""# {title}: the notebook edition

Generated; do not edit. These are the chapters of [{title}]({book_url}) as notebooks
that read right in Jupyter and Colab: the numbers, glossary terms, citations and
cross-references of the book are written out. They are built from the `{source_branch}`
branch of {repository} by its book workflow, which replaces this branch on every
successful build. Change the chapters there (book/*.ipynb), not here.

{listing}

The first cell of each chapter installs `mlpcore` and matplotlib where they are missing
(Colab, a fresh kernel); set the environment variable `MLPCORE_SOURCE` to install from
elsewhere (a fork, a branch, a local clone: any address pip accepts). Each exercise is a
stub for you to write; its reference solution is folded away under its check.
"""


def binder_requirements(repository: str) -> str:
    """What Binder installs: numpy, and mlpcore with its plot extra (matplotlib)."""
    return f"numpy\nmlpcore[plot] @ git+{repository}\n"


# ---------------------------------------------------------------- inside Sphinx

class SphinxLookups:
    """Resolver lookups answered from a finished Sphinx build."""

    def __init__(self, app):
        self.app = app
        self.env = app.env
        self.base = published_url(app.config)

    def url(self, docname: str, anchor: str = "") -> str:
        uri = self.app.builder.get_target_uri(docname)
        return f"{self.base}{uri}" + (f"#{anchor}" if anchor else "")

    def doc(self, from_doc: str, target: str):
        from sphinx.util import docname_join

        docname = docname_join(from_doc, target.lstrip("/")) if not target.startswith("/") \
            else target.lstrip("/")
        if docname not in self.env.all_docs:
            return None
        return self.env.titles[docname].astext(), self.url(docname)

    def ref(self, label: str):
        std = self.env.get_domain("std")
        if label.lower() in std.labels:
            docname, labelid, title = std.labels[label.lower()]
            return title, self.url(docname, labelid)
        if label.lower() in std.anonlabels:
            docname, labelid = std.anonlabels[label.lower()]
            return label, self.url(docname, labelid)
        return None

    def numref(self, label: str):
        math = self.env.get_domain("math")
        if label in math.equations:
            docname, number = math.equations[label]
            return str(number), self.url(docname, f"equation-{label}")
        std = self.env.get_domain("std")
        if label.lower() not in std.anonlabels:
            return None
        docname, labelid = std.anonlabels[label.lower()]
        for figtype, numbers in self.env.toc_fignumbers.get(docname, {}).items():
            if labelid in numbers:
                number = ".".join(map(str, numbers[labelid]))
                text = self.app.config.numfig_format.get(figtype, "%s") % number
                return text, self.url(docname, labelid)
        return None

    def term(self, entry: str):
        std = self.env.get_domain("std")
        for (kind, name), (docname, labelid) in std.objects.items():
            if kind == "term" and name.lower() == entry.lower():
                return self.url(docname, labelid)
        return None

    def python(self, name: str):
        from booktools.api_reference import find_python_object

        found = find_python_object(self.env, name)
        return None if found is None else self.url(*found)


def build_edition(app, exception) -> None:
    if exception is not None or app.builder.name != "html":
        return
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    lookups = SphinxLookups(app)
    config = app.config
    srcdir = Path(app.srcdir)
    outdir = Path(app.outdir)
    # notebook_edition_dir: where another build puts its edition (the Chinese book,
    # built into _build/html/zh, writes _build/edition-zh: booktools/i18n_build.py)
    edition = Path(config.notebook_edition_dir or outdir.parent / EDITION_DIR)
    bib = citations([srcdir / name for name in getattr(config, "bibtex_bibfiles", [])])
    references = next((doc for doc in sorted(app.env.found_docs)
                       if doc.rsplit("/", 1)[-1] == "references"), None)
    title = config.html_title or config.project
    theme = config.html_theme_options or {}
    repository = str(theme.get("repository_url", "")).rstrip("/").removesuffix(".git")
    pages = []
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        if source.suffix != ".ipynb":
            continue
        nb = nbformat.read(source, as_version=4)
        glue = glue_values(nb)

        def resolver_for_cell(index, docname=docname, source=source, glue=glue):
            def warn(message):
                logger.warning(f"notebook edition, cell {index}: {message}",
                               location=docname, type="edition")
            return Resolver(
                glue=glue, citations=bib,
                references_url=lookups.url(references) if references else lookups.base,
                doc=lambda target: lookups.doc(docname, target), ref=lookups.ref,
                numref=lookups.numref, term=lookups.term, python=lookups.python,
                substitutions=dict(getattr(config, "myst_substitutions", {}) or {}),
                folder=source.parent, warn=warn)

        result = edition_notebook(nb, resolver_for_cell, source.stem)
        add_edition_note(result, EDITION_NOTE.format(
            title=title, book_url=lookups.base, page_url=lookups.url(docname)))
        for target in (edition / f"{docname}.ipynb", outdir / "_sources" / f"{docname}.ipynb"):
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(result, target)
        pages.append(docname)
    edition.mkdir(parents=True, exist_ok=True)
    branch = theme.get("repository_branch", "")
    (edition / "README.md").write_text(
        readme(title, lookups.base, repository, "main", pages), encoding="utf-8")
    (edition / "requirements.txt").write_text(
        binder_requirements(repository), encoding="utf-8")
    logger.info(f"notebook edition: {len(pages)} chapter(s) in {edition} "
                f"(published on the branch {branch!r})")


def setup(app):
    app.add_config_value("notebook_edition_dir", "", "env", [str])
    app.connect("build-finished", build_edition)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

