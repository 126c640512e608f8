"""The tutorials run end to end in their fast mode (CI keeps them honest), and leave `figures/` alone."""
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TUTORIALS_DIR = Path(__file__).resolve().parents[1] / "tutorials"
TUTORIALS = sorted(TUTORIALS_DIR.glob("[0-9][0-9]_*.py"))
COMMITTED_FIGURES = TUTORIALS_DIR.parent / "figures"


def _snapshot(folder):
    """{file name: (content hash, mtime)} of the committed figures."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.mark.parametrize("script", TUTORIALS, ids=[t.name for t in TUTORIALS])
def test_tutorial_runs_in_fast_mode_without_touching_the_committed_figures(script, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("MINIPGD_FIGURES", "MINIPGD_FAST")}
    env["TMPDIR"] = str(tmp_path)  # where the fast run's temporary figures folder is made
    before = _snapshot(COMMITTED_FIGURES)
    result = subprocess.run([sys.executable, str(script), "--fast"], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _snapshot(COMMITTED_FIGURES) == before
    (written,) = tmp_path.glob("minipgd-fast-figures-*")
    assert sorted(written.glob("*.png")), "the tutorial wrote no figure"
    assert str(written) in result.stdout, "the tutorial did not say where its figures went"


@pytest.fixture
def run_options():
    """tutorials/run_options.py's `run_options`, imported the way a tutorial script sees it; the thread policy it
    holds to the end of a tutorial's process is let go after the test (left open, it would change the thread
    counts later tests see)."""
    spec = importlib.util.spec_from_file_location("run_options", TUTORIALS_DIR / "run_options.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module.run_options
    module._UNTIL_EXIT.close()


def test_figures_go_to_figures_only_in_a_full_run(run_options, tmp_path, monkeypatch):
    monkeypatch.delenv("MINIPGD_FIGURES", raising=False)
    monkeypatch.delenv("MINIPGD_FAST", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["01_guidance.py"])
    assert run_options() == (False, COMMITTED_FIGURES)
    monkeypatch.setattr(sys, "argv", ["01_guidance.py", "--fast"])
    fast, figures = run_options()
    assert fast and figures.parent == tmp_path and figures.is_dir()
    monkeypatch.setenv("MINIPGD_FIGURES", str(tmp_path / "mine"))
    assert run_options() == (True, tmp_path / "mine") and (tmp_path / "mine").is_dir()
