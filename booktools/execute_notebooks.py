"""Execute notebooks in place so their stored outputs are what the code produces now.

Usage: python -m booktools execute book/*.ipynb

Runs each notebook top to bottom in a fresh kernel of this environment, with its own
folder as the working directory (as nbval does), and writes it back without timing
metadata, so a re-run that changes nothing leaves git clean.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def strip_timing(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        cell.metadata.pop("execution", None)


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    strip_timing(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools execute",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help="the notebooks to execute in place")
    paths = parser.parse_args(argv).notebooks
    os.environ.setdefault("MLPCORE_QUIET", "1")
    for name in paths:
        seconds = execute(Path(name))
        print(f"{name}: executed in {seconds:.1f} s")
    return 0

