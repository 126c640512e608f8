import numpy as np
import pytest

from minipgd.nn.backend import use_backend


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    """Run a test once with the Numba kernels and once with their NumPy twins."""
    with use_backend(request.param):
        yield request.param
