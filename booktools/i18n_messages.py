"""mlpcore's learner-facing messages (check() lines, hints, case names) as a catalogue.

The exercise modules are not wrapped in ``_()``: every string a learner can read is found
by reading the source (AST) of ``mlpcore/exercises/*.py``, and ``mlpcore.exercises``
translates what ``check()`` prints at display time by looking the English text up in
``mlpcore/locale/zh_CN/LC_MESSAGES/mlpcore.po`` (English when there is no translation).

What is extracted: every string literal (implicit concatenations joined) and every
f-string of those modules whose text, fields removed, has two words in a row; except
docstrings, the messages of ``raise`` (errors for the course's authors, not learners),
strings compared with ``==``/``in``, dictionary keys, arguments of ``re.*`` calls
(patterns) and ``importlib.import_module``, the translator ``_i18n.py``, and the ``id``/``function``/
``params``/``preamble`` of an ``Exercise``.

msgids: a plain literal is its text exactly. An f-string is its *template*: the literal
parts as displayed (a literal ``{`` or ``}`` doubled, as in ``str.format``), each field
written as in the source, ``{preview(expected)}``, ``{error:.3g}``, ``{name!r}``; such an
entry carries gettext's ``python-brace-format`` flag, and its translation must contain
exactly the same fields (any order), which ``check`` verifies. At display time a message
is matched against the templates (each field matching any text), the most specific
template wins, and the text each field matched is itself translated before it is put
into the translated template (so a hint inside "... (NumPy warned: ...)" is translated).
"""
from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from booktools.i18n import MLPCORE_PO, ROOT, format_errors, load, merge, new_catalogue

SOURCES = ROOT / "mlpcore" / "exercises"
SKIP_KEYWORDS = {"id", "function", "params", "preamble"}
#: The translator itself (it names the runner's templates to look them up).
SKIP_FILES = {"_i18n.py"}

_FIELD = re.compile(r"(?<!\{)\{(?!\{)((?:[^{}]|\{[^{}]*\})+)\}(?!\})")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _excluded(tree: ast.AST) -> set[int]:
    """ids of string nodes that are not displayed to a learner."""
    out = _docstrings(tree)
    for node in ast.walk(tree):
        under = []
        if isinstance(node, ast.Raise) and node.exc is not None:
            under.append(node.exc)
        elif isinstance(node, ast.Compare):
            under.extend([node.left, *node.comparators])
        elif isinstance(node, ast.Dict):
            under.extend(k for k in node.keys if k is not None)
        elif isinstance(node, ast.Subscript):
            under.append(node.slice)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and isinstance(node.func.value, ast.Name)
              and (node.func.value.id == "re" or node.func.attr == "import_module")):
            under.extend(node.args)   # regular expressions, module names
        elif isinstance(node, ast.keyword) and node.arg in SKIP_KEYWORDS:
            under.append(node.value)
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and "PREAMBLE" in t.id for t in node.targets):
            under.append(node.value)
        for sub in under:
            for n in ast.walk(sub):
                out.add(id(n))
    return out


def template_of(node: ast.AST, source: str) -> tuple[str, bool]:
    """(msgid, has fields) of a string literal or f-string node."""
    if isinstance(node, ast.Constant):
        return node.value, False
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(value.value.replace("{", "{{").replace("}", "}}"))
        else:
            expr = ast.get_source_segment(source, value.value)
            conv = {-1: "", 115: "!s", 114: "!r", 97: "!a"}[value.conversion]
            spec = ""
            if value.format_spec is not None:
                spec = ":" + "".join(
                    v.value if isinstance(v, ast.Constant)
                    else "{" + ast.get_source_segment(source, v.value) + "}"
                    for v in value.format_spec.values)
            parts.append("{" + " ".join(expr.split()) + conv + spec + "}")
    return "".join(parts), True


def fields(template: str) -> list[str]:
    return _FIELD.findall(template)


def literal_text(template: str, has_fields: bool) -> str:
    if not has_fields:
        return template
    return _FIELD.sub(" ", template).replace("{{", "{").replace("}}", "}")


def is_prose(template: str, has_fields: bool) -> bool:
    """Two words in a row; in an f-string, one word of three letters or more will do
    ("{points}/{max_points} points")."""
    text = literal_text(template, has_fields)
    if has_fields:
        return re.search(r"[A-Za-z]{3,}", text) is not None
    return re.search(r"[A-Za-z]+[ '-]+[A-Za-z]+", text) is not None


def message_entries():
    """(msgid, occurrences, comments, flags) of every learner-facing string, in the order
    of the files (sorted) and of the source; duplicates merged."""
    found: dict[str, list] = {}
    order = []
    for path in sorted(SOURCES.glob("*.py")):
        if path.name in SKIP_FILES:
            continue
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        skip = _excluded(tree)
        nested = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                for n in ast.walk(node):
                    if n is not node:
                        nested.add(id(n))
        nodes = [n for n in ast.walk(tree)
                 if (isinstance(n, ast.JoinedStr) or (isinstance(n, ast.Constant)
                                                      and isinstance(n.value, str)))
                 and id(n) not in skip and id(n) not in nested]
        for n in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
            msgid, has_fields = template_of(n, source)
            if not msgid.strip() or not is_prose(msgid, has_fields):
                continue
            occ = (path.relative_to(ROOT).as_posix(), str(n.lineno))
            if msgid not in found:
                found[msgid] = [[occ], set(["python-brace-format"] if has_fields else [])]
                order.append(msgid)
            elif occ not in found[msgid][0]:
                found[msgid][0].append(occ)
    return [(m, found[m][0], [], found[m][1]) for m in order]


def template_errors(msgid: str, msgstr: str, brace_format: bool = True) -> list[str]:
    """The fields of the msgid, each exactly once in the msgstr as often as in the msgid,
    nothing else in braces; code spans verbatim (booktools.i18n.format_errors)."""
    errors = []
    if brace_format:
        want, have = Counter(fields(msgid)), Counter(fields(msgstr))
        for f in sorted(want - have):
            errors.append(f"field {{{f}}} missing")
        for f in sorted(have - want):
            errors.append(f"field {{{f}}} not in the English")
        stray = _FIELD.sub("", msgstr).replace("{{", "").replace("}}", "")
        if "{" in stray or "}" in stray:
            errors.append("a single { or } (write {{ or }} for a literal brace)")
    errors.extend(e for e in format_errors(literal_text(msgid, brace_format),
                                           literal_text(msgstr, brace_format))
                  if not e.startswith("html"))
    return errors


def extract_messages() -> Path:
    old = load(MLPCORE_PO)
    po = new_catalogue("mlpcore's learner-facing messages (mlpcore/exercises)")
    merge(po, old, message_entries())
    MLPCORE_PO.parent.mkdir(parents=True, exist_ok=True)
    po.save(str(MLPCORE_PO))
    return MLPCORE_PO
