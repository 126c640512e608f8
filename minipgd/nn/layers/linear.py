"""Fully connected layer y = x W^T + b, weight (out, in) as in PyTorch."""
import numpy as np

from ..module import Module
from .init import uniform_fan_in


class Linear(Module):
    def __init__(self, in_features, out_features, rng, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.add_param("weight", uniform_fan_in(rng, (out_features, in_features), in_features, dtype))
        self.add_param("bias", uniform_fan_in(rng, (out_features,), in_features, dtype))

    def forward(self, x):
        """x: (..., in) -> (..., out)."""
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Linear expects {self.in_features} input features, got shape {x.shape}")
        self.x = x
        y = x @ self.params["weight"].T
        y += self.params["bias"]  # in place: a second (N, out) array costs more than the addition
        return y

    def backward(self, dy):
        x2d = self.x.reshape(-1, self.in_features)
        dy2d = dy.reshape(-1, self.out_features)
        self.grads["weight"] += dy2d.T @ x2d  # dL/dW = dY^T X
        self.grads["bias"] += dy2d.sum(axis=0)  # dL/db = sum over rows of dY
        return dy @ self.params["weight"]  # dL/dX = dY W
