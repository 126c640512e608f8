"""Benchmark guided sampling (Algorithm 1) against the same sampler loop in JAX (jit), and its peak memory.

Run from the repository root:

    python benchmarks/sampler.py            # 4,096 trajectories, 64 Heun steps, F = 64, 3 rounds (~10 minutes)
    python benchmarks/sampler.py --quick    # a smoke run: 256 trajectories, 4 steps, 2^11 for the memory
    python benchmarks/sampler.py --memory-only

The model is HalfCheetah-sized (obs 17 + act 6 + reward + done = 25 channels,
H = 16), the U-Net the authors' architecture at F = 64 with random weights, the
guide a TD3+BC actor (256-256, random weights) as the Gaussian policy N(π(s), 1)
of Sec. 5.1. Sampling uses Table 4's churn, 64 steps and the default cosine
guidance schedule (λ = 1).

1. Same-function check: the JAX sampler gets minipgd's U-Net, actor and
   normalizer weights and the same generator, so both draw the same noise; a
   small batch sampled by both must agree up to float32 rounding, unguided and
   guided, or the script exits with status 1 before timing anything.
2. Timing: after a warm-up that compiles every kernel and jitted function at
   the timed batch size, `--rounds` rounds (default 3), each timing one run of
   each sampler, unguided and guided, one after the other; the table gives the
   median times and the median over rounds of the ratio within a round.
3. Memory: the peak resident memory (VmHWM) of sampling 2^14 guided
   trajectories, each in a fresh process, with minipgd's default chunk size and
   unchunked, and whether the two gave the same samples. Memory does not depend
   on the number of steps, so these runs take only a few.

JAX is optional (`pip install -e .[bench]`); without it only minipgd is measured.
"""
import argparse
import hashlib
import importlib.util
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from _common import cpu_name, same_function  # noqa: E402  (benchmarks/, the script's own folder)
from minipgd.diffusion import TrajectoryDiffusion, TrajectoryLayout, TrajectoryNormalizer  # noqa: E402
from minipgd.diffusion.model import CHUNK_SIZE  # noqa: E402
from minipgd.nn import TemporalUNet, UNetConfig  # noqa: E402
from minipgd.rl import TD3, TD3Config  # noqa: E402
from minipgd.rl.state_norm import StateNormalizer  # noqa: E402

LAYOUT = TrajectoryLayout(obs_dim=17, act_dim=6)  # HalfCheetah
FEATURES = 64
GUIDANCE_SCALE = 1.0
TOLERANCE = 1e-4  # same-function check: max |difference| / max(1, max |minipgd sample|)
CHECK_BATCH, CHECK_STEPS = 8, 8
MEMORY_STEPS = 2


def build(seed=0):
    """The diffusion model and the TD3+BC agent whose actor guides it, random but reproducible weights."""
    rng = np.random.default_rng(seed)
    unet = TemporalUNet(UNetConfig(in_channels=LAYOUT.channels, features=FEATURES), rng)
    normalizer = TrajectoryNormalizer(LAYOUT, 0.1 * rng.standard_normal(LAYOUT.channels),
                                      0.5 + rng.random(LAYOUT.channels), squash_actions=True)
    state_norm = StateNormalizer(rng.standard_normal(LAYOUT.obs_dim), 0.5 + rng.random(LAYOUT.obs_dim))
    agent = TD3(LAYOUT.obs_dim, LAYOUT.act_dim, rng, TD3Config(alpha=2.5), state_norm=state_norm)
    return TrajectoryDiffusion(unet, normalizer), agent


def minipgd_sample(model, agent, n, rng, guided, n_steps, chunk_size=CHUNK_SIZE):
    policy = agent.policy() if guided else None
    return model.sample_normalized(n, rng, policy=policy, scale=GUIDANCE_SCALE, n_steps=n_steps,
                                   chunk_size=chunk_size)


def jax_sample(sampler, n, rng, guided, n_steps):
    return sampler.sample(n, rng, guidance_scale=GUIDANCE_SCALE if guided else 0.0, n_steps=n_steps)


def print_machine():
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "XLA_FLAGS"):
        if var in os.environ:
            print(f"  {var}={os.environ[var]}")
    print("  (XLA runs its own thread pool over all cores unless XLA_FLAGS restricts it)")


def check_same_function(model, agent, sampler):
    """Both samplers on CHECK_BATCH trajectories, CHECK_STEPS steps, same generator; False on a mismatch."""
    ok, samples = True, {}
    for guided in (False, True):
        samples[guided] = ours = minipgd_sample(model, agent, CHECK_BATCH, np.random.default_rng(7), guided,
                                                CHECK_STEPS)
        theirs = jax_sample(sampler, CHECK_BATCH, np.random.default_rng(7), guided, CHECK_STEPS)
        ok &= same_function("guided" if guided else "unguided", theirs, ours, TOLERANCE)
    moved = float(np.max(np.abs(samples[True] - samples[False])))
    print(f"  (guidance moves minipgd's samples by up to {moved:.2f}: the guided check is not the unguided one)")
    return ok and moved > 0


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure_speed(model, agent, sampler, n, n_steps, rounds):
    """{(name, guided): [seconds per round]}: after a 2-step warm-up at the same batch size, each round times
    every contender once, unguided and guided, one after the other (this machine's speed moves by 10-50 % from
    minute to minute; within a round the contenders share the phase)."""
    contenders = [("minipgd", lambda n_, rng, guided, steps: minipgd_sample(model, agent, n_, rng, guided, steps))]
    if sampler is not None:
        contenders.append((sampler.name, lambda n_, rng, guided, steps: jax_sample(sampler, n_, rng, guided, steps)))
    for guided in (False, True):
        for _, sample in contenders:
            sample(n, np.random.default_rng(0), guided, 2)  # warm-up: Numba kernels, jit at this shape
    seconds = {(name, guided): [] for name, _ in contenders for guided in (False, True)}
    for r in range(rounds):
        for guided in (False, True):
            for name, sample in contenders:
                seconds[name, guided].append(timed(lambda: sample(n, np.random.default_rng(1), guided, n_steps)))
                print(f"  round {r + 1}: {name:<10} {'guided' if guided else 'unguided':<9} "
                      f"{seconds[name, guided][-1]:8.1f} s", flush=True)
    return seconds


def print_speed_table(seconds, names, n, n_steps):
    rounds = len(seconds[names[0], False])
    print(f"\n| sampler ({n:,} trajectories, {n_steps} steps; median of {rounds} rounds) | unguided (s) | vs JAX "
          f"| guided (s) | vs JAX |")
    print("|---|---:|---:|---:|---:|")
    reference = names[-1]
    for name in names:
        cells = []
        for guided in (False, True):
            ratios = np.divide(seconds[name, guided], seconds[reference, guided])
            cells += [f"{np.median(seconds[name, guided]):.1f}", f"{np.median(ratios):.2f}x"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n'vs JAX' is the median over rounds of the ratio of times in a round: below 1x is faster than JAX.")


def peak_rss_kib():
    """This process's peak resident memory in KiB: Linux's VmHWM where there is one.

    ru_maxrss would do in a fresh process, but Linux carries the parent's peak over
    the child's exec (here: the parent's JAX and its batches), so it is the fallback.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


def memory_child(n, chunk_size, n_steps):
    """In a fresh process: sample n guided trajectories, print the peak RSS and a hash of the samples."""
    model, agent = build()
    before = peak_rss_kib()
    tau = minipgd_sample(model, agent, n, np.random.default_rng(3), True, n_steps, chunk_size)
    print(before, peak_rss_kib(), hashlib.sha1(tau.tobytes()).hexdigest())


def measure_memory(n, n_steps):
    results = {}
    for chunk_size in (CHUNK_SIZE, None):
        command = [sys.executable, __file__, "--memory-child", str(n), str(chunk_size or 0), str(n_steps)]
        start = time.perf_counter()
        before, peak, digest = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
        results[chunk_size] = digest
        print(f"  chunk_size={chunk_size}: peak RSS {int(peak) / 2**20:.2f} GiB (after imports and model: "
              f"{int(before) / 2**20:.2f} GiB; {'under' if int(peak) < 2**21 else 'OVER'} 2 GiB), "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    same = results[CHUNK_SIZE] == results[None]
    print(f"  chunked and unchunked samples: {'bit-identical' if same else 'DIFFERENT'}")


def measure_speed_against_jax(n, n_steps, rounds):
    """The same-function check (exits 1 on a mismatch), then the timings and their table."""
    model, agent = build()

    sampler = None
    missing = [name for name in ("jax", "flax") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"note: {', '.join(missing)} not installed; JAX is not measured")
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _jax_sampler import JaxSampler

        sampler = JaxSampler(model, agent)
        print(f"same-function check (weights copied from minipgd, same generator, {CHECK_BATCH} trajectories, "
              f"{CHECK_STEPS} steps):")
        if not check_same_function(model, agent, sampler):
            print("\n!!! SAME-FUNCTION CHECK FAILED: the samplers differ, timings would compare different "
                  "things. Not timing. !!!")
            sys.exit(1)

    print(f"timing {n:,} trajectories, {n_steps} steps, {rounds} rounds:", flush=True)
    seconds = measure_speed(model, agent, sampler, n, n_steps, rounds)
    names = ["minipgd"] + ([sampler.name] if sampler else [])
    if sampler:
        print_speed_table(seconds, names, n, n_steps)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes")
    parser.add_argument("--trajectories", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (every contender once each; default 3)")
    parser.add_argument("--memory-trajectories", type=int, default=2**14)
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--memory-only", action="store_true", help="only the memory measurement")
    parser.add_argument("--memory-child", nargs=3, type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.memory_child:
        n, chunk_size, n_steps = args.memory_child
        memory_child(n, chunk_size or None, n_steps)
        return
    n, n_steps, n_memory = (256, 4, 2**11) if args.quick else (args.trajectories, args.steps, args.memory_trajectories)
    rounds = 1 if args.quick else args.rounds
    print_machine()
    print(f"model: {LAYOUT.describe()}, H = 16, U-Net F = {FEATURES}; guide: TD3+BC actor 256-256, "
          f"λ = {GUIDANCE_SCALE}; minipgd chunk_size = {CHUNK_SIZE}", flush=True)
    if not args.memory_only:
        measure_speed_against_jax(n, n_steps, rounds)
    if not args.no_memory:
        print(f"\npeak memory of sampling {n_memory:,} guided trajectories ({MEMORY_STEPS} steps: memory does not "
              f"depend on the step count), each in a fresh process:", flush=True)
        measure_memory(n_memory, MEMORY_STEPS)


if __name__ == "__main__":
    main()
