"""Every fast kernel (Numba; Mish: chunked NumPy; add_product: BLAS from Numba) agrees with its NumPy twin, in
float32 and float64."""
import numpy as np
import pytest

from minipgd.nn import kernels
from minipgd.nn.backend import set_backend, use_backend
from minipgd.nn.kernels.mish import CHUNK
from minipgd.nn.kernels import gemm
from minipgd.nn.kernels.conv1d import output_length

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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["rows", "a transposed", "b transposed", "row blocks"])
def test_add_product_agrees(rng, dtype, layout):
    """out += a @ b: the NumPy twin and the BLAS call (gemm with beta = 1), on the operand layouts the
    convolution hands it: blocks of rows of larger arrays and transposed views."""
    a0, b0, out0 = (rng.standard_normal(shape).astype(dtype) for shape in [(20, 7), (7, 5), (20, 5)])
    a_t, b_t = np.ascontiguousarray(a0.T), np.ascontiguousarray(b0.T)

    def operands(out):  # fresh views of the same numbers, in the layout under test
        if layout == "row blocks":
            return out[3:16], a0[3:16], b0
        return out[:13], (a_t.T if layout == "a transposed" else a0)[:13], b_t.T if layout == "b transposed" else b0

    rows = slice(3, 16) if layout == "row blocks" else slice(0, 13)
    expected = out0[rows].astype(np.float64) + a0[rows].astype(np.float64) @ b0
    results = []
    for fn in (gemm.add_product_numpy, gemm.add_product_blas):
        out = out0.copy()
        fn(*operands(out))
        results.append(operands(out)[0])
    assert_close(results[0], results[1], dtype)
    assert_close(results[1], expected.astype(dtype), dtype)


def _numpy_blas_name():
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except (TypeError, KeyError):  # NumPy 1's show_config has no dicts mode
        return None


@pytest.mark.skipif(_numpy_blas_name() != "scipy-openblas", reason="NumPy is not a wheel build with scipy-openblas")
def test_numpy_wheels_gemm_is_found():
    """With NumPy's own wheels, the kernels reach BLAS's gemm (a silent fallback would only be slower)."""
    assert gemm._FOUND and gemm.gemm_serves(np.zeros(1, np.float32), np.zeros(2, np.float32))


def test_gemm_serves_one_float_dtype_only():
    f32, f64 = np.zeros(2, np.float32), np.zeros(2, np.float64)
    assert not gemm.gemm_serves(f32, f64) and not gemm.gemm_serves(np.zeros(2, np.float16))
    assert gemm.gemm_serves(f64, f64) == gemm._FOUND


def test_add_product_blas_refuses_views_gemm_cannot_read(rng):
    """A broadcast operand (stride 0), a reversed one and an output with strided rows are refused, not misread."""
    out, a = np.zeros((4, 3), np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    row = np.broadcast_to(rng.standard_normal((1, 3)).astype(np.float32), (2, 3))
    for operand in (row, rng.standard_normal((2, 3)).astype(np.float32)[::-1]):
        with pytest.raises(ValueError, match="unit stride"):
            gemm.add_product_blas(out, a, operand)
    with pytest.raises(ValueError, match="unit stride along its rows"):
        gemm.add_product_blas(np.zeros((4, 6), np.float32)[:, ::2], a, row.copy())
    assert not out.any()


def test_add_product_writes_in_place_and_checks_shapes(rng):
    out, a, b = np.zeros((4, 3), np.float32), np.ones((4, 2), np.float32), np.ones((2, 3), np.float32)
    for fn in (gemm.add_product_numpy, gemm.add_product_blas):
        rows = out[1:3]
        fn(rows, a[:2], b)
        with pytest.raises(ValueError, match="do not fit"):
            fn(out, a, b.T)
    np.testing.assert_array_equal(out, [[0, 0, 0], [4, 4, 4], [4, 4, 4], [0, 0, 0]])  # both calls added 2


def conv_loops(x, w, b, pad_left, pad_right):
    """y[t,b,o] = bias[o] + sum_{j,c} W[j,c,o] x[t + j - pad_left, b, c], written as plain loops."""
    length, batch, _ = x.shape
    l_out = output_length(length, w.shape[0], pad_left, pad_right)
    y = np.zeros((l_out, batch, w.shape[2]))
    for t in range(l_out):
        for bi in range(batch):
            y[t, bi] = b
            for j in range(w.shape[0]):
                if 0 <= t + j - pad_left < length:
                    y[t, bi] += x[t + j - pad_left, bi] @ w[j]
    return y


CONV_CASES = [(3, 1, 1), (2, 0, 1), (1, 0, 0), (4, 2, 0), (5, 0, 0), (3, 4, 2)]  # (k, pad_left, pad_right)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, pad_left, pad_right", CONV_CASES)
def test_conv1d_matches_direct_definition(rng, dtype, k, pad_left, pad_right):
    """Forward against the loops; backward against the adjoint of the loops (dL/dW and dL/dx of L = <y, dy>),
    written with an explicit im2col matrix; with each backend."""
    x, w = rng.standard_normal((7, 3, 4)).astype(dtype), rng.standard_normal((k, 4, 6)).astype(dtype)
    b, sample_b = rng.standard_normal(6).astype(dtype), rng.standard_normal((3, 6)).astype(dtype)
    l_out = output_length(7, k, pad_left, pad_right)
    dy = rng.standard_normal((l_out, 3, 6)).astype(dtype)
    padded = np.pad(x.astype(np.float64), ((pad_left, max(0, l_out + k - 1 - pad_left - 7)), (0, 0), (0, 0)))
    cols = np.stack([padded[j : j + l_out] for j in range(k)], axis=2)  # (L_out, B, k, C_in)
    expected_dw = np.einsum("tbjc,tbo->jco", cols, dy)
    dcols = np.einsum("tbo,jco->tbjc", dy, w)
    expected_dx = np.zeros_like(padded)
    for j in range(k):
        expected_dx[j : j + l_out] += dcols[:, :, j]
    expected_dx = expected_dx[pad_left : pad_left + 7]
    for name in ("numpy", "numba"):
        with use_backend(name):
            y = kernels.conv1d_forward(x, w, b, sample_b, pad_left, pad_right)
            grad_w = np.full(w.shape, 0.5, dtype)  # the weight gradient is added to what is there
            dx, db = kernels.conv1d_backward(dy, x, w, grad_w, pad_left)
        assert y.dtype == dx.dtype == grad_w.dtype == dtype
        assert_close(y, (conv_loops(x, w, b, pad_left, pad_right) + sample_b).astype(dtype), dtype)
        assert_close(grad_w, (expected_dw + 0.5).astype(dtype), dtype)
        assert_close(dx, expected_dx.astype(dtype), dtype)
        assert_close(db, dy.sum(axis=(0, 1)), dtype)


def test_conv1d_fast_copy_on_views_without_sample_bias_and_other_dtypes(rng):
    """The Numba copy against the twin on non-contiguous x and dy (the decoder's un-concatenated gradient), with no
    per-sample bias; float16, which gemm does not serve, goes through the NumPy twin with the same result."""
    x = rng.standard_normal((6, 3, 8)).astype(np.float32)[:, :, ::2]
    w, b = rng.standard_normal((3, 4, 5)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    dy = rng.standard_normal((6, 3, 10)).astype(np.float32)[:, :, :5]
    for dtype, tol in ((np.float32, 2e-5), (np.float16, 0)):
        args = (x.astype(dtype), w.astype(dtype), b.astype(dtype))
        y_np, y_nb = (fn(*args, None, 1, 1) for fn in (kernels.conv1d_forward.numpy, kernels.conv1d_forward.numba))
        grads = [np.zeros(w.shape, dtype) for _ in range(2)]
        back = [fn(dy.astype(dtype), args[0], args[1], g, 1) for fn, g in
                zip((kernels.conv1d_backward.numpy, kernels.conv1d_backward.numba), grads)]
        for ours, theirs in ((y_np, y_nb), (back[0][0], back[1][0]), (back[0][1], back[1][1]), tuple(grads)):
            assert ours.dtype == theirs.dtype == dtype
            np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


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
    (fwd_np, _), (fwd_nb, _) = both(kernels.group_norm_relu_forward, x, gamma, beta, 2, 1e-6)
    (out_np, m_np, r_np), (out_nb, m_nb, r_nb) = fwd_np, fwd_nb
    assert_close((out_np, m_np, r_np), (out_nb, m_nb, r_nb), dtype)
    y, _, _ = kernels.group_norm_forward(x, gamma, beta, 2, 1e-6)
    assert_close(out_np, np.maximum(y, 0), dtype)
    (grads_np, _), (grads_nb, _) = both(kernels.group_norm_relu_backward, dout, out_np, x, gamma, m_np, r_np, 2)
    assert_close(grads_np, grads_nb, dtype)
    unfused, _ = both(kernels.group_norm_backward, dout * (out_np > 0), x, gamma, m_np, r_np, 2)[1]
    assert_close(grads_nb, unfused, dtype)


def test_group_norm_output_is_normalized(rng):
    x = 5 + 3 * rng.standard_normal((6, 2, 8))  # (L, B, C)
    y, _, _ = kernels.group_norm_forward(x, np.ones(8), np.zeros(8), 2, 1e-6)
    groups = y.reshape(6, 2, 2, 4)  # each sample's group: its L time steps x 4 channels
    np.testing.assert_allclose(groups.mean(axis=(0, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(groups.var(axis=(0, 3)), 1, rtol=1e-5)


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
