"""The 1-D temporal U-Net denoiser backbone (Appendix A.1, Table 3).

A trajectory is a (B, C, H) array: C = obs + action + reward + done channels
stacked per transition, H = 16 transitions (Table 3). Convolutions run along the
H axis. The block structure is the one in the authors' Flax code (see
`docs/authors_code.md#u-net-block-structure`): not residual; every block is conditioned on the noise-level
embedding by adding a per-block Dense projection after its first convolution.

    encoder level i (width F*m_i):  Conv(k3) + Dense(temb) -> GN -> act -> Conv(k3) -> GN -> act
                                    = skip z_i;  max-pool(2) feeds level i+1 (dropped after the last)
    decoder level i = n-2 .. 0:     upsample to len(z_i) -> Conv(k2) + Dense(temb) -> GN -> act
                                    -> concat z_i -> [Conv(k3) -> GN -> act] x 2
    output:                         Conv(k1) back to C channels

`residual=True` adds Diffuser's skip around each block's two convolutions (Janner
et al., 2022, "ResidualTemporalBlock"): the block's output plus its input, passed
through a Conv(k1) where the width changes (encoder: the block's input; decoder:
the concatenation with z_i). Combined with `activation="mish"` this is the
residual Mish block of Diffuser, with the noise-level projection kept where the
authors' blocks add it (after the first convolution).

Internally every array is time-major, (L, B, C): time step t of the whole batch
is a block of rows, so each tap of a convolution is one matrix product on a block
of rows (see `kernels/conv1d.py`). `backward` mirrors `forward` line by line, in
reverse.

Batch threads: `model.batch_workers = n` (default None: `runtime.workers.parallel_workers()`, the free cores
under the automatic thread policy; 1 turns it off) splits a batch
of at least `MIN_ROWS_PER_WORKER * n` trajectories into n parts and runs them in n
worker threads (`runtime.workers.side_by_side`), each through its own replica of the network (the same parameter
arrays, its own cached activations and gradient arrays). The threads block, they
do not spin: NumPy's BLAS and minipgd's Numba kernels (`nogil=True`) release the
GIL, so with one BLAS thread per worker the parts run side by side on n cores, and
beside busy neighbours they only share what they get. `backward` splits the
gradient the same way and adds the replicas' parameter gradients into the model's.
Results equal the serial pass up to float rounding (each part's products are the
serial products' rows).

Inference: `predict` returns `forward`'s output but keeps nothing for `backward`,
so it can take each part in blocks of `ROWS_PER_BLOCK` trajectories one after the
other. A block's activations stay in the CPU's caches; a whole large batch's do
not, and every layer then streams them from memory (XLA, which fuses layers, loses
less to this). The sampler denoises through `predict`.
"""
import copy
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from .layers import Conv1d, GroupNorm, Identity, Linear, MaxPool1d, Mish, NearestUpsample1d, NoiseLevelEmbedding, SiLU
from .checkpoint import load_checkpoint, save_checkpoint
from .module import Module
from ..runtime.workers import parallel_workers, side_by_side

ACTIVATIONS = ("relu", "mish")
HORIZON = 16  # trajectory length H, Table 3: the one default every module uses
MIN_ROWS_PER_WORKER = 64  # smaller parts are call-bound: threads would only add overhead
ROWS_PER_BLOCK = 256  # `predict`: trajectories per pass (at F = 64 their widest activations take ~3 MB)


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int  # obs_dim + act_dim + 2 (reward, done)
    horizon: int = HORIZON
    features: int = 32  # base width F; the paper uses 1024 (Table 3); `cpu_default` is the trainer's
    dim_mults: tuple = (1, 2, 4)  # width of level i is F * dim_mults[i]; 3 levels = "U-Net blocks 3"
    kernel_size: int = 3  # Table 3
    groups: int = 8  # GroupNorm groups, as in the authors' code
    activation: str = "relu"  # "relu" (authors' code) or "mish" (Diffuser-style)
    residual: bool = False  # False: the authors' blocks; True: Diffuser's residual skip (module docstring)

    def __post_init__(self):
        if self.in_channels < 1 or self.horizon < 1:
            raise ValueError(f"in_channels and horizon must be positive, got {self.in_channels}, {self.horizon}")
        if self.features < 16 or self.features % 8:
            raise ValueError(f"features must be a multiple of 8 and >= 16 (F/8 embedding frequencies), got {self.features}")
        if self.horizon < 2 ** (len(self.dim_mults) - 1):
            raise ValueError(f"horizon {self.horizon} is too short for {len(self.dim_mults)} levels of 2x pooling")
        if any(self.features * m % self.groups for m in self.dim_mults):
            raise ValueError(f"every level width F*m must divide into {self.groups} GroupNorm groups")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")

    @classmethod
    def paper(cls, in_channels):
        """The paper's size (Table 3): F = 1024, 3 levels (about 178M parameters)."""
        return cls(in_channels=in_channels, features=1024)

    @classmethod
    def cpu_default(cls, in_channels, horizon=HORIZON):
        """The model `train_diffusion` and `train-diffusion` make unless told otherwise: the fidelity frontier's
        pick (results/diffusion_fidelity.md), F = 128 with Diffuser's residual Mish blocks, whose unguided
        samples beat a PETS world model's dynamics error on halfcheetah after 60,000 steps (about 45 minutes
        on one core). The plain dataclass defaults are the authors' blocks at F = 32, the small model the
        tutorials use where speed matters more than fidelity."""
        return cls(in_channels=in_channels, horizon=horizon, features=128, activation="mish", residual=True)


def norm_act(cfg, width, dtype):
    """GroupNorm -> activation as (norm, act) modules. ReLU is fused into the GroupNorm kernel
    (one pass over the activations), so `act` is then the identity; Mish stays a layer of its own."""
    if cfg.activation == "relu":
        return GroupNorm(cfg.groups, width, dtype=dtype, relu=True), Identity()
    return GroupNorm(cfg.groups, width, dtype=dtype), Mish()


def residual_path(cfg, c_in, width, rng, dtype):
    """A block's residual path (None without `cfg.residual`): the identity, or a Conv(k1) to `width`."""
    if not cfg.residual:
        return None
    return Identity() if c_in == width else Conv1d(c_in, width, 1, rng, dtype=dtype)


class EncoderBlock(Module):
    def __init__(self, c_in, width, cfg, rng, dtype):
        super().__init__()
        k = cfg.kernel_size
        self.conv1 = Conv1d(c_in, width, k, rng, dtype=dtype)
        self.time = Linear(cfg.features, width, rng, dtype)
        self.norm1, self.act1 = norm_act(cfg, width, dtype)
        self.conv2 = Conv1d(width, width, k, rng, dtype=dtype)
        self.norm2, self.act2 = norm_act(cfg, width, dtype)
        self.residual = residual_path(cfg, c_in, width, rng, dtype)

    def forward(self, x, temb):
        """x: (L, B, c_in), temb: (B, F) -> z: (L, B, width)."""
        h = self.conv1(x, self.time(temb))  # conv1(x) + Dense(temb) at every time step, added in the same pass
        h = self.act1(self.norm1(h))
        z = self.act2(self.norm2(self.conv2(h)))
        return z if self.residual is None else z + self.residual(x)

    def backward(self, dz):
        dh = self.conv2.backward(self.norm2.backward(self.act2.backward(dz)))
        dh = self.norm1.backward(self.act1.backward(dh))
        dtemb = self.time.backward(dh.sum(axis=0))  # the Dense output was broadcast over L
        dx = self.conv1.backward(dh)
        return (dx if self.residual is None else dx + self.residual.backward(dz)), dtemb


class DecoderBlock(Module):
    def __init__(self, c_in, width, cfg, rng, dtype):
        super().__init__()
        k = cfg.kernel_size
        self.upsample = NearestUpsample1d()
        self.conv_up = Conv1d(c_in, width, 2, rng, dtype=dtype)
        self.time = Linear(cfg.features, width, rng, dtype)
        self.norm_up, self.act_up = norm_act(cfg, width, dtype)
        self.conv1 = Conv1d(2 * width, width, k, rng, dtype=dtype)
        self.norm1, self.act1 = norm_act(cfg, width, dtype)
        self.conv2 = Conv1d(width, width, k, rng, dtype=dtype)
        self.norm2, self.act2 = norm_act(cfg, width, dtype)
        self.residual = residual_path(cfg, 2 * width, width, rng, dtype)

    def forward(self, x, skip, temb):
        """x: (L/2, B, c_in), skip: (L, B, width), temb: (B, F) -> (L, B, width)."""
        h = self.conv_up(self.upsample(x, skip.shape[0]), self.time(temb))
        h = self.act_up(self.norm_up(h))
        self.width = h.shape[2]
        cat = np.concatenate([h, skip], axis=2)
        h = self.act1(self.norm1(self.conv1(cat)))
        y = self.act2(self.norm2(self.conv2(h)))
        return y if self.residual is None else y + self.residual(cat)

    def backward(self, dy):
        dh = self.conv2.backward(self.norm2.backward(self.act2.backward(dy)))
        dh = self.conv1.backward(self.norm1.backward(self.act1.backward(dh)))
        if self.residual is not None:
            dh = dh + self.residual.backward(dy)
        dh, dskip = dh[:, :, : self.width], dh[:, :, self.width :]  # un-concatenate
        dh = self.norm_up.backward(self.act_up.backward(dh))
        dtemb = self.time.backward(dh.sum(axis=0))
        dx = self.upsample.backward(self.conv_up.backward(dh))
        return dx, dskip, dtemb


class TemporalUNet(Module):
    def __init__(self, cfg, rng, dtype=np.float32):
        super().__init__()
        self.cfg, self.dtype = cfg, np.dtype(dtype)
        widths = [cfg.features * m for m in cfg.dim_mults]
        self.embed = NoiseLevelEmbedding(cfg.features, rng, dtype)
        self.embed_act = SiLU()
        self.down = [
            EncoderBlock(c_in, width, cfg, rng, dtype) for c_in, width in zip([cfg.in_channels] + widths, widths)
        ]
        self.pools = [MaxPool1d() for _ in widths[:-1]]
        self.up = [DecoderBlock(widths[i + 1], widths[i], cfg, rng, dtype) for i in reversed(range(len(widths) - 1))]
        self.out = Conv1d(widths[0], cfg.in_channels, 1, rng, dtype=dtype)
        self.batch_workers = None  # > 1: split large batches over that many threads; None: parallel_workers()
        self._parts = None  # [(replica, rows)] of the last split forward pass, for backward
        self._backward_ready = False  # whether the last pass was a `forward` (`predict` keeps no activations)
        self._replica_cache = None  # (parameter arrays, replicas) that `replicas` made

    def forward(self, x, c_noise):
        """x: (B, C, H) trajectories, c_noise: (B,) noise-level input -> (B, C, H).

        The EDM denoiser conditions on c_noise(σ) = ln(σ)/4 (App. A.2), not on σ itself.
        """
        x, c_noise = self._check_inputs(x, c_noise)
        parts = self._split(x.shape[0])
        self._parts = parts if len(parts) > 1 else None
        self._backward_ready = True
        return _joined(side_by_side(*(partial(net._forward, x[rows], c_noise[rows]) for net, rows in parts)))

    def predict(self, x, c_noise):
        """`forward`'s output for inference (the sampler): nothing is kept for `backward`, so each worker takes
        its part of the batch in blocks of ROWS_PER_BLOCK trajectories, whose activations stay in the CPU's
        caches (block sizes measured in benchmarks/README.md). Same rows, same products: the same output."""
        x, c_noise = self._check_inputs(x, c_noise)
        self._parts, self._backward_ready = None, False
        return _joined(side_by_side(*(partial(net._predict, x[rows], c_noise[rows])
                                      for net, rows in self._split(x.shape[0]))))

    def backward(self, dy):
        """dy: (B, C, H) = dL/d output -> dL/dx (B, C, H); parameter gradients are accumulated."""
        if not self._backward_ready:
            raise RuntimeError("TemporalUNet.backward needs the activations of a `forward` pass; `predict` (inference)"
                               " keeps none")
        if self._parts is None:
            return self._backward(dy)
        dxs = side_by_side(*(partial(replica._backward, dy[rows]) for replica, rows in self._parts))
        for replica, _ in self._parts:  # dL/dθ = sum over the parts
            for (_, _, grad), (_, _, part_grad) in zip(self.named_parameters(), replica.named_parameters()):
                grad += part_grad
                part_grad.fill(0.0)
        return np.concatenate(dxs, axis=0)

    def _split(self, batch):
        """[(network, rows)]: this network and all rows, or `batch_workers` replicas and a part each."""
        n = min(self.batch_workers or parallel_workers(), batch // MIN_ROWS_PER_WORKER)
        if n <= 1:
            return [(self, slice(0, batch))]
        bounds = np.linspace(0, batch, n + 1).astype(int)
        return [(replica, slice(lo, hi)) for replica, lo, hi in zip(self.replicas(n), bounds[:-1], bounds[1:])]

    def _predict(self, x, c_noise):
        blocks = [slice(start, start + ROWS_PER_BLOCK) for start in range(0, x.shape[0], ROWS_PER_BLOCK)]
        return _joined([self._forward(x[rows], c_noise[rows]) for rows in blocks])

    def load_state_dict(self, state):
        """As `Module.load_state_dict`, with a clear error for checkpoints in the old convolution layout."""
        for name, param, _ in self.named_parameters():
            shape = np.shape(state[name]) if name in state else None
            if param.ndim == 3 and shape == param.shape[::-1] != param.shape:
                raise ValueError(
                    f"parameter {name!r} has shape {shape}: a convolution weight in the (out, in, k) layout that "
                    f"minipgd wrote before 2026-11-28; the U-Net now stores (k, in, out) (nn/layers/conv1d.py). "
                    f"This checkpoint cannot be loaded: retrain the model (a training run's checkpoint: start the "
                    f"run over, e.g. with --force)")
        super().load_state_dict(state)

    def replicas(self, n):
        """n shallow copies of the network sharing this one's parameter arrays (rebuilt if those change), each with
        its own activations and gradient arrays and no batch split of its own: they can run side by side (this
        network's batch split, the sampler's chunks). The same n copies each time, as long as the parameters are
        the same arrays."""
        params = [p for _, p, _ in self.named_parameters()]
        cached = self._replica_cache
        if cached is None or len(cached[1]) < n or any(a is not b for a, b in zip(cached[0], params)):
            keep = {id(p): p for p in params}  # deepcopy leaves these shared, copies the rest
            replicas = []
            for _ in range(n):
                memo = dict(keep)
                replica = copy.deepcopy(self, memo)
                replica.batch_workers, replica._parts, replica._replica_cache = 1, None, None
                for _, _, grad in replica.named_parameters():
                    grad.fill(0.0)
                replicas.append(replica)
            self._replica_cache = (params, replicas)
        return self._replica_cache[1][:n]

    def __deepcopy__(self, memo):
        clone = copy.copy(self)
        memo[id(self)] = clone
        state = {k: v for k, v in vars(self).items() if k not in ("_replica_cache", "_buffers")}
        vars(clone).update(copy.deepcopy(state, memo))
        clone._replica_cache, clone._buffers = None, None  # the replica's parameters are views of ours
        return clone

    def _forward(self, x, c_noise):
        temb = self.embed_act(self.embed(c_noise))
        h = np.ascontiguousarray(x.transpose(2, 0, 1))  # (H, B, C): time-major
        skips = []
        for i, block in enumerate(self.down):
            skips.append(block(h, temb))
            if i < len(self.pools):
                h = self.pools[i](skips[i])
        h = skips[-1]  # the deepest level's pooled output is dropped, as in the authors' code
        for block, skip in zip(self.up, reversed(skips[:-1])):
            h = block(h, skip, temb)
        return self.out(h).transpose(1, 2, 0)

    def _backward(self, dy):
        dh = self.out.backward(np.ascontiguousarray(dy.transpose(2, 0, 1)))
        dtemb = np.zeros((dy.shape[0], self.cfg.features), dh.dtype)
        dskips = [None] * len(self.down)
        for i, block in zip(range(len(self.up)), reversed(self.up)):  # level 0 first
            dh, dskips[i], dt = block.backward(dh)
            dtemb += dt
        dz = dh  # gradient reaching the deepest skip
        for i in reversed(range(len(self.down))):
            dh, dt = self.down[i].backward(dz)
            dtemb += dt
            if i > 0:
                dz = dskips[i - 1] + self.pools[i - 1].backward(dh)
        self.embed.backward(self.embed_act.backward(dtemb))
        return dh.transpose(1, 2, 0)

    def _check_inputs(self, x, c_noise):
        cfg = self.cfg
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"TemporalUNet expects trajectories of shape (B, C, H), got an array of shape {x.shape}")
        if x.shape[1] != cfg.in_channels:
            raise ValueError(f"trajectory has {x.shape[1]} channels, the model expects {cfg.in_channels}")
        if x.shape[2] != cfg.horizon:
            raise ValueError(f"trajectory has length {x.shape[2]}, the model was built for horizon {cfg.horizon}")
        c_noise = np.asarray(c_noise, dtype=self.dtype).reshape(-1)
        if c_noise.shape != (x.shape[0],):
            raise ValueError(f"c_noise must hold one value per trajectory ({x.shape[0]}), got shape {c_noise.shape}")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(c_noise))):
            raise ValueError("TemporalUNet input contains NaN or inf")
        return x.astype(self.dtype, copy=False), c_noise


def _joined(outputs):
    """The parts' outputs as one batch (a single part as it is: no copy)."""
    return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=0)


def save_unet(path, model):
    """Write the model's weights and config to an `.npz` checkpoint (atomic, no pickle)."""
    meta = {"kind": "TemporalUNet", "config": asdict(model.cfg), "dtype": model.dtype.name}
    save_checkpoint(path, model.state_dict(), meta)


def load_unet(path):
    """Rebuild a TemporalUNet from a checkpoint written by `save_unet`."""
    arrays, meta = load_checkpoint(path, kind="TemporalUNet", what="U-Net checkpoint")
    cfg = dict(meta["config"], dim_mults=tuple(meta["config"]["dim_mults"]))
    model = TemporalUNet(UNetConfig(**cfg), np.random.default_rng(0), dtype=meta["dtype"])
    model.load_state_dict(arrays)
    return model
