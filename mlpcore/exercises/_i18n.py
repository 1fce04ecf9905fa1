"""check() in the reader's language: what it prints, translated at display time.

The exercise modules write English. When a language is set (``set_language("zh_CN")``,
or the environment variable ``MLPCORE_LANG=zh_CN``), ``ExerciseResult.summary()`` looks
each piece up in ``mlpcore/locale/<lang>/LC_MESSAGES/mlpcore.po`` (extracted from the
sources by ``python -m booktools.i18n extract``): a case's name, message and hint, the
exercise's note, and the runner's fixed phrases. A piece is found either as it is, or by
matching one of the catalogue's templates (an f-string of the sources, each ``{field}``
matching any text; the most specific template wins), and then the text each field
matched is translated too before it goes into the translated template. Whatever has no
translation stays English, string by string. English (the default) prints exactly what
the runner's own ``lines()`` give. Standard library only: Colab installs mlpcore alone.
"""
from __future__ import annotations

import functools
import os
import re
from collections import Counter
from pathlib import Path
from typing import Optional

LANGUAGE_VARIABLE = "MLPCORE_LANG"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
_FIELD = re.compile(r"(?<!\{)\{(?!\{)((?:[^{}]|\{[^{}]*\})+)\}(?!\})")
_chosen: Optional[str] = None


def set_language(language: Optional[str]) -> None:
    """Print check()'s verdicts in ``language`` ("zh_CN"; "en" or None: English, or
    what MLPCORE_LANG says). Strings without a translation stay English."""
    global _chosen
    _chosen = language


def language() -> str:
    return _chosen or os.environ.get(LANGUAGE_VARIABLE, "") or "en"


def _unquote(text: str) -> str:
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def read_po(path: Path) -> dict[str, tuple[str, bool]]:
    """{msgid: (msgstr, has python-brace-format flag)} of the translated, non-fuzzy,
    non-obsolete entries of a PO file (entries are separated by blank lines)."""
    entries: dict[str, tuple[str, bool]] = {}
    for block in re.split(r"\n[ \t]*\n", path.read_text(encoding="utf-8")):
        flags: set[str] = set()
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("#~"):      # obsolete
                fields = {}
                break
            if line.startswith("#,"):
                flags |= {f.strip() for f in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith("msg"):
                key, _, rest = line.partition(" ")
                fields[key] = _unquote(rest.strip()[1:-1])
            elif line.startswith('"') and key:
                fields[key] += _unquote(line[1:-1])
        if fields.get("msgid") and fields.get("msgstr") and "fuzzy" not in flags:
            entries[fields["msgid"]] = (fields["msgstr"], "python-brace-format" in flags)
    return entries


class Catalogue:
    def __init__(self, entries: dict[str, tuple[str, bool]]):
        self.exact = {m: s for m, (s, brace) in entries.items() if not brace}
        self.templates = []
        for msgid, (msgstr, brace) in entries.items():
            if not brace:
                continue
            fields = _FIELD.findall(msgid)
            if Counter(fields) != Counter(_FIELD.findall(msgstr)):
                continue   # a broken translation: English (booktools.i18n check says why)
            if not fields:
                self.exact[_literal(msgid)] = _literal(msgstr)
                continue
            self.templates.append((msgid, msgstr, _pattern(msgid)))
        # most specific first: more literal text, then fewer fields
        self.templates.sort(key=lambda t: (-len(_FIELD.sub("", t[0])), len(_FIELD.findall(t[0]))))
        self.by_template = {m: s for m, s, _ in self.templates}

    def translate(self, text: str, depth: int = 0) -> str:
        if not text or depth > 4:
            return text
        if text in self.exact:
            return self.exact[text]
        for msgid, msgstr, pattern in self.templates:
            m = pattern.fullmatch(text)
            if m is None:
                continue
            values = {}
            for name, field in zip(m.groupdict(), _FIELD.findall(msgid)):
                values.setdefault(field, m.group(name))
            return fill(msgstr, {f: self.translate(v, depth + 1) for f, v in values.items()})
        return text

    def format(self, template: str, **values: str) -> str:
        """The runner's own template (its f-string's text, as extracted) translated and
        filled with ``values`` (keyed by the field's text)."""
        return fill(self.by_template.get(template, template), values)


def _literal(template: str) -> str:
    return template.replace("{{", "{").replace("}}", "}")


def _pattern(template: str) -> re.Pattern:
    parts, seen, last = [], {}, 0
    for m in _FIELD.finditer(template):
        parts.append(re.escape(_literal(template[last:m.start()])))
        field = m.group(1)
        if field in seen:
            parts.append(f"(?P={seen[field]})")
        else:
            seen[field] = f"g{len(seen)}"
            parts.append(f"(?P<{seen[field]}>.+?)")
        last = m.end()
    parts.append(re.escape(_literal(template[last:])))
    return re.compile("".join(parts), re.S)


def fill(template: str, values: dict[str, str]) -> str:
    out, last = [], 0
    for m in _FIELD.finditer(template):
        out.append(_literal(template[last:m.start()]))
        out.append(values.get(m.group(1), m.group(0)))
        last = m.end()
    out.append(_literal(template[last:]))
    return "".join(out)


@functools.lru_cache(maxsize=8)
def catalogue(lang: str) -> Optional[Catalogue]:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "mlpcore.po"
    if not path.exists():
        return None
    return Catalogue(read_po(path))


# The runner's line templates, as extracted from mlpcore/exercises/_runner.py (a test
# checks that each is still there, word for word).
HEADER = "{self.exercise}: {self.points}/{self.max_points} points, {verdict}"
ERROR = "{self.exercise}: {self.points}/{self.max_points} points. {FAIL_MARK} {self.message}"
TODO_CASE = "  {TODO_MARK} {self.name}: not attempted yet"
HINT = " → hint: {self.hint}"
TEMPLATES = (HEADER, ERROR, TODO_CASE, HINT)


def localized_lines(result) -> list[str]:
    """``result.lines()`` in the current language."""
    lang = language()
    cat = None if lang.split("_")[0] == "en" else catalogue(lang)
    if cat is None:
        return result.lines()
    from mlpcore.exercises._runner import FAIL_MARK, NOT_ATTEMPTED, PASS_MARK, TODO_MARK
    tr = cat.translate
    if result.status == "not_attempted":
        return [f"{result.exercise}: {tr(NOT_ATTEMPTED)}"]
    common = {"self.exercise": result.exercise, "self.points": str(result.points),
              "self.max_points": str(result.max_points), "FAIL_MARK": FAIL_MARK}
    if result.status == "error":
        return [cat.format(ERROR, **common, **{"self.message": tr(result.message)})]
    verdict = tr("all cases pass" if result.status == "passed" else "see below")
    lines = [cat.format(HEADER, **common, verdict=verdict)]
    for case in result.cases:
        name = tr(case.name)
        if case.status == "passed":
            lines.append(f"  {PASS_MARK} {name}")
        elif case.status == "not_attempted":
            lines.append(cat.format(TODO_CASE, TODO_MARK=TODO_MARK, **{"self.name": name}))
        else:
            hint = cat.format(HINT, **{"self.hint": tr(case.hint)}) if case.hint else ""
            lines.append(f"  {FAIL_MARK} {name}: {tr(case.message)}{hint}")
    if result.message:
        lines.append(f"  {tr(result.message)}")
    return lines
