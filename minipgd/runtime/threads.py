"""minipgd's thread policy: BLAS threads on the cores nobody else is using.

minipgd multiplies small matrices, and OpenBLAS by default splits every product
over all cores, its threads spinning between products: faster on a quiet
machine, many times slower beside busy neighbours (benchmarks/README.md,
"contention"). `thread_policy()` applies minipgd's choice for the duration of
its long work (the command line, the tutorials, Table 2's workers, the test
session, and the library's entry points through `@under_thread_policy`):

* `MINIPGD_THREADS=N`: N BLAS threads, always; `MINIPGD_THREADS=default`: the
  libraries keep their own defaults.
* Otherwise, a user's `OPENBLAS_NUM_THREADS`, `GOTO_NUM_THREADS` or
  `OMP_NUM_THREADS` stands: minipgd leaves BLAS alone.
* Otherwise (`MINIPGD_THREADS=auto`) the automatic policy: one BLAS thread to
  start with; at the safe points of the long loops (`adapt_threads()`), at most
  once a second, a look at the cores other processes leave free (`load.py`);
  with free cores to spare the loop runs a second with that many BLAS threads
  and a second with one, and keeps the faster (measured again every
  RETRY_LOOKS looks, on another loop, or when the load changes). The sampler's
  loop gives free cores to its worker threads instead (`split=True`). Where the
  load cannot be read (not Linux) it stays at one thread.

At minipgd's training sizes the count does not change results (agent updates at
batch 256 and U-Net passes at batch 16 are bit-identical with one and two
threads, tests/test_threads.py); other shapes may round differently, so a run
that must repeat bit for bit fixes the count (`MINIPGD_THREADS=1`), as the test
session does. Inside a scope the count is also put in `OPENBLAS_NUM_THREADS`
and `MINIPGD_THREADS`, so a library loaded later and child processes follow it;
Numba's count follows a fixed count where its parallel pool already runs
(minipgd's kernels are serial and never start it).
"""
import contextlib
import functools
import os
import sys
import threading
import time

from . import openblas
from .load import CoreLoad, allowed_cores
from .openblas import library_threads, set_threads

POLICY_VARIABLE = "MINIPGD_THREADS"
USER_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")  # OpenBLAS reads these at load
AUTO = "auto"  # the automatic policy (the default)
CHECK_EVERY_S = 1.0  # the automatic policy looks at the load at most this often
RETRY_LOOKS = 30  # and measures its choice of BLAS threads again after this many looks
FREE_BELOW = 0.25  # a core counts as free while other processes use less than this share of it
_state = {"open_scopes": 0, "automatic": None}  # blocks open in this process; the automatic policy's state


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
            library_threads(openblas.openblas_libraries(), n):
        yield


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
            set_threads(self.libraries, blas)

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
        automatic = AutomaticThreads(openblas.openblas_libraries())
        with _automatic(automatic), _environment(POLICY_VARIABLE, AUTO):
            yield automatic


def automatic_policy():
    """The automatic policy of the innermost open scope (an AutomaticThreads), or None."""
    return _state["automatic"]


def adapt_threads(site, split=False):
    """Call once per iteration of a long loop, where no matrix product is running in this thread (a training
    step, an agent update, a sampler step); `site` names the loop. Under the automatic policy the free cores
    become BLAS threads where that makes the loop faster, or, with `split` (a loop whose work is split over
    worker threads: sampling large batches), worker threads with one BLAS thread each; otherwise nothing
    happens.

    Whether a second BLAS thread pays depends on the loop and the machine, hence the measurement; after a
    product on two BLAS threads the second spins a while, taking a core from the workers, hence `split`
    (benchmarks/README.md has the numbers).
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


