"""Mish activation (Misra, 2019): y = x * tanh(softplus(x)).

With e = exp(x), tanh(softplus(x)) = e(e + 2) / (e(e + 2) + 2), which never
overflows for x < 20 (above that it is 1 to float precision), and
sigmoid(x) = e / (e + 1). The derivative is

    dy/dx = tanh(softplus(x)) + x * (1 - tanh(softplus(x))^2) * sigmoid(x).

The fast copy here is not a Numba loop: a Numba loop calls a scalar exp per
element (no SVML on this project's machines), while NumPy's exp is vectorized, so
the fast copy is NumPy in chunks that keep the temporaries in the CPU's cache
(`benchmarks/mish.py` times it against the Numba kernels it replaced).
"""
import numpy as np

from ..backend import twin

_LINEAR_ABOVE = 20.0  # softplus(x) == x and tanh(x) == 1 to float precision
CHUNK = 65_536  # values per chunk of the fast copy (256 kB of float32: its temporaries stay in cache)


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


def _chunks(*arrays):
    """Flat views of same-shaped C-contiguous arrays, cut into matching chunks of CHUNK values."""
    flats = [a.reshape(-1) for a in arrays]
    for start in range(0, flats[0].size, CHUNK):
        yield [flat[start:start + CHUNK] for flat in flats]


def mish_forward_chunked(x):
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)  # C-contiguous as x now is, so the chunks below are views into it
    for xs, ys in _chunks(x, y):
        np.exp(np.minimum(xs, _LINEAR_ABOVE), out=ys)  # e
        n = ys * (ys + 2.0)
        np.divide(n, n + 2.0, out=ys)  # tanh(softplus(x))
        ys *= xs
    return y


def mish_backward_chunked(dy, x):
    x, dy = np.ascontiguousarray(x), np.ascontiguousarray(dy)
    dx = np.empty_like(x)
    for xs, dys, dxs in _chunks(x, dy, dx):
        e = np.exp(np.minimum(xs, _LINEAR_ABOVE))  # one exp for both factors
        n = e * (e + 2.0)
        ts = n / (n + 2.0)  # tanh(softplus(x))
        np.multiply(ts, ts, out=dxs)
        np.subtract(1.0, dxs, out=dxs)
        dxs *= xs
        dxs *= e / (e + 1.0)  # sigmoid(x)
        dxs += ts
        dxs *= dys
    return dx


mish_forward = twin(mish_forward_numpy, mish_forward_chunked)
mish_backward = twin(mish_backward_numpy, mish_backward_chunked)
