"""Test helper: ``red sim`` as a subprocess, and a layer's ReLU-fed data for early
termination (non-negative inputs, random weights, a negative-leaning bias)."""

import subprocess
import sys

import numpy as np

from red.config import LayerSpec


def red_sim(*args):
    return subprocess.run([sys.executable, "-m", "red.cli", "sim", *args],
                          capture_output=True, text=True)


def layer_data(folder, layer_text: str, seed: int):
    """The layer's data, saved as ``x.npy``, ``w.npy`` and ``bias.npy`` in ``folder``:
    ``(layer, x, w, bias, paths)``."""
    rng = np.random.default_rng(seed)
    print(f"seed={seed}")
    layer = LayerSpec.parse(layer_text)
    x = rng.integers(0, 16, (layer.cin, layer.h, layer.w))
    w = rng.integers(-8, 8, (layer.cin, layer.cout, layer.k, layer.k))
    bias = rng.integers(-300, 20, layer.cout)
    paths = {}
    for name, array in (("x", x), ("w", w), ("bias", bias)):
        paths[name] = folder / f"{name}.npy"
        np.save(paths[name], array)
    return layer, x, w, bias, paths
