"""The policy interface shared by guidance and the agents: a diagonal Gaussian π(a|s).

Policy guidance needs ∇_a log π(a|s) (Eq. 11). For a Gaussian it has a closed
form, so no back-propagation through the policy network is needed (Sec. 4.1,
"Excluding State Guidance"):

    log π(a|s) = Σ_i [ −(a_i − μ_i(s))² / (2 σ_i(s)²) − log σ_i(s) − ½ log 2π ]
    ∇_a log π(a|s) = −(a − μ(s)) / σ(s)²

Everything is in environment units: states as observed, actions in the
environment's action space.
"""
from functools import partial

import numpy as np

from ..runtime.workers import parallel_workers, side_by_side

LOG_2PI = np.log(2.0 * np.pi)
MIN_STATES_PER_WORKER = 2048  # guidance asks for every state of a chunk of trajectories at once (512 x 16)
STATES_PER_BLOCK = 1024  # a 256-wide hidden layer over 1,024 states: 1 MB, a core's L2 cache


class GaussianPolicy:
    """Subclasses set `obs_dim`, `act_dim` and implement `_mean_std(states)` on (N, obs_dim)."""

    obs_dim: int
    act_dim: int

    def _mean_std(self, states):
        raise NotImplementedError

    def mean_std(self, states):
        """states: (..., obs_dim) -> mean, std: (..., act_dim), checked to be finite."""
        states = np.asarray(states, dtype=np.float64)
        if states.shape[-1] != self.obs_dim:
            raise ValueError(f"policy expects states with {self.obs_dim} dimensions, got shape {states.shape}")
        flat = states.reshape(-1, self.obs_dim)
        # many states (guidance's): in parts, side by side. Each part is a forward pass only; the networks'
        # cached activations, left by whichever part ran last, are not read by anything afterwards
        parts = np.array_split(flat, max(1, min(parallel_workers(), len(flat) // MIN_STATES_PER_WORKER)))
        results = side_by_side(*(partial(self._broadcast_mean_std, part) for part in parts))  # [(mean, std)]
        mean, std = (np.concatenate(arrays) for arrays in zip(*results))
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise ValueError(f"{type(self).__name__} returned a non-finite mean or std")
        if np.any(std <= 0):
            raise ValueError(f"{type(self).__name__} returned a non-positive std")
        shape = states.shape[:-1] + (self.act_dim,)
        return mean.reshape(shape), std.reshape(shape)

    def _broadcast_mean_std(self, flat):
        """`_mean_std` of (N, obs_dim) states as two float64 (N, act_dim) arrays, in blocks of STATES_PER_BLOCK
        states: a block's hidden activations stay in the CPU's cache, a whole part's would stream from memory."""
        mean, std = np.empty((2, len(flat), self.act_dim))
        for start in range(0, len(flat), STATES_PER_BLOCK):
            rows = slice(start, start + STATES_PER_BLOCK)
            mean[rows], std[rows] = self._mean_std(flat[rows])
        return mean, std

    def _check_actions(self, states, actions):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != np.shape(states)[:-1] + (self.act_dim,):
            raise ValueError(
                f"actions of shape {actions.shape} do not match states of shape {np.shape(states)} "
                f"and act_dim {self.act_dim}"
            )
        return actions

    def log_prob(self, states, actions):
        """log π(a|s), summed over action dimensions: (...,)."""
        actions = self._check_actions(states, actions)
        mean, std = self.mean_std(states)
        z = (actions - mean) / std
        return np.sum(-0.5 * z**2 - np.log(std) - 0.5 * LOG_2PI, axis=-1)

    def grad_log_prob(self, states, actions):
        """∇_a log π(a|s) = −(a − μ(s)) / σ(s)²: (..., act_dim)."""
        return self.grad_log_prob_and_std(states, actions)[0]

    def grad_log_prob_and_std(self, states, actions):
        """(∇_a log π(a|s), σ(s)) from one evaluation of the policy: both (..., act_dim)."""
        actions = self._check_actions(states, actions)
        mean, std = self.mean_std(states)
        return -(actions - mean) / std**2, std

    def sample(self, states, rng):
        mean, std = self.mean_std(states)
        return mean + std * rng.standard_normal(mean.shape)


class DeterministicGaussianPolicy(GaussianPolicy):
    """A deterministic actor guided as N(actor(s), std²) (Sec. 5.1: TD3+BC with unit variance)."""

    def __init__(self, actor, obs_dim, act_dim, std=1.0):
        self.actor, self.obs_dim, self.act_dim, self.std = actor, obs_dim, act_dim, std

    def _mean_std(self, states):
        return self.actor(states), self.std


class GoalReachingPolicy(GaussianPolicy):
    """π(a|s) = N(tanh(gain · (goal − s)), std²): steer towards `goal` (the 2-D world's target policy, Fig. 2)."""

    def __init__(self, goal, gain, std):
        self.goal, self.gain, self.std = np.asarray(goal, dtype=np.float64), gain, std
        self.obs_dim = self.act_dim = len(self.goal)

    def _mean_std(self, states):
        return np.tanh(self.gain * (self.goal - states)), self.std


def target_log_likelihood(raw, policy, layout):
    """Mean log π(a_t|s_t) over every (s_t, a_t) of raw trajectories (n, C, H) in environment units: how likely
    the target policy finds synthetic actions (Sec. 5.3, Fig. 5). `layout`: the trajectories' TrajectoryLayout."""
    parts = layout.split(raw)
    return float(np.mean(policy.log_prob(parts["observations"], parts["actions"])))
