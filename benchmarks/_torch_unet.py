"""The minipgd temporal U-Net written again in PyTorch, for `benchmarks/unet.py`.

Layouts are PyTorch's own (input (B, C, H), Linear weight (out, in), Conv1d
weight (out, in, k)), and the module names follow minipgd's `state_dict`, so
minipgd's weights load with a plain, strict `load_state_dict` once its
convolution weights, stored (k, in, out), are transposed (`torch_state`).
"""
import math
import os

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class NoiseEmbedding(nn.Module):
    """t (B,) -> sinusoidal features at F/8 frequencies -> Dense -> SiLU -> Dense -> (B, F)."""

    def __init__(self, features):
        super().__init__()
        self.half = features // 8
        self.linear1 = nn.Linear(2 * self.half, features)
        self.linear2 = nn.Linear(features, features)

    def forward(self, t):
        freqs = torch.exp(-math.log(10000.0) / (self.half - 1) * torch.arange(self.half, dtype=t.dtype))
        angles = t[:, None] * freqs[None, :]
        feats = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
        return self.linear2(F.silu(self.linear1(feats)))


class EncoderBlock(nn.Module):
    """conv -> + Dense(temb) -> GN -> ReLU -> conv -> GN -> ReLU."""

    def __init__(self, c_in, width, emb_dim, groups, eps):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, width, 3, padding=1)
        self.time = nn.Linear(emb_dim, width)
        self.norm1 = nn.GroupNorm(groups, width, eps=eps)
        self.conv2 = nn.Conv1d(width, width, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, width, eps=eps)

    def forward(self, x, temb):
        x = self.conv1(x) + self.time(temb)[:, :, None]
        x = F.relu(self.norm1(x))
        return F.relu(self.norm2(self.conv2(x)))


class DecoderBlock(nn.Module):
    """upsample -> conv(k=2) -> + Dense(temb) -> GN -> ReLU -> concat skip -> conv -> GN -> ReLU -> conv -> GN -> ReLU."""

    def __init__(self, c_in, width, emb_dim, groups, eps):
        super().__init__()
        self.conv_up = nn.Conv1d(c_in, width, 2)  # padded (0, 1) in forward
        self.time = nn.Linear(emb_dim, width)
        self.norm_up = nn.GroupNorm(groups, width, eps=eps)
        self.conv1 = nn.Conv1d(2 * width, width, 3, padding=1)
        self.norm1 = nn.GroupNorm(groups, width, eps=eps)
        self.conv2 = nn.Conv1d(width, width, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, width, eps=eps)

    def forward(self, x, skip, temb):
        x = F.interpolate(x, size=skip.shape[-1], mode="nearest")
        x = self.conv_up(F.pad(x, (0, 1))) + self.time(temb)[:, :, None]
        x = torch.cat([F.relu(self.norm_up(x)), skip], dim=1)
        x = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(x)))


class TorchTemporalUNet(nn.Module):
    def __init__(self, in_channels, features, n_levels, groups=8, eps=1e-6):
        super().__init__()
        widths = [features * 2**i for i in range(n_levels)]
        self.embed = NoiseEmbedding(features)
        c_ins = [in_channels] + widths[:-1]
        self.down = nn.ModuleList(
            EncoderBlock(c, w, features, groups, eps) for c, w in zip(c_ins, widths)
        )
        self.up = nn.ModuleList(
            DecoderBlock(widths[i + 1], widths[i], features, groups, eps)
            for i in reversed(range(n_levels - 1))
        )
        self.out = nn.Conv1d(widths[0], in_channels, 1)

    def forward(self, x, t):
        temb = F.silu(self.embed(t))
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                x = F.max_pool1d(skips[-1], 2)
            skips.append(block(x, temb))
        x = skips.pop()
        for block in self.up:
            x = block(x, skips.pop(), temb)
        return self.out(x)


def torch_state(state):
    """minipgd's state dict in PyTorch's layouts: convolution weights (k, in, out) -> (out, in, k)."""
    return {name: torch.from_numpy(np.ascontiguousarray(value.transpose(2, 1, 0) if value.ndim == 3 else value))
            for name, value in state.items()}


class Bench:
    """The PyTorch network behind the interface `benchmarks/unet.py` times; starts from minipgd's weights."""

    name = "PyTorch (eager)"

    def __init__(self, state, in_channels, features, n_levels, lr):
        torch.set_num_threads(os.cpu_count())
        self.model = TorchTemporalUNet(in_channels, features, n_levels)
        self.model.load_state_dict(torch_state(state))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)

    def num_parameters(self):
        return sum(p.numel() for p in self.model.parameters())

    def forward_and_input_grad(self, x, t, dy):
        x = torch.tensor(x, requires_grad=True)
        y = self.model(x, torch.from_numpy(t))
        y.backward(torch.from_numpy(dy))
        self.model.zero_grad(set_to_none=True)
        return y.detach().numpy(), x.grad.numpy()

    def train_step_fn(self, x, t, target):
        x, t, target = torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(target)

        def step():
            self.opt.zero_grad(set_to_none=True)
            F.mse_loss(self.model(x, t), target).backward()
            self.opt.step()

        return step

    def forward_fn(self, x, t):
        x, t = torch.from_numpy(x), torch.from_numpy(t)

        def forward():
            with torch.inference_mode():
                return self.model(x, t)

        return forward
