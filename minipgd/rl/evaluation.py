"""Evaluating a policy in the real environment (Sec. 5.1: D4RL-style normalized scores)."""
import numpy as np


def episode_seed(rng):
    return int(rng.integers(2**31 - 1))


def _flat(obs):
    return obs["observation"] if isinstance(obs, dict) else obs  # PointMaze's dict observations


def run_episode(env, act, rng, reset_options=None):
    """Return of one episode of `act(obs) -> action` from a reset seeded by `rng`."""
    obs, _ = env.reset(seed=episode_seed(rng), options=reset_options)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(act(_flat(obs)))
        total += float(reward)
        done = terminated or truncated
    return total


def evaluate(env, act, n_episodes, rng, reset_options=None):
    """(n_episodes,) returns of the deterministic policy `act(obs) -> action`.

    `reset_options` go to every `env.reset` (maze2d: D4RL's fixed evaluation goal).
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be positive, got {n_episodes}")
    return np.array([run_episode(env, act, rng, reset_options) for _ in range(n_episodes)])
