"""The grading options, defined once for both entry points (``python -m mlpgrader
grade`` and ``python -m pytest grading``), and what a run does with them.

``add_to(add)`` declares every option through an ``add_argument``-like function
(argparse's ``parser.add_argument`` or pytest's ``group.addoption``, which take the
same keywords). ``start(get)`` reads them back through ``get(dest)``, marks an old
report as not current, resolves the private cases seed, checks the sandbox and
plans the submissions; ``finish(run)`` writes the report.

The private cases seed (held-out cases) comes from, first that is given:
``--cases-seed N``, ``--cases-seed-file PATH`` (a file outside anything students
see, holding the number; any other text is hashed into one), or the environment
variable ``MLPGRADER_CASES_SEED``. It goes nowhere but into drawing the cases, in
this process: the report records only ``seed_fingerprint(seed)``.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from mlpgrader import grader
from mlpgrader.sandbox import DEFAULT_TIMEOUT

SEED_ENVIRONMENT = "MLPGRADER_CASES_SEED"
_SEED_DOMAIN = b"mlpgrader cases seed\0"

# (flags, keywords): the same for argparse and pytest; ``dest`` is what ``get`` takes.
OPTIONS = [
    (("--report",), dict(dest="report", metavar="FILE", default=None,
                         help="write the JSON report here (an existing file is marked "
                              "as not current as soon as the run starts)")),
    (("--chapter",), dict(dest="chapter", metavar="chNN", default=None,
                          help="the class's chapter: grade every submission as it, flagging "
                               "another chapter's notebook by name (default: each "
                               "notebook's own)")),
    (("--exercise-timeout",), dict(dest="exercise_timeout", type=float, default=DEFAULT_TIMEOUT,
                                   metavar="SECONDS",
                                   help=f"time limit per exercise run, answer included "
                                        f"(default {DEFAULT_TIMEOUT:g} s)")),
    (("--jobs", "--grading-jobs"), dict(dest="jobs", type=int, default=None, metavar="N",
                                        help="exercises graded in parallel (default: CPU "
                                             "count, at most 8)")),
    (("--shard",), dict(dest="shard", metavar="K/N", default=None,
                        help="grade only slice K of N of the submissions (merge the "
                             "reports with python -m mlpgrader merge)")),
    (("--no-sandbox",), dict(dest="no_sandbox", action="store_true", default=False,
                             help="grade without the bubblewrap sandbox (unsafe; the "
                                  "table and the report say so)")),
    (("--cases-seed",), dict(dest="cases_seed", type=int, default=None, metavar="N",
                             help="grade with held-out cases drawn from this private seed "
                                  f"(or --cases-seed-file, or ${SEED_ENVIRONMENT}); "
                                  "default: the book's public cases")),
    (("--cases-seed-file",), dict(dest="cases_seed_file", default=None, metavar="PATH",
                                  help="read the private cases seed from this file (keep "
                                       "it outside anything students see)")),
]


def add_to(add: Callable) -> None:
    """Declare every option with ``add(*flags, **keywords)``."""
    for flags, keywords in OPTIONS:
        add(*flags, **keywords)


def seed_fingerprint(seed: int) -> str:
    """What the report records of a private seed: the first 12 hex digits of a
    SHA-256, enough to tell which seed graded a report, not to recover it when the
    seed is a large random number (see docs/grading.md)."""
    return hashlib.sha256(_SEED_DOMAIN + str(int(seed)).encode("ascii")).hexdigest()[:12]


def resolve_cases_seed(seed: Optional[int], seed_file: Optional[str],
                       environ: Optional[dict] = None) -> Optional[int]:
    """The private cases seed (module docstring), or None for the public cases.
    ValueError with the fix if a file or variable holds no usable seed."""
    environ = os.environ if environ is None else environ
    if seed is not None:
        return _checked(seed, "--cases-seed")
    if seed_file:
        try:
            text = Path(seed_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"--cases-seed-file: cannot read it ({exc})") from None
        return _seed_from_text(text, "--cases-seed-file")
    if environ.get(SEED_ENVIRONMENT, "").strip():
        return _seed_from_text(environ[SEED_ENVIRONMENT].strip(), f"${SEED_ENVIRONMENT}")
    return None


def _seed_from_text(text: str, where: str) -> int:
    if not text:
        raise ValueError(f"{where} is empty; put a large random number in it, e.g. "
                         f"python -c 'import secrets; print(secrets.randbits(64))'")
    if text.isdigit():
        return _checked(int(text), where)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _checked(seed: int, where: str) -> int:
    if seed < 0:
        raise ValueError(f"{where}: the seed must be a non-negative integer, not {seed}")
    return int(seed)


@dataclass
class Run:
    """One grading run, from its options."""
    submissions: list
    mode: str
    shard: tuple
    timeout: float
    jobs: Optional[int]
    report: Optional[str]
    cases_seed: Optional[int] = field(default=None, repr=False)  # never printed

    @property
    def cases(self) -> str:
        """'public', or the private seed's fingerprint (for the report)."""
        if self.cases_seed is None:
            return grader.PUBLIC_CASES
        return f"private seed sha256:{seed_fingerprint(self.cases_seed)}"

    def grade(self) -> dict:
        return grader.grade_all(self.submissions, self.timeout, self.jobs, self.mode,
                                self.cases_seed)


def start(paths, get: Callable[[str], object]) -> Run:
    """A run from the options (``get(dest)``); ValueError or SandboxUnavailable with
    a message for the instructor. An existing report is first marked not current."""
    report = get("report")
    if report:
        grader.mark_report_in_progress(str(report))
    shard = grader.parse_shard(get("shard"))
    cases_seed = resolve_cases_seed(get("cases_seed"), get("cases_seed_file"))
    mode = grader.sandbox_mode(bool(get("no_sandbox")))
    submissions = grader.plan(paths, get("chapter"), shard)
    return Run(submissions, mode, shard, float(get("exercise_timeout")), get("jobs"),
               str(report) if report else None, cases_seed)


def finish(run: Run) -> list[str]:
    """Write the report (if asked) and return the score table's lines."""
    lines = grader.score_table(run.submissions, run.mode)
    if run.report:
        grader.write_report(run.submissions, run.report, run.timeout, run.mode, run.shard,
                            run.cases)
    return lines


__all__ = ["OPTIONS", "Run", "SEED_ENVIRONMENT", "add_to", "finish", "resolve_cases_seed",
           "seed_fingerprint", "start"]
