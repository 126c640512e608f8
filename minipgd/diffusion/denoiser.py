"""The EDM denoiser D_θ(x; σ) around the U-Net, and its training loss (Sec. 2.2).

    D_θ(x; σ) = c_skip(σ) x + c_out(σ) F_θ(c_in(σ) x; c_noise(σ))

Backward through the preconditioning, with G = dL/dD:

    dL/dF = c_out G  (into the U-Net's backward),   dL/dx = c_skip G + c_in (dL/d(c_in x))
"""
import numpy as np

from .edm import SIGMA_DATA, loss_weight, preconditioning, sample_training_sigmas


def _per_item(c):
    return c[:, None, None]


class Denoiser:
    """Wraps a network F(x, c_noise) that has `forward`, `backward` and `predict` (inference)."""

    def __init__(self, network, sigma_data=SIGMA_DATA):
        self.network, self.sigma_data = network, sigma_data
        self.dtype = network.dtype

    def __call__(self, x, sigma):
        """x: (B, C, H), sigma: scalar or (B,) -> denoised estimate (B, C, H), for inference (the sampler's call):
        through the network's `predict`, which keeps nothing for `backward`."""
        return self._denoise(x, sigma, self.network.predict)

    def forward(self, x, sigma):
        """The denoised estimate as calling the denoiser gives it, keeping what `backward` needs (training)."""
        return self._denoise(x, sigma, self.network.forward)

    def _denoise(self, x, sigma, network):
        x = np.asarray(x, dtype=self.dtype)
        sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (x.shape[0],))
        if np.any(sigma <= 0):
            raise ValueError("the denoiser is defined for noise levels sigma > 0")
        c_skip, c_out, c_in, c_noise = (c.astype(self.dtype) for c in preconditioning(sigma, self.sigma_data))
        self.c_skip, self.c_out, self.c_in = c_skip, c_out, c_in
        f = network(_per_item(c_in) * x, c_noise)
        return _per_item(c_skip) * x + _per_item(c_out) * f

    def backward(self, d_denoised):
        """dL/dD -> dL/dx; the network's parameter gradients are accumulated."""
        d_scaled_input = self.network.backward(_per_item(self.c_out) * d_denoised)
        return _per_item(self.c_skip) * d_denoised + _per_item(self.c_in) * d_scaled_input


def _weighted_error(denoiser, x0, rng):
    """D(x0 + σ n; σ) − x0 and λ(σ) for ln σ ~ N(P_mean, P_std²), n ~ N(0, I), one σ per trajectory."""
    sigma = sample_training_sigmas(rng, x0.shape[0])
    noised = x0 + _per_item(sigma) * rng.standard_normal(x0.shape)
    error = denoiser.forward(noised, sigma) - x0
    weight = _per_item(loss_weight(sigma, denoiser.sigma_data)).astype(error.dtype)
    return error, weight


def edm_loss(denoiser, x0, rng):
    """EDM training loss on clean trajectories x0 (B, C, H), back-propagated into the network.

    L = mean_b λ(σ_b) · mean_{c,h} (D(x0 + σ_b n; σ_b) − x0)². Returns L; gradients accumulate.
    """
    error, weight = _weighted_error(denoiser, x0, rng)
    denoiser.backward(2.0 * weight * error / error.size)
    return float(np.mean(weight * error**2))


def edm_validation_loss(denoiser, x0, rng):
    """The same loss on held-out trajectories, without back-propagation."""
    error, weight = _weighted_error(denoiser, x0, rng)
    return float(np.mean(weight * error**2))
