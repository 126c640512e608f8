"""The illustrative 2-D world (Fig. 2)."""
import numpy as np

from minipgd.analysis.likelihood import target_log_likelihood
from minipgd.envs import PointWorld2D


def test_datasets_obey_the_dynamics(rng):
    world = PointWorld2D()
    for raw in (world.behavior_dataset(20, rng), world.target_rollouts(20, rng)):
        assert raw.shape == (20, 6, 16)
        assert world.dynamics_error(raw) < 1e-12


def test_behavior_and_target_policies_head_to_their_goals(rng):
    world = PointWorld2D()
    behavior_end = world.behavior_dataset(200, rng)[:, world.layout.obs, -1].mean(axis=0)
    target_end = world.target_rollouts(200, rng)[:, world.layout.obs, -1].mean(axis=0)
    assert behavior_end[1] > 0.3 and target_end[1] < -0.3


def test_target_policy_prefers_its_own_rollouts(rng):
    world = PointWorld2D()
    policy = world.target_policy()
    own = target_log_likelihood(world.target_rollouts(100, rng), policy, world.layout)
    other = target_log_likelihood(world.behavior_dataset(100, rng), policy, world.layout)
    assert own > other


def test_same_seed_same_dataset():
    world = PointWorld2D()
    a = world.behavior_dataset(10, np.random.default_rng(5))
    b = world.behavior_dataset(10, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
