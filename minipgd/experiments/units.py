"""Running a sweep's independent units, one after the other or in worker processes (`--jobs N`)."""
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context


def run_units(function, arguments, jobs=1):
    """Yield `function(*args)` for every tuple in `arguments`: in order with one job, else as they finish in
    `jobs` fresh ("spawn") processes. `function` must be importable (a module-level function)."""
    if jobs < 1:
        raise ValueError(f"--jobs must be positive, got {jobs}")
    if jobs == 1:
        for args in arguments:
            yield function(*args)
        return
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(function, *args) for args in arguments]
        for future in as_completed(futures):
            yield future.result()
