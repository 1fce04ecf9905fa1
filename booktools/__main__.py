"""``python -m booktools <command> [arguments]``: the one entry point of the build tools.

Each command is a module of this package with a ``main(argv) -> int``; it is imported
only when its command runs, so one command's dependencies do not slow or break another.
A new tool is one line in ``COMMANDS``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: command -> (module of booktools with main(argv), one line for --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "execute": ("execute_notebooks", "execute notebooks in place (stored outputs made current)"),
    "replicate": ("replicate", "run|report|page: the chapters on other seeds, every claim checked"),
    "student-edition": ("make_student_edition", "the student edition (and nbgrader's source) "
                                                "from the notebook edition"),
    "install-cell": ("install_cell", "print, --check or --fix every chapter's install cell"),
    "grading-throughput": ("grading_throughput", "build|time: the grader on two synthetic classes"),
}


def parser() -> argparse.ArgumentParser:
    described = argparse.ArgumentParser(
        prog="python -m booktools",
        description="The book's build tools (run from the checkout's root). "
                    "`python -m booktools COMMAND --help` gives a command's options.")
    commands = described.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, summary) in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return described


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only the command is parsed here; everything after it is the command's own.
    if not argv or argv[0] not in COMMANDS:
        parser().parse_args(argv[:1] or argv)  # prints help or the usage error, and exits
    module = importlib.import_module(f"booktools.{COMMANDS[argv[0]][0]}")
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
