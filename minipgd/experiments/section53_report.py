"""Figures 5 and 6 and the Section 5.3 table, from the merged unit results (`section53.merge_results`).

Figures are drawn on `matplotlib.figure.Figure` objects, not through pyplot, so
importing this module changes no global matplotlib state (no backend switch).
"""
import numpy as np
from matplotlib.figure import Figure

from ..analysis.stats import format_mean_se, mean_se

COLORS = {"pgd": "tab:purple", "unguided": "tab:gray", "pets": "tab:orange", "data": "tab:blue", "auto": "tab:green"}


def _short(name):
    return name.split("-", 1)[1]  # "halfcheetah-expert" -> "expert"


def _band(ax, x, values, color, label, **style):
    mean, se = mean_se(values)
    ax.plot(x, mean, color=color, label=label, **style)
    if np.all(np.isfinite(se)):
        ax.fill_between(x, mean - se, mean + se, color=color, alpha=0.25, lw=0)


def _mean_error(per_step):
    """Mean dynamics error over rollout steps 1 .. H−1 (step 0 is the shared start state), per seed."""
    return np.asarray(per_step)[:, 1:].mean(axis=1)


def _panels(results, path, xlabel, ylabel, draw, **subplot_options):
    """One panel per target policy, `draw(ax, res)` filling each; labels, legend, file."""
    targets = results["targets"]
    fig = Figure(figsize=(4.2 * len(targets), 3.6))
    axes = fig.subplots(1, len(targets), squeeze=False, **subplot_options)
    for ax, (name, res) in zip(axes[0], targets.items()):
        draw(ax, res)
        ax.set_title(f"target policy: IQL on {_short(name)}", fontsize=10)
        ax.set_xlabel(xlabel)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_likelihood(results, path):
    """Fig. 5: mean log π(a|s) of synthetic actions against λ, one panel per target policy, with the λ that
    automatic guidance chose for each diffusion seed."""

    def draw(ax, res):
        scales = [float(s) for s in res["pgd"]]
        _band(ax, scales, np.array([v["log_likelihood"] for v in res["pgd"].values()]).T, COLORS["pgd"],
              "policy-guided diffusion", marker="o")
        _band(ax, [scales[0], scales[-1]], np.repeat(np.array(res["pets"]["log_likelihood"])[:, None], 2, 1),
              COLORS["pets"], "PETS (truncated world model)", ls="--")
        ax.axhline(res["behavior_data_log_likelihood"], color=COLORS["data"], ls=":", label="behavior data")
        for i, scale in enumerate(res["auto_scale"]):  # one line per diffusion seed
            ax.axvline(scale, color=COLORS["auto"], ls="-.", lw=1, alpha=0.7, label=None if i else "λ chosen by auto")
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlim(left=0)

    _panels(results, path, "guidance coefficient λ", "mean log π_target(a|s)", draw)


def plot_dynamics_error(results, path):
    """Fig. 6: dynamics MSE against rollout step, PGD at λ = 1, unguided diffusion and PETS."""

    def draw(ax, res):
        steps = np.arange(len(res["pets"]["dynamics_error"][0]))
        _band(ax, steps, res["pgd"]["0.0"]["dynamics_error"], COLORS["unguided"], "unguided diffusion (λ = 0)")
        _band(ax, steps, res["pgd"]["1.0"]["dynamics_error"], COLORS["pgd"], "policy-guided diffusion (λ = 1)")
        _band(ax, steps, res["pets"]["dynamics_error"], COLORS["pets"], "PETS")
        ax.set_yscale("log")

    _panels(results, path, "rollout step", "dynamics MSE (real simulator)", draw, sharey=True)


def plot_error_against_likelihood(results, path):
    """Both metrics at once: PGD over the λ grid as a curve, PETS as a point (± standard error)."""

    def draw(ax, res):
        likelihood = [mean_se(v["log_likelihood"]) for v in res["pgd"].values()]
        error = [mean_se(_mean_error(v["dynamics_error"])) for v in res["pgd"].values()]
        ax.errorbar([m for m, _ in likelihood], [m for m, _ in error], xerr=[s for _, s in likelihood],
                    yerr=[s for _, s in error], color=COLORS["pgd"], marker="o", label="PGD (λ grid)")
        for scale, (x, _), (y, _) in zip(res["pgd"], likelihood, error):
            ax.annotate(f"λ={float(scale):g}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        (x, sx), (y, sy) = mean_se(res["pets"]["log_likelihood"]), mean_se(_mean_error(res["pets"]["dynamics_error"]))
        ax.errorbar([x], [y], xerr=[sx], yerr=[sy], color=COLORS["pets"], marker="s", ls="", label="PETS")
        ax.set_yscale("log")

    _panels(results, path, "mean log π_target(a|s)", "mean dynamics MSE, steps 1–15", draw)


def matched_lambda(res):
    """The smallest λ of the grid whose mean likelihood reaches PETS' (None if none does)."""
    pets = np.mean(res["pets"]["log_likelihood"])
    for scale, v in res["pgd"].items():
        if np.mean(v["log_likelihood"]) >= pets:
            return scale
    return None


def section53_table(results, command, results_dir):
    """Markdown: likelihood by λ (Fig. 5), dynamics error (Fig. 6), and the error at matched likelihood."""
    cfg, targets = results["config"], results["targets"]
    scales = list(next(iter(targets.values()))["pgd"])
    found = f"{len(results['diffusion_seeds'])} of {len(cfg['diffusion_seeds'])} diffusion seeds"
    found += f" ({', '.join(map(str, results['diffusion_seeds']))}), {len(results['pets_seeds'])} of "
    found += f"{len(cfg['pets_seeds'])} PETS seeds ({', '.join(map(str, results['pets_seeds']))})"
    training = results["training_seconds"]
    lines = [f"Produced by `{command}` from the unit files in `{results_dir}/` ({found}; units without a file are "
             f"not run yet). The units took {results['seconds'] / 60:.0f} min of wall-clock time in all, "
             f"{sum(training) / 60:.0f} CPU-min of it training {len(training)} diffusion models "
             f"(F = {cfg['features']}, {cfg['activation']} {'residual ' if cfg['residual'] else ''}blocks, "
             f"{cfg['diffusion_train_steps']:,} steps). {cfg['n_trajectories']:,} trajectories of H = {cfg['horizon']} "
             f"per (seed, target) at λ = 0 and 1 and for PETS, {cfg['grid_trajectories']:,} at the grid's other λ; "
             f"{cfg['sampler_steps']} sampler steps; mean ± standard error over seeds. "
             f"Machines: {'; '.join(results['machines'])}.",
             "", "**Mean log π_target(a|s) of synthetic actions (Fig. 5)**", "",
             "| target policy | " + " | ".join(f"λ = {float(s):g}" for s in scales)
             + " | PETS | behavior data | auto: target | auto: λ per seed |",
             "|---|" + "---:|" * (len(scales) + 4)]
    for name, res in targets.items():
        cells = [format_mean_se(res["pgd"][s]["log_likelihood"], 2) for s in scales]
        lines.append(f"| IQL on {_short(name)} | " + " | ".join(cells)
                     + f" | {format_mean_se(res['pets']['log_likelihood'], 2)}"
                     + f" | {res['behavior_data_log_likelihood']:.2f} | {np.mean(res['auto_target']):.2f} | "
                     + ", ".join(f"{scale:g}" for scale in res["auto_scale"]) + " |")
    lines += ["", f"**Dynamics MSE against the real simulator, mean over steps 1–{cfg['horizon'] - 1} (Fig. 6)**",
              "", "| target policy | unguided (λ = 0) | PGD (λ = 1) | PETS | λ matching PETS' likelihood "
              "| PGD at that λ |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, res in targets.items():
        match = matched_lambda(res)
        errors = [format_mean_se(_mean_error(values), 4) for values in (res["pgd"]["0.0"]["dynamics_error"],
                                                               res["pgd"]["1.0"]["dynamics_error"],
                                                               res["pets"]["dynamics_error"])]
        if match is None:
            errors += ["not reached", "—"]
        else:
            errors += [f"{float(match):g}", format_mean_se(_mean_error(res["pgd"][match]["dynamics_error"]), 4)]
        lines.append(f"| IQL on {_short(name)} | " + " | ".join(errors) + " |")
    return "\n".join(lines) + "\n"
