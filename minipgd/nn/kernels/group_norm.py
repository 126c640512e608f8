"""Group normalization (Wu & He, 2018), channels-last x: (B, L, C), G groups.

Each sample's channels are split into G groups of C/G; a group is normalized over
its C/G channels and all L positions:

    x_hat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),  y = gamma * x_hat + beta

Backward, with n = L * C/G and means taken over a group:

    dL/dgamma = sum(dy * x_hat),  dL/dbeta = sum(dy),  g = dy * gamma
    dL/dx     = rstd * (g - mean(g) - x_hat * mean(g * x_hat))
"""
import numpy as np
from numba import njit

from ..backend import twin


def group_norm_forward_numpy(x, gamma, beta, groups, eps):
    """-> y (B, L, C), mean (B, G), rstd (B, G)."""
    batch, length, channels = x.shape
    xg = x.reshape(batch, length, groups, channels // groups)
    mean = xg.mean(axis=(1, 3))
    rstd = 1.0 / np.sqrt(xg.var(axis=(1, 3)) + eps)
    x_hat = (xg - mean[:, None, :, None]) * rstd[:, None, :, None]
    y = x_hat.reshape(x.shape) * gamma + beta
    return y, mean, rstd


def group_norm_backward_numpy(dy, x, gamma, mean, rstd, groups):
    """-> dx (B, L, C), dgamma (C,), dbeta (C,)."""
    batch, length, channels = x.shape
    shape = (batch, length, groups, channels // groups)
    x_hat = (x.reshape(shape) - mean[:, None, :, None]) * rstd[:, None, :, None]
    dgamma = (dy * x_hat.reshape(x.shape)).sum(axis=(0, 1))
    dbeta = dy.sum(axis=(0, 1))
    g = (dy * gamma).reshape(shape)
    dx = rstd[:, None, :, None] * (
        g - g.mean(axis=(1, 3), keepdims=True) - x_hat * (g * x_hat).mean(axis=(1, 3), keepdims=True)
    )
    return dx.reshape(x.shape), dgamma, dbeta


@njit(cache=True)
def group_norm_forward_numba(x, gamma, beta, groups, eps):
    batch, length, channels = x.shape
    size = channels // groups
    n = length * size
    y = np.empty_like(x)
    mean = np.empty((batch, groups), x.dtype)
    rstd = np.empty((batch, groups), x.dtype)
    for b in range(batch):
        for g in range(groups):
            lo = g * size
            total = 0.0
            for t in range(length):
                for c in range(lo, lo + size):
                    total += x[b, t, c]
            mu = total / n
            total = 0.0
            for t in range(length):
                for c in range(lo, lo + size):
                    total += (x[b, t, c] - mu) ** 2
            r = 1.0 / np.sqrt(total / n + eps)
            mean[b, g] = mu
            rstd[b, g] = r
            for t in range(length):
                for c in range(lo, lo + size):
                    y[b, t, c] = (x[b, t, c] - mu) * r * gamma[c] + beta[c]
    return y, mean, rstd


@njit(cache=True)
def group_norm_backward_numba(dy, x, gamma, mean, rstd, groups):
    batch, length, channels = x.shape
    size = channels // groups
    n = length * size
    dx = np.empty_like(x)
    dgamma = np.zeros(channels, x.dtype)
    dbeta = np.zeros(channels, x.dtype)
    for b in range(batch):
        for g in range(groups):
            lo = g * size
            mu = mean[b, g]
            r = rstd[b, g]
            sum_g = 0.0
            sum_gx = 0.0
            for t in range(length):
                for c in range(lo, lo + size):
                    x_hat = (x[b, t, c] - mu) * r
                    dgamma[c] += dy[b, t, c] * x_hat
                    dbeta[c] += dy[b, t, c]
                    sum_g += dy[b, t, c] * gamma[c]
                    sum_gx += dy[b, t, c] * gamma[c] * x_hat
            mean_g = sum_g / n
            mean_gx = sum_gx / n
            for t in range(length):
                for c in range(lo, lo + size):
                    x_hat = (x[b, t, c] - mu) * r
                    dx[b, t, c] = r * (dy[b, t, c] * gamma[c] - mean_g - x_hat * mean_gx)
    return dx, dgamma, dbeta


group_norm_forward = twin(group_norm_forward_numpy, group_norm_forward_numba)
group_norm_backward = twin(group_norm_backward_numpy, group_norm_backward_numba)
