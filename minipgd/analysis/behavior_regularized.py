"""The behavior-regularized target distribution of Eq. 13 on a Gaussian toy (Fig. 3).

If the behavior distribution of (flattened) trajectories is Gaussian,
p_off = N(μ, Σ), and the target policy is linear-Gaussian,
π(a_t|s_t) = N(K s_t + c, diag(std²)), then

    F(τ | π; λ) ∝ p_off(τ) · q_target(τ)^λ,   q_target(τ) = Π_t π(a_t|s_t)     (Eq. 10, 13)

is Gaussian too. Writing a_t − K s_t = A_t τ, log q^λ = −λ/2 Σ_t |A_t τ − c|²_D with
D = diag(1/std²), so F has precision P = Σ⁻¹ + λ Σ_t A_tᵀ D A_t and mean
P⁻¹ (Σ⁻¹ μ + λ Σ_t A_tᵀ D c). The toy also has an exact denoiser
(`minipgd.diffusion.exact_denoiser`), so the sampler's own error is zero and any gap between guided samples and F is
the guidance approximation's (Eq. 9 holds only as σ → 0; Eq. 11 drops the
state component of the gradient).
"""
import numpy as np

from ..rl.policy import GaussianPolicy


class LinearGaussianPolicy(GaussianPolicy):
    """π(a|s) = N(K s + c, diag(std²)); K: (act_dim, obs_dim)."""

    def __init__(self, gain, offset, std):
        self.gain = np.atleast_2d(np.asarray(gain, dtype=np.float64))
        self.act_dim, self.obs_dim = self.gain.shape
        self.offset = np.broadcast_to(np.asarray(offset, dtype=np.float64), (self.act_dim,))
        self.std = np.broadcast_to(np.asarray(std, dtype=np.float64), (self.act_dim,))

    def _mean_std(self, states):
        return states @ self.gain.T + self.offset, self.std


def _action_residual_maps(layout, horizon, policy):
    """A_t with A_t τ = a_t − K s_t on the flattened (C, H) trajectory, for each t."""
    maps = []
    for t in range(horizon):
        a_t = np.zeros((layout.act_dim, layout.channels, horizon))
        for i in range(layout.act_dim):
            a_t[i, layout.act.start + i, t] = 1.0
            a_t[i, layout.obs, t] = -policy.gain[i]
        maps.append(a_t.reshape(layout.act_dim, -1))
    return maps


def behavior_regularized_target(mu, cov, policy, layout, horizon, scale):
    """Mean and covariance of F(τ | π; λ) ∝ p_off(τ) q_target(τ)^λ (Eq. 13) over flattened (C, H)."""
    if scale < 0:
        raise ValueError(f"the guidance scale λ must be >= 0, got {scale}")
    precision_off = np.linalg.inv(cov)
    precision, linear = precision_off.copy(), precision_off @ mu
    weight = np.diag(1.0 / policy.std**2)
    for a_t in _action_residual_maps(layout, horizon, policy):
        precision += scale * a_t.T @ weight @ a_t
        linear += scale * a_t.T @ weight @ policy.offset
    covariance = np.linalg.inv(precision)
    return covariance @ linear, covariance
