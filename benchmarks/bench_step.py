"""Speed of one training step: mlpcore against PyTorch (CPU) and the pure-GEMM bound.

One step = zero_grad, forward, CrossEntropyLoss, backward, SGD(lr=0.01,
momentum=0.9, weight_decay=5e-4) update, in float32, for the same model with the
same initial weights on both sides (the script checks that both give the same
losses). Contenders, per configuration:

* mlpcore: ``model.backward(loss_fn.backward(), needs_input_grad=False)``, which
  skips d loss / d data, as PyTorch does for data (requires_grad=False);
* mlpcore, README loop: ``model.backward(loss_fn.backward())``, which also
  computes d loss / d data (one more matrix product, G Wᵀ of the first layer);
* PyTorch: ``loss.backward()`` and ``torch.optim.SGD``, same hyper-parameters;
* pure GEMM: only the matrix products a step needs, by NumPy into preallocated
  arrays: per Linear layer the forward x W and dW = xᵀ G, and dX = G Wᵀ for every
  layer but the first. A lower bound: it leaves out all element-wise work.

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_step.py            # full run, about 5 minutes
    .venv/bin/python benchmarks/bench_step.py --quick    # smoke run, about a minute
    .venv/bin/python benchmarks/bench_step.py --threads 1 --breakdown  # + where time goes

Method: the contenders are timed interleaved, in rounds with a rotating order,
so a slow patch of a shared machine hits all of them alike. Before its block of
a round, a contender waits SETTLE_SECONDS (so the thread pool of the one before
stops spinning: idle OpenBLAS and OpenMP threads busy-wait for a while, and on a
2-core machine they would slow the next contender), runs a few untimed warm-up
steps, then a block of steps each timed with time.perf_counter. Reported: the
median and interquartile range (IQR) of the per-step times, and the ratio of the
medians with the IQR of the per-round ratios. Both libraries use the same number
of threads (``--threads``, default: all cores), set before NumPy and PyTorch are
imported and read back with threadpoolctl when it is installed.

Peak memory of a short training run is measured in a fresh subprocess per
library, after the model, optimiser and data exist: the growth of the peak
resident set size (VmHWM, reset to the current RSS first where Linux allows),
and for mlpcore the peak of tracemalloc (NumPy reports its arrays to it).
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=600,
                        help="timed steps per contender at MNIST scale (default 600); "
                             "course scale, 50 times cheaper, times 5x as many")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 40 repeats, 5-step memory runs")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="BLAS / PyTorch threads for both libraries (default: all cores)")
    parser.add_argument("--memory-steps", type=int, default=50,
                        help="steps of the training run whose peak memory is measured")
    parser.add_argument("--breakdown", action="store_true",
                        help="also print where mlpcore's MNIST-scale step spends its time")
    parser.add_argument("--only", default="",
                        help="run only configurations whose name contains this text")
    parser.add_argument("--memory-child", nargs=2, metavar=("LIBRARY", "CONFIG"),
                        help=argparse.SUPPRESS)  # internal: one memory measurement
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.memory_steps = 40, 5
    return args


ARGS = parse_args() if __name__ == "__main__" else parse_args([])
# Thread pools read these when the library loads, so they are set before the imports.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = str(ARGS.threads)

import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402

import numpy as np  # noqa: E402

from mlpcore.layers import BatchNorm1d, Dropout, Linear, ReLU, Sequential  # noqa: E402
from mlpcore.losses import CrossEntropyLoss  # noqa: E402
from mlpcore.optim import SGD  # noqa: E402

LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4
# Before each block: a pause, so the thread pool of the contender that ran last
# stops spinning (OpenBLAS's and OpenMP's idle threads busy-wait for a while and,
# on a 2-core machine, would slow the next contender's threads), then warm-up steps.
SETTLE_SECONDS = 0.2
SEED = 0


@dataclass(frozen=True)
class Config:
    name: str
    sizes: tuple[int, ...]   # layer widths, input first
    batch: int
    extra: str = ""          # "", "dropout" or "batchnorm" after every hidden Linear

    @property
    def scale(self) -> str:
        return "course" if self.sizes[0] < 784 else "mnist"


CONFIGS = [
    Config("course 64-128-10, batch 32", (64, 128, 10), 32),
    Config("course + Dropout(0.5)", (64, 128, 10), 32, "dropout"),
    Config("course + BatchNorm1d", (64, 128, 10), 32, "batchnorm"),
    Config("MNIST 784-512-512-10, batch 256", (784, 512, 512, 10), 256),
    Config("MNIST + Dropout(0.5)", (784, 512, 512, 10), 256, "dropout"),
    Config("MNIST + BatchNorm1d", (784, 512, 512, 10), 256, "batchnorm"),
]
# The targets: mlpcore time / PyTorch time, and / pure-GEMM time.
TARGETS = {"course": {"torch": 0.5}, "mnist": {"torch": 1.0, "gemm": 1.25}}


# ----- the contenders ---------------------------------------------------------
def make_data(config: Config) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((config.batch, config.sizes[0]), dtype=np.float32)
    y = rng.integers(0, config.sizes[-1], config.batch)
    return x, y


def make_mlpcore(config: Config, needs_input_grad: bool = False):
    """Linear -> [BatchNorm1d] -> ReLU -> [Dropout] per hidden layer, then Linear;
    returns (model, step, loss_fn, optimizer), step() being one training step.

    ``needs_input_grad=False`` skips d loss / d data (the product G Wᵀ of the first
    Linear), which PyTorch never computes for data; True is the README's loop."""
    rng = np.random.default_rng(SEED + 1)
    layers = []
    widths = list(zip(config.sizes[:-1], config.sizes[1:]))
    for index, (fan_in, fan_out) in enumerate(widths):
        layers.append(Linear(fan_in, fan_out, rng=rng))
        if index < len(widths) - 1:
            if config.extra == "batchnorm":
                layers.append(BatchNorm1d(fan_out))
            layers.append(ReLU())
            if config.extra == "dropout":
                layers.append(Dropout(0.5, rng=rng))
    model = Sequential(*layers)
    loss_fn = CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    x, y = make_data(config)

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), needs_input_grad=needs_input_grad)
        optimizer.step()

    return model, step, loss_fn, optimizer


def make_torch(config: Config, mlpcore_model):
    """The same architecture in PyTorch, starting from mlpcore's initial weights."""
    import torch

    layers = []
    for layer in mlpcore_model:
        if isinstance(layer, Linear):
            linear = torch.nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():  # ours is stored (in, out), PyTorch's (out, in)
                linear.weight.copy_(torch.from_numpy(layer.weight.data.T))
                linear.bias.copy_(torch.from_numpy(layer.bias.data))
            layers.append(linear)
        elif isinstance(layer, BatchNorm1d):
            layers.append(torch.nn.BatchNorm1d(layer.num_features))
        elif isinstance(layer, ReLU):
            layers.append(torch.nn.ReLU())
        elif isinstance(layer, Dropout):
            layers.append(torch.nn.Dropout(layer.p))
    model = torch.nn.Sequential(*layers).train()
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM,
                                weight_decay=WEIGHT_DECAY)
    x, y = (torch.from_numpy(array) for array in make_data(config))

    def step() -> None:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    return model, step


def make_gemm(config: Config):
    """Only the matrix products of a step, into preallocated arrays (a lower bound)."""
    rng = np.random.default_rng(SEED + 2)
    sizes, batch = config.sizes, config.batch
    weights = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(sizes, sizes[1:])]
    activations = [rng.standard_normal((batch, width), dtype=np.float32) for width in sizes]
    grads_out = [rng.standard_normal((batch, width), dtype=np.float32) for width in sizes]
    grads_w = [np.empty_like(w) for w in weights]

    def step() -> None:
        for i, w in enumerate(weights):      # forward: a_{i+1} = a_i W_i
            np.matmul(activations[i], w, out=activations[i + 1])
        for i in reversed(range(len(weights))):
            np.matmul(activations[i].T, grads_out[i + 1], out=grads_w[i])  # dW = a_iᵀ G
            if i > 0:                                                      # dX = G Wᵀ
                np.matmul(grads_out[i + 1], weights[i].T, out=grads_out[i])

    return step


def check_same_training(config: Config) -> str:
    """Three steps on both sides from the same weights must give the same losses
    (float32 rounding apart), evidence that both time the same computation."""
    import torch

    model = make_mlpcore(config)[0]
    torch_model, _ = make_torch(config, model)
    if config.extra == "dropout":
        return "n/a (different dropout masks)"
    x, y = make_data(config)
    loss_fn, torch_loss_fn = CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=LR, momentum=MOMENTUM,
                                      weight_decay=WEIGHT_DECAY)
    worst = 0.0
    for _ in range(3):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward(), needs_input_grad=False)
        optimizer.step()
        torch_optimizer.zero_grad()
        torch_loss = torch_loss_fn(torch_model(torch.from_numpy(x)), torch.from_numpy(y))
        torch_loss.backward()
        torch_optimizer.step()
        worst = max(worst, abs(loss - torch_loss.item()) / abs(torch_loss.item()))
    if worst > 1e-4:
        raise AssertionError(f"{config.name}: mlpcore and PyTorch losses differ by "
                             f"{worst:.1e} (relative): the two sides do not compute the same step")
    return f"{worst:.0e}"


# ----- timing -------------------------------------------------------------------------
def time_interleaved(steps: dict, repeats: int, block: int, warmup: int) -> dict:
    """Per-step times of each contender, interleaved in rounds of ``block`` steps."""
    names = list(steps)
    times = {name: [] for name in names}
    rounds = max(1, -(-repeats // block))
    for name in names:  # first touch: allocations, thread start-up, caches
        for _ in range(3 * warmup):
            steps[name]()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside one contender's block would be charged to it
    try:
        for round_index in range(rounds):
            order = names[round_index % len(names):] + names[:round_index % len(names)]
            for name in order:
                step = steps[name]
                gc.collect()  # between blocks, untimed
                time.sleep(SETTLE_SECONDS)
                for _ in range(warmup):
                    step()
                block_times = []
                for _ in range(block):
                    start = time.perf_counter()
                    step()
                    block_times.append(time.perf_counter() - start)
                times[name].append(block_times)
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def summary(blocks: list[list[float]]) -> tuple[float, float, float]:
    q25, median, q75 = np.percentile(np.concatenate(blocks), [25, 50, 75])
    return median, q25, q75


def round_ratios(numerator: list[list[float]], denominator: list[list[float]]) -> np.ndarray:
    return np.array([np.median(a) / np.median(b) for a, b in zip(numerator, denominator)])


# ----- memory -------------------------------------------------------------------------
def peak_rss_mib() -> float:
    """The process's peak resident set size so far (VmHWM; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak_rss() -> bool:
    """Make the peak RSS start again from the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def memory_child(library: str, config_name: str, steps: int) -> dict:
    """Run in a fresh process: peak memory of ``steps`` training steps, above the
    memory in use once the model, optimiser and data exist."""
    config = next(c for c in CONFIGS if c.name == config_name)
    model, step = make_mlpcore(config)[:2]
    if library == "torch":
        _, step = make_torch(config, model)
        del model
    gc.collect()
    result = {"peak_reset": reset_peak_rss()}
    before = peak_rss_mib()
    if library == "mlpcore":
        tracemalloc.start()
    for _ in range(steps):
        step()
    if library == "mlpcore":
        result["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result["rss_growth_mib"] = peak_rss_mib() - before
    return result


def measure_memory(config: Config, steps: int, libraries: list[str]) -> dict:
    results = {}
    for library in libraries:
        command = [sys.executable, os.path.abspath(__file__), "--threads", str(ARGS.threads),
                   "--memory-child", library, config.name, "--memory-steps", str(steps)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[library] = json.loads(output.strip().splitlines()[-1])
    return results


# ----- where the time goes -------------------------------------------------------------
def breakdown(config: Config, steps: int) -> dict[str, float]:
    """Seconds per step of mlpcore by part: each layer type's forward + backward, the
    loss, the optimiser; "whole step" also holds the Python glue between them."""
    model, step, loss_fn, optimizer = make_mlpcore(config)
    totals: dict[str, float] = {}

    def timed(function, part):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = function(*args, **kwargs)
            totals[part] = totals.get(part, 0.0) + time.perf_counter() - start
            return result
        return wrapper

    for layer in model:  # instance attributes shadow the methods Sequential calls
        part = "Linear (GEMMs + bias)" if isinstance(layer, Linear) else type(layer).__name__
        layer.forward, layer.backward = timed(layer.forward, part), timed(layer.backward, part)
    loss_fn.forward = timed(loss_fn.forward, "CrossEntropyLoss")
    loss_fn.backward = timed(loss_fn.backward, "CrossEntropyLoss")
    optimizer.step = timed(optimizer.step, "SGD step")
    for _ in range(5):
        step()
    totals.clear()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    totals["whole step"] = time.perf_counter() - start
    return {part: seconds / steps for part, seconds in totals.items()}


def print_breakdown(configs: list[Config], steps: int) -> None:
    print(f"\nWhere mlpcore's step spends its time, ms per step (mean of {steps} steps, "
          f"not interleaved):\n")
    results = {config.name: breakdown(config, steps) for config in configs}
    order = ["Linear (GEMMs + bias)", "BatchNorm1d", "ReLU", "Dropout", "CrossEntropyLoss",
             "SGD step", "whole step"]
    parts = [part for part in order if any(part in result for result in results.values())]
    print("| configuration | " + " | ".join(parts) + " |")
    print("|" + "|".join("---" for _ in range(len(parts) + 1)) + "|")
    for name, result in results.items():
        cells = [f"{result[part] * 1e3:.2f}" if part in result else "-" for part in parts]
        print(f"| {name} | " + " | ".join(cells) + " |")


# ----- machine --------------------------------------------------------------------------
def machine_lines(torch) -> list[str]:
    """The machine and library versions, for the table's caption (torch may be None)."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    blas = "unknown"
    try:
        blas_info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas_info['name']} {blas_info['version']}"
    except Exception:  # np.show_config's layout differs across NumPy versions
        pass
    try:
        from threadpoolctl import threadpool_info
        pools = [f"{p['internal_api']} {p.get('version') or ''} {p['num_threads']} threads"
                 + (f", kernel {p['architecture']}" if p.get("architecture") else "")
                 for p in threadpool_info() if p["user_api"] == "blas"]
        blas_threads = "; ".join(pools) + " (threadpoolctl)"
    except ImportError:
        blas_threads = (f"{ARGS.threads} requested via OPENBLAS/OMP/MKL_NUM_THREADS "
                        f"(pip install threadpoolctl to verify)")
    lines = [
        f"date: {date.today().isoformat()}",
        f"CPU: {cpu}, {os.cpu_count()} logical cores; {platform.system()} {platform.machine()}",
        f"Python {platform.python_version()}, NumPy {np.__version__} (BLAS: {blas}), "
        f"PyTorch {torch.__version__ if torch else 'not installed'}",
        f"threads: NumPy BLAS {blas_threads}; PyTorch "
        f"{torch.get_num_threads() if torch else '-'}",
        f"OPENBLAS_CORETYPE: {os.environ.get('OPENBLAS_CORETYPE', 'not set')}",
    ]
    return lines


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}" if seconds < 0.01 else f"{seconds * 1e3:.2f}"


def fmt_time(stats: tuple[float, float, float]) -> str:
    median, q25, q75 = stats
    return f"{fmt_ms(median)} ({fmt_ms(q25)}–{fmt_ms(q75)})"


def fmt_ratio(ratio: float, per_round: np.ndarray, target: float | None) -> str:
    q25, q75 = np.percentile(per_round, [25, 75])
    verdict = "" if target is None else (" ✓" if ratio <= target else " ✗")
    return f"{ratio:.2f} ({q25:.2f}–{q75:.2f}){verdict}"


def time_config(config: Config, with_torch: bool) -> dict:
    """Time every contender on ``config``; returns the formatted table row."""
    model, mlpcore_step = make_mlpcore(config)[:2]
    steps = {"mlpcore": mlpcore_step,
             "mlpcore, README loop": make_mlpcore(config, needs_input_grad=True)[1],
             "gemm": make_gemm(config)}
    row = {"config": config.name, "same losses": "-"}
    if with_torch:
        steps["torch"] = make_torch(config, model)[1]
        row["same losses"] = check_same_training(config)
    repeats, block, warmup = ((5 * ARGS.repeats, 100, 20) if config.scale == "course"
                              else (ARGS.repeats, 20, 3))
    times = time_interleaved(steps, repeats, min(block, repeats), warmup)
    stats = {name: summary(blocks) for name, blocks in times.items()}
    targets = TARGETS[config.scale]

    def ratio(name: str, other: str, target_key: str) -> str:
        return fmt_ratio(stats[name][0] / stats[other][0],
                         round_ratios(times[name], times[other]), targets.get(target_key))

    row.update({name: fmt_time(stats[name]) for name in steps})
    row["vs gemm"] = ratio("mlpcore", "gemm", "gemm")
    row["readme vs torch"] = "-"
    row["vs torch"] = "-"
    if with_torch:
        row["vs torch"] = ratio("mlpcore", "torch", "torch")
        readme = stats["mlpcore, README loop"][0] / stats["torch"][0]
        row["readme vs torch"] = f"{readme:.2f}"
    print(f"  done: {config.name}", file=sys.stderr, flush=True)
    return row


def print_time_table(rows: list[dict], with_torch: bool) -> None:
    print(f"Time per training step, ms: median (IQR) of {5 * ARGS.repeats} (course) or "
          f"{ARGS.repeats} (MNIST) steps each. "
          f"Ratios: of the medians (IQR of the per-round ratios); ✓/✗: target met or "
          f"not (course: ≤ 0.5 × PyTorch; MNIST: ≤ 1.0 × PyTorch and ≤ 1.25 × GEMM). "
          f"mlpcore calls model.backward(..., needs_input_grad=False), skipping the "
          f"gradient of the data as PyTorch does; the README loop computes it too.\n")
    columns = [("configuration", "config"), ("mlpcore", "mlpcore"), ("PyTorch", "torch"),
               ("pure GEMM", "gemm"), ("mlpcore / PyTorch", "vs torch"),
               ("mlpcore / GEMM", "vs gemm"), ("README loop", "mlpcore, README loop"),
               ("README loop / PyTorch", "readme vs torch")]
    if not with_torch:
        columns = [c for c in columns if "torch" not in c[1]]
    print("| " + " | ".join(header for header, _ in columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(row[key] for _, key in columns) + " |")
    if with_torch:
        print("\nSame computation: relative difference of the losses over 3 steps from the "
              "same weights: " + "; ".join(f"{r['config']}: {r['same losses']}" for r in rows))


def main() -> None:
    if ARGS.memory_child:
        library, config_name = ARGS.memory_child
        if library == "torch":
            import torch
            torch.set_num_threads(ARGS.threads)
        print(json.dumps(memory_child(library, config_name, ARGS.memory_steps)))
        return
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: its column is skipped "
              "(pip install torch==2.13.0 to compare).\n")
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
        torch.set_default_dtype(torch.float32)
    configs = [c for c in CONFIGS if ARGS.only.lower() in c.name.lower()]
    print("mlpcore training-step benchmark (float32; SGD lr=0.01, momentum=0.9, "
          "weight_decay=5e-4; CrossEntropyLoss)")
    for line in machine_lines(torch):
        print("  " + line)
    load_before = os.getloadavg()[0]
    print(f"  load average at start: {load_before:.2f} (above ~0.3 the machine is busy "
          f"and the IQRs widen)\n")

    rows = [time_config(config, torch is not None) for config in configs]
    print_time_table(rows, torch is not None)

    memory_configs = [c for c in configs if c.scale == "mnist"] or configs[:1]
    libraries = ["mlpcore"] + (["torch"] if torch is not None else [])
    print(f"\nPeak memory of a {ARGS.memory_steps}-step training run, MiB (fresh process "
          f"per run; model and data built before measuring):\n")
    print("| configuration | mlpcore tracemalloc peak | mlpcore peak-RSS growth "
          "| PyTorch peak-RSS growth |")
    print("|---|---|---|---|")
    for config in memory_configs:
        memory = measure_memory(config, ARGS.memory_steps, libraries)
        torch_rss = (f"{memory['torch']['rss_growth_mib']:.1f}" if "torch" in memory else "-")
        print(f"| {config.name} | {memory['mlpcore']['tracemalloc_peak_mib']:.1f} "
              f"| {memory['mlpcore']['rss_growth_mib']:.1f} | {torch_rss} |")
    if ARGS.breakdown:
        print_breakdown([c for c in configs if c.scale == "mnist"] or configs, 50)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
