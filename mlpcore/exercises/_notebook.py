"""Moved: the notebook reader is the grader's, in ``mlpgrader.notebook`` (the
instructor's package beside mlpcore, not installed with it). This alias keeps older
test files working from a checkout; import from ``mlpgrader.notebook`` instead."""
import sys
from pathlib import Path

try:
    import mlpgrader  # noqa: F401
except ImportError:  # a checkout: mlpgrader sits beside the mlpcore folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mlpgrader.notebook import (CHECK_TAG, EXERCISE_TAG, cell_source, cell_tags,  # noqa: E402,F401
                                find_exercise_source, infer_chapter, load_cells)
