"""Mish forward and backward: minipgd's chunked NumPy copy against a Numba loop and the readable definition.

    python benchmarks/mish.py            # 2,097,152 float32 values (one activation of the CPU default
                                         # U-Net over 256 trajectories is 0.5–2 M), one thread

The Numba loop is the kernel minipgd used before (one scalar exp per value
forward, two backward, float64 arithmetic); the chunked copy is
`minipgd.nn.kernels.mish` (NumPy's vectorized exp over chunks that stay in
cache, one exp for both factors of the derivative). Same-function check first
(max |diff| against the readable NumPy definition, relative); then medians of
15 interleaved repeats, in CPU seconds of this process (robust to other load
on the machine, not to its effect on caches).
"""
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from _common import cpu_name  # noqa: E402
from minipgd.nn.kernels.mish import (mish_backward_chunked, mish_backward_numpy, mish_forward_chunked,  # noqa: E402
                                     mish_forward_numpy)

SIZE, REPEATS, TOLERANCE = 2**21, 15, 1e-5


@njit(cache=True, error_model="numpy", nogil=True)
def _tanh_softplus(v):
    if v >= 20.0:
        return 1.0
    e = np.exp(v)
    n = e * (e + 2.0)
    return n / (n + 2.0)


@njit(cache=True, error_model="numpy", nogil=True)
def mish_forward_loop(x):
    y = np.empty_like(x)
    for i in range(x.size):
        y[i] = x[i] * _tanh_softplus(x[i])
    return y


@njit(cache=True, error_model="numpy", nogil=True)
def mish_backward_loop(dy, x):
    dx = np.empty_like(x)
    for i in range(x.size):
        ts = _tanh_softplus(x[i])
        sigmoid = 1.0 / (1.0 + np.exp(-max(x[i], -40.0)))
        dx[i] = dy[i] * (ts + x[i] * (1.0 - ts * ts) * sigmoid)
    return dx


def main():
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal(SIZE)).astype(np.float32)
    dy = rng.standard_normal(SIZE).astype(np.float32)
    contenders = {"readable NumPy (MINIPGD_BACKEND=numpy)": (mish_forward_numpy, mish_backward_numpy),
                  "Numba loop (before)": (mish_forward_loop, mish_backward_loop),
                  "chunked NumPy (minipgd)": (mish_forward_chunked, mish_backward_chunked)}
    print(f"CPU: {cpu_name()}; {SIZE:,} float32 values")
    reference = (mish_forward_numpy(x), mish_backward_numpy(dy, x))
    for name, (forward, backward) in contenders.items():
        errors = [np.max(np.abs(out - ref) / np.maximum(1.0, np.abs(ref)))
                  for out, ref in zip((forward(x), backward(dy, x)), reference)]
        print(f"  same function: {name}: max relative |diff| forward {errors[0]:.1e}, backward {errors[1]:.1e}")
        if max(errors) > TOLERANCE:
            sys.exit(f"!!! {name} differs from the definition by more than {TOLERANCE}: not timing !!!")
    seconds = {name: ([], []) for name in contenders}
    for _ in range(REPEATS):
        for name, (forward, backward) in contenders.items():
            for times, call in zip(seconds[name], (lambda: forward(x), lambda: backward(dy, x))):
                start = time.process_time()
                call()
                times.append(time.process_time() - start)
    base = [np.median(t) for t in seconds["Numba loop (before)"]]
    print("\n| Mish | forward (ms) | vs Numba loop | backward (ms) | vs Numba loop |\n|---|---:|---:|---:|---:|")
    for name, (fwd, bwd) in seconds.items():
        print(f"| {name} | {1e3 * np.median(fwd):.2f} | {np.median(fwd) / base[0]:.2f}x | "
              f"{1e3 * np.median(bwd):.2f} | {np.median(bwd) / base[1]:.2f}x |")


if __name__ == "__main__":
    main()
