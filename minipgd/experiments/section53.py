"""Section 5.3 at CPU scale: target-policy likelihood against λ (Fig. 5) and dynamics error (Fig. 6).

The experiment of the paper, step by step:

1. the behavior dataset (halfcheetah-medium) and three target-policy datasets
   (halfcheetah-random, -medium, -expert) are collected with minipgd's recipes;
2. an IQL target policy is trained on each target dataset;
3. trajectory diffusion models (several seeds) and PETS ensembles (several seeds)
   are trained on the behavior dataset;
4. for every target policy, diffusion seed and λ of the grid, trajectories are
   sampled with policy guidance (Algorithm 1) and scored by the mean log π of their
   actions and by their dynamics error against the real simulator; PETS rollouts of
   the same length from dataset states (Eq. 5–6) are scored the same way.

Every trained artifact is cached in the work folder, so an interrupted run picks
up where it stopped; `run_section53` returns (and writes) plain JSON results.
"""
import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..analysis.dynamics_error import dynamics_error
from ..analysis.likelihood import target_log_likelihood
from ..diffusion import TrajectoryLayout
from ..diffusion.windows import trajectory_windows
from ..envs.registry import make_env
from ..nn.checkpoint import write_text_atomically
from ..nn.unet import HORIZON
from ..rl.iql import IQL, IQLConfig, load_policy
from ..rl.replay import as_float32, sample_batch
from ..rl.state_norm import StateNormalizer
from ..world_models import EnsembleConfig, PETSEnsemble, train_ensemble, truncated_rollouts
from .artifacts import cached_dataset, cached_diffusion, diffusion_path, silent


@dataclass(frozen=True)
class Section53Config:
    behavior: str = "halfcheetah-medium"  # the models' training data (the paper's choice)
    targets: tuple = ("halfcheetah-random", "halfcheetah-medium", "halfcheetah-expert")
    transitions: int = 100_000  # per collected dataset
    target_updates: int = 15_000  # IQL updates per target policy
    diffusion_seeds: tuple = (0, 1)  # the paper: 4; each F = 64 model takes ~13 min on one core
    diffusion_train_steps: int = 60_000
    features: int = 64  # U-Net width F (the paper: 1024); F = 32 is 4x worse in dynamics error (fidelity experiment)
    horizon: int = HORIZON  # H: 16 states per trajectory, as in Fig. 6
    pets_seeds: tuple = (0, 1)  # the paper: 3
    pets_steps: int = 4_000
    pets_hidden: tuple = (200, 200, 200, 200)
    lambdas: tuple = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
    n_trajectories: int = 512  # per (seed, target, λ); the paper: 2048
    sampler_steps: int = 64  # the paper: 256

    @classmethod
    def smoke(cls):
        """A smoke run of the whole pipeline in seconds (the default tests run it)."""
        return cls(transitions=2_000, target_updates=20, diffusion_seeds=(0, 1), diffusion_train_steps=20, features=16,
                   pets_seeds=(0,), pets_steps=20, pets_hidden=(16,), lambdas=(0.0, 1.0), n_trajectories=4,
                   sampler_steps=4)

    def __post_init__(self):
        if 1.0 not in self.lambdas or 0.0 not in self.lambdas:
            raise ValueError(f"the λ grid must contain 0 (unguided) and 1 (Fig. 6), got {self.lambdas}")
        if min(self.transitions, self.target_updates, self.diffusion_train_steps, self.pets_steps,
               self.n_trajectories, self.sampler_steps) < 1 or not self.diffusion_seeds or not self.pets_seeds:
            raise ValueError("sizes and step counts must be positive and the seed lists non-empty")


def _dataset(work, name, config, log):
    return cached_dataset(os.path.join(work, f"{name}.npz"), name, config.transitions, log)


def _cached_target_policy(work, name, config, log):
    """IQL trained on `name` (the target policies of Sec. 5.3), as a Gaussian policy."""
    path = os.path.join(work, f"iql-{name}.npz")
    if not os.path.exists(path):
        real = as_float32(_dataset(work, name, config, log).arrays())
        rng = np.random.default_rng(0)
        agent = IQL(real["observations"].shape[1], real["actions"].shape[1], rng,
                    IQLConfig(max_steps=config.target_updates), state_norm=StateNormalizer.fit(real["observations"]))
        started = time.perf_counter()
        for _ in range(config.target_updates):
            agent.update(sample_batch(real, agent.config.batch_size, rng), rng)
        log(f"trained the IQL target policy on {name}: {config.target_updates} updates "
            f"in {time.perf_counter() - started:.0f} s")
        agent.save_actor(path, {"dataset": name, "updates": config.target_updates})
    return load_policy(path)


def _cached_pets(work, behavior, seed, config, log):
    path = os.path.join(work, f"pets-seed{seed}.npz")
    if not os.path.exists(path):
        ensemble = EnsembleConfig(steps=config.pets_steps, hidden=config.pets_hidden, seed=seed,
                                  eval_every=max(config.pets_steps // 4, 1))
        train_ensemble(behavior.arrays(), ensemble, log=log).save(path, {"seed": seed})
    return PETSEnsemble.load(path)


def _scores(raw, policy, env, layout):
    """(mean log π of the actions, per-step dynamics error averaged over trajectories (H,))."""
    return target_log_likelihood(raw, policy, layout), dynamics_error(env, raw, layout).mean(axis=0).tolist()


def run_section53(work, config=Section53Config(), log=print):
    """Train (or load) everything in `work` and measure; returns the results dict (also `work/section53.json`)."""
    os.makedirs(work, exist_ok=True)
    started = time.perf_counter()
    behavior = _dataset(work, config.behavior, config, log)
    layout = TrajectoryLayout(behavior.obs_dim, behavior.act_dim)
    env = make_env(behavior.metadata["env_id"])
    policies = {name: _cached_target_policy(work, name, config, log) for name in config.targets}
    diffusions = {seed: cached_diffusion(diffusion_path(work, config.features, config.diffusion_train_steps, seed), behavior,
                                         config.horizon, config.features, config.diffusion_train_steps, seed, log)
                  for seed in config.diffusion_seeds}
    ensembles = {seed: _cached_pets(work, behavior, seed, config, log) for seed in config.pets_seeds}
    models_ready = time.perf_counter() - started
    log(f"models ready after {models_ready:.0f} s; sampling and scoring")
    real_windows = trajectory_windows(behavior, horizon=config.horizon, log=silent)
    results = {"config": asdict(config), "targets": {}}
    for t, name in enumerate(config.targets):
        policy = policies[name]
        pgd = {str(scale): {"log_likelihood": [], "dynamics_error": []} for scale in config.lambdas}
        for seed, model in diffusions.items():
            for i, scale in enumerate(config.lambdas):
                rng = np.random.default_rng([seed, t, i])  # the same draws whatever else is measured
                raw = model.sample(config.n_trajectories, rng, policy=policy, scale=scale, n_steps=config.sampler_steps)
                likelihood, error = _scores(raw, policy, env, layout)
                pgd[str(scale)]["log_likelihood"].append(likelihood)
                pgd[str(scale)]["dynamics_error"].append(error)
        pets = {"log_likelihood": [], "dynamics_error": []}
        for seed, ensemble in ensembles.items():
            rng = np.random.default_rng([seed, t, 1_000])
            starts = behavior.observations[rng.integers(0, len(behavior.observations), config.n_trajectories)]
            raw = truncated_rollouts(ensemble, policy, starts, config.horizon, rng, layout)  # Eq. 5–6
            likelihood, error = _scores(raw, policy, env, layout)
            pets["log_likelihood"].append(likelihood)
            pets["dynamics_error"].append(error)
        data = target_log_likelihood(real_windows, policy, layout)
        results["targets"][name] = {"pgd": pgd, "pets": pets, "behavior_data_log_likelihood": data}
        by_scale = ", ".join(f"{s}: {np.mean(v['log_likelihood']):.2f}" for s, v in pgd.items())
        log(f"{name}: log π at λ = {by_scale}; PETS {np.mean(pets['log_likelihood']):.2f}; behavior data {data:.2f}")
    results["seconds"] = time.perf_counter() - started
    results["model_seconds"] = models_ready
    write_text_atomically(os.path.join(work, "section53.json"), json.dumps(results, indent=1))
    log(f"measured in {results['seconds']:.0f} s")
    return results
