"""TD3 / TD3+BC: every loss gradient against float64 finite differences, and the update mechanics."""
import numpy as np
import pytest

from minipgd.nn.gradcheck import central_difference, check_gradients, relative_error
from minipgd.nn.mlp import MLP
from minipgd.recipes.behavior import POLICY_DIR
from minipgd.rl.replay import ReplayBuffer
from minipgd.rl.state_norm import StateNormalizer
from minipgd.rl.td3 import TD3, TD3Config, actor_loss, critic_loss, load_actor, soft_update

F64 = np.float64


def test_mlp_gradients(rng):
    for squash in (False, True):
        errors = check_gradients(MLP((5, 7, 7, 3), rng, squash=squash, dtype=F64), [rng.standard_normal((4, 5))], rng)
        assert max(errors.values()) < 1e-6, errors


def _numeric_gradient(loss, params, indices):
    return np.array([central_difference(loss, params, i) for i in indices])


def test_critic_loss_gradient(rng):
    critic = MLP((6, 8, 1), rng, dtype=F64)
    inputs, target = rng.standard_normal((10, 6)), rng.standard_normal((10, 1))
    params, grads = critic.parameter_buffers()
    critic.zero_grad()
    critic_loss(critic, inputs, target)
    index = rng.choice(params.size, 30, replace=False)
    numeric = _numeric_gradient(lambda: float(np.mean((critic.forward(inputs) - target) ** 2)), params, index)
    assert relative_error(grads[index], numeric) < 1e-6


@pytest.mark.parametrize("alpha", [None, 2.5])
def test_actor_loss_gradient(rng, alpha):
    """Through the critic into the actor; λ = α / mean|Q| is held constant, as in TD3+BC."""
    actor, critic = MLP((4, 8, 2), rng, squash=True, dtype=F64), MLP((6, 8, 1), rng, dtype=F64)
    obs, actions = rng.standard_normal((10, 4)), rng.uniform(-1, 1, (10, 2))
    q0 = critic.forward(np.concatenate([obs, actor.forward(obs)], axis=1))
    weight = 1.0 if alpha is None else alpha / np.mean(np.abs(q0))

    def loss():
        pi = actor.forward(obs)
        value = -weight * np.mean(critic.forward(np.concatenate([obs, pi], axis=1)))
        return value + (0.0 if alpha is None else np.mean((pi - actions) ** 2))

    params, grads = actor.parameter_buffers()
    actor.zero_grad()
    reported = actor_loss(actor, critic, obs, actions, alpha)
    assert reported == pytest.approx(loss())
    index = rng.choice(params.size, 30, replace=False)
    assert relative_error(grads[index], _numeric_gradient(loss, params, index)) < 1e-6


def test_soft_update_moves_targets_by_the_polyak_rate(rng):
    target, source = MLP((3, 4, 1), rng), MLP((3, 4, 1), rng)
    before = target.parameter_buffers()[0].copy()
    soft_update(target, source, 0.1)
    np.testing.assert_allclose(target.parameter_buffers()[0], 0.9 * before + 0.1 * source.parameter_buffers()[0],
                               rtol=1e-6)


def _batch(rng, n=64, dtype=np.float32):
    return {"observations": rng.standard_normal((n, 3)).astype(dtype),
            "actions": rng.uniform(-1, 1, (n, 2)).astype(dtype),
            "rewards": rng.standard_normal(n).astype(dtype),
            "next_observations": rng.standard_normal((n, 3)).astype(dtype),
            "terminations": rng.random(n) < 0.1}


def test_target_is_td3_eq_15_in_the_agents_dtype(rng):
    """y = r + γ (1 − d) min_i Q'_i(s', clip(π'(s') + clip(ε, ±c), ±1)), in float64 for a float64 agent."""
    state_norm = StateNormalizer.fit(rng.standard_normal((50, 3)) * 3.0 + 1.0)
    agent = TD3(3, 2, rng, TD3Config(hidden=(16, 16)), dtype=F64, state_norm=state_norm)
    batch = _batch(rng, dtype=F64)
    target = agent._target_q(batch, np.random.default_rng(3))
    noise = np.clip(0.2 * np.random.default_rng(3).standard_normal((64, 2)), -0.5, 0.5)
    next_obs = (batch["next_observations"] - state_norm.shift) * state_norm.scale
    next_action = np.clip(agent.actor_target.forward(next_obs) + noise, -1.0, 1.0)
    next_q = np.minimum(*(q.forward(np.concatenate([next_obs, next_action], axis=1)) for q in agent.critic_targets))
    not_done = 1.0 - batch["terminations"][:, None]
    assert target.dtype == F64
    np.testing.assert_allclose(target, batch["rewards"][:, None] + 0.99 * not_done * next_q, rtol=1e-12)


def test_actor_and_targets_update_every_second_step(rng):
    agent = TD3(3, 2, rng, TD3Config(hidden=(16, 16), batch_size=64))
    actor_before = agent.actor.parameter_buffers()[0].copy()
    target_before = agent.actor_target.parameter_buffers()[0].copy()
    assert "actor_loss" not in agent.update(_batch(rng), rng)
    np.testing.assert_array_equal(agent.actor.parameter_buffers()[0], actor_before)
    assert "actor_loss" in agent.update(_batch(rng), rng)
    assert not np.array_equal(agent.actor.parameter_buffers()[0], actor_before)
    assert not np.array_equal(agent.actor_target.parameter_buffers()[0], target_before)


def test_td3_bc_pulls_the_actor_towards_dataset_actions(rng):
    agent = TD3(3, 2, rng, TD3Config(hidden=(32, 32), batch_size=64, alpha=0.0, actor_lr=3e-3))
    batch = _batch(rng)
    batch["actions"][:] = 0.5
    for _ in range(300):
        agent.update(batch, rng)
    np.testing.assert_allclose(agent.act(batch["observations"]), 0.5, atol=0.05)


def test_actor_round_trip(tmp_path, rng):
    agent = TD3(3, 2, rng, TD3Config(hidden=(16, 16)))
    agent.save_actor(tmp_path / "actor.npz", {"eval_return": 1.0})
    actor, state_norm, meta = load_actor(tmp_path / "actor.npz")
    obs = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(actor.forward(state_norm(obs)), agent.act(obs))
    assert meta["eval_return"] == 1.0 and meta["kind"] == "TD3Actor"


def test_committed_behavior_policies_load_with_the_identity_normalization():
    """They were written before actor files held a state normalization; online TD3 acts on raw states."""
    saved = load_actor(POLICY_DIR / "halfcheetah-medium.npz")
    np.testing.assert_array_equal(saved.state_norm.shift, np.zeros(17))
    np.testing.assert_array_equal(saved.state_norm.scale, np.ones(17))
    obs = np.random.default_rng(0).standard_normal((4, 17))
    np.testing.assert_array_equal(saved.act(obs), saved.actor.forward(obs.astype(np.float32)))


def test_replay_buffer_wraps_and_keeps_order(rng):
    buffer = ReplayBuffer(obs_dim=1, act_dim=1, capacity=3)
    for i in range(5):
        buffer.add([i], [0.0], float(i), [i + 1], False, i == 4)
    contents = buffer.contents()
    np.testing.assert_array_equal(contents["rewards"], [2.0, 3.0, 4.0])
    assert contents["truncations"].tolist() == [False, False, True]
    assert buffer.sample(rng, 8)["observations"].shape == (8, 1)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(1, 1, 2).sample(rng, 1)


def test_state_normalization_is_applied_everywhere(rng):
    agent = TD3(3, 2, rng, TD3Config(hidden=(16, 16)))
    obs = rng.standard_normal((5, 3)).astype(np.float32) * 10 + 4
    raw_action = agent.act(obs)
    agent.state_norm = StateNormalizer.fit(obs)
    normalized = agent.state_norm(obs)
    np.testing.assert_allclose(normalized.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(agent.act(obs), agent.actor.forward(normalized))
    assert not np.allclose(agent.act(obs), raw_action)
    np.testing.assert_allclose(agent.policy().mean_std(obs)[0], agent.actor.forward(normalized), rtol=1e-6)
