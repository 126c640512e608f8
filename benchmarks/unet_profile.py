"""Where the U-Net's time goes: seconds per kind of operation, measured, not guessed.

    python benchmarks/unet_profile.py [--features 32]
    python benchmarks/unet_profile.py --cpu-default   # F = 128, residual Mish blocks (UNetConfig.cpu_default)

Every leaf layer's forward/backward is wrapped with a timer (a convolution's
matrix products, one gemm call per tap, run inside its Numba kernel and are
counted in "Conv1d"); "other" is what the U-Net does between layers (concatenating skips,
transposes, Python). GroupNorm includes the ReLU fused into it (the Identity
"activation" after it costs a call). Measured for the batch-16 train step, the
batch-1024 forward pass and the same batch through `predict` (the sampler's
inference path, in blocks of `ROWS_PER_BLOCK` = 256 trajectories), with one BLAS thread by default
(`OPENBLAS_NUM_THREADS` as you set it otherwise).
"""
import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # minipgd's default thread policy; set before NumPy loads
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402

from minipgd.nn import layers  # noqa: E402
from minipgd.nn.optim import Adam  # noqa: E402
from minipgd.nn.unet import TemporalUNet, UNetConfig  # noqa: E402

TOTALS = defaultdict(float)
LEAVES = [layers.Conv1d, layers.GroupNorm, layers.Identity, layers.ReLU, layers.SiLU, layers.Mish, layers.Linear,
          layers.MaxPool1d, layers.NearestUpsample1d, layers.SinusoidalEmbedding]


def timed(label, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TOTALS[label] += time.perf_counter() - start

    return wrapper


def instrument():
    for cls in LEAVES:
        cls.forward = timed(f"{cls.__name__}", cls.forward)
        cls.backward = timed(f"{cls.__name__}", cls.backward)
    Adam.step = timed("Adam", Adam.step)


def profile(name, run, repeats):
    run()  # warm-up (and Numba compilation)
    TOTALS.clear()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    total = (time.perf_counter() - start) / repeats
    parts = {k: v / repeats for k, v in TOTALS.items()}
    parts["other (between layers)"] = total - sum(parts.values())
    print(f"\n{name}: {total * 1e3:.2f} ms")
    print("| part | ms | share |\n|---|---:|---:|")
    for label, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        shown = "Conv1d (its matrix products, bias, layout)" if label == "Conv1d" else label
        print(f"| {shown} | {seconds * 1e3:.2f} | {100 * seconds / total:.0f}% |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--cpu-default", action="store_true", help="the CPU default model instead (F = 128, Mish)")
    args = parser.parse_args()
    instrument()
    rng = np.random.default_rng(0)
    config = UNetConfig.cpu_default(25) if args.cpu_default else UNetConfig(in_channels=25, features=args.features)
    model = TemporalUNet(config, rng)
    model.batch_workers = 1  # one thread: the parts' times add up to the wall time
    optimizer = Adam(model)
    x, t, target = (rng.standard_normal(s).astype(np.float32) for s in [(16, 25, 16), (16,), (16, 25, 16)])

    def train_step():
        model.zero_grad()
        y = model.forward(x, t)
        model.backward(2 * (y - target) / y.size)
        optimizer.step()

    x_big, t_big = rng.standard_normal((1024, 25, 16)).astype(np.float32), rng.standard_normal(1024).astype(np.float32)
    profile("train step, batch 16 (timers add some overhead)", train_step, repeats=300)
    profile("forward, batch 1024", lambda: model.forward(x_big, t_big), repeats=20)
    profile("predict (inference, blocks of ROWS_PER_BLOCK), batch 1024", lambda: model.predict(x_big, t_big),
            repeats=20)


if __name__ == "__main__":
    main()
