"""The instructor's subcommands beyond grading: ``student``, ``export``, ``similar``,
``kernel``, and the exit statuses every subcommand shares (docs/grading.md, "Exit status").

``mlpgrader`` (the console script) and ``python -m mlpgrader`` both run
``mlpgrader.__main__.main``, which registers these next to grade, merge, stamp and cost.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDENT_TOOL = ROOT / "booktools" / "make_student_edition.py"

# Exit statuses, the same for `mlpgrader grade` and `pytest grading` (docs/grading.md):
PERFECT = 0        # graded; every submission has full points (or: the command succeeded)
IMPERFECT = 1      # graded; some submission has less than full points, or was not graded
REFUSED = 4        # nothing graded: bad options or input, no sandbox (pytest's usage error)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits with REFUSED like pytest's, not argparse's 2."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(REFUSED, f"{self.prog}: error: {message}\n")


def refuse(command: str, error: Exception) -> int:
    print(f"mlpgrader {command}: {error}", file=sys.stderr)
    return REFUSED


# ------------------------------------------------------------------------- student
def _student(args) -> int:
    """A thin wrapper over `python -m booktools student-edition` (which owns the rules),
    run in the checkout, where the build tools are."""
    if not STUDENT_TOOL.is_file():
        return refuse("student", FileNotFoundError(
            f"{STUDENT_TOOL} not found: the student edition is made from a checkout of the "
            f"book's repository (an editable install, as `make install` does)"))
    edition = ROOT / "_build" / "edition" / "book"
    notebooks = args.notebooks or [str(p) for p in sorted(edition.glob("[0-9][0-9]_*.ipynb"))]
    if not notebooks:
        return refuse("student", FileNotFoundError(
            f"no notebook edition in {edition}: the student edition is made from it; "
            f"run `make book` first (or `make student`, which does both)"))
    command = [sys.executable, "-m", "booktools", "student-edition",
               *(str(Path(path).resolve()) for path in notebooks),
               "--out", str(Path(args.out).resolve())]
    status = subprocess.run(command, cwd=ROOT).returncode
    return PERFECT if status == 0 else REFUSED


# -------------------------------------------------------------------------- export
def _export(args) -> int:
    from mlpgrader import export
    try:
        return export.main(args.report, args.csv, args.gradescope, args.feedback,
                           args.csv_id_header, args.brief)
    except (export.ExportError, OSError) as exc:
        return refuse("export", exc)


# ------------------------------------------------------------------------- similar
def _similar(args) -> int:
    from mlpgrader import similar
    try:
        return similar.main(args.submissions, args.chapter, args.threshold, args.report,
                            args.no_reference)
    except (ValueError, OSError, ImportError) as exc:
        return refuse("similar", exc)


# -------------------------------------------------------------------------- kernel
def _kernel(args) -> int:
    from mlpgrader import nbgrader_kernel
    try:
        return nbgrader_kernel.install(args.course)
    except OSError as exc:
        return refuse("kernel", exc)


def add_commands(commands) -> None:
    """Register student, export, similar and kernel on the subparsers of __main__."""
    student = commands.add_parser(
        "student", help="write the student edition (solutions replaced by stubs)",
        description="Runs `python -m booktools student-edition` on the notebook edition (made by "
                    "`make book`): its reference solutions are dropped, the exercise cells "
                    "stay stubs; every other cell stays.")
    student.add_argument("notebooks", nargs="*",
                         help="edition notebooks (default: every chapter of _build/edition/book)")
    student.add_argument("--out", default="student", help="output folder (default: ./student)")
    student.set_defaults(run=_student)

    export = commands.add_parser(
        "export", help="CSV, Gradescope results.json and feedback files from a report",
        description="Reads a report of `mlpgrader grade` (or `merge`) and writes what "
                    "learning platforms import; never re-runs students' code.")
    export.add_argument("report", help="report.json from grade or merge")
    export.add_argument("--csv", metavar="FILE",
                        help="one row per student: name, points per exercise, total, maximum, "
                             "percent (Canvas, Moodle)")
    export.add_argument("--csv-id-header", default="Student", metavar="NAME",
                        help="header of the name column (default Student; e.g. 'SIS Login ID' "
                             "for Canvas when the notebooks are named by login)")
    export.add_argument("--gradescope", metavar="DIR",
                        help="DIR/<student>/results.json in Gradescope's autograder format")
    export.add_argument("--feedback", metavar="DIR",
                        help="DIR/<student>.txt: every message and hint, for the student")
    export.add_argument("--brief", action="store_true",
                        help="Gradescope and feedback: per exercise the points and the hints "
                             "only, without the cases' expected values")
    export.set_defaults(run=_export)

    similar = commands.add_parser(
        "similar", help="near-identical exercise code between submissions (flags only)",
        description="Compares each exercise's code between every pair of submissions and "
                    "against the book's reference solution, after normalising names, "
                    "comments and layout (copydetect's winnowing); flags, never penalises.")
    similar.add_argument("submissions", nargs="+", help="notebooks, .py modules or folders")
    similar.add_argument("--chapter", help="the class's chapter (default: each notebook's own)")
    similar.add_argument("--threshold", type=float, default=0.8,
                         help="flag an exercise at or above this similarity (0-1, default 0.8)")
    similar.add_argument("--report", metavar="FILE", help="also write the pairs as JSON")
    similar.add_argument("--no-reference", action="store_true",
                         help="do not compare against the book's reference solutions")
    similar.set_defaults(run=_similar)

    kernel = commands.add_parser(
        "kernel", help="the Jupyter kernel nbgrader must grade with (this Python, mlpcore)",
        description="Writes COURSE/jupyter/kernels/mlpcore (this Python; it refuses to start "
                    "without mlpcore and matplotlib) and COURSE/nbgrader_config.py choosing "
                    "it. See docs/grading.md, nbgrader.")
    kernel.add_argument("course", help="nbgrader's course folder")
    kernel.set_defaults(run=_kernel)
