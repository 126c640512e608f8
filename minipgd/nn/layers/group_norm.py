"""GroupNorm layer over time-major sequences (L, B, C); weight/bias (C,) as in PyTorch.

eps = 1e-6 follows Flax's GroupNorm, which the authors' U-Net uses.
``GroupNorm(..., relu=True)`` computes max(GroupNorm(x), 0) in one fused kernel
(the U-Net's norm -> ReLU pairs); its backward masks the gradient by output > 0.
"""
import numpy as np

from ..kernels import group_norm_backward, group_norm_forward, group_norm_relu_backward, group_norm_relu_forward
from ..module import Module


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-6, dtype=np.float32, relu=False):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: {num_channels} channels do not split into {num_groups} groups")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.relu = relu
        self.add_param("weight", np.ones(num_channels, dtype))
        self.add_param("bias", np.zeros(num_channels, dtype))

    def forward(self, x):
        """x: (L, B, C) -> (L, B, C)."""
        if x.ndim != 3 or x.shape[2] != self.num_channels:
            raise ValueError(f"GroupNorm expects time-major (L, B, {self.num_channels}) input, got shape {x.shape}")
        self.x = x
        forward = group_norm_relu_forward if self.relu else group_norm_forward
        y, self.mean, self.rstd = forward(x, self.params["weight"], self.params["bias"], self.num_groups, self.eps)
        self.y = y if self.relu else None  # the ReLU's mask, output > 0, for backward
        return y

    def backward(self, dy):
        if self.relu:
            dx, dgamma, dbeta = group_norm_relu_backward(
                dy, self.y, self.x, self.params["weight"], self.mean, self.rstd, self.num_groups
            )
        else:
            dx, dgamma, dbeta = group_norm_backward(
                dy, self.x, self.params["weight"], self.mean, self.rstd, self.num_groups
            )
        self.grads["weight"] += dgamma
        self.grads["bias"] += dbeta
        return dx
