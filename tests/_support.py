"""What tests in more than one folder share: the checkout, the built book and its pages.

`built_book()` builds _build/html (and with it the notebook edition, _build/edition)
when it is missing or older than anything it is built from, as `make book` does, and
returns the output folders. `make test` builds first (the strict build), so there
this finds the build fresh and does nothing. `toc_pages()` lists the pages of
_toc.yml for the book and browser tests.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
"""The checkout (the tests run from any folder)."""
HTML = ROOT / "_build" / "html"
EDITION = ROOT / "_build" / "edition"


def _sources() -> list[Path]:
    files = [ROOT / "_config.yml", ROOT / "_toc.yml"]
    for folder in ("book", "booktools", "mlpcore"):
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file()
                  and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts]
    return files


def built_book() -> tuple[Path, Path]:
    """(_build/html, _build/edition), built first if missing or stale."""
    stamp = HTML / "searchindex.js"  # Sphinx rewrites it at the end of every build
    newest = max(_sources(), key=lambda p: p.stat().st_mtime)
    if stamp.exists() and EDITION.exists() and stamp.stat().st_mtime >= newest.stat().st_mtime:
        return HTML, EDITION
    reason = "missing" if not stamp.exists() else f"older than {newest.relative_to(ROOT)}"
    print(f"\n_build/html is {reason}: building the book first (jupyter-book build .)")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book",
               "build", str(ROOT), "--keep-going"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0 or not stamp.exists():
        pytest.fail(f"Could not build the book ({' '.join(command)} exited "
                    f"{result.returncode}):\n" + (result.stdout + result.stderr)[-3000:])
    return HTML, EDITION


def edition_path(book_path: Path) -> Path:
    """The notebook edition of a book chapter, where the student edition starts
    (booktools/make_student_edition.py); the book is built first if the edition is stale."""
    return built_book()[1] / "book" / Path(book_path).name


def toc_pages() -> list[str]:
    """Every document of _toc.yml (root first), as paths without suffix, e.g. 'book/intro'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(str(entry["file"]).rsplit(".", 1)[0]
                             if str(entry["file"]).endswith((".md", ".ipynb")) else str(entry["file"]))
            walk(entry.get("chapters"))
            walk(entry.get("sections"))
            walk(entry.get("parts"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return pages
