"""Layers with hand-written backward passes. Sequences are time-major, (L, B, C)."""
from .activations import Identity, Mish, ReLU, SiLU, Tanh
from .conv1d import Conv1d
from .embedding import NoiseLevelEmbedding, SinusoidalEmbedding
from .group_norm import GroupNorm
from .linear import Linear
from .resample import MaxPool1d, NearestUpsample1d

__all__ = [
    "Conv1d",
    "GroupNorm",
    "Identity",
    "Linear",
    "MaxPool1d",
    "Mish",
    "NearestUpsample1d",
    "NoiseLevelEmbedding",
    "ReLU",
    "SiLU",
    "SinusoidalEmbedding",
    "Tanh",
]
