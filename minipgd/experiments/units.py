"""A sweep of independent units, each leaving one small result file (`results/<experiment>/UNIT.json`).

A unit's file is written when the unit finishes, with the versions and machine
that made it. A rerun skips units whose file is there, so a sweep continues on
another machine that has only the repository once the files are committed, and
a user with a cluster runs units by name with the scheduler they already have.
Units run one after the other or in worker processes (`--jobs N`).
"""
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

from ..nn.checkpoint import write_text_atomically
from .provenance import provenance


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


def result_path(results_dir, name):
    return os.path.join(results_dir, f"{name}.json")


def pending_units(results_dir, names, only=None, log=print):
    """The units to run: those of `names` (or of `only`, a subset) that have no result file yet."""
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise ValueError(f"no unit {unknown[0]!r} in the sweep; the units are: {', '.join(names)}")
    os.makedirs(results_dir, exist_ok=True)
    done = [name for name in names if os.path.exists(result_path(results_dir, name))]
    todo = [name for name in (only or names) if name not in done]
    log(f"{len(done)} of {len(names)} units have results in {results_dir}; running {len(todo)}")
    return todo


def write_result(results_dir, name, result):
    """`result` plus the unit's name and provenance, written atomically to the unit's file."""
    result.update(unit=name, **provenance())
    write_text_atomically(result_path(results_dir, name), json.dumps(result, indent=1))


def load_results(results_dir, names):
    """{unit name: result} of the units of `names` whose result file is in `results_dir`."""
    results = {}
    for name in names:
        if os.path.exists(result_path(results_dir, name)):
            with open(result_path(results_dir, name), encoding="utf-8") as f:
                results[name] = json.load(f)
    return results
