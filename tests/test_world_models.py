"""The PETS world model: gradients against float64 finite differences, training, rollouts, dynamics error."""
import numpy as np
import pytest

from minipgd.analysis.dynamics_error import dynamics_error
from minipgd.diffusion import TrajectoryLayout
from minipgd.envs.registry import make_env
from minipgd.envs.toy2d import PointWorld2D
from minipgd.experiments.toy2d import LAYOUT, one_step_error, target_policy
from minipgd.nn.gradcheck import central_difference, relative_error
from minipgd.world_models import EnsembleConfig, PETSEnsemble, ProbabilisticMLP, gaussian_nll, train_ensemble
from minipgd.world_models import truncated_rollouts

F64 = np.float64


def test_gaussian_nll_gradients(rng):
    mean, log_var, target = rng.standard_normal((3, 6, 4))
    _, d_mean, d_log_var = gaussian_nll(mean, log_var, target)
    for array, analytic in ((mean, d_mean), (log_var, d_log_var)):
        numeric = [central_difference(lambda: gaussian_nll(mean, log_var, target)[0], array, i)
                   for i in range(array.size)]
        assert relative_error(analytic.ravel(), np.array(numeric)) < 1e-8


def test_nll_is_minimal_at_the_true_variance(rng):
    target = 0.5 * rng.standard_normal((20_000, 1))
    losses = [gaussian_nll(np.zeros_like(target), np.full_like(target, np.log(v)), target)[0]
              for v in (0.15, 0.25, 0.35)]
    assert losses[1] < min(losses[0], losses[2])


def _member_with_active_bounds(rng):
    """Bounds close together, so that both soft limits bend the log-variance (not only the linear middle)."""
    member = ProbabilisticMLP(5, 3, (8, 8), rng, log_var_bounds=(-0.5, 0.5), dtype=F64)
    member.params["max_log_var"][:] = rng.uniform(0.2, 0.8, 3)
    member.params["min_log_var"][:] = rng.uniform(-0.8, -0.2, 3)
    return member


def test_probabilistic_mlp_gradients_through_the_soft_bounds(rng):
    member = _member_with_active_bounds(rng)
    x = 2.0 * rng.standard_normal((7, 5))
    r_mean, r_var = rng.standard_normal((2, 7, 3))

    def loss():
        mean, log_var = member.forward(x)
        return float(np.sum(mean * r_mean) + np.sum(log_var * r_var))

    member.zero_grad()
    member.forward(x)
    dx = member.backward(r_mean, r_var)
    checks = [("input", x, dx)] + [(name, p, g.copy()) for name, p, g in member.named_parameters()]
    for name, array, analytic in checks:
        index = rng.choice(array.size, min(array.size, 20), replace=False)
        numeric = np.array([central_difference(loss, array, i) for i in index])
        assert relative_error(analytic.ravel()[index], numeric) < 1e-6, name


def test_training_loss_gradient_includes_the_bound_penalty(rng):
    member = _member_with_active_bounds(rng)
    x, y = rng.standard_normal((9, 5)), rng.standard_normal((9, 3))
    member.zero_grad()
    member.loss_and_backward(x, y)
    params, grads = member.parameter_buffers()
    index = rng.choice(params.size, 40, replace=False)
    numeric = [central_difference(lambda: member.loss_and_backward(x, y), params, i) for i in index]
    member.zero_grad()
    member.loss_and_backward(x, y)
    assert relative_error(grads[index], np.array(numeric)) < 1e-6


def test_log_variance_stays_inside_its_bounds(rng):
    member = ProbabilisticMLP(4, 2, (16,), rng, log_var_bounds=(-3.0, 0.5), dtype=F64)
    member.net.layers[-1].params["weight"] *= 1e3  # extreme raw outputs
    _, log_var = member.forward(10.0 * rng.standard_normal((100, 4)))
    # min + softplus(v) exceeds v by softplus(−v): the upper limit is soft by log(1 + e^−(max − min))
    assert np.all(log_var <= 0.5 + np.log1p(np.exp(-3.5))) and np.all(log_var >= -3.0)
    assert np.max(log_var) > 0.5 and np.min(log_var) == pytest.approx(-3.0)  # both limits were reached


def _linear_system(rng, n=2_000):
    """s' = s + 0.1 a + noise 0.01, r = s_0: a world a small ensemble can learn."""
    obs, actions = rng.standard_normal((n, 2)), rng.uniform(-1, 1, (n, 2))
    next_obs = obs + 0.1 * actions + 0.01 * rng.standard_normal((n, 2))
    return {"observations": obs, "actions": actions, "rewards": obs[:, 0].copy(), "next_observations": next_obs}


SMALL = EnsembleConfig(members=4, elites=3, hidden=(32, 32), steps=600, batch_size=64, eval_every=200)


def test_ensemble_learns_a_linear_world_and_keeps_the_best_members(rng):
    data = _linear_system(rng)
    lines = []
    model = train_ensemble(data, SMALL, log=lines.append)
    assert len(model.elites) == 3 and len(model.members) == 4
    mean, log_var = model.predict(data["observations"][:200], data["actions"][:200])
    assert mean.shape == log_var.shape == (3, 200, 3)
    target = np.concatenate([data["next_observations"][:200] - data["observations"][:200],
                             data["rewards"][:200, None]], axis=1)
    untrained = np.mean(target**2)
    assert np.mean((mean - target) ** 2) < 0.05 * untrained
    assert "elites" in lines[-1]


def test_ensemble_is_reproducible_and_round_trips(tmp_path, rng):
    data = _linear_system(rng, 600)
    config = EnsembleConfig(members=3, elites=2, hidden=(8,), steps=50, batch_size=32, eval_every=25, seed=4)
    first, second = train_ensemble(data, config, log=lambda _: None), train_ensemble(data, config, log=lambda _: None)
    first.save(tmp_path / "pets.npz")
    loaded = PETSEnsemble.load(tmp_path / "pets.npz")
    for model in (second, loaded):
        np.testing.assert_array_equal(model.predict(data["observations"], data["actions"])[0],
                                      first.predict(data["observations"], data["actions"])[0])
        assert model.elites == first.elites
    a = first.step(data["observations"], data["actions"], np.random.default_rng(1))
    b = loaded.step(data["observations"], data["actions"], np.random.default_rng(1))
    np.testing.assert_array_equal(a[0], b[0])


def test_ensemble_rejects_bad_settings_and_inputs(rng):
    with pytest.raises(ValueError, match="elites"):
        EnsembleConfig(members=3, elites=5)
    with pytest.raises(ValueError, match="at least 128 transitions"):
        train_ensemble(_linear_system(rng, 100), EnsembleConfig(batch_size=64))
    model = train_ensemble(_linear_system(rng, 300), EnsembleConfig(members=2, elites=1, hidden=(4,), steps=2,
                                                                    batch_size=16), log=lambda _: None)
    with pytest.raises(ValueError, match=r"actions \(N, 2\)"):
        model.predict(np.zeros((3, 2)), np.zeros((3, 5)))


class ExactToyModel:
    """The 2-D world's true transition, in the world-model interface."""

    def __init__(self, world):
        self.world = world

    def step(self, obs, actions, rng):
        return self.world.step(obs, actions)


def test_truncated_rollouts_with_the_true_model_are_consistent(rng):
    world = PointWorld2D()
    starts = rng.standard_normal((50, 2))
    raw = truncated_rollouts(ExactToyModel(world), target_policy(world), starts, 5, rng, LAYOUT)
    assert raw.shape == (50, LAYOUT.channels, 5)
    np.testing.assert_array_equal(raw[:, LAYOUT.obs, 0], starts)
    assert one_step_error(world, raw) < 1e-12
    assert np.all(np.abs(raw[:, LAYOUT.act]) <= 1.0)
    with pytest.raises(ValueError, match="rollout length"):
        truncated_rollouts(ExactToyModel(world), target_policy(world), starts, 0, rng, LAYOUT)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        truncated_rollouts(ExactToyModel(world), target_policy(world), starts[:, :1], 3, rng, LAYOUT)


def _halfcheetah_episode(rng, steps):
    env = make_env("HalfCheetah-v5")
    obs, actions = [env.reset(seed=0)[0]], rng.uniform(-1, 1, (steps, 6))
    for a in actions:
        obs.append(env.step(a)[0])
    layout = TrajectoryLayout(17, 6)
    rewards = np.zeros((1, steps + 1))
    raw = layout.stack(np.array(obs)[None], np.concatenate([actions, actions[:1]])[None], rewards, rewards)
    return raw, layout


def test_dynamics_error_is_zero_for_a_real_episode_and_grows_with_a_wrong_state(rng):
    raw, layout = _halfcheetah_episode(rng, 15)
    env = make_env("HalfCheetah-v5")
    error = dynamics_error(env, raw, layout)
    assert error.shape == (1, 16) and np.max(error) < 1e-18
    wrong = raw.copy()
    wrong[:, layout.obs, 5] += 0.1
    error = dynamics_error(env, wrong, layout)[0]
    np.testing.assert_allclose(error[5], 0.01, rtol=1e-6)
    assert np.max(np.delete(error, 5)) < 1e-18
    with pytest.raises(ValueError, match=r"\(n, 25, H\)"):
        dynamics_error(env, raw[:, :20], layout)
