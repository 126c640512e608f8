"""minipgd's thread policy: BLAS threads on the cores nobody else is using.

Why. minipgd's networks multiply small matrices (a 256-256 MLP at batch 256, a
U-Net at batch 16), and OpenBLAS, NumPy's and SciPy's BLAS, splits each product
over all cores by default. Its worker threads then busy-wait (spin) between
products. On a quiet machine that pays: on 2 cores, two BLAS threads make a TD3+BC
update 1.4x and a U-Net training step at batch 16 1.05-1.4x faster than one. Beside
CPU-bound neighbours the spinning threads fight them for the cores: measured on a
2-core machine beside two busy processes, tutorial 01 `--fast` took 73.4 s with
NumPy's default threads and 5.9 s with one BLAS thread, a small `train-agent` 140 s
against 5.6 s (issue 14; `benchmarks/contention.py` measures it again).

The policy, applied by `thread_policy()` for the duration of minipgd's long work
(the command line, the tutorials, the Table 2 workers, the test session, and the
library's training entry points through `@under_thread_policy`):

* `MINIPGD_THREADS=N` (a positive integer): N BLAS threads, always. It wins over
  everything else. `MINIPGD_THREADS=default` switches the policy off: the
  libraries keep their own defaults (all cores).
* Otherwise, if the user set `OPENBLAS_NUM_THREADS`, `GOTO_NUM_THREADS` or
  `OMP_NUM_THREADS`, that choice stands: minipgd leaves BLAS alone.
* Otherwise (`MINIPGD_THREADS=auto` says the same) the automatic policy: one BLAS
  thread (and a worker thread per core) to start with, then, at the safe points
  of the long loops (a training step, an agent update, a sampler step call
  `adapt_threads()`), at most once a second, a look at the cores that other
  processes leave free (`free_cores`, measured by `nn/load.py`: a core counts as
  free while others use less than a quarter of it). With free cores to spare,
  the loop runs a second with as many BLAS threads as free cores and a second
  with one, counting its iterations, and keeps the faster (measured again every
  RETRY_LOOKS looks, on another loop, or when the load changes): spinning threads
  pay for large products and cost small ones. The sampler's loop, whose batches
  are split over worker threads, gives the free cores to the workers instead
  (`split=True`). A neighbour that starts costs at most about a second of
  contention before minipgd steps back to one thread; where the load cannot be
  read (not Linux) it stays at one. At minipgd's training sizes the count does
  not change results: TD3+BC and IQL updates at batch 256 and U-Net training
  passes at batch 16 are bit-identical with one and two threads
  (tests/test_threads.py). Other shapes may round differently (a
  U-Net pass over 33 trajectories of 5 channels gave weight gradients ~1e-5
  apart), so a run that must repeat bit for bit at other sizes fixes the count
  (`MINIPGD_THREADS=1`), as the test session does.

Inside a scope the chosen count is also put in `OPENBLAS_NUM_THREADS` (and in
`MINIPGD_THREADS`), so an OpenBLAS loaded later in the scope (SciPy's, on first
use) and child processes (Table 2's workers, tests' subprocesses) start with it
and follow the same policy; on leaving, the variables and the libraries' counts
are restored (a library first loaded inside the scope keeps the scope's count).
Numba's thread count follows a fixed count as well when Numba's parallel thread
pool is already running; minipgd's kernels are serial (no `prange`), so it does
not start one.

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
per worker (a parallel region runs its products on one BLAS thread each) the
workers run on separate cores. They pay where a parallel region lasts several
milliseconds. Shorter regions (one agent update's two critics, the two backward
products of one convolution) gained on a quiet machine only with each worker
pinned to its own core, and pinned workers lost more beside busy neighbours than
they gained alone (benchmarks/README.md), so workers are not pinned and such
regions run serially, on the policy's BLAS threads.
"""
import contextlib
import ctypes
import functools
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .load import CoreLoad, allowed_cores

POLICY_VARIABLE = "MINIPGD_THREADS"
USER_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")  # OpenBLAS reads these at load
AUTO = "auto"  # the automatic policy (the default)
CHECK_EVERY_S = 1.0  # the automatic policy looks at the load at most this often
RETRY_LOOKS = 30  # and measures its choice of BLAS threads again after this many looks
FREE_BELOW = 0.25  # a core counts as free while other processes use less than this share of it
_PREFIXES = ("scipy_openblas", "openblas")  # NumPy's and SciPy's wheels; classic builds
_SUFFIXES = ("64_", "")  # 64-bit-integer (ILP64) builds; 32-bit ones
_state = {"open_scopes": 0, "automatic": None}  # blocks open in this process; the automatic policy's state


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
    return len(allowed_cores())


def policy_threads(environ=None):
    """What minipgd's policy chooses: a BLAS thread count, AUTO, or None to leave the libraries alone (above)."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(POLICY_VARIABLE, "").strip()
    if chosen == "default":
        return None
    if chosen == AUTO:
        return AUTO
    if chosen:
        if not chosen.isdigit() or int(chosen) < 1:
            raise ValueError(f"{POLICY_VARIABLE} must be a positive integer, 'auto' or 'default', got {chosen!r}")
        return int(chosen)
    if any(environ.get(name, "").strip() for name in USER_VARIABLES):
        return None
    return AUTO


def free_cores(others, cores):
    """The cores other processes leave free, for the automatic policy (>= 1; `others` None, unknown: 1)."""
    if others is None:
        return 1
    return max(1, min(cores, int(cores - others + FREE_BELOW)))


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
def _automatic(state):
    previous, _state["automatic"] = _state["automatic"], state
    try:
        yield
    finally:
        _state["automatic"] = previous


@contextlib.contextmanager
def blas_threads(n):
    """Run the block with `n` BLAS threads (and `n` Numba threads where its pool runs); restored after.

    Sets every loaded OpenBLAS, and OPENBLAS_NUM_THREADS and MINIPGD_THREADS for those loaded later
    and for child processes; without OpenBLAS (MKL, Accelerate) nothing changes. It is an explicit
    choice: the library entry points decorated with `under_thread_policy` keep `n` inside it, and the
    automatic policy of an enclosing scope pauses.
    """
    if int(n) < 1:
        raise ValueError(f"the number of threads must be >= 1, got {n}")
    with _scope(), _automatic(None), _environment("OPENBLAS_NUM_THREADS", str(int(n))), \
            _environment(POLICY_VARIABLE, str(int(n))), _numba_threads(int(n)), \
            _library_threads(openblas_libraries(), n):
        yield


def _set_threads(libraries, n):
    for library in libraries:
        library.threads = n


@contextlib.contextmanager
def _library_threads(libraries, n):
    """`n` threads in each of `libraries` for the block, then each library's count from before."""
    saved = [(library, library.threads) for library in libraries]
    _set_threads(libraries, n)
    try:
        yield
    finally:
        for library, threads in saved:
            library.threads = threads


class AutomaticThreads:
    """The automatic policy inside one scope: who may change the count, the load meter, the counts now, and how
    fast the calling loop ran with each BLAS thread count tried on it (its safe-point calls per second)."""

    def __init__(self, libraries, load=None, cores=None, clock=time.monotonic):
        self.owner = threading.current_thread()  # only the thread that opened the scope changes the count
        self.libraries, self.load, self.clock = libraries, CoreLoad() if load is None else load, clock
        self.cores = available_cores() if cores is None else cores
        self.threads = self.cores  # the free cores, as worker threads: blocking ones cost a busy machine little
        self.blas, self.looks = 1, 0  # BLAS threads spin: one until a look at the load says more are free
        self.site, self.calls, self.rates = None, -1, {}  # the loop, its calls this interval (-1: not measured)
        self.checked_at = clock()

    def adapt(self, site, split=False):
        """The safe-point call of loop `site` (see `adapt_threads`)."""
        if threading.current_thread() is not self.owner:
            return
        if site != self.site:  # another loop: the rates measured on the last one say nothing about it
            self.site, self.calls, self.rates = site, -1, {}
        elif self.calls >= 0:
            self.calls += 1
        now = self.clock()
        if now - self.checked_at >= CHECK_EVERY_S:
            self._look(now)
        blas = 1 if split else self._choice()
        if blas != self.blas:
            self.blas = blas
            _set_threads(self.libraries, blas)

    def _look(self, now):
        """The loop's rate over the interval just ended (if its count was being tried), then the free cores."""
        if self.calls > 0 and self.blas not in self.rates:
            self.rates[self.blas] = self.calls / (now - self.checked_at)
        free = free_cores(self.load.others(), self.cores)
        self.looks += 1
        if free != self.threads or self.looks % RETRY_LOOKS == 0:
            self.rates = {}  # the load changed, or it is time to check the choice again: measure again
        self.threads, self.checked_at, self.calls = free, now, 0

    def _choice(self):
        """BLAS threads for this interval: one before the first look or without a free core to spare; else a
        count not yet measured on this loop (the free cores, then one), else the faster of the two."""
        if self.looks == 0 or self.threads == 1:
            return 1
        untried = [n for n in (self.threads, 1) if n not in self.rates]
        return untried[0] if untried else max(self.rates, key=self.rates.get)


@contextlib.contextmanager
def automatic_threads():
    """Run the block under the automatic policy: one BLAS thread, then the free cores at each `adapt_threads()`."""
    with blas_threads(1):
        automatic = AutomaticThreads(openblas_libraries())
        with _automatic(automatic), _environment(POLICY_VARIABLE, AUTO):
            yield automatic


def adapt_threads(site, split=False):
    """Call once per iteration of a long loop, where no matrix product is running in this thread (a training
    step, an agent update, a sampler step); `site` names the loop. Under the automatic policy the free cores
    become BLAS threads where that makes the loop faster, or, with `split` (a loop whose work is split over
    worker threads: sampling large batches), worker threads with one BLAS thread each; otherwise nothing
    happens.

    Why measure: a second BLAS thread made agent updates 1.25-1.55x and a U-Net training step at batch 16
    1.05-1.4x faster, but tutorial 01's small U-Net (6 channels, batch 64) trained 1.2x slower in a run
    (benchmarks/README.md): whether it pays depends on the loop, and on the machine.
    Why `split`: after a product on two BLAS threads OpenBLAS's second thread spins for a while, taking a
    core from the workers.
    """
    if _state["automatic"] is not None:
        _state["automatic"].adapt(site, split)


@contextlib.contextmanager
def thread_policy():
    """Run the block under minipgd's thread policy (see the module's docstring)."""
    n = policy_threads()
    if n is None:
        scope = contextlib.nullcontext()
    else:
        scope = automatic_threads() if n == AUTO else blas_threads(n)
    with _scope(), scope:
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


_LOADED = {"modules": -1, "libraries": ()}  # len(sys.modules) at the last scan of the maps, what it found


def _openblas_loaded():
    """The OpenBLAS libraries loaded now. An import is what loads one (SciPy's, on first use), so the maps are
    read again only when `sys.modules` has grown since the last look: asking stays cheap."""
    if len(sys.modules) != _LOADED["modules"]:
        _LOADED.update(modules=len(sys.modules), libraries=tuple(openblas_libraries()))
    return _LOADED["libraries"]


def blas_thread_count():
    """The BLAS threads a matrix product uses now: the largest count of the OpenBLAS libraries loaded
    (1 where there is none, e.g. MKL or Accelerate: nothing to divide)."""
    return max((library.threads for library in _openblas_loaded()), default=1)


def parallel_workers():
    """How many worker threads minipgd's own parallel regions use. Under the automatic policy: the free
    cores (the regions run one BLAS thread per worker). Otherwise the cores available, divided by the BLAS
    threads each product takes (one worker, i.e. none, under OpenBLAS's default threads: two workers each
    with two spinning BLAS threads on two cores made TD3+BC updates 8x slower)."""
    if _state["automatic"] is not None:
        return _state["automatic"].threads
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
    with _library_threads(_openblas_loaded(), 1):  # one BLAS thread per worker
        return list(worker_pool(workers).map(lambda call: call(), calls))
