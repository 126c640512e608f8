"""Synthetic datasets: trajectories sampled from a diffusion model, guided or not, as an offline dataset.

The result is an `OfflineDataset`, written by `save_dataset` in exactly the format
`collect` writes, so synthetic data is a drop-in for anything that reads those
files. Each sampled trajectory is one episode of it: its transitions stop at a
sampled terminal state (done channel > 0.5), else the last one is marked as a
time-out (`diffusion/windows.py`). Actions are clipped to minipgd's action box
[-1, 1], the one every environment of the registry has and the model's tanh
squashing assumes (your own data is scaled into it: tutorial 06).
The metadata say how the data was made: the model, the guiding policy and λ,
the seed and the sampler steps, beside the training data's environment and
reference returns (`TrajectoryDiffusion.data`), so normalized scores still work.
"""
import numpy as np

from ..envs.dataset import OfflineDataset
from ..rl.auto_scale import choose_scale
from ..rl.synthetic import AUTO, check_guidance_scale, generate_transitions


def check_guidance(model, policy, scale):
    """Raise a ValueError that says what is wrong with guiding `model` by `policy` with λ = `scale` (or "auto")."""
    check_guidance_scale(scale)
    if scale == AUTO and policy is None:
        raise ValueError("guidance scale 'auto' chooses λ for guidance towards a policy, and there is none")
    if policy is not None and (policy.obs_dim, policy.act_dim) != (model.layout.obs_dim, model.layout.act_dim):
        raise ValueError(f"the policy acts on {policy.obs_dim} observation and {policy.act_dim} action dimensions, "
                         f"the diffusion model has {model.layout.obs_dim} and {model.layout.act_dim}: use a policy "
                         "trained on the model's data")


def synthetic_dataset(model, n_trajectories, rng, seed, policy=None, scale=0.0, sampler_steps=256, about=None,
                      auto_target=None):
    """`n_trajectories` sampled from `model` (Algorithm 1; guided towards `policy` when λ = `scale` > 0) as an
    `OfflineDataset`; `seed` is the seed of `rng`, for the metadata, and `about` adds its own keys to them
    (the model's and policy's files, for instance). `scale` "auto": λ chosen by `choose_scale` (towards
    `auto_target`, default its own), the search recorded in the metadata's "auto"."""
    if model.data is None:
        raise ValueError("the diffusion model does not record its training data's environment (models trained "
                         "before minipgd kept it, or built in code: set `model.data = origin(dataset)`); retrain "
                         "it with train-diffusion")
    check_guidance(model, policy, scale)
    auto = {}
    if scale == AUTO:
        choice = choose_scale(model, policy, rng, sampler_steps, target=auto_target)
        scale, auto = choice.scale, {"auto": {"target": choice.target, "tried": {str(s): v for s, v in
                                                                                 choice.tried.items()}}}
    transitions = generate_transitions(model, policy, scale, n_trajectories, rng, sampler_steps)
    transitions["actions"] = np.clip(transitions["actions"], -1.0, 1.0)
    n_episodes = int(np.count_nonzero(transitions["terminations"] | transitions["truncations"]))
    metadata = {**model.data, "recipe": "synthetic", "seed": seed, "n_episodes": n_episodes,
                "training_recipe": model.data["recipe"], "training_seed": model.data["seed"],
                "guidance_scale": scale if policy is not None else 0.0, "sampler_steps": sampler_steps,
                "n_trajectories": n_trajectories, "model_fingerprint": model.fingerprint(), **auto, **(about or {})}
    return OfflineDataset(**transitions, metadata=metadata)
