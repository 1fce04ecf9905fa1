"""Text from submissions made safe to print and to store.

A file name or a message can hold anything: terminal escape codes, a newline that
forges a line of the score table, a lone surrogate that no UTF-8 encoder accepts,
right-to-left overrides, megabytes of text. ``clean`` turns every such character into
a visible escape and truncates; everything shown or stored by the grader passes
through it.
"""
from __future__ import annotations

import os
import unicodedata

_ELLIPSIS = "…"


def clean(text, limit: int = 200) -> str:
    """``text`` with control, format and surrogate characters escaped (\\x1b, \\n,
    \\u202e, \\udcff), cut to ``limit`` characters."""
    if not isinstance(text, str):
        text = str(text)
    out = []
    size = 0
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            piece = char.encode("unicode_escape", "backslashreplace").decode("ascii") \
                if category != "Cs" else f"\\u{ord(char):04x}"
        else:
            piece = char
        size += len(piece)
        if size > limit:
            out.append(_ELLIPSIS)
            break
        out.append(piece)
    return "".join(out)


def clean_path(path) -> str:
    """A file name for display, whatever bytes it has (0xFF becomes \\xff)."""
    raw = os.fsencode(path)
    return clean(raw.decode("utf-8", "backslashreplace"), 300)
