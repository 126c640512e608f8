"""Hot-path kernels, each a NumPy twin (the definition) and a Numba copy (the speed).

Sequences are time-major, ``(L, B, C)``: the rows of a block of time steps are
contiguous, so each tap of a 1-D convolution is one matrix product (`conv1d.py`).

Kernels compile with ``error_model="numpy"``: a division by zero gives inf/NaN
as in NumPy instead of raising, which lets LLVM vectorize loops with divisions
(ten times faster for Adam).
"""
from .adam import adam_update
from .conv1d import conv1d_backward, conv1d_forward
from .group_norm import group_norm_backward, group_norm_forward, group_norm_relu_backward, group_norm_relu_forward
from .mish import mish_backward, mish_forward

__all__ = [
    "adam_update",
    "conv1d_forward",
    "conv1d_backward",
    "group_norm_forward",
    "group_norm_backward",
    "group_norm_relu_forward",
    "group_norm_relu_backward",
    "mish_forward",
    "mish_backward",
]
