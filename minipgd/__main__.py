"""Command line: `python -m minipgd <command> --help`."""
import argparse
import shlex
from pathlib import Path
import sys

from .envs.behavior import POLICY_DIR, train_behavior
from .envs.collect import collect_dataset
from .envs.dataset import save_dataset, summary
from .envs.registry import DATASETS


def _train_behavior(args):
    train_behavior(args.env, args.steps, args.medium_return, args.seed, args.out, force=args.force,
                   command="python -m minipgd " + shlex.join(sys.argv[1:]))


def _collect(args):
    out = Path(args.out or f"{args.name}.npz")
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists; pass --force to overwrite it")
    print(f"collecting {args.transitions} transitions of {args.name} (seed {args.seed}) ...")
    dataset = collect_dataset(args.name, args.transitions, args.seed, policy_dir=args.policy_dir)
    save_dataset(out, dataset, force=args.force)
    info = summary(dataset)
    print(f"wrote {out}: {info['episodes']} episodes, {info['transitions']} transitions, return mean "
          f"{info['mean_return']:.1f} (min {info['min_return']:.1f}, max {info['max_return']:.1f})"
          + (f", normalized score {info['normalized_score']:.1f}" if "normalized_score" in info else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minipgd", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    behavior = commands.add_parser("train-behavior", help="train a behavior policy online with TD3 (medium/expert)")
    behavior.add_argument("--env", required=True, choices=["halfcheetah", "hopper", "walker2d"])
    behavior.add_argument("--steps", type=int, default=300_000, help="environment steps (default 300000)")
    behavior.add_argument("--medium-return", type=float, required=True,
                          help="save the 'medium' policy at the first evaluation reaching this return")
    behavior.add_argument("--seed", type=int, default=0)
    behavior.add_argument("--out", default=str(POLICY_DIR), help=f"output folder (default {POLICY_DIR})")
    behavior.add_argument("--force", action="store_true", help="overwrite existing files")
    behavior.set_defaults(run=_train_behavior)
    collect = commands.add_parser("collect", help="collect an offline dataset (D4RL-style recipes)")
    collect.add_argument("name", choices=sorted(DATASETS), metavar="NAME", help=f"one of {', '.join(DATASETS)}")
    collect.add_argument("--transitions", type=int, default=100_000, help="default 100000")
    collect.add_argument("--seed", type=int, default=0)
    collect.add_argument("--out", help="output .npz (default NAME.npz)")
    collect.add_argument("--policy-dir", default=str(POLICY_DIR), help="where the behavior policies are")
    collect.add_argument("--force", action="store_true", help="overwrite an existing file")
    collect.set_defaults(run=_collect)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
