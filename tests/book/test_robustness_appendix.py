"""The robustness appendix (book/robustness.md) is built from replication data that is
current: made from the chapters' present code, on at least ten seeds, with every claim held."""
import json
from pathlib import Path

import pytest

from booktools import replicate

ROOT = Path(__file__).resolve().parents[2]

CHAPTERS = replicate.chapter_paths(None)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_replication_data_is_current_for_the_chapter(chapter):
    data_path = replicate.DATA / f"{chapter.stem}.json"
    assert data_path.exists(), (f"no replication data for {chapter.name}: run "
                                f"`make replicate-report CHAPTERS={chapter.name[:2]}` and commit it")
    data = json.loads(data_path.read_text())
    assert data["hash"] == replicate.code_hash(chapter), (
        f"{chapter.name}'s code changed after book/replication/{data_path.name} was made: run "
        f"`make replicate-report CHAPTERS={chapter.name[:2]}` and commit the result")
    assert len(data["seeds"]) >= 10 and set(data["seeds"]).isdisjoint({2027})
    failing = [f"{c['text']} ({c['passed']}/{c['runs']})" for c in data["claims"]
               if c["passed"] < c["runs"] or c["runs"] != len(data["seeds"])]
    assert not failing, f"{chapter.name}: claims that do not hold on every seed: {failing}"
    assert data["claims"], f"{chapter.name} records no claims"


def test_the_page_is_built_from_the_committed_data():
    text, _ = replicate.render_page(CHAPTERS)
    assert replicate.PAGE.read_text(encoding="utf-8") == text, \
        "book/robustness.md is stale: run `make replicate-report` and commit it"
