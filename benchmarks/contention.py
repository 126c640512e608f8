"""What a busy machine costs minipgd, with NumPy's default BLAS threads and with minipgd's thread policy.

Run from the repository root:

    python benchmarks/contention.py            # about 10-20 minutes on 2 cores
    python benchmarks/contention.py --quick    # a smoke run of the script, smaller workloads

Three workloads, each run as its own subprocess and timed by wall clock:

* tutorial 01 `--fast` (`--quick`: tutorial 02 `--fast`),
* one test module, `python -m pytest -q tests/test_algorithm2.py` (`--quick`: tests/test_edm.py),
* a small `python -m minipgd train-agent` with guided synthetic data, on a dataset
  and a diffusion model prepared once (untimed) in the work folder.

Each runs alone and beside `--neighbours` CPU-bound processes (`python -c "while
True: pass"`, started before and killed after each run by this script), with
minipgd's policy (no thread variable set: automatic, BLAS threads on the cores
nobody else uses), with one BLAS thread (`MINIPGD_THREADS=1`, the policy before
the automatic one) and with the policy switched off (`MINIPGD_THREADS=default`:
OpenBLAS's default, one thread per core). Every subprocess gets this process's environment with the thread variables
(MINIPGD_THREADS, OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS, OMP_NUM_THREADS,
MKL_NUM_THREADS, NUMBA_NUM_THREADS) removed and only MINIPGD_THREADS set as
above. The goal (issue 14): beside two CPU-bound processes on 2 cores a run
costs about its fair share (1.5x), at most 2x, and alone the policy loses nothing
against the default ("alone, vs default threads" <= 1).

Finished measurements are kept in `WORK/results.json` (default work folder: a
`minipgd-contention` folder in the system's temporary directory), so an
interrupted run continues where it stopped (a failed one is tried again);
`--fresh` starts over, the prepared dataset and model included (a model written by
an older minipgd may not load in this one).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from _common import cpu_name  # noqa: E402  (benchmarks/, the script's own folder)

PYTHON = sys.executable
THREAD_VARIABLES = ("MINIPGD_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
MODES = {  # name: MINIPGD_THREADS (None: unset, the policy's default)
    "NumPy default threads (MINIPGD_THREADS=default)": "default",
    "minipgd policy (no variable set)": None,
    "one BLAS thread (MINIPGD_THREADS=1)": "1",
}
TIMEOUT_S = 1800


def workloads(quick, work):
    """{name: (argv, folder it runs in)}."""
    steps, trajectories, sampler_steps = (20, 16, 4) if quick else (250, 128, 16)
    agent = ["train-agent", str(work / "data.npz"), "--diffusion", str(work / "model.npz"), "--data", "guided",
             "--epochs", "2", "--eval-episodes", "1", "--steps-per-epoch", str(steps), "--eval-every", str(steps),
             "--trajectories", str(trajectories), "--sampler-steps", str(sampler_steps)]
    tutorial = "02_edm_sampler.py" if quick else "01_guidance.py"
    module = "tests/test_edm.py" if quick else "tests/test_algorithm2.py"
    return {
        f"tutorial {tutorial} --fast": ([PYTHON, str(ROOT / "tutorials" / tutorial), "--fast"], work),
        f"pytest {module}": ([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", module], ROOT),
        f"train-agent, guided, 2 x {steps} steps, {trajectories} trajectories x {sampler_steps} sampler steps":
            ([PYTHON, "-m", "minipgd", *agent], work),
    }


def environment(minipgd_threads, work):
    env = {name: value for name, value in os.environ.items() if name not in THREAD_VARIABLES}
    if minipgd_threads is not None:
        env["MINIPGD_THREADS"] = minipgd_threads
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["TMPDIR"] = str(work / "tmp")  # the tutorials' fast-mode figures land here
    return env


def prepare(work, quick):
    """The dataset and diffusion model the train-agent workload uses (made once, untimed, under the policy)."""
    env = environment(None, work)
    steps = [("data.npz", ["collect", "halfcheetah-random", "--transitions", "1000" if quick else "2000",
                           "--out", "data.npz"]),
             ("model.npz", ["train-diffusion", "data.npz", "--out", "model.npz", "--steps", "20" if quick else "100",
                            "--features", "16"])]
    for output, argv in steps:
        if not (work / output).exists():
            print(f"preparing {output}: python -m minipgd {' '.join(argv)}", flush=True)
            subprocess.run([PYTHON, "-m", "minipgd", *argv], cwd=work, env=env, check=True, capture_output=True)


class Neighbours:
    """`n` CPU-bound processes for the duration of a `with` block (started and killed by this script)."""

    def __init__(self, n):
        self.n, self.processes = n, []

    def __enter__(self):
        self.processes = [subprocess.Popen([PYTHON, "-c", "while True: pass"]) for _ in range(self.n)]
        time.sleep(0.5)  # running before the measured process starts
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()


def timed_run(argv, cwd, env):
    """Wall-clock seconds of one subprocess (None on failure or timeout, with the reason printed)."""
    started = time.perf_counter()
    try:
        result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"  timed out after {TIMEOUT_S} s", flush=True)
        return None
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(f"  failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-2000:]}", flush=True)
        return None
    return seconds


def machine_lines():
    import numpy as np

    from minipgd.runtime.openblas import openblas_libraries

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    blas = ", ".join(f"{Path(lib.path).name} ({lib.threads} threads by default)" for lib in openblas_libraries())
    notes = [f"{name}={os.environ[name]}" for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ]
    return [f"CPU: {cpu_name()}, {cores} cores available ({os.cpu_count()} in all)",
            f"Python {platform.python_version()}, NumPy {np.__version__}, BLAS: {blas or 'no OpenBLAS found'}"
            + (f"; {', '.join(notes)} kept from the environment" if notes else "")]


def fmt(seconds):
    return "failed" if seconds is None else f"{seconds:.1f}"


def ratio(a, b):
    return "–" if a is None or b is None else f"{a / b:.2f}x"


def table(results, names, neighbours):
    default = list(MODES)[0]
    lines = [f"| workload | threads | alone (s) | beside {neighbours} busy processes (s) | slowdown | "
             "alone, vs default threads |", "|---|---|---:|---:|---:|---:|"]
    for name in names:
        for mode in MODES:
            alone, busy = results.get(f"{name} | {mode} | alone"), results.get(f"{name} | {mode} | busy")
            versus = ratio(alone, results.get(f"{name} | {default} | alone")) if mode != default else ""
            lines.append(f"| {name} | {mode} | {fmt(alone)} | {fmt(busy)} | {ratio(busy, alone)} | {versus} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads: a smoke run of the script")
    parser.add_argument("--neighbours", type=int, default=2, help="CPU-bound processes beside the busy runs")
    parser.add_argument("--work", help="datasets, model and finished measurements (default: a temporary folder)")
    parser.add_argument("--fresh", action="store_true", help="start over: forget the finished measurements "
                                                                 "and remake the dataset and model")
    args = parser.parse_args()
    work = Path(args.work or Path(tempfile.gettempdir()) / ("minipgd-contention" + ("-quick" if args.quick else "")))
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    saved = work / "results.json"
    results = json.loads(saved.read_text()) if saved.exists() and not args.fresh else {}
    if args.fresh:
        for prepared in ("data.npz", "model.npz", "model.npz.run.npz"):
            (work / prepared).unlink(missing_ok=True)

    print("\n".join(machine_lines()), flush=True)
    prepare(work, args.quick)
    runs = workloads(args.quick, work)
    for name, (argv, cwd) in runs.items():
        for mode, minipgd_threads in MODES.items():
            for where in ("alone", "busy"):
                key = f"{name} | {mode} | {where}"
                if results.get(key) is not None:  # done (a failed one is tried again)
                    continue
                print(f"{key} ...", flush=True)
                with Neighbours(args.neighbours if where == "busy" else 0):
                    results[key] = timed_run(argv, cwd, environment(minipgd_threads, work))
                print(f"  {fmt(results[key])} s", flush=True)
                saved.write_text(json.dumps(results, indent=1))

    command = "python benchmarks/contention.py" + (" --quick" if args.quick else "")
    print(f"\n`{command}`\n\n" + "\n".join(machine_lines()) + "\n")
    print(table(results, list(runs), args.neighbours))


if __name__ == "__main__":
    main()
