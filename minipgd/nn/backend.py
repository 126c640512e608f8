"""Which implementation the kernels run: the Numba kernels or their NumPy twins.

Every kernel in `minipgd.nn.kernels` exists twice with the same signature: a plain
NumPy function (the readable definition) and a Numba copy (the fast one; for Mish,
whose cost is its exponential, NumPy's vectorized exp in cache-sized chunks beat
the Numba loop, so its fast copy is that). The
environment variable ``MINIPGD_BACKEND=numpy`` (or `set_backend("numpy")`, or the
`use_backend("numpy")` context manager) makes every layer call the NumPy twins,
so a student can step through them in a debugger. Both give the same results up
to floating-point rounding; `tests/test_kernels.py` checks it.
"""
import contextlib
import os

BACKENDS = ("numba", "numpy")
_state = {"name": os.environ.get("MINIPGD_BACKEND", "numba")}
if _state["name"] not in BACKENDS:
    raise ValueError(f"MINIPGD_BACKEND={_state['name']!r}; expected one of {BACKENDS}")


def get_backend():
    return _state["name"]


def set_backend(name):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {BACKENDS}")
    _state["name"] = name


@contextlib.contextmanager
def use_backend(name):
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def twin(numpy_fn, numba_fn):
    """A function that calls `numba_fn` or `numpy_fn`, whichever backend is selected."""

    def dispatch(*args):
        return (numba_fn if _state["name"] == "numba" else numpy_fn)(*args)

    dispatch.__name__ = numpy_fn.__name__.removesuffix("_numpy")
    dispatch.__doc__ = numpy_fn.__doc__
    dispatch.numpy = numpy_fn
    dispatch.numba = numba_fn
    return dispatch
