"""The API reference (book/api.md, built by booktools/api_reference.py) covers mlpcore.

Every public module (each `mlpcore.<name>` not starting with `_`, and `mlpcore`
itself) must be in the page's module list, and the built page must describe or link
every public name of each. The strict build (`make test`) proves the page has no
broken reference and that `{py:...}` roles resolve, including names as they are
imported (`mlpcore.Linear` for `mlpcore.layers.Linear`).
"""
from __future__ import annotations

import importlib
import pkgutil
import re

import mlpcore

from booktools.api_reference import canonical_name, defining_module, escape_docstring, public_names
from tests._support import ROOT, built_book

API_PAGE = ROOT / "book" / "api.md"


def listed_modules() -> list[str]:
    match = re.search(r"\.\. mlpcore-api::\n\n((?:   \S+\n)+)", API_PAGE.read_text(encoding="utf-8"))
    assert match, "book/api.md has no mlpcore-api directive with a module list"
    return match.group(1).split()


def public_modules() -> list[str]:
    """mlpcore and each mlpcore.<name> not starting with '_' that has public names
    (mlpcore.datasets only holds a data file; the exercises' case files are part of
    mlpcore.exercises, which is listed itself)."""
    found = ["mlpcore"]
    for info in pkgutil.iter_modules(mlpcore.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"mlpcore.{info.name}")
        if public_names(module):
            found.append(module.__name__)
    return found


def test_every_public_module_is_on_the_api_page():
    missing = sorted(set(public_modules()) - set(listed_modules()))
    assert not missing, (f"public modules missing from the API reference: {missing}; add "
                         "each, one per line, to the mlpcore-api list in book/api.md")


def test_every_listed_module_exists_once():
    listed = listed_modules()
    assert len(listed) == len(set(listed)), f"a module is listed twice in book/api.md: {listed}"
    for name in listed:
        importlib.import_module(name)


def test_every_public_name_is_described_or_linked():
    html = (built_book()[0] / "book" / "api.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'id="([^"]+)"', html))
    links = set(re.findall(r'href="#([^"]+)"', html))
    missing = []
    for module_name in listed_modules():
        module = importlib.import_module(module_name)
        for name in public_names(module):
            obj = getattr(module, name)
            home = defining_module(obj)
            target = f"{home}.{name}" if home and home != module_name and \
                home in listed_modules() else f"{module_name}.{name}"
            if target not in ids or (target != f"{module_name}.{name}" and target not in links):
                missing.append(f"{module_name}.{name}")
    assert not missing, f"public names the API page neither describes nor links: {missing}"


def test_docstring_math_is_rendered():
    html = (built_book()[0] / "book" / "api.html").read_text(encoding="utf-8")
    linear = html[html.index('id="mlpcore.layers.Linear"'):]
    linear = linear[:linear.index("</dl>")]
    assert 'class="math' in linear and r"y = x W + b" in linear, \
        "Linear's docstring formula should reach the page as math for MathJax"


def test_names_resolve_where_they_are_imported():
    assert canonical_name("mlpcore.Linear") == "mlpcore.layers.Linear"
    assert canonical_name("mlpcore.layers.ReLU") == "mlpcore.activations.ReLU"
    assert canonical_name("mlpcore.Linear.backward") == "mlpcore.layers.Linear.backward"
    assert canonical_name("mlpcore.Linear.parameters") == "mlpcore.module.Module.parameters"
    assert canonical_name("mlpcore.no_such_name") is None


def test_docstrings_are_escaped_only_where_rest_would_misread_them():
    lines = ["p-norm (sum_i |a_i|^p)^(1/p) of (in, out, *kernel);",
             "* a bullet with :math:`|x| * 2` and ``a|b`` and *emphasis*",
             ".. math::", "   |x|", "Example::", "", "    a * b |c|"]
    assert escape_docstring(lines) == [
        r"p-norm (sum_i \|a_i\|^p)^(1/p) of (in, out, \*kernel);",
        "* a bullet with :math:`|x| * 2` and ``a|b`` and *emphasis*",
        ".. math::", "   |x|", "Example::", "", "    a * b |c|"]
