"""Every guard in a chapter is a recorded claim, and every random draw can be replicated.

`make replicate` (booktools/replicate.py) re-runs a chapter by re-seeding
np.random.default_rng(<int>); a draw made any other way would silently stay the book's,
and a bare assert would stop a replication at its first failure instead of recording
every claim.
"""
import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


def _code_cells(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "### BEGIN SOLUTION" not in cell.source:
            source = "\n".join("#" + line if line.lstrip().startswith(("%", "!")) else line
                               for line in cell.source.splitlines())
            yield index, cell, ast.parse(source)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_guards_are_claims_not_asserts(chapter):
    asserts = [index for index, _, tree in _code_cells(chapter)
               if any(isinstance(node, ast.Assert) for node in ast.walk(tree))]
    assert not asserts, (f"{chapter.name}: cells {asserts} use `assert`; guard a sentence with "
                         "mlpcore.claims.claim(condition, 'the sentence', **numbers)")


UNREPLICABLE = re.compile(r"np\.random\.(seed|rand|randn|randint|random|normal|uniform|choice|"
                          r"permutation|shuffle|RandomState|PCG64|SeedSequence)\b|default_rng\(\s*\)")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_every_draw_goes_through_default_rng_with_a_seed(chapter):
    found = [(index, match.group(0)) for index, cell, _ in _code_cells(chapter)
             for match in UNREPLICABLE.finditer(cell.source)]
    assert not found, (f"{chapter.name}: draws that `make replicate` cannot re-seed: {found}; "
                       "use np.random.default_rng(<int>) and the generator's methods")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_the_chapter_names_its_headline_numbers(chapter):
    nb = nbformat.read(chapter, as_version=4)
    headlines = nb.metadata.get("replication", {}).get("headlines")
    assert headlines, (f"{chapter.name}: list the glue names of its headline numbers in "
                       "metadata.replication.headlines (the robustness appendix shows their spread)")
    patterns = []  # each glued name, an f-string name as a pattern
    for _, cell, tree in _code_cells(chapter):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "glue" and node.args:
                name = node.args[0]
                if isinstance(name, ast.Constant):
                    patterns.append(re.escape(str(name.value)))
                elif isinstance(name, ast.JoinedStr):
                    patterns.append("".join(re.escape(part.value) if isinstance(part, ast.Constant)
                                            else ".+" for part in name.values))
    unknown = sorted(name for name in headlines
                     if not any(re.fullmatch(pattern, name) for pattern in patterns))
    assert not unknown, f"{chapter.name}: headline names that are never glued: {unknown}"
