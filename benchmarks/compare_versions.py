"""Is a change to mlpcore slower? Time the training step of two checkouts, interleaved.

    .venv/bin/python benchmarks/compare_versions.py OLD_CHECKOUT [--rounds 30] [--steps 10]

OLD_CHECKOUT is a folder holding an older ``mlpcore/`` (for example
``git worktree add /tmp/old main`` or ``git archive main | tar -x -C /tmp/old``); the
new one is this repository's. Both packages are imported into ONE process (the old one
renamed), and the step of ``bench_step.py`` (its configurations, models, data and
SGD settings, built from each version's classes) runs for each in alternating blocks of ``--steps`` steps, the
order swapped every round. A shared, busy machine then slows both alike, so the ratio
new / old of each round is far steadier than two separate benchmark runs, whose
absolute times can differ by 2x under load. Reported per configuration: the median of
the per-round ratios and their interquartile range, and the ratio of the fastest block
of each (the least disturbed); a ratio of 1.00 means no change.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path, help="a checkout holding the old mlpcore/")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=10, help="steps per block (MNIST: /10)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", default="", help="configurations whose name contains this")
    return parser.parse_args(argv)


def import_mlpcore(root: Path, alias: str):
    """Import the ``mlpcore`` under ``root`` and keep it under the name ``alias``: loaded
    from its folder as the package ``mlpcore`` (its submodules are found in that folder),
    then renamed, so that the next version can be loaded as ``mlpcore`` in turn."""
    for name in [n for n in sys.modules if n == "mlpcore" or n.startswith("mlpcore.")]:
        del sys.modules[name]
    folder = root / "mlpcore"
    spec = importlib.util.spec_from_file_location(
        "mlpcore", folder / "__init__.py", submodule_search_locations=[str(folder)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["mlpcore"] = package
    spec.loader.exec_module(package)
    for name in ("layers", "losses", "optim"):
        importlib.import_module(f"mlpcore.{name}")
    for name in [n for n in sys.modules if n == "mlpcore" or n.startswith("mlpcore.")]:
        sys.modules[alias + name[len("mlpcore"):]] = sys.modules.pop(name)
    return package


def make_step(lib, bench_step, config):
    """bench_step.make_mlpcore's step (model, loss, SGD, data), built from the classes of
    the package ``lib``: the one definition of the benchmark's step, for both versions."""
    classes = {"Linear": lib.layers.Linear, "ReLU": lib.layers.ReLU,
               "Dropout": lib.layers.Dropout, "BatchNorm1d": lib.layers.BatchNorm1d,
               "Sequential": lib.layers.Sequential,
               "CrossEntropyLoss": lib.losses.CrossEntropyLoss, "SGD": lib.optim.SGD}
    saved = {name: getattr(bench_step, name) for name in classes}
    vars(bench_step).update(classes)
    try:
        return bench_step.make_mlpcore(config)[1]
    finally:
        vars(bench_step).update(saved)


def block_time(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    args = parse_args()
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    import numpy as np

    sys.argv = sys.argv[:1]  # bench_step parses its own arguments on import
    import bench_step  # beside this script: the configurations and data of the main benchmark

    old = import_mlpcore(args.old.resolve(), "mlpcore_old")
    new = import_mlpcore(ROOT, "mlpcore_new")
    load = os.getloadavg()[0]
    print(f"new = {ROOT}, old = {args.old}; {args.threads} threads; load average {load:.2f}")
    print("| configuration | new / old: median (IQR) of per-round ratios | new / old of the "
          "fastest blocks | old ms | new ms |")
    print("|---|---|---|---|---|")
    for config in bench_step.CONFIGS:
        if args.only not in config.name:
            continue
        steps = args.steps if config.scale == "course" else max(1, args.steps // 10)
        contenders = {"old": make_step(old, bench_step, config),
                      "new": make_step(new, bench_step, config)}
        for step in contenders.values():
            block_time(step, 3)  # warm-up
        times = {"old": [], "new": []}
        for round_index in range(args.rounds):
            order = ("old", "new") if round_index % 2 == 0 else ("new", "old")
            for label in order:
                times[label].append(block_time(contenders[label], steps))
        ratios = np.array(times["new"]) / np.array(times["old"])
        low, mid, high = np.percentile(ratios, [25, 50, 75])
        best = min(times["new"]) / min(times["old"])  # the least disturbed block of each
        print(f"| {config.name} | {mid:.2f} ({low:.2f}–{high:.2f}) | {best:.2f} | "
              f"{1e3 * np.median(times['old']):.3g} | {1e3 * np.median(times['new']):.3g} |")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
