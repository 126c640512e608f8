"""How many cores other processes keep busy: what minipgd's automatic thread policy measures.

Linux counts in /proc/stat, per core, the clock ticks (usually 1/100 s) spent busy
(user, nice, system, irq, softirq, and `steal`: time a virtual machine's hypervisor
gave to someone else) and idle (idle, iowait). Between two readings, the busy share
of the cores this process may run on, minus this process's own CPU time over the
same wall time (all its threads, spinning BLAS threads included), is the number of
cores other processes used. Elsewhere (macOS, Windows) the file does not exist and
the answer is None.
"""
import os
import time

BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system (idle iowait) irq softirq steal; guest is inside user
IDLE_FIELDS = (3, 4)


def core_ticks(cores, path="/proc/stat"):
    """(busy, total) ticks since boot summed over the CPUs numbered in `cores`; None where unreadable."""
    try:
        with open(path, encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    busy = total = found = 0
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            ticks = [int(value) for value in fields]
            busy += sum(ticks[i] for i in BUSY_FIELDS if i < len(ticks))
            total += sum(ticks[i] for i in BUSY_FIELDS + IDLE_FIELDS if i < len(ticks))
            found += 1
    return (busy, total) if found else None


def allowed_cores():
    """The CPU numbers this process may run on (all of them where the OS does not say)."""
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


class CoreLoad:
    """Cores used by other processes, measured between calls of `others()`.

    `path`, `clock` (wall seconds) and `own_cpu` (this process's CPU seconds) can be replaced in tests.
    """

    def __init__(self, cores=None, path="/proc/stat", clock=time.monotonic, own_cpu=time.process_time):
        self.cores = allowed_cores() if cores is None else set(cores)
        self.path, self.clock, self.own_cpu = path, clock, own_cpu
        self._last = self._reading()

    def _reading(self):
        return core_ticks(self.cores, self.path), self.clock(), self.own_cpu()

    def others(self):
        """Cores (a float, 0 .. len(cores)) other processes kept busy since the previous call; None if unknown."""
        (ticks, wall, cpu), (last_ticks, last_wall, last_cpu) = self._reading(), self._last
        self._last = ticks, wall, cpu
        if ticks is None or last_ticks is None or ticks[1] <= last_ticks[1] or wall <= last_wall:
            return None
        busy_cores = len(self.cores) * (ticks[0] - last_ticks[0]) / (ticks[1] - last_ticks[1])
        own_cores = (cpu - last_cpu) / (wall - last_wall)
        return min(float(len(self.cores)), max(0.0, busy_cores - own_cores))
