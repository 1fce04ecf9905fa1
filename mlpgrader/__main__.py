"""mlpgrader (or python -m mlpgrader) grade|merge|stamp|student|export|similar|kernel|cost ...
(see docs/grading.md)."""
from __future__ import annotations

import sys

from mlpgrader import cli, grader, sandbox
from mlpgrader.judge import DEFAULT_TIMEOUT


def _grade(args) -> int:
    try:
        shard = grader.parse_shard(args.shard)
        mode = grader.sandbox_mode(args.no_sandbox)
        submissions = grader.plan(args.submissions, args.chapter, shard)
    except (ValueError, sandbox.SandboxUnavailable) as exc:
        return cli.refuse("grade", exc)
    for future in grader.grade_all(submissions, args.exercise_timeout, args.jobs, mode).values():
        future.result()
    print("\n".join(grader.score_table(submissions, mode)))
    if args.report:
        grader.write_report(submissions, args.report, args.exercise_timeout, mode, shard)
        print(f"JSON report written to {args.report}")
    return grader.exit_status([s.to_dict() for s in submissions])


def _merge(args) -> int:
    try:
        merged = grader.merge_reports(args.reports)
    except (ValueError, KeyError, TypeError) as exc:
        return cli.refuse("merge", exc)
    grader.write_json_atomically(merged, args.output)
    print("\n".join(grader.table_lines(merged["submissions"], merged["grader"]["sandbox"])))
    print(f"merged {len(args.reports)} shard reports ({len(merged['submissions'])} students) "
          f"into {args.output}")
    return 0


def _stamp(args) -> int:
    from mlpgrader import nbgrader_meta
    return nbgrader_meta.main(args.notebooks, check=args.check)


def _cost(args) -> int:
    from mlpgrader import cost
    return cost.main(args.runs)


def main(argv: list[str] | None = None) -> int:
    parser = cli.Parser(prog="mlpgrader", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade submissions (a table, and a JSON report)")
    grade.add_argument("submissions", nargs="+", help="notebooks, .py modules or folders")
    grade.add_argument("--report", help="write the JSON report here")
    grade.add_argument("--chapter", help="the class's chapter: grade every submission as it, "
                                         "flagging another chapter's notebook")
    grade.add_argument("--shard", help="grade only slice K of N of the class, e.g. 2/8")
    grade.add_argument("--exercise-timeout", type=float, default=DEFAULT_TIMEOUT)
    grade.add_argument("--jobs", type=int, default=None, help="exercises graded in parallel")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="grade without bubblewrap (unsafe; a warning goes in the report)")
    grade.set_defaults(run=_grade)
    merge = commands.add_parser("merge", help="combine the shard reports of one class")
    merge.add_argument("reports", nargs="+")
    merge.add_argument("-o", "--output", required=True)
    merge.set_defaults(run=_merge)
    stamp = commands.add_parser("stamp", help="give exercise cells nbgrader's metadata")
    stamp.add_argument("notebooks", nargs="+")
    stamp.add_argument("--check", action="store_true",
                       help="change nothing; exit 1 if a notebook is not stamped")
    stamp.set_defaults(run=_stamp)
    cost = commands.add_parser("cost", help="time one exercise run, sandboxed and not")
    cost.add_argument("--runs", type=int, default=20)
    cost.set_defaults(run=_cost)
    cli.add_commands(commands)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
