"""The noise-level embedding of the U-Net (authors' TimeEmbedding).

Sinusoidal features of the scalar noise input (the Transformer's positional
encoding, F/8 frequencies), then an MLP Dense(F) -> SiLU -> Dense(F).
"""
import numpy as np

from ..module import Module
from .activations import SiLU
from .linear import Linear


class SinusoidalEmbedding(Module):
    """t: (B,) -> [sin(t f_i), cos(t f_i)]: (B, 2*half), f_i = 10000^(-i/(half-1))."""

    def __init__(self, half_dim, dtype=np.float32):
        super().__init__()
        if half_dim < 2:
            raise ValueError(f"SinusoidalEmbedding needs at least 2 frequencies, got {half_dim}")
        self.frequencies = np.exp(-np.log(10000.0) * np.arange(half_dim) / (half_dim - 1)).astype(dtype)

    def forward(self, t):
        self.angles = np.outer(t, self.frequencies)
        return np.concatenate([np.sin(self.angles), np.cos(self.angles)], axis=1)

    def backward(self, dy):
        half = self.frequencies.size
        # d sin(t f)/dt = f cos(t f),  d cos(t f)/dt = -f sin(t f)
        return (dy[:, :half] * np.cos(self.angles) - dy[:, half:] * np.sin(self.angles)) @ self.frequencies


class NoiseLevelEmbedding(Module):
    """t: (B,) -> (B, features)."""

    def __init__(self, features, rng, dtype=np.float32):
        super().__init__()
        half_dim = features // 8
        self.sinusoidal = SinusoidalEmbedding(half_dim, dtype)
        self.linear1 = Linear(2 * half_dim, features, rng, dtype)
        self.act = SiLU()
        self.linear2 = Linear(features, features, rng, dtype)

    def forward(self, t):
        return self.linear2(self.act(self.linear1(self.sinusoidal(t))))

    def backward(self, dy):
        return self.sinusoidal.backward(self.linear1.backward(self.act.backward(self.linear2.backward(dy))))
