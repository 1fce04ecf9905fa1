"""The intro's list of chapters: which exist and which are in preparation.

Loaded by _config.yml (`sphinx.local_extensions`). The ``{chapter-list}`` directive
(in a MyST page) takes one planned chapter per line, ``file | title | what it covers``
(file relative to the page, without suffix). A chapter whose file is in _toc.yml
becomes a link to it (its own title); the others read "title (in preparation)". So
merging a chapter and adding it to _toc.yml updates the intro by itself. A notebook
chapter of _toc.yml missing from the list is a build warning (an error in the strict
build), so the list cannot silently fall behind.
"""
from __future__ import annotations

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import docname_join, logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


class ChapterList(SphinxDirective):
    has_content = True

    def run(self):
        planned = []
        for line in self.content:
            if line.strip():
                stem, title, summary = (part.strip() for part in line.split("|", 2))
                planned.append((docname_join(self.env.docname, stem), stem, title, summary))
        markdown = []
        for docname, stem, title, summary in planned:
            if docname in self.env.found_docs:
                markdown.append(f"- {{doc}}`{stem}`: {summary}")
            else:
                markdown.append(f"- *{title}* (in preparation): {summary}")
        listed = {docname for docname, *_ in planned}
        for docname in sorted(self.env.found_docs):
            if str(self.env.doc2path(docname)).endswith(".ipynb") and docname not in listed:
                logger.warning(f"chapter {docname} is in _toc.yml but not in the intro's "
                               "chapter-list; add a line for it", location=self.get_location())
        container = nodes.container()
        self.state.nested_parse(StringList(markdown, source=self.get_source_info()[0]),
                                self.content_offset, container)
        return container.children


def setup(app):
    app.add_directive("chapter-list", ChapterList)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
