"""The agent contract of `minipgd/rl/agent.py`: the same checks for TD3+BC and IQL."""
import importlib

import numpy as np
import pytest

from minipgd.nn.checkpoint import save_checkpoint
from minipgd.nn.mlp import MLP
from minipgd.rl import iql, td3
from minipgd.rl.policy import GaussianPolicy
from minipgd.rl.state_norm import StateNormalizer

OBS_DIM, ACT_DIM = 3, 2
NORM = StateNormalizer.fit(np.random.default_rng(1).standard_normal((100, OBS_DIM)) * 3.0 + 2.0)  # not the identity


def td3bc(rng, **kwargs):
    return td3.TD3(OBS_DIM, ACT_DIM, rng, td3.TD3Config(hidden=(16, 16), batch_size=32, alpha=2.5), **kwargs)


def iql_agent(rng, **kwargs):
    return iql.IQL(OBS_DIM, ACT_DIM, rng, iql.IQLConfig(hidden=(16, 16), batch_size=32, max_steps=100), **kwargs)


AGENTS = pytest.mark.parametrize("make", [td3bc, iql_agent], ids=["td3bc", "iql"])


def module_of(agent):
    """The agent's module, where `load_actor` and `load_policy` live."""
    return importlib.import_module(type(agent).__module__)


def batch(rng, dtype=np.float32, n=32):
    return {"observations": (rng.standard_normal((n, OBS_DIM)) * 3.0 + 2.0).astype(dtype),
            "actions": rng.uniform(-1, 1, (n, ACT_DIM)).astype(dtype),
            "rewards": rng.standard_normal(n).astype(dtype),
            "next_observations": (rng.standard_normal((n, OBS_DIM)) * 3.0 + 2.0).astype(dtype),
            "terminations": rng.random(n) < 0.1}


def observations(rng, n=6):
    return rng.standard_normal((n, OBS_DIM)) * 3.0 + 2.0


def parts(state):
    """{part name: its arrays concatenated}: `actor`, `critics.0`, `actor_optimizer`, ... of a state dict."""
    names = sorted({key.split("/")[0] for key in state if "/" in key})
    return {name: np.concatenate([np.ravel(v) for k, v in sorted(state.items()) if k.startswith(f"{name}/")])
            for name in names}


@AGENTS
def test_update_returns_finite_losses_and_trains_every_network(make, rng):
    agent = make(rng, state_norm=NORM)
    before = parts(agent.state_dict())
    infos = [agent.update(batch(rng), rng) for _ in range(2)]  # TD3's actor and targets move every 2nd update
    after = parts(agent.state_dict())
    assert all(info and all(isinstance(v, float) and np.isfinite(v) for v in info.values()) for info in infos)
    assert agent.updates == 2
    np.testing.assert_array_equal(after.pop("state_norm"), before.pop("state_norm"))
    assert sorted(after) == sorted(before)
    for name in before:
        assert not np.array_equal(after[name], before[name]), name


@AGENTS
def test_act_is_deterministic_and_in_the_action_box(make, rng):
    agent = make(rng, state_norm=NORM)
    obs = np.concatenate([observations(rng), 1e3 * observations(rng)])  # large states saturate the tanh
    action = agent.act(obs)
    assert action.shape == (len(obs), ACT_DIM) and action.dtype == np.float32
    assert np.all(np.abs(action) <= 1.0)
    np.testing.assert_array_equal(agent.act(obs), action)


@AGENTS
def test_policy_is_a_gaussian_whose_mean_is_act_and_follows_updates(make, rng):
    agent = make(rng, state_norm=NORM)
    policy, obs = agent.policy(), observations(rng)
    assert isinstance(policy, GaussianPolicy) and (policy.obs_dim, policy.act_dim) == (OBS_DIM, ACT_DIM)
    for _ in range(2):
        mean, std = policy.mean_std(obs)
        np.testing.assert_array_equal(mean, agent.act(obs))
        assert np.all(std > 0)
        agent.update(batch(rng), rng)


@AGENTS
def test_actor_file_round_trip_keeps_the_state_normalization(make, rng, tmp_path):
    agent = make(rng, state_norm=NORM)
    for _ in range(2):
        agent.update(batch(rng), rng)
    agent.save_actor(tmp_path / "actor.npz", {"eval_return": 1.0})
    module, obs = module_of(agent), observations(rng)
    saved = module.load_actor(tmp_path / "actor.npz")
    actor, state_norm, meta = saved  # the same shape for every agent
    np.testing.assert_array_equal(saved.act(obs), agent.act(obs))
    np.testing.assert_array_equal(actor.forward(state_norm(obs)), agent.act(obs))
    np.testing.assert_array_equal(state_norm.shift, NORM.shift)
    np.testing.assert_array_equal(state_norm.scale, NORM.scale)
    assert meta["kind"] == agent.ACTOR_KIND and meta["eval_return"] == 1.0
    for loaded, live in zip(module.load_policy(tmp_path / "actor.npz").mean_std(obs), agent.policy().mean_std(obs)):
        np.testing.assert_array_equal(loaded, live)


@AGENTS
def test_state_dict_round_trip_continues_identically(make, rng):
    trained = make(np.random.default_rng(1), state_norm=NORM)
    for _ in range(3):
        trained.update(batch(rng), rng)
    fresh = make(np.random.default_rng(99))  # other weights, identity normalization
    fresh.load_state_dict(trained.state_dict())
    assert fresh.updates == 3
    np.testing.assert_array_equal(fresh.state_norm.shift, NORM.shift)
    np.testing.assert_array_equal(fresh.state_norm.scale, NORM.scale)
    next_batch = batch(rng)
    for agent in (trained, fresh):
        agent.update(next_batch, np.random.default_rng(7))  # the same draws (TD3's target noise) for both
    expected, restored = trained.state_dict(), fresh.state_dict()
    assert sorted(restored) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(restored[name], value, err_msg=name)


@AGENTS
def test_a_state_without_normalization_is_refused(make, rng):
    agent = make(rng)
    state = {name: value for name, value in agent.state_dict().items() if not name.startswith("state_norm/")}
    with pytest.raises(ValueError, match="state normalization"):
        make(rng).load_state_dict(state)


@AGENTS
def test_float64_end_to_end(make, rng, tmp_path, monkeypatch):
    seen = set()
    forward = MLP.forward
    monkeypatch.setattr(MLP, "forward", lambda self, x: seen.add(x.dtype) or forward(self, x))
    agent = make(rng, dtype=np.float64, state_norm=NORM)
    for _ in range(2):
        assert all(np.isfinite(v) for v in agent.update(batch(rng, np.float64), rng).values())
    obs = observations(rng)
    assert agent.act(obs).dtype == np.float64
    assert seen == {np.dtype(np.float64)}  # every network saw float64 inputs, in training and acting
    assert {v.dtype for k, v in agent.state_dict().items() if k != "updates" and not k.endswith("/t")} == {
        np.dtype(np.float64)}
    agent.save_actor(tmp_path / "actor.npz")
    saved = module_of(agent).load_actor(tmp_path / "actor.npz")
    assert saved.act(obs).dtype == np.float64
    np.testing.assert_array_equal(saved.act(obs), agent.act(obs))


@AGENTS
def test_a_file_of_another_kind_is_refused_clearly(make, rng, tmp_path):
    agent, other = make(rng), (iql_agent if make is td3bc else td3bc)(rng)
    other.save_actor(tmp_path / "other.npz")
    save_checkpoint(tmp_path / "run.npz", {"x": np.zeros(1)}, {"kind": "Algorithm2Run"})
    module = module_of(agent)
    for name, kind in [("other.npz", other.ACTOR_KIND), ("run.npz", "Algorithm2Run")]:
        for load in (module.load_actor, module.load_policy):
            with pytest.raises(ValueError, match=f"holds a '{kind}' file, not the .* actor expected"):
                load(tmp_path / name)

