"""Course assignments: a student copy of minipgd with marked solution regions taken out.

Solution code in the package is fenced by

    # BEGIN ASSIGNMENT <id>
    ... the solution ...
    # END ASSIGNMENT

`python -m minipgd.assignments make OUT` copies the package, its tests and its
set-up files to OUT and replaces every region by
`raise NotImplementedError("<id>: <what to implement>")`; the tests listed for an
assignment grade it (`python -m minipgd.assignments list` prints them) and need no
other assignment's region, so the assignments can be done in any order. A region may
appear several times (e.g. a NumPy twin and its Numba copy); all go together.
`--only ID` takes out only the named assignments.
"""
import argparse
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE.parent
BEGIN = re.compile(r"^(\s*)# BEGIN ASSIGNMENT (\S+)\s*$")
END = re.compile(r"^\s*# END ASSIGNMENT\s*$")
COPIED_FILES = ("setup.cfg", "pyproject.toml")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", ".pytest_cache")


@dataclass(frozen=True)
class Assignment:
    task: str  # what the stub's message asks for
    tests: tuple  # pytest node ids that grade it, using no other assignment's region
    backend: str = "numba"  # MINIPGD_BACKEND for the grading run


ASSIGNMENTS = {
    "conv1d-backward": Assignment(
        "implement the Conv1d backward products, per tap j on shifted blocks of time steps: dL/dW[j] += x^T dy "
        "and dL/dx += dy W[j]^T, in the NumPy twin and its Numba copy (App. A.1)",
        ("tests/test_gradients.py::test_conv1d",)),
    "group-norm-backward": Assignment(
        "implement GroupNorm's backward pass: dL/dx, dL/dgamma, dL/dbeta (App. A.1, Wu & He 2018)",
        ("tests/test_gradients.py::test_group_norm[numpy]",), backend="numpy"),
    "edm-preconditioning": Assignment(
        "implement EDM's c_skip, c_out, c_in, c_noise (Karras et al. Table 1; the paper's App. A.2)",
        ("tests/test_edm.py::test_preconditioning_limits", "tests/test_edm.py::test_preconditioning_matches_table_1",
         "tests/test_edm.py::test_denoiser_backward_through_preconditioning")),
    "heun-step": Assignment(
        "implement Algorithm 1 l. 12-15: the Euler step and Heun's second-order correction (Eq. 2)",
        ("tests/test_sampler.py",)),
    "guidance-step": Assignment(
        "implement Algorithm 1 l. 10-11: unit-normalize the action gradient and add lambda_n times it",
        ("tests/test_guidance.py::test_normalized_guidance_has_unit_norm",
         "tests/test_guidance.py::test_guidance_step_moves_only_the_actions_by_lambda",
         "tests/test_guidance.py::test_guidance_step_raises_the_target_likelihood")),
    "td3bc-actor-gradient": Assignment(
        "implement the TD3+BC actor loss -lambda mean Q(s, pi(s)) + mean((pi(s) - a)^2) and its gradient",
        ("tests/test_td3.py::test_actor_loss_gradient",
         "tests/test_td3.py::test_td3_bc_pulls_the_actor_towards_dataset_actions")),
}


def strip_regions(text, only=None, where="<text>"):
    """`text` with each marked region (of the ids in `only`, or all) replaced by a NotImplementedError stub.

    Regions not selected keep their solution; their marker lines are dropped either way.
    """
    out, region = [], None  # region: (id, line number, keep the solution?)
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if region is not None:
                raise ValueError(f"{where}:{number}: unbalanced assignment marker (region {region[0]!r} still open)")
            indent, aid = begin.groups()
            if aid not in ASSIGNMENTS:
                raise ValueError(f"{where}:{number}: unknown assignment {aid!r}; known: {sorted(ASSIGNMENTS)}")
            region = (aid, number, only is not None and aid not in only)
            if not region[2]:
                out.append(f'{indent}raise NotImplementedError("{aid}: {ASSIGNMENTS[aid].task}")\n')
        elif end:
            if region is None:
                raise ValueError(f"{where}:{number}: unbalanced assignment marker ('# END ASSIGNMENT' without a BEGIN)")
            region = None
        elif region is None or region[2]:
            out.append(line)
    if region is not None:
        raise ValueError(f"{where}:{region[1]}: assignment {region[0]!r} has no '# END ASSIGNMENT'")
    return "".join(out)


def _sources(root):
    """The package's Python files, except this one (whose docstring shows the markers)."""
    return [p for p in sorted(Path(root).rglob("*.py")) if p.name != Path(__file__).name or p.parent != Path(root)]


def marked_ids(root=PACKAGE):
    """{id: [files]} of every region in the package."""
    found = {}
    for path in _sources(root):
        for line in path.read_text(encoding="utf-8").splitlines():
            begin = BEGIN.match(line)
            if begin:
                found.setdefault(begin.group(2), []).append(str(path.relative_to(Path(root).parent)))
    return found


def make_student_copy(out, only=None):
    """Write the student copy to `out` (which must not exist); returns the ids taken out."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose a new folder for the student copy")
    tests = SOURCE_ROOT / "tests"
    if not tests.is_dir():
        raise FileNotFoundError(f"no tests/ next to {PACKAGE}: make a student copy from a source checkout "
                                "(pip install -e .)")
    unknown = sorted(set(only or ()) - set(ASSIGNMENTS))
    if unknown:
        raise ValueError(f"unknown assignments {unknown}; known: {sorted(ASSIGNMENTS)}")
    shutil.copytree(PACKAGE, out / "minipgd", ignore=IGNORED)
    shutil.copytree(tests, out / "tests", ignore=IGNORED)
    for name in COPIED_FILES:
        if (SOURCE_ROOT / name).exists():
            shutil.copy2(SOURCE_ROOT / name, out / name)
    for path in _sources(out / "minipgd"):
        text = path.read_text(encoding="utf-8")
        if "# BEGIN ASSIGNMENT" in text:
            path.write_text(strip_regions(text, only, where=str(path)), encoding="utf-8")
    ids = sorted(only or ASSIGNMENTS)
    (out / "ASSIGNMENTS.md").write_text(_instructions(ids), encoding="utf-8")
    return ids


def grading_command(aid):
    a = ASSIGNMENTS[aid]
    return f"MINIPGD_BACKEND={a.backend} python -m pytest {' '.join(a.tests)}"


def _instructions(ids):
    lines = ["# minipgd assignments", "", "Each assignment is a `raise NotImplementedError(\"<id>: ...\")` in the",
             "package. Replace it with your code; the command below grades it. Find them with",
             "`grep -rn NotImplementedError minipgd/`. Each grading command needs only its own",
             "assignment, so do them in any order.", ""]
    found = marked_ids()
    for aid in ids:
        lines += [f"## {aid}", "", ASSIGNMENTS[aid].task + ".", "",
                  "Where: " + ", ".join(f"`{f}`" for f in sorted(set(found.get(aid, [])))), "",
                  f"Grade: `{grading_command(aid)}`", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minipgd.assignments", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make", help="write a student copy to OUT")
    make.add_argument("out", metavar="OUT")
    make.add_argument("--only", action="append", metavar="ID", help="take out only this assignment (repeatable)")
    commands.add_parser("list", help="the assignments, where they are and how each is graded")
    args = parser.parse_args(argv)
    try:
        if args.command == "make":
            ids = make_student_copy(args.out, args.only)
            print(f"wrote a student copy to {args.out} with {len(ids)} assignment(s): {', '.join(ids)}; "
                  f"see {os.path.join(args.out, 'ASSIGNMENTS.md')}")
        else:
            for aid, files in sorted(marked_ids().items()):
                print(f"{aid}: {', '.join(sorted(set(files)))}\n    {grading_command(aid)}")
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
