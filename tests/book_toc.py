"""The pages of the book as _toc.yml lists them; shared by the book and browser tests."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def toc_pages() -> list[str]:
    """Every document of _toc.yml (root first), as paths without suffix, e.g. 'book/intro'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(str(entry["file"]).rsplit(".", 1)[0]
                             if str(entry["file"]).endswith((".md", ".ipynb")) else str(entry["file"]))
            walk(entry.get("chapters"))
            walk(entry.get("sections"))
            walk(entry.get("parts"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return pages
