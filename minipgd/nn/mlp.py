"""Multi-layer perceptron: Linear -> ReLU -> ... -> Linear (-> tanh), the agents' and world models' networks."""
import numpy as np

from .layers import Linear, ReLU, Tanh
from .module import Module


class MLP(Module):
    """sizes = (in, hidden..., out); `squash=True` ends with tanh (a deterministic actor in [-1, 1]).

    `activation`: the hidden layers' activation class (ReLU; the PETS world model uses SiLU, "swish").
    """

    def __init__(self, sizes, rng, squash=False, dtype=np.float32, activation=ReLU):
        super().__init__()
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"MLP sizes must be at least (in, out), all positive, got {sizes}")
        self.in_features = sizes[0]
        self.layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.layers.append(Linear(n_in, n_out, rng, dtype))
            if i < len(sizes) - 2:  # a Linear's output is kept by nothing but its activation: ReLU in place
                self.layers.append(ReLU(inplace=True) if activation is ReLU else activation())
        if squash:
            self.layers.append(Tanh())

    def forward(self, x):
        """x: (N, in) -> (N, out)."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy
