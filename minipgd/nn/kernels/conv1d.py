"""1-D convolution over time-major sequences, as one matrix product per tap.

    y[t, b, o] = bias[o] + sum_{j, c} x[t + j - pad_left, b, c] W[j, c, o]      (x is zero outside 0..L-1)

Arrays are time-major, (L, B, C): time step t of every sample is the block of
rows x[t], and time steps t0..t1-1 are one contiguous block of rows,
``x[t0:t1].reshape(-1, C)``. Tap j of the convolution is then one matrix product
on a block of rows, added into the output's rows j - pad_left time steps earlier:

    y[t0:t1]       += x[t0 + s : t1 + s] @ W[j]          forward        (s = j - pad_left)
    dL/dW[j]       += x[t0 + s : t1 + s]^T @ dy[t0:t1]   weight gradient
    dx[t0+s:t1+s]  += dy[t0:t1] @ W[j]^T                  input gradient

where t0..t1-1 are the output time steps whose input t + s exists (`tap_steps`):
the zero padding is never multiplied. The weight is stored tap-major,
(k, C_in, C_out), so W[j] is tap j's matrix as it lies (the layout of the
authors' Flax code). Each ``+=`` adds the product into its output in place
(`gemm.py`), so there is no im2col matrix (k copies of the input) and no
temporary per tap.

The NumPy twin is the definition. The Numba copy is the same loop compiled, each
``+=`` one BLAS gemm call: at the U-Net's small shapes (batch 16, 32 channels) a
convolution's Python around its k products cost as much as the products.
"""
import numpy as np
from numba import njit

from ..backend import twin
from .gemm import add_product_blas, add_product_numpy, gemm_serves


def output_length(length, kernel_size, pad_left, pad_right):
    return length + pad_left + pad_right - kernel_size + 1


def tap_steps(j, length, l_out, pad_left):
    """(t0, t1, s): tap j adds input steps t + s into output steps t0 <= t < t1, s = j - pad_left."""
    s = j - pad_left
    return max(0, -s), min(l_out, length - s), s


def _rows(a, t0, t1):
    """Time steps t0..t1-1 of a time-major (L, B, C) array as a (rows, C) matrix (a view)."""
    return a[t0:t1].reshape(-1, a.shape[2])


# the same helpers compiled, for the Numba copies
_output_length, _tap_steps, _rows_of = (njit(cache=True)(f) for f in (output_length, tap_steps, _rows))


def conv1d_forward_numpy(x, weight, bias, sample_bias, pad_left, pad_right):
    """x: (L, B, C_in), weight: (k, C_in, C_out), bias: (C_out,), sample_bias: (B, C_out) or None
    -> y: (L_out, B, C_out) = conv(x) + bias + sample_bias (the latter added at every time step)."""
    x = np.ascontiguousarray(x)
    (length, batch, _), (k, _, c_out) = x.shape, weight.shape
    l_out = output_length(length, k, pad_left, pad_right)
    y = np.empty((l_out, batch, c_out), x.dtype)
    y[...] = bias if sample_bias is None else bias + sample_bias
    for j in range(k):
        t0, t1, s = tap_steps(j, length, l_out, pad_left)
        if t0 < t1:
            add_product_numpy(_rows(y, t0, t1), _rows(x, t0 + s, t1 + s), weight[j])
    return y


def conv1d_backward_numpy(dy, x, weight, grad_weight, pad_left):
    """dy: dL/dy (L_out, B, C_out), x: the forward's input -> dL/dx (L, B, C_in) and dL/dbias (C_out,);
    dL/dW is added into `grad_weight` (k, C_in, C_out) in place."""
    dy = np.ascontiguousarray(dy)
    # BEGIN ASSIGNMENT conv1d-backward
    dx = np.zeros(x.shape, x.dtype)
    for j in range(weight.shape[0]):
        t0, t1, s = tap_steps(j, x.shape[0], dy.shape[0], pad_left)
        if t0 < t1:
            add_product_numpy(grad_weight[j], _rows(x, t0 + s, t1 + s).T, _rows(dy, t0, t1))  # dL/dW[j] += x^T dy
            add_product_numpy(_rows(dx, t0 + s, t1 + s), _rows(dy, t0, t1), weight[j].T)  # dL/dx += dy W[j]^T
    return dx, dy.sum(axis=(0, 1))
    # END ASSIGNMENT


@njit(cache=True, nogil=True)
def _conv1d_forward(x, weight, bias, sample_bias, pad_left, pad_right):
    (length, batch, _), (k, _, c_out) = x.shape, weight.shape
    l_out = _output_length(length, k, pad_left, pad_right)
    y = np.empty((l_out, batch, c_out), x.dtype)
    for t in range(l_out):
        for b in range(batch):
            for o in range(c_out):
                y[t, b, o] = bias[o] if sample_bias is None else bias[o] + sample_bias[b, o]
    for j in range(k):
        t0, t1, s = _tap_steps(j, length, l_out, pad_left)
        if t0 < t1:
            add_product_blas(_rows_of(y, t0, t1), _rows_of(x, t0 + s, t1 + s), weight[j])
    return y


@njit(cache=True, nogil=True)
def _conv1d_backward(dy, x, weight, grad_weight, pad_left):
    # BEGIN ASSIGNMENT conv1d-backward
    dx = np.zeros(x.shape, x.dtype)
    for j in range(weight.shape[0]):
        t0, t1, s = _tap_steps(j, x.shape[0], dy.shape[0], pad_left)
        if t0 < t1:
            add_product_blas(grad_weight[j], _rows_of(x, t0 + s, t1 + s).T, _rows_of(dy, t0, t1))  # dL/dW[j] += x^T dy
            add_product_blas(_rows_of(dx, t0 + s, t1 + s), _rows_of(dy, t0, t1), weight[j].T)  # dL/dx += dy W[j]^T
    dbias = np.zeros(dy.shape[2], dy.dtype)  # the sum over all rows, in row order (as NumPy's dy.sum(axis=(0, 1)))
    for t in range(dy.shape[0]):
        for b in range(dy.shape[1]):
            dbias += dy[t, b]
    return dx, dbias
    # END ASSIGNMENT


def conv1d_forward_numba(x, weight, bias, sample_bias, pad_left, pad_right):
    """The compiled loop where NumPy's gemm serves the arrays' dtype (float32, float64), else the NumPy twin."""
    if not gemm_serves(*(a for a in (x, weight, bias, sample_bias) if a is not None)):
        return conv1d_forward_numpy(x, weight, bias, sample_bias, pad_left, pad_right)
    return _conv1d_forward(np.ascontiguousarray(x), np.ascontiguousarray(weight), bias,
                           None if sample_bias is None else np.ascontiguousarray(sample_bias), pad_left, pad_right)


def conv1d_backward_numba(dy, x, weight, grad_weight, pad_left):
    """The compiled loop where NumPy's gemm serves the arrays' dtype and can add into `grad_weight` as it lies,
    else the NumPy twin."""
    if not (gemm_serves(dy, x, weight, grad_weight) and grad_weight.flags.c_contiguous):
        return conv1d_backward_numpy(dy, x, weight, grad_weight, pad_left)
    return _conv1d_backward(np.ascontiguousarray(dy), np.ascontiguousarray(x), np.ascontiguousarray(weight),
                            grad_weight, pad_left)


conv1d_forward = twin(conv1d_forward_numpy, conv1d_forward_numba)
conv1d_backward = twin(conv1d_backward_numpy, conv1d_backward_numba)
