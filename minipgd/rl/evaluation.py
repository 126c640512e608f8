"""Evaluating a policy in the real environment (Sec. 5.1: D4RL-style normalized scores)."""
import numpy as np


def episode_seed(rng):
    return int(rng.integers(2**31 - 1))


def run_episode(env, act, rng):
    """Return of one episode of `act(obs) -> action` from a reset seeded by `rng`."""
    obs, _ = env.reset(seed=episode_seed(rng))
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        total += float(reward)
        done = terminated or truncated
    return total


def evaluate(env, act, n_episodes, rng):
    """(n_episodes,) returns of the deterministic policy `act(obs) -> action`."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be positive, got {n_episodes}")
    return np.array([run_episode(env, act, rng) for _ in range(n_episodes)])
