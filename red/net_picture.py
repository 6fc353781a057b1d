"""``red net``'s picture: the network's input (when it is an image), its float output,
the hardware path's output and their difference, side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["is_image", "draw"]


def is_image(a: np.ndarray) -> bool:
    """Whether ``a`` is one NCHW image of 1 or 3 channels."""
    return a.ndim == 4 and a.shape[0] == 1 and a.shape[1] in (1, 3) and min(a.shape[2:]) > 1


def _shown(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """An image for ``imshow``: HxW or HxWx3 in [0, 1], ``lo``..``hi`` mapped to 0..1."""
    scaled = np.clip((a[0].astype(np.float64) - lo) / ((hi - lo) or 1.0), 0.0, 1.0)
    return scaled[0] if scaled.shape[0] == 1 else np.moveaxis(scaled, 0, -1)


def draw(path: Path, y: np.ndarray, y_float: np.ndarray, x: np.ndarray | None,
         title: str) -> None:
    """Write the picture to ``path`` (PNG); ``x`` is shown when it is an image."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    lo, hi = float(y_float.min()), float(y_float.max())
    panels = []
    if x is not None and is_image(x):
        panels.append(("input", _shown(x, float(x.min()), float(x.max()))))
    diff = np.abs(y.astype(np.float64) - y_float)
    panels += [("float reference", _shown(y_float, lo, hi)),
               ("hardware (RTL)", _shown(y, lo, hi)),
               (f"|difference| (max {diff.max():.3g})",
                _shown(diff.mean(axis=1, keepdims=True), 0.0, float(diff.max()) or 1.0))]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (label, image) in zip(np.atleast_1d(axes), panels):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
