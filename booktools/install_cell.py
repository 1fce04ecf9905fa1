"""The first code cell of every chapter: install what the chapters import, where missing.

The repository is named once, in _config.yml (`repository.url`); the launch buttons
use it and so does this cell. `install_cell_source()` builds the cell's exact text
from it, tests/book/test_install_cell.py checks every notebook against it, and this
script writes it into notebooks:

    python -m booktools install-cell                        # print the cell
    python -m booktools install-cell --check book/*.ipynb   # exit 1 if a notebook's first code cell differs
    python -m booktools install-cell --fix book/*.ipynb     # make the first code cell the install cell

The cell does nothing where mlpcore and matplotlib are importable (the book's own
environment, a clone with `pip install -e ".[plot]"`). Where either is missing (Colab
lacks mlpcore, a fresh kernel both) it runs pip, in the kernel's own Python, on
`mlpcore[plot] @ git+<repository url>`: the `plot` extra of pyproject.toml brings
matplotlib, and pip keeps an installed numpy that satisfies mlpcore's `numpy>=1.24`
instead of reinstalling it. The environment variable MLPCORE_SOURCE replaces the
source (any pip URL: a fork, a branch, `file:///path/to/clone`); the fresh-environment
test points it at a snapshot of the checkout.

When pip fails (offline, a wrong MLPCORE_SOURCE) the cell stops the notebook with one
sentence that says what failed (pip's own last line) and what to do, instead of a pip
log followed by an ImportError further down: the exception's `_render_traceback_` is
what IPython shows in place of a traceback.
"""
from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "_config.yml"
INSTALL_CELL_TAG = "remove-cell"
INSTALL_CELL_PREFIX = "# Colab or a fresh kernel: install mlpcore"  # how --fix finds an older one

_TEMPLATE = '''\
# Colab or a fresh kernel: install mlpcore and matplotlib if they are missing. Elsewhere this does nothing.
import importlib, importlib.util, os, subprocess, sys
if importlib.util.find_spec("mlpcore") is None or importlib.util.find_spec("matplotlib") is None:
    source = os.environ.get("MLPCORE_SOURCE", "git+{url}")
    print(f"Installing mlpcore[plot] from {{source}} ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                          f"mlpcore[plot] @ {{source}}"], capture_output=True, text=True)
    importlib.invalidate_caches()
    if pip.returncode != 0 or importlib.util.find_spec("mlpcore") is None:
        class InstallFailed(Exception):
            def _render_traceback_(self):  # IPython shows this sentence instead of a traceback
                return [str(self)]
        lines = [line.strip() for line in pip.stderr.splitlines() if line.strip()] or ["no message"]
        reason = next((line for line in lines if line.startswith(("ERROR:", "fatal:"))), lines[-1])[:300]
        raise InstallFailed(f"Could not install mlpcore from {{source}} (pip said: {{reason}}); connect to "
                            "the internet, or set MLPCORE_SOURCE to a copy of the repository "
                            "(e.g. file:///home/you/mlp-course), then run this cell again.")'''


def repository_url(config_path: Path = CONFIG) -> str:
    """The `repository.url` of _config.yml, without a trailing slash or `.git`."""
    import yaml

    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    try:
        url = str(config["repository"]["url"]).strip()
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{config_path} has no repository.url; the install cell needs it") from exc
    url = url.rstrip("/")
    return url[: -len(".git")] if url.endswith(".git") else url


def install_cell_source(config_path: Path = CONFIG) -> str:
    """The exact source text of the install cell (no trailing newline, as Jupyter stores it)."""
    return _TEMPLATE.format(url=repository_url(config_path))


def install_cell(config_path: Path = CONFIG):
    """A new nbformat code cell holding the install cell, tagged so the book hides it."""
    import nbformat

    cell = nbformat.v4.new_code_cell(install_cell_source(config_path))
    cell.metadata["tags"] = [INSTALL_CELL_TAG]
    return cell


def first_code_cell(nb) -> tuple[int, object] | tuple[None, None]:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            return index, cell
    return None, None


def check(path: Path, expected: str) -> list[str]:
    """Problems with a notebook's install cell, in words (empty list: all good)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    _, cell = first_code_cell(nb)
    if cell is None:
        return [f"{path}: has no code cell; its first code cell must be the install cell"]
    problems = []
    if cell.source != expected:
        problems.append(f"{path}: first code cell is not the install cell built from "
                        f"_config.yml; run: python -m booktools install-cell --fix {path}")
    if INSTALL_CELL_TAG not in cell.metadata.get("tags", []):
        problems.append(f"{path}: install cell lacks the {INSTALL_CELL_TAG!r} tag")
    return problems


def fix(path: Path, config_path: Path = CONFIG) -> bool:
    """Make the first code cell the install cell; True if the file changed.

    A first code cell that already starts like an install cell is replaced;
    otherwise the install cell is inserted before the first code cell.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    expected = install_cell_source(config_path)
    index, cell = first_code_cell(nb)
    if cell is not None and cell.source == expected and \
            INSTALL_CELL_TAG in cell.metadata.get("tags", []):
        return False
    new = install_cell(config_path)
    if cell is not None and cell.source.startswith(INSTALL_CELL_PREFIX):
        new.metadata = cell.metadata
        new.metadata.setdefault("tags", [])
        if INSTALL_CELL_TAG not in new.metadata["tags"]:
            new.metadata["tags"].append(INSTALL_CELL_TAG)
        new.id = cell.get("id", new.id)
        new.execution_count = cell.get("execution_count")  # a re-run changes only the text
        nb.cells[index] = new
    else:
        nb.cells.insert(index if index is not None else len(nb.cells), new)
    nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools install-cell",
                                     description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="report notebooks whose install cell differs")
    group.add_argument("--fix", action="store_true", help="write the install cell into the notebooks")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if not (args.check or args.fix):
        print(install_cell_source())
        return 0
    if args.fix:
        for path in args.notebooks:
            print(f"{path}: {'install cell written' if fix(path) else 'already up to date'}")
        return 0
    expected = install_cell_source()
    problems = [problem for path in args.notebooks for problem in check(path, expected)]
    print("\n".join(problems) or f"{len(args.notebooks)} notebook(s): install cell up to date")
    return 1 if problems else 0

