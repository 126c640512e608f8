"""EDM (Karras et al., 2022): noise schedule, preconditioning and training noise levels.

The paper samples with EDM and Table 4's settings (Appendix A.2); training uses
EDM's log-normal noise levels and loss weighting, as the authors' code does.
"""
import numpy as np

# Table 4
SAMPLER_STEPS = 256  # N
S_CHURN = 80.0
S_NOISE = 1.003
S_TMAX = 50.0
S_TMIN = 0.05
SIGMA_MAX = 80.0
SIGMA_MIN = 0.002
RHO = 7.0  # Karras et al. (2022), Eq. 5
# Training (Karras et al., Table 1; data is standardized, so sigma_data = 1)
SIGMA_DATA = 1.0
P_MEAN = -1.2
P_STD = 1.2


def karras_sigmas(n_steps=SAMPLER_STEPS, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX, rho=RHO):
    """σ_0 = σ_max > ... > σ_{N-1} = σ_min, with σ_N = 0 appended: (N + 1,) (Karras et al., Eq. 5)."""
    if n_steps < 1:
        raise ValueError(f"the sampler needs at least one step, got n_steps={n_steps}")
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    if n_steps == 1:
        return np.array([sigma_max, 0.0])
    ramp = np.linspace(0.0, 1.0, n_steps)
    inv_rho_min, inv_rho_max = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (inv_rho_max + ramp * (inv_rho_min - inv_rho_max)) ** rho
    return np.append(sigmas, 0.0)


def churn_factors(sigmas, s_churn=S_CHURN, s_tmin=S_TMIN, s_tmax=S_TMAX):
    """γ_n = min(S_churn / N, √2 − 1) where S_tmin ≤ σ_n ≤ S_tmax, else 0 (Alg. 1, l. 1)."""
    n_steps = len(sigmas) - 1
    gamma = min(s_churn / n_steps, np.sqrt(2.0) - 1.0)
    sigmas = sigmas[:-1]
    return np.where((sigmas >= s_tmin) & (sigmas <= s_tmax), gamma, 0.0)


def preconditioning(sigma, sigma_data=SIGMA_DATA):
    """c_skip, c_out, c_in, c_noise of D(x; σ) = c_skip x + c_out F(c_in x; c_noise) (Karras et al., Table 1)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    # BEGIN ASSIGNMENT edm-preconditioning
    total = sigma**2 + sigma_data**2
    c_skip = sigma_data**2 / total
    c_out = sigma * sigma_data / np.sqrt(total)
    c_in = 1.0 / np.sqrt(total)
    c_noise = np.log(sigma) / 4.0
    return c_skip, c_out, c_in, c_noise
    # END ASSIGNMENT


def sample_training_sigmas(rng, n, p_mean=P_MEAN, p_std=P_STD):
    """ln σ ~ N(P_mean, P_std²) (Karras et al., Table 1)."""
    return np.exp(p_mean + p_std * rng.standard_normal(n))


def loss_weight(sigma, sigma_data=SIGMA_DATA):
    """λ(σ) = (σ² + σ_data²) / (σ σ_data)², which makes the effective target unit-variance."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2
