"""Scaling out: --shard K/N grades a deterministic slice of the class, and the merge
command combines the shard reports into the report one run would have written."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mlpgrader import grader
from tests._support import ROOT
from tests.grader._support import (ch00_exercises, chapter0_notebook, read, sandbox_mode,
                                   with_cell, write, wrong_cell)

STUDENTS = ["ada", "bob", "cleo", "dan", "eve"]
LAST = ch00_exercises()[-1]
MAX = sum(exercise.max_points for exercise in ch00_exercises())


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    sandbox_mode()
    folder = tmp_path_factory.mktemp("class")
    reference = read(chapter0_notebook())
    wrong = with_cell(reference, LAST.function, wrong_cell(LAST))
    for index, student in enumerate(STUDENTS):
        write(wrong if index % 2 else reference, folder / f"{student}.ipynb")
    (folder / "zed.ipynb").write_text("not a notebook", encoding="utf-8")
    return folder


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "mlpgrader", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_shards_are_a_deterministic_partition(folder):
    everyone = {s for s, _ in grader.discover([str(folder)])}
    slices = [[s.student for s in grader.plan([str(folder)], shard=(k, 3))] for k in (1, 2, 3)]
    assert sorted(sum(slices, [])) == sorted(everyone)
    assert slices == [[s.student for s in grader.plan([str(folder)], shard=(k, 3))]
                      for k in (1, 2, 3)]
    assert max(map(len, slices)) - min(map(len, slices)) <= 1
    for bad in ("0/3", "4/3", "2", "a/b"):
        with pytest.raises(ValueError, match="--shard"):
            grader.parse_shard(bad)


def test_merged_shard_reports_equal_one_run(folder, tmp_path):
    whole = cli("grade", str(folder), "--report", str(tmp_path / "whole.json"))
    assert whole.returncode == 1, whole.stderr  # graded; not every submission is perfect
    shards = []
    for k in (1, 2, 3):
        path = tmp_path / f"shard-{k}.json"
        run = cli("grade", str(folder), "--shard", f"{k}/3", "--report", str(path))
        rows = json.loads(path.read_text(encoding="utf-8"))["submissions"]
        assert run.returncode == grader.exit_status(rows) in (0, 1), run.stderr
        shards.append(str(path))
    merged_path = tmp_path / "merged.json"
    merge = cli("merge", *shards, "-o", str(merged_path))
    assert merge.returncode == 0, merge.stderr
    assert "merged 3 shard reports (6 students)" in merge.stdout
    merged = json.loads(merged_path.read_text(encoding="utf-8"))
    one = json.loads((tmp_path / "whole.json").read_text(encoding="utf-8"))
    assert merged["grader"]["shards"] == ["1/3", "2/3", "3/3"]
    assert merged["submissions"] == one["submissions"]
    assert (merged["points"], merged["max_points"]) == (one["points"], one["max_points"])
    # three correct, two with the last exercise wrong, zed unreadable
    assert merged["points"] == 3 * MAX + 2 * (MAX - LAST.max_points)
    incomplete = cli("merge", *shards[:2], "-o", str(tmp_path / "partial.json"))
    assert incomplete.returncode == 4 and "missing 3/3" in incomplete.stderr
    twice = cli("merge", shards[0], shards[0], shards[1], shards[2], "-o", str(tmp_path / "x.json"))
    assert twice.returncode == 4 and "exactly once" in twice.stderr
