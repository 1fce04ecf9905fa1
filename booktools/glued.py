"""The values a notebook glued, read back from its stored outputs.

myst-nb's ``glue(name, value)`` stores an output whose metadata names the value
(``scrapbook: {name, mime_prefix}``) and whose data is the value's mime bundle, each key
behind the prefix ("application/papermill.record/text/plain"). The notebook edition, the
replication report and the glued-phrase catalogue all read them here.
"""
from __future__ import annotations

import ast
from typing import Any, Iterator


def glued_outputs(cells) -> Iterator[tuple[str, dict, dict]]:
    """(name, mime bundle without the record prefix, the output itself) of every glue
    output of the cells, in order; the output is yielded so that it can be rewritten."""
    for cell in cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                prefix = record.get("mime_prefix", "")
                bundle = {key.removeprefix(prefix): value
                          for key, value in output.get("data", {}).items()}
                yield record["name"], bundle, output


def plain_value(bundle: dict) -> Any:
    """The value whose repr the bundle's text/plain holds ("'94.4'" -> "94.4", "12" -> 12);
    None when the text is not a Python literal (a NumPy scalar's repr, say)."""
    try:
        return ast.literal_eval(bundle.get("text/plain"))
    except (ValueError, SyntaxError):
        return None
