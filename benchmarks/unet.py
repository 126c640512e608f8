"""Benchmark minipgd's temporal U-Net against the same network in PyTorch and JAX/Flax.

Run from the repository root:

    python benchmarks/unet.py                 # F = 32, the default width
    python benchmarks/unet.py --features 64   # the wider network (~705k parameters)
    python benchmarks/unet.py --quick         # a fast smoke run

What is measured, all in one process on the CPU:

1. the float32 matmul peak of NumPy's BLAS (n x n @ n x n), the yardstick for
   the "% of peak" column;
2. a training step at batch 16: forward, MSE against a random target, backward
   and an Adam (lr 2e-3) update;
3. a forward pass (inference) over 1024 trajectories.

Each is the median of several timed repeats after a warm-up. The contenders
are minipgd (NumPy + Numba, hand-written backprop), PyTorch eager and JAX with
`jax.jit` (the whole train step, Optax Adam included, is one jitted function).
PyTorch and JAX are optional (`pip install -e .[bench]`); whichever is missing
is skipped with a note.

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

from minipgd.nn.optim import Adam  # noqa: E402
from minipgd.nn.unet import TemporalUNet, UNetConfig  # noqa: E402

IN_CHANNELS = 25  # observation + action + reward + done of a MuJoCo locomotion transition
HORIZON = 16
N_LEVELS = 3
LR = 2e-3
TRAIN_BATCH = 16
FORWARD_BATCH = 1024
PARAMS_AT_F32 = 179_129  # the parameter count the architecture must have at F = 32, C = 25
TOLERANCE = 1e-4  # same-function check: max |difference| / max(1, max |minipgd value|)


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


def median_ms(fn, repeats, inner=1, warmup=2):
    """Median over `repeats` of the mean time of `inner` back-to-back calls, in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return 1e3 * statistics.median(times)


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

    name = "minipgd (NumPy + Numba)"

    def __init__(self, model, lr):
        self.model = model
        self.opt = Adam(model, lr=lr)

    def num_parameters(self):
        return self.model.num_parameters()

    def forward_and_input_grad(self, x, t, dy):
        y = self.model.forward(x, t)
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

        return step

    def forward_fn(self, x, t):
        return lambda: self.model.forward(x, t)


# ----------------------------------------------------------------------------- the run


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, default=32, help="base width F of the U-Net (default 32)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per measurement (default 7)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 repeats, short inner loops")
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
            diff = float(np.max(np.abs(value - ref)))
            scale = max(1.0, float(np.max(np.abs(ref))))
            passed = diff <= TOLERANCE * scale
            ok &= passed
            print(f"  {bench.name:<24} {what:<14} max |diff| = {diff:.2e}  (max |minipgd| = {scale:.2f})  "
                  f"{'ok' if passed else '<-- MISMATCH'}")
    return ok


def measure(bench, rng, repeats, train_inner):
    print(f"timing {bench.name} ...", flush=True)
    train_ms = median_ms(bench.train_step_fn(*random_batch(rng, TRAIN_BATCH)), repeats, inner=train_inner, warmup=3)
    x, t, _ = random_batch(rng, FORWARD_BATCH)
    forward_ms = median_ms(bench.forward_fn(x, t), repeats)
    print(f"  train step {train_ms:.2f} ms, forward-{FORWARD_BATCH} {forward_ms:.1f} ms", flush=True)
    return train_ms, forward_ms


def print_table(results, flops, peak):
    train_ref, forward_ref = results[0][1], results[0][2]
    print(f"| framework | train step B={TRAIN_BATCH} (ms) | vs minipgd | forward B={FORWARD_BATCH} (ms) "
          f"| vs minipgd | forward GFLOP/s | % of matmul peak |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, train_ms, forward_ms in results:
        gflops = flops / (forward_ms * 1e-3) / 1e9
        print(f"| {name} | {train_ms:.2f} | {train_ms / train_ref:.2f}x | {forward_ms:.1f} | "
              f"{forward_ms / forward_ref:.2f}x | {gflops:.1f} | {100 * gflops / peak:.0f}% |")
    print("\n'vs minipgd' is the ratio of times: below 1x is faster than minipgd, above is slower.")
    print("'% of matmul peak' is relative to NumPy's BLAS above; frameworks with their own kernels can pass 100%.")


def main():
    args = parse_args()
    repeats, train_inner, peak_n = (2, 2, 1024) if args.quick else (args.repeats, 10, 2048)
    shapes = layer_shapes(IN_CHANNELS, args.features, N_LEVELS, HORIZON)
    n_params = parameter_count(shapes)
    if args.features == 32:
        assert n_params == PARAMS_AT_F32, f"architecture arithmetic gives {n_params} parameters, not {PARAMS_AT_F32}"
    flops = forward_flops(shapes, FORWARD_BATCH)
    print(f"U-Net C={IN_CHANNELS} H={HORIZON} F={args.features} levels={N_LEVELS}: {n_params:,} parameters, "
          f"{flops / 1e9:.2f} GFLOP per forward of {FORWARD_BATCH}; {os.cpu_count()} CPU cores")

    print_blas_info()
    peak = matmul_peak_gflops(peak_n, repeats)
    print(f"NumPy float32 matmul peak ({peak_n}x{peak_n}): {peak:.1f} GFLOP/s", flush=True)

    cfg = UNetConfig(in_channels=IN_CHANNELS, horizon=HORIZON, features=args.features,
                     dim_mults=tuple(2**i for i in range(N_LEVELS)))
    model = TemporalUNet(cfg, rng=np.random.default_rng(0), dtype=np.float32)
    reference = MinipgdBench(model, LR)
    others = load_optional_benches(args.features, model.state_dict())
    benches = [reference] + others

    for bench in benches:
        count = bench.num_parameters()
        print(f"{bench.name}: {count:,} parameters")
        assert count == n_params, f"{bench.name} has {count} parameters, the architecture has {n_params}"

    rng = np.random.default_rng(1)
    if others:
        print("same-function check (weights copied from minipgd, float32, batch 8):")
        if not check_same_function(reference, others, rng):
            print("\n!!! SAME-FUNCTION CHECK FAILED: the networks differ, timings would compare different "
                  "things. Not timing. !!!")
            sys.exit(1)

    results = [(bench.name, *measure(bench, rng, repeats, train_inner)) for bench in benches]
    print()
    print_table(results, flops, peak)


if __name__ == "__main__":
    main()
