import numpy as np
import pytest

from minipgd.nn.backend import use_backend
from minipgd.nn.threads import thread_policy


@pytest.fixture(autouse=True, scope="session")
def minipgd_thread_policy():
    """The whole test session runs under minipgd's thread policy, as the command line does: automatic unless
    MINIPGD_THREADS or OPENBLAS_NUM_THREADS says otherwise (a test run beside other work stays fast)."""
    with thread_policy():
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    """Run a test once with the Numba kernels and once with their NumPy twins."""
    with use_backend(request.param):
        yield request.param
