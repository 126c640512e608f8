"""minipgd's guided Heun sampler (Algorithm 1) written again in JAX, for `benchmarks/sampler.py`.

One Heun step (l. 6-15) is one jitted function; the Python loop over the steps
and the noise draws stay outside, in NumPy, from the caller's generator, in the
order minipgd draws them, so both samplers sample the same trajectories. The
denoiser is the Flax U-Net of `_jax_unet.py` inside EDM's preconditioning, the
guidance the same closed form as `minipgd.diffusion.guidance` (Eq. 11, through
the normalizer's decode and tanh, unit length per trajectory, cosine schedule).
Everything runs in float32 (minipgd keeps the sampler's state in float64 and
runs its networks in float32).
"""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from _jax_unet import FlaxTemporalUNet, params_from_minipgd
from minipgd.diffusion import edm
from minipgd.diffusion.guidance import guidance_schedule


def _mlp_params(state):
    """A minipgd MLP's state dict -> [(W^T, b)] per Linear layer, in order."""
    indices = sorted({int(name.split(".")[1]) for name in state})
    return [(jnp.asarray(state[f"layers.{i}.weight"].T), jnp.asarray(state[f"layers.{i}.bias"])) for i in indices]


class JaxSampler:
    """The sampler for a `TrajectoryDiffusion` model, guided (optionally) by a TD3 agent's actor N(π(s), 1)."""

    name = "JAX (jit)"

    def __init__(self, model, agent=None):
        cfg, layout, normalizer = model.unet.cfg, model.layout, model.normalizer
        self.layout, self.horizon = layout, cfg.horizon
        self.net = FlaxTemporalUNet(cfg.in_channels, cfg.features, len(cfg.dim_mults), cfg.groups)
        self.params = {
            "unet": params_from_minipgd(model.unet.state_dict()),
            "mean": jnp.asarray(normalizer.mean, jnp.float32),
            "std": jnp.asarray(normalizer.std, jnp.float32),
        }
        self.squash = normalizer.squash_actions
        if agent is not None:
            self.params["actor"] = _mlp_params(agent.actor.state_dict())
            self.params["shift"] = jnp.asarray(agent.state_norm.shift, jnp.float32)
            self.params["scale"] = jnp.asarray(agent.state_norm.scale, jnp.float32)
        self.step = jax.jit(partial(_heun_step, self), static_argnames=("heun", "guided"))

    def sample(self, n_trajectories, rng, guidance_scale=0.0, n_steps=edm.SAMPLER_STEPS):
        """Trajectories in model space (B, C, H), drawing from `rng` exactly as minipgd's sampler does."""
        shape = (n_trajectories, self.layout.channels, self.horizon)
        sigmas = edm.karras_sigmas(n_steps)
        gammas = edm.churn_factors(sigmas)
        lambdas = _lambdas(guidance_scale, sigmas)
        tau = jnp.asarray(sigmas[0] * rng.standard_normal(shape), jnp.float32)  # l. 3
        for n in range(n_steps):  # l. 4
            eps = jnp.asarray(edm.S_NOISE * rng.standard_normal(shape), jnp.float32)  # l. 5
            sigma_hat = sigmas[n] * (1.0 + gammas[n])  # l. 6
            tau = self.step(self.params, tau, eps, float(sigma_hat), float(np.sqrt(sigma_hat**2 - sigmas[n] ** 2)),
                            float(sigmas[n + 1]), float(lambdas[n]), heun=bool(sigmas[n + 1] != 0),
                            guided=bool(lambdas[n] > 0))
        return np.asarray(tau.block_until_ready())

    def denoise(self, params, x, sigma):
        """D(x; σ) = c_skip x + c_out F(c_in x; c_noise), x (B, C, H); the U-Net is channels-last."""
        total = sigma**2 + edm.SIGMA_DATA**2
        c_skip, c_out, c_in = edm.SIGMA_DATA**2 / total, sigma * edm.SIGMA_DATA / jnp.sqrt(total), 1 / jnp.sqrt(total)
        c_noise = jnp.full((x.shape[0],), jnp.log(sigma) / 4.0, jnp.float32)
        f = self.net.apply(params["unet"], (c_in * x).transpose(0, 2, 1), c_noise).transpose(0, 2, 1)
        return c_skip * x + c_out * f

    def guidance_direction(self, params, tau):
        """∇ Σ_t log N(a_t; π(s_t), 1) w.r.t. the normalized actions, unit length per trajectory (l. 10-11)."""
        act = self.layout.act
        raw = tau * params["std"][:, None] + params["mean"][:, None]  # decode
        pre_tanh = raw[:, act]
        actions = jnp.tanh(pre_tanh) if self.squash else pre_tanh
        h = (raw[:, self.layout.obs].transpose(0, 2, 1) - params["shift"]) * params["scale"]  # (B, H, obs)
        for i, (w, b) in enumerate(params["actor"]):
            h = h @ w + b
            h = jax.nn.relu(h) if i < len(params["actor"]) - 1 else jnp.tanh(h)
        grad_raw = -(actions - h.transpose(0, 2, 1))  # Eq. 11 with σ = 1
        jacobian = params["std"][act, None] * ((1.0 - jnp.tanh(pre_tanh) ** 2) if self.squash else 1.0)
        grad = grad_raw * jacobian
        length = jnp.sqrt(jnp.sum(grad**2, axis=(1, 2), keepdims=True))
        return grad / jnp.where(length > 0, length, 1.0)


def _heun_step(sampler, params, tau, eps, sigma_hat, noise_scale, sigma_next, lam, heun, guided):
    """Algorithm 1, l. 7-15, as minipgd's `heun_step`."""
    tau_hat = tau + noise_scale * eps  # l. 7
    denoised = sampler.denoise(params, tau_hat, sigma_hat)  # l. 8
    d = (tau_hat - denoised) / sigma_hat  # l. 9
    if guided:  # l. 10-11
        tau_hat = tau_hat.at[:, sampler.layout.act].add(lam * sampler.guidance_direction(params, denoised))
    tau_next = tau_hat + (sigma_next - sigma_hat) * d  # l. 12
    if heun:  # l. 13-15
        d_prime = (tau_next - sampler.denoise(params, tau_next, sigma_next)) / sigma_next
        tau_next = tau_hat + (sigma_next - sigma_hat) * (0.5 * d + 0.5 * d_prime)
    return tau_next


def _lambdas(scale, sigmas):
    """λ_n of minipgd's default cosine schedule (Eq. 14); zeros for the unguided sampler."""
    return guidance_schedule(scale, sigmas) if scale > 0 else np.zeros(len(sigmas) - 1)
