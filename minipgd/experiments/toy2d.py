"""The illustrative 2-D experiment (Fig. 2): the toy world's episodes as trajectories, and its target policy.

Glue between `minipgd.envs.toy2d` (the dynamics), the trajectory layout of the
diffusion model and the Gaussian target policy of `minipgd.rl.policy`; tutorial 01
and the tests build on it.
"""
import numpy as np

from ..diffusion.trajectory import TrajectoryLayout
from ..rl.policy import GoalReachingPolicy

LAYOUT = TrajectoryLayout(obs_dim=2, act_dim=2)  # x, y, a_x, a_y, reward, done: C = 6


def target_policy(world):
    """π_target(a|s) = N(tanh(gain · (target_goal − s)), target_std²)."""
    return GoalReachingPolicy(world.target_goal, world.gain, world.target_std)


def behavior_trajectories(world, n, rng):
    """The behavior dataset as raw trajectories (n, C, H)."""
    return LAYOUT.stack(**world.behavior_episodes(n, rng))


def policy_trajectories(world, policy, n, rng):
    """Real-environment rollouts of `policy` (Fig. 2, left) as raw trajectories (n, C, H)."""
    return LAYOUT.stack(**world.rollouts(n, rng, lambda state, rng: np.clip(policy.sample(state, rng), -1.0, 1.0)))


def one_step_error(world, raw):
    """The world's one-step L2 dynamics error of raw trajectories (n, C, H)."""
    parts = LAYOUT.split(raw)
    return world.one_step_error(parts["observations"], parts["actions"])
