"""Ablation: should a short parallel region run on worker threads, pinned to cores or not?

Run from the repository root:

    python benchmarks/pinning.py             # alone, then beside 2 CPU-bound processes
    python benchmarks/pinning.py --quick     # a smoke run

minipgd's own parallelism is blocking worker threads (`minipgd/runtime/workers.py`).
A region lasting several milliseconds (the U-Net's forward pass over a chunk of
512 trajectories split in two, guidance's policy over 8,192 states) gains from
them. This script measures a *short* region, the natural candidate left: the
two critics of a TD3+BC update (`critic_step`, about 1.5 ms each of 256 x 256
products at batch 256, HalfCheetah sizes), stepped

* serially (what minipgd does),
* side by side on two unpinned worker threads, and
* side by side on two worker threads pinned one per core (Linux),

each region right after a whole `TD3.update` on the main thread (as inside
Algorithm 2's loop: the workers have been idle for ~6 ms). One BLAS thread; the
variants in alternation; the median of the rounds of the mean region time; first
on the quiet machine, then beside CPU-bound processes (`python -c "while True:
pass"`, started and killed by the script).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from _common import cpu_name  # noqa: E402  (benchmarks/, the script's own folder)
from minipgd.runtime.threads import blas_threads  # noqa: E402
from minipgd.rl.td3 import TD3, TD3Config, critic_step  # noqa: E402

BATCH, OBS_DIM, ACT_DIM = 256, 17, 6


def pinned_pool(cores):
    """Two worker threads, the i-th pinned to cores[i]."""
    slots = iter(cores)
    return ThreadPoolExecutor(2, initializer=lambda: os.sched_setaffinity(0, {next(slots)}))


def _run(steps, pool):
    if pool is None:
        return [step() for step in steps]
    return [future.result() for future in [pool.submit(step) for step in steps]]


def region_ms(rounds, block, variants):
    """Median ms of the region (both critics' `critic_step`) per variant, each region right after a whole
    `TD3.update` on the main thread, as it would come inside Algorithm 2's loop."""
    rng = np.random.default_rng(0)
    batch = {"observations": rng.standard_normal((BATCH, OBS_DIM)).astype(np.float32),
             "actions": rng.uniform(-1, 1, (BATCH, ACT_DIM)).astype(np.float32),
             "rewards": rng.standard_normal(BATCH).astype(np.float32),
             "next_observations": rng.standard_normal((BATCH, OBS_DIM)).astype(np.float32),
             "terminations": np.zeros(BATCH, bool)}
    agent = TD3(OBS_DIM, ACT_DIM, np.random.default_rng(0), TD3Config(alpha=2.5))
    inputs = np.concatenate([batch["observations"], batch["actions"]], axis=1)
    target = agent._target_q(batch, rng)
    steps = [partial(critic_step, c, o, inputs, target) for c, o in zip(agent.critics, agent.critic_optimizers)]
    found = {variant: [] for variant in variants}
    for _ in range(rounds):
        for variant, pool in variants.items():
            spent = 0.0
            for _ in range(block):
                agent.update(batch, rng)  # the main thread busy for ~6 ms, the workers idle
                started = time.perf_counter()
                _run(steps, pool)
                spent += time.perf_counter() - started
            found[variant].append(1e3 * spent / block)
    return {variant: statistics.median(values) for variant, values in found.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds of 10 regions")
    parser.add_argument("--neighbours", type=int, default=2, help="CPU-bound processes for the busy half")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2:
        sys.exit("needs Linux and at least 2 cores")
    rounds, block = (2, 10) if args.quick else (7, 100)
    variants = {"serial (minipgd)": None, "2 unpinned workers": ThreadPoolExecutor(2),
                "2 pinned workers": pinned_pool(cores[:2])}
    print(f"CPU: {cpu_name()}, {len(cores)} cores available; one BLAS thread; median of {rounds} rounds "
          f"of {block} regions")
    table = {}
    with blas_threads(1):
        table["alone"] = region_ms(rounds, block, variants)
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.neighbours)]
        try:
            table[f"beside {args.neighbours} busy processes"] = region_ms(rounds, block, variants)
        finally:
            for process in busy:
                process.kill()
    print("\n| two critic steps of a TD3+BC update (ms) | " + " | ".join(table) + " |")
    print("|---|" + "---:|" * len(table))
    for variant in variants:
        print(f"| {variant} | " + " | ".join(f"{table[where][variant]:.2f}" for where in table) + " |")


if __name__ == "__main__":
    main()
