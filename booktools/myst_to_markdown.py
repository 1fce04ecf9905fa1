"""Turn the book's MyST Markdown into plain Markdown that Jupyter and Colab render.

The notebook edition (booktools/notebook_edition.py) passes every Markdown cell of a chapter
through `convert()`. Roles and directives are resolved with a `Resolver`, which knows
the stored glue values, the bibliography and the published pages' addresses; anything
it cannot resolve is reported through `Resolver.warn` (a Sphinx warning during the book
build, so the strict build fails) and left as it was, where the edition's tests find it.

What becomes what:

- ``{glue:text}`name` `` (and ``{glue}``, ``{glue:any}``, ``{glue:md}``): the stored value;
- ``{term}`text <entry>` ``: the text, linked to the glossary entry;
- ``{cite:t}`key` ``: "Author et al. (Year)", ``{cite:p}`a,b` ``: "(Author, Year; ...)",
  each linked to the paper (DOI, URL or arXiv) or else to the references page;
- ``{doc}``, ``{ref}``, ``{numref}``: links to the published pages;
- ``{py:func}`` and the other Python roles: code text linked to the API reference;
- admonitions: block quotes with a bold title; figures and images: Markdown images with
  the picture attached to the cell, the caption in italics under it; ``{math}``: ``$$``;
- MyST targets ``(label)=``, comments ``% ...`` and equation labels: removed.
"""
from __future__ import annotations

import base64
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# A role: {name}`content` (content may use more backticks to hold a backtick).
_ROLE = r"\{(?P<role>[A-Za-z][\w:+.-]*)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks)(?!`)"
# An inline code span, kept as it is (a role's name inside code is not a role).
_CODE = r"(?P<code>(?P<cticks>`+).+?(?P=cticks)(?!`))"
_INLINE = re.compile(f"{_ROLE}|{_CODE}", re.DOTALL)
_TEXT_AND_TARGET = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE_INFO = re.compile(r"^\s*\{(?P<name>[\w:+.-]+)\}\s*(?P<argument>.*)$")
_TARGET_LINE = re.compile(r"^\s*\([\w\-.:]+\)=\s*$")
_COMMENT_LINE = re.compile(r"^\s*%")
_EQUATION_LABEL = re.compile(r"(\$\$)\s*\([\w\-.:]+\)\s*$")
_SUBSTITUTION = re.compile(r"\{\{\s*([\w\-.]+)\s*\}\}")
_LOCAL_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s:]+?\.(?:ipynb|md))"
                         r"(?P<anchor>#[^)\s]*)?\)")
_LOCAL_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<path>(?!https?:|attachment:|data:)[^)\s]+)\)")

ADMONITIONS = {"note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important",
               "warning": "Warning", "caution": "Caution", "attention": "Attention",
               "danger": "Danger", "error": "Error", "seealso": "See also",
               "admonition": None, "margin": None, "sidebar": None, "topic": None,
               "epigraph": "", "pull-quote": "", "highlights": ""}
PY_ROLES = {"func", "class", "meth", "mod", "attr", "data", "obj", "exc", "const", "type",
            "property"}


@dataclass
class Citation:
    """What a citation needs: the authors' names as cited, the year, and a link."""
    authors: str
    year: str
    url: str


@dataclass
class Resolver:
    """Everything the conversion looks up, so it can run inside and outside Sphinx.

    Each lookup returns None when it cannot resolve its target; `convert` then warns.
    """
    glue: dict[str, dict] = field(default_factory=dict)   # name -> mime bundle
    citations: dict[str, Citation] = field(default_factory=dict)
    references_url: str = ""
    doc: Callable[[str], tuple[str, str] | None] = lambda target: None      # -> (title, url)
    ref: Callable[[str], tuple[str, str] | None] = lambda label: None       # -> (title, url)
    numref: Callable[[str], tuple[str, str] | None] = lambda label: None    # -> (text, url)
    term: Callable[[str], str | None] = lambda entry: None                   # -> url
    python: Callable[[str], str | None] = lambda name: None                  # -> url
    substitutions: dict[str, str] = field(default_factory=dict)
    folder: Path = Path(".")          # where relative image paths start
    warn: Callable[[str], None] = lambda message: None


@dataclass
class Converted:
    text: str
    attachments: dict[str, dict] = field(default_factory=dict)   # nbformat cell attachments


def convert(source: str, resolver: Resolver) -> Converted:
    """The Markdown cell `source` with every MyST role and directive resolved."""
    out = Converted("")
    out.text = _convert_blocks(source.split("\n"), resolver, out)
    out.text = re.sub(r"\n{3,}", "\n\n", out.text).strip("\n")
    return out


# ---------------------------------------------------------------- blocks

def _convert_blocks(lines: list[str], resolver: Resolver, out: Converted) -> str:
    result: list[str] = []
    paragraph: list[str] = []

    def flush():
        if paragraph:
            result.append(_convert_inline("\n".join(paragraph), resolver, out))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            end = _closing_fence(lines, i, fence.group("fence"))
            body = lines[i + 1:end]
            flush()
            directive = _DIRECTIVE_INFO.match(fence.group("info"))
            if directive:
                result.append(_convert_directive(directive.group("name"),
                                                 directive.group("argument").strip(),
                                                 body, resolver, out))
            else:  # a plain code block: unchanged
                result.append("\n".join(lines[i:end + 1]))
            i = end + 1
            continue
        if _TARGET_LINE.match(line) or _COMMENT_LINE.match(line):
            i += 1
            continue
        paragraph.append(_EQUATION_LABEL.sub(r"\1", line))
        i += 1
    flush()
    return "\n".join(result)


def _closing_fence(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the fence opened at `start` (the last line if none)."""
    char, length = fence[0], len(fence)
    for j in range(start + 1, len(lines)):
        stripped = lines[j].strip()
        if stripped and set(stripped) == {char} and len(stripped) >= length:
            return j
    return len(lines)


def _split_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """A directive's options (`:key: value` lines or a `---` YAML block) and its content."""
    options: dict[str, str] = {}
    if body and body[0].strip() == "---":
        end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), None)
        if end is not None:
            for line in body[1:end]:
                key, _, value = line.partition(":")
                options[key.strip()] = value.strip()
            return options, body[end + 1:]
    j = 0
    while j < len(body):
        match = re.match(r"^\s*:([\w\-]+):\s*(.*)$", body[j])
        if not match:
            break
        options[match.group(1)] = match.group(2).strip()
        j += 1
    return options, body[j:]


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))


def _convert_directive(name: str, argument: str, body: list[str], resolver: Resolver,
                       out: Converted) -> str:
    options, content = _split_options(body)
    inner = _convert_blocks(content, resolver, out).strip("\n")
    if name in ADMONITIONS:
        title = ADMONITIONS[name]
        if title is None:
            title = _convert_inline(argument, resolver, out) if argument else ""
        heading = f"**{title}**" if title else ""
        return _quote(f"{heading}\n\n{inner}".strip("\n")) if heading else _quote(inner)
    if name in ("dropdown", "toggle", "details"):
        summary = _convert_inline(argument, resolver, out) if argument else "Show"
        return f"<details><summary>{summary}</summary>\n\n{inner}\n\n</details>"
    if name in ("math", "glue:math"):
        if name == "glue:math":
            inner = _glue_value(argument, resolver, prefer="text/latex").strip().strip("$")
        return f"$$\n{inner}\n$$"
    if name in ("code-block", "code", "sourcecode", "code-cell"):
        return f"```{argument}\n" + "\n".join(content) + "\n```"
    if name in ("figure", "image", "glue:figure", "glue", "glue:any"):
        image = _image_markdown(name, argument, options, resolver, out)
        caption = f"\n\n*{inner}*" if inner and name != "image" else ""
        return image + caption
    if name in ("rubric",):
        return f"**{_convert_inline(argument, resolver, out)}**"
    resolver.warn(f"the notebook edition cannot convert the directive {{{name}}}; "
                  "teach booktools/myst_to_markdown.py to, or use a plainer construct")
    fence = "```"
    return f"{fence}{{{name}}} {argument}\n" + "\n".join(body) + f"\n{fence}"


def _image_markdown(name: str, argument: str, options: dict[str, str], resolver: Resolver,
                    out: Converted) -> str:
    alt = options.get("alt", "").replace("]", ")") or "figure"
    if name.startswith("glue"):
        bundle = resolver.glue.get(argument)
        kind = next((k for k in ("image/png", "image/jpeg", "image/svg+xml")
                     if bundle and k in bundle), None)
        if kind is None:
            resolver.warn(f"no stored image for the glued figure {argument!r}")
            return f"![{alt}]()"
        data = bundle[kind]
        return _attach(out, f"{argument}{mimetypes.guess_extension(kind) or ''}", kind,
                       data if isinstance(data, str) else "".join(data), alt)
    return _image_from_path(argument, alt, resolver, out)


def _image_from_path(path: str, alt: str, resolver: Resolver, out: Converted) -> str:
    if re.match(r"^(https?:|data:)", path):
        return f"![{alt}]({path})"
    file = (resolver.folder / path).resolve()
    if not file.is_file():
        resolver.warn(f"image {path!r} not found (looked for {file})")
        return f"![{alt}]({path})"
    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    payload = (file.read_text(encoding="utf-8") if kind == "image/svg+xml"
               else base64.b64encode(file.read_bytes()).decode("ascii"))
    return _attach(out, file.name, kind, payload, alt)


def _attach(out: Converted, filename: str, kind: str, payload: str, alt: str) -> str:
    """Attach an image to the cell (it travels with the notebook) and refer to it."""
    filename = re.sub(r"[^\w.\-]", "_", filename)
    out.attachments[filename] = {kind: payload}
    return f"![{alt}](attachment:{filename})"


# ---------------------------------------------------------------- inline

def _convert_inline(text: str, resolver: Resolver, out: Converted) -> str:
    def replace(match: re.Match) -> str:
        if match.group("code"):
            return match.group("code")
        return _convert_role(match.group("role"), match.group("content"), resolver, out)

    text = _INLINE.sub(replace, text)
    text = _SUBSTITUTION.sub(lambda m: resolver.substitutions.get(m.group(1), m.group(0)), text)
    text = _LOCAL_LINK.sub(lambda m: _local_link(m, resolver), text)
    return _LOCAL_IMAGE.sub(
        lambda m: _image_from_path(m.group("path"), m.group("alt"), resolver, out), text)


def _local_link(match: re.Match, resolver: Resolver) -> str:
    target = re.sub(r"\.(ipynb|md)$", "", match.group("target"))
    found = resolver.doc(target)
    if found is None:
        resolver.warn(f"link to {match.group('target')!r}: no such page in the book")
        return match.group(0)
    return f"[{match.group('text')}]({found[1]}{match.group('anchor') or ''})"


def _text_and_target(content: str) -> tuple[str | None, str]:
    match = _TEXT_AND_TARGET.match(content.strip())
    if match and match.group("text"):
        return match.group("text"), match.group("target").strip()
    return None, content.strip()


def _convert_role(role: str, content: str, resolver: Resolver, out: Converted) -> str:
    domain, _, kind = role.rpartition(":")
    if role in ("glue", "glue:any", "glue:text", "glue:md"):
        return _glue_text(role, content, resolver)
    if role == "term":
        text, entry = _text_and_target(content)
        url = resolver.term(entry)
        if url is None:
            resolver.warn(f"{{term}}`{content}`: no such glossary entry")
            return text or entry
        return f"[{text or entry}]({url})"
    if role == "cite" or domain == "cite":
        return _citation(kind if domain == "cite" else "p", content, resolver)
    if role in ("doc", "ref", "numref", "eq", "any", "std:ref", "std:doc"):
        return _cross_reference(role.removeprefix("std:"), content, resolver)
    if domain in ("py", "") and kind in PY_ROLES:
        return _python(kind, content, resolver)
    if role == "math":
        return f"${content}$"
    if role in ("sub", "sup", "kbd", "abbr", "index", "samp", "file", "command",
                "program", "guilabel", "menuselection", "code", "literal"):
        text, _ = _text_and_target(content)
        if role in ("sub", "sup", "kbd"):
            return f"<{role}>{text or content}</{role}>"
        if role == "abbr":
            return re.sub(r"\s*\(.*\)$", "", content)
        return f"`{text or content}`" if role not in ("index",) else (text or content)
    resolver.warn(f"the notebook edition cannot convert the role {{{role}}}`{content}`; "
                  "teach booktools/myst_to_markdown.py to, or use a plainer construct")
    return "{" + role + "}`" + content + "`"


def _glue_value(name: str, resolver: Resolver, prefer: str = "text/plain") -> str:
    bundle = resolver.glue.get(name)
    if bundle is None:
        resolver.warn(f"no stored glue value named {name!r} in this notebook")
        return ""
    value = bundle.get(prefer, bundle.get("text/plain", ""))
    return value if isinstance(value, str) else "".join(value)


def _glue_text(role: str, content: str, resolver: Resolver) -> str:
    name, _, spec = content.partition(":")
    if role == "glue:md":
        return _glue_value(name, resolver, prefer="text/markdown")
    text = _glue_value(name, resolver)
    if role in ("glue", "glue:any"):
        return text
    # myst-nb's glue:text: the text/plain form, quotes of a str's repr removed, then an
    # optional format spec applied to the number.
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    if spec:
        try:
            text = format(float(text), spec)
        except ValueError:
            resolver.warn(f"{{glue:text}}`{content}`: {text!r} is not a number for {spec!r}")
    return text


def _citation(kind: str, content: str, resolver: Resolver) -> str:
    keys = [key.strip() for key in content.split(",") if key.strip()]
    found = []
    for key in keys:
        citation = resolver.citations.get(key)
        if citation is None:
            resolver.warn(f"citation key {key!r} is not in the bibliography")
            citation = Citation(key, "", resolver.references_url)
        found.append(citation)
    url = lambda c: c.url or resolver.references_url  # noqa: E731
    if kind in ("t", "ts", "ct", "cts"):
        return ", ".join(f"[{c.authors} ({c.year})]({url(c)})" for c in found)
    if kind == "year":
        return ", ".join(f"[{c.year}]({url(c)})" for c in found)
    if kind == "author":
        return ", ".join(f"[{c.authors}]({url(c)})" for c in found)
    inner = "; ".join(f"[{c.authors}, {c.year}]({url(c)})" for c in found)
    return inner if kind in ("alp", "alps") else f"({inner})"


def _cross_reference(role: str, content: str, resolver: Resolver) -> str:
    text, target = _text_and_target(content)
    if role == "eq":
        found = resolver.numref(target)
        if found is None:
            resolver.warn(f"{{eq}}`{content}`: no such equation")
            return target
        return f"[({found[0]})]({found[1]})"
    lookup = {"doc": resolver.doc, "ref": resolver.ref, "numref": resolver.numref,
              "any": lambda t: resolver.ref(t) or resolver.doc(t)}[role]
    found = lookup(target)
    if found is None:
        resolver.warn(f"{{{role}}}`{content}`: target not found")
        return text or target
    title, url = found
    if role == "numref" and text:
        title = text.replace("{number}", title).replace("%s", title)
    return f"[{text if text and role != 'numref' else title}]({url})"


def _python(kind: str, content: str, resolver: Resolver) -> str:
    """Code text linked to the API reference, shown as Sphinx shows it."""
    text, target = _text_and_target(content)
    no_link = target.startswith("!")
    target = target.lstrip("!")
    short = target.startswith("~")
    target = target.lstrip("~").removesuffix("()")
    shown = text or (target.rsplit(".", 1)[-1] if short else target)
    if not text and kind in ("func", "meth"):  # Sphinx's add_function_parentheses
        shown += "()"
    if no_link:
        return f"`{shown}`"
    url = resolver.python(target)
    if url is None:
        resolver.warn(f"Python name {target!r} is not in the API reference")
        return f"`{shown}`"
    return f"[`{shown}`]({url})"
