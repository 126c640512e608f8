"""Group normalization (Wu & He, 2018), time-major x: (L, B, C), G groups.

Each sample's channels are split into G groups of C/G; a group is normalized over
its C/G channels and all L positions:

    x_hat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),  y = gamma * x_hat + beta

Backward, with n = L * C/G and means taken over a group:

    dL/dgamma = sum(dy * x_hat),  dL/dbeta = sum(dy),  g = dy * gamma
    dL/dx     = rstd * (g - mean(g) - x_hat * mean(g * x_hat))

`group_norm_relu_forward` / `group_norm_relu_backward` fuse the ReLU that follows
every GroupNorm of the U-Net: out = max(y, 0), and backward masks the incoming
gradient, dL/dy = dL/dout * [out > 0], before the GroupNorm backward above. One
pass over the activations instead of two (the fused Numba loops), same result.
"""
import numpy as np
from numba import njit

from ..backend import twin


def group_norm_forward_numpy(x, gamma, beta, groups, eps):
    """-> y (L, B, C), mean (B, G), rstd (B, G)."""
    length, batch, channels = x.shape
    xg = x.reshape(length, batch, groups, channels // groups)
    mean = xg.mean(axis=(0, 3))
    rstd = 1.0 / np.sqrt(xg.var(axis=(0, 3)) + eps)
    x_hat = (xg - mean[None, :, :, None]) * rstd[None, :, :, None]
    y = x_hat.reshape(x.shape) * gamma + beta
    return y, mean, rstd


def group_norm_backward_numpy(dy, x, gamma, mean, rstd, groups):
    """-> dx (L, B, C), dgamma (C,), dbeta (C,)."""
    length, batch, channels = x.shape
    shape = (length, batch, groups, channels // groups)
    # BEGIN ASSIGNMENT group-norm-backward
    x_hat = (x.reshape(shape) - mean[None, :, :, None]) * rstd[None, :, :, None]
    dgamma = (dy * x_hat.reshape(x.shape)).sum(axis=(0, 1))
    dbeta = dy.sum(axis=(0, 1))
    g = (dy * gamma).reshape(shape)
    dx = rstd[None, :, :, None] * (
        g - g.mean(axis=(0, 3), keepdims=True) - x_hat * (g * x_hat).mean(axis=(0, 3), keepdims=True)
    )
    return dx.reshape(x.shape), dgamma, dbeta
    # END ASSIGNMENT


def group_norm_relu_forward_numpy(x, gamma, beta, groups, eps):
    """-> out = max(GroupNorm(x), 0) (L, B, C), mean (B, G), rstd (B, G)."""
    y, mean, rstd = group_norm_forward_numpy(x, gamma, beta, groups, eps)
    return np.maximum(y, 0), mean, rstd


def group_norm_relu_backward_numpy(dout, out, x, gamma, mean, rstd, groups):
    """dout = dL/d out, out = the forward's output -> dx, dgamma, dbeta."""
    dy = dout * (out > 0)  # d max(y, 0)/dy = 1 where y > 0
    return group_norm_backward_numpy(dy, x, gamma, mean, rstd, groups)


# The Numba copies go sample by sample with per-channel sums, so every inner loop
# runs over contiguous channels (x[t, b]); group statistics are folded into per-channel
# coefficients (work arrays allocated once) and applied in one affine pass.
@njit(cache=True, error_model="numpy", nogil=True)
def _spread_group_sums(per_channel, groups, out):
    """out[c] = sum of per_channel over c's group."""
    size = per_channel.size // groups
    for g in range(groups):
        total = 0.0
        for c in range(g * size, (g + 1) * size):
            total += per_channel[c]
        for c in range(g * size, (g + 1) * size):
            out[c] = total


@njit(cache=True, error_model="numpy", nogil=True)
def group_norm_forward_numba(x, gamma, beta, groups, eps):
    return _group_norm_forward_numba(x, gamma, beta, groups, eps, False)


@njit(cache=True, error_model="numpy", nogil=True)
def group_norm_relu_forward_numba(x, gamma, beta, groups, eps):
    return _group_norm_forward_numba(x, gamma, beta, groups, eps, True)


@njit(cache=True, error_model="numpy", nogil=True)
def _group_norm_forward_numba(x, gamma, beta, groups, eps, relu):
    """GroupNorm, then max(., 0) if `relu`, in the same final pass."""
    length, batch, channels = x.shape
    size = channels // groups
    n = length * size
    y = np.empty_like(x)
    mean = np.empty((batch, groups), x.dtype)
    rstd = np.empty((batch, groups), x.dtype)
    sums, mu, r = np.empty(channels), np.empty(channels), np.empty(channels)
    scale, shift = np.empty(channels, x.dtype), np.empty(channels, x.dtype)
    for b in range(batch):
        sums[:] = 0.0
        for t in range(length):
            for c in range(channels):
                sums[c] += x[t, b, c]
        _spread_group_sums(sums, groups, mu)
        for c in range(channels):
            mu[c] /= n
        sums[:] = 0.0
        for t in range(length):
            for c in range(channels):
                sums[c] += (x[t, b, c] - mu[c]) ** 2
        for g in range(groups):
            total = 0.0
            for c in range(g * size, (g + 1) * size):
                total += sums[c]
            r[g * size : (g + 1) * size] = 1.0 / np.sqrt(total / n + eps)
        for c in range(channels):
            scale[c] = r[c] * gamma[c]
            shift[c] = beta[c] - mu[c] * r[c] * gamma[c]
        for t in range(length):
            for c in range(channels):
                v = x[t, b, c] * scale[c] + shift[c]
                y[t, b, c] = max(v, 0.0) if relu else v
        for g in range(groups):
            mean[b, g] = mu[g * size]
            rstd[b, g] = r[g * size]
    return y, mean, rstd


@njit(cache=True, error_model="numpy", nogil=True)
def group_norm_backward_numba(dy, x, gamma, mean, rstd, groups):
    return _group_norm_backward_numba(dy, dy, x, gamma, mean, rstd, groups, False)


@njit(cache=True, error_model="numpy", nogil=True)
def group_norm_relu_backward_numba(dout, out, x, gamma, mean, rstd, groups):
    return _group_norm_backward_numba(dout, out, x, gamma, mean, rstd, groups, True)


@njit(cache=True, error_model="numpy", nogil=True)
def _group_norm_backward_numba(dy, out, x, gamma, mean, rstd, groups, relu):
    """GroupNorm backward; if `relu`, dy is dL/d max(y, 0) and is masked by out > 0 on the fly."""
    length, batch, channels = x.shape
    size = channels // groups
    # BEGIN ASSIGNMENT group-norm-backward
    n = length * size
    inv_n = 1.0 / n
    dx = np.empty_like(x)
    dgamma, dbeta = np.zeros(channels), np.zeros(channels)
    sum_dy, sum_dy_xhat = np.empty(channels), np.empty(channels)
    mean_g, mean_gx = np.empty(channels), np.empty(channels)
    mu, r = np.empty(channels), np.empty(channels)
    a, s, o = np.empty(channels, x.dtype), np.empty(channels, x.dtype), np.empty(channels, x.dtype)
    for b in range(batch):
        for c in range(channels):
            mu[c] = mean[b, c // size]
            r[c] = rstd[b, c // size]
        sum_dy[:] = 0.0
        sum_dy_xhat[:] = 0.0
        for t in range(length):
            for c in range(channels):
                d = dy[t, b, c] if not relu or out[t, b, c] > 0 else 0.0  # dL/dy, through the ReLU
                sum_dy[c] += d
                sum_dy_xhat[c] += d * (x[t, b, c] - mu[c]) * r[c]
        for c in range(channels):
            dgamma[c] += sum_dy_xhat[c]
            dbeta[c] += sum_dy[c]
        # with g = dy * gamma: mean(g) and mean(g * x_hat) over each group
        for c in range(channels):
            sum_dy[c] *= gamma[c]
            sum_dy_xhat[c] *= gamma[c]
        _spread_group_sums(sum_dy, groups, mean_g)
        _spread_group_sums(sum_dy_xhat, groups, mean_gx)
        # dx = r (g - mean(g) - x_hat mean(g x_hat)) = a dy + s x + o, per channel
        for c in range(channels):
            a[c] = r[c] * gamma[c]
            s[c] = -r[c] * r[c] * mean_gx[c] * inv_n
            o[c] = -r[c] * mean_g[c] * inv_n + mu[c] * r[c] * r[c] * mean_gx[c] * inv_n
        for t in range(length):
            for c in range(channels):
                d = dy[t, b, c] if not relu or out[t, b, c] > 0 else 0.0
                dx[t, b, c] = a[c] * d + s[c] * x[t, b, c] + o[c]
    return dx, dgamma.astype(x.dtype), dbeta.astype(x.dtype)
    # END ASSIGNMENT


group_norm_forward = twin(group_norm_forward_numpy, group_norm_forward_numba)
group_norm_backward = twin(group_norm_backward_numpy, group_norm_backward_numba)
group_norm_relu_forward = twin(group_norm_relu_forward_numpy, group_norm_relu_forward_numba)
group_norm_relu_backward = twin(group_norm_relu_backward_numpy, group_norm_relu_backward_numba)
