"""What a committed result records about where it was made: software versions and the machine."""
import importlib.metadata
import platform
import subprocess
import sys
import time
from pathlib import Path

from ..runtime.threads import available_cores

PACKAGES = ("numpy", "numba", "scipy", "gymnasium", "mujoco", "gymnasium-robotics")


def software_versions():
    """{package: version} of Python and the packages results depend on (None where one is not installed)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine():
    """{"cpu", "cores", "platform"}: the CPU's model name (Linux: /proc/cpuinfo), the cores this process may use."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": available_cores(), "platform": sys.platform}


def source_commit():
    """The git commit of minipgd's checkout ("+changes" if the package has uncommitted ones), None outside one."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=Path(__file__).parents[1], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--", ".") else "")
    except (OSError, subprocess.SubprocessError):
        return None


LOADED_COMMIT = source_commit()  # the code this process runs: read when it is imported, not when a result is written


def provenance():
    """Versions, the commit of the minipgd this process loaded, machine and the date (UTC), for a result file."""
    return {"versions": {**software_versions(), "minipgd": LOADED_COMMIT}, "machine": machine(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
