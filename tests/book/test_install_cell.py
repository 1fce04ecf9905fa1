"""Every chapter's first code cell is the install cell built from _config.yml, and it
does what it says: nothing where mlpcore and matplotlib are importable, pip install of
`mlpcore[plot]` from the repository named in _config.yml (or MLPCORE_SOURCE) where one
is missing, and one clear sentence, no traceback, when pip fails.

tests/book/test_install_cell_fresh_venv.py runs a whole chapter in a fresh environment.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from booktools.install_cell import INSTALL_CELL_TAG, first_code_cell, install_cell_source

ROOT = Path(__file__).resolve().parents[2]

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def config_repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/")


def test_the_cell_installs_from_the_repository_named_in_config():
    source = install_cell_source()
    assert f'"git+{config_repository_url()}"' in source
    assert '"-m", "pip", "install"' in source and "numpy" not in source, \
        "the cell must install mlpcore (and its plot extra) only, never numpy (Colab's numpy stays)"


def test_the_plot_extra_brings_what_the_chapters_import():
    """Every module a chapter imports is the standard library, numpy, mlpcore, or comes
    with mlpcore[plot]; torch and threadpoolctl are optional (imported under try)."""
    import re
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    brought = {"numpy", "mlpcore"} | {re.split(r"[<>=!~ \[]", requirement)[0]
                                      for requirement in project["optional-dependencies"]["plot"]}
    optional = {"torch", "threadpoolctl"}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            for name in re.findall(r"^\s*(?:import|from)\s+(\w+)", cell.source, re.MULTILINE):
                assert name in sys.stdlib_module_names or name in brought | optional, \
                    f"{path.name} imports {name}, which the install cell does not bring"


def test_the_cell_follows_a_change_of_repository(tmp_path):
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["repository"]["url"] = "https://github.com/someone-else/fork.git"
    other = tmp_path / "_config.yml"
    other.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert '"git+https://github.com/someone-else/fork"' in install_cell_source(other)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_install_cell(path):
    nb = nbformat.read(path, as_version=4)
    index, cell = first_code_cell(nb)
    assert cell is not None, f"{path.name} has no code cell"
    fix = f"run: python -m booktools install-cell --fix book/{path.name}"
    assert cell.source == install_cell_source(), \
        f"{path.name}: first code cell (cell {index}) differs from the install cell; {fix}"
    assert INSTALL_CELL_TAG in cell.metadata.get("tags", []), \
        f"{path.name}: the install cell must be tagged {INSTALL_CELL_TAG!r} so the book hides it"
    assert cell.get("outputs") == [], \
        f"{path.name}: the install cell has stored output; where mlpcore is installed it must print nothing"


# ---------------------------------------------------------------- the cell in IPython

@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    yield shell
    InteractiveShell.clear_instance()


def run(shell, source: str) -> None:
    result = shell.run_cell(source)
    assert result.success, f"the install cell raised: {result.error_in_exec or result.error_before_exec}"


class Pip:
    """Stands in for subprocess.run: records the pip command, answers like pip would."""

    def __init__(self, returncode=0, stderr=""):
        self.calls, self.returncode, self.stderr = [], returncode, stderr

    def __call__(self, command, **kwargs):
        import subprocess

        self.calls.append(command)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


@pytest.fixture
def pip(monkeypatch):
    import subprocess

    fake = Pip()
    monkeypatch.setattr(subprocess, "run", fake)
    return fake


def test_cell_does_nothing_where_mlpcore_and_matplotlib_are_installed(shell, pip, capsys):
    assert importlib.util.find_spec("mlpcore") is not None
    run(shell, install_cell_source())
    assert pip.calls == [] and capsys.readouterr().out == ""


def missing_until_pip(monkeypatch, pip, *names):
    """``names`` cannot be imported until the (fake) pip has run."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name in names and not pip.calls:
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize("absent", ["mlpcore", "matplotlib"])
def test_cell_installs_from_the_repository_when_a_package_is_missing(shell, pip, monkeypatch, absent):
    monkeypatch.delenv("MLPCORE_SOURCE", raising=False)
    missing_until_pip(monkeypatch, pip, absent)
    run(shell, install_cell_source())
    assert len(pip.calls) == 1
    assert pip.calls[0][:4] == [sys.executable, "-m", "pip", "install"], \
        "pip must install into the kernel's own Python"
    assert pip.calls[0][-1] == f"mlpcore[plot] @ git+{config_repository_url()}"


def test_mlpcore_source_overrides_the_repository(shell, pip, monkeypatch):
    monkeypatch.setenv("MLPCORE_SOURCE", "file:///some/checkout")
    missing_until_pip(monkeypatch, pip, "mlpcore")
    run(shell, install_cell_source())
    assert pip.calls[0][-1] == "mlpcore[plot] @ file:///some/checkout"


GIT_OFFLINE = """  error: subprocess-exited-with-error

  × git clone --filter=blob:none --quiet https://github.com/x/y /tmp/pip-req-build did not run successfully.
  │ exit code: 128
  ╰─> [1 lines of output]
      fatal: unable to access 'https://github.com/x/y/': Could not resolve host: github.com
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
error: subprocess-exited-with-error
"""


def test_a_failed_install_stops_with_one_sentence_and_no_traceback(shell, monkeypatch, capsys):
    import subprocess

    pip = Pip(returncode=1, stderr=GIT_OFFLINE)
    monkeypatch.setattr(subprocess, "run", pip)
    monkeypatch.delenv("MLPCORE_SOURCE", raising=False)
    missing_until_pip(monkeypatch, pip, "mlpcore")
    result = shell.run_cell(install_cell_source())
    assert not result.success and type(result.error_in_exec).__name__ == "InstallFailed"
    shown = capsys.readouterr().out.strip().splitlines()
    assert shown[0].startswith("Installing mlpcore[plot] from git+")
    assert len(shown) == 2, f"one sentence, no traceback: {shown}"
    sentence = shown[1]
    assert sentence.startswith(f"Could not install mlpcore from git+{config_repository_url()} "
                               "(pip said: fatal: unable to access"), sentence
    assert "MLPCORE_SOURCE" in sentence and "run this cell again" in sentence
    assert "Traceback" not in sentence and "subprocess-exited" not in sentence
