"""Tables of transitions: {field: (N, ...)} dicts, the agents' dtype, uniform mini-batches, a replay buffer.

A transition table is a dict with observations, actions, rewards,
next_observations and terminations (and optionally truncations), one row per
transition: what an offline dataset holds and what `windows_to_transitions`
makes of synthetic trajectories.
"""
import numpy as np


def as_float32(transitions):
    """The agents' dtype: float arrays as float32, flags untouched."""
    return {name: v.astype(np.float32) if v.dtype.kind == "f" else v for name, v in transitions.items()}


def sample_batch(transitions, size, rng):
    """A uniform mini-batch of `size` rows (with replacement): {field: (size, ...)}."""
    index = rng.integers(0, len(transitions["rewards"]), size=size)
    return {name: values[index] for name, values in transitions.items()}


class ReplayBuffer:
    FIELDS = ("observations", "actions", "rewards", "next_observations", "terminations", "truncations")

    def __init__(self, obs_dim, act_dim, capacity):
        if capacity < 1:
            raise ValueError(f"replay capacity must be positive, got {capacity}")
        self.capacity, self.size, self.next = capacity, 0, 0
        self.data = {
            "observations": np.zeros((capacity, obs_dim), np.float32),
            "actions": np.zeros((capacity, act_dim), np.float32),
            "rewards": np.zeros(capacity, np.float32),
            "next_observations": np.zeros((capacity, obs_dim), np.float32),
            "terminations": np.zeros(capacity, bool),
            "truncations": np.zeros(capacity, bool),
        }

    def add(self, obs, action, reward, next_obs, terminated, truncated):
        for name, value in zip(self.FIELDS, (obs, action, reward, next_obs, terminated, truncated)):
            self.data[name][self.next] = value
        self.next = (self.next + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng, batch_size):
        """A uniform mini-batch: {field: (batch, ...)} (the flags as bool)."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return sample_batch({name: values[:self.size] for name, values in self.data.items()}, batch_size, rng)

    def contents(self):
        """Everything stored, oldest first: {field: array}."""
        order = np.arange(self.size) if self.size < self.capacity else np.roll(np.arange(self.capacity), -self.next)
        return {name: values[order] for name, values in self.data.items()}
