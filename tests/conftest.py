"""Shared pytest set-up: quiet, headless, strict about PyTorch in CI; shared fixtures."""
import contextlib
import os

import numpy as np
import pytest

# Stored notebook outputs and test logs must not contain progress bars.
os.environ.setdefault("MLPCORE_QUIET", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items):
    """In CI (MLPCORE_REQUIRE_TORCH=1) a parity test that would skip is a failure."""
    if os.environ.get("MLPCORE_REQUIRE_TORCH") != "1":
        return
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise pytest.UsageError(
            "MLPCORE_REQUIRE_TORCH=1 but torch does not import "
            f"({exc}); install it with: pip install torch==2.13.0") from exc


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator seeded with 0, fresh for each test (other seeds: default_rng(k))."""
    return np.random.default_rng(0)


@pytest.fixture
def raises_with():
    """``with raises_with(ValueError, "Linear(64→128)", "(32, 63)"):`` expects that error
    type with each fact (layer, shapes, value, fix) somewhere in its message, however
    the sentence is worded."""
    @contextlib.contextmanager
    def expect(error: type, *facts: str):
        with pytest.raises(error) as info:
            yield info
        missing = [fact for fact in facts if fact not in str(info.value)]
        assert not missing, f"the message lacks {missing}: {info.value}"
    return expect
