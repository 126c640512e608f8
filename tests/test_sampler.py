"""The Heun sampler against an exact Gaussian denoiser: samples must follow N(μ, Σ)."""
import numpy as np
import pytest

from minipgd.diffusion.exact_denoiser import gaussian_denoiser
from minipgd.diffusion.sampler import guided_heun_sample


def gaussian_problem(rng, dim=4):
    a = rng.standard_normal((dim, dim))
    cov = a @ a.T / dim + 0.3 * np.eye(dim)
    return rng.standard_normal(dim), cov


@pytest.mark.parametrize("s_churn", [0.0, 80.0])
def test_samples_match_the_gaussian(rng, s_churn):
    mu, cov = gaussian_problem(rng)
    shape = (4000, 2, 2)
    x = guided_heun_sample(gaussian_denoiser(mu, cov), shape, rng, n_steps=64, s_churn=s_churn)
    flat = x.reshape(len(x), -1)
    standard_error = np.sqrt(np.diag(cov) / len(x))
    np.testing.assert_array_less(np.abs(flat.mean(0) - mu), 4 * standard_error)
    # covariance entries: sampling error of order sqrt(2/n) * scale
    np.testing.assert_allclose(np.cov(flat.T), cov, atol=4 * np.sqrt(2 / len(x)) * np.abs(cov).max())


def test_same_seed_same_samples():
    mu, cov = gaussian_problem(np.random.default_rng(0))
    den = gaussian_denoiser(mu, cov)
    a = guided_heun_sample(den, (5, 2, 2), np.random.default_rng(3), n_steps=8)
    b = guided_heun_sample(den, (5, 2, 2), np.random.default_rng(3), n_steps=8)
    np.testing.assert_array_equal(a, b)


def test_denoiser_is_never_called_at_sigma_zero():
    seen = []

    def denoise(x, sigma):
        seen.append(sigma)
        return np.zeros_like(x)

    guided_heun_sample(denoise, (2, 2, 2), np.random.default_rng(0), n_steps=5)
    assert min(seen) > 0 and len(seen) == 2 * 5 - 1  # Heun on every step but the last
