"""One test per student × exercise; the parameters come from grading/conftest.py."""
import pytest

from mlpgrader.text import clean


def test_exercise(graded):
    submission, exercise, result = graded
    if exercise is None:
        pytest.fail(f"{submission.student}: not graded: {clean(submission.error, 600)}",
                    pytrace=False)
    if result.points < result.max_points:
        pytest.fail("\n".join(clean(line, 2000) for line in result.lines()), pytrace=False)
