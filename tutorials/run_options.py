"""What every tutorial reads from how it was started: full or fast mode, and where its figures go.

`run_options()` also puts the tutorial under minipgd's thread policy until its process ends (one BLAS
thread unless MINIPGD_THREADS or OPENBLAS_NUM_THREADS says otherwise: `minipgd/runtime/threads.py`).
"""
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from minipgd.runtime.threads import thread_policy

COMMITTED_FIGURES = Path(__file__).resolve().parents[1] / "figures"
_UNTIL_EXIT = contextlib.ExitStack()  # a tutorial is one script: the thread policy holds to its end


def run_options():
    """(fast, figures folder) of this run, the folder created; the rest of the run under the thread policy.

    Fast mode (`--fast` or MINIPGD_FAST=1) is a smoke run at toy sizes: its figures go to a new
    temporary folder, so they never replace the committed full-size ones in `figures/`, which
    only a full run regenerates. MINIPGD_FIGURES, when set, names the folder for either mode.
    """
    fast = "--fast" in sys.argv or os.environ.get("MINIPGD_FAST") == "1"
    if "MINIPGD_FIGURES" in os.environ:
        figures = Path(os.environ["MINIPGD_FIGURES"])
    elif fast:
        figures = Path(tempfile.mkdtemp(prefix="minipgd-fast-figures-"))
    else:
        figures = COMMITTED_FIGURES
    figures.mkdir(parents=True, exist_ok=True)
    _UNTIL_EXIT.enter_context(thread_policy())
    return fast, figures
