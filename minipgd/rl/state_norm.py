"""State normalization of the offline agents (TD3+BC, Fujimoto & Gu 2021; CORL's IQL).

s ← (s − mean) / (std + 1e-3) with the offline dataset's statistics, applied to
every state the agent sees: batches, evaluation and policy guidance.
"""
import numpy as np

EPS = 1e-3  # TD3+BC's constant


class StateNormalizer:
    def __init__(self, shift, scale):
        self.shift, self.scale = np.asarray(shift, np.float32), np.asarray(scale, np.float32)

    @classmethod
    def identity(cls, obs_dim):
        return cls(np.zeros(obs_dim), np.ones(obs_dim))

    @classmethod
    def fit(cls, observations):
        """Statistics of a dataset's observations (N, obs_dim)."""
        return cls(observations.mean(axis=0), 1.0 / (observations.std(axis=0) + EPS))

    def __call__(self, obs):
        return ((np.asarray(obs) - self.shift) * self.scale).astype(np.float32)
