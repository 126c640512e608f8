"""1-D convolution over channels-last sequences, weight (k, in, out) as in Flax.

The weight is stored tap-major, (kernel_size, in_channels, out_channels), the
layout of the authors' Flax code (PyTorch's is (out, in, k)): every matrix
product of the forward and backward pass then reads it as it lies, with no
transposed copy per call (at F = 128 those copies were a third of a training
step). It is initialized exactly as PyTorch's Conv1d, drawn in PyTorch's layout
and transposed, so a seed gives the same network as before the change.

The authors' Flax code convolves channels-last arrays with 'SAME' padding; for an
even kernel that pads (k-1)//2 on the left and the rest on the right, which is
what ``padding="same"`` does here (and in PyTorch).
"""
import numpy as np

from ..kernels import conv1d_backward_input, conv1d_backward_weight, conv1d_forward
from ..kernels.conv1d import conv1d_columns, output_length, tap_matrix, weight_matrix
from ..module import Module
from .init import uniform_fan_in


def _resolve_padding(padding, kernel_size, stride):
    if padding == "same":
        if stride != 1:
            raise ValueError("padding='same' needs stride 1")
        total = kernel_size - 1
        return total // 2, total - total // 2
    if isinstance(padding, int):
        return padding, padding
    left, right = padding
    return int(left), int(right)


class Conv1d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, rng, stride=1, padding="same", dtype=np.float32):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.pad_left, self.pad_right = _resolve_padding(padding, kernel_size, stride)
        fan_in = in_channels * kernel_size
        torch_layout = uniform_fan_in(rng, (out_channels, in_channels, kernel_size), fan_in, dtype)
        self.add_param("weight", np.ascontiguousarray(torch_layout.transpose(2, 1, 0)))  # (k, in, out)
        self.add_param("bias", uniform_fan_in(rng, (out_channels,), fan_in, dtype))

    def forward(self, x, sample_bias=None):
        """x: (B, L, C_in) -> (B, L_out, C_out); `sample_bias` (B, C_out), if given, is added to every
        position of its sample in the same pass (the U-Net's noise-level projection)."""
        if x.ndim != 3 or x.shape[2] != self.in_channels:
            raise ValueError(f"Conv1d expects (B, L, {self.in_channels}) channels-last input, got shape {x.shape}")
        if output_length(x.shape[1], self.kernel_size, self.stride, self.pad_left, self.pad_right) < 1:
            raise ValueError(f"sequence of length {x.shape[1]} is shorter than the kernel ({self.kernel_size})")
        self.x = x
        w_taps = tap_matrix(self.params["weight"])  # (C_in, k*C_out), k blocks side by side
        return conv1d_forward(x, w_taps, self.params["bias"], sample_bias, self.kernel_size, *self._geometry())

    def backward(self, dy):
        """dy: dL/dy -> dL/dx; dL/dW and dL/dbias are accumulated (dL/d sample_bias = dy.sum(axis=1))."""
        cols = conv1d_columns(self.x, self.kernel_size, *self._geometry())
        dw, db = conv1d_backward_weight(dy, cols, self.kernel_size)
        self.grads["weight"] += dw
        self.grads["bias"] += db
        w_mat = weight_matrix(self.params["weight"])  # (k*C_in, C_out), a view
        return conv1d_backward_input(dy, w_mat, self.x.shape[1], self.kernel_size, *self._geometry())

    def _geometry(self):
        return self.stride, self.pad_left, self.pad_right
