"""Every chapter's first code cell is the install cell built from _config.yml, and it
does what it says: nothing where mlpcore is importable, `%pip install` from the
repository named in _config.yml (or MLPCORE_SOURCE) where it is missing.

tests/test_install_cell_fresh_venv.py runs a whole chapter in a fresh environment.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from install_cell import INSTALL_CELL_TAG, first_code_cell, install_cell_source  # noqa: E402

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def config_repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/")


def test_the_cell_installs_from_the_repository_named_in_config():
    source = install_cell_source()
    assert f'"git+{config_repository_url()}"' in source
    assert "%pip install" in source and "numpy" not in source, \
        "the cell must install mlpcore only, never numpy (Colab's numpy stays)"


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
    fix = f"run: python tools/install_cell.py --fix book/{path.name}"
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
    calls: list[str] = []
    shell.register_magic_function(lambda line: calls.append(line), "line", "pip")
    shell.pip_calls = calls
    yield shell
    InteractiveShell.clear_instance()


def run(shell, source: str) -> None:
    result = shell.run_cell(source)
    assert result.success, f"the install cell raised: {result.error_in_exec or result.error_before_exec}"


def test_cell_does_nothing_where_mlpcore_is_installed(shell):
    assert importlib.util.find_spec("mlpcore") is not None
    run(shell, install_cell_source())
    assert shell.pip_calls == []


@pytest.fixture
def mlpcore_missing(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "mlpcore" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_cell_installs_from_the_repository_when_mlpcore_is_missing(shell, mlpcore_missing, monkeypatch):
    monkeypatch.delenv("MLPCORE_SOURCE", raising=False)
    run(shell, install_cell_source())
    assert shell.pip_calls == [f'install --quiet "mlpcore @ git+{config_repository_url()}"']


def test_mlpcore_source_overrides_the_repository(shell, mlpcore_missing, monkeypatch):
    monkeypatch.setenv("MLPCORE_SOURCE", "file:///some/checkout")
    run(shell, install_cell_source())
    assert shell.pip_calls == ['install --quiet "mlpcore @ file:///some/checkout"']
