"""Course assignments: marker handling, the registry, and the student-copy round trip."""
import os
import subprocess
import sys

import pytest

from minipgd import assignments
from minipgd.assignments import ASSIGNMENTS, SOURCE_ROOT, make_student_copy, marked_ids, strip_regions

CODE = """def f(x):
    y = 2 * x
    # BEGIN ASSIGNMENT heun-step
    y = y + 1
    y = y * 3
    # END ASSIGNMENT
    return y
"""


def test_a_region_becomes_an_indented_stub():
    out = strip_regions(CODE)
    assert out.splitlines() == ["def f(x):", "    y = 2 * x",
                                f'    raise NotImplementedError("heun-step: {ASSIGNMENTS["heun-step"].task}")',
                                "    return y"]


def test_regions_not_selected_keep_their_solution_without_markers():
    out = strip_regions(CODE, only=["conv1d-backward"])
    assert "ASSIGNMENT" not in out and "y = y * 3" in out and "NotImplementedError" not in out


@pytest.mark.parametrize("broken, message", [
    (CODE.replace("    # END ASSIGNMENT\n", ""), "has no '# END ASSIGNMENT'"),
    (CODE.replace("    # BEGIN ASSIGNMENT heun-step\n", ""), "unbalanced"),
    (CODE.replace("heun-step", "homework-7"), "unknown assignment 'homework-7'"),
])
def test_broken_markers_are_reported_with_their_line(broken, message):
    with pytest.raises(ValueError, match=message):
        strip_regions(broken, where="f.py")


def test_every_assignment_is_marked_and_every_marker_is_registered():
    assert set(marked_ids()) == set(ASSIGNMENTS)
    assert len(ASSIGNMENTS) >= 6


def test_make_refuses_an_existing_folder_and_unknown_ids(tmp_path):
    with pytest.raises(FileExistsError):
        make_student_copy(tmp_path)
    with pytest.raises(ValueError, match="unknown assignments"):
        make_student_copy(tmp_path / "copy", only=["nope"])


def _pytest(cwd, node_ids, backend="numba"):
    env = dict(os.environ, PYTHONPATH=str(cwd), MINIPGD_BACKEND=backend)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *node_ids]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def test_student_copy_fails_every_grading_test_and_the_package_passes_them(tmp_path):
    ids = make_student_copy(tmp_path / "student")
    assert ids == sorted(ASSIGNMENTS)
    assert (tmp_path / "student" / "ASSIGNMENTS.md").exists()
    node_ids = sorted({test for a in ASSIGNMENTS.values() for test in a.tests})
    student = _pytest(tmp_path / "student", node_ids)
    assert student.returncode == 1, student.stdout[-2000:]
    for aid, assignment in ASSIGNMENTS.items():
        for test in assignment.tests:  # a test whose fixture needs another assignment errors instead of failing
            assert f"FAILED {test}" in student.stdout or f"ERROR {test}" in student.stdout, (aid, test)
    assert "passed" not in student.stdout.splitlines()[-1]  # not one grading test passes without the solutions
    assert student.stdout.count("NotImplementedError") >= len(ASSIGNMENTS)
    solution = _pytest(SOURCE_ROOT, node_ids)
    assert solution.returncode == 0, solution.stdout[-2000:]


def test_student_copy_imports_its_own_package(tmp_path):
    make_student_copy(tmp_path / "student", only=["heun-step"])
    probe = subprocess.run([sys.executable, "-c", "import minipgd; print(minipgd.__file__)"], cwd=tmp_path / "student",
                           env=dict(os.environ, PYTHONPATH=str(tmp_path / "student")), capture_output=True, text=True)
    assert probe.stdout.strip().startswith(str(tmp_path / "student")), (probe.stdout, probe.stderr)
    assert assignments.PACKAGE != tmp_path / "student" / "minipgd"


@pytest.mark.parametrize("aid", sorted(ASSIGNMENTS))
def test_grading_needs_only_its_own_region(aid, tmp_path):
    """Every other region stubbed, this one's solution alone passes its grading command: any order works."""
    make_student_copy(tmp_path / "student", only=sorted(set(ASSIGNMENTS) - {aid}))
    assignment = ASSIGNMENTS[aid]
    graded = _pytest(tmp_path / "student", assignment.tests, backend=assignment.backend)
    assert graded.returncode == 0, graded.stdout[-2000:]
