"""booktools/replicate.py: a chapter re-run on another seed records every claim, and only draws
that are not the book's."""
from pathlib import Path

import nbformat
import pytest

from booktools import replicate

ROOT = Path(__file__).resolve().parents[2]


def _notebook(tmp_path: Path) -> Path:
    cells = [
        nbformat.v4.new_code_cell("# the install cell: not part of the code hash"),
        nbformat.v4.new_markdown_cell("Some text."),
        nbformat.v4.new_code_cell(
            "import numpy as np\nfrom mlpcore.claims import claim\nfrom mlpcore.notebook import glue\n"
            "draw = np.random.default_rng(10).random()\n"
            "book = np.random.Generator(np.random.PCG64(10)).random()\n"
            "glue('draw', draw)"),
        nbformat.v4.new_code_cell("claim(draw != book, 'the draw is not the book draw', draw=draw)\n"
                                  "claim(False, 'a sentence that fails here')\n"
                                  "claim(True, 'a later sentence is still checked')"),
        nbformat.v4.new_code_cell("raise RuntimeError('boom')"),
    ]
    path = tmp_path / "07_demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_a_replication_records_claims_cells_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPCORE_CLAIMS", "record")
    monkeypatch.setenv("MLPCORE_QUIET", "1")
    result = replicate.run_chapter(_notebook(tmp_path), seed=3)
    by_text = {c["text"]: c for c in result["claims"]}
    assert by_text["the draw is not the book draw"]["passed"] is True
    assert by_text["a sentence that fails here"]["passed"] is False
    assert by_text["a later sentence is still checked"]["passed"] is True
    assert by_text["a sentence that fails here"]["cell"] == 3      # index in the notebook
    raised = [c for c in result["claims"] if c["id"] == "cell-4-raised"]
    assert raised and "RuntimeError: boom" in raised[0]["detail"]["error"]
    import numpy as np
    expected = np.random.default_rng(np.random.SeedSequence([3, 10])).random()
    assert result["glued"]["draw"] == pytest.approx(expected)


def test_the_code_hash_ignores_the_install_cell_and_text(tmp_path):
    path = _notebook(tmp_path)
    before = replicate.code_hash(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "# another install cell"
    nb.cells[1].source = "Other text."
    nbformat.write(nb, path)
    assert replicate.code_hash(path) == before
    nb.cells[2].source += "\nx = 1"
    nbformat.write(nb, path)
    assert replicate.code_hash(path) != before


def test_seed_lists_parse():
    assert replicate.parse_seeds("1-3,7") == [1, 2, 3, 7]


def test_glued_text_reads_as_numbers():
    assert replicate._number("+4.0") == 4.0
    assert replicate._number("1,079") == 1079.0
    assert replicate._number("about two") is None
