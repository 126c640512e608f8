"""1-D convolution over time-major sequences (L, B, C), weight (k, in, out) as in Flax.

The weight is stored tap-major, (kernel_size, in_channels, out_channels), the
layout of the authors' Flax code (PyTorch's is (out, in, k)): each tap's matrix
W[j] is read as it lies by every product of the forward and backward pass
(`kernels/conv1d.py`). It is initialized exactly as PyTorch's Conv1d, drawn in
PyTorch's layout and transposed.

The authors' Flax code convolves with 'SAME' padding; for an even kernel that
pads (k-1)//2 on the left and the rest on the right, which is what
``padding="same"`` does here (and in PyTorch).
"""
import numpy as np

from ..kernels import conv1d_backward, conv1d_forward
from ..kernels.conv1d import output_length
from ..module import Module
from .init import uniform_fan_in


def _resolve_padding(padding, kernel_size):
    if padding == "same":
        total = kernel_size - 1
        return total // 2, total - total // 2
    if isinstance(padding, int):
        return padding, padding
    left, right = padding
    return int(left), int(right)


class Conv1d(Module):
    """Stride 1; `padding`: "same", an int (both sides) or (left, right)."""

    def __init__(self, in_channels, out_channels, kernel_size, rng, padding="same", dtype=np.float32):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.pad_left, self.pad_right = _resolve_padding(padding, kernel_size)
        fan_in = in_channels * kernel_size
        torch_layout = uniform_fan_in(rng, (out_channels, in_channels, kernel_size), fan_in, dtype)
        self.add_param("weight", np.ascontiguousarray(torch_layout.transpose(2, 1, 0)))  # (k, in, out)
        self.add_param("bias", uniform_fan_in(rng, (out_channels,), fan_in, dtype))

    def forward(self, x, sample_bias=None):
        """x: (L, B, C_in) -> (L_out, B, C_out); `sample_bias` (B, C_out), if given, is added at every time
        step of its sample in the same pass (the U-Net's noise-level projection)."""
        if x.ndim != 3 or x.shape[2] != self.in_channels:
            raise ValueError(f"Conv1d expects time-major (L, B, {self.in_channels}) input, got shape {x.shape}")
        if output_length(x.shape[0], self.kernel_size, self.pad_left, self.pad_right) < 1:
            raise ValueError(f"sequence of length {x.shape[0]} is shorter than the kernel ({self.kernel_size})")
        self.x = np.ascontiguousarray(x)
        return conv1d_forward(self.x, self.params["weight"], self.params["bias"], sample_bias, self.pad_left,
                              self.pad_right)

    def backward(self, dy):
        """dy: dL/dy -> dL/dx; dL/dW and dL/dbias are accumulated (dL/d sample_bias = dy.sum(axis=0))."""
        dx, dbias = conv1d_backward(dy, self.x, self.params["weight"], self.grads["weight"], self.pad_left)
        self.grads["bias"] += dbias
        return dx
