"""The OpenBLAS libraries loaded in this process, found and told how many threads to use.

NumPy's and SciPy's wheels each bring an OpenBLAS. The loaded ones are found in
`/proc/self/maps` (Linux) and their `*_set_num_threads` / `*_get_num_threads`
functions called through ctypes; all naming variants are tried: classic builds
(`openblas_set_num_threads`), 64-bit-integer builds (`…64_`) and the
`scipy_openblas` builds of the wheels. Where none is found (macOS Accelerate,
MKL, Windows) the list is empty and nothing is changed. Importing this module
changes nothing.
"""
import contextlib
import ctypes
import os
import sys

_PREFIXES = ("scipy_openblas", "openblas")  # NumPy's and SciPy's wheels; classic builds
_SUFFIXES = ("64_", "")  # 64-bit-integer (ILP64) builds; 32-bit ones


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


_LOADED = {"modules": -1, "libraries": ()}  # len(sys.modules) at the last scan of the maps, what it found


def loaded_openblas():
    """The OpenBLAS libraries loaded now. An import is what loads one (SciPy's, on first use), so the maps are
    read again only when `sys.modules` has grown since the last look: asking stays cheap."""
    if len(sys.modules) != _LOADED["modules"]:
        _LOADED.update(modules=len(sys.modules), libraries=tuple(openblas_libraries()))
    return _LOADED["libraries"]


def blas_thread_count():
    """The BLAS threads a matrix product uses now: the largest count of the OpenBLAS libraries loaded
    (1 where there is none, e.g. MKL or Accelerate: nothing to divide)."""
    return max((library.threads for library in loaded_openblas()), default=1)


def set_threads(libraries, n):
    for library in libraries:
        library.threads = n


@contextlib.contextmanager
def library_threads(libraries, n):
    """`n` threads in each of `libraries` for the block, then each library's count from before."""
    saved = [(library, library.threads) for library in libraries]
    set_threads(libraries, n)
    try:
        yield
    finally:
        for library, threads in saved:
            library.threads = threads
