"""IQL: every loss gradient against float64 finite differences, the guidance view, and the update mechanics."""
import numpy as np
import pytest

from minipgd.nn.gradcheck import central_difference, relative_error
from minipgd.nn.mlp import MLP
from minipgd.rl.iql import (IQL, GaussianActor, IQLConfig, advantage_weights, awr_loss, expectile_loss,
                            load_actor, load_policy)
from minipgd.rl.policy import GaussianPolicy
from minipgd.rl.state_norm import StateNormalizer
from minipgd.rl.td3 import TD3, TD3Config, critic_loss

F64 = np.float64
SMALL = IQLConfig(hidden=(16, 16), batch_size=32)


def _numeric_gradient(loss, params, indices):
    return np.array([central_difference(loss, params, i) for i in indices])


def _expectile(u, tau):
    return np.mean(np.abs(tau - (u < 0)) * u**2)


def test_expectile_loss_gradient(rng):
    value = MLP((4, 8, 1), rng, dtype=F64)
    obs, q = rng.standard_normal((20, 4)), rng.standard_normal((20, 1))
    params, grads = value.parameter_buffers()
    value.zero_grad()
    reported = expectile_loss(value, obs, q, 0.7)

    def loss():
        return _expectile(q - value.forward(obs), 0.7)

    assert reported == pytest.approx(loss())
    index = rng.choice(params.size, 30, replace=False)
    assert relative_error(grads[index], _numeric_gradient(loss, params, index)) < 1e-6


def test_expectile_half_is_half_the_squared_error(rng):
    value = MLP((4, 8, 1), rng, dtype=F64)
    obs, q = rng.standard_normal((20, 4)), rng.standard_normal((20, 1))
    mse = np.mean((q - value.forward(obs)) ** 2)
    assert expectile_loss(value, obs, q, 0.5) == pytest.approx(0.5 * mse)


def test_q_loss_gradient_treats_next_value_as_constant(rng):
    agent = IQL(3, 2, rng, SMALL, dtype=F64)
    batch = _batch(rng, dtype=F64)
    inputs = np.concatenate([batch["observations"], batch["actions"]], axis=1)
    target = agent._td_target(batch)
    not_done = 1.0 - batch["terminations"][:, None]
    np.testing.assert_allclose(target, batch["rewards"][:, None]
                               + 0.99 * not_done * agent.value.forward(batch["next_observations"]))
    for critic in agent.critics:
        critic.zero_grad()
    reported = sum(critic_loss(critic, inputs, target) for critic in agent.critics)  # Eq. 6

    def loss():
        return sum(float(np.mean((critic.forward(inputs) - target) ** 2)) for critic in agent.critics)

    assert reported == pytest.approx(loss())
    for critic in agent.critics:
        params, grads = critic.parameter_buffers()
        index = rng.choice(params.size, 30, replace=False)
        assert relative_error(grads[index], _numeric_gradient(loss, params, index)) < 1e-6


def _awr(actor, obs, actions, weights):
    mean, log_std = actor.forward(obs), actor.log_std()
    var = np.exp(2 * log_std)
    log_prob = np.sum(-0.5 * (actions - mean) ** 2 / var - log_std - 0.5 * np.log(2 * np.pi), axis=1, keepdims=True)
    return float(-np.mean(weights * log_prob))


def test_awr_loss_gradient_reaches_mean_net_and_log_std(rng):
    actor = GaussianActor(4, 3, (8, 8), rng, dtype=F64)
    params, grads = actor.parameter_buffers()
    actor.params["log_std"][:] = rng.uniform(-1, 0.5, 3)
    obs, actions = rng.standard_normal((12, 4)), rng.uniform(-1, 1, (12, 3))
    weights = rng.uniform(0.1, 5.0, (12, 1))
    actor.zero_grad()
    reported = awr_loss(actor, obs, actions, weights)

    def loss():
        return _awr(actor, obs, actions, weights)

    assert reported == pytest.approx(loss())
    index = np.concatenate([np.arange(3), rng.choice(np.arange(3, params.size), 30, replace=False)])  # log_std first
    assert relative_error(grads[index], _numeric_gradient(loss, params, index)) < 1e-6


def test_log_std_is_clipped_and_gets_no_gradient_outside_the_bounds(rng):
    actor = GaussianActor(4, 3, (8,), rng, log_std_bounds=(-20.0, 2.0), dtype=F64)
    actor.params["log_std"][:] = [-25.0, 0.0, 3.0]
    np.testing.assert_array_equal(actor.log_std(), [-20.0, 0.0, 2.0])
    actor.zero_grad()
    awr_loss(actor, rng.standard_normal((6, 4)), rng.uniform(-1, 1, (6, 3)), np.ones((6, 1)))
    assert actor.grads["log_std"][0] == 0.0 and actor.grads["log_std"][2] == 0.0
    assert actor.grads["log_std"][1] != 0.0


def test_advantage_weights_are_exp_beta_advantage_clipped_at_100():
    q, v = np.array([[0.0], [1.0], [50.0], [1e4]], np.float32), np.zeros((4, 1), np.float32)
    with np.errstate(over="raise"):
        w = advantage_weights(q, v, temperature=3.0, max_weight=100.0)
    np.testing.assert_allclose(w[:, 0], [1.0, np.exp(3.0), 100.0, 100.0], rtol=1e-6)


def test_config_rejects_an_expectile_outside_zero_one():
    with pytest.raises(ValueError, match="expectile"):
        IQLConfig(expectile=1.0)


def test_policy_view_is_the_actor_gaussian(rng):
    agent = IQL(3, 2, rng, SMALL, dtype=F64)
    agent.actor.params["log_std"][:] = [-0.5, 0.3]
    policy = agent.policy()
    assert isinstance(policy, GaussianPolicy) and (policy.obs_dim, policy.act_dim) == (3, 2)
    states = rng.standard_normal((5, 3))
    mean, std = policy.mean_std(states)
    np.testing.assert_allclose(mean, agent.act(states))
    np.testing.assert_allclose(std, np.broadcast_to(np.exp([-0.5, 0.3]), (5, 2)))


def test_policy_grad_log_prob_matches_finite_differences(rng):
    agent = IQL(3, 2, rng, SMALL, dtype=F64)
    agent.actor.params["log_std"][:] = [-0.5, 0.3]
    policy, states, actions = agent.policy(), rng.standard_normal((4, 3)), rng.uniform(-1, 1, (4, 2))
    analytic = policy.grad_log_prob(states, actions)
    numeric = np.zeros_like(actions)
    for index in np.ndindex(actions.shape):
        up, down = actions.copy(), actions.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        numeric[index] = (policy.log_prob(states, up).sum() - policy.log_prob(states, down).sum()) / 2e-6
    assert relative_error(analytic, numeric) < 1e-6


def _batch(rng, n=32, dtype=np.float32):
    return {"observations": rng.standard_normal((n, 3)).astype(dtype),
            "actions": rng.uniform(-1, 1, (n, 2)).astype(dtype),
            "rewards": rng.standard_normal(n).astype(dtype),
            "next_observations": rng.standard_normal((n, 3)).astype(dtype),
            "terminations": rng.random(n) < 0.1}


def _flat(module):
    return module.parameter_buffers()[0].copy()


def test_update_trains_value_actor_and_q_and_soft_updates_targets(rng):
    agent = IQL(3, 2, rng, SMALL)
    before = {name: _flat(net) for name, net in
              [("value", agent.value), ("actor", agent.actor), ("q1", agent.critics[0]), ("q2", agent.critics[1])]}
    targets_before = [_flat(t) for t in agent.critic_targets]
    info = agent.update(_batch(rng), rng)
    assert list(info) == ["value_loss", "actor_loss", "critic_loss"]
    assert all(np.isfinite(v) for v in info.values())
    for name, net in [("value", agent.value), ("actor", agent.actor), ("q1", agent.critics[0]),
                      ("q2", agent.critics[1])]:
        assert not np.array_equal(_flat(net), before[name]), name
    for target, critic, old, old_critic in zip(agent.critic_targets, agent.critics, targets_before,
                                               [before["q1"], before["q2"]]):
        np.testing.assert_array_equal(old, old_critic)  # targets start as copies
        np.testing.assert_allclose(_flat(target), 0.995 * old + 0.005 * _flat(critic), rtol=1e-5, atol=1e-7)


def test_actor_learning_rate_follows_the_cosine_schedule(rng, monkeypatch):
    agent = IQL(3, 2, rng, IQLConfig(hidden=(8,), max_steps=4))
    rates = []
    monkeypatch.setattr(agent.actor_optimizer, "step", lambda lr=None: rates.append(lr))
    batch = _batch(rng)
    for _ in range(5):
        agent.update(batch, rng)
    np.testing.assert_allclose(rates, 3e-4 * np.array([1.0, 0.5 * (1 + np.cos(np.pi / 4)), 0.5,
                                                      0.5 * (1 + np.cos(3 * np.pi / 4)), 0.0]), atol=1e-12)


def test_equal_advantages_clone_the_dataset_action(rng):
    """β = 0 makes every weight 1: AWR is plain behavior cloning, the mean moves to the data's action."""
    agent = IQL(3, 2, rng, IQLConfig(hidden=(32, 32), temperature=0.0, actor_lr=3e-3))
    batch = _batch(rng, n=64)
    batch["actions"][:] = [0.5, -0.3]
    start = np.abs(agent.act(batch["observations"]) - batch["actions"]).mean()
    for _ in range(150):
        agent.update(batch, rng)
    end = np.abs(agent.act(batch["observations"]) - batch["actions"]).mean()
    assert end < 0.1 * start and end < 0.05


def test_actor_round_trip_keeps_the_state_normalization(tmp_path, rng):
    agent = IQL(3, 2, rng, SMALL)
    agent.actor.params["log_std"][:] = [-1.0, 0.5]
    agent.state_norm = StateNormalizer.fit(rng.standard_normal((50, 3)) * 4.0 + 2.0)
    agent.save_actor(tmp_path / "actor.npz", {"eval_return": 1.0})
    actor, state_norm, meta = load_actor(tmp_path / "actor.npz")
    obs = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(actor.forward(state_norm(obs)), agent.act(obs))
    np.testing.assert_array_equal(actor.log_std(), agent.actor.log_std())
    assert meta["eval_return"] == 1.0 and meta["kind"] == "IQLActor"
    mean, std = load_policy(tmp_path / "actor.npz").mean_std(obs)
    expected_mean, expected_std = agent.policy().mean_std(obs)
    np.testing.assert_array_equal(mean, expected_mean)
    np.testing.assert_array_equal(std, expected_std)


def test_loading_a_td3_actor_as_iql_says_what_it_holds(tmp_path, rng):
    TD3(3, 2, rng, TD3Config(hidden=(8,))).save_actor(tmp_path / "td3.npz")
    with pytest.raises(ValueError, match="'TD3Actor' file, not the IQL actor expected"):
        load_actor(tmp_path / "td3.npz")


def test_iql_policy_sees_normalized_states(rng):
    from minipgd.rl.state_norm import StateNormalizer

    agent = IQL(3, 2, rng, SMALL)
    obs = rng.standard_normal((5, 3)).astype(np.float32) * 10 + 4
    agent.state_norm = StateNormalizer.fit(obs)
    np.testing.assert_allclose(agent.policy().mean_std(obs)[0], agent.act(obs), rtol=1e-6)
    np.testing.assert_allclose(agent.act(obs), agent.actor.forward(agent.state_norm(obs)))
