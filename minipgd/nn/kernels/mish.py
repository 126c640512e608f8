"""Mish activation (Misra, 2019): y = x * tanh(softplus(x)).

With e = exp(x), tanh(softplus(x)) = e(e + 2) / (e(e + 2) + 2), which never
overflows for x < 20 (above that it is 1 to float precision). The derivative is

    dy/dx = tanh(softplus(x)) + x * (1 - tanh(softplus(x))^2) * sigmoid(x).
"""
import numpy as np
from numba import njit

from ..backend import twin

_LINEAR_ABOVE = 20.0  # softplus(x) == x and tanh(x) == 1 to float precision


def _tanh_softplus_numpy(x):
    e = np.exp(np.minimum(x, _LINEAR_ABOVE))
    n = e * (e + 2.0)
    return np.where(x < _LINEAR_ABOVE, n / (n + 2.0), 1.0).astype(x.dtype)


def mish_forward_numpy(x):
    return x * _tanh_softplus_numpy(x)


def mish_backward_numpy(dy, x):
    ts = _tanh_softplus_numpy(x)
    sigmoid = 1.0 / (1.0 + np.exp(-np.maximum(x, -_LINEAR_ABOVE * 2)))
    return dy * (ts + x * (1.0 - ts * ts) * sigmoid)


@njit(cache=True, error_model="numpy", nogil=True)
def _tanh_softplus(v):
    if v >= _LINEAR_ABOVE:
        return 1.0
    e = np.exp(v)
    n = e * (e + 2.0)
    return n / (n + 2.0)


@njit(cache=True, error_model="numpy", nogil=True)
def mish_forward_numba(x):
    flat = x.ravel()
    y = np.empty_like(flat)
    for i in range(flat.size):
        y[i] = flat[i] * _tanh_softplus(flat[i])
    return y.reshape(x.shape)


@njit(cache=True, error_model="numpy", nogil=True)
def mish_backward_numba(dy, x):
    flat, dflat = x.ravel(), dy.ravel()
    dx = np.empty_like(flat)
    for i in range(flat.size):
        v = flat[i]
        ts = _tanh_softplus(v)
        sigmoid = 1.0 / (1.0 + np.exp(-max(v, -2 * _LINEAR_ABOVE)))
        dx[i] = dflat[i] * (ts + v * (1.0 - ts * ts) * sigmoid)
    return dx.reshape(x.shape)


mish_forward = twin(mish_forward_numpy, mish_forward_numba)
mish_backward = twin(mish_backward_numpy, mish_backward_numba)
