"""1-D convolution as matrix products, channels-last.

    y[b, t, o] = bias[o] + sum_{j, c} W[j, c, o] * x[b, t*stride + j - pad_left, c]

The weight is stored tap-major, (k, C_in, C_out): tap j's (C_in, C_out) matrix is
``W[j]``, the layout of the authors' Flax code. With
``cols[b, t, j*C_in + c] = x[b, t*stride + j - pad_left, c]`` (zero outside the
input: im2col) and ``W_mat = W.reshape(k*C_in, C_out)`` (a view, no copy) this is
``y = cols @ W_mat + bias``, so the two backward products are the transposed
matrix products, both on views of W:

    dL/dW_mat = cols^T @ dy          dL/dx = col2im(dy @ W_mat^T)

The forward pass does not build `cols` (k copies of the input). It multiplies
the input once by all k taps side by side, ``z = x @ W_taps`` with
``W_taps[c, j*C_out + o] = W[j, c, o]``, and sums the shifted tap outputs:

    y[b, t, o] = bias[o] + sample_bias[b, o] + sum_j z[b, t*stride + j - pad_left, j*C_out + o]

(`sample_bias` is the U-Net's per-trajectory noise-level projection, added in
the same pass.) Same products, same sum, less memory traffic.

The matrix products always go through NumPy's BLAS. The index shuffling around
them (im2col, its adjoint col2im, the shifted sum) is the kernel: a NumPy twin
that reads like the definition, and a Numba copy that does it in one fused loop.
"""
import numpy as np
from numba import njit

from ..backend import twin


def output_length(length, kernel_size, stride, pad_left, pad_right):
    return (length + pad_left + pad_right - kernel_size) // stride + 1


def weight_matrix(weight):
    """(k, C_in, C_out) weight -> the (k*C_in, C_out) matrix W_mat, a view."""
    k, c_in, c_out = weight.shape
    return weight.reshape(k * c_in, c_out)


def tap_matrix(weight):
    """(k, C_in, C_out) weight -> (C_in, k*C_out) matrix, W_taps[c, j*C_out + o] = W[j, c, o]
    (the k tap matrices copied side by side)."""
    k, c_in, c_out = weight.shape
    return np.ascontiguousarray(weight.transpose(1, 0, 2)).reshape(c_in, k * c_out)


# ------------------------------------------------------------- im2col / col2im
def im2col_numpy(x, kernel_size, stride, pad_left, l_out):
    """x: (B, L, C) -> cols: (B, L_out, k*C), zero where the window leaves x."""
    batch, length, channels = x.shape
    pad_right = max(0, (l_out - 1) * stride + kernel_size - pad_left - length)
    padded = np.pad(x, ((0, 0), (pad_left, pad_right), (0, 0)))
    index = stride * np.arange(l_out)[:, None] + np.arange(kernel_size)[None, :]
    return padded[:, index, :].reshape(batch, l_out, kernel_size * channels)


@njit(cache=True, error_model="numpy", nogil=True)
def im2col_numba(x, kernel_size, stride, pad_left, l_out):
    batch, length, channels = x.shape
    cols = np.empty((batch, l_out, kernel_size * channels), x.dtype)
    for b in range(batch):
        for t in range(l_out):
            for j in range(kernel_size):
                src, base = t * stride + j - pad_left, j * channels
                if 0 <= src < length:
                    for c in range(channels):
                        cols[b, t, base + c] = x[b, src, c]
                else:
                    for c in range(channels):
                        cols[b, t, base + c] = 0.0
    return cols


def col2im_numpy(dcols, length, kernel_size, stride, pad_left):
    """Adjoint of im2col: dcols (B, L_out, k*C) -> dx (B, L, C), overlaps summed."""
    batch, l_out, kc = dcols.shape
    channels = kc // kernel_size
    dcols = dcols.reshape(batch, l_out, kernel_size, channels)
    span = max(length + pad_left, (l_out - 1) * stride + kernel_size)
    dpadded = np.zeros((batch, span, channels), dcols.dtype)
    for j in range(kernel_size):
        dpadded[:, j : j + stride * (l_out - 1) + 1 : stride] += dcols[:, :, j]
    return np.ascontiguousarray(dpadded[:, pad_left : pad_left + length])


@njit(cache=True, error_model="numpy", nogil=True)
def col2im_numba(dcols, length, kernel_size, stride, pad_left):
    batch, l_out, kc = dcols.shape
    channels = kc // kernel_size
    dx = np.zeros((batch, length, channels), dcols.dtype)
    for b in range(batch):
        for t in range(l_out):
            for j in range(kernel_size):
                dst = t * stride + j - pad_left
                if 0 <= dst < length:
                    for c in range(channels):
                        dx[b, dst, c] += dcols[b, t, j * channels + c]
    return dx


def shifted_sum_numpy(z, bias, sample_bias, l_out, kernel_size, stride, pad_left):
    """z: (B, L, k*C_out) tap outputs -> y (B, L_out, C_out),
    y[b, t] = bias + sample_bias[b] + sum_j z[b, t*stride + j - pad_left, tap j] (taps outside x add nothing)."""
    batch, length, kc = z.shape
    c_out = kc // kernel_size
    z = z.reshape(batch, length, kernel_size, c_out)
    y = np.empty((batch, l_out, c_out), z.dtype)
    y[...] = bias + sample_bias[:, None, :]
    t = np.arange(l_out)
    for j in range(kernel_size):
        src = t * stride + j - pad_left
        inside = (src >= 0) & (src < length)
        y[:, t[inside]] += z[:, src[inside], j]
    return y


@njit(cache=True, error_model="numpy", nogil=True)
def shifted_sum_numba(z, bias, sample_bias, l_out, kernel_size, stride, pad_left):
    batch, length, kc = z.shape
    c_out = kc // kernel_size
    y = np.empty((batch, l_out, c_out), z.dtype)
    for b in range(batch):
        for t in range(l_out):
            for o in range(c_out):
                y[b, t, o] = bias[o] + sample_bias[b, o]
            for j in range(kernel_size):
                src, base = t * stride + j - pad_left, j * c_out
                if 0 <= src < length:
                    for o in range(c_out):
                        y[b, t, o] += z[b, src, base + o]
    return y


im2col = twin(im2col_numpy, im2col_numba)
col2im = twin(col2im_numpy, col2im_numba)
shifted_sum = twin(shifted_sum_numpy, shifted_sum_numba)


def _is_pointwise(kernel_size, stride, pad_left, pad_right):
    return kernel_size == 1 and stride == 1 and pad_left == 0 and pad_right == 0


# ------------------------------------------------------------- the three products
def conv1d_forward(x, w_taps, bias, sample_bias, kernel_size, stride, pad_left, pad_right):
    """x: (B, L, C_in), w_taps: (C_in, k*C_out), bias: (C_out,), sample_bias: (B, C_out) or None
    -> y: (B, L_out, C_out) = conv(x) + bias + sample_bias[:, None, :]."""
    batch, length, c_in = x.shape
    c_out = w_taps.shape[1] // kernel_size
    if _is_pointwise(kernel_size, stride, pad_left, pad_right):  # a 1x1 convolution needs no shifting
        y = x.reshape(-1, c_in) @ w_taps
        y += bias
        y = y.reshape(batch, length, c_out)
        if sample_bias is not None:
            y += sample_bias[:, None, :]
        return y
    z = (x.reshape(-1, c_in) @ w_taps).reshape(batch, length, kernel_size * c_out)  # every tap at every row
    if sample_bias is None:
        sample_bias = np.zeros((batch, c_out), x.dtype)
    l_out = output_length(length, kernel_size, stride, pad_left, pad_right)
    return shifted_sum(z, bias, sample_bias, l_out, kernel_size, stride, pad_left)


def conv1d_backward_input(dy, w_mat, length, kernel_size, stride, pad_left, pad_right):
    """dL/dx = col2im(dy @ W_mat^T): dy (B, L_out, C_out) -> dx (B, L, C_in)."""
    # BEGIN ASSIGNMENT conv1d-backward
    dcols = dy.reshape(-1, w_mat.shape[1]) @ w_mat.T
    dcols = dcols.reshape(dy.shape[0], dy.shape[1], w_mat.shape[0])
    if _is_pointwise(kernel_size, stride, pad_left, pad_right):
        return dcols
    return col2im(dcols, length, kernel_size, stride, pad_left)
    # END ASSIGNMENT


def conv1d_columns(x, kernel_size, stride, pad_left, pad_right):
    """cols (B*L_out, k*C_in) = im2col(x), the left factor of the weight gradient."""
    if _is_pointwise(kernel_size, stride, pad_left, pad_right):
        return x.reshape(-1, x.shape[2])  # a 1x1 convolution needs no shuffling
    l_out = output_length(x.shape[1], kernel_size, stride, pad_left, pad_right)
    return im2col(x, kernel_size, stride, pad_left, l_out).reshape(-1, kernel_size * x.shape[2])


def conv1d_backward_weight(dy, cols, kernel_size):
    """dL/dW = cols^T @ dy in the weight's (k, C_in, C_out) layout, and dL/dbias = sum of dy."""
    # BEGIN ASSIGNMENT conv1d-backward
    dy = dy.reshape(-1, dy.shape[-1])
    dw_mat = cols.T @ dy  # (k*C_in, C_out) = W_mat's shape
    return dw_mat.reshape(kernel_size, -1, dy.shape[1]), dy.sum(axis=0)
    # END ASSIGNMENT
