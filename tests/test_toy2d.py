"""The illustrative 2-D world (Fig. 2): its dynamics, its behavior data and its target policy."""
import numpy as np
import pytest

from minipgd.envs import PointWorld2D
from minipgd.experiments.toy2d import LAYOUT, behavior_trajectories, one_step_error, policy_trajectories, target_policy
from minipgd.rl.policy import target_log_likelihood


def test_datasets_obey_the_dynamics(rng):
    world = PointWorld2D()
    for raw in (behavior_trajectories(world, 20, rng), policy_trajectories(world, target_policy(world), 20, rng)):
        assert raw.shape == (20, 6, 16)
        assert one_step_error(world, raw) < 1e-12


def test_one_step_error_is_the_l2_distance_to_the_true_next_state(rng):
    world = PointWorld2D()
    episodes = world.behavior_episodes(5, rng)
    shifted = episodes["observations"].copy()
    shifted[:, -1] += [0.3, 0.4]  # only the last transition is off, by a distance of 0.5
    assert world.one_step_error(shifted, episodes["actions"]) == pytest.approx(0.5 / (world.horizon - 1))


def test_behavior_and_target_policies_head_to_their_goals(rng):
    world = PointWorld2D()
    behavior_end = behavior_trajectories(world, 200, rng)[:, LAYOUT.obs, -1].mean(axis=0)
    target_end = policy_trajectories(world, target_policy(world), 200, rng)[:, LAYOUT.obs, -1].mean(axis=0)
    assert behavior_end[1] > 0.3 and target_end[1] < -0.3


def test_target_policy_prefers_its_own_rollouts(rng):
    world = PointWorld2D()
    policy = target_policy(world)
    own = target_log_likelihood(policy_trajectories(world, policy, 100, rng), policy, LAYOUT)
    other = target_log_likelihood(behavior_trajectories(world, 100, rng), policy, LAYOUT)
    assert own > other


def test_same_seed_same_dataset():
    world = PointWorld2D()
    a = behavior_trajectories(world, 10, np.random.default_rng(5))
    b = behavior_trajectories(world, 10, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
