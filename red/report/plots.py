"""The report's figures as PNG files: speed-up per layer and energy per network."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from red.energy import COMPONENTS
from red.modes import MODES

from .claims import CLAIMS

__all__ = ["plot_speedups", "plot_energy"]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_speedups(model: dict, path: Path) -> None:
    """Bars of RED's speed-up over ZP and PF per layer (total and compute cycles), log
    scale, with the DATE range of RED vs zero insertion shaded."""
    plt = _pyplot()
    layers = model["layers"]
    names = [entry["name"] for entry in layers]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(7.0, 0.8 * len(names) + 2), 4.5))
    lo, hi = CLAIMS["DATE 2019"]["speedup_vs_zp"]
    ax.axhspan(lo, hi, color="tab:green", alpha=0.12,
               label=f"DATE 2019 RED vs zero insertion: {lo}x-{hi}x")
    series = ((-0.3, "speedup", "red_vs_zp", "RED vs ZP, total cycles", "tab:blue", None),
              (-0.1, "compute_speedup", "red_vs_zp", "RED vs ZP, compute cycles",
               "tab:blue", "//"),
              (0.1, "speedup", "red_vs_pf", "RED vs PF, total cycles", "tab:orange", None),
              (0.3, "compute_speedup", "red_vs_pf", "RED vs PF, compute cycles",
               "tab:orange", "//"))
    for offset, kind, key, label, color, hatch in series:
        ax.bar(x + offset, [entry[kind][key] for entry in layers], width=0.2, label=label,
               color=color if hatch is None else "white", edgecolor=color, hatch=hatch)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=35, ha="right")
    ax.set_ylabel("speed-up, log scale")
    ax.set_title("RED speed-up per layer, one tile per network (RTL or model: see report.md)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_energy(model: dict, path: Path) -> None:
    """Energy per mode by component, one column per network: absolute (top) and as
    shares of the mode's total (bottom, where RED's and PF's small bars stay legible)."""
    plt = _pyplot()
    networks = model["networks"]
    fig, axes = plt.subplots(2, len(networks), figsize=(3.2 * len(networks) + 1, 7.0),
                             squeeze=False)
    labels = [mode.upper() for mode in MODES]
    for column, (name, net) in enumerate(networks.items()):
        totals = np.array([net["energy_pj"][mode]["total"] for mode in MODES])
        bottom, share_bottom = np.zeros(len(MODES)), np.zeros(len(MODES))
        for component in COMPONENTS:
            values = np.array([net["energy_pj"][mode][component] for mode in MODES])
            axes[0, column].bar(labels, values / 1e6, bottom=bottom / 1e6, label=component)
            axes[1, column].bar(labels, 100 * values / totals, bottom=share_bottom,
                                label=component)
            bottom += values
            share_bottom += 100 * values / totals
        axes[0, column].set_title(name)
        axes[0, column].set_ylabel("energy (uJ)")
        axes[1, column].set_ylabel("share of the mode's energy (%)")
        axes[1, column].set_ylim(0, 100)
    axes[0, -1].legend(fontsize=8)
    fig.suptitle("Energy per mode by component (RTL counters or model: see report.md)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
