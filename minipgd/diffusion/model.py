"""A trained trajectory diffusion model: the (EMA) denoiser and its normalizer.

`sample` runs Algorithm 1 and returns trajectories in environment units;
`save`/`load` keep weights, U-Net config, layout and normalization together in
one `.npz` checkpoint.
"""
from dataclasses import asdict

import numpy as np

from ..nn.checkpoint import load_checkpoint, save_checkpoint
from ..nn.unet import TemporalUNet, UNetConfig
from .denoiser import Denoiser
from .sampler import guided_heun_sample
from .trajectory import TrajectoryLayout, TrajectoryNormalizer


class TrajectoryDiffusion:
    """A trained model: the (EMA) denoiser and the normalizer it was trained with."""

    def __init__(self, unet, normalizer):
        if unet.cfg.in_channels != normalizer.layout.channels:
            raise ValueError(
                f"U-Net has {unet.cfg.in_channels} channels, the normalizer {normalizer.layout.describe()}"
            )
        self.unet, self.normalizer = unet, normalizer
        self.denoiser = Denoiser(unet)

    @property
    def layout(self):
        return self.normalizer.layout

    @property
    def horizon(self):
        return self.unet.cfg.horizon

    def sample_normalized(self, n, rng, guidance=None, **sampler_options):
        """n trajectories in model space (n, C, H) via Algorithm 1."""
        if n < 1:
            raise ValueError(f"number of trajectories must be positive, got {n}")
        if guidance is not None and guidance.normalizer is not self.normalizer:
            raise ValueError("guidance must use this model's normalizer (PolicyGuidance(normalizer=model.normalizer))")
        shape = (n, self.layout.channels, self.horizon)
        return guided_heun_sample(self.denoiser, shape, rng, guidance=guidance, **sampler_options)

    def sample(self, n, rng, guidance=None, **sampler_options):
        """n trajectories in environment units (n, C, H)."""
        return self.normalizer.decode(self.sample_normalized(n, rng, guidance, **sampler_options))

    def save(self, path):
        arrays = {f"unet.{k}": v for k, v in self.unet.state_dict().items()}
        arrays.update({f"normalizer.{k}": v for k, v in self.normalizer.state_dict().items()})
        save_checkpoint(path, arrays, {"kind": "TrajectoryDiffusion", **_describe(self.unet, self.layout)})

    @classmethod
    def load(cls, path):
        arrays, meta = load_checkpoint(path)
        if meta.get("kind") != "TrajectoryDiffusion":
            raise ValueError(f"{path!r} holds a {meta.get('kind', 'unknown')!r} checkpoint, not a TrajectoryDiffusion")
        unet, layout = _rebuild(meta)
        unet.load_state_dict(with_prefix(arrays, "unet."))
        return cls(unet, TrajectoryNormalizer.from_state_dict(layout, with_prefix(arrays, "normalizer.")))


def _describe(unet, layout):
    return {"unet": asdict(unet.cfg), "layout": asdict(layout)}


def _rebuild(meta):
    unet_cfg = UNetConfig(**dict(meta["unet"], dim_mults=tuple(meta["unet"]["dim_mults"])))
    return TemporalUNet(unet_cfg, np.random.default_rng(0)), TrajectoryLayout(**meta["layout"])


def with_prefix(arrays, prefix):
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
