"""Shared pytest set-up: quiet, headless, strict about PyTorch in CI; shared fixtures.

The tests are laid out as the parts they test:

- ``mlpcore/``: the library, module by module (values, gradients, errors, no hidden copies);
- ``parity/``: mlpcore against PyTorch (layers, init, optimisers, the hot path);
- ``exercises/``: every chapter's exercises (references, wrong solutions, hints);
- ``grader/``: mlpgrader (sandbox, held-out cases, hostile and malformed submissions);
- ``book/``: the built book and its tools (structure, notebook edition, claims,
  replication, install cell, API reference, browser).

Fixtures live here; plain helpers in ``_support.py``: ``tests/_support.py`` for what
several folders use (the checkout, the built book, its pages), one per folder for the
rest, imported as ``tests.<folder>._support`` (pyproject.toml's ``pythonpath`` puts the
checkout on the import path; nothing inserts paths itself).
"""
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
