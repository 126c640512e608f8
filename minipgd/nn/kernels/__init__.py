"""Hot-path kernels, each a NumPy twin (the definition) and a Numba copy (the speed).

Arrays are channels-last, ``(B, L, C)``, as in the authors' Flax code: a 1-D
convolution then becomes one matrix product over all ``B * L`` positions.

Kernels compile with ``error_model="numpy"``: a division by zero gives inf/NaN
as in NumPy instead of raising, which lets LLVM vectorize loops with divisions
(ten times faster for Adam).
"""
from .adam import adam_update
from .conv1d import conv1d_backward_input, conv1d_backward_weight, conv1d_forward
from .group_norm import group_norm_backward, group_norm_forward, group_norm_relu_backward, group_norm_relu_forward
from .mish import mish_backward, mish_forward

__all__ = [
    "adam_update",
    "conv1d_forward",
    "conv1d_backward_input",
    "conv1d_backward_weight",
    "group_norm_forward",
    "group_norm_backward",
    "group_norm_relu_forward",
    "group_norm_relu_backward",
    "mish_forward",
    "mish_backward",
]
