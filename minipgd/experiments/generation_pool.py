"""Unguided generations sampled once per diffusion model and read by every run that needs them.

An unguided generation (Alg. 2 l. 5 with λ = 0) does not depend on the agent, so
the runs of one model share them instead of each sampling its own: an unguided
run (SynthER) takes generation e as its epoch-e data, and a guided run takes
generation 0 as its first, unguided, epoch. A run whose epochs are smaller than
a generation (Fig. 4's continuous runs) takes them as consecutive slices of the
generations instead (`epoch_slices`): together the slices are the same
trajectories the periodic runs read. Each generation is sampled with its
own generator, seeded by the model's seed and the generation's index, so the
pooled data has the same distribution as data a run samples itself; only the
draws are shared. A generation is kept in the work folder,
`pools/NAME-seedS-NxSTEPSsteps-gG.npz`
(transitions and what made them), and sampled again where it is missing.
"""
import os
import time

import numpy as np

from ..nn.checkpoint import fingerprint, load_checkpoint, save_checkpoint
from ..rl.synthetic import generate_transitions

POOL_STREAM = 2024  # mixed into each generation's seed: a stream no agent run's generator starts from
KIND = "UnguidedGeneration"


def pool_path(work, name, seed, generation, n_trajectories, sampler_steps):
    return os.path.join(work, "pools", f"{name}-seed{seed}-{n_trajectories}x{sampler_steps}steps-g{generation}.npz")


def pool_settings(model, n_trajectories, sampler_steps, seed, generation):
    """What a pooled generation is made from: a file made from anything else is not this generation."""
    return {"model": model.fingerprint(), "n_trajectories": n_trajectories, "sampler_steps": sampler_steps,
            "seed": seed, "generation": generation}


def make_pool_generation(path, model, n_trajectories, sampler_steps, seed, generation):
    """Sample unguided generation `generation` of the model of `seed` (Alg. 2 l. 5, λ = 0) and keep it at `path`
    with what made it and what it took (`pool_record`)."""
    rng = np.random.default_rng([POOL_STREAM, seed, generation])
    wall, cpu = time.perf_counter(), time.process_time()
    transitions = generate_transitions(model, None, 0.0, n_trajectories, rng, sampler_steps)
    meta = {"kind": KIND, "settings": pool_settings(model, n_trajectories, sampler_steps, seed, generation),
            "fingerprint": fingerprint(transitions), "transitions": len(transitions["rewards"]),
            "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_checkpoint(path, transitions, meta)


def pool_record(path):
    """What the generation at `path` was made from, its fingerprint, size and sampling time (no arrays)."""
    _, meta = load_checkpoint(path, kind=KIND, what="pooled generation")
    return {key: value for key, value in meta.items() if key != "kind"}


def pool_transitions(path):
    """The transitions of the generation at `path`, whatever made them (`pool_record` says what did)."""
    arrays, _ = load_checkpoint(path, kind=KIND, what="pooled generation")
    return arrays


def epoch_slices(transitions, parts, count):
    """The first `count` of `parts` near-equal slices of one pooled generation, each consecutive whole
    trajectories in the order they were sampled: the data of `count` epochs whose generations are 1/`parts` of
    its size (`parts` 1: the generation whole)."""
    if parts == 1:
        return [transitions]
    ends = np.flatnonzero(transitions["terminations"] | transitions["truncations"]) + 1  # past each one's last row
    if len(ends) < parts:
        raise ValueError(f"a pooled generation of {len(ends)} trajectories cannot be cut into {parts} epochs' data")
    cuts = len(ends) * np.arange(parts + 1) // parts  # trajectories before each slice
    bounds = np.concatenate([[0], ends[cuts[1:] - 1]])  # rows before each slice
    return [{name: values[start:stop] for name, values in transitions.items()}
            for start, stop in zip(bounds[:count], bounds[1:count + 1])]


def load_pool_generation(path, settings):
    """-> (transitions, fingerprint) of the generation at `path`, refused unless it was made with `settings`."""
    arrays, meta = load_checkpoint(path, kind=KIND, what="pooled generation")
    if meta["settings"] != settings:
        raise ValueError(f"{path} was sampled with {meta['settings']}, not with {settings} (another model or "
                         "sampler setting); delete it to sample it again")
    return arrays, meta["fingerprint"]
