"""Trajectory tensors: which channel is what, and the per-channel normalization.

A trajectory is (B, C, H): for each of H transitions the observation, action,
reward and done flag stacked as channels (Appendix A.1), in that order.

The model sees normalized trajectories. As in the authors' code, bounded actions
are first mapped through arctanh (after clipping to ±0.999) so the model works
in an unbounded space, then every channel is z-scored with statistics of the
training data (a channel with zero spread keeps std 1). `decode` undoes both:
actions come back through tanh, so they always lie inside the action bounds.
"""
from dataclasses import dataclass

import numpy as np

ACTION_CLIP = 0.999  # arctanh(±0.999) ≈ ±3.8 keeps squashed actions finite


@dataclass(frozen=True)
class TrajectoryLayout:
    obs_dim: int
    act_dim: int

    def __post_init__(self):
        if self.obs_dim < 1 or self.act_dim < 1:
            raise ValueError(f"obs_dim and act_dim must be positive, got {self.obs_dim}, {self.act_dim}")

    @property
    def channels(self):
        return self.obs_dim + self.act_dim + 2  # + reward + done

    @property
    def obs(self):
        return slice(0, self.obs_dim)

    @property
    def act(self):
        return slice(self.obs_dim, self.obs_dim + self.act_dim)

    @property
    def reward(self):
        return self.obs_dim + self.act_dim

    @property
    def done(self):
        return self.obs_dim + self.act_dim + 1

    def describe(self):
        return f"obs {self.obs_dim} + act {self.act_dim} + reward + done = {self.channels} channels"

    def stack(self, observations, actions, rewards, terminations):
        """(B, H, obs), (B, H, act), (B, H), (B, H) -> trajectories (B, C, H); the inverse of `split`."""
        parts = [observations, actions, np.asarray(rewards)[..., None],
                 np.asarray(terminations, dtype=np.float64)[..., None]]
        return np.concatenate(parts, axis=-1).transpose(0, 2, 1)

    def split(self, tau):
        """Trajectories (B, C, H) -> {observations (B, H, obs), actions (B, H, act), rewards (B, H),
        terminations (B, H)}, time-major views; the inverse of `stack` (done stays a number here)."""
        tau = np.asarray(tau)
        return {"observations": tau[:, self.obs].transpose(0, 2, 1),
                "actions": tau[:, self.act].transpose(0, 2, 1),
                "rewards": tau[:, self.reward],
                "terminations": tau[:, self.done]}


class TrajectoryNormalizer:
    """Per-channel z-scoring of (B, C, H) trajectories, with optional tanh-squashed actions."""

    def __init__(self, layout, mean, std, squash_actions):
        self.layout, self.squash_actions = layout, bool(squash_actions)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        if self.mean.shape != (layout.channels,) or self.std.shape != (layout.channels,):
            raise ValueError(f"normalizer statistics must have shape ({layout.channels},) for {layout.describe()}")

    @classmethod
    def fit(cls, raw, layout, squash_actions=True):
        """Statistics of raw trajectories (N, C, H) in environment units."""
        raw = check_trajectories(raw, layout)
        largest = float(np.abs(raw[:, layout.act]).max())
        if squash_actions and largest > 1.0:
            raise ValueError(f"actions reach |a| = {largest:.3g}, outside [-1, 1]: the model squashes actions through "
                             "tanh (arctanh on the way in), so scale them into [-1, 1] first (for a box [low, high]: "
                             "2 (a - low) / (high - low) - 1), or pass squash_actions=False")
        unsquashed = _unsquash(raw, layout, squash_actions)
        std = unsquashed.std(axis=(0, 2))
        return cls(layout, unsquashed.mean(axis=(0, 2)), np.where(std > 0, std, 1.0), squash_actions)

    def encode(self, raw):
        """Environment units -> model space."""
        raw = check_trajectories(raw, self.layout)
        return (_unsquash(raw, self.layout, self.squash_actions) - self.mean[:, None]) / self.std[:, None]

    def decode(self, tau):
        """Model space -> environment units (actions squashed back into [-1, 1])."""
        out = np.asarray(tau, dtype=np.float64) * self.std[:, None] + self.mean[:, None]
        if self.squash_actions:
            out[:, self.layout.act] = np.tanh(out[:, self.layout.act])
        return out

    def action_jacobian(self, tau):
        """d(raw action)/d(normalized action), element-wise: (B, act_dim, H)."""
        act = self.layout.act
        scale = np.broadcast_to(self.std[act, None], (tau.shape[0], self.layout.act_dim, tau.shape[2]))
        if not self.squash_actions:
            return scale
        pre_tanh = tau[:, act] * self.std[act, None] + self.mean[act, None]
        return scale * (1.0 - np.tanh(pre_tanh) ** 2)

    def state_dict(self):
        return {"mean": self.mean.copy(), "std": self.std.copy(), "squash_actions": np.array(self.squash_actions)}

    @classmethod
    def from_state_dict(cls, layout, state):
        return cls(layout, state["mean"], state["std"], bool(state["squash_actions"]))


def _unsquash(raw, layout, squash_actions):
    """Raw trajectories with actions mapped through arctanh (when squashed), as float64 copies."""
    out = np.array(raw, dtype=np.float64)
    if squash_actions:
        out[:, layout.act] = np.arctanh(np.clip(out[:, layout.act], -ACTION_CLIP, ACTION_CLIP))
    return out


def check_trajectories(tau, layout, horizon=None):
    """A finite float array (B, C, H) with the layout's channel count, or a clear ValueError."""
    tau = np.asarray(tau)
    if tau.ndim != 3:
        raise ValueError(f"trajectories must be an array of shape (B, C, H), got shape {tau.shape}")
    if tau.shape[1] != layout.channels:
        raise ValueError(f"trajectory has {tau.shape[1]} channels, expected {layout.describe()}")
    if horizon is not None and tau.shape[2] != horizon:
        raise ValueError(f"trajectory has length {tau.shape[2]}, the model expects H = {horizon}")
    if not np.all(np.isfinite(tau)):
        raise ValueError("trajectories contain NaN or inf")
    return tau

