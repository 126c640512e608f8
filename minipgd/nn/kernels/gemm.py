"""out += a @ b, the product added into `out` where it lies: BLAS's gemm with beta = 1.

NumPy's ``out += a @ b`` first writes ``a @ b`` to a new array, then adds it: a
temporary the size of the output and one more pass over it. BLAS's gemm computes
C = alpha A B + beta C, and with beta = 1 adds the product into C directly. The
convolution (`conv1d.py`) is a sum of such products, one per tap, each added
into a block of rows of the output.

`add_product_numpy` is the definition. `add_product_blas` is its copy for Numba
kernels: NumPy has no public gemm, so it calls the ``cblas_sgemm`` /
``cblas_dgemm`` of the BLAS that NumPy itself links to, looked up by name
through NumPy's extension module (``scipy_cblas_sgemm64_`` in NumPy 2's wheels,
``cblas_sgemm64_`` in NumPy 1's: OpenBLAS with 64-bit integers). From Numba the
call costs well under a microsecond and releases the GIL (worker threads run
side by side). A kernel uses it where `gemm_serves` its arrays (NumPy's BLAS has
the names, and the arrays are all float32 or all float64), and falls back to its
NumPy twin elsewhere.

Operands of `add_product_blas`: 2-D arrays with unit stride along one axis (a
block of rows of a C-contiguous array, or its transpose); `out` has unit stride
along its rows. Anything else (a broadcast or reversed view) raises.
"""
import ctypes
import os

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS's enum values
_NAMES = ("scipy_cblas_{}gemm64_", "cblas_{}gemm64_")  # NumPy's wheels: 64-bit integers, "64_" names
_LETTERS = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}  # BLAS's names for single and double
_SYMBOLS = {dtype: f"minipgd_{letter}gemm" for dtype, letter in _LETTERS.items()}


def add_product_numpy(out, a, b):
    """out += a @ b (in place)."""
    if not (out.ndim == a.ndim == b.ndim == 2 and a.shape[1] == b.shape[0] and out.shape == (a.shape[0], b.shape[1])):
        raise ValueError(f"add_product: out {out.shape} += a {a.shape} @ b {b.shape} do not fit")
    out += a @ b


def gemm_serves(*arrays):
    """Whether `add_product_blas` can take these arrays: NumPy's gemm was found, and they share its dtype."""
    return _FOUND and arrays[0].dtype in _SYMBOLS and all(a.dtype == arrays[0].dtype for a in arrays)


def _find_numpy_gemm():
    """Make NumPy's own cblas_sgemm / cblas_dgemm callable from Numba (as _SYMBOLS); whether they were found."""
    core = getattr(np, "_core", None) or np.core  # NumPy 2 / NumPy 1
    try:
        library = ctypes.CDLL(core._multiarray_umath.__file__, mode=getattr(os, "RTLD_NOLOAD", 0))
    except OSError:
        return False
    for name in _NAMES:
        functions = {dtype: getattr(library, name.format(_LETTERS[dtype]), None) for dtype in _SYMBOLS}
        if all(f is not None for f in functions.values()):
            for dtype, function in functions.items():
                llvm.add_symbol(_SYMBOLS[dtype], ctypes.cast(function, ctypes.c_void_p).value)
            return True
    return False


def _gemm(real):
    """cblas_?gemm(order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), 64-bit integers."""
    i, p = types.int64, types.voidptr
    signature = types.void(types.int32, types.int32, types.int32, i, i, i, real, p, i, p, i, real, p, i)
    return types.ExternalFunction(_SYMBOLS[np.dtype(real.name)], signature)


_FOUND = _find_numpy_gemm()
_SGEMM, _DGEMM = _gemm(types.float32), _gemm(types.float64)


@njit(cache=True, nogil=True)
def _operand(m):
    """(CBLAS transpose flag, leading dimension) of a 2-D array with unit stride along its rows or columns."""
    item = m.itemsize
    if m.strides[1] == item and m.strides[0] >= item * m.shape[1]:
        return NO_TRANS, max(m.strides[0] // item, 1)
    if m.strides[0] == item and m.strides[1] >= item * m.shape[0]:
        return TRANS, max(m.strides[1] // item, 1)
    raise ValueError("add_product_blas: an operand has no unit stride along its rows or its columns")


@njit(cache=True, nogil=True)
def add_product_blas(out, a, b):
    """out += a @ b (in place) in one gemm call; for float32 or float64 arrays where `gemm_serves` them."""
    if out.ndim != 2 or a.shape[1] != b.shape[0] or out.shape != (a.shape[0], b.shape[1]):
        raise ValueError("add_product_blas: out += a @ b do not fit")
    if out.strides[1] != out.itemsize or out.strides[0] < out.itemsize * out.shape[1]:
        raise ValueError("add_product_blas: out must have unit stride along its rows")
    trans_a, lda = _operand(a)
    trans_b, ldb = _operand(b)
    m, n, k, ldc = out.shape[0], out.shape[1], a.shape[1], max(out.strides[0] // out.itemsize, 1)
    if out.itemsize == 4:
        _SGEMM(ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, 1.0,
               out.ctypes.data, ldc)
    else:
        _DGEMM(ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, 1.0,
               out.ctypes.data, ldc)
