"""Training the trajectory diffusion model on an offline dataset (Sec. 4, Appendix A).

`train_diffusion` fits the per-channel normalizer, trains the EDM denoiser with
Adam and a warm-up + cosine learning rate (Table 3), keeps an exponential moving
average of the weights (0.995 every 10 steps, as in the authors' code) which is
what gets sampled, reports a held-out loss, and checkpoints so that an
interrupted run resumes exactly where it stopped.
"""
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..nn.checkpoint import check_provenance, fingerprint, load_checkpoint, prefixed, save_checkpoint, unprefixed
from ..nn.optim import Adam, clip_grad_norm, cosine_lr
from ..runtime.threads import adapt_threads, under_thread_policy
from ..nn.unet import TemporalUNet, UNetConfig
from .denoiser import Denoiser, edm_loss, edm_validation_loss
from .model import TrajectoryDiffusion
from .trajectory import TrajectoryNormalizer, check_trajectories


WHAT_RUN = "diffusion training checkpoint"


@dataclass(frozen=True)
class DiffusionTrainConfig:
    steps: int = 60_000  # the fidelity frontier's length for UNetConfig.cpu_default (the paper: 250 epochs)
    batch_size: int = 16  # Table 3
    lr: float = 2e-3  # Table 3
    warmup_steps: int = 100
    ema_decay: float = 0.995
    ema_every: int = 10
    val_fraction: float = 0.05
    grad_clip: float = 0.0  # 0 = no clipping
    log_every: int = 500
    checkpoint_every: int = 2_000
    seed: int = 0
    unet: UNetConfig | None = None  # None: UNetConfig.cpu_default for the data's channels

    def __post_init__(self):
        for name in ("steps", "batch_size", "log_every", "checkpoint_every", "ema_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


def _ema_update(ema, model, decay):
    for (_, p_ema, _), (_, p, _) in zip(ema.named_parameters(), model.named_parameters()):
        p_ema *= decay
        p_ema += (1.0 - decay) * p


@under_thread_policy
def train_diffusion(raw, layout, config=DiffusionTrainConfig(), squash_actions=True, checkpoint=None, log=print):
    """Train on raw trajectories (N, C, H) in environment units; returns a TrajectoryDiffusion (EMA weights).

    `checkpoint`: path of an `.npz` file; an existing one is resumed from (refused if it was made from
    other data or settings), and the run state is written there every `config.checkpoint_every` steps
    and at the end.
    """
    raw = check_trajectories(raw, layout)
    unet_cfg = config.unet or UNetConfig.cpu_default(layout.channels, horizon=raw.shape[2])
    if unet_cfg.in_channels != layout.channels or unet_cfg.horizon != raw.shape[2]:
        raise ValueError(f"U-Net config ({unet_cfg.in_channels} ch, H={unet_cfg.horizon}) does not match data {raw.shape}")
    rng = np.random.default_rng(config.seed)
    normalizer = TrajectoryNormalizer.fit(raw, layout, squash_actions)
    data = normalizer.encode(raw).astype(np.float32)
    order = rng.permutation(len(data))
    n_val = int(round(config.val_fraction * len(data)))
    val, train = data[order[:n_val]], data[order[n_val:]]
    if len(train) == 0:
        raise ValueError(f"no training trajectories left after holding out {n_val} for validation")

    model = TemporalUNet(unet_cfg, rng)
    ema = TemporalUNet(unet_cfg, rng)
    ema.load_state_dict(model.state_dict())
    denoiser, optimizer, start = Denoiser(model), Adam(model, lr=config.lr), 0
    spent = {"cpu": 0.0, "wall": 0.0}  # seconds of training before this call (a resumed run's earlier part)
    provenance = None  # what the run is made from, recorded in (and checked against) its checkpoint
    if checkpoint is not None:
        provenance = {"dataset": fingerprint({"trajectories": raw}), "squash_actions": squash_actions,
                      "config": asdict(replace(config, unet=unet_cfg))}
    if checkpoint is not None and os.path.exists(checkpoint):
        start, spent = _resume(checkpoint, model, ema, optimizer, rng, provenance)
        log(f"resumed from {checkpoint} at step {start}/{config.steps}")
    log(f"training diffusion: {len(train)} train / {len(val)} held-out trajectories, {layout.describe()}, "
        f"H={unet_cfg.horizon}, {model.num_parameters():,} parameters, {config.steps} steps")
    tic, cpu_tic, losses = time.perf_counter(), time.process_time(), []
    for step in range(start, config.steps):
        adapt_threads("diffusion training")  # a safe point for the thread policy
        batch = train[rng.integers(0, len(train), size=config.batch_size)]
        model.zero_grad()
        losses.append(edm_loss(denoiser, batch, rng))
        if config.grad_clip > 0:
            clip_grad_norm(model, config.grad_clip)
        optimizer.step(cosine_lr(step, config.steps, config.lr, config.warmup_steps))
        if (step + 1) % config.ema_every == 0:
            _ema_update(ema, model, config.ema_decay)
        done = step + 1
        if done % config.log_every == 0 or done == config.steps:
            val_text = f"  held-out {edm_validation_loss(Denoiser(ema), val, rng):.4f}" if len(val) else ""
            rate = (done - start) / (time.perf_counter() - tic)
            log(f"  step {done:>7}/{config.steps}  loss {np.mean(losses):.4f}{val_text}  ({rate:.0f} steps/s)")
            losses = []
        if checkpoint is not None and (done % config.checkpoint_every == 0 or done == config.steps):
            seconds = {"cpu": spent["cpu"] + time.process_time() - cpu_tic,
                       "wall": spent["wall"] + time.perf_counter() - tic}
            _save_run(checkpoint, model, ema, optimizer, rng, done, provenance, seconds)
    return TrajectoryDiffusion(ema, normalizer)


def _save_run(path, model, ema, optimizer, rng, step, provenance, seconds):
    """The run state; `seconds`: {"cpu", "wall"} spent training so far, over all resumed parts
    (read back by `training_seconds`)."""
    arrays = {**prefixed(model.state_dict(), "model."), **prefixed(ema.state_dict(), "ema."),
              **prefixed(optimizer.state_dict(), "adam.")}
    meta = {"kind": "DiffusionTrainingRun", "step": step, "rng": rng.bit_generator.state, "provenance": provenance,
            "seconds": seconds}
    save_checkpoint(path, arrays, meta)


def training_seconds(checkpoint):
    """{"step", "cpu", "wall"} of a training run checkpoint: CPU seconds (all threads) and wall-clock seconds
    spent up to its last save, summed over interrupted and resumed parts."""
    meta = load_checkpoint(checkpoint, kind="DiffusionTrainingRun", what=WHAT_RUN)[1]
    return {"step": int(meta["step"]), **meta.get("seconds", {"cpu": float("nan"), "wall": float("nan")})}


def _resume(path, model, ema, optimizer, rng, provenance):
    arrays, meta = load_checkpoint(path, kind="DiffusionTrainingRun", what=WHAT_RUN)
    check_provenance(path, meta, provenance, WHAT_RUN)
    model.load_state_dict(unprefixed(arrays, "model."))
    ema.load_state_dict(unprefixed(arrays, "ema."))
    optimizer.load_state_dict(unprefixed(arrays, "adam."))
    rng.bit_generator.state = meta["rng"]
    return int(meta["step"]), meta.get("seconds", {"cpu": 0.0, "wall": 0.0})  # older checkpoints kept no time

