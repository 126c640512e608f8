"""What every tutorial reads from how it was started: full or fast mode, and where its figures go."""
import os
import sys
import tempfile
from pathlib import Path

COMMITTED_FIGURES = Path(__file__).resolve().parents[1] / "figures"


def run_options():
    """(fast, figures folder) of this run, the folder created.

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
    return fast, figures
