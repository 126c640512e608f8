"""minipgd's own parallelism: a pool of worker threads that block, never spin.

The U-Net's batch split (`TemporalUNet.batch_workers`) and guidance's policy
evaluated over many states in parts run on these workers. NumPy's BLAS and
minipgd's Numba kernels (`nogil=True`) release the GIL, so with one BLAS thread
per worker (a parallel region sets it) the workers run on separate cores. Only
regions that last several milliseconds are split; shorter ones run serially on
the policy's BLAS threads (benchmarks/README.md says why: pinned workers lost
more beside busy neighbours than they gained alone).
"""
import threading
from concurrent.futures import ThreadPoolExecutor

from . import threads
from .openblas import blas_thread_count, library_threads, loaded_openblas

WORKER_NAME = "minipgd-worker"
_POOLS = {}  # worker count -> ThreadPoolExecutor, made on first use and kept (idle workers wait blocked)
_POOLS_LOCK = threading.Lock()


def parallel_workers():
    """How many worker threads minipgd's own parallel regions use. Under the automatic policy: the free
    cores (the regions run one BLAS thread per worker). Otherwise the cores available, divided by the BLAS
    threads each product takes (one worker, i.e. none, under OpenBLAS's default threads: two workers each
    with two spinning BLAS threads on two cores made TD3+BC updates 8x slower)."""
    automatic = threads.automatic_policy()
    if automatic is not None:
        return automatic.threads
    return max(1, threads.available_cores() // blas_thread_count())


def worker_pool(n):
    """A pool of n blocking worker threads (see above), made on first use and kept."""
    with _POOLS_LOCK:
        if n not in _POOLS:
            _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix=WORKER_NAME)
        return _POOLS[n]


def side_by_side(*calls, workers=None):
    """Run independent calls (nothing writable shared between them) on `workers` threads (default:
    `parallel_workers()`); their results, in order. With one worker, or one call, they run here, one by one,
    and so they do when called from a worker (its pool's workers may all be waiting for their own calls)."""
    if threading.current_thread().name.startswith(WORKER_NAME):
        workers = 1
    workers = min(parallel_workers() if workers is None else workers, len(calls))
    if workers <= 1:
        return [call() for call in calls]
    with library_threads(loaded_openblas(), 1):  # one BLAS thread per worker
        return list(worker_pool(workers).map(lambda call: call(), calls))
