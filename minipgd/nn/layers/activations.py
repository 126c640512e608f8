"""Element-wise activations: ReLU, Tanh, SiLU (swish), Mish, and the Identity."""
import numpy as np

from ..kernels import mish_backward, mish_forward
from ..module import Module


class Identity(Module):
    """y = x; stands in for an activation that a fused kernel already applied."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy


class ReLU(Module):
    """`inplace=True` overwrites the input (as PyTorch's `ReLU(inplace=True)`): for an input nothing else keeps,
    such as a `Linear` layer's output inside an MLP. It saves a fresh array per call."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        self.y = np.maximum(x, 0, out=x if self.inplace else None)
        return self.y

    def backward(self, dy):
        return dy * (self.y > 0)  # dy/dx = 1 where x > 0


class Tanh(Module):
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dy):
        return dy * (1.0 - self.y**2)  # d tanh(x)/dx = 1 − tanh(x)²


class SiLU(Module):
    """y = x * sigmoid(x), the 'swish' of the authors' noise-level embedding."""

    def forward(self, x):
        self.x = x
        with np.errstate(over="ignore"):  # exp(−x) = inf for very negative x gives sigmoid 0, as it should
            self.sigmoid = 1.0 / (1.0 + np.exp(-x))
        return x * self.sigmoid

    def backward(self, dy):
        s = self.sigmoid
        return dy * s * (1.0 + self.x * (1.0 - s))  # dy/dx = s + x s (1 - s)


class Mish(Module):
    """y = x * tanh(softplus(x)), the activation of Diffuser-style U-Nets."""

    def forward(self, x):
        self.x = x
        return mish_forward(x)

    def backward(self, dy):
        return mish_backward(dy, self.x)
