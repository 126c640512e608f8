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
authors' Flax code). Each ``+=`` is one BLAS call that adds into its output in
place (`gemm.add_product`), so there is no im2col matrix (k copies of the input)
and no temporary per tap.
"""
import numpy as np

from .gemm import add_product


def output_length(length, kernel_size, pad_left, pad_right):
    return length + pad_left + pad_right - kernel_size + 1


def tap_steps(j, length, l_out, pad_left):
    """(t0, t1, s): tap j adds input steps t + s into output steps t0 <= t < t1, s = j - pad_left."""
    s = j - pad_left
    return max(0, -s), min(l_out, length - s), s


def _rows(a, t0, t1):
    """Time steps t0..t1-1 of a time-major (L, B, C) array as a (rows, C) matrix (a view)."""
    return a[t0:t1].reshape(-1, a.shape[2])


def conv1d_forward(x, weight, bias, sample_bias, pad_left, pad_right):
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
            add_product(_rows(y, t0, t1), _rows(x, t0 + s, t1 + s), weight[j])
    return y


def conv1d_backward(dy, x, weight, grad_weight, pad_left):
    """dy: dL/dy (L_out, B, C_out), x: the forward's input -> dL/dx (L, B, C_in) and dL/dbias (C_out,);
    dL/dW is added into `grad_weight` (k, C_in, C_out) in place."""
    dy = np.ascontiguousarray(dy)
    # BEGIN ASSIGNMENT conv1d-backward
    dx = np.zeros(x.shape, x.dtype)
    for j in range(weight.shape[0]):
        t0, t1, s = tap_steps(j, x.shape[0], dy.shape[0], pad_left)
        if t0 < t1:
            add_product(grad_weight[j], _rows(x, t0 + s, t1 + s).T, _rows(dy, t0, t1))  # dL/dW[j] += x^T dy
            add_product(_rows(dx, t0 + s, t1 + s), _rows(dy, t0, t1), weight[j].T)  # dL/dx += dy W[j]^T
    return dx, dy.sum(axis=(0, 1))
    # END ASSIGNMENT
