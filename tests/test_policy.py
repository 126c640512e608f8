"""The Gaussian policy interface used by guidance."""
import numpy as np
import pytest
from scipy.stats import norm

from minipgd.rl import DeterministicGaussianPolicy, GoalReachingPolicy


def test_log_prob_is_the_gaussian_density(rng):
    policy = GoalReachingPolicy(goal=(0.5, -0.2), gain=2.0, std=0.3)
    states, actions = rng.standard_normal((7, 2)), rng.uniform(-1, 1, (7, 2))
    mean, std = policy.mean_std(states)
    expected = norm.logpdf(actions, mean, std).sum(axis=-1)
    np.testing.assert_allclose(policy.log_prob(states, actions), expected, rtol=1e-12)


def test_closed_form_gradient_matches_finite_differences(rng):
    policy = GoalReachingPolicy(goal=(0.5, -0.2), gain=2.0, std=0.3)
    states, actions = rng.standard_normal((5, 2)), rng.uniform(-1, 1, (5, 2))
    grad = policy.grad_log_prob(states, actions)
    h = 1e-6
    for i in range(2):
        step = np.zeros(2)
        step[i] = h
        numeric = (policy.log_prob(states, actions + step) - policy.log_prob(states, actions - step)) / (2 * h)
        np.testing.assert_allclose(grad[:, i], numeric, rtol=1e-7)


def test_deterministic_actor_is_a_unit_variance_gaussian(rng):
    policy = DeterministicGaussianPolicy(lambda s: np.tanh(s[:, :1]), obs_dim=3, act_dim=1)
    states = rng.standard_normal((4, 3))
    mean, std = policy.mean_std(states)
    np.testing.assert_allclose(mean, np.tanh(states[:, :1]))
    np.testing.assert_allclose(std, 1.0)


def test_states_of_the_wrong_size_are_rejected():
    policy = GoalReachingPolicy(goal=(0, 0), gain=1.0, std=1.0)
    with pytest.raises(ValueError, match="expects states with 2 dimensions"):
        policy.mean_std(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="do not match"):
        policy.log_prob(np.zeros((3, 2)), np.zeros((3, 4)))


def test_non_finite_policy_output_is_rejected():
    policy = DeterministicGaussianPolicy(lambda s: np.full((len(s), 1), np.nan), obs_dim=2, act_dim=1)
    with pytest.raises(ValueError, match="non-finite"):
        policy.grad_log_prob(np.zeros((2, 2)), np.zeros((2, 1)))


def test_many_states_are_split_over_workers_with_the_same_result(monkeypatch):
    """Guidance's B x H states go through the actor in parts, side by side, each part in blocks: the same means
    as one pass of the actor over all of them."""
    from minipgd.runtime import workers
    from minipgd.rl.policy import MIN_STATES_PER_WORKER, STATES_PER_BLOCK
    from minipgd.rl.td3 import TD3, TD3Config

    agent = TD3(5, 2, np.random.default_rng(0), TD3Config(hidden=(32, 32), alpha=2.5))
    states = np.random.default_rng(1).standard_normal((2 * MIN_STATES_PER_WORKER + 3, 5))
    monkeypatch.setattr(workers, "parallel_workers", lambda: 1)
    whole = agent.policy().mean_std(states)
    monkeypatch.setattr(workers, "parallel_workers", lambda: 2)
    split = agent.policy().mean_std(states)
    for a, b in zip(whole, split):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert len(states) > 2 * STATES_PER_BLOCK  # each part takes more than one block
    np.testing.assert_allclose(whole[0], agent.act(states), rtol=1e-6, atol=1e-7)
