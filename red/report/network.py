"""The report's networks section (``report.json`` key ``networks``, ``generator.png``,
``upscore.png``): whole networks through ``red net`` (:mod:`red.net`), ONNX built in code
(:mod:`red.onnx_models`), every tile layer on the RTL.

* **A DCGAN-shaped generator** (:data:`GENERATOR`: latent, ``Gemm``, ``Reshape``, three
  ``ConvTranspose`` + BN + ReLU and ``Tanh``, seeded weights) on the report's DCGAN tile
  (the paper crossbar, already built for the DCGAN runs: the section costs no build):
  per-layer cycles, and the image against the float model.
* **FCN's bilinear upscore of a photograph**: scikit-image's ``astronaut`` (shipped in
  its wheel), scaled to :data:`PHOTO_SIZE` pixels (fewer on Icarus, which interprets the
  paper crossbar slowly), through FCN-8s's upscore8 kernel (K16 s8, the fixed bilinear
  filter on each colour channel) on the report's FCN-8s tile (the paper crossbar: 2-bit
  cells, 16-bit weights and inputs, 8-bit ADC). The ADC's effect is measured on the
  same integers: the golden model with the 8-bit ADC (which the RTL equals) against the
  golden model with a lossless one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from red.config import TileConfig

from .markdown import layer_shape, md_table
from .section import json_fields

__all__ = ["GENERATOR", "PHOTO_SIZE", "UPSCORE_FACTOR", "NETWORKS", "NetworkSection",
           "compute", "draw", "render", "FILES"]

#: The generator's shape (:func:`red.onnx_models.dcgan_generator`) and seed.
GENERATOR = {"latent": 16, "channels": (32, 16, 8, 3), "base": 4, "seed": 2016}
#: The report networks whose tiles the section uses: the generator's, the upscore's.
NETWORKS = ("dcgan", "fcn8s")
#: Side of the photograph entering the upscore, by simulator (the output is 8x larger):
#: about 281,000 cycles on Verilator (seconds), 18,000 on Icarus (about a minute).
PHOTO_SIZE = {"verilator": 32, "icarus": 8}
#: FCN-8s's upscore8: kernel 16, stride 8.
UPSCORE_FACTOR = 8
#: The pictures, by role.
FILES = {"generator": "generator.png", "upscore": "upscore.png"}


@dataclass(frozen=True)
class NetworkSection:
    """``report.json``'s ``networks``: each run's ``net.json`` (:meth:`red.net.NetResult.to_json`)
    and, for the upscore, the ADC's effect."""

    generator: dict
    upscore: dict
    adc: dict
    photo_size: int
    files: dict

    to_json = json_fields


def _photo(size: int) -> np.ndarray:
    """The astronaut, ``size`` pixels square, NCHW in [0, 1]."""
    from skimage import data, transform
    image = transform.resize(data.astronaut(), (size, size), anti_aliasing=True)
    return np.moveaxis(image, -1, 0)[None].astype(np.float32)


def _adc_effect(result, tile: TileConfig) -> dict:
    """The upscore's integers (it is one tile layer and nothing else) through the golden
    model with the tile's ADC (what the RTL gave) and with a lossless one, dequantised
    alike and compared with the float model."""
    from red.golden import crossbar_deconv2d
    from red.net import output_error
    (run,) = result.runs
    layer, stage = run.layer, run.stage
    scales = result.layers[0]["scales"]
    outputs = {}
    for name, adc_bits in (("adc", tile.adc_bits), ("lossless", None)):
        params = tile.crossbar_params | {"adc_bits": adc_bits}
        outputs[name] = crossbar_deconv2d(run.x, run.w, layer.s, layer.p, layer.op,
                                          bias=stage.bias, relu=stage.relu, **params)
    lossless = (outputs["lossless"] * scales["x"]
                * np.array(scales["w"])[:, None, None])[None]
    difference = np.abs(outputs["adc"] - outputs["lossless"])
    return {"adc_bits": tile.adc_bits, "lossless_adc_bits": tile.lossless_adc_bits,
            # Rows of one crossbar column (output channel, kernel pixel) with a weight.
            "max_weight_rows_per_column": int((run.w != 0).sum(axis=0).max()),
            "outputs_changed": int((difference > 0).sum()), "outputs": int(difference.size),
            "max_code_difference": int(difference.max()),
            "error_lossless": output_error(lossless, result.y_float, True)}


def compute(work_dir: Path, sim: str, progress: Callable[[str], None],
            tiles: dict[str, TileConfig]) -> tuple[NetworkSection, dict, list[str]]:
    """Run both networks on ``sim`` and the report's ``tiles`` of :data:`NETWORKS`
    (their models and work files in ``work_dir``); the section, the pictures to
    :func:`draw` and the problems found."""
    import onnx
    from red.net import NetJob, run_network
    from red.onnx_models import bilinear_upscore, dcgan_generator
    work_dir.mkdir(parents=True, exist_ok=True)
    shape = {key: value for key, value in GENERATOR.items() if key != "seed"}
    generator = work_dir / "generator.onnx"
    onnx.save(dcgan_generator(**shape, seed=GENERATOR["seed"]), str(generator))
    upscore = work_dir / "upscore.onnx"
    size = PHOTO_SIZE[sim]
    onnx.save(bilinear_upscore(3, UPSCORE_FACTOR, size, size), str(upscore))
    gen_tile, fcn_tile = (tiles[network] for network in NETWORKS)
    latent = np.random.default_rng(GENERATOR["seed"]).standard_normal(
        (1, GENERATOR["latent"])).astype(np.float32)
    runs, pictures = {}, {}
    for name, model, tile, x, source in (
            ("generator", generator, gen_tile, latent, f"seed {GENERATOR['seed']}"),
            ("upscore", upscore, fcn_tile, _photo(size), "skimage.data.astronaut()")):
        progress(f"networks: {name} through red net on {sim}")
        job = NetJob(model, tile, x, source, sim=sim, seed=GENERATOR["seed"])
        runs[name] = run_network(job, work_dir / name,
                                 lambda line, name=name: progress(f"networks: {name} {line}"))
        pictures[name] = (runs[name].y, runs[name].y_float, x,
                          f"{name} on the RTL ({tile.rows}x{tile.cols} tile, {sim})")
    problems = [f"networks {name}: {p}" for name, r in runs.items() for p in r.problems]
    problems += [f"networks {name}: layer {e['name']} RTL != golden"
                 for name, r in runs.items() for e in r.layers if not e["match"]]
    section = NetworkSection(runs["generator"].to_json(), runs["upscore"].to_json(),
                             _adc_effect(runs["upscore"], fcn_tile), size, FILES)
    return section, pictures, problems


def draw(pictures: dict, out: Path) -> None:
    """The pictures :func:`compute` returned, into the folder ``out`` (:data:`FILES`)."""
    from red.net_picture import draw as draw_picture
    for name, (y, y_float, x, title) in pictures.items():
        draw_picture(out / FILES[name], y, y_float, x, title)


def _layers_table(net: dict) -> str:
    rows = [[e["name"], " + ".join(e["nodes"][1:]) or "-", layer_shape(e["layer"]),
             e["passes"], f"{e['cycles']['total']:,}", f"{e['model']['total_cycles']:,}",
             "yes" if e["match"] else "NO"] for e in net["layers"]]
    return md_table(["layer", "folded into it", "shape", "passes", "RTL cycles", "model",
                     "RTL == golden"], rows)


def _error(net: dict) -> str:
    error = net["error_vs_float"]
    return (f"relative L2 {error['relative_l2']:.2e}, largest error {error['max_abs']:.3g}"
            + (f", PSNR {error['psnr']:.1f} dB" if "psnr" in error else ""))


def render(section: dict) -> list[str]:
    """The section's lines of ``report.md``, from ``report.json``'s ``networks``."""
    gen, up, adc = section["generator"], section["upscore"], section["adc"]
    tile, up_tile = gen["tile"], up["tile"]
    out = ["## 9. Whole networks through `red net`", "",
           f"ONNX models built in code (`red.onnx_models`), run by `red net`: every "
           f"ConvTranspose with its batch normalisation, bias and ReLU on the RTL "
           f"(quantised as `red.net` states), every other node on onnxruntime.", "",
           f"**A DCGAN-shaped generator** (latent {GENERATOR['latent']}, channels "
           f"{' -> '.join(map(str, GENERATOR['channels']))}, seed {GENERATOR['seed']}) on a "
           f"{tile['rows']}x{tile['cols']} tile ({tile['cell_bits']}-bit cells, "
           f"{tile['w_bits']}-bit weights and inputs, {tile['adc_bits']}-bit ADC); host "
           f"nodes: {', '.join(gen['host_nodes'])}.", "", _layers_table(gen), "",
           f"Whole network: {gen['totals']['cycles']:,} cycles on the RTL (model "
           f"{gen['totals']['model_cycles']:,}), {gen['totals']['energy_pj'] / 1e6:.3f} uJ; "
           f"the image against the float model: {_error(gen)}.", "",
           f"![generator]({section['files']['generator']})", "",
           f"**FCN's bilinear upscore of a photograph**: scikit-image's astronaut at "
           f"{section['photo_size']}x{section['photo_size']}, FCN-8s's upscore8 (K16 s8, the fixed bilinear "
           f"filter per colour channel) on the FCN-8s tile ({up_tile['rows']}x"
           f"{up_tile['cols']} crossbars, {up_tile['cell_bits']}-bit cells, "
           f"{up_tile['w_bits']}-bit weights and inputs, {up_tile['adc_bits']}-bit ADC).", "",
           _layers_table(up), "",
           f"Against the float model: {_error(up)}.", ""]
    if adc["outputs_changed"]:
        out.append(f"The {adc['adc_bits']}-bit ADC changes {adc['outputs_changed']:,} of "
                   f"{adc['outputs']:,} outputs (by up to {adc['max_code_difference']:,} in "
                   f"the integer sum) against a lossless {adc['lossless_adc_bits']}-bit "
                   f"one, which would give {_error({'error_vs_float': adc['error_lossless']})}.")
    else:
        out.append(f"The {adc['adc_bits']}-bit ADC changes none of the {adc['outputs']:,} "
                   f"outputs against a lossless {adc['lossless_adc_bits']}-bit one: a "
                   f"crossbar column holds a weight in at most "
                   f"{adc['max_weight_rows_per_column']} row(s) (the bilinear filter is "
                   f"diagonal across channels), so its codes stay in the ADC's range.")
    return out + ["", f"![upscore]({section['files']['upscore']})", ""]
