"""Command line: `python -m minipgd <command> --help`."""
import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

from .diffusion import DiffusionTrainConfig, TrajectoryDiffusion, TrajectoryLayout, train_diffusion
from .diffusion.windows import trajectory_windows
from .envs.dataset import load_dataset, save_dataset, summary
from .envs.registry import DATASETS
from .experiments.offline_run import ALGORITHMS, run_offline_agent
from .nn import UNetConfig
from .nn.unet import HORIZON
from .nn.checkpoint import write_text_atomically
from .recipes.behavior import POLICY_DIR, train_behavior
from .recipes.collect import collect_dataset
from .rl.synthetic import Algorithm2Config


def log(line):
    """Progress lines appear at once, also when the output goes to a file."""
    print(line, flush=True)


def _train_behavior(args):
    train_behavior(args.env, args.steps, args.medium_return, args.seed, args.out, force=args.force, log=log,
                   command=args.command_line)


def _collect(args):
    out = Path(args.out or f"{args.name}.npz")
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists; pass --force to overwrite it")
    log(f"collecting {args.transitions} transitions of {args.name} (seed {args.seed}) ...")
    dataset = collect_dataset(args.name, args.transitions, args.seed, policy_dir=args.policy_dir, log=log)
    save_dataset(out, dataset, force=args.force)
    info = summary(dataset)
    print(f"wrote {out}: {info['episodes']} episodes, {info['transitions']} transitions, return mean "
          f"{info['mean_return']:.1f} (min {info['min_return']:.1f}, max {info['max_return']:.1f})"
          + (f", normalized score {info['normalized_score']:.1f}" if "normalized_score" in info else ""))


def _train_diffusion(args):
    dataset = load_dataset(args.dataset)
    raw = trajectory_windows(dataset, horizon=args.horizon, log=log)
    layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
    unet = UNetConfig(in_channels=layout.channels, horizon=args.horizon, features=args.features)
    config = DiffusionTrainConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed, unet=unet,
                                  log_every=max(args.steps // 20, 1))
    model = train_diffusion(raw, layout, config, checkpoint=args.checkpoint or f"{args.out}.run.npz", log=log)
    model.save(args.out)
    print(f"wrote {args.out}")


def _train_agent(args):
    dataset = load_dataset(args.dataset)
    model = TrajectoryDiffusion.load(args.diffusion) if args.diffusion else None
    config = Algorithm2Config(source=args.data, guidance_scale=args.guidance_scale, generation=args.generation,
                              n_epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                              n_trajectories=args.trajectories, sampler_steps=args.sampler_steps,
                              eval_every=args.eval_every)
    _, history = run_offline_agent(dataset, args.algo, config, args.seed, model, args.eval_episodes,
                                   args.checkpoint, log)
    if history:
        scored = dataset.metadata["ref_min_return"] is not None
        print(f"final {'normalized score' if scored else 'return'}: {history[-1][1]:.1f}")


def _experiment(args):
    work = args.work_dir or f"runs/{args.name}"
    {"section53": _section53, "table2": _table2, "fidelity": _fidelity}[args.name](args, work)


def _section53(args, work):
    from .experiments.section53 import Section53Config, run_section53
    from .experiments.section53_report import plot_dynamics_error, plot_error_against_likelihood, plot_likelihood
    from .experiments.section53_report import section53_table

    results = run_section53(work, Section53Config.smoke() if args.smoke else Section53Config(), log=log)
    figures, tables = Path(args.figures), Path(args.results)
    figures.mkdir(parents=True, exist_ok=True)
    plot_likelihood(results, figures / "fig5_likelihood.png")
    plot_dynamics_error(results, figures / "fig6_dynamics_error.png")
    plot_error_against_likelihood(results, figures / "sec53_error_vs_likelihood.png")
    table = section53_table(results, args.command_line)
    write_text_atomically(tables / "section53.md", "# Section 5.3 at CPU scale\n\n" + table)
    print(table)
    print(f"wrote {figures / 'fig5_likelihood.png'}, {figures / 'fig6_dynamics_error.png'}, "
          f"{figures / 'sec53_error_vs_likelihood.png'} and {tables / 'section53.md'}")


def _fidelity(args, work):
    from .experiments.fidelity import FidelityConfig, fidelity_table, run_fidelity

    config = FidelityConfig.smoke() if args.smoke else FidelityConfig()
    table = fidelity_table(run_fidelity(work, config, log=log), config, args.command_line)
    write_text_atomically(Path(args.results) / "diffusion_fidelity.md", "# Diffusion model fidelity\n\n" + table)
    print(table)


def _table2(args, work):
    from .experiments.table2 import Table2Config, diffusion_fidelity, run_table2
    from .experiments.table2_report import fidelity_markdown, paper_table2_markdown, table2_markdown

    config = Table2Config.smoke() if args.smoke else Table2Config()
    started = time.perf_counter()
    results = run_table2(work, config, jobs=args.jobs, log=log)
    seconds = sum(r["seconds"] for r in results)
    text = (f"# Table 2 in miniature\n\nProduced by `{args.command_line}`; this invocation took "
            f"{(time.perf_counter() - started) / 60:.1f} min of wall-clock time, the {len(results)} agent runs "
            f"{seconds / 60:.1f} min of compute in all (diffusion models not included). Final D4RL normalized "
            f"score, mean ± standard error over seeds; **bold**: significantly better (Welch's t-test, p < 0.05) "
            f"than every non-bold cell of the same agent and row, as the paper shades.\n\n"
            + table2_markdown(results, config) + "\nThe paper's Table 2 for the same datasets:\n\n"
            + paper_table2_markdown(config.datasets)
            + "\nHow faithful the synthetic data is: real trajectories have 0 by construction (Sec. 5.3's metric):\n\n"
            + fidelity_markdown(diffusion_fidelity(work, config))
            + f"\nConfiguration:\n\n```json\n{json.dumps(asdict(config), indent=1)}\n```\n")
    write_text_atomically(Path(args.results) / "table2.md", text)
    print(text)


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
    diffusion = commands.add_parser("train-diffusion", help="train the trajectory diffusion model on a dataset")
    diffusion.add_argument("dataset", help="an .npz written by `collect`")
    diffusion.add_argument("--out", required=True, help="the trained model (.npz)")
    diffusion.add_argument("--steps", type=int, default=20_000)
    diffusion.add_argument("--batch-size", type=int, default=16, help="Table 3: 16")
    diffusion.add_argument("--features", type=int, default=32, help="U-Net width F (the paper: 1024)")
    diffusion.add_argument("--horizon", type=int, default=HORIZON, help=f"trajectory length H (Table 3: {HORIZON})")
    diffusion.add_argument("--seed", type=int, default=0)
    diffusion.add_argument("--checkpoint", help="run state for resuming (default OUT.run.npz)")
    diffusion.set_defaults(run=_train_diffusion)
    agent = commands.add_parser("train-agent", help="train TD3+BC or IQL on real or synthetic data (Algorithm 2)")
    agent.add_argument("dataset", help="an .npz written by `collect`")
    agent.add_argument("--algo", choices=ALGORITHMS, default="td3bc")
    agent.add_argument("--data", choices=["real", "unguided", "guided"], default="guided")
    agent.add_argument("--diffusion", help="a model from `train-diffusion` (for unguided/guided data)")
    agent.add_argument("--guidance-scale", type=float, default=1.0, help="λ (Table 2: 1.0)")
    agent.add_argument("--generation", choices=["periodic", "continuous"], default="periodic")
    agent.add_argument("--epochs", type=int, default=4, help="N_epochs")
    agent.add_argument("--steps-per-epoch", type=int, default=5_000, help="N_policy (the paper: 250000)")
    agent.add_argument("--trajectories", type=int, default=1_024, help="per generation (the paper: 16384)")
    agent.add_argument("--sampler-steps", type=int, default=64, help="the paper: 256")
    agent.add_argument("--eval-every", type=int, default=5_000)
    agent.add_argument("--eval-episodes", type=int, default=5)
    agent.add_argument("--seed", type=int, default=0)
    agent.add_argument("--checkpoint", help="run state (.npz), written at every evaluation; rerun to resume")
    agent.set_defaults(run=_train_agent)
    experiment = commands.add_parser("experiment", help="run one of the paper's experiments; writes figures/tables")
    experiment.add_argument("name", choices=["section53", "table2", "fidelity"],
                            help="section53: likelihood vs λ (Fig. 5) and dynamics error (Fig. 6) on halfcheetah; "
                                 "table2: agents on real, unguided and guided data (Table 2); fidelity: dynamics "
                                 "error of unguided samples by model size and training")
    experiment.add_argument("--work-dir", help="datasets, models and raw results are kept here and reused by a "
                                               "rerun (default runs/NAME)")
    experiment.add_argument("--figures", default="figures", help="where the PNGs go (default figures/)")
    experiment.add_argument("--results", default="results", help="where the markdown table goes (default results/)")
    experiment.add_argument("--smoke", action="store_true", help="a smoke run of the whole pipeline in seconds")
    experiment.add_argument("--jobs", type=int, default=1, help="table2: units run at once (default 1)")
    experiment.set_defaults(run=_experiment)
    args = parser.parse_args(argv)
    args.command_line = "python -m minipgd " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
