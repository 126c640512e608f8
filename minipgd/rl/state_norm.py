"""State normalization of the offline agents (TD3+BC, Fujimoto & Gu 2021; CORL's IQL).

s ← (s − mean) / (std + 1e-3) with the offline dataset's statistics, applied to
every state the agent sees: batches, evaluation and policy guidance. It is part
of the agent: saved in its training state and in every actor file.
"""
import numpy as np

EPS = 1e-3  # TD3+BC's constant


class StateNormalizer:
    """s ↦ (s − shift) · scale, returned in `dtype` (the agent's)."""

    def __init__(self, shift, scale, dtype=np.float32):
        self.shift, self.scale = np.asarray(shift, dtype), np.asarray(scale, dtype)

    @classmethod
    def identity(cls, obs_dim, dtype=np.float32):
        return cls(np.zeros(obs_dim), np.ones(obs_dim), dtype)

    @classmethod
    def fit(cls, observations, dtype=np.float32):
        """Statistics of a dataset's observations (N, obs_dim)."""
        return cls(observations.mean(axis=0), 1.0 / (observations.std(axis=0) + EPS), dtype)

    def astype(self, dtype):
        """The same normalization, returning `dtype` states."""
        return StateNormalizer(self.shift, self.scale, dtype)

    def state_dict(self):
        return {"shift": self.shift.copy(), "scale": self.scale.copy()}

    @classmethod
    def from_state_dict(cls, state, dtype=np.float32):
        """The inverse of `state_dict`."""
        if set(state) != {"shift", "scale"}:
            raise ValueError(f"a state normalization has the arrays ['scale', 'shift'], got {sorted(state)}")
        return cls(state["shift"], state["scale"], dtype)

    def __call__(self, obs):
        return ((np.asarray(obs) - self.shift) * self.scale).astype(self.shift.dtype)
