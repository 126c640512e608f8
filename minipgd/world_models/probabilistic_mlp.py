"""One member of the PETS ensemble: a probabilistic MLP (Chua et al., 2018, as used by MOPO).

The network maps a (normalized) state-action pair to a diagonal Gaussian over the
next-state change and the reward, y = [s' − s, r]:

    [μ, raw] = MLP([s, a])                       (swish hidden layers)
    log σ² = max − softplus(max − raw)           (PETS App. A.1: soft upper bound ...)
    log σ² = min + softplus(log σ² − min)        (... and soft lower bound)

`max` and `min` are learned per output dimension and pulled together by a small
penalty, so the variance can neither explode nor collapse on points far from the
data. The loss is the Gaussian negative log-likelihood (constant dropped),

    L = mean over batch and outputs of  (μ − y)² exp(−log σ²) + log σ²,

written out with its gradient in `gaussian_nll`; `tests/test_world_models.py`
checks both against float64 finite differences.
"""
import numpy as np

from ..nn.layers import SiLU
from ..nn.mlp import MLP
from ..nn.module import Module

LOG_VAR_PENALTY = 0.01  # weight of Σ max − Σ min in the loss (PETS, MOPO)


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + e^−x), without overflow


def gaussian_nll(mean, log_var, target):
    """PETS' loss and its gradients: (L, dL/dμ, dL/dlog σ²), L = mean((μ − y)² e^{−log σ²} + log σ²)."""
    inv_var = np.exp(-log_var)
    error = mean - target
    n = error.size
    loss = float(np.mean(error**2 * inv_var + log_var))
    return loss, 2.0 * error * inv_var / n, (1.0 - error**2 * inv_var) / n


class ProbabilisticMLP(Module):
    """(N, in) -> mean (N, out), log-variance (N, out) of a diagonal Gaussian with soft-bounded log σ²."""

    def __init__(self, in_dim, out_dim, hidden, rng, log_var_bounds=(-10.0, 0.5), dtype=np.float32):
        super().__init__()
        low, high = log_var_bounds
        if not low < high:
            raise ValueError(f"log-variance bounds must satisfy min < max, got {log_var_bounds}")
        self.in_dim, self.out_dim, self.hidden = in_dim, out_dim, tuple(hidden)
        self.add_param("max_log_var", np.full(out_dim, high, dtype))
        self.add_param("min_log_var", np.full(out_dim, low, dtype))
        self.net = MLP((in_dim, *self.hidden, 2 * out_dim), rng, dtype=dtype, activation=SiLU)

    def forward(self, x):
        out = self.net.forward(x)
        mean, raw = out[:, : self.out_dim], out[:, self.out_dim :]
        high, low = self.params["max_log_var"], self.params["min_log_var"]
        self.u = high - raw
        capped = high - softplus(self.u)  # soft upper bound
        self.v = capped - low
        return mean, low + softplus(self.v)  # soft lower bound

    def backward(self, d_mean, d_log_var):
        """Gradients of the two outputs -> gradient of the input; accumulates parameter gradients."""
        s_u, s_v = sigmoid(self.u), sigmoid(self.v)  # softplus' = sigmoid
        d_capped = d_log_var * s_v
        self.grads["min_log_var"] += np.sum(d_log_var * (1.0 - s_v), axis=0)
        self.grads["max_log_var"] += np.sum(d_capped * (1.0 - s_u), axis=0)
        d_raw = d_capped * s_u
        return self.net.backward(np.concatenate([d_mean, d_raw], axis=1))

    def loss_and_backward(self, x, target):
        """Forward, the NLL + bound penalty, backward: returns the loss (gradients accumulated)."""
        mean, log_var = self.forward(x)
        loss, d_mean, d_log_var = gaussian_nll(mean, log_var, target)
        self.backward(d_mean.astype(mean.dtype), d_log_var.astype(mean.dtype))
        self.grads["max_log_var"] += LOG_VAR_PENALTY
        self.grads["min_log_var"] -= LOG_VAR_PENALTY
        penalty = LOG_VAR_PENALTY * float(np.sum(self.params["max_log_var"]) - np.sum(self.params["min_log_var"]))
        return loss + penalty
