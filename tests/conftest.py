import numpy as np
import pytest

from minipgd.nn.backend import use_backend
from minipgd.runtime.threads import AUTO, blas_threads, policy_threads, thread_policy


@pytest.fixture(autouse=True, scope="session")
def minipgd_thread_policy():
    """The whole test session runs with one BLAS thread unless MINIPGD_THREADS or OPENBLAS_NUM_THREADS says
    otherwise: fast beside other work, and the same count in every run, so a test comparing two runs bit for
    bit never depends on the machine's load, as the automatic policy's count does (OpenBLAS may round a
    product of some shapes differently with another thread count; tests/test_threads.py opens the automatic
    policy itself)."""
    with blas_threads(1) if policy_threads() == AUTO else thread_policy():
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    """Run a test once with the Numba kernels and once with their NumPy twins."""
    with use_backend(request.param):
        yield request.param
