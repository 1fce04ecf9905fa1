"""Chapter 5 exercises (watching a network train): the cases and the classic mistakes.

5.1 asks for the early update-to-weight ratio of every weight matrix of a recorded run,
as the chapter's doctor reads it, from parameter snapshots taken at every optimiser
step: a list of dicts (parameter name -> array), snapshots[0] before the first step.
The answer is one number per weight matrix of a linear layer, in the order of the dicts:
the median over the steps, leaving out the optimiser's first step, of
||W_t - W_{t-1}|| / ||W_{t-1}|| (Frobenius norms). Biases, and BatchNorm's scale and
shift (named ``weight`` and ``bias``, as in PyTorch, but 1-D), are not weight matrices.
The reference is computed in float64 from each case's own snapshots.

The cases are drawn from the generator they are given (layer shapes, each layer's ratio
level, the per-step spread, a large first step as Adam's, a spike, weights or steps with
a non-zero mean, BatchNorm layers), so that every mistake below gives a different answer
from the right one in at least one case.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from mlpcore.exercises._compare import compare_array
from mlpcore.exercises._registry import Case, Exercise, Failure

ALL_PARAMETERS = ("only weight MATRICES: leave out the biases (and BatchNorm's scale and "
                  "shift); their ratios say nothing about the learning rate of a layer's weights")
BY_NAME = ("BatchNorm's scale is also called 'weight' but it is a vector, not a weight "
           "matrix: choose the parameters by what they are (their number of dimensions), "
           "not by their name")
FIRST_STEP = ("leave out the optimiser's first step (it is unrepresentative: Adam's is "
              "about lr in every entry, whatever the gradient)")
MEAN = ("the median over the steps, not the mean: one unusually large step should not "
        "move the reading")
AFTER_DENOMINATOR = ("divide each step by the norm of the weights BEFORE that step (the ones "
                     "the update was made for), not after it")
TOTAL_DRIFT = ("the ratio of each STEP: compare consecutive snapshots, not the first with "
               "the last (that measures how far the whole run moved)")
DRIFT_PER_STEP = ("the ratio of each step, then the median: the distance from the first to "
                  "the last snapshot divided by the number of steps is smaller, because "
                  "steps in different directions partly cancel")
STD_RATIO = ("that is makemore's std(dW) / std(W), which subtracts each matrix's mean; the "
             "norm ratio keeps it (they differ when the weights or the steps have a non-zero mean)")
LOG_SCALE = "return the ratio itself; take log10 only when you plot it"
ONE_RATIO = ("one ratio PER weight matrix: norm each layer's step and weights separately, "
             "not all layers together")
DIFF_OF_NORMS = ("take the norm of the DIFFERENCE, ||W_t - W_(t-1)||, not the difference of "
                 "the norms: a step that turns the weights without changing their size "
                 "still moves them")
LAST_STEP = ("the doctor reads every early step (the median over them), not only the last one")


def _norm(array) -> float:
    return float(np.sqrt(np.sum(np.asarray(array, dtype=np.float64) ** 2)))


def _per_step(snapshots: list, name: str, ratio) -> list[float]:
    return [ratio(np.asarray(new[name], dtype=np.float64), np.asarray(old[name], dtype=np.float64))
            for old, new in zip(snapshots[:-1], snapshots[1:])]


def _norm_ratio(new, old):
    return _norm(new - old) / _norm(old)


def _matrices(snapshots: list) -> list[str]:
    return [name for name, value in snapshots[0].items() if np.ndim(value) == 2]


def _reference(snapshots: list) -> np.ndarray:
    return np.array([float(np.median(_per_step(snapshots, name, _norm_ratio)[1:]))
                     for name in _matrices(snapshots)])


def _mistakes(snapshots: list) -> list:
    """(wrong answer, hint) for the classic slips, on this case's snapshots."""
    names = _matrices(snapshots)
    first, last, steps = snapshots[0], snapshots[-1], len(snapshots) - 1

    def early(ratio, chosen=names, skip=1, reduce=np.median):
        return np.array([float(reduce(_per_step(snapshots, name, ratio)[skip:])) for name in chosen])

    def stacked(values):
        return np.concatenate([np.ravel(np.asarray(values[name], dtype=np.float64)) for name in names])

    with np.errstate(divide="ignore", invalid="ignore"):
        together = [np.linalg.norm(stacked(new) - stacked(old)) / np.linalg.norm(stacked(old))
                    for old, new in zip(snapshots[:-1], snapshots[1:])]
        candidates = [
            (early(_norm_ratio, chosen=list(first)), ALL_PARAMETERS),
            (early(_norm_ratio, chosen=[n for n in first if n.endswith("weight")]), BY_NAME),
            (early(_norm_ratio, skip=0), FIRST_STEP),
            (early(_norm_ratio, reduce=np.mean), MEAN),
            (early(lambda new, old: _norm(new - old) / _norm(new)), AFTER_DENOMINATOR),
            (np.array([_norm_ratio(np.asarray(last[n], float), np.asarray(first[n], float))
                       for n in names]), TOTAL_DRIFT),
            (np.array([_norm_ratio(np.asarray(last[n], float), np.asarray(first[n], float)) / steps
                       for n in names]), DRIFT_PER_STEP),
            (early(lambda new, old: float(np.std(new - old) / np.std(old))), STD_RATIO),
            (np.log10(_reference(snapshots)), LOG_SCALE),
            (np.full(len(names), float(np.median(together[1:]))), ONE_RATIO),
            (early(lambda new, old: (_norm(new) - _norm(old)) / _norm(old)), DIFF_OF_NORMS),
            (early(lambda new, old: abs(_norm(new) - _norm(old)) / _norm(old)), DIFF_OF_NORMS),
            (early(_norm_ratio, skip=steps - 1), LAST_STEP),
        ]
    right = _reference(snapshots)
    # a slip that gives the right answer here, or the same answer as another slip with a
    # different hint, cannot be named in this case
    distinct = [(wrong, hint) for wrong, hint in candidates
                if np.all(np.isfinite(wrong)) and not (np.shape(wrong) == right.shape
                                                       and np.allclose(wrong, right, rtol=1e-4))]
    return [(wrong, hint) for wrong, hint in distinct
            if not any(other_hint != hint and np.shape(other) == np.shape(wrong)
                       and np.allclose(other, wrong, rtol=1e-6)
                       for other, other_hint in distinct)] + [((), ONE_RATIO)]


def _judge(inputs: tuple, output) -> Optional[Failure]:
    (snapshots,) = inputs
    return compare_array("ratios", output, _reference(snapshots),
                         mistakes=_mistakes(snapshots), rtol=1e-6)


def _run(rng: np.random.Generator, layers: list[dict], *, steps: int, batchnorm: bool = False,
         first_step: float = 1.0, spike: bool = False) -> tuple:
    """Snapshots of a made-up run: per layer a weight matrix, a bias and (optionally) a
    BatchNorm scale and shift after it, each moved at every step by a random step whose
    size relative to the weights is drawn around the layer's level."""
    width = int(rng.integers(4, 24))
    sizes = [int(rng.integers(4, 24))] + [width] * (len(layers) - 1) + [int(rng.integers(2, 11))]
    params, plan, index = {}, {}, 0
    for k, layer in enumerate(layers):
        shape = (sizes[k], sizes[k + 1])
        params[f"{index}.weight"] = layer.get("mean", 0.0) + rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)
        params[f"{index}.bias"] = rng.normal(0.0, 0.05, shape[1])
        plan[f"{index}.weight"] = layer
        plan[f"{index}.bias"] = {"level": 3 * layer["level"]}
        index += 1
        if batchnorm and k < len(layers) - 1:
            params[f"{index}.weight"] = 1.0 + rng.normal(0.0, 0.1, shape[1])
            params[f"{index}.bias"] = rng.normal(0.0, 0.1, shape[1])
            plan[f"{index}.weight"] = plan[f"{index}.bias"] = {"level": 2 * layer["level"]}
            index += 1
        index += 1   # the activation's place in the model
    spike_at = int(rng.integers(2, steps)) if spike else -1
    snapshots = [{name: value.copy() for name, value in params.items()}]
    for step in range(steps):
        for name, value in params.items():
            setting = plan[name]
            size = setting["level"] * 10 ** rng.uniform(-0.4, 0.4)
            if step == 0:
                size *= first_step
            if step == spike_at:
                size *= 30.0
            direction = rng.standard_normal(value.shape) + setting.get("step_mean", 0.0)
            value += size * _norm(value) * direction / _norm(direction)
        snapshots.append({name: value.copy() for name, value in params.items()})
    return (snapshots,)


def _cases(rng: np.random.Generator) -> tuple[Case, ...]:
    def level(low, high):
        return float(10 ** rng.uniform(np.log10(low), np.log10(high)))

    def steps():
        return int(rng.integers(6, 13))

    judge = _judge
    return (
        Case.of("two layers, steady steps",
                _run(rng, [dict(level=level(1e-3, 1e-2)), dict(level=level(1e-3, 1e-2))],
                     steps=steps()), judge),
        Case.of("three layers at different levels, a first step ten times larger (as Adam's)",
                _run(rng, [dict(level=level(1e-4, 1e-3)), dict(level=level(1e-3, 1e-2)),
                           dict(level=level(1e-2, 5e-2))], steps=steps(), first_step=10.0),
                judge),
        Case.of("three layers with BatchNorm after the first two",
                _run(rng, [dict(level=level(1e-3, 1e-2)) for _ in range(3)], steps=steps(),
                     batchnorm=True), judge),
        Case.of("two layers, one step thirty times larger than the others",
                _run(rng, [dict(level=level(1e-3, 1e-2)), dict(level=level(1e-3, 1e-2))],
                     steps=steps(), spike=True), judge),
        Case.of("two layers, weights and steps with a non-zero mean",
                _run(rng, [dict(level=level(1e-3, 1e-2), mean=rng.uniform(0.2, 0.5),
                                step_mean=rng.uniform(0.5, 1.0)),
                           dict(level=level(1e-3, 1e-2), mean=-rng.uniform(0.2, 0.5),
                                step_mean=-rng.uniform(0.5, 1.0))], steps=steps()), judge),
        Case.of("four layers with BatchNorm, large steps (ratios of 0.1 to 1)",
                _run(rng, [dict(level=level(0.1, 1.0)) for _ in range(4)], steps=steps(),
                     batchnorm=True), judge),
    )


UPDATE_TO_WEIGHT_RATIOS = Exercise(
    id="ch05.update_to_weight_ratios",
    function="update_to_weight_ratios",
    params=("snapshots",),
    case_generator=_cases,
)

EXERCISES = [UPDATE_TO_WEIGHT_RATIOS]

#: Every hint that names a mistake, per exercise: tests/exercises/test_exercises_ch05.py proves each
#: is shown to a wrong answer that makes that mistake (no hint is unreachable).
HINTS = {
    UPDATE_TO_WEIGHT_RATIOS.id: (ALL_PARAMETERS, BY_NAME, FIRST_STEP, MEAN, AFTER_DENOMINATOR,
                                 TOTAL_DRIFT, DRIFT_PER_STEP, STD_RATIO, LOG_SCALE, ONE_RATIO,
                                 DIFF_OF_NORMS, LAST_STEP),
}
