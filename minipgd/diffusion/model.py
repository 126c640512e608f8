"""A trained trajectory diffusion model: the (EMA) denoiser and its normalizer.

`sample` runs Algorithm 1, unguided or guided by any Gaussian policy, and returns
trajectories in environment units; `save`/`load` keep weights, U-Net config,
layout and normalization together in one `.npz` checkpoint, with `data`: what the
training dataset's metadata says about where the trajectories come from (its
environment, recipe, seed and reference returns), where the trainer recorded it.
"""
from dataclasses import asdict

import numpy as np

from ..nn.checkpoint import fingerprint, load_checkpoint, prefixed, save_checkpoint, unprefixed
from ..runtime.threads import available_cores, under_thread_policy
from ..nn.unet import TemporalUNet, UNetConfig
from .denoiser import Denoiser
from .edm import SAMPLER_STEPS
from .guidance import PolicyGuidance
from .sampler import guided_heun_sample
from .trajectory import TrajectoryLayout, TrajectoryNormalizer

# Trajectories per chunk of a sampler step. The U-Net takes a chunk in blocks of 256 (`TemporalUNet.predict`),
# guidance and the sampler's arithmetic take it whole: chunks of a few hundred stay in the CPU's caches (of
# 256 to 2,048, 512 was the fastest, benchmarks/README.md) and bound memory (2^14 trajectories at F = 64:
# 0.42 GiB in chunks, 0.70 GiB unchunked). The copies of the denoiser share each step's chunks.
# The samples do not depend on it (see `guided_heun_sample`).
CHUNK_SIZE = 512


class TrajectoryDiffusion:
    """A trained model: the (EMA) denoiser and the normalizer it was trained with."""

    def __init__(self, unet, normalizer, data=None):
        if unet.cfg.in_channels != normalizer.layout.channels:
            raise ValueError(
                f"U-Net has {unet.cfg.in_channels} channels, the normalizer {normalizer.layout.describe()}"
            )
        self.unet, self.normalizer, self.data = unet, normalizer, data
        self.denoiser = Denoiser(unet)

    @property
    def layout(self):
        return self.normalizer.layout

    @property
    def horizon(self):
        return self.unet.cfg.horizon

    def denoisers(self):
        """Copies of the denoiser, one per core, sharing the weights: the sampler runs its chunks on them side by
        side (`guided_heun_sample`)."""
        return [Denoiser(replica, self.denoiser.sigma_data) for replica in self.unet.replicas(available_cores())]

    def guidance(self, policy, scale=1.0, **options):
        """Alg. 1's guidance towards `policy` through this model's normalizer, or None when there is none
        to apply (no policy, or λ = 0: the unguided sampler). `options`: `PolicyGuidance`'s fields."""
        if policy is None or scale == 0:
            return None
        return PolicyGuidance(policy, self.normalizer, scale=scale, **options)

    @under_thread_policy
    def sample_normalized(self, n, rng, policy=None, scale=1.0, n_steps=SAMPLER_STEPS, guidance_options=None,
                          chunk_size=CHUNK_SIZE, **sampler_options):
        """n trajectories in model space (n, C, H) via Algorithm 1, guided towards `policy` with λ = `scale`.

        `policy`: any object with obs_dim, act_dim and `grad_log_prob_and_std(states, actions)` in
        environment units (a `minipgd.rl.policy.GaussianPolicy`), or None for unguided samples.
        `chunk_size`: trajectories per denoiser call (None: all n at once), which bounds memory; the samples
        are the same for any value up to the float32 rounding of the U-Net's matrix products (`sampler.py`).
        """
        if n < 1:
            raise ValueError(f"number of trajectories must be positive, got {n}")
        guidance = self.guidance(policy, scale, **(guidance_options or {}))
        shape = (n, self.layout.channels, self.horizon)
        return guided_heun_sample(self.denoisers(), shape, rng, guidance=guidance, n_steps=n_steps,
                                  chunk_size=chunk_size, **sampler_options)

    def sample(self, n, rng, policy=None, scale=1.0, n_steps=SAMPLER_STEPS, guidance_options=None,
               chunk_size=CHUNK_SIZE, **sampler_options):
        """n trajectories in environment units (n, C, H); the arguments as `sample_normalized`'s."""
        return self.normalizer.decode(self.sample_normalized(n, rng, policy, scale, n_steps, guidance_options,
                                                             chunk_size, **sampler_options))

    def save(self, path):
        meta = {"kind": "TrajectoryDiffusion", **_describe(self.unet, self.layout)}
        save_checkpoint(path, self._arrays(), meta if self.data is None else {**meta, "data": self.data})

    def fingerprint(self):
        """A short hash of the weights, normalization and architecture: which model a run used."""
        return fingerprint(self._arrays(), _describe(self.unet, self.layout))

    def _arrays(self):
        return {**prefixed(self.unet.state_dict(), "unet."), **prefixed(self.normalizer.state_dict(), "normalizer.")}

    @classmethod
    def load(cls, path):
        arrays, meta = load_checkpoint(path, kind="TrajectoryDiffusion", what="diffusion model")
        unet, layout = _rebuild(meta)
        unet.load_state_dict(unprefixed(arrays, "unet."))
        return cls(unet, TrajectoryNormalizer.from_state_dict(layout, unprefixed(arrays, "normalizer.")),
                   meta.get("data"))


def _describe(unet, layout):
    return {"unet": asdict(unet.cfg), "layout": asdict(layout)}


def _rebuild(meta):
    unet_cfg = UNetConfig(**dict(meta["unet"], dim_mults=tuple(meta["unet"]["dim_mults"])))
    return TemporalUNet(unet_cfg, np.random.default_rng(0)), TrajectoryLayout(**meta["layout"])

