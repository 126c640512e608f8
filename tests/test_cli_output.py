"""What a user sees: the environment libraries' notices never reach the command line's output."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_NOISE = ("settotalmass", "MUJOCO_LOG", "Adroit", "gymnasium-robotics==")  # MuJoCo; gymnasium-robotics


def run_minipgd(args, cwd):
    """`python -X importtime -m minipgd ARGS` in `cwd`: (exit code, stdout, stderr, imported module names)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "minipgd", *args], cwd=cwd,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
    lines = result.stderr.splitlines(keepends=True)
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    stderr = "".join(line for line in lines if not line.startswith("import time:"))
    return result.returncode, result.stdout, stderr, imported


@pytest.mark.parametrize("name", ["halfcheetah-random", "maze2d-umaze"])
def test_collect_prints_only_its_own_lines(name, tmp_path):
    if name.startswith("maze2d"):
        pytest.importorskip("gymnasium_robotics")
    code, stdout, stderr, _ = run_minipgd(["collect", name, "--transitions", "200", "--out", "d.npz"], tmp_path)
    assert code == 0 and stderr == "", stderr
    assert not any(noise in stdout for noise in LIBRARY_NOISE), stdout
    assert name in stdout and "d.npz" in stdout
    assert (tmp_path / "d.npz").exists() and not (tmp_path / "MUJOCO_LOG.TXT").exists()


@pytest.mark.parametrize("args, exit_code", [
    (["--help"], 0),
    (["collect", "--help"], 0),
    (["collect", "maze2d-umaze", "--transitions", "many"], 2),
])
def test_help_and_a_bad_argument_print_only_their_own_text(args, exit_code, tmp_path):
    code, stdout, stderr, imported = run_minipgd(args, tmp_path)
    assert code == exit_code
    if exit_code == 0:
        assert stdout.startswith("usage: ") and stderr == "", stderr
    else:
        assert "error:" in stderr and stdout == "", stderr
    assert not any(noise in stdout + stderr for noise in LIBRARY_NOISE)
    assert "gymnasium_robotics" not in imported  # imported only when a maze is made
