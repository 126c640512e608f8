"""The fidelity frontier's table and figure, from the units' result files alone.

Figures are drawn on `matplotlib.figure.Figure` objects, not through pyplot, so
importing this module changes no global matplotlib state (no backend switch).
"""
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .fidelity import PETS

MARKERS = {64: "o", 256: "s"}  # sampler steps
COLORS = {32: "tab:gray", 64: "tab:purple", 128: "tab:green"}  # U-Net width F


def _minutes(result, clock="cpu"):
    """Training minutes of a result by `clock` ("cpu": all threads' CPU time, "wall"), None if not recorded."""
    training = result.get("training")
    return None if not training else training[clock] / 60.0


def _rows(results):
    """(result, evaluation) pairs of the diffusion units, cheapest training first."""
    diffusion = [r for name, r in results.items() if name != PETS]
    diffusion.sort(key=lambda r: (_minutes(r) is None, _minutes(r) or 0.0, r["unit"]))
    return [(r, e) for r in diffusion for e in r["evaluations"]]


def _number(value, digits):
    return "—" if value is None else f"{value:,.{digits}f}"


def frontier_table(results, command, results_dir):
    """Markdown: one row per (unit, sampler steps), the PETS reference first."""
    lines = [f"Produced by `{command}` (one result file per unit in `{results_dir}/`; units without one are not "
             "run yet). Unguided samples; dynamics MSE against the real simulator per state dimension (the "
             "trajectory's first state set in the simulator, its actions replayed open loop), reward MSE against "
             "the simulator's reward for each sampled (s_t, a_t). CPU-min: training CPU time, all threads; "
             "wall-min: its wall-clock time, as the unit ran (beside whatever else ran then); epochs: training "
             "steps x batch / trajectory windows.", "",
             "| model | F | training steps | batch | lr | transitions | blocks | epochs | CPU-min | wall-min "
             "| sampler steps | MSE after 1 step | MSE, steps 1–15 | reward MSE |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    if PETS in results:
        pets = results[PETS]
        e = pets["evaluations"][0]
        lines.append(f"| PETS, behavior policy | — | {pets['settings']['steps']:,} per member | "
                     f"{pets['settings']['batch_size']} | {pets['settings']['lr']:g} | — | "
                     f"{len(pets['settings']['hidden'])} × {pets['settings']['hidden'][0]} swish | — | "
                     f"{_number(_minutes(pets), 1)} | {_number(_minutes(pets, 'wall'), 1)} | — | "
                     f"{e['dynamics_mse_step1']:.3f} | "
                     f"{e['dynamics_mse']:.3f} | {e['reward_mse']:.4f} |")
    for r, e in _rows(results):
        s = r["settings"]
        lines.append(f"| diffusion | {s['features']} | {s['train_steps']:,} | {s['batch_size']} | {s['lr']:g} | "
                     f"{s['transitions']:,} | {_blocks(s)} | {_number(r.get('epochs'), 0)} | "
                     f"{_number(_minutes(r), 1)} | {_number(_minutes(r, 'wall'), 1)} | {e['sampler_steps']} | "
                     f"{e['dynamics_mse_step1']:.3f} | "
                     f"{e['dynamics_mse']:.3f} | {e['reward_mse']:.4f} |")
    machines = sorted({f"{r['machine']['cpu']} ({r['machine']['cores']} cores)" for r in results.values()})
    lines += ["", f"Machines: {'; '.join(machines) or '—'}."]
    return "\n".join(lines) + "\n"


def plot_frontier(results, path):
    """Dynamics MSE (steps 1–15) against training CPU-minutes, one point per (unit, sampler steps); PETS dashed."""
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    for r, e in _rows(results):
        minutes = _minutes(r)
        if minutes is None:
            continue
        s = r["settings"]
        ax.scatter(minutes, e["dynamics_mse"], marker=MARKERS.get(e["sampler_steps"], "^"),
                   color=COLORS.get(s["features"], "tab:blue"),
                   label=f"F = {s['features']}, {e['sampler_steps']} sampler steps")
        if e["sampler_steps"] == max(x["sampler_steps"] for x in r["evaluations"]):
            ax.annotate(_short_label(s), (minutes, e["dynamics_mse"]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
    if PETS in results:
        pets = results[PETS]
        ax.axhline(pets["evaluations"][0]["dynamics_mse"], color="tab:orange", ls="--",
                   label=f"PETS, behavior policy ({_number(_minutes(pets), 1)} CPU-min)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))  # one legend entry per kind of point
    ax.legend(unique.values(), unique.keys(), fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")  # 20, not 2 x 10^1
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel("training CPU-minutes")
    ax.set_ylabel("dynamics MSE, steps 1–15 (unguided)")
    ax.set_title("fidelity frontier: halfcheetah-medium", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _short_label(settings):
    parts = [f"{settings['train_steps'] // 1000}k"]
    if settings["batch_size"] != 16:
        parts.append(f"b{settings['batch_size']}")
    if settings["transitions"] != 100_000:
        parts.append(f"{settings['transitions'] // 1000}k data")
    if settings["activation"] != "relu" or settings.get("residual"):
        parts.append(_blocks(settings))
    return " ".join(parts)


def _blocks(settings):
    return settings["activation"] + (", residual" if settings.get("residual") else "")
