"""One in-place Adam update (Kingma & Ba, 2015) of a parameter array.

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
    p <- p - lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)
"""
import numpy as np
from numba import njit

from ..backend import twin


def adam_update_numpy(param, grad, m, v, lr, beta1, beta2, eps, step):
    m *= beta1
    m += (1.0 - beta1) * grad
    v *= beta2
    v += (1.0 - beta2) * grad * grad
    m_hat = m / (1.0 - beta1**step)
    v_hat = v / (1.0 - beta2**step)
    param -= (lr * m_hat / (np.sqrt(v_hat) + eps)).astype(param.dtype)


@njit(cache=True, error_model="numpy", nogil=True)
def adam_update_numba(param, grad, m, v, lr, beta1, beta2, eps, step):
    # the same update with the bias corrections folded into two scalars;
    # one pass over memory, which is what bounds its speed
    step_size = lr / (1.0 - beta1**step)
    inv_sqrt_correction2 = 1.0 / np.sqrt(1.0 - beta2**step)
    p, g, mf, vf = param.ravel(), grad.ravel(), m.ravel(), v.ravel()
    for i in range(p.size):
        mf[i] = beta1 * mf[i] + (1.0 - beta1) * g[i]
        vf[i] = beta2 * vf[i] + (1.0 - beta2) * g[i] * g[i]
        p[i] -= step_size * mf[i] / (np.sqrt(vf[i]) * inv_sqrt_correction2 + eps)


adam_update = twin(adam_update_numpy, adam_update_numba)
