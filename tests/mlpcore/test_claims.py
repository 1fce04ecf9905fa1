"""mlpcore.claims: a sentence's guard raises, records or warns by mode, and keeps its numbers."""
import numpy as np
import pytest

from mlpcore import claims
from mlpcore.notebook import glue


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv("MLPCORE_CLAIMS", raising=False)
    claims.reset()
    claims.set_mode("strict")
    yield
    claims.reset()
    claims.set_mode("strict")


def test_strict_raises_with_the_sentence_and_numbers():
    with pytest.raises(claims.ClaimBroken, match=r"claim broken: dropout helps \(gain=-0.5\)"):
        claims.claim(-0.5 > 0, "dropout helps", gain=-0.5)
    assert claims.records()[0]["passed"] is False


def test_a_true_claim_is_recorded_and_returns_true():
    assert claims.claim(np.float64(2.0) > 1, "two is more than one", x=np.float32(2.0)) is None
    (record,) = claims.records()
    assert record["passed"] is True and record["detail"] == {"x": 2.0}
    assert record["id"] == "two-is-more-than-one"


def test_record_mode_carries_on_and_keeps_every_claim():
    claims.set_mode("record")
    claims.claim(False, "first")
    claims.claim(True, "second")
    assert [r["passed"] for r in claims.records()] == [False, True]


def test_warn_mode_prints_one_line_and_carries_on(capsys):
    claims.set_mode("warn")
    claims.claim(False, "the loss falls", loss=3.0)
    out = capsys.readouterr().out
    assert "no longer holds for your settings: the loss falls (loss=3)" in out


def test_environment_wins_over_set_mode(monkeypatch):
    claims.set_mode("warn")
    monkeypatch.setenv("MLPCORE_CLAIMS", "strict")
    with pytest.raises(claims.ClaimBroken):
        claims.claim(False, "x")
    monkeypatch.setenv("MLPCORE_CLAIMS", "loud")
    with pytest.raises(ValueError, match="MLPCORE_CLAIMS must be one of"):
        claims.mode()


def test_repeated_sentences_get_distinct_ids():
    for _ in range(3):
        claims.claim(True, "same words")
    assert [r["id"] for r in claims.records()] == ["same-words", "same-words-2", "same-words-3"]


def test_an_array_condition_must_be_reduced():
    with pytest.raises(TypeError, match="np.all"):
        claims.claim(np.array([True, False]), "all positive")
    claims.claim(np.array(True), "a 0-d array is fine")
    assert claims.records()[-1]["passed"] is True


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match="strict"):
        claims.set_mode("loose")


def test_glue_keeps_values_for_the_replication_report():
    glue("gain", np.float64(4.25))
    assert claims.glued() == {"gain": 4.25}
