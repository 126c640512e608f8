"""Every fast kernel (Numba; Mish: chunked NumPy) agrees with its NumPy twin, in float32 and float64."""
import numpy as np
import pytest

from minipgd.nn import kernels
from minipgd.nn.backend import set_backend, use_backend
from minipgd.nn.kernels.mish import CHUNK
from minipgd.nn.kernels.conv1d import col2im, conv1d_columns, im2col, output_length, shifted_sum, tap_matrix, weight_matrix

DTYPES = [np.float32, np.float64]


def both(fn, *args):
    """Run a dispatched kernel with each backend on copies of the arguments."""
    results = []
    for name in ("numpy", "numba"):
        with use_backend(name):
            copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            out = fn(*copies)
            results.append((out, copies))
    return results


def assert_close(a, b, dtype):
    a, b = (a,) if isinstance(a, np.ndarray) else a, (b,) if isinstance(b, np.ndarray) else b
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for x, y in zip(a, b):
        assert x.dtype == dtype and y.dtype == dtype
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


CONV_CASES = [(3, 1, 1, 1), (2, 1, 0, 1), (1, 1, 0, 0), (3, 2, 1, 1), (4, 3, 2, 0), (5, 1, 0, 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, stride, pad_left, pad_right", CONV_CASES)
def test_conv1d_products_agree(rng, dtype, k, stride, pad_left, pad_right):
    x = rng.standard_normal((3, 11, 4)).astype(dtype)
    w = rng.standard_normal((k, 4, 6)).astype(dtype)  # (k, C_in, C_out)
    w_mat, w_taps = weight_matrix(w), tap_matrix(w)
    b, sample_b = rng.standard_normal(6).astype(dtype), rng.standard_normal((3, 6)).astype(dtype)
    l_out = output_length(11, k, stride, pad_left, pad_right)
    dy = rng.standard_normal((3, l_out, 6)).astype(dtype)
    geometry = (k, stride, pad_left, pad_right)
    (y_np, _), (y_nb, _) = both(kernels.conv1d_forward, x, w_taps, b, sample_b, *geometry)
    assert y_np.shape == (3, l_out, 6)
    assert_close(y_np, y_nb, dtype)
    (cols_np, _), (cols_nb, _) = both(conv1d_columns, x, k, stride, pad_left, pad_right)
    assert_close(cols_np, cols_nb, dtype)
    # the shifted tap products are the im2col product: y = cols @ W_mat + bias + sample_bias
    expected = (cols_np @ w_mat).reshape(y_np.shape) + b + sample_b[:, None, :]
    assert_close(y_nb, expected, dtype)
    (z_np, _), (z_nb, _) = both(shifted_sum, rng.standard_normal((3, 11, 6 * k)).astype(dtype), b, sample_b,
                                l_out, k, stride, pad_left)
    assert_close(z_np, z_nb, dtype)
    (dx_np, _), (dx_nb, _) = both(kernels.conv1d_backward_input, dy, w_mat, 11, k, stride, pad_left, pad_right)
    assert dx_np.shape == x.shape
    assert_close(dx_np, dx_nb, dtype)


def test_conv1d_matches_direct_definition(rng):
    """y[b,t,o] = bias[o] + sum_{j,c} W[j,c,o] x[b, t*s + j - pad_left, c], written as plain loops."""
    x, w, b = rng.standard_normal((2, 7, 3)), rng.standard_normal((3, 3, 4)), rng.standard_normal(4)
    stride, pad_left, pad_right = 2, 1, 1
    for name in ("numpy", "numba"):
        with use_backend(name):
            y = kernels.conv1d_forward(x, tap_matrix(w), b, None, 3, stride, pad_left, pad_right)
        expected = np.zeros_like(y)
        for bi in range(2):
            for t in range(y.shape[1]):
                for o in range(4):
                    expected[bi, t, o] = b[o]
                    for j in range(3):
                        src = t * stride + j - pad_left
                        if 0 <= src < 7:
                            expected[bi, t, o] += w[j, :, o] @ x[bi, src]
        np.testing.assert_allclose(y, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_and_col2im_are_adjoint(rng, dtype):
    """<im2col(x), c> == <x, col2im(c)> for each backend."""
    x = rng.standard_normal((2, 9, 3)).astype(dtype)
    l_out = output_length(9, 4, 2, 2, 1)
    c = rng.standard_normal((2, l_out, 12)).astype(dtype)
    for name in ("numpy", "numba"):
        with use_backend(name):
            lhs = np.vdot(im2col(x, 4, 2, 2, l_out), c)
            rhs = np.vdot(x, col2im(c, 9, 4, 2, 2))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_group_norm_agrees(rng, dtype):
    x = (3 + 2 * rng.standard_normal((4, 5, 16))).astype(dtype)
    gamma, beta = rng.standard_normal(16).astype(dtype), rng.standard_normal(16).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    (fwd_np, _), (fwd_nb, _) = both(kernels.group_norm_forward, x, gamma, beta, 4, 1e-6)
    assert_close(fwd_np, fwd_nb, dtype)
    _, mean, rstd = fwd_np
    (bwd_np, _), (bwd_nb, _) = both(kernels.group_norm_backward, dy, x, gamma, mean, rstd, 4)
    assert_close(bwd_np, bwd_nb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_group_norm_relu_agrees_and_is_relu_of_group_norm(rng, dtype):
    x = rng.standard_normal((3, 5, 8)).astype(dtype)
    gamma, beta = rng.standard_normal(8).astype(dtype), rng.standard_normal(8).astype(dtype)
    dout = rng.standard_normal(x.shape).astype(dtype)
    ((out_np, m_np, r_np), _), ((out_nb, m_nb, r_nb), _) = both(kernels.group_norm_relu_forward, x, gamma, beta, 2, 1e-6)
    assert_close((out_np, m_np, r_np), (out_nb, m_nb, r_nb), dtype)
    y, _, _ = kernels.group_norm_forward(x, gamma, beta, 2, 1e-6)
    assert_close(out_np, np.maximum(y, 0), dtype)
    (grads_np, _), (grads_nb, _) = both(kernels.group_norm_relu_backward, dout, out_np, x, gamma, m_np, r_np, 2)
    assert_close(grads_np, grads_nb, dtype)
    unfused, _ = both(kernels.group_norm_backward, dout * (out_np > 0), x, gamma, m_np, r_np, 2)[1]
    assert_close(grads_nb, unfused, dtype)


def test_group_norm_output_is_normalized(rng):
    x = 5 + 3 * rng.standard_normal((2, 6, 8))
    y, _, _ = kernels.group_norm_forward(x, np.ones(8), np.zeros(8), 2, 1e-6)
    groups = y.reshape(2, 6, 2, 4)
    np.testing.assert_allclose(groups.mean(axis=(1, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(groups.var(axis=(1, 3)), 1, rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [200, 3 * CHUNK + 17], ids=["small", "several-chunks"])
def test_mish_agrees(rng, dtype, size):
    """The readable definition and the fast copy (NumPy in cache-sized chunks, kernels/mish.py)."""
    x = np.concatenate([8 * rng.standard_normal(size), [-100.0, -20.0, 0.0, 20.0, 100.0]]).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    (y_np, _), (y_nb, _) = both(kernels.mish_forward, x.reshape(5, -1))
    assert_close(y_np, y_nb, dtype)
    (dx_np, _), (dx_nb, _) = both(kernels.mish_backward, dy.reshape(5, -1), x.reshape(5, -1))
    assert_close(dx_np, dx_nb, dtype)
    (y_np, _), (y_nb, _) = both(kernels.mish_forward, x.reshape(5, -1).T)  # a strided view, not C-contiguous
    assert_close(y_np, y_nb, dtype)
    (dx_np, _), (dx_nb, _) = both(kernels.mish_backward, dy.reshape(5, -1).T, x.reshape(5, -1).T)
    assert_close(dx_np, dx_nb, dtype)


def test_mish_matches_its_definition(rng):
    x = 5 * rng.standard_normal(100)
    np.testing.assert_allclose(kernels.mish_forward(x), x * np.tanh(np.log1p(np.exp(x))), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_agrees(rng, dtype):
    p, g = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
    m, v = rng.standard_normal((3, 4)).astype(dtype), rng.random((3, 4)).astype(dtype)
    (_, after_np), (_, after_nb) = both(kernels.adam_update, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 7)
    for a, b in zip(after_np[:4], after_nb[:4]):
        assert_close(a, b, dtype)
    assert not np.allclose(after_np[0], p), "the parameter was not updated in place"


def test_backend_switch_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown backend"):
        set_backend("cuda")
