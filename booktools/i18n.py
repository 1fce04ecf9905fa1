"""The Chinese edition: one English source, the Chinese prose in gettext catalogues.

    python -m booktools.i18n extract [PAGE ...]   # (re)write locale/zh_CN/LC_MESSAGES/<page>.po
                                                  # and mlpcore/locale/zh_CN/LC_MESSAGES/mlpcore.po
    python -m booktools.i18n check [PAGE ...]     # missing / fuzzy / format errors, per entry
    python -m booktools.i18n apply [--out DIR]    # the Chinese sources (default _build/zh/src)
    python -m booktools.i18n build [--strict]     # apply, then build _build/html/zh

PAGE is a page's stem (``01_weight_decay``, ``intro``) or ``mlpcore``; none means all.

How a page is cut into entries (the msgid rules; locale/README.md says the same for
translators). Every Markdown cell of a notebook, and every .md page, is tokenised by the
parser myst-parser itself builds (``myst_parser.parsers.mdit.create_md_parser`` with the
book's ``myst_enable_extensions``), and every *leaf block* with words in it is one entry:

* a paragraph (also inside list items, block quotes, footnotes and directive bodies),
  a heading, a table cell, a definition-list term; msgid = the block's Markdown source as
  markdown-it gives it as the block's inline content: list markers, ``#`` of headings,
  ``>`` of quotes, table pipes and the indentation of a nested block are *outside* the
  msgid; line breaks inside a paragraph are kept as in the source;
* directives (```` ```{note} ````, ``:::{admonition}``, ``{figure}``, ``{dropdown}``,
  ``{glue:figure}`` ...) are recursed into: their option lines (``:alt: ...`` or a YAML
  block) are not translated, their Markdown body is cut by the same rules, and the title
  argument of ``{admonition}``/``{dropdown}``/``{topic}``/``{sidebar}`` is one entry;
  the ``{glossary}`` directive's definitions are entries, its term lines are not (they are
  the targets of ``{term}`` roles, and already list the Chinese names);
* in a notebook's code cell, the figure's alt text and caption (``mystnb`` metadata:
  ``image.alt``, ``figure.caption``) are entries too (plain text, msgid = the string);
  the cell's source and outputs are never touched;
* not translated: code fences and ``{code-cell}``, ``{math}``, ``$$...$$`` and amsmath
  blocks, HTML blocks and comments, ``(label)=`` targets, ``% comments``, ``{eval-rst}``,
  ``{bibliography}``, ``{chapter-list}``; and a block whose text, once roles other than
  ``{term}``, math and code spans are removed, has no letter in it (numbers, a lone glue).

Entries are in the page's order; a msgid that occurs twice in a page is one entry with
both occurrences (gettext's rule: one translation per page for the same English text).
Occurrences read ``book/X.ipynb:N`` with N the notebook's cell index (0-based), or
``book/X.md:N`` with N the line (1-based); the extracted comment says the kind of block
and its line in the cell.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Iterable, Iterator, Optional

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "zh_CN"
LOCALE = ROOT / "locale" / LANGUAGE / "LC_MESSAGES"
MLPCORE_PO = ROOT / "mlpcore" / "locale" / LANGUAGE / "LC_MESSAGES" / "mlpcore.po"
DEFAULT_OUT = ROOT / "_build" / "zh" / "src"

#: Directives whose body is Markdown (recursed into); their argument is translated when
#: listed in TITLED. Any other directive is left as it is (a warning names unknown ones).
MARKDOWN_BODY = {
    "admonition", "note", "warning", "tip", "important", "hint", "caution", "attention",
    "danger", "error", "seealso", "dropdown", "topic", "sidebar", "epigraph", "margin",
    "pull-quote", "highlights", "figure", "glue:figure", "glue:", "container", "div",
    "card", "tab-item", "prf:definition", "prf:theorem",
}
TITLED = {"admonition", "dropdown", "topic", "sidebar", "card", "tab-item", "rubric"}
NOT_TRANSLATED = {
    "math", "code", "code-block", "code-cell", "sourcecode", "eval-rst", "bibliography",
    "chapter-list", "raw", "toctree", "tableofcontents", "literalinclude", "include",
    "glue:math", "image", "mlpcore-api",
}

# ---------------------------------------------------------------------------------------
# Parsing: leaf blocks with their exact place in the source
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Block:
    """One translatable block. ``spans`` are (line, start, end) in the text it was cut
    from, one per line of the msgid and in order: line i of the msgid is
    ``lines[line][start:end]`` of the source (the text outside the spans is prefix:
    indentation, list markers, ``>``, ``#``, table pipes)."""
    msgid: str
    spans: tuple[tuple[int, int, int], ...]
    kind: str
    single_line: bool = False  # headings, table cells, titles: a translation must be one line

    @property
    def line(self) -> int:
        return self.spans[0][0]

    def shifted(self, line_offset: int, columns: list[int]) -> "Block":
        """The block in the enclosing text: sub-text line j is enclosing line
        line_offset + j, starting at column columns[j]."""
        return dataclasses.replace(self, spans=tuple(
            (line_offset + ln, columns[ln] + a, columns[ln] + b) for ln, a, b in self.spans))


_PARSER = None


def _book_extensions() -> list[str]:
    import yaml
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return list(config.get("parse", {}).get("myst_enable_extensions", []))


def parser():
    """markdown-it as myst-parser sets it up for this book (same plugins, same options)."""
    global _PARSER
    if _PARSER is None:
        from markdown_it.renderer import RendererHTML
        from myst_parser.config.main import MdParserConfig
        from myst_parser.parsers.mdit import create_md_parser
        _PARSER = create_md_parser(MdParserConfig(enable_extensions=set(_book_extensions())),
                                   RendererHTML)
    return _PARSER


_ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")
_TERM = re.compile(r"\{term\}`([^`]*)`")
_DOLLAR = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$", re.S)
_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)


def has_words(text: str) -> bool:
    """Does the block have anything to translate? Roles (but a {term}'s text), math and
    code spans do not count; a letter in what remains does."""
    text = _TERM.sub(lambda m: m.group(1), text)
    for pattern in (_ROLE, _DOLLAR, _CODE):
        text = pattern.sub(" ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r"<[^>]+>", " ", text)      # HTML tags / anchors
    return re.search(r"[^\W\d_]", text) is not None


def _suffix_columns(lines: list[str], first: int, content: str) -> Optional[list[int]]:
    """Columns at which the lines of ``content`` start in lines[first:]: each content line
    must be a suffix of its source line, the last one possibly followed by blanks or a
    heading's closing #s. None if the content is not laid out so."""
    cols = []
    parts = content.split("\n")
    for i, part in enumerate(parts):
        if first + i >= len(lines):
            return None
        src = lines[first + i]
        last = i == len(parts) - 1
        if not last:
            if not src.endswith(part):
                return None
            cols.append(len(src) - len(part))
            continue
        start = 0
        while True:
            col = src.find(part, start)
            if col < 0:
                return None
            rest = src[col + len(part):]
            prefix_ok = i > 0 or re.fullmatch(r"[\s>*+\-#0-9.):]*", src[:col]) is not None
            if prefix_ok and re.fullmatch(r"\s*(#+\s*)?", rest):
                cols.append(col)
                break
            start = col + 1
    return cols


def _table_cells(row: str) -> list[tuple[int, int]]:
    """(start, end) of each cell's trimmed text in a table row, as markdown-it splits it
    (unescaped pipes; a leading and a trailing pipe do not open a cell)."""
    bounds, i = [], 0
    pipes = [-1]
    while i < len(row):
        if row[i] == "\\":
            i += 2
            continue
        if row[i] == "|":
            pipes.append(i)
        i += 1
    pipes.append(len(row))
    segments = [(pipes[k] + 1, pipes[k + 1]) for k in range(len(pipes) - 1)]
    if segments and not row[segments[0][0]:segments[0][1]].strip():
        segments = segments[1:]
    if segments and not row[segments[-1][0]:segments[-1][1]].strip():
        segments = segments[:-1]
    for a, b in segments:
        text = row[a:b]
        lead = len(text) - len(text.lstrip())
        bounds.append((a + lead, a + len(text.rstrip())))
    return bounds


def _directive(info: str) -> tuple[Optional[str], str]:
    m = re.match(r"\{([^}\s]+)\}\s*(.*)$", info.strip())
    return (m.group(1), m.group(2)) if m else (None, "")


def _body_start(body_lines: list[str]) -> int:
    """First line of a directive body after its options (``:key: value`` lines or a
    ``---`` YAML block, and one blank line after them)."""
    j = 0
    if body_lines and body_lines[0].strip() == "---":
        j = 1
        while j < len(body_lines) and body_lines[j].strip() != "---":
            j += 1
        j += 1
    else:
        while j < len(body_lines) and re.match(r"\s*:[\w-]+:", body_lines[j]):
            j += 1
    return j


class CutError(ValueError):
    pass


def blocks(text: str, warn=None) -> list[Block]:
    """Every translatable block of one Markdown text, in order of position."""
    lines = text.split("\n")
    tokens = parser().parse(text)
    found: list[Block] = []
    row_line = None
    cell_index = 0
    row_cells: list[tuple[int, int]] = []
    parent = None
    for tok in tokens:
        if tok.type == "tr_open":
            row_line = tok.map[0]
            row_cells = _table_cells(lines[row_line])
            cell_index = 0
        elif tok.type in ("th_open", "td_open"):
            parent = "table cell"
        elif tok.type in ("paragraph_open", "heading_open", "dt_open"):
            parent = {"paragraph_open": "paragraph", "heading_open": "heading",
                      "dt_open": "term"}[tok.type]
            parent_map = tok.map
        elif tok.type == "inline":
            if parent == "table cell":
                if cell_index < len(row_cells):
                    a, b = row_cells[cell_index]
                    if lines[row_line][a:b] != tok.content:
                        raise CutError(f"line {row_line + 1}: table cell {cell_index} is "
                                       f"{tok.content!r}, not {lines[row_line][a:b]!r}")
                    if tok.content and has_words(tok.content):
                        found.append(Block(tok.content, ((row_line, a, b),), "table cell", True))
                cell_index += 1
            elif parent in ("paragraph", "heading", "term") and tok.content.strip():
                first = (tok.map or parent_map)[0]
                cols = _suffix_columns(lines, first, tok.content)
                if cols is None:
                    raise CutError(f"line {first + 1}: cannot place {tok.content[:60]!r}")
                if has_words(tok.content):
                    spans = tuple((first + i, c, c + len(part)) for i, (c, part)
                                  in enumerate(zip(cols, tok.content.split("\n"))))
                    found.append(Block(tok.content, spans, parent, parent != "paragraph"))
            parent = None
        elif tok.type in ("fence", "colon_fence"):
            found.extend(_directive_blocks(tok, lines, warn))
    return sorted(found, key=lambda b: b.spans[0])


def _directive_blocks(tok, lines: list[str], warn) -> list[Block]:
    name, argument = _directive(tok.info)
    if name is None or name in NOT_TRANSLATED:
        return []
    open_line = tok.map[0]
    out: list[Block] = []
    if name in TITLED and argument and has_words(argument):
        src = lines[open_line]
        col = src.rfind(argument)
        out.append(Block(argument, ((open_line, col, col + len(argument)),), "title", True))
    if name not in MARKDOWN_BODY and name != "glossary":
        if warn:
            warn(f"line {open_line + 1}: directive {{{name}}} left untranslated "
                 f"(add it to MARKDOWN_BODY or NOT_TRANSLATED in booktools/i18n.py)")
        return out
    body = tok.content.split("\n")
    if body and body[-1] == "":
        body = body[:-1]
    columns = []
    for j, part in enumerate(body):
        src = lines[open_line + 1 + j]
        if not src.endswith(part):
            raise CutError(f"line {open_line + 2 + j}: directive body line not in source")
        columns.append(len(src) - len(part))
    start = _body_start(body)
    if name == "glossary":
        j = start
        while j < len(body):
            if body[j].startswith((" ", "\t")) and body[j].strip():
                k = j
                while k < len(body) and (body[k].startswith((" ", "\t")) or not body[k].strip()):
                    k += 1
                while k > j and not body[k - 1].strip():
                    k -= 1
                indent = min(len(x) - len(x.lstrip()) for x in body[j:k] if x.strip())
                sub = [x[indent:] for x in body[j:k]]
                for b in blocks("\n".join(sub), warn):
                    out.append(dataclasses.replace(b, kind="definition").shifted(
                        open_line + 1 + j, [columns[j + m] + indent for m in range(k - j)]))
                j = k
            else:
                j += 1
        return out
    sub = body[start:]
    for b in blocks("\n".join(sub), warn):
        out.append(b.shifted(open_line + 1 + start, columns[start:]))
    return out


def replace_blocks(text: str, translations: dict[int, str], found: list[Block]) -> str:
    """``text`` with found[i]'s source replaced by translations[i] (the prefixes of each
    line kept; a translation with more lines than the source continues with the last
    line's prefix, or, after a one-line block, the first line's with its markers blanked)."""
    lines = text.split("\n")
    for i in sorted(translations, key=lambda i: found[i].spans[0], reverse=True):
        block, new = found[i], translations[i]
        new_lines = new.split("\n")
        if block.single_line and len(new_lines) > 1:
            new_lines = [" ".join(x.strip() for x in new_lines)]
        first, last = block.spans[0][0], block.spans[-1][0]
        prefixes = [lines[ln][:a] for ln, a, _ in block.spans]
        suffix = lines[last][block.spans[-1][2]:]
        if len(prefixes) > 1:
            continuation = prefixes[-1]
        else:
            continuation = re.sub(r"[^>\s]", " ", prefixes[0])
        out = []
        for j, part in enumerate(new_lines):
            prefix = prefixes[j] if j < len(prefixes) else continuation
            out.append(prefix + part)
        out[-1] += suffix
        lines[first:last + 1] = out
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------


def pages() -> list[Path]:
    """The book's pages, in the order of _toc.yml (relative to the repository)."""
    import yaml
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    out = []
    for f in files:
        for ext in (".ipynb", ".md"):
            if (ROOT / (f + ext)).exists():
                out.append(Path(f + ext))
                break
    return out


def page_name(path: Path) -> str:
    return path.stem


@dataclasses.dataclass
class Unit:
    """One Markdown text of a page (a notebook's Markdown cell, or a whole .md page)."""
    where: int          # cell index, or 0 for a .md page
    text: str
    blocks: list[Block]

    def occurrence(self, page: Path, block: Block) -> tuple[str, str]:
        if page.suffix == ".ipynb":
            return (page.as_posix(), str(self.where))
        return (page.as_posix(), str(block.line + 1))


def read_units(page: Path, warn=None) -> list[Unit]:
    path = ROOT / page
    if page.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        units = []
        for index, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"])
                units.append(Unit(index, text, _cut(text, f"{page}:cell {index}", warn)))
            for key, text in _figure_texts(cell):
                lines = text.split("\n")
                units.append(Unit(index, text, [Block(text, tuple(
                    (i, 0, len(x)) for i, x in enumerate(lines)), key)]))
        return units
    text = path.read_text(encoding="utf-8")
    return [Unit(0, text, _cut(text, str(page), warn))]


#: Prose in a code cell's metadata: the alt text and caption of its figure (myst-nb).
FIGURE_TEXTS = (("image", "alt"), ("figure", "caption"))


def _figure_texts(cell: dict) -> list[tuple[str, str]]:
    """(kind, text) of the figure texts of a code cell's ``mystnb`` metadata."""
    mystnb = cell.get("metadata", {}).get("mystnb", {})
    out = []
    for group, key in FIGURE_TEXTS:
        text = mystnb.get(group, {}).get(key)
        if isinstance(text, str) and has_words(text):
            out.append((f"figure {key}" if group == "figure" else "alt text", text))
    return out


def _cut(text: str, where: str, warn) -> list[Block]:
    try:
        return blocks(text, (lambda m: warn(f"{where}: {m}")) if warn else None)
    except CutError as exc:
        raise CutError(f"{where}: {exc}") from None


def catalogue_path(page: Path | str) -> Path:
    name = page if isinstance(page, str) else page_name(page)
    return MLPCORE_PO if name == "mlpcore" else LOCALE / f"{name}.po"


# ---------------------------------------------------------------------------------------
# Catalogues
# ---------------------------------------------------------------------------------------

HEADER = {
    "Project-Id-Version": "mlp-course",
    "Report-Msgid-Bugs-To": "https://github.com/mlpcore-course/mlp-course/issues",
    "Language": LANGUAGE,
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}


def new_catalogue(what: str):
    import polib
    po = polib.POFile(wrapwidth=78)
    po.header = (f"Chinese (zh_CN) translation of {what}.\n"
                 "Edit msgstr only; see locale/README.md. Regenerate with\n"
                 "`python -m booktools.i18n extract`; check with `python -m booktools.i18n check`.")
    po.metadata = dict(HEADER)
    return po


def load(path: Path):
    import polib
    return polib.pofile(str(path), wrapwidth=78) if path.exists() else None


def merge(po, old, entries: list[tuple[str, list[tuple[str, str]], list[str], set[str]]]):
    """Fill ``po`` with ``entries`` (msgid, occurrences, comments, flags), keeping the
    translations of ``old``: same msgid -> same msgstr (and its fuzzy flag); a msgid that
    is new but close to one that disappeared -> that translation, marked fuzzy with the
    old msgid as ``#| msgid`` (the translator updates it and removes the flag); entries
    that disappeared are kept as obsolete (#~) so that their translation can be reused."""
    import polib
    previous = {}
    if old is not None:
        for e in old:
            if e.msgid:
                previous.setdefault(e.msgid, e)
    new_ids = {msgid for msgid, *_ in entries}
    gone = {m: e for m, e in previous.items() if m not in new_ids and e.msgstr and not e.obsolete}
    gone.update({m: e for m, e in previous.items() if m not in new_ids and e.msgstr and e.obsolete
                 and m not in gone})
    for msgid, occurrences, comments, flags in entries:
        entry = polib.POEntry(msgid=msgid, msgstr="", occurrences=occurrences,
                              comment="\n".join(comments), flags=sorted(flags))
        kept = previous.get(msgid)
        if kept is not None and not kept.obsolete:
            entry.msgstr = kept.msgstr
            if "fuzzy" in kept.flags:
                entry.flags.append("fuzzy")
                entry.previous_msgid = kept.previous_msgid
            entry.tcomment = kept.tcomment
        elif kept is not None:   # an obsolete entry comes back
            entry.msgstr = kept.msgstr
            entry.tcomment = kept.tcomment
            if "fuzzy" in kept.flags:
                entry.flags.append("fuzzy")
        elif gone:
            close = difflib.get_close_matches(msgid, list(gone), n=1, cutoff=0.75)
            if close:
                entry.msgstr = gone[close[0]].msgstr
                entry.flags.append("fuzzy")
                entry.previous_msgid = close[0]
        po.append(entry)
    for msgid, e in gone.items():
        obsolete = polib.POEntry(msgid=msgid, msgstr=e.msgstr, obsolete=True,
                                 tcomment=e.tcomment)
        po.append(obsolete)
    return po


def page_entries(page: Path, warn=None):
    """(msgid, occurrences, comments, flags) of a page, duplicates merged."""
    by_id: dict[str, tuple] = {}
    order = []
    for unit in read_units(page, warn):
        for block in unit.blocks:
            occ = unit.occurrence(page, block)
            where = (f"cell {unit.where}, line {block.line + 1}" if page.suffix == ".ipynb"
                     else f"line {block.line + 1}")
            note = f"{block.kind}, {where}"
            if block.msgid not in by_id:
                by_id[block.msgid] = ([occ], [note], set())
                order.append(block.msgid)
            else:
                if occ not in by_id[block.msgid][0]:
                    by_id[block.msgid][0].append(occ)
                by_id[block.msgid][1].append(note)
            if block.single_line:
                by_id[block.msgid][2].add("one-line")
    return [(m, by_id[m][0], by_id[m][1], set()) for m in order] , {
        m for m in order if "one-line" in by_id[m][2]}


def extract_page(page: Path, warn=None) -> Path:
    entries, one_line = page_entries(page, warn)
    path = catalogue_path(page)
    old = load(path)
    po = new_catalogue(f"{page.as_posix()}")
    merge(po, old, [(m, o, c + (["one line: no line break in the translation"]
                                if m in one_line else []), f)
                    for m, o, c, f in entries])
    path.parent.mkdir(parents=True, exist_ok=True)
    po.save(str(path))
    return path


# ---------------------------------------------------------------------------------------
# Format check
# ---------------------------------------------------------------------------------------

#: What must survive translation verbatim, in order of matching (a role is matched before
#: the code span it contains).
_VERBATIM = [
    ("role", re.compile(r"\{(?!(?:term|doc|ref)\})[\w:.-]+\}`[^`]*`")),
    ("math", re.compile(r"\$\$.*?\$\$|(?<![\\$])\$(?!\s)[^$\n]+?(?<!\s)\$", re.S)),
    ("code", re.compile(r"(?<![}`])(`+)(?!`)(?:(?!\1).)+?\1(?!`)", re.S)),
    ("link target", re.compile(r"\]\(([^)\s]*)\)")),
    ("reference link", re.compile(r"\]\[([^\]]+)\]")),
    ("html", re.compile(r"<(?:/?[A-Za-z][^>]*|!--.*?--)>", re.S)),
    ("target", re.compile(r"^\([\w.:-]+\)=$", re.M)),
    ("substitution", re.compile(r"\{\{[^}]*\}\}")),
    ("footnote", re.compile(r"\[\^[^\]]+\]")),
]
#: The roles whose displayed text a translation may change: a glossary term, a page, a
#: label; their target must stay (role, text, target).
_TERM_ROLE = re.compile(r"\{(term|doc|ref)\}`([^`<]*?)(?:\s*<([^`>]+)>)?`")


def protected(text: str) -> list[tuple[str, str]]:
    """The (kind, text) items of ``text`` that its translation must contain verbatim:
    roles but {term}, {doc} and {ref} (glue, cite, py:..., eq, numref), math ($...$,
    $$...$$), code spans, link targets, HTML tags/anchors, footnote and substitution
    references; and for every {term}, {doc} and {ref} role its *target*
    (``{term}`weight decay``` has target ``weight decay``; ``{term}`Weight decay <weight
    decay>``` too; ``{doc}`robustness appendix <robustness>``` has ``robustness``)."""
    items = []
    for m in _TERM_ROLE.finditer(text):
        role, target = m.group(1), (m.group(3) or m.group(2)).strip()
        items.append((role, target.lower() if role == "term" else target))
    rest = _TERM_ROLE.sub(" ", text)
    for kind, pattern in _VERBATIM:
        for m in pattern.finditer(rest):
            value = m.group(1) if kind in ("link target", "reference link") else m.group(0)
            items.append((kind, value))
        rest = pattern.sub(" ", rest)
    return items


def format_errors(msgid: str, msgstr: str, single_line: bool = False) -> list[str]:
    """What the translation lost or changed: each protected item of the msgid must occur
    in the msgstr as often as in the msgid (their order may change); {term}, {doc} and
    {ref} roles may show other text, but must point at the same target (``{term}`权重衰减
    <weight decay>``` for ``{term}`weight decay```, ``{doc}`稳健性附录 <robustness>``` for
    ``{doc}`robustness appendix <robustness>```)."""
    errors = []
    want = protected(msgid)
    have = protected(msgstr)
    from collections import Counter
    missing = Counter(want) - Counter(have)
    extra = Counter(have) - Counter(want)
    for (kind, value), n in sorted(missing.items()):
        errors.append(f"{kind} {value!r} missing" + (f" ({n} times)" if n > 1 else ""))
    for (kind, value), n in sorted(extra.items()):
        errors.append(f"{kind} {value!r} not in the English")
    errors.extend(markup_errors(msgid, msgstr))
    if single_line and "\n" in msgstr.strip():
        errors.append("must be one line (a heading, table cell or title)")
    if "|" in msgstr.replace("\\|", "") and single_line and "|" not in msgid.replace("\\|", ""):
        errors.append("an unescaped | would split the table cell")
    return errors


_MARKUP = {"strong_open": "bold", "em_open": "italic", "link_open": "link", "s_open": "strikethrough"}


def _markup(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for token in parser().parseInline(text):
        for child in token.children or []:
            if child.type in _MARKUP:
                counts[_MARKUP[child.type]] = counts.get(_MARKUP[child.type], 0) + 1
    return counts


def markup_errors(msgid: str, msgstr: str) -> list[str]:
    """Bold, italic, links and strikethrough parse as often in the translation as in the
    English. In Chinese a ``**`` or ``*`` next to full-width punctuation may not close
    (CommonMark's flanking rules): ``**一句话版本：**容量`` shows its asterisks, while
    ``**一句话版本**：容量`` is bold."""
    want, have = _markup(msgid), _markup(msgstr)
    if want == have:
        return []
    show = lambda c: ", ".join(f"{n} {k}" for k, n in sorted(c.items())) or "none"  # noqa: E731
    return [f"markup: the English has {show(want)}, the translation {show(have)} (in Chinese "
            f"put a closing ** or * right after a character, punctuation outside: "
            f"**术语**：...)"]


@dataclasses.dataclass
class Problem:
    page: str
    status: str      # missing | fuzzy | format | untranslatable
    msgid: str
    detail: str = ""
    occurrence: str = ""

    def __str__(self) -> str:
        words = " ".join(self.msgid.split()[:8])
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.page} [{self.occurrence}] {self.status}{detail} -- \"{words}...\""


def check_page(name: str, stale_only: bool = False) -> list[Problem]:
    """The problems of one catalogue against the current English source: blocks without an
    entry (the catalogue is out of date: re-run extract), entries without a translation,
    fuzzy entries, and format errors."""
    if name == "glue":
        from booktools.i18n_glue import check_glue
        return check_glue()
    path = catalogue_path(name)
    po = load(path)
    problems = []
    if name == "mlpcore":
        from booktools.i18n_messages import message_entries, template_errors
        wanted = [(m, o) for m, o, *_ in message_entries()]
        single = set()
        fmt = template_errors
    else:
        page = next(p for p in pages() if page_name(p) == name)
        entries, single = page_entries(page)
        wanted = [(m, o) for m, o, *_ in entries]
        fmt = None
    if po is None:
        return [Problem(name, "no catalogue", "", f"{path.relative_to(ROOT)} does not exist")]
    have = {e.msgid: e for e in po if not e.obsolete}
    for msgid, occurrences in wanted:
        e = have.get(msgid)
        if e is None:
            problems.append(Problem(name, "not in catalogue", msgid,
                                    "run python -m booktools.i18n extract",
                                    " ".join(f"{f}:{n}" for f, n in occurrences[:1])))
            continue
        occ = " ".join(f"{f}:{n}" for f, n in e.occurrences[:1])
        if not e.msgstr:
            problems.append(Problem(name, "missing", msgid, occurrence=occ))
            continue
        if "fuzzy" in e.flags:
            problems.append(Problem(name, "fuzzy", msgid, "English changed: update, then "
                                    "remove the fuzzy flag", occ))
        errors = (fmt(msgid, e.msgstr, "python-brace-format" in e.flags) if fmt else
                  format_errors(msgid, e.msgstr, msgid in single))
        for err in errors:
            problems.append(Problem(name, "format", msgid, err, occ))
    return problems


def catalogue_names() -> list[str]:
    return [page_name(p) for p in pages()] + ["glue", "mlpcore"]


# ---------------------------------------------------------------------------------------
# Apply: the Chinese sources
# ---------------------------------------------------------------------------------------


def translations_of(name: str) -> dict[str, str]:
    """msgid -> msgstr of the usable entries (translated, not fuzzy, no format error)."""
    po = load(catalogue_path(name))
    if po is None:
        return {}
    out = {}
    for e in po:
        if e.obsolete or not e.msgstr or "fuzzy" in e.flags:
            continue
        if format_errors(e.msgid, e.msgstr, "one line" in (e.comment or "")):
            continue
        out[e.msgid] = e.msgstr
    return out


def translate_text(text: str, table: dict[str, str], counts: Optional[dict] = None,
                   where: str = "") -> str:
    found = blocks(text)
    chosen = {}
    for i, b in enumerate(found):
        if b.msgid in table:
            chosen[i] = table[b.msgid]
        elif counts is not None:
            counts.setdefault("untranslated", []).append((where, b.msgid))
        if counts is not None:
            counts["blocks"] = counts.get("blocks", 0) + 1
    return replace_blocks(text, chosen, found)


def dump_notebook(nb: dict) -> str:
    """As nbformat writes a notebook (indent 1, sorted keys, UTF-8, final newline)."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def split_source(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def apply_page(page: Path, table: dict[str, str], out_dir: Path,
               counts: Optional[dict] = None, glued: Optional[dict] = None) -> Path:
    src = ROOT / page
    dest = out_dir / page
    dest.parent.mkdir(parents=True, exist_ok=True)
    if page.suffix == ".ipynb":
        raw = src.read_text(encoding="utf-8")
        nb = json.loads(raw)
        for index, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"])
                new = translate_text(text, table, counts, f"{page}:cell {index}")
                if new != text:
                    cell["source"] = split_source(new)
            mystnb = cell.get("metadata", {}).get("mystnb", {})
            for kind, text in _figure_texts(cell):
                group, key = ("figure", "caption") if kind == "figure caption" else ("image", "alt")
                if counts is not None:
                    counts["blocks"] = counts.get("blocks", 0) + 1
                if text in table:
                    mystnb[group][key] = table[text]
                elif counts is not None:
                    counts.setdefault("untranslated", []).append((f"{page}:cell {index}", text))
        if glued:
            from booktools.i18n_glue import translate_glue_outputs
            translate_glue_outputs(nb, page_name(page), glued)
        dest.write_text(dump_notebook(nb) if nb != json.loads(raw) else raw, encoding="utf-8")
    else:
        text = src.read_text(encoding="utf-8")
        dest.write_text(translate_text(text, table, counts, str(page)), encoding="utf-8")
    return dest


def apply(out_dir: Path = DEFAULT_OUT, names: Optional[list[str]] = None,
          tables: Optional[dict[str, dict[str, str]]] = None, quiet: bool = False) -> dict:
    """Write the Chinese pages into out_dir (same relative paths as the English ones).
    ``tables`` overrides the catalogues (tests). Returns {page: counts}."""
    report = {}
    from booktools.i18n_glue import glue_table
    glued = glue_table() if tables is None else None
    for page in pages():
        name = page_name(page)
        if names and name not in names:
            continue
        table = tables[name] if tables is not None else translations_of(name)
        counts: dict = {}
        apply_page(page, table, out_dir, counts, glued)
        report[name] = counts
        if not quiet:
            n = len(counts.get("untranslated", []))
            print(f"{page}: {counts.get('blocks', 0) - n}/{counts.get('blocks', 0)} blocks "
                  f"translated, {n} in English")
    return report


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m booktools.i18n", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("extract", help="(re)write the catalogues from the English sources")
    p.add_argument("pages", nargs="*")
    p = sub.add_parser("check", help="missing, fuzzy and format errors, per entry")
    p.add_argument("pages", nargs="*")
    p.add_argument("--summary", action="store_true", help="counts per page only")
    p = sub.add_parser("apply", help="write the Chinese sources")
    p.add_argument("pages", nargs="*")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p = sub.add_parser("build", help="write the Chinese sources and build _build/html/zh "
                       "(booktools/i18n_build.py)")
    p.add_argument("--strict", action="store_true", help="-W -n, as make test's build")
    args = ap.parse_args(argv)
    if args.command == "build":
        from booktools.i18n_build import build
        return build(strict=args.strict)
    names = args.pages or catalogue_names()
    unknown = set(names) - set(catalogue_names())
    if unknown:
        ap.error(f"unknown page(s) {sorted(unknown)}; pages: {', '.join(catalogue_names())}")
    warn = lambda m: print(f"warning: {m}", file=sys.stderr)  # noqa: E731
    if args.command == "extract":
        for name in names:
            if name == "mlpcore":
                from booktools.i18n_messages import extract_messages
                path = extract_messages()
            elif name == "glue":
                from booktools.i18n_glue import extract_glue
                path = extract_glue()
            else:
                path = extract_page(next(p for p in pages() if page_name(p) == name), warn)
            po = load(path)
            print(f"{path.relative_to(ROOT)}: {len([e for e in po if not e.obsolete])} entries, "
                  f"{len(po.translated_entries())} translated, {len(po.fuzzy_entries())} fuzzy, "
                  f"{len(po.obsolete_entries())} obsolete")
        return 0
    if args.command == "check":
        total = 0
        for name in names:
            problems = check_page(name)
            total += len(problems)
            if args.summary:
                kinds = {}
                for pr in problems:
                    kinds[pr.status] = kinds.get(pr.status, 0) + 1
                print(f"{name}: " + (", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
                                     or "complete"))
            else:
                for pr in problems:
                    print(pr)
        print(f"{total} problem(s)")
        return 1 if total else 0
    if args.command == "apply":
        apply(args.out, [n for n in names if n not in ("mlpcore", "glue")])
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
