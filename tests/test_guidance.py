"""Policy guidance: Eq. 11 gradient, Alg. 1 l. 10–11, the Eq. 14 schedule, and their errors."""
import numpy as np
import pytest

from minipgd.diffusion import (
    DiffusionTrainConfig,
    PolicyGuidance,
    TrajectoryLayout,
    TrajectoryNormalizer,
    guidance_schedule,
    guided_heun_sample,
    score_guided_denoiser,
    train_diffusion,
)
from minipgd.diffusion.edm import karras_sigmas
from minipgd.diffusion.guidance import action_log_likelihood_gradient, unit_normalize
from minipgd.envs import PointWorld2D
from minipgd.experiments.toy2d import behavior_trajectories, target_policy
from minipgd.nn import UNetConfig
from minipgd.rl import DeterministicGaussianPolicy, GoalReachingPolicy
from minipgd.rl.policy import target_log_likelihood

LAYOUT = TrajectoryLayout(obs_dim=2, act_dim=2)


def normalizer(squash=True):
    mean = np.array([0.1, -0.2, 0.3, -0.1, 0.0, 0.0])
    std = np.array([0.5, 0.7, 0.9, 1.3, 1.0, 1.0])
    return TrajectoryNormalizer(LAYOUT, mean, std, squash_actions=squash)


def policy():
    return GoalReachingPolicy(goal=(0.4, -0.3), gain=2.0, std=0.3)


def total_log_likelihood(tau, norm, pol):
    raw = norm.decode(tau)
    return pol.log_prob(raw[:, LAYOUT.obs].transpose(0, 2, 1), raw[:, LAYOUT.act].transpose(0, 2, 1)).sum()


@pytest.mark.parametrize("squash", [True, False])
def test_closed_form_gradient_equals_finite_differences(rng, squash):
    norm, pol = normalizer(squash), policy()
    tau = rng.standard_normal((3, 6, 5))
    grad = action_log_likelihood_gradient(tau, pol, norm)
    numeric = np.zeros_like(tau)
    for index in np.ndindex(tau.shape):
        if LAYOUT.act.start <= index[1] < LAYOUT.act.stop:
            step = np.zeros_like(tau)
            step[index] = 1e-6
            numeric[index] = (total_log_likelihood(tau + step, norm, pol) - total_log_likelihood(tau - step, norm, pol)) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    assert np.all(grad[:, LAYOUT.obs] == 0) and np.all(grad[:, 4:] == 0)  # actions only (Eq. 11)


def test_normalized_guidance_has_unit_norm(rng):
    g = action_log_likelihood_gradient(rng.standard_normal((4, 6, 5)), policy(), normalizer())
    per_trajectory = unit_normalize(g, LAYOUT, "trajectory")
    np.testing.assert_allclose(np.linalg.norm(per_trajectory.reshape(4, -1), axis=1), 1.0)
    per_action = unit_normalize(g, LAYOUT, "transition")
    np.testing.assert_allclose(np.linalg.norm(per_action[:, LAYOUT.act], axis=1), 1.0)
    np.testing.assert_array_equal(unit_normalize(np.zeros_like(g), LAYOUT), 0.0)  # no division by zero


def test_guidance_step_moves_only_the_actions_by_lambda(rng):
    """Alg. 1 l. 10–11: τ̂ + λ g/||g||, g taken at the denoised estimate, only on the action channels."""
    tau_hat, denoised = rng.standard_normal((2, 3, 6, 5))
    guidance = PolicyGuidance(policy(), normalizer())
    moved = guidance.apply(tau_hat, denoised, 0.4)
    step = moved - tau_hat
    np.testing.assert_array_equal(step[:, LAYOUT.obs], 0.0)
    np.testing.assert_array_equal(step[:, 4:], 0.0)  # reward and done untouched
    np.testing.assert_allclose(np.linalg.norm(step.reshape(3, -1), axis=1), 0.4)
    g = action_log_likelihood_gradient(denoised, policy(), normalizer())
    cosine = np.sum(step * g, axis=(1, 2)) / (np.linalg.norm(step.reshape(3, -1), axis=1)
                                              * np.linalg.norm(g.reshape(3, -1), axis=1))
    np.testing.assert_allclose(cosine, 1.0)


def test_guidance_step_raises_the_target_likelihood(rng):
    """Alg. 1 l. 10–11 is ascent on Σ_t log π(a_t|s_t): every trajectory's likelihood grows with λ."""
    tau = rng.standard_normal((3, 6, 5))
    norm, pol = normalizer(), policy()
    guidance = PolicyGuidance(pol, norm)
    likelihoods = np.array([[total_log_likelihood(guidance.apply(tau, tau, lam)[[b]], norm, pol) for b in range(3)]
                            for lam in (0.0, 0.1, 0.3, 1.0)])
    assert np.all(np.diff(likelihoods, axis=0) > 0), likelihoods


def test_cosine_schedule_as_in_the_authors_code():
    sigmas = karras_sigmas(8)
    lambdas = guidance_schedule(2.0, sigmas)
    n = np.arange(8)
    expected = 2.0 * ((1 - n / 8) + 0.3 * np.sin(np.pi * (n + 1) / 8))
    np.testing.assert_allclose(lambdas[:-1], expected[:-1])
    assert lambdas[-1] == 0.0
    np.testing.assert_allclose(guidance_schedule(2.0, sigmas, schedule="sigma")[0], 2.0)
    np.testing.assert_array_equal(guidance_schedule(0.0, sigmas), 0.0)


def _gaussian_denoiser(x, sigma):
    return x / (1.0 + np.asarray(sigma).reshape(-1, 1, 1) ** 2)  # exact for data ~ N(0, I)


def test_lambda_zero_is_the_unguided_sampler_bit_for_bit():
    guidance = PolicyGuidance(policy(), normalizer(), scale=0.0)
    unguided = guided_heun_sample(_gaussian_denoiser, (3, 6, 5), np.random.default_rng(4), n_steps=12)
    zero = guided_heun_sample(_gaussian_denoiser, (3, 6, 5), np.random.default_rng(4), guidance=guidance, n_steps=12)
    np.testing.assert_array_equal(unguided, zero)
    some = PolicyGuidance(policy(), normalizer(), scale=0.5)
    guided = guided_heun_sample(_gaussian_denoiser, (3, 6, 5), np.random.default_rng(4), guidance=some, n_steps=12)
    assert not np.allclose(guided[:, LAYOUT.act], unguided[:, LAYOUT.act])


def test_behavior_guidance_with_the_target_itself_cancels():
    """Eq. 9 with π_off = π_target: the guidance term is zero, so nothing changes."""
    both = PolicyGuidance(policy(), normalizer(), scale=1.0, behavior_policy=policy())
    a = guided_heun_sample(_gaussian_denoiser, (3, 6, 5), np.random.default_rng(4), guidance=both, n_steps=12)
    b = guided_heun_sample(_gaussian_denoiser, (3, 6, 5), np.random.default_rng(4), n_steps=12)
    np.testing.assert_array_equal(a, b)


def test_score_guidance_with_zero_scale_is_the_denoiser(rng):
    x = rng.standard_normal((2, 6, 5))
    guided = score_guided_denoiser(_gaussian_denoiser, policy(), normalizer(), 0.0)
    np.testing.assert_array_equal(guided(x, 0.7), _gaussian_denoiser(x, 0.7))


def test_negative_lambda_is_rejected():
    with pytest.raises(ValueError, match="λ must be >= 0"):
        PolicyGuidance(policy(), normalizer(), scale=-1.0)
    with pytest.raises(ValueError, match="λ must be >= 0"):
        guidance_schedule(-0.1, karras_sigmas(4))
    with pytest.raises(ValueError, match="λ must be >= 0"):
        score_guided_denoiser(_gaussian_denoiser, policy(), normalizer(), -2.0)


def test_policy_with_other_dimensions_is_rejected():
    wrong = DeterministicGaussianPolicy(lambda s: s[:, :3], obs_dim=5, act_dim=3)
    with pytest.raises(ValueError, match="obs 5 / act 3"):
        PolicyGuidance(wrong, normalizer())


def test_non_finite_policy_output_is_rejected():
    broken = DeterministicGaussianPolicy(lambda s: np.full((len(s), 2), np.inf), obs_dim=2, act_dim=2)
    guidance = PolicyGuidance(broken, normalizer(), scale=1.0)
    with pytest.raises(ValueError, match="non-finite"):
        guided_heun_sample(_gaussian_denoiser, (2, 6, 5), np.random.default_rng(0), guidance=guidance, n_steps=4)


@pytest.fixture(scope="module")
def toy_model():
    world = PointWorld2D()
    data = behavior_trajectories(world, 512, np.random.default_rng(0))
    config = DiffusionTrainConfig(steps=400, batch_size=64, log_every=400, unet=UNetConfig(in_channels=6, features=16))
    return world, train_diffusion(data, LAYOUT, config, log=lambda line: None)


def test_trajectories_of_the_wrong_horizon_are_rejected(toy_model):
    _, model = toy_model
    with pytest.raises(ValueError, match="length 12, the model was built for horizon 16"):
        guided_heun_sample(model.denoiser, (2, 6, 12), np.random.default_rng(0), n_steps=4)


def test_target_likelihood_increases_with_lambda(toy_model):
    """End to end: a trained model sampled with guidance (not a grading test: it needs every assignment)."""
    world, model = toy_model
    target = target_policy(world)
    likelihoods = []
    for scale in (0.0, 0.3, 1.0):
        samples = model.sample(64, np.random.default_rng(1), policy=target, scale=scale, n_steps=24)
        likelihoods.append(target_log_likelihood(samples, target, LAYOUT))
    assert likelihoods[0] < likelihoods[1] < likelihoods[2], likelihoods
