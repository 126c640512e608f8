"""EDM's stochastic Heun sampler with optional policy guidance: Algorithm 1, line by line.

`denoise(x, sigma)` is any callable returning the denoised estimate D(x; σ) of a
(B, C, H) array, so the sampler can be tested with an exact Gaussian denoiser.
With `guidance=None`, or guidance whose λ is 0, this is exactly the unguided
EDM sampler (Karras et al., 2022, Alg. 2), drawing the same random numbers.
"""
import numpy as np

from . import edm


def guided_heun_sample(
    denoise,
    shape,
    rng,
    guidance=None,
    n_steps=edm.SAMPLER_STEPS,
    sigma_min=edm.SIGMA_MIN,
    sigma_max=edm.SIGMA_MAX,
    rho=edm.RHO,
    s_churn=edm.S_CHURN,
    s_tmin=edm.S_TMIN,
    s_tmax=edm.S_TMAX,
    s_noise=edm.S_NOISE,
):
    """Sample trajectories of `shape` (B, C, H); returns τ_N."""
    sigmas = edm.karras_sigmas(n_steps, sigma_min, sigma_max, rho)  # σ_0 .. σ_N = 0
    gammas = edm.churn_factors(sigmas, s_churn, s_tmin, s_tmax)  # γ_n (l. 1)
    lambdas = guidance.lambdas(sigmas) if guidance is not None else np.zeros(n_steps)  # λ_n (l. 1)
    tau = sigmas[0] * rng.standard_normal(shape)  # l. 3
    for n in range(n_steps):  # l. 4
        eps = s_noise * rng.standard_normal(shape)  # l. 5
        sigma_hat = sigmas[n] * (1.0 + gammas[n])  # l. 6
        tau_hat = tau + np.sqrt(sigma_hat**2 - sigmas[n] ** 2) * eps  # l. 7
        denoised = denoise(tau_hat, sigma_hat)  # l. 8
        d = (tau_hat - denoised) / sigma_hat  # l. 9
        if lambdas[n] > 0:
            tau_hat = guidance.apply(tau_hat, denoised, lambdas[n])  # l. 10–11
        # BEGIN ASSIGNMENT heun-step
        tau_next = tau_hat + (sigmas[n + 1] - sigma_hat) * d  # l. 12
        if sigmas[n + 1] != 0:  # l. 13
            d_prime = (tau_next - denoise(tau_next, sigmas[n + 1])) / sigmas[n + 1]  # l. 14
            tau_next = tau_hat + (sigmas[n + 1] - sigma_hat) * (0.5 * d + 0.5 * d_prime)  # l. 15
        # END ASSIGNMENT
        tau = tau_next
    return tau  # l. 18
