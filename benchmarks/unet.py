"""Benchmark minipgd's temporal U-Net against the same network in PyTorch and JAX/Flax.

Run from the repository root:

    python benchmarks/unet.py                          # F = 32, 64 and 128
    python benchmarks/unet.py --features 64            # one width
    python benchmarks/unet.py --quick --features 32    # a fast smoke run

What is measured, all in one process on the CPU, for every width F:

1. the machine's float32 matmul peak: NumPy's BLAS (n x n @ n x n) on all
   cores, the yardstick for the "% of sgemm peak" column (and, for reference,
   on one thread);
2. a training step at batch 16 and at batch 256: forward, MSE against a
   random target, backward and an Adam (lr 2e-3) update;
3. a forward pass (inference) over 1024 trajectories: minipgd's `predict`, the
   sampler's call, which takes each worker's part in blocks of 256
   trajectories (`TemporalUNet.predict`).

The contenders are timed in rounds: for each kind of step, a round times every
contender once, one after the other, and the table gives each contender's median
time and the median over rounds of its ratio to JAX's time in the same round (this
machine's speed moves by 10-50 % from minute to minute; within a round all
contenders share the phase). Each contender's timed calls in a round last at
least a quarter of a second (the same number of calls for all), which averages
over the machine's faster flips of speed (`calls_per_window`). The contenders are minipgd (NumPy + Numba,
hand-written backprop) under its thread policy (automatic unless the user chose
otherwise: BLAS threads on the cores nobody else uses; each step first runs
for a few seconds after the policy's safe-point call, as in minipgd's loops, so
that the policy chooses its count, which is printed and then kept for the
rounds), without and with its batch split over worker threads, one per core
(large batches split over the workers, `minipgd/nn/unet.py`), PyTorch eager and
JAX with `jax.jit` (the whole train step, Optax Adam included, is one jitted
function; JAX and PyTorch use their own thread pools). PyTorch and JAX are
optional (`pip install -e .[bench]`); whichever is missing is skipped with a
note.

Before anything is timed, the PyTorch and Flax networks are loaded with
minipgd's weights and must give minipgd's output and input gradient on the
same batch; if not, the script says so and exits with status 1.
"""
import argparse
import importlib
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from _common import adapt_threads, cpu_name, minipgd_thread_scope, same_function, settle  # noqa: E402  (benchmarks/)
from minipgd.runtime.threads import available_cores, blas_threads  # noqa: E402
from minipgd.runtime.openblas import blas_thread_count  # noqa: E402
from minipgd.nn.optim import Adam  # noqa: E402
from minipgd.nn.unet import TemporalUNet, UNetConfig  # noqa: E402

IN_CHANNELS = 25  # observation + action + reward + done of a MuJoCo locomotion transition
HORIZON = 16
N_LEVELS = 3
LR = 2e-3
TRAIN_BATCHES = (16, 256)
FORWARD_BATCH = 1024
PARAMS_AT_F32 = 179_129  # the parameter count the architecture must have at F = 32, C = 25
TOLERANCE = 1e-4  # same-function check: max |difference| / max(1, max |minipgd value|)
PAUSE_S = 0.2  # between contenders in a round: OpenBLAS's and XLA's idle threads stop spinning by then
WARM_UP_S = 0.1  # then untimed calls for this long before each contender's timed calls (`warm_up`)
WINDOW_S = 0.25  # each contender's timed calls in a round last at least this long (`calls_per_window`)


# ----------------------------------------------------------------------------- architecture arithmetic


def layer_shapes(in_channels, features, n_levels, horizon):
    """The U-Net as shapes: matmuls [(length, K, N)] (every conv and dense) and GroupNorm widths [C].

    A conv of kernel k from c_in to c_out channels over `length` steps is a
    matmul with M = batch * length, K = c_in * k, N = c_out; a dense layer is
    the same with length 1.
    """
    matmuls, norms = [], []
    widths = [features * 2**i for i in range(n_levels)]
    lengths = [horizon // 2**i for i in range(n_levels)]
    half = features // 8
    matmuls += [(1, 2 * half, features), (1, features, features)]  # noise embedding MLP
    c_in = in_channels
    for width, length in zip(widths, lengths):  # encoder
        matmuls += [(length, 3 * c_in, width), (1, features, width), (length, 3 * width, width)]
        norms += [width, width]
        c_in = width
    for i in reversed(range(n_levels - 1)):  # decoder
        width, length = widths[i], lengths[i]
        matmuls += [(length, 2 * widths[i + 1], width), (1, features, width)]
        matmuls += [(length, 3 * 2 * width, width), (length, 3 * width, width)]
        norms += [width, width, width]
    matmuls.append((horizon, widths[0], in_channels))  # final 1x1 conv
    return matmuls, norms


def parameter_count(shapes):
    matmuls, norms = shapes
    return sum(k * n + n for _, k, n in matmuls) + sum(2 * c for c in norms)


def forward_flops(shapes, batch):
    """2 * M * K * N summed over every conv and dense layer of one forward pass."""
    matmuls, _ = shapes
    return sum(2 * batch * length * k * n for length, k, n in matmuls)


# ----------------------------------------------------------------------------- timing


def seconds_per_call(fn, calls):
    """The mean time of `calls` back-to-back calls of `fn`, in seconds."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def median_ms(fn, repeats, inner=1, warmup=2):
    """Median over `repeats` of the mean time of `inner` back-to-back calls, in milliseconds."""
    for _ in range(warmup):
        fn()
    return 1e3 * statistics.median(seconds_per_call(fn, inner) for _ in range(repeats))


def matmul_peak_gflops(n, repeats):
    """float32 GFLOP/s of NumPy's BLAS on an n x n @ n x n product."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    ms = median_ms(lambda: a @ b, repeats)
    return 2 * n**3 / (ms * 1e-3) / 1e9


def print_blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("threadpoolctl not installed: no BLAS details")
        return
    for pool in threadpool_info():
        if pool["user_api"] == "blas":
            details = ", ".join(f"{k}={pool.get(k)}" for k in ("internal_api", "version", "architecture", "num_threads"))
            print(f"BLAS: {details}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if var in os.environ:
            print(f"  {var}={os.environ[var]}")


# ----------------------------------------------------------------------------- minipgd contender


class MinipgdBench:
    """minipgd's U-Net behind the interface the PyTorch and JAX benches share."""

    def __init__(self, model, lr, batch_workers=1):
        self.model = model
        self.opt = Adam(model, lr=lr)
        self.batch_workers = batch_workers
        split = "no batch split" if batch_workers == 1 else f"batch split over {batch_workers} workers"
        self.name = f"minipgd, {split}"

    def _use_threads(self):
        """Serial, or minipgd's default: large batches split over the worker threads (`batch_workers`)."""
        self.model.batch_workers = self.batch_workers

    def num_parameters(self):
        return self.model.num_parameters()

    def forward_and_input_grad(self, x, t, dy):
        y = self.model.predict(x, t)  # the timed inference path is the one checked against the others
        self.model.forward(x, t)
        dx = self.model.backward(dy)
        self.model.zero_grad()
        return y, dx

    def train_step_fn(self, x, t, target):
        model, opt = self.model, self.opt

        def step():
            model.zero_grad()
            y = model.forward(x, t)
            model.backward(2.0 * (y - target) / y.size)
            opt.step()

        return self._settled(step, f"train step B={x.shape[0]}")

    def forward_fn(self, x, t):
        return self._settled(lambda: self.model.predict(x, t), f"forward B={x.shape[0]}")  # the sampler's call

    def _settled(self, step, what):
        """A timer (calls -> seconds per call) of `step` at the BLAS thread count that the automatic policy
        chooses for it. The policy chooses as in minipgd's loops: `step` runs after the safe-point call for a
        few seconds (a look at the load, then a second on each count). The timer then keeps that count: in
        rounds that alternate contenders the policy would take every switch for a new loop and start over."""
        site = f"{self.name}, {what}"  # each measurement a loop of its own
        split = self.batch_workers > 1  # the sampler's loop splits its batches, the trainer's does not

        def loop_iteration():
            adapt_threads(site, split=split)
            self._use_threads()
            step()

        settle(loop_iteration)
        chosen = blas_thread_count()
        print(f"  {self.name}, {what}: {chosen} BLAS thread(s)", flush=True)

        def timed_at_chosen_count(calls):
            with blas_threads(chosen):
                self._use_threads()
                return seconds_per_call(step, calls)

        return timed_at_chosen_count


# ----------------------------------------------------------------------------- the run


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, nargs="+", default=[32, 64, 128],
                        help="base widths F of the U-Net to measure (default 32 64 128)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per measurement (default 7)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 repeats, short timed windows")
    return parser.parse_args()


def load_optional_benches(features, state):
    """The PyTorch and JAX benches whose frameworks are installed, built from minipgd's weights."""
    benches = []
    optional = (("_torch_unet", "PyTorch", ["torch"]), ("_jax_unet", "JAX/Flax", ["jax", "flax", "optax"]))
    for module_name, label, frameworks in optional:
        missing = [name for name in frameworks if importlib.util.find_spec(name) is None]
        if missing:
            print(f"note: {', '.join(missing)} not installed; {label} is not measured")
            continue
        module = importlib.import_module(module_name)
        benches.append(module.Bench(state, IN_CHANNELS, features, N_LEVELS, LR))
    return benches


def random_batch(rng, batch):
    x = rng.standard_normal((batch, IN_CHANNELS, HORIZON), dtype=np.float32)
    t = rng.standard_normal(batch, dtype=np.float32)
    target = rng.standard_normal((batch, IN_CHANNELS, HORIZON), dtype=np.float32)
    return x, t, target


def check_same_function(reference, others, rng):
    """Every bench must reproduce minipgd's output and input gradient; returns False if one does not."""
    x, t, dy = random_batch(rng, 8)
    y_ref, dx_ref = reference.forward_and_input_grad(x, t, dy)
    ok = True
    for bench in others:
        y, dx = bench.forward_and_input_grad(x, t, dy)
        for what, value, ref in (("output y", y, y_ref), ("input grad dx", dx, dx_ref)):
            ok &= same_function(f"{bench.name} {what}", value, ref, TOLERANCE)
    return ok


def timer(bench, kind, arrays):
    """calls -> seconds per call of one contender's `kind` of step ("train 16", ..., "forward")."""
    if kind == "forward":
        made = bench.forward_fn(*arrays[:2])
    else:
        made = bench.train_step_fn(*arrays)
    return made if isinstance(bench, MinipgdBench) else lambda calls: seconds_per_call(made, calls)


def warm_up(time_calls):
    """Untimed calls for at least WARM_UP_S (at least one): worker threads awake and on their cores again,
    caches refilled. After a pause, minipgd's batch split over two workers took its first two or three
    training steps at batch 256 (F = 32) at 1.5-2x its time in a loop: one call was not enough."""
    end = time.perf_counter() + WARM_UP_S
    time_calls(1)
    while time.perf_counter() < end:
        time_calls(1)


def calls_per_window(timers, window_s):
    """Calls per timed window, the same for every contender: enough that the fastest one's last at least
    `window_s`. This machine's speed flips by ~30 % from one tenth of a second to the next (a U-Net train step
    at batch 16 timed in a loop, in eighths of a second: 2.3 ms, then 3.0, then 2.3); a window of a few calls
    catches one phase, a quarter-second window averages over several."""
    fastest = min(time_calls(1) for time_calls in timers)
    return max(1, int(np.ceil(window_s / fastest)))


def measure_in_rounds(benches, rng, repeats, window_s):
    """{contender: {kind: [ms per round]}}. For each kind of step, every round times each contender once, one
    after the other: this machine's speed moves by 10-50 % from minute to minute, and in a round all contenders
    share the phase, so each round gives a fair ratio. Between contenders, a short pause (the last one's
    spinning threads go to sleep) and a tenth of a second of untimed calls (`warm_up`): each is timed in its
    steady state, as in a loop."""
    cases = [(f"train {batch}", random_batch(rng, batch)) for batch in TRAIN_BATCHES]
    cases.append(("forward", random_batch(rng, FORWARD_BATCH)))
    times = {bench.name: {kind: [] for kind, _ in cases} for bench in benches}
    for kind, arrays in cases:
        timers = [timer(bench, kind, arrays) for bench in benches]
        for time_calls in timers:
            time_calls(3)  # warm-up: compilation, caches
        calls = calls_per_window(timers, window_s)
        print(f"timing {kind}: {repeats} rounds of {calls} call(s) per contender", flush=True)
        for _ in range(repeats):
            for bench, time_calls in zip(benches, timers):
                time.sleep(PAUSE_S)
                warm_up(time_calls)
                times[bench.name][kind].append(1e3 * time_calls(calls))
    return times


def print_table(features, rounds, flops, peak):
    """One row per contender: median times, the median over rounds of the ratio to JAX-jit's time in the same
    round, forward GFLOP/s and % of the sgemm peak."""
    jax = next((name for name in rounds if name.startswith("JAX")), None)
    keys = [f"train {b}" for b in TRAIN_BATCHES] + ["forward"]
    heads = [f"train step B={b} (ms)" for b in TRAIN_BATCHES] + [f"forward B={FORWARD_BATCH} (ms)"]
    ratio_heads = [h.replace(" (ms)", " / JAX") for h in heads] if jax else []
    print(f"F = {features}:\n")
    print("| framework | " + " | ".join(heads + ratio_heads) + " | forward GFLOP/s | % of sgemm peak |")
    print("|---|" + "---:|" * (len(heads) + len(ratio_heads) + 2))
    for name, times in rounds.items():
        medians = {k: statistics.median(times[k]) for k in keys}
        cells = [f"{medians[k]:.2f}" if medians[k] < 10 else f"{medians[k]:.1f}" for k in keys]
        if jax:
            cells += [f"{statistics.median(np.divide(times[k], rounds[jax][k])):.2f}x" for k in keys]
        gflops = flops / (medians["forward"] * 1e-3) / 1e9
        print(f"| {name} | " + " | ".join(cells) + f" | {gflops:.1f} | {100 * gflops / peak:.0f}% |")
    print()


def main():
    args = parse_args()
    repeats, window_s, peak_n = (2, 0.02, 1024) if args.quick else (args.repeats, WINDOW_S, 2048)
    workers = os.cpu_count() or 1
    print(f"CPU: {cpu_name()}, {workers} cores; U-Net C={IN_CHANNELS} H={HORIZON} levels={N_LEVELS}")
    print_blas_info()
    with blas_threads(available_cores()):
        peak = matmul_peak_gflops(peak_n, repeats)
    with blas_threads(1):
        one_thread_peak = matmul_peak_gflops(peak_n, repeats)
    print(f"NumPy float32 sgemm peak ({peak_n}x{peak_n}): {peak:.1f} GFLOP/s on {available_cores()} BLAS threads, "
          f"{one_thread_peak:.1f} on one\n", flush=True)

    tables = []
    for features in args.features:
        shapes = layer_shapes(IN_CHANNELS, features, N_LEVELS, HORIZON)
        n_params = parameter_count(shapes)
        if features == 32:
            assert n_params == PARAMS_AT_F32, f"architecture arithmetic gives {n_params} parameters, not {PARAMS_AT_F32}"
        flops = forward_flops(shapes, FORWARD_BATCH)
        print(f"--- F={features}: {n_params:,} parameters, {flops / 1e9:.2f} GFLOP per forward of {FORWARD_BATCH}")
        cfg = UNetConfig(in_channels=IN_CHANNELS, horizon=HORIZON, features=features,
                         dim_mults=tuple(2**i for i in range(N_LEVELS)))
        model = TemporalUNet(cfg, rng=np.random.default_rng(0), dtype=np.float32)
        reference = MinipgdBench(model, LR)
        minipgd_benches = [reference]
        if workers > 1:  # a second model: its own Adam state, the same starting weights
            twin_model = TemporalUNet(cfg, rng=np.random.default_rng(0), dtype=np.float32)
            minipgd_benches.append(MinipgdBench(twin_model, LR, batch_workers=workers))
        others = load_optional_benches(features, model.state_dict())

        for bench in minipgd_benches + others:
            count = bench.num_parameters()
            assert count == n_params, f"{bench.name} has {count} parameters, the architecture has {n_params}"

        rng = np.random.default_rng(1)
        if others:
            print("same-function check (weights copied from minipgd, float32, batch 8):")
            with minipgd_thread_scope():
                same = check_same_function(reference, others, rng)
            if not same:
                print("\n!!! SAME-FUNCTION CHECK FAILED: the networks differ, timings would compare different "
                      "things. Not timing. !!!")
                sys.exit(1)

        with minipgd_thread_scope():  # PyTorch and XLA keep their own thread pools inside it
            tables.append((features, measure_in_rounds(minipgd_benches + others, rng, repeats, window_s), flops))

    print()
    for features, rounds, flops in tables:
        print_table(features, rounds, flops, peak)
    print("'/ JAX' is the median over rounds of the ratio of times in a round: below 1x is faster than JAX-jit.")
    print("'% of sgemm peak' is relative to NumPy's BLAS on all cores, above.")


if __name__ == "__main__":
    main()
