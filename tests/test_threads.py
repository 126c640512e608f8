"""The thread policy's visible effects: BLAS thread counts set and restored, the user's choice respected.

No timing here: `benchmarks/contention.py` measures what the policy is for.
"""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from minipgd.nn import threads
from minipgd.nn.threads import blas_threads, openblas_libraries, policy_threads, thread_policy, under_thread_policy

ROOT = Path(__file__).resolve().parents[1]


def _numpy_uses_openblas():
    try:
        return "openblas" in np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"].lower()
    except (TypeError, KeyError):  # NumPy < 1.25 does not say
        return False


def counts():
    return [library.threads for library in openblas_libraries()]


needs_openblas = pytest.mark.skipif(not openblas_libraries(), reason="no OpenBLAS loaded (Accelerate, MKL, not Linux)")


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _numpy_uses_openblas(),
                    reason="NumPy without OpenBLAS, or not Linux")
def test_numpys_own_openblas_is_found():
    assert any("openblas" in os.path.basename(library.path) for library in openblas_libraries())


@needs_openblas
def test_blas_threads_sets_the_count_and_restores_it():
    before = counts()
    with blas_threads(2):
        assert set(counts()) == {2} and os.environ["OPENBLAS_NUM_THREADS"] == "2"
        with blas_threads(1):
            assert set(counts()) == {1} and os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert set(counts()) == {2}
    assert counts() == before


@needs_openblas
def test_the_count_is_restored_after_an_error():
    before = counts()
    with pytest.raises(RuntimeError), blas_threads(2):
        raise RuntimeError
    assert counts() == before


@pytest.mark.parametrize("environ, expected", [
    ({}, 1),
    ({"MINIPGD_THREADS": "3"}, 3),
    ({"MINIPGD_THREADS": "default"}, None),  # the policy off: the libraries' defaults
    ({"OPENBLAS_NUM_THREADS": "4"}, None),  # the user chose: left alone
    ({"OMP_NUM_THREADS": "2"}, None),
    ({"MINIPGD_THREADS": "2", "OPENBLAS_NUM_THREADS": "4"}, 2),  # MINIPGD_THREADS wins
    ({"OPENBLAS_NUM_THREADS": ""}, 1),  # set but empty: not a choice
])
def test_policy_threads(environ, expected):
    assert policy_threads(environ) == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_minipgd_threads_is_refused(value):
    with pytest.raises(ValueError, match="MINIPGD_THREADS must be a positive integer or 'default'"):
        policy_threads({"MINIPGD_THREADS": value})


@needs_openblas
def test_thread_policy_follows_the_environment(monkeypatch):
    before = counts()
    for name in ("MINIPGD_THREADS", *threads.USER_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    with thread_policy():
        assert set(counts()) == {1}
    monkeypatch.setenv("MINIPGD_THREADS", "2")
    with thread_policy():
        assert set(counts()) == {2}
    monkeypatch.delenv("MINIPGD_THREADS")
    with blas_threads(2):  # it sets OPENBLAS_NUM_THREADS=2, as a user may: the policy leaves BLAS alone
        with thread_policy():
            assert set(counts()) == {2}
    assert counts() == before


def test_without_openblas_nothing_happens(tmp_path, monkeypatch):
    maps = tmp_path / "maps"  # a process whose only BLAS is not OpenBLAS
    maps.write_text("7f0000000000-7f0000001000 r-xp 00000000 08:01 42   /usr/lib/libmkl_rt.so.2\n"
                    "7f0000002000-7f0000003000 r-xp 00000000 08:01 43   /nowhere/libopenblas.so.0\n")
    assert openblas_libraries(str(maps)) == []  # not loaded here: never loaded by us either
    assert openblas_libraries(str(tmp_path / "no-such-file")) == []  # not Linux
    monkeypatch.setattr(threads, "openblas_libraries", lambda: [])
    with blas_threads(1), thread_policy():
        pass


def _fresh_process(code):
    """stdout of `code` run in a new Python without any thread variable set (this session runs under the policy)."""
    env = {name: value for name, value in os.environ.items()
           if name not in (threads.POLICY_VARIABLE, *threads.USER_VARIABLES)}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


@needs_openblas
def test_decorated_entry_points_apply_the_policy_unless_a_scope_is_open():
    """No scope open -> one thread; inside the user's blas_threads(2) -> 2; afterwards the default again."""
    out = _fresh_process(
        "import json, numpy\n"
        "from minipgd.nn.threads import blas_threads, openblas_libraries, under_thread_policy\n"
        "counts = lambda: sorted({library.threads for library in openblas_libraries()})\n"
        "work = under_thread_policy(counts)\n"
        "before = counts()\n"
        "with blas_threads(2):\n"
        "    inside = work()\n"
        "print(json.dumps([work(), inside, counts() == before]))\n")
    assert json.loads(out) == [[1], [2], True]


def test_importing_changes_nothing():
    out = _fresh_process(
        "import os, numpy\n"
        "from minipgd.nn.threads import openblas_libraries\n"
        "before = [library.threads for library in openblas_libraries()]\n"
        "import minipgd.__main__, minipgd.experiments.table2\n"
        "after = [library.threads for library in openblas_libraries()]\n"
        "print(after == before, 'OPENBLAS_NUM_THREADS' in os.environ)\n")
    assert out.split() == ["True", "False"]


def test_under_thread_policy_keeps_the_function():
    def train(x, *, y=1):
        """Docs."""
        return x + y

    wrapped = under_thread_policy(train)
    assert wrapped(1, y=2) == 3 and wrapped.__name__ == "train" and wrapped.__doc__ == "Docs."


def test_side_by_side_returns_results_in_order_serially_or_in_workers():
    calls = [lambda i=i: i * i for i in range(5)]
    assert threads.side_by_side(*calls, workers=1) == [0, 1, 4, 9, 16]
    assert threads.side_by_side(*calls, workers=2) == [0, 1, 4, 9, 16]
    assert threads.side_by_side() == []


def test_side_by_side_inside_a_worker_runs_serially():
    """A nested call must not wait for workers that are all busy with the outer calls (it would deadlock)."""
    def nested(_):
        return threading.current_thread().name, threads.side_by_side(lambda: threading.current_thread().name)

    for outer, inner in threads.worker_pool(2).map(nested, range(4)):
        assert inner == [outer]


@needs_openblas
def test_parallel_workers_leave_room_for_the_blas_threads():
    cores = threads.available_cores()
    with blas_threads(1):
        assert threads.parallel_workers() == cores
    with blas_threads(cores):  # every core already busy with one product: no workers on top
        assert threads.parallel_workers() == 1
