"""A fixed-size replay buffer of transitions, sampled uniformly (TD3's and the agents' data)."""
import numpy as np


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
        index = rng.integers(0, self.size, size=batch_size)
        return {name: values[index] for name, values in self.data.items()}

    def contents(self):
        """Everything stored, oldest first: {field: array}."""
        order = np.arange(self.size) if self.size < self.capacity else np.roll(np.arange(self.capacity), -self.next)
        return {name: values[order] for name, values in self.data.items()}
