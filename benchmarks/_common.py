"""What every benchmark script shares: the machine's name and the same-function check line."""
import platform
import time
from pathlib import Path

import numpy as np

try:
    from minipgd.runtime.threads import adapt_threads  # the safe-point call of minipgd's long loops
except ImportError:  # a checkout from before the automatic thread policy
    def adapt_threads(site, split=False):
        pass

POLICY_SETTLE_S = 3.5  # the automatic thread policy's first look (1 s), then a second on each BLAS count


def cpu_name():
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def same_function(what, value, ref, tolerance):
    """Print one line of a same-function check: max |value − ref| against tolerance · max(1, max |ref|)."""
    diff = float(np.max(np.abs(np.asarray(value, np.float64) - np.asarray(ref, np.float64))))
    scale = max(1.0, float(np.max(np.abs(ref))))
    passed = diff <= tolerance * scale
    print(f"  {what:<40} max |diff| = {diff:.2e}  (max |minipgd| = {scale:.2f})  {'ok' if passed else '<-- MISMATCH'}")
    return passed


def minipgd_thread_scope():
    """minipgd's thread policy (automatic unless the user chose), if this checkout has it."""
    try:
        from minipgd.runtime.threads import thread_policy
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return thread_policy()


def settle(step, seconds=POLICY_SETTLE_S):
    """Call `step` (which calls `adapt_threads()` as minipgd's training and sampling loops do) for `seconds`,
    so that the automatic thread policy has chosen its count, as it has in any run longer than a few seconds."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        step()
