"""What a Table 2 preset costs, from rates measured here on one core (`--jobs N` gives each unit one core).

    python benchmarks/table2_cost.py [--preset paper-scale]     # about a minute

Measures the preset's U-Net (random weights, hopper-sized: 16 channels) per
trajectory and network call when sampling, and TD3+BC and IQL updates per
second (batch 256, 256-256 networks), all on one BLAS thread, the process pinned
to one core (the sampler would otherwise share its chunks over worker threads on
every core); then counts the preset's generations (the pooled unguided ones,
sampled once per model, and every run's own: a guided periodic run's after the
first, every guided generation of a continuous run; a Heun step is two network calls,
the last one), updates and models. `--preset fig4` is Fig. 4's continuous runs:
their models and pooled generations are the tiers', so its own cost is the rest.
The model training time is an input (`--model-minutes`, default: the ~42
CPU-minutes Section 5.3's units recorded for the CPU default model).
"""
import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MINIPGD_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402

from minipgd.diffusion import TrajectoryDiffusion, TrajectoryLayout, TrajectoryNormalizer  # noqa: E402
from minipgd.experiments.fig4 import fig4_config  # noqa: E402
from minipgd.experiments.table2 import PRESETS  # noqa: E402
from minipgd.nn import TemporalUNet, UNetConfig  # noqa: E402
from minipgd.rl import TD3, TD3Config  # noqa: E402
from minipgd.rl.iql import IQL, IQLConfig  # noqa: E402
from minipgd.rl.synthetic import unguided_generations  # noqa: E402

LAYOUT = TrajectoryLayout(obs_dim=11, act_dim=3)  # hopper


SWEEPS = {**PRESETS, "fig4": fig4_config()}  # Table 2's presets and Fig. 4's continuous runs
SHARED = {"fig4": ("models", "pooled generations")}  # parts a sweep takes from the tiers (counted there)


def seconds_per_trajectory_call(config, rng, n=1024, steps=4):
    unet = TemporalUNet(UNetConfig(in_channels=LAYOUT.channels, horizon=config.horizon, features=config.features,
                                   activation=config.activation, residual=config.residual), rng)
    normalizer = TrajectoryNormalizer(LAYOUT, np.zeros(LAYOUT.channels), np.ones(LAYOUT.channels), squash_actions=True)
    model = TrajectoryDiffusion(unet, normalizer)
    model.sample_normalized(n // 2, rng, n_steps=1)  # compile, warm up
    start = time.perf_counter()
    model.sample_normalized(n, rng, n_steps=steps)
    return (time.perf_counter() - start) / (2 * steps - 1) / n


def updates_per_second(agent, rng, n=500):
    batch = {"observations": rng.standard_normal((256, 11)).astype(np.float32),
             "actions": rng.uniform(-1, 1, (256, 3)).astype(np.float32),
             "rewards": rng.standard_normal(256).astype(np.float32),
             "next_observations": rng.standard_normal((256, 11)).astype(np.float32),
             "terminations": np.zeros(256, np.float32)}
    for _ in range(50):
        agent.update(batch, rng)
    start = time.perf_counter()
    for _ in range(n):
        agent.update(batch, rng)
    return n / (time.perf_counter() - start)


def one_core():
    """Run on one core (Linux): minipgd's sampler would otherwise take both with its worker threads, and a unit of
    `--jobs N` shares the machine with N - 1 others."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    else:
        print("note: cannot pin this process to one core here; the rates may use several", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="paper-scale", choices=sorted(SWEEPS))
    parser.add_argument("--model-minutes", type=float, default=42.0, help="CPU-minutes to train one model")
    args = parser.parse_args()
    one_core()
    config, rng = SWEEPS[args.preset], np.random.default_rng(0)
    a2 = config.algorithm2
    call = seconds_per_trajectory_call(config, rng)
    rates = {"td3bc": updates_per_second(TD3(11, 3, rng, TD3Config(alpha=2.5)), rng),
             "iql": updates_per_second(IQL(11, 3, rng, IQLConfig()), rng)}
    generation_min = call * a2.n_trajectories * (2 * a2.sampler_steps - 1) / 60
    pooled_min = generation_min * config.pool_size() / a2.n_trajectories
    updates = a2.n_epochs * a2.steps_per_epoch
    runs = config.runs()
    own = sum(a2.n_epochs - unguided_generations(config.agent_config(source)) for _, source, _, _ in runs
              if source != "real")
    pooled = len(config.pools())
    parts = {"runs' own generations": own * generation_min, "pooled generations": pooled * pooled_min,
             "agent updates": sum(updates / rates[agent] / 60 for agent, _, _, _ in runs),
             "models": len(config.models()) * args.model_minutes}
    print(f"preset {args.preset}: U-Net F = {config.features} ({config.activation}) {1e6 * call:.0f} µs per "
          f"trajectory and call -> one generation ({a2.n_trajectories:,} trajectories, {a2.sampler_steps} steps) "
          f"{generation_min:.1f} CPU-min; TD3+BC {rates['td3bc']:.0f}, IQL {rates['iql']:.0f} updates/s -> "
          f"{updates:,} updates {updates / rates['td3bc'] / 60:.1f} / {updates / rates['iql'] / 60:.1f} CPU-min")
    for name, minutes in parts.items():
        print(f"  {name}: {minutes / 60:.1f} CPU-hours")
    total = sum(parts.values()) / 60
    print(f"  total: {total:.0f} CPU-hours, {total / 2:.0f} hours with --jobs 2 on 2 cores "
          f"({len(runs)} agent runs; {pooled} pooled generations of {config.pool_size():,} trajectories, {own} of "
          f"the runs' own; {len(config.models())} models)")
    shared = SHARED.get(args.preset, ())
    if shared:
        own_total = sum(minutes for name, minutes in parts.items() if name not in shared) / 60
        print(f"  its own, without the tiers' {' and '.join(shared)}: {own_total:.1f} CPU-hours, "
              f"{own_total / 2:.1f} hours with --jobs 2 on 2 cores")


if __name__ == "__main__":
    main()
