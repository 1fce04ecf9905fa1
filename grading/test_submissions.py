"""One test per student × exercise; the parameters come from grading/conftest.py."""
import pytest


def test_exercise(graded):
    submission, exercise, result = graded
    if exercise is None:
        pytest.fail(f"{submission.student}: not graded: {submission.error}", pytrace=False)
    if result.points < result.max_points:
        pytest.fail(result.summary(), pytrace=False)
