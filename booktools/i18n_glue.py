"""Glued phrases in Chinese: the glued values of the chapters that are words, not numbers.

Most glued values are numbers ("94.4"), which the Chinese book quotes as they are. Some
are short phrases the notebook chooses from what it measured: "below 1e-12",
"3 in every run", "within the band: no measurable effect". Left alone they would put
English clauses into Chinese sentences, so they have their own catalogue,
``locale/zh_CN/LC_MESSAGES/glue.po``: one entry per such value, with the chapter and the
glue name as its context (``02_dropout:clean_verdict``) and the value as its msgid. The
Chinese notebooks carry the translated phrase in that glue output and nothing else
changes: code, other outputs and every numeric glued value stay the English ones.

The check: a translation may quote only numbers the English value has (digits, or the
number words "none", "one" ... "ten"), so a phrase can drop "of 5" when the sentence
around it says it, but never change a measured number. When a re-executed chapter
glues a different phrase, its entry goes fuzzy and ``make test`` names it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

from booktools import i18n
from booktools.glued import glued_outputs, plain_value

GLUE_PO = i18n.LOCALE / "glue.po"

#: A glued value "has words" when letters remain after removing numbers in scientific
#: notation (1e-05 is a number, not a word).
_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?e[+-]?\d+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:e[+-]?\d+)?")
NUMBER_WORDS = {"none": "0", "no": "0", "zero": "0", "one": "1", "two": "2", "three": "3",
                "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
                "nine": "9", "ten": "10"}


def has_words(value: str) -> bool:
    return re.search(r"[A-Za-z]{2,}", _SCIENTIFIC.sub("", value)) is not None


def numbers(text: str) -> set[str]:
    """The numbers a text quotes: digit runs, and number words as digits."""
    found = set(_NUMBER.findall(text))
    found |= {NUMBER_WORDS[w] for w in re.findall(r"[A-Za-z]+", text.lower()) if w in NUMBER_WORDS}
    return found


def glue_errors(msgid: str, msgstr: str) -> list[str]:
    extra = sorted(set(_NUMBER.findall(msgstr)) - numbers(msgid))
    return [f"number {n} is not in the English value" for n in extra]


def _chapters() -> list[Path]:
    return [p for p in i18n.pages() if p.suffix == ".ipynb"]


def _glued_phrases_of(cells) -> Iterator[tuple[str, str, dict]]:
    """(name, value, output) of every glue output whose value is a string with words."""
    for name, bundle, output in glued_outputs(cells):
        value = plain_value(bundle)
        if isinstance(value, str) and has_words(value):
            yield name, value, output


def glued_phrases() -> list[tuple[str, str, str]]:
    """(context "page:name", value, cell) of every glued phrase of every chapter."""
    out = []
    for page in _chapters():
        nb = json.loads((i18n.ROOT / page).read_text(encoding="utf-8"))
        for index, cell in enumerate(nb["cells"]):
            out += [(f"{page.stem}:{name}", value, str(index))
                    for name, value, _ in _glued_phrases_of([cell])]
    return out


def extract_glue() -> Path:
    """(Re)write glue.po: a phrase whose value changed keeps its old translation, fuzzy."""
    import polib
    old = {e.msgctxt: e for e in (i18n.load(GLUE_PO) or []) if not e.obsolete}
    po = i18n.new_catalogue("the chapters' glued phrases")
    for context, value, cell in glued_phrases():
        page = context.split(":")[0]
        entry = polib.POEntry(msgctxt=context, msgid=value, msgstr="",
                              occurrences=[(f"book/{page}.ipynb", cell)],
                              comment=f"glued phrase; the sentence around it is in {page}.po")
        kept = old.get(context)
        if kept is not None and kept.msgstr:
            entry.msgstr = kept.msgstr
            if kept.msgid != value or "fuzzy" in kept.flags:
                entry.flags.append("fuzzy")
                entry.previous_msgid = kept.previous_msgid or kept.msgid
        po.append(entry)
    GLUE_PO.parent.mkdir(parents=True, exist_ok=True)
    po.save(str(GLUE_PO))
    return GLUE_PO


def check_glue() -> list:
    po = i18n.load(GLUE_PO)
    if po is None:
        return [i18n.Problem("glue", "no catalogue", "", "run python -m booktools.i18n extract")]
    have = {(e.msgctxt, e.msgid): e for e in po if not e.obsolete}
    problems = []
    for context, value, cell in glued_phrases():
        where = f"{context} (cell {cell})"
        e = have.get((context, value))
        if e is None:
            problems.append(i18n.Problem("glue", "not in catalogue", value,
                                         "run python -m booktools.i18n extract", where))
        elif not e.msgstr:
            problems.append(i18n.Problem("glue", "missing", value, occurrence=where))
        else:
            if "fuzzy" in e.flags:
                problems.append(i18n.Problem("glue", "fuzzy", value, "the chapter now glues "
                                             "this phrase: update, then remove the fuzzy flag",
                                             where))
            for err in glue_errors(value, e.msgstr):
                problems.append(i18n.Problem("glue", "format", value, err, where))
    # one English phrase, one Chinese phrase per page: the books are compared value by value
    seen: dict[tuple[str, str], str] = {}
    for e in po:
        if e.obsolete or not e.msgstr:
            continue
        key = (e.msgctxt.split(":")[0], e.msgid)
        if seen.setdefault(key, e.msgstr) != e.msgstr:
            problems.append(i18n.Problem("glue", "format", e.msgid, "translated differently "
                                         f"elsewhere in {key[0]} ({seen[key]!r})", e.msgctxt))
    return problems


def glue_table() -> dict[tuple[str, str], str]:
    """(context, English value) -> Chinese, for the usable entries."""
    po = i18n.load(GLUE_PO)
    return {(e.msgctxt, e.msgid): e.msgstr for e in (po or [])
            if not e.obsolete and e.msgstr and "fuzzy" not in e.flags
            and not glue_errors(e.msgid, e.msgstr)}


def translate_glue_outputs(nb: dict, page: str, table: dict[tuple[str, str], str]) -> int:
    """Replace the glued phrases of a chapter's outputs by their translations, in place;
    the number replaced."""
    done = 0
    for name, value, output in _glued_phrases_of(nb["cells"]):
        chinese = table.get((f"{page}:{name}", value))
        if chinese is not None:
            prefix = output["metadata"]["scrapbook"].get("mime_prefix", "")
            output["data"][prefix + "text/plain"] = repr(chinese)
            done += 1
    return done
