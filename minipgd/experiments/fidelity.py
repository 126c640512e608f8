"""How faithful is a diffusion model to the real dynamics? Dynamics error by model size and training.

Sec. 5.3 scores synthetic trajectories by their dynamics error against the real
simulator. Unguided samples isolate the model's own error (no guidance pulls the
actions away from the data), so this experiment trains trajectory diffusion models
of several widths F and training lengths on one dataset and reports the error of
unguided samples after one step and over the whole trajectory, for several
numbers of sampler steps (the paper: "diminishing improvement in dynamics error
beyond 256 timesteps", App. A.2).
"""
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..analysis.dynamics_error import dynamics_error
from ..envs.registry import make_env
from ..nn.unet import HORIZON
from .artifacts import cached_dataset, cached_diffusion, diffusion_path


@dataclass(frozen=True)
class FidelityConfig:
    dataset: str = "halfcheetah-medium"
    transitions: int = 100_000
    models: tuple = ((32, 20_000), (32, 60_000), (64, 60_000))  # (U-Net width F, training steps)
    sampler_steps: tuple = (64, 256)
    n_trajectories: int = 512
    horizon: int = HORIZON
    seed: int = 0

    @classmethod
    def smoke(cls):
        return cls(transitions=2_000, models=((16, 10), (16, 20)), sampler_steps=(4,), n_trajectories=4)


def unguided_dynamics_error(model, env, n_trajectories, sampler_steps, seed):
    """Per-trajectory, per-step dynamics error (n, H) of unguided samples of `model` (Sec. 5.3's metric)."""
    raw = model.sample(n_trajectories, np.random.default_rng(seed), n_steps=sampler_steps)
    return dynamics_error(env, raw, model.layout)


def run_fidelity(work, config=FidelityConfig(), log=print):
    """-> rows {features, train_steps, parameters, sampler_steps, step1, mean, seconds} (model training cached)."""
    dataset = cached_dataset(os.path.join(work, f"{config.dataset}.npz"), config.dataset, config.transitions, log)
    env = make_env(dataset.metadata["env_id"])
    rows = []
    for features, steps in config.models:
        model = cached_diffusion(diffusion_path(work, features, steps, config.seed), dataset, config.horizon,
                                 features, steps, config.seed, log)
        for n_steps in config.sampler_steps:
            started = time.perf_counter()
            error = unguided_dynamics_error(model, env, config.n_trajectories, n_steps, config.seed)
            rows.append({"features": features, "train_steps": steps, "parameters": model.unet.num_parameters(),
                         "sampler_steps": n_steps, "step1": float(error[:, 1].mean()),
                         "mean": float(error[:, 1:].mean()), "seconds": time.perf_counter() - started})
            log(f"F = {features}, {steps} training steps, {n_steps} sampler steps: dynamics MSE after one step "
                f"{rows[-1]['step1']:.3f}, over the trajectory {rows[-1]['mean']:.3f}")
    return rows


def fidelity_table(rows, config, command):
    lines = [f"Produced by `{command}`: unguided samples of models trained on {config.dataset} "
             f"({config.n_trajectories} trajectories of H = {config.horizon}, seed {config.seed}); dynamics MSE "
             "against the real simulator, per state dimension.", "",
             "| U-Net width F | parameters | training steps | sampler steps | MSE after 1 step | MSE, steps 1–15 |",
             "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['features']} | {r['parameters']:,} | {r['train_steps']:,} | {r['sampler_steps']} | "
              f"{r['step1']:.3f} | {r['mean']:.3f} |" for r in rows]
    return "\n".join(lines) + "\n\nConfiguration: `" + str(asdict(config)) + "`\n"
