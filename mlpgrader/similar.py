"""Near-identical exercise code: ``mlpgrader similar submissions/ [--chapter ch02]``.

For every exercise, the code of its cell in each submission is compared with the same
exercise in every other submission and with the book's reference solution, by
copydetect (MOSS's winnowing: the code is tokenised, names become one symbol,
comments and layout vanish, and fingerprints of 25-character runs of what is left are
compared). The exercise's own signature and docstring, which every student was
handed, are boilerplate and do not count; a cell still holding the stub is skipped.

The score of a pair on an exercise is the smaller of copydetect's two similarities
(the share of each cell's fingerprinted code found in the other): 1.0 for the same
code under other names and comments, and low when only one of the two is contained in
the other. An exercise at or above the threshold (default 0.8) is near-identical.

It flags, never penalises: short exercises leave few ways to write them, so two
honest solutions can coincide; the report is a list of pairs to read, most
near-identical exercises first.
"""
from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from mlpcore.exercises import Exercise, chapter_exercises
from mlpgrader import grader
from mlpgrader.notebook import (MarkerError, find_exercise_source, infer_chapter, load_cells,
                                strip_solution)
from mlpgrader.text import clean

BOOK = Path(__file__).resolve().parents[1] / "book"
REFERENCE = "(book's reference solution)"
NOISE = 25       # copydetect's default noise threshold (characters of normalised code)
STUB = "replace this line with your code"


@dataclass
class Match:
    first: str
    second: str
    exercise: str
    score: float


def _fingerprint(source: str, boilerplate=None):
    import copydetect  # imported here: only this subcommand needs it
    return copydetect.CodeFingerprint("cell.py", NOISE, 1, boilerplate=boilerplate,
                                      language="python", fp=io.StringIO(source))


def similarity(first, second) -> float:
    """The smaller of copydetect's two similarities of two fingerprints (0 to 1)."""
    import copydetect
    if not first.hashes or not second.hashes:
        return 0.0
    _, (one, two), _ = copydetect.compare_files(first, second)
    return float(min(one, two))


def reference_sources(chapter: str) -> dict[str, str]:
    """exercise id -> the exercise's cell in the book's chapter notebook."""
    for path in sorted(BOOK.glob("*.ipynb")):
        cells = load_cells(path)
        if infer_chapter(cells, path.stem) == chapter:
            return {exercise.id: source for exercise in chapter_exercises(chapter)
                    if (source := find_exercise_source(cells, exercise)) is not None}
    return {}


def handed_out(reference: Optional[str]) -> Optional[str]:
    """What every student got for this exercise: the reference cell with its solution
    removed (signature and docstring)."""
    if reference is None:
        return None
    try:
        return strip_solution(reference, "pass")
    except MarkerError:  # a reference without markers: nothing is boilerplate
        return None


def attempted(source: Optional[str], exercise: Exercise) -> bool:
    return source is not None and f"{exercise.id}: {STUB}" not in source


def compare(submissions: list[grader.Submission], with_reference: bool = True,
            threshold: float = 0.8) -> list[Match]:
    """Every (pair, exercise) whose score reaches ``threshold``, highest first."""
    matches: list[Match] = []
    by_chapter: dict[str, list[grader.Submission]] = {}
    for submission in submissions:
        if submission.chapter and submission.cells is not None:
            by_chapter.setdefault(submission.chapter, []).append(submission)
    for chapter, group in sorted(by_chapter.items()):
        references = reference_sources(chapter)  # also gives the handed-out boilerplate
        for exercise in chapter_exercises(chapter):
            reference = references.get(exercise.id)
            stub = handed_out(reference)
            boilerplate = _fingerprint(stub).hashes if stub else None
            sources = {s.student: find_exercise_source(s.cells, exercise) for s in group}
            sources = {name: source for name, source in sources.items()
                       if attempted(source, exercise)}
            if with_reference and reference is not None:
                sources[REFERENCE] = reference
            prints = {name: _fingerprint(source, boilerplate) for name, source in sources.items()}
            matches += _matches(prints, exercise.id, threshold)
    return sorted(matches, key=lambda m: (-m.score, m.first, m.second, m.exercise))


def _matches(prints: dict, exercise_id: str, threshold: float) -> list[Match]:
    """Scores of every pair of fingerprints at or above ``threshold``. Cells whose
    normalised code is the same are compared once (a class handing in the book's code
    would otherwise cost students² comparisons), and pairs that share no fingerprint
    score 0 without a comparison."""
    groups: dict[str, list[str]] = {}
    for name in sorted(prints):
        if prints[name].hashes:  # nothing but boilerplate: nothing to compare
            groups.setdefault(prints[name].filtered_code, []).append(name)
    found = []

    def add(members_one, members_two, score):
        for one in members_one:
            for two in members_two:
                if one != two:
                    first, second = sorted((one, two), key=lambda n: (n != REFERENCE, n))
                    found.append(Match(first, second, exercise_id, round(score, 3)))

    codes = sorted(groups)
    for code in codes:
        members = groups[code]
        if len(members) > 1:
            score = similarity(prints[members[0]], prints[members[0]])
            if score >= threshold:
                for index, one in enumerate(members):
                    add([one], members[index + 1:], score)
    for code_one, code_two in itertools.combinations(codes, 2):
        one, two = prints[groups[code_one][0]], prints[groups[code_two][0]]
        if one.hashes.isdisjoint(two.hashes):
            continue
        score = similarity(one, two)
        if score >= threshold:
            add(groups[code_one], groups[code_two], score)
    return found


def pairs(matches: list[Match]) -> list[dict]:
    """The matches grouped by pair of students (the reference counts as one), the pair
    with most near-identical exercises first."""
    grouped: dict[tuple[str, str], list[Match]] = {}
    for match in matches:
        grouped.setdefault((match.first, match.second), []).append(match)
    rows = [{"first": first, "second": second,
             "exercises": {m.exercise: m.score for m in sorted(found, key=lambda m: m.exercise)},
             "mean_score": round(sum(m.score for m in found) / len(found), 3)}
            for (first, second), found in grouped.items()]
    return sorted(rows, key=lambda r: (-len(r["exercises"]), -r["mean_score"],
                                       r["first"], r["second"]))


def report_lines(rows: list[dict], threshold: float) -> list[str]:
    if not rows:
        return [f"no exercise code is near-identical (score >= {threshold:g}) between two "
                f"submissions or a submission and the book's reference"]
    lines = [f"near-identical exercise code (score >= {threshold:g}; copydetect winnowing "
             f"after normalising names, comments and layout). A flag to read, not a verdict:"]
    for row in rows:
        found = ", ".join(f"{exercise} {score:.2f}" for exercise, score in row["exercises"].items())
        lines.append(f"  {clean(row['first'], 40)}  ~  {clean(row['second'], 40)}: "
                     f"{len(row['exercises'])} exercise(s): {found}")
    return lines


def main(paths: list[str], chapter: Optional[str] = None, threshold: float = 0.8,
         report: Optional[str] = None, no_reference: bool = False) -> int:
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"--threshold {threshold}: expected a number in (0, 1]")
    submissions = grader.plan(paths, chapter)
    if not BOOK.is_dir():
        print(f"note: the book's notebooks are not at {BOOK}: submissions are compared with "
              f"each other only, and the handed-out docstrings count as code")
    rows = pairs(compare(submissions, not no_reference, threshold))
    print("\n".join(report_lines(rows, threshold)))
    if report:
        grader.write_json_atomically({"threshold": threshold, "pairs": rows}, report)
        print(f"JSON written to {report}")
    return 0
