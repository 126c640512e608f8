"""Eq. 13 on the Gaussian toy: the analytic F(τ|π; λ) and exact (Eq. 12) guided sampling."""
import numpy as np
import pytest

from minipgd.analysis.behavior_regularized import LinearGaussianPolicy, behavior_regularized_target
from minipgd.analysis.stats import gaussian_kl
from minipgd.diffusion.exact_denoiser import gaussian_denoiser
from minipgd.diffusion import TrajectoryLayout, TrajectoryNormalizer, guided_heun_sample, score_guided_denoiser

LAYOUT = TrajectoryLayout(obs_dim=1, act_dim=1)
MU = np.array([0.0, 0.5, 0.0, 0.0])
COV = np.array([[1.0, 0.6, 0, 0], [0.6, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
IDENTITY = TrajectoryNormalizer(LAYOUT, np.zeros(4), np.ones(4), squash_actions=False)


def test_lambda_zero_is_the_behavior_distribution():
    mean, cov = behavior_regularized_target(MU, COV, LinearGaussianPolicy([[0.8]], -1.0, 0.5), LAYOUT, 1, 0.0)
    np.testing.assert_allclose(mean, MU)
    np.testing.assert_allclose(cov, COV)


@pytest.mark.parametrize("gain", [0.0, 0.8])
def test_analytic_target_matches_importance_weighting(rng, gain):
    """Reweighting samples of p_off by q^λ gives the same mean and covariance as the formula."""
    policy, scale = LinearGaussianPolicy([[gain]], -1.0, 0.5), 1.5
    x = rng.multivariate_normal(MU, COV, size=400_000)
    log_w = scale * policy.log_prob(x[:, :1], x[:, 1:2])
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    mean, cov = behavior_regularized_target(MU, COV, policy, LAYOUT, 1, scale)
    np.testing.assert_allclose(w @ x, mean, atol=0.02)
    np.testing.assert_allclose((x - mean).T @ ((x - mean) * w[:, None]), cov, atol=0.02)


def test_exact_guidance_moves_actions_towards_the_target_and_stays_finite():
    policy = LinearGaussianPolicy([[0.0]], -1.0, 0.5)
    results = []
    for scale in (0.0, 1.0, 4.0):
        den = score_guided_denoiser(gaussian_denoiser(MU, COV), policy, IDENTITY, scale)
        x = guided_heun_sample(den, (4000, 4, 1), np.random.default_rng(0), n_steps=32).reshape(-1, 4)
        assert np.all(np.isfinite(x))
        results.append(x[:, 1].mean())
    analytic = [behavior_regularized_target(MU, COV, policy, LAYOUT, 1, s)[0][1] for s in (0.0, 1.0, 4.0)]
    assert results[0] > results[1] > results[2] and analytic[0] > analytic[1] > analytic[2]
    assert abs(results[0] - analytic[0]) < 0.05  # λ = 0: the exact sampler reproduces p_off


def test_literal_eq12_diverges_at_large_sigma():
    """Why the noise-aware form is the default: without it the Heun steps at σ ≈ 80 blow up."""
    policy = LinearGaussianPolicy([[0.0]], -1.0, 0.5)
    den = score_guided_denoiser(gaussian_denoiser(MU, COV), policy, IDENTITY, 1.0, noise_aware=False)
    with np.errstate(all="ignore"):
        x = guided_heun_sample(den, (100, 4, 1), np.random.default_rng(0), n_steps=32)
    assert not np.all(np.abs(x) < 1e6)


def test_kl_of_identical_gaussians_is_zero():
    assert gaussian_kl(MU, COV, MU, COV) == pytest.approx(0.0, abs=1e-12)
    assert gaussian_kl(MU, COV, MU + 1, COV) == pytest.approx(0.5 * np.ones(4) @ np.linalg.inv(COV) @ np.ones(4))
