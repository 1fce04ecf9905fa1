"""A whole chapter of the notebook edition (what Colab and Jupyter open) runs top to
bottom in a fresh environment where mlpcore and matplotlib are not installed: its first
cell installs `mlpcore[plot]`, from this checkout instead of GitHub
(MLPCORE_SOURCE=file://...), and leaves numpy alone. Before that, the same cell with a
source pip cannot use stops the notebook with one sentence, not a pip log.

The environment gets numpy and ipykernel (pinned by constraints.txt) from the package
index, and the install cell matplotlib, so the test needs the index and takes a minute
or two; it runs in CI as part of `make test`. The install source is a snapshot of the
checkout in a temporary folder, because pip builds a local directory in place and
would leave build/ and *.egg-info in the working tree.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests._support import built_book

ROOT = Path(__file__).resolve().parents[2]
# A kernel with numpy but neither mlpcore nor matplotlib: the install cell brings both.
PRELOADED = ["numpy", "ipykernel"]
KERNEL = "mlpcore-fresh-venv"
PROBE = """
import importlib.metadata as md, importlib.util, json, os
numpy = md.distribution("numpy")
record = [f for f in numpy.files if f.name == "RECORD"][0]
spec = importlib.util.find_spec("mlpcore")
direct = None
if spec is not None:
    text = md.distribution("mlpcore").read_text("direct_url.json")
    direct = json.loads(text) if text else None
print(json.dumps({
    "numpy_version": numpy.version,
    "numpy_record_mtime": os.path.getmtime(numpy.locate_file(record)),
    "mlpcore": None if spec is None else spec.origin,
    "mlpcore_direct_url": direct,
}))
"""


def chapter_to_run() -> Path | None:
    """The edition of chapter 0 (the cheapest) if it exists, else of the first chapter."""
    edition = built_book()[1] / "book"
    preferred = edition / "00_mlp_in_numpy.ipynb"
    chapters = sorted(edition.glob("*.ipynb"))
    return preferred if preferred.exists() else (chapters[0] if chapters else None)


def probe(python: Path) -> dict:
    result = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True,
                            cwd="/", check=True)
    return json.loads(result.stdout)


def snapshot_checkout(destination: Path) -> Path:
    """The checkout's files as they are now (uncommitted edits included), minus build output."""
    ignore = shutil.ignore_patterns(".git", ".venv", "_build", "build", "student", "*.egg-info",
                                    "__pycache__", ".pytest_cache", ".ipynb_checkpoints")
    shutil.copytree(ROOT, destination, ignore=ignore)
    return destination


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "-c", str(ROOT / "constraints.txt"), *PRELOADED],
        capture_output=True, text=True)
    if install.returncode != 0:
        pytest.fail("could not install numpy and ipykernel into a fresh "
                    f"environment (needs the package index):\n{install.stderr[-2000:]}")
    # A kernel spec for this environment only; JUPYTER_PATH puts it first.
    kernel_dir = base / "jupyter" / "kernels" / KERNEL
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh venv without mlpcore", "language": "python"}))
    return {"python": python, "jupyter_path": base / "jupyter", "base": base}


def kernel_environment(monkeypatch, fresh_venv, source: str) -> None:
    monkeypatch.setenv("MLPCORE_SOURCE", source)
    monkeypatch.setenv("JUPYTER_PATH", str(fresh_venv["jupyter_path"]))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    # The kernel must draw figures as in Colab (inline), not with the tests' Agg backend.
    monkeypatch.delenv("MPLBACKEND", raising=False)


def test_a_failed_install_stops_the_notebook_with_one_sentence(fresh_venv, monkeypatch, tmp_path):
    """Runs first (file order), while mlpcore is still missing: a source pip cannot
    install stands for being offline."""
    chapter = chapter_to_run()
    if chapter is None:
        pytest.skip("no chapter notebook in the edition yet")
    wrong = (tmp_path / "no-such-checkout").as_uri()
    kernel_environment(monkeypatch, fresh_venv, wrong)
    nb = nbformat.read(chapter, as_version=4)
    nb.cells = nb.cells[:2]  # the install cell, and what comes after it
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=300, record_timing=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as failed:
        client.execute()
    assert failed.value.ename == "InstallFailed", failed.value
    (error,) = [o for o in nb.cells[0].outputs if o.output_type == "error"]
    assert len(error.traceback) == 1, f"one sentence, no traceback: {error.traceback}"
    sentence = error.traceback[0]
    assert sentence.startswith(f"Could not install mlpcore from {wrong} (pip said: "), sentence
    assert "MLPCORE_SOURCE" in sentence and sentence.endswith("then run this cell again.")
    assert probe(fresh_venv["python"])["mlpcore"] is None


def test_chapter_installs_mlpcore_in_a_fresh_environment(fresh_venv, monkeypatch):
    chapter = chapter_to_run()
    if chapter is None:
        pytest.skip("no chapter notebook in the edition yet")
    python = fresh_venv["python"]
    before = probe(python)
    assert before["mlpcore"] is None, \
        f"mlpcore is already importable in the fresh environment: {before['mlpcore']}"

    source = snapshot_checkout(fresh_venv["base"] / "checkout")
    kernel_environment(monkeypatch, fresh_venv, source.as_uri())

    nb = nbformat.read(chapter, as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=300, record_timing=False,
                            resources={"metadata": {"path": str(chapter.parent)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the failing cell, if any cell fails
    seconds = time.perf_counter() - start

    install_output = "".join(o.get("text", "") for o in nb.cells[0].get("outputs", []))
    after = probe(python)
    assert after["mlpcore"] is not None, "the install cell ran but mlpcore is still missing"
    assert str(fresh_venv["base"] / "venv") in after["mlpcore"], \
        f"mlpcore imported from {after['mlpcore']}, not from the fresh environment"
    direct_url = after["mlpcore_direct_url"] or {}
    assert direct_url.get("url") == source.as_uri(), \
        f"mlpcore was not installed from the checkout: {direct_url}\n{install_output}"
    assert (after["numpy_version"], after["numpy_record_mtime"]) == \
        (before["numpy_version"], before["numpy_record_mtime"]), \
        "installing mlpcore reinstalled numpy; Colab's numpy must be kept"
    print(f"{chapter.name} ran in a fresh environment in {seconds:.0f} s")
