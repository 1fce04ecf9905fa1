"""mlpgrader (or python -m mlpgrader) grade|merge|stamp|student|export|similar|kernel|cost ...
(see docs/grading.md)."""
from __future__ import annotations

import sys

from mlpgrader import cli, grader, options, sandbox


def _grade(args) -> int:
    try:
        run = options.start(args.submissions, lambda dest: getattr(args, dest))
    except (ValueError, sandbox.SandboxUnavailable) as exc:
        return cli.refuse("grade", exc)
    for future in run.grade().values():
        future.result()
    print("\n".join(options.finish(run)))
    if run.report:
        print(f"JSON report written to {run.report}")
    return grader.exit_status([submission.to_dict() for submission in run.submissions])


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
    options.add_to(grade.add_argument)
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
