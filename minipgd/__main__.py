"""Command line: `python -m minipgd <command> --help`.

Every command checks its arguments and its outputs before any work: an output
that is one of the command's inputs is refused, an existing one is replaced only
with --force, and its folder must take new files. A run checkpoint (train-agent
--checkpoint, train-diffusion's run state) is resumed when it was made from the
same data and settings and refused otherwise; --force starts the run over.
Ctrl-C ends a command with one line saying how to go on (exit status 130).
Every command runs under minipgd's thread policy (`minipgd/runtime/threads.py`): BLAS
threads on the cores no other process is using, re-chosen at most once a second,
unless MINIPGD_THREADS=N (or =default), OPENBLAS_NUM_THREADS or OMP_NUM_THREADS
says otherwise.
"""
import argparse
import dataclasses
import os
import shlex
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from .diffusion import DiffusionTrainConfig, TrajectoryDiffusion, TrajectoryLayout, train_diffusion
from .diffusion.windows import trajectory_windows
from .envs.dataset import load_dataset, origin, save_dataset, summary
from .envs.registry import DATASETS
from .experiments.offline_run import ALGORITHMS, run_offline_agent
from .experiments.report import write_report
from .experiments.table2 import PRESETS as TABLE2_PRESETS
from .experiments.units import load_results
from .nn import UNetConfig
from .nn.checkpoint import check_output, check_writable, load_checkpoint
from .runtime.threads import thread_policy
from .nn.unet import ACTIVATIONS
from .recipes.behavior import ACTOR_HIDDEN, POLICY_DIR, train_behavior
from .recipes.collect import TRANSITIONS, collect_dataset
from .rl.online import OnlineConfig
from .rl.synthetic import AUTO, GENERATIONS, SOURCES, Algorithm2Config, check_guidance_scale

EXPERIMENT_FILES = {  # what each experiment writes: (the option naming the folder, file name)
    "section53": (("figures", "fig5_likelihood.png"), ("figures", "fig6_dynamics_error.png"),
                  ("figures", "sec53_error_vs_likelihood.png"), ("results", "section53.md")),
    "table2": (("figures", "table2_curves.png"), ("results", "table2.md")),  # other presets: NAME-PRESET.*
    "fidelity": (("figures", "fidelity_frontier.png"), ("results", "diffusion_fidelity.md")),
    "fig4": (("figures", "fig4_generation.png"), ("results", "fig4.md")),
}
UNIT_EXPERIMENTS = ("fidelity", "fig4", "section53", "table2")  # made of units, one result file each in RESULTS/NAME/
TABLE2_DEFAULT_PRESET = "miniature"


def log(line):
    """Progress lines appear at once, also when the output goes to a file."""
    print(line, flush=True)


def _train_behavior(args):
    args.interrupted = lambda: (f"interrupted: train-behavior does not resume; rerun `{args.command_line}` "
                                f"(with --force if it already wrote policies to {args.out})")
    train_behavior(args.env, args.steps, args.medium_return, args.seed, args.out, force=args.force, log=log,
                   command=args.command_line, start_steps=args.start_steps, actor_hidden=args.actor_hidden)


def _collect(args):
    out = args.out or f"{args.name}.npz"
    check_output(out, args.force, inputs=[Path(args.policy_dir) / f"{args.name}.npz"], what="--out")
    log(f"collecting {args.transitions} transitions of {args.name} (seed {args.seed}) ...")
    dataset = collect_dataset(args.name, args.transitions, args.seed, policy_dir=args.policy_dir, log=log)
    save_dataset(out, dataset, force=args.force)
    info = summary(dataset)
    print(f"wrote {out}: {info['episodes']} episodes, {info['transitions']} transitions, return mean "
          f"{info['mean_return']:.1f} (min {info['min_return']:.1f}, max {info['max_return']:.1f})"
          + (f", normalized score {info['normalized_score']:.1f}" if "normalized_score" in info else ""))


def _train_diffusion(args):
    checkpoint = args.checkpoint or f"{args.out}.run.npz"
    check_output(args.out, args.force, inputs=[args.dataset], what="--out")
    check_output(checkpoint, force=True, inputs=[args.dataset, args.out], what="--checkpoint")  # resumed if there
    dataset = load_dataset(args.dataset)
    layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
    unet = UNetConfig(in_channels=layout.channels, horizon=args.horizon, features=args.features,
                      activation=args.activation, residual=args.residual)
    config = DiffusionTrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, unet=unet,
                                  log_every=max(args.steps // 20, 1))
    args.interrupted = lambda: _resume_hint(checkpoint, config.steps, config.checkpoint_every, args.command_line)
    raw = trajectory_windows(dataset, horizon=args.horizon, log=log)
    _start_over(checkpoint, args.force)
    model = train_diffusion(raw, layout, config, checkpoint=checkpoint, log=log)
    model.data = origin(dataset)
    model.save(args.out)
    print(f"wrote {args.out}")


def _sample(args):
    from .recipes.synthetic import check_guidance, synthetic_dataset
    from .rl.saved_policy import load_target_policy

    if args.scale is not None and not args.policy:
        raise ValueError("--scale is the guidance towards --policy: pass --policy ACTOR too, or leave --scale out "
                         "for unguided samples")
    if args.auto_target is not None and args.scale != AUTO:
        raise ValueError("--auto-target is the goal of --scale auto; pass both, or neither")
    check_output(args.out, args.force, inputs=[args.model, args.policy], what="--out")
    model = TrajectoryDiffusion.load(args.model)
    policy = load_target_policy(args.policy) if args.policy else None
    scale = 0.0 if policy is None else (1.0 if args.scale is None else args.scale)
    check_guidance(model, policy, scale)
    log(f"sampling {args.n} trajectories of H = {model.horizon} from {args.model} ("
        + (f"guided by {args.policy}, λ = {scale}" if policy else "unguided") + f", {args.sampler_steps} steps)")
    tic = time.perf_counter()
    dataset = synthetic_dataset(model, args.n, np.random.default_rng(args.seed), args.seed, policy, scale,
                                args.sampler_steps, about={"model": args.model, "policy": args.policy},
                                auto_target=args.auto_target)
    save_dataset(args.out, dataset, force=args.force)
    info, auto = summary(dataset), dataset.metadata.get("auto")
    if auto:
        log(f"auto: λ = {dataset.metadata['guidance_scale']:g} (target log π {auto['target']:.2f}; probes "
            + ", ".join(f"{s}: {v:.2f}" for s, v in auto["tried"].items()) + ")")
    print(f"wrote {args.out}: {info['transitions']} transitions in {info['episodes']} trajectories "
          f"({int(dataset.terminations.sum())} ending on a terminal state), {time.perf_counter() - tic:.0f} s")


def _train_agent(args):
    if args.data != "real" and not args.diffusion:
        raise ValueError(f"--data {args.data} needs a trained diffusion model: pass --diffusion MODEL "
                         "(a file written by train-diffusion), or train on --data real")
    if args.data == "real" and args.diffusion:
        raise ValueError("--diffusion is used only with --data unguided or guided; leave it out with --data real")
    if args.checkpoint:  # an existing one is resumed, not overwritten
        check_output(args.checkpoint, force=True, inputs=[args.dataset, args.diffusion], what="--checkpoint")
    if args.save_actor:
        check_output(args.save_actor, args.force, inputs=[args.dataset, args.diffusion, args.checkpoint],
                     what="--save-actor")
    dataset = load_dataset(args.dataset)
    model = TrajectoryDiffusion.load(args.diffusion) if args.diffusion else None
    if args.auto_target is not None and args.guidance_scale != AUTO:
        raise ValueError("--auto-target is the goal of --guidance-scale auto; pass both, or neither")
    config = Algorithm2Config(source=args.data, guidance_scale=args.guidance_scale, auto_target=args.auto_target,
                              generation=args.generation,
                              n_epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                              n_trajectories=args.trajectories, sampler_steps=args.sampler_steps,
                              eval_every=args.eval_every, eval_episodes=args.eval_episodes)
    total = config.n_epochs * config.steps_per_epoch
    args.interrupted = lambda: _resume_hint(args.checkpoint, total, config.eval_every, args.command_line)
    _start_over(args.checkpoint, args.force)
    agent, history = run_offline_agent(dataset, args.algo, config, args.seed, model, checkpoint=args.checkpoint,
                                       log=log)
    scored = dataset.metadata["ref_min_return"] is not None
    print(f"final {'normalized score' if scored else 'return'} (step {history[-1][0]}): {history[-1][1]:.1f}")
    if args.save_actor:
        agent.save_actor(args.save_actor, {"dataset": args.dataset, "source": args.data, "steps": history[-1][0]})
        print(f"wrote {args.save_actor}")


def _start_over(checkpoint, force):
    """--force: the run state of an earlier run is removed (after every check passed), so this run starts at 0."""
    if force and checkpoint and os.path.exists(checkpoint):
        os.remove(checkpoint)
        log(f"--force: removed the earlier run state {checkpoint}; starting over")


def _resume_hint(checkpoint, total, every, command):
    """The line printed on Ctrl-C during a run that saves its state to `checkpoint` every `every` steps."""
    if checkpoint is None:
        return "interrupted; nothing to resume from: pass --checkpoint FILE to save the run state as it goes"
    if not os.path.exists(checkpoint):
        return (f"interrupted before the first save to {checkpoint} (every {every} steps); nothing to resume: "
                f"rerun `{command}` to start again")
    step = load_checkpoint(checkpoint)[1].get("step", "?")
    return f"interrupted; {checkpoint} holds the run at step {step} of {total}: resume it with `{command}`"


def _unit_config(args):
    """The configuration of an experiment made of units: its smoke size with --smoke (table2: its --preset)."""
    if args.name == "table2":
        return TABLE2_PRESETS[_preset(args)]
    if args.name == "fig4":
        from .experiments.fig4 import fig4_config
        return fig4_config(args.smoke)
    if args.name == "fidelity":
        from .experiments.fidelity import FidelityConfig as Config
    else:
        from .experiments.section53 import Section53Config as Config
    return Config.smoke() if args.smoke else Config()


def _results_dir(args):
    """RESULTS/NAME, for table2 RESULTS/table2/PRESET, for fig4's smoke run RESULTS/fig4-smoke."""
    folder = Path(args.results) / args.name
    if args.name == "fig4" and args.smoke:
        return folder.with_name("fig4-smoke")
    return folder / _preset(args) if args.name == "table2" else folder


def _preset(args):
    return "smoke" if args.smoke else args.preset


def _outputs(args):
    """The figures and results files the experiment writes (table2's other presets: NAME-PRESET.*)."""
    outputs = [Path(getattr(args, folder)) / name for folder, name in EXPERIMENT_FILES[args.name]]
    if args.name == "table2" and _preset(args) != TABLE2_DEFAULT_PRESET:
        outputs = [path.with_name(path.name.replace("table2", f"table2-{_preset(args)}")) for path in outputs]
    return outputs


def _unit_results(args, work, run):
    """The experiment's unit results: from the files alone with --report-only, else after `run`ning the missing."""
    config, results_dir = _unit_config(args), _results_dir(args)
    if args.report_only:
        return config, results_dir, load_results(results_dir, config.unit_names())
    return config, results_dir, run(work, results_dir, config, only=args.unit, jobs=args.jobs, log=log)


def _experiment(args):
    if args.name != "table2" and args.preset != TABLE2_DEFAULT_PRESET:
        raise ValueError("--preset is an option of `experiment table2`")
    if args.list_units:
        print("\n".join(_unit_config(args).unit_names()))
        return
    work = args.work_dir or f"runs/{_unit_config(args).work_name() if args.name in ('table2', 'fig4') else args.name}"
    outputs = _outputs(args)
    for path in outputs:
        check_output(path, args.force, what="figure" if path.suffix == ".png" else "results file")
    check_writable(Path(work) / "config.json")
    args.interrupted = lambda: (f"interrupted; what is finished is kept in {work}: rerun `{args.command_line}` "
                                "to continue from there")
    {"section53": _section53, "table2": _table2, "fidelity": _fidelity, "fig4": _fig4}[args.name](args, work, *outputs)


def _section53(args, work, likelihood_png, error_png, scatter_png, table_md):
    from .experiments.section53 import merge_results, run_section53
    from .experiments.section53_report import plot_dynamics_error, plot_error_against_likelihood, plot_likelihood
    from .experiments.section53_report import section53_table

    config, results_dir, results = _unit_results(args, work, run_section53)
    results = merge_results(results, config)
    likelihood_png.parent.mkdir(parents=True, exist_ok=True)
    plot_likelihood(results, likelihood_png)
    plot_dynamics_error(results, error_png)
    plot_error_against_likelihood(results, scatter_png)
    table = section53_table(results, args.command_line, results_dir.as_posix())
    write_report(table_md, "# Section 5.3 at CPU scale\n\n" + table)
    print(table)
    print(f"wrote {likelihood_png}, {error_png}, {scatter_png} and {table_md}")


def _fidelity(args, work, frontier_png, table_md):
    from .experiments.fidelity import run_fidelity
    from .experiments.fidelity_report import frontier_table, plot_frontier

    _, results_dir, results = _unit_results(args, work, run_fidelity)
    frontier_png.parent.mkdir(parents=True, exist_ok=True)
    plot_frontier(results, frontier_png)
    table = frontier_table(results, args.command_line, results_dir.as_posix())
    write_report(table_md, "# Diffusion model fidelity: the frontier\n\n" + table)
    print(table)
    print(f"wrote {frontier_png} and {table_md}")


def _table2(args, work, curves_png, table_md):
    from .experiments.table2 import run_table2
    from .experiments.table2_report import table2_report, plot_learning_curves

    started = time.perf_counter()
    config, results_dir, results = _unit_results(args, work, run_table2)
    curves_png.parent.mkdir(parents=True, exist_ok=True)
    plot_learning_curves(results, config, curves_png)
    text = table2_report(results, config, _preset(args), args.command_line, results_dir.as_posix(),
                         (time.perf_counter() - started) / 60, reference=_width_reference(args, config, results_dir),
                         compared=_tier1_runs(config, results_dir))
    write_report(table_md, text)
    print(text)
    print(f"wrote {curves_png} and {table_md}")


def _fig4(args, work, figure_png, table_md):
    from .experiments.fig4 import periodic_results
    from .experiments.fig4_report import PAPER, fig4_markdown, plot_fig4
    from .experiments.table2 import run_table2
    from .experiments.table2_report import remaining_markdown

    config, results_dir, results = _unit_results(args, work, run_table2)
    table2_dir = Path(args.results) / "table2"
    periodic = periodic_results(table2_dir, config, smoke=args.smoke)
    runs = [r for r in list(results.values()) + list(periodic.values()) if r["kind"] == "agent"]
    figure_png.parent.mkdir(parents=True, exist_ok=True)
    plot_fig4(runs, config, figure_png)
    text = (f"# Fig. 4: continuous against periodic generation\n\nProduced by `{args.command_line}` from "
            f"{len(results)} of the {len(config.unit_names())} continuous runs in `{results_dir.as_posix()}/` and "
            f"{len(periodic)} periodic and real runs of the Table 2 tiers in `{table2_dir.as_posix()}/`. Final D4RL "
            "normalized score: per seed the mean over TD3+BC and IQL, then mean ± standard error over seeds; — : "
            f"no result yet.\n\n{PAPER}\n\n" + fig4_markdown(runs, config)
            + f"\n![Fig. 4 analog](../{figure_png.as_posix()})\n")
    remaining = remaining_markdown(results, config)
    if remaining:
        text += "\nThe continuous runs left, priced by those that have run (CPU-hours):\n\n" + remaining
    write_report(table_md, text)
    print(text)
    print(f"wrote {figure_png} and {table_md}")


def _tier1_runs(config, results_dir):
    """For the model-error ablation's report: tier 1's dataset and unguided runs of its datasets and seeds."""
    from .experiments.table2 import agent_unit_name

    if config.dynamics != "simulator":
        return []
    names = [agent_unit_name(agent, source, name, seed) for name in config.datasets for seed in config.seeds
             for agent in config.agents for source in ("real", "unguided")]
    return list(load_results(results_dir.parent / "headline", names).values())


def _width_reference(args, config, results_dir):
    """For the tiers' reports: the paper-scale preset's F = 128 model units of the same datasets, and the narrower
    models measured when choosing the width (RESULTS/table2/width-candidates/), as the sampler-steps table needs."""
    from .experiments.table2 import model_unit_name

    if _preset(args) not in ("headline", "mujoco"):
        return []
    names = [model_unit_name(*m) for m in TABLE2_PRESETS["paper-scale"].models() if m[0] in config.datasets]
    found = list(load_results(results_dir.parent / "paper-scale", names).values())
    candidates = results_dir.parent / "width-candidates"
    names = sorted(path.stem for path in candidates.glob("*.json")) if candidates.is_dir() else []
    return found + [r for r in load_results(candidates, names).values() if r["dataset"] in config.datasets]


class _Parser(argparse.ArgumentParser):
    """A bad argument is one line that names the flag, before any work starts."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _ShowDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """--help ends every option's help with its default, unless there is none or the help says it."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)

    def _split_lines(self, text, width):
        """Wrap at spaces only: a path or name with a hyphen (a checkout in /tmp/ci-clone) stays whole."""
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)


def _default(cls, name):
    """The default of the dataclass field `cls.name`: the one place a setting is defined."""
    return next(field.default for field in dataclasses.fields(cls) if field.name == name)


def _setting(cls, name, **required):
    """add_argument keywords for the field `cls.name`: its default, and values checked by `cls` itself."""
    default = _default(cls, name)

    def parse(text):
        value = type(default)(text)
        try:
            cls(**required, **{name: value})
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return value

    parse.__name__ = type(default).__name__  # argparse's "invalid int value: 'x'"
    return {"default": default, "type": parse}


def _guidance_scale(text):
    """An argparse type: λ >= 0, or "auto" (chosen per generation: minipgd/rl/auto_scale.py)."""
    if text == AUTO:
        return AUTO
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or 'auto', got {text!r}") from None
    try:
        check_guidance_scale(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def _int_at_least(minimum):
    """An argparse type: an integer >= `minimum`."""

    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def _widths(text):
    """An argparse type: hidden-layer widths such as "256,256"."""
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 256,256, got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths must be >= 1, got {text!r}")
    return widths


def build_parser():
    parser = _Parser(prog="python -m minipgd", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name, run, help):
        sub = commands.add_parser(name, help=help, description=help, formatter_class=_ShowDefaults)
        sub.set_defaults(run=run)
        return sub

    behavior = command("train-behavior", _train_behavior, "train a behavior policy online with TD3 (medium/expert)")
    behavior.add_argument("--env", required=True, choices=["halfcheetah", "hopper", "walker2d"])
    behavior.add_argument("--steps", **_setting(OnlineConfig, "total_steps"), help="environment steps")
    behavior.add_argument("--medium-return", type=float, required=True,
                          help="save the 'medium' policy at the first evaluation reaching this return")
    behavior.add_argument("--seed", type=_int_at_least(0), default=_default(OnlineConfig, "seed"), help="random seed")
    behavior.add_argument("--start-steps", **_setting(OnlineConfig, "start_steps"),
                          help="uniform random actions before the actor acts")
    behavior.add_argument("--actor-hidden", type=_widths, default=",".join(map(str, ACTOR_HIDDEN)), metavar="W,W",
                          help="the actor's hidden widths, comma-separated (default: %(default)s)")
    behavior.add_argument("--out", default=str(POLICY_DIR), help="output folder")
    behavior.add_argument("--force", action="store_true", help="overwrite existing policy files")

    collect = command("collect", _collect, "collect an offline dataset (D4RL-style recipes)")
    collect.add_argument("name", choices=sorted(DATASETS), metavar="NAME", help=f"one of {', '.join(DATASETS)}")
    collect.add_argument("--transitions", type=_int_at_least(1), default=TRANSITIONS,
                         help="dataset size (medium-replay: at most its replay buffer's)")
    collect.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed")
    collect.add_argument("--out", help="output .npz (default NAME.npz)")
    collect.add_argument("--policy-dir", default=str(POLICY_DIR), help="where the behavior policies are")
    collect.add_argument("--force", action="store_true", help="overwrite an existing file")

    diffusion = command("train-diffusion", _train_diffusion, "train the trajectory diffusion model on a dataset")
    diffusion.add_argument("dataset", help="an .npz written by `collect`")
    diffusion.add_argument("--out", required=True, help="the trained model (.npz)")
    diffusion.add_argument("--steps", **_setting(DiffusionTrainConfig, "steps"), help="training steps")
    diffusion.add_argument("--batch-size", **_setting(DiffusionTrainConfig, "batch_size"),
                           help="batch size B (Table 3: 16)")
    diffusion.add_argument("--lr", **_setting(DiffusionTrainConfig, "lr"), help="learning rate (Table 3: 2e-3)")
    cpu = UNetConfig.cpu_default(in_channels=1)  # the model made unless told otherwise
    diffusion.add_argument("--features", **{**_setting(UNetConfig, "features", in_channels=1), "default": cpu.features},
                           help="U-Net width F (the paper: 1024; tutorials: 32)")
    diffusion.add_argument("--activation", choices=ACTIVATIONS, default=cpu.activation,
                           help="the blocks' activation: relu (the authors') or mish (Diffuser's)")
    diffusion.add_argument("--residual", action=argparse.BooleanOptionalAction, default=cpu.residual,
                           help="Diffuser's residual blocks; --no-residual: the authors' plain blocks")
    diffusion.add_argument("--horizon", **_setting(UNetConfig, "horizon", in_channels=1),
                           help="trajectory length H (Table 3)")
    diffusion.add_argument("--seed", type=_int_at_least(0), default=_default(DiffusionTrainConfig, "seed"),
                           help="random seed")
    diffusion.add_argument("--checkpoint", help="run state, resumed by a rerun of the same command "
                                                "(default OUT.run.npz)")
    diffusion.add_argument("--force", action="store_true", help="overwrite --out and start over instead of resuming")

    sample = command("sample", _sample, "sample synthetic transitions from a diffusion model into a dataset file")
    sample.add_argument("model", help="a model from `train-diffusion`")
    sample.add_argument("--n", **_setting(Algorithm2Config, "n_trajectories"), help="trajectories (the paper: 16384)")
    sample.add_argument("--policy", help="guide the actions towards this actor (a file from train-agent "
                                         "--save-actor, train-behavior or Agent.save_actor; default: unguided)")
    sample.add_argument("--scale", type=_guidance_scale,
                        help="the guidance scale λ (default 1.0 with --policy), or auto: the λ whose samples' mean "
                             "log π reaches --auto-target")
    sample.add_argument("--auto-target", type=float, help="with --scale auto: the mean log π to reach (default: the "
                                                          "policy's own actions' on the model's unguided states, less "
                                                          "one standard deviation)")
    sample.add_argument("--sampler-steps", **_setting(Algorithm2Config, "sampler_steps"), help="the paper: 256")
    sample.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed")
    sample.add_argument("--out", required=True, help="the dataset (.npz), in `collect`'s format")
    sample.add_argument("--force", action="store_true", help="overwrite an existing --out")

    agent = command("train-agent", _train_agent, "train TD3+BC or IQL on real or synthetic data (Algorithm 2)")
    agent.add_argument("dataset", help="an .npz written by `collect`")
    agent.add_argument("--algo", choices=ALGORITHMS, default="td3bc", help="the offline RL agent")
    agent.add_argument("--data", choices=SOURCES, default=_default(Algorithm2Config, "source"),
                       help="real: the dataset only; unguided (λ = 0) or guided: synthetic data from --diffusion")
    agent.add_argument("--diffusion",
                       help="a model from `train-diffusion`, needed for unguided/guided data (default: none)")
    agent.add_argument("--guidance-scale", type=_guidance_scale, default=_default(Algorithm2Config, "guidance_scale"),
                       help="λ (Table 2: 1.0), or auto: chosen at each guided generation so that the synthetic "
                            "actions' mean log π reaches --auto-target")
    agent.add_argument("--auto-target", type=float, help="with --guidance-scale auto: the mean log π to reach "
                                                         "(default: the policy's own actions' on the dataset's states, "
                                                         "less one standard deviation)")
    agent.add_argument("--generation", choices=sorted(GENERATIONS), default=_default(Algorithm2Config, "generation"),
                       help="Sec. 5.2: a large dataset every epoch, or a small one kept for 10 epochs")
    agent.add_argument("--epochs", **_setting(Algorithm2Config, "n_epochs"), help="N_epochs")
    agent.add_argument("--steps-per-epoch", **_setting(Algorithm2Config, "steps_per_epoch"),
                       help="N_policy (the paper: 250000)")
    agent.add_argument("--trajectories", **_setting(Algorithm2Config, "n_trajectories"),
                       help="per generation (the paper: 16384)")
    agent.add_argument("--sampler-steps", **_setting(Algorithm2Config, "sampler_steps"), help="the paper: 256")
    agent.add_argument("--eval-every", **_setting(Algorithm2Config, "eval_every"),
                       help="steps between evaluations (the last step is always evaluated)")
    agent.add_argument("--eval-episodes", **_setting(Algorithm2Config, "eval_episodes"), help="episodes per evaluation")
    agent.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed")
    agent.add_argument("--checkpoint", help="run state (.npz), written at every evaluation; a rerun of the same "
                                            "command resumes it (default: none)")
    agent.add_argument("--save-actor", help="write the trained actor here (.npz; a guidance target for `sample "
                                            "--policy`, default: none)")
    agent.add_argument("--force", action="store_true", help="start over instead of resuming --checkpoint; overwrite "
                                                           "--save-actor")

    experiment = command("experiment", _experiment, "run one of the paper's experiments; writes figures/tables")
    experiment.add_argument("name", choices=sorted(EXPERIMENT_FILES),
                            help="section53: likelihood vs λ (Fig. 5) and dynamics error (Fig. 6) on halfcheetah; "
                                 "table2: agents on real, unguided and guided data (Table 2); fidelity: the frontier "
                                 "of unguided samples' dynamics error against training CPU-minutes; fig4: "
                                 "continuous against periodic generation (Fig. 4)")
    experiment.add_argument("--work-dir", help="datasets, models and raw results are kept here and reused by a "
                                               "rerun (default runs/NAME)")
    experiment.add_argument("--figures", default="figures", help="where the PNGs go")
    experiment.add_argument("--results", default="results", help="where the markdown table goes")
    experiment.add_argument("--smoke", action="store_true", help="a smoke run of the whole pipeline in seconds")
    experiment.add_argument("--jobs", type=_int_at_least(1), default=1, help="units run at once")
    experiment.add_argument("--preset", default=TABLE2_DEFAULT_PRESET,
                            choices=[name for name in TABLE2_PRESETS if name != "smoke"],  # smoke: --smoke
                            help="table2: the sweep's sizes (results in RESULTS/table2/PRESET/)")
    experiment.add_argument("--unit", action="append",
                            help="run only this unit (repeatable; default: every unit without a result file in "
                                 "RESULTS/NAME/; --list-units names them)")
    experiment.add_argument("--list-units", action="store_true", help="print the units and stop")
    experiment.add_argument("--report-only", action="store_true",
                            help="make the table and figures from the result files, run nothing")
    experiment.add_argument("--force", action="store_true", help="overwrite existing figures and results files")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = "python -m minipgd " + shlex.join(arg for arg in argv if arg != "--force")
    args.interrupted = lambda: f"interrupted; nothing to resume: rerun `{args.command_line}` to start again"
    try:
        with thread_policy():  # automatic unless MINIPGD_THREADS or OPENBLAS_NUM_THREADS says otherwise
            args.run(args)
    except (ValueError, OSError, ImportError) as err:
        raise SystemExit(f"error: {err}") from None
    except KeyboardInterrupt:
        print(args.interrupted(), file=sys.stderr, flush=True)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
