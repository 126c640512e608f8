"""minipgd's thread policy: one BLAS thread unless the user chose otherwise.

Why. minipgd's networks multiply small matrices (a 256-256 MLP at batch 256, a
U-Net at batch 16), and OpenBLAS, NumPy's and SciPy's BLAS, splits each product
over all cores by default. Its worker threads then busy-wait (spin) between
products. Measured on a 2-core machine: with one BLAS thread the U-Net forward
pass at batch 16 is about 30 % faster on a quiet machine (benchmarks/README.md),
and beside two CPU-bound processes the spinning threads fight the neighbours for
the cores: tutorial 01 `--fast` took 73.4 s with NumPy's default threads and
5.9 s with one BLAS thread, a small `train-agent` 140 s against 5.6 s (issue 14;
`benchmarks/contention.py` measures it again).

The policy, applied by `thread_policy()` for the duration of minipgd's long work
(the command line, the tutorials, the Table 2 workers, the test session, and the
library's training entry points through `@under_thread_policy`):

* `MINIPGD_THREADS=N` (a positive integer): N BLAS threads. It wins over
  everything else. `MINIPGD_THREADS=default` switches the policy off: the
  libraries keep their own defaults (all cores).
* Otherwise, if the user set `OPENBLAS_NUM_THREADS`, `GOTO_NUM_THREADS` or
  `OMP_NUM_THREADS`, that choice stands: minipgd leaves BLAS alone.
* Otherwise one BLAS thread.

Inside a scope the chosen count is also put in `OPENBLAS_NUM_THREADS`, so an
OpenBLAS loaded later in the scope (SciPy's, on first use) and child processes
(Table 2's workers, tests' subprocesses) start with it; on leaving, the variable
and the libraries' counts are restored (a library first loaded inside the scope
keeps the scope's count). Numba's thread count follows as well when Numba's
parallel thread pool is already running; minipgd's kernels are serial (no
`prange`), so it does not start one.

How. The OpenBLAS libraries already loaded in this process are found in
`/proc/self/maps` (Linux) and their `*_set_num_threads` / `*_get_num_threads`
functions called through ctypes; all naming variants are tried: classic builds
(`openblas_set_num_threads`), 64-bit-integer builds (`…64_`) and the
`scipy_openblas` builds bundled with NumPy and SciPy wheels. Where none is
found (macOS Accelerate, MKL, Windows) nothing happens, silently. Importing
this module changes nothing.

Worker threads. minipgd's own parallelism is Python threads that block, never
spin: the U-Net's batch split (`TemporalUNet.batch_workers`) and guidance's
policy evaluated over many states in parts (`side_by_side`). NumPy's BLAS and
minipgd's Numba kernels (`nogil=True`) release the GIL, so with one BLAS thread
per worker the workers run on separate cores. They pay where a parallel region
lasts several milliseconds. Shorter regions (one agent update's two critics, the
two backward products of one convolution) gained on a quiet machine only with
each worker pinned to its own core, and pinned workers lost more beside busy
neighbours than they gained alone (benchmarks/README.md), so workers are not
pinned and such regions run serially.
"""
import contextlib
import ctypes
import functools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

POLICY_VARIABLE = "MINIPGD_THREADS"
USER_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")  # OpenBLAS reads these at load
DEFAULT_THREADS = 1
_PREFIXES = ("scipy_openblas", "openblas")  # NumPy's and SciPy's wheels; classic builds
_SUFFIXES = ("64_", "")  # 64-bit-integer (ILP64) builds; 32-bit ones
_state = {"open_scopes": 0}  # blas_threads / thread_policy blocks open in this process


class OpenBLAS:
    """One loaded OpenBLAS library: its path and its get/set thread count functions."""

    def __init__(self, path, get_threads, set_threads):
        self.path, self._get, self._set = path, get_threads, set_threads

    @property
    def threads(self):
        return int(self._get())

    @threads.setter
    def threads(self, n):
        self._set(int(n))

    def __repr__(self):
        return f"OpenBLAS({os.path.basename(self.path)}, {self.threads} threads)"


def _thread_functions(path):
    """(get, set) of the library at `path` if it is loaded and is an OpenBLAS, else None. Never loads it."""
    try:
        library = ctypes.CDLL(path, mode=os.RTLD_NOLOAD)
    except OSError:  # not loaded (or not a library)
        return None
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            get_threads = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
            set_threads = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
            if get_threads is not None and set_threads is not None:
                get_threads.restype, get_threads.argtypes = ctypes.c_int, []
                set_threads.restype, set_threads.argtypes = None, [ctypes.c_int]
                return get_threads, set_threads
    return None


def openblas_libraries(maps="/proc/self/maps"):
    """The OpenBLAS libraries loaded in this process ([] where there are none or `maps` cannot be read)."""
    try:
        with open(maps, encoding="utf-8", errors="replace") as f:
            fields = [line.split(maxsplit=5) for line in f]  # address, perms, offset, dev, inode, path
    except OSError:  # not Linux
        return []
    paths = {parts[5].strip() for parts in fields if len(parts) == 6}
    found = {}  # by the address of its get function: SciPy's extension modules reach the same library
    for path in sorted(paths, key=lambda path: ("openblas" not in os.path.basename(path).lower(), path)):
        name = os.path.basename(path).lower()
        if "blas" in name and ".so" in name:
            functions = _thread_functions(path)
            if functions is not None:
                found.setdefault(ctypes.cast(functions[0], ctypes.c_void_p).value, OpenBLAS(path, *functions))
    return list(found.values())


def available_cores():
    """The number of cores this process may run on (its CPU affinity where the OS tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def policy_threads(environ=None):
    """The BLAS thread count minipgd's policy chooses, or None to leave the libraries alone (see above)."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(POLICY_VARIABLE, "").strip()
    if chosen == "default":
        return None
    if chosen:
        if not chosen.isdigit() or int(chosen) < 1:
            raise ValueError(f"{POLICY_VARIABLE} must be a positive integer or 'default', got {chosen!r}")
        return int(chosen)
    if any(environ.get(name, "").strip() for name in USER_VARIABLES):
        return None
    return DEFAULT_THREADS


@contextlib.contextmanager
def _scope():
    _state["open_scopes"] += 1
    try:
        yield
    finally:
        _state["open_scopes"] -= 1


@contextlib.contextmanager
def _environment(name, value):
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextlib.contextmanager
def _numba_threads(n):
    """Numba's parallel thread count, if its thread pool is running (starting it is not ours to do)."""
    parallel = sys.modules.get("numba.np.ufunc.parallel")
    if parallel is None or not getattr(parallel, "_is_initialized", False):
        yield
        return
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


@contextlib.contextmanager
def blas_threads(n):
    """Run the block with `n` BLAS threads (and `n` Numba threads where its pool runs); restored after.

    Sets every loaded OpenBLAS, and OPENBLAS_NUM_THREADS for those loaded later and for child
    processes; without OpenBLAS (MKL, Accelerate) nothing changes. It is an explicit choice: the
    library entry points decorated with `under_thread_policy` keep `n` inside it.
    """
    if int(n) < 1:
        raise ValueError(f"the number of threads must be >= 1, got {n}")
    libraries = openblas_libraries()
    saved = [(library, library.threads) for library in libraries]
    with _scope(), _environment("OPENBLAS_NUM_THREADS", str(int(n))), _numba_threads(int(n)):
        for library in libraries:
            library.threads = n
        try:
            yield
        finally:
            for library, threads in saved:
                library.threads = threads


@contextlib.contextmanager
def thread_policy():
    """Run the block under minipgd's thread policy (see the module's docstring)."""
    n = policy_threads()
    with _scope(), (blas_threads(n) if n is not None else contextlib.nullcontext()):
        yield


def under_thread_policy(function):
    """Decorator for long-running entry points: `function` runs under `thread_policy()`, unless a thread
    scope is already open (the command line's, a test session's, or the user's own `blas_threads(n)`)."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        if _state["open_scopes"]:
            return function(*args, **kwargs)
        with thread_policy():
            return function(*args, **kwargs)

    return run


WORKER_NAME = "minipgd-worker"
_POOLS = {}  # worker count -> ThreadPoolExecutor, made on first use and kept (idle workers wait blocked)
_POOLS_LOCK = threading.Lock()


@functools.cache
def _openblas_at_first_use():
    """The OpenBLAS libraries loaded when first asked (NumPy's is loaded with NumPy); one scan of the maps."""
    return tuple(openblas_libraries())


def blas_thread_count():
    """The BLAS threads a matrix product uses now: the largest count of the OpenBLAS libraries loaded
    at the first call (1 where there is none, e.g. MKL or Accelerate: nothing to divide)."""
    return max((library.threads for library in _openblas_at_first_use()), default=1)


def parallel_workers():
    """How many worker threads minipgd's own parallel regions use: the cores available, divided by the
    BLAS threads each product already takes (one worker, i.e. none, under OpenBLAS's default threads:
    two workers each with two spinning BLAS threads on two cores made TD3+BC updates 8x slower)."""
    return max(1, available_cores() // blas_thread_count())


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
    return list(worker_pool(workers).map(lambda call: call(), calls))
