"""The tutorials run end to end in their fast mode (CI keeps them honest)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("script", TUTORIALS, ids=[t.name for t in TUTORIALS])
def test_tutorial_runs_in_fast_mode(script, tmp_path):
    env = dict(os.environ, MINIPGD_FAST="1", MINIPGD_FIGURES=str(tmp_path))
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("*.png")), "the tutorial wrote no figure"
