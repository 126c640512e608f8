"""The thread policy's visible effects: BLAS thread counts set and restored, the user's choice respected,
the automatic policy following the measured load (from fake /proc/stat readings).

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

from minipgd.runtime import threads
from minipgd.runtime.load import CoreLoad
from minipgd.runtime import openblas, workers
from minipgd.runtime.openblas import openblas_libraries
from minipgd.runtime.threads import (AutomaticThreads, adapt_threads, automatic_threads, blas_threads, free_cores,
                                     policy_threads, thread_policy, under_thread_policy)
from minipgd.nn.unet import TemporalUNet, UNetConfig
from minipgd.rl.iql import IQL
from minipgd.rl.td3 import TD3

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
    ({}, "auto"),
    ({"MINIPGD_THREADS": "3"}, 3),
    ({"MINIPGD_THREADS": "auto", "OPENBLAS_NUM_THREADS": "1"}, "auto"),  # a child of an automatic scope
    ({"MINIPGD_THREADS": "default"}, None),  # the policy off: the libraries' defaults
    ({"OPENBLAS_NUM_THREADS": "4"}, None),  # the user chose: left alone
    ({"OMP_NUM_THREADS": "2"}, None),
    ({"MINIPGD_THREADS": "2", "OPENBLAS_NUM_THREADS": "4"}, 2),  # MINIPGD_THREADS wins
    ({"OPENBLAS_NUM_THREADS": ""}, "auto"),  # set but empty: not a choice
])
def test_policy_threads(environ, expected):
    assert policy_threads(environ) == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_minipgd_threads_is_refused(value):
    with pytest.raises(ValueError, match="MINIPGD_THREADS must be a positive integer, 'auto' or 'default'"):
        policy_threads({"MINIPGD_THREADS": value})


@needs_openblas
def test_thread_policy_follows_the_environment(monkeypatch):
    before = counts()
    for name in ("MINIPGD_THREADS", *threads.USER_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    with thread_policy():  # automatic: one thread until the first look at the load
        assert set(counts()) == {1}
        assert os.environ["MINIPGD_THREADS"] == "auto" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
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
    monkeypatch.setattr(openblas, "openblas_libraries", lambda: [])
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
    """No scope open -> automatic, one thread at first; inside the user's blas_threads(2) -> 2; afterwards the
    default again."""
    out = _fresh_process(
        "import json, numpy\n"
        "from minipgd.runtime.openblas import openblas_libraries\n"
        "from minipgd.runtime.threads import blas_threads, under_thread_policy\n"
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
        "from minipgd.runtime.openblas import openblas_libraries\n"
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
    assert workers.side_by_side(*calls, workers=1) == [0, 1, 4, 9, 16]
    assert workers.side_by_side(*calls, workers=2) == [0, 1, 4, 9, 16]
    assert workers.side_by_side() == []


def test_side_by_side_inside_a_worker_runs_serially():
    """A nested call must not wait for workers that are all busy with the outer calls (it would deadlock)."""
    def nested(_):
        return threading.current_thread().name, workers.side_by_side(lambda: threading.current_thread().name)

    for outer, inner in workers.worker_pool(2).map(nested, range(4)):
        assert inner == [outer]


@needs_openblas
def test_parallel_workers_leave_room_for_the_blas_threads():
    cores = threads.available_cores()
    with blas_threads(1):
        assert workers.parallel_workers() == cores
    with blas_threads(cores):  # every core already busy with one product: no workers on top
        assert workers.parallel_workers() == 1


def _write_stat(path, cores):
    """A /proc/stat with one line per core: (busy user ticks, idle ticks) each; the totals line first."""
    lines = [f"cpu  {sum(b for b, _ in cores)} 0 0 {sum(i for _, i in cores)} 0 0 0 0 0 0"]
    lines += [f"cpu{n} {busy} 0 0 {idle} 0 0 0 0 0 0" for n, (busy, idle) in enumerate(cores)]
    path.write_text("\n".join(lines + ["intr 1 2 3", "ctxt 42"]) + "\n")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _load(tmp_path, cores=(0, 1)):
    stat, wall, cpu = tmp_path / "stat", FakeClock(), FakeClock()
    _write_stat(stat, [(0, 0), (0, 0)])
    return CoreLoad(cores, str(stat), wall, cpu), stat, wall, cpu


@pytest.mark.parametrize("busy, own, expected", [
    ([(100, 0), (0, 100)], 1.0, 0.0),  # one core busy, all of it this process: nobody else
    ([(100, 0), (100, 0)], 1.0, 1.0),  # both busy, one of them ours
    ([(100, 0), (100, 0)], 2.0, 0.0),  # both ours (two BLAS threads)
    ([(50, 50), (25, 75)], 0.0, 0.75),
])
def test_core_load_counts_the_cores_others_use(tmp_path, busy, own, expected):
    load, stat, wall, cpu = _load(tmp_path)
    _write_stat(stat, busy)  # 100 ticks per core over one wall second
    wall.now, cpu.now = 1.0, own
    assert load.others() == pytest.approx(expected)
    assert load.others() is None  # no time passed since


def test_core_load_reads_only_the_cores_this_process_may_use(tmp_path):
    load, stat, wall, cpu = _load(tmp_path, cores=(1,))
    _write_stat(stat, [(100, 0), (0, 100)])  # core 0 busy, but not ours
    wall.now = 1.0
    assert load.others() == 0.0


def test_core_load_is_none_where_proc_stat_cannot_be_read(tmp_path):
    load = CoreLoad((0, 1), str(tmp_path / "no-such-file"))
    assert load.others() is None


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="not Linux")
def test_core_load_reads_this_machine():
    load = CoreLoad()
    sum(i * i for i in range(200_000))
    others = load.others()
    assert others is None or 0.0 <= others <= len(load.cores)


@pytest.mark.parametrize("others, cores, expected", [
    (None, 2, 1), (0.0, 2, 2), (0.2, 2, 2), (0.3, 2, 1), (1.0, 2, 1), (2.0, 2, 1), (0.0, 8, 8), (3.1, 8, 5),
])
def test_free_cores(others, cores, expected):
    assert free_cores(others, cores) == expected


class FakeLibrary:
    threads = 1


class FakeLoad:
    """Cores other processes use: `value`, changeable mid-test (a callable raising is 'must not be read')."""

    def __init__(self, value):
        self.value = value

    def others(self):
        return self.value() if callable(self.value) else self.value


def _policy(load=0.0, cores=2):
    """An automatic policy on a fake library, load and clock: (policy, library, clock)."""
    library, clock = FakeLibrary(), FakeClock()
    return AutomaticThreads([library], FakeLoad(load), cores=cores, clock=clock), library, clock


def _run_loop(automatic, library, clock, seconds, step_s, site="loop", split=False):
    """A loop whose iteration takes step_s[BLAS threads now] seconds of the fake clock, for `seconds`."""
    end = clock.now + seconds
    while clock.now < end:
        automatic.adapt(site, split)
        clock.now += step_s[library.threads]


@pytest.mark.parametrize("step_s, expected", [
    ({1: 0.02, 2: 0.01}, 2),  # large products: the second BLAS thread pays
    ({1: 0.01, 2: 0.012}, 1),  # small ones: it costs
])
def test_the_faster_blas_count_is_kept(step_s, expected):
    automatic, library, clock = _policy()
    _run_loop(automatic, library, clock, 10.0, step_s)
    assert library.threads == expected and set(automatic.rates) == {1, 2}


def test_a_busy_machine_gets_one_blas_thread_and_is_not_tried_with_more():
    automatic, library, clock = _policy(load=1.3)
    seen = set()
    for _ in range(5):
        _run_loop(automatic, library, clock, 1.0, {1: 0.01, 2: 0.001})
        seen.add(library.threads)
    assert seen == {1} and automatic.threads == 1


def test_a_neighbour_that_starts_takes_the_second_thread_back_within_a_look():
    automatic, library, clock = _policy()
    _run_loop(automatic, library, clock, 6.0, {1: 0.02, 2: 0.01})
    assert library.threads == 2
    automatic.load.value = 1.0
    _run_loop(automatic, library, clock, 1.05, {1: 0.02, 2: 0.01})
    assert library.threads == 1 and automatic.threads == 1


def test_another_loop_is_measured_again():
    automatic, library, clock = _policy()
    _run_loop(automatic, library, clock, 6.0, {1: 0.02, 2: 0.01}, site="agent updates")
    assert library.threads == 2
    _run_loop(automatic, library, clock, 6.0, {1: 0.01, 2: 0.012}, site="diffusion training")
    assert library.threads == 1


def test_the_choice_is_measured_again_after_retry_looks(monkeypatch):
    monkeypatch.setattr(threads, "RETRY_LOOKS", 5)
    automatic, library, clock = _policy()
    _run_loop(automatic, library, clock, 4.5, {1: 0.02, 2: 0.01})
    assert library.threads == 2
    _run_loop(automatic, library, clock, 10.0, {1: 0.01, 2: 0.012})  # the same loop, now faster on one thread
    assert library.threads == 1


def test_before_the_first_look_one_blas_thread_and_a_worker_per_core():
    automatic, library, clock = _policy(load=lambda: 1 / 0)  # reading the load would fail
    _run_loop(automatic, library, clock, 0.9, {1: 0.01})
    assert (automatic.threads, automatic.blas, library.threads) == (2, 1, 1)


def test_a_split_loop_gives_the_free_cores_to_workers():
    automatic, library, clock = _policy()
    _run_loop(automatic, library, clock, 5.0, {1: 0.02, 2: 0.01}, site="sampler", split=True)
    assert (automatic.threads, library.threads) == (2, 1)  # two workers of one BLAS thread


def test_only_the_scopes_own_thread_changes_the_count():
    automatic, library, clock = _policy(load=lambda: 1 / 0)
    clock.now = 10.0
    worker = threading.Thread(target=automatic.adapt, args=("loop",))
    worker.start()
    worker.join()  # it returned at once: the load was not read
    assert library.threads == 1 and automatic.looks == 0


@needs_openblas
def test_an_explicit_count_pauses_the_automatic_policy(monkeypatch):
    monkeypatch.setattr(threads, "CHECK_EVERY_S", 0.0)
    with automatic_threads() as automatic:
        automatic.load = FakeLoad(0.0)
        with blas_threads(3):
            adapt_threads("loop")
            assert set(counts()) == {3} and automatic.looks == 0
        adapt_threads("loop")  # a first look: two cores free, two BLAS threads tried first
        assert set(counts()) == {min(2, threads.available_cores())}


@needs_openblas
def test_parallel_regions_run_one_blas_thread_per_worker(monkeypatch):
    monkeypatch.setattr(threads, "CHECK_EVERY_S", 0.0)
    with automatic_threads() as automatic:
        automatic.load, automatic.cores = FakeLoad(0.0), 2
        adapt_threads("loop")  # a quiet machine: two BLAS threads tried, or two workers of one
        assert set(counts()) == {2} and workers.parallel_workers() == 2
        inside = workers.side_by_side(counts, counts)
        assert inside == [[1] * len(counts())] * 2 and set(counts()) == {2}


class _FakeLibrary:
    def __init__(self, threads):
        self.threads = threads


def test_a_blas_library_loaded_later_also_gets_one_thread_per_worker(monkeypatch):
    """SciPy's OpenBLAS, loaded by an import after minipgd first looked for libraries, is found at the next look:
    a parallel region sets it to one thread as well, and restores it after."""
    import types

    early, late = _FakeLibrary(2), _FakeLibrary(2)
    monkeypatch.setattr(openblas, "_LOADED", {"modules": -1, "libraries": ()})
    monkeypatch.setattr(openblas, "openblas_libraries", lambda: [early])
    assert workers.side_by_side(lambda: early.threads, lambda: early.threads, workers=2) == [1, 1]
    monkeypatch.setattr(openblas, "openblas_libraries", lambda: [early, late])
    assert openblas.loaded_openblas() == (early,)  # no import since the last look: the maps are not read again
    monkeypatch.setitem(sys.modules, "a_module_loading_blas", types.ModuleType("a_module_loading_blas"))
    inside = workers.side_by_side(lambda: (early.threads, late.threads), lambda: (early.threads, late.threads),
                                  workers=2)
    assert inside == [(1, 1), (1, 1)] and (early.threads, late.threads) == (2, 2)


@needs_openblas
@pytest.mark.parametrize("agent_class", [TD3, IQL])
def test_agent_updates_are_the_same_for_any_blas_thread_count(agent_class):
    """The automatic policy may change the count between updates: at batch 256 that changes no result."""
    def train(n):
        rng = np.random.default_rng(0)
        agent = agent_class(17, 6, np.random.default_rng(1))
        with blas_threads(n):
            for _ in range(4):
                agent.update({"observations": rng.standard_normal((256, 17), dtype=np.float32),
                              "actions": rng.uniform(-1, 1, (256, 6)).astype(np.float32),
                              "rewards": rng.standard_normal(256, dtype=np.float32),
                              "next_observations": rng.standard_normal((256, 17), dtype=np.float32),
                              "terminations": rng.random(256) < 0.05}, rng)
        return {f"{net}.{name}": value for net, module in (("actor", agent.actor), ("critic", agent.critics[0]))
                for name, value in module.state_dict().items()}

    one, two = train(1), train(2)
    assert one.keys() == two.keys() and all(np.array_equal(one[name], two[name]) for name in one)


@needs_openblas
@pytest.mark.parametrize("config", [UNetConfig(in_channels=25, horizon=16),  # the authors' blocks, F = 32
                                    UNetConfig.cpu_default(in_channels=25, horizon=16)])
def test_unet_training_passes_are_the_same_for_any_blas_thread_count(config):
    """At the training batch (16 trajectories of HalfCheetah's 25 channels, H = 16): output, input gradient and
    every parameter gradient bit-identical with one and two BLAS threads. (Not every shape is: 33 trajectories
    of 5 channels gave weight gradients differing by ~1e-5; the docs say so.)"""
    def passes(n):
        rng = np.random.default_rng(0)
        model = TemporalUNet(config, np.random.default_rng(1))
        model.batch_workers = 1
        x, c_noise = rng.standard_normal((16, 25, 16), dtype=np.float32), rng.random(16).astype(np.float32)
        with blas_threads(n):
            y = model.forward(x, c_noise)
            dx = model.backward(y)
            return [y, dx] + [grad.copy() for _, _, grad in model.named_parameters()]

    assert all(np.array_equal(a, b) for a, b in zip(passes(1), passes(2), strict=True))
