"""The API reference of mlpcore (book/api.md), and links to it from anywhere in the book.

Loaded by _config.yml (`sphinx.local_extensions`). It adds:

- the ``mlpcore-api`` directive (reST, so book/api.md calls it inside ``{eval-rst}``,
  where autodoc's output is parsed as the reST it is): its content lists the modules to document, one per
  line (the one place to add a module; tests/book/test_api_reference.py fails when a public
  module is missing). For each module it writes a section with the module's docstring
  and, through autodoc, every name of its ``__all__`` that the module defines; a name
  it only re-exports is listed with a link to where it is documented, so each object
  is described once.
- a resolver for references to a name where it is *imported* rather than defined:
  ``{py:class}`mlpcore.Linear``` finds ``mlpcore.layers.Linear``. Chapters can then
  name things as readers import them.
"""
from __future__ import annotations

import importlib
import inspect
import re
from typing import TypeVar

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode, nested_parse_with_titles


def public_names(module) -> list[str]:
    """A module's public names: its __all__, or else the classes and functions it
    defines whose names do not start with '_'."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, obj in vars(module).items() if not name.startswith("_")
                 and defining_module(obj) == module.__name__]
    return list(names)


def defining_module(obj) -> str | None:
    return getattr(obj, "__module__", None) if (inspect.isclass(obj) or callable(obj)) else None


def canonical_name(name: str) -> str | None:
    """Where the object called `name` is defined (mlpcore.Linear -> mlpcore.layers.Linear)."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        owner_path = ".".join(parts[:split])
        try:
            for index, attribute in enumerate(parts[split:]):
                obj = getattr(obj, attribute)
                if inspect.isclass(obj) or inspect.isfunction(obj):
                    owner_path = f"{obj.__module__}.{obj.__qualname__}"
                else:
                    owner_path = f"{owner_path}.{attribute}"
        except AttributeError:
            return None
        return owner_path
    return None


def find_python_object(env, name: str) -> tuple[str, str] | None:
    """(docname, anchor) of the Python object or module `name`, also when it is named
    where it is re-exported; None if the book does not document it."""
    python = env.get_domain("py")
    for candidate in (name, canonical_name(name)):
        if not candidate:
            continue
        if candidate in python.objects:
            entry = python.objects[candidate]
            return entry.docname, entry.node_id
        if candidate in python.modules:
            entry = python.modules[candidate]
            return entry.docname, entry.node_id
    return None


def _lookup(name: str):
    try:
        module_name, _, attribute = name.rpartition(".")
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        return None


def resolve_reexported(app, env, node, contnode):
    """`missing-reference`: resolve a Python reference through its canonical name; a
    type variable of a signature (``Tensor``) is shown as plain text."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    module = node.get("py:module")
    candidates = [target] + ([f"{module}.{target}"] if module else [])
    if any(isinstance(_lookup(candidate), TypeVar) for candidate in candidates):
        return contnode
    for candidate in candidates:
        canonical = canonical_name(candidate)
        if canonical and canonical != candidate:
            found = find_python_object(env, canonical)
            if found:
                return make_refnode(app.builder, node["refdoc"], found[0], found[1],
                                    contnode, canonical)
    return None


class MlpcoreApi(SphinxDirective):
    """One section per listed module: docstring, the names it defines, its re-exports."""
    has_content = True

    def run(self):
        lines: list[str] = []
        modules = [line.strip() for line in self.content if line.strip()]
        for module_name in modules:
            lines += self.module_section(module_name, modules)
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source=self.get_source_info()[0]),
                                 container)
        return container.children

    def module_section(self, module_name: str, listed: list[str]) -> list[str]:
        module = importlib.import_module(module_name)
        lines = [f"``{module_name}``", "-" * (len(module_name) + 4), "",
                 f".. automodule:: {module_name}", "   :no-members:", ""]
        defined, reexported = [], []
        for name in public_names(module):
            obj = getattr(module, name)
            home = defining_module(obj)
            # Described here unless a listed module defines it (a private one does not count).
            if home is None or home == module_name or home not in listed:
                defined.append((name, obj))
            elif not inspect.ismodule(obj):
                reexported.append(f":py:obj:`~{home}.{name}`")
        for name, obj in defined:
            full = f"{module_name}.{name}"
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                lines += [f".. autoexception:: {full}", ""]
            elif inspect.isclass(obj):
                lines += [f".. autoclass:: {full}", "   :members:", "   :undoc-members:",
                          "   :show-inheritance:", ""]
            elif callable(obj):
                lines += [f".. autofunction:: {full}", ""]
            else:
                lines += [f".. autodata:: {full}", "   :no-value:", ""]
        if reexported:
            lines += [f"Also importable from ``{module_name}``: " + ", ".join(reexported) + ".", ""]
        return lines


# ---------------------------------------------------------------- docstrings as reST

# Spans reST must leave alone: literals, roles (:math:`...`) and interpreted text.
_LITERAL = re.compile(r"``.+?``|:[\w:+-]+:`[^`]*`|`[^`]*`_{0,2}")
_EMPHASIS = re.compile(r"(?<![\w*\\])(\*{1,2})(?=[^\s*])(.+?)(?<=[^\s\\])\1(?![\w*])")


_BULLET = re.compile(r"(?m)^[ \t]*\*(?=[ \t])")


def _escape_plain(text: str) -> str:
    """Escape `|`, and any `*` that is neither a bullet nor closes into *emphasis*."""
    kept: list[str] = []

    def keep(match):
        kept.append(match.group(0))
        return f"\0{len(kept) - 1}\0"

    text = _EMPHASIS.sub(keep, _BULLET.sub(keep, text))
    text = text.replace("|", "\\|").replace("*", "\\*")
    return re.sub(r"\0(\d+)\0", lambda m: kept[int(m.group(1))], text)


def _escape_prose(text: str) -> str:
    pieces, last = [], 0
    for match in _LITERAL.finditer(text):  # roles may span lines, so the whole paragraph
        pieces += [_escape_plain(text[last:match.start()]), match.group(0)]
        last = match.end()
    return "".join(pieces) + _escape_plain(text[last:])


def escape_docstring(lines: list[str]) -> list[str]:
    """The docstrings are written for people (``|x|`` is an absolute value, ``*kernel``
    a star argument), not all as strict reST: escape what reST would misread, outside
    literals, roles, ``.. math::`` and ``::`` blocks."""
    result: list[str] = []
    prose: list[str] = []
    block_indent = None

    def flush():
        if prose:
            result.extend(_escape_prose("\n".join(prose)).split("\n"))
            prose.clear()

    for line in lines:
        indent = len(line) - len(line.lstrip())
        if block_indent is not None and (not line.strip() or indent > block_indent):
            result.append(line)
            continue
        block_indent = None
        stripped = line.lstrip()
        if stripped.startswith((".. ", ">>>")):
            flush()
            result.append(line)
            block_indent = indent
            continue
        prose.append(line)
        if line.rstrip().endswith("::"):
            flush()
            block_indent = indent
    flush()
    return result


def process_docstring(app, what, name, obj, options, lines):
    # A constant without its own docstring would show its type's (dict's, tuple's).
    if what in ("data", "attribute") and not inspect.isclass(obj) and \
            getattr(obj, "__doc__", None) == getattr(type(obj), "__doc__", None):
        lines[:] = []
        return
    lines[:] = escape_docstring(lines)


def public_bases(app, name, obj, options, bases):
    """Show a class's public bases: a private base (_Activation) is replaced by its own."""
    expanded = []
    for base in bases:
        while getattr(base, "__name__", "").startswith("_") and base.__bases__ != (object,):
            base = base.__bases__[0]
        if base is not object and not getattr(base, "__name__", "").startswith("_"):
            expanded.append(base)
    bases[:] = expanded


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.add_directive("mlpcore-api", MlpcoreApi)
    app.connect("missing-reference", resolve_reexported)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("autodoc-process-bases", public_bases)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
