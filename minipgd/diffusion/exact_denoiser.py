"""The exact denoiser of Gaussian data: D(x; σ) = E[x_0 | x_0 + σ ε = x] in closed form.

With it the sampler's own error can be measured with no trained network in the way:
the tests and tutorial 02 check that Algorithm 1 reproduces N(μ, Σ), and the
Eq. 13 toy (`minipgd.analysis.behavior_regularized`) compares guided samples with
the exact behavior-regularized target.
"""
import numpy as np


def gaussian_denoiser(mu, cov):
    """Exact D(x; σ) = μ + Σ (Σ + σ² I)⁻¹ (x − μ) for trajectories ~ N(μ, Σ) flattened over (C, H)."""
    mu, cov = np.asarray(mu, dtype=np.float64), np.asarray(cov, dtype=np.float64)

    def denoise(x, sigma):
        flat = x.reshape(len(x), -1)
        sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64).reshape(-1), (len(x),))
        out = np.empty_like(flat)
        for level in np.unique(sigma):
            rows = sigma == level
            gain = np.linalg.solve(cov + level**2 * np.eye(len(mu)), cov).T  # Σ (Σ + σ² I)⁻¹
            out[rows] = mu + (flat[rows] - mu) @ gain.T
        return out.reshape(x.shape)

    return denoise
