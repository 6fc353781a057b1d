"""``red net``: an ONNX network with its transposed convolutions on the RTL (:mod:`red.net`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cache import cache_root
from ..config import TileConfig
from ..inputs import check_seed, config_arg
from ..modes import RTL_MODES
from ..net import NET_FILES
from ..outdir import OutputFolder
from ..simulate import EXIT_MISMATCH
from ._common import add_sim_argument, add_tile_argument, format_tile, simulator


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "net", help="run an ONNX network: its ConvTranspose layers on the RTL",
        description="Read an ONNX model; run every ConvTranspose (with batch "
                    "normalisation, per-channel bias and ReLU folded in) on the tile in a "
                    "simulator, quantised to the tile's bits, and every other node on the "
                    "host with onnxruntime (red.net states the quantisation rule). Writes "
                    "y.npy (hardware path), y_float.npy (float reference), net.json and, "
                    "for an image output, picture.png into --out. Exit 0: every layer's "
                    "RTL output equals the golden model and its cycles the model; 1: not; "
                    "2: bad input or a node the tile and onnxruntime cannot run.")
    parser.add_argument("model", metavar="MODEL.onnx")
    add_tile_argument(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", metavar="X.npy", help="the network's input (float, "
                        "the model's input shape; the batch axis of 1 may be left out)")
    source.add_argument("--seed", type=int, default=None,
                        help="seed of a random standard-normal input (default 0)")
    parser.add_argument("--calibrate", metavar="FILE.npy",
                        help="calibrate the activation scales on this input instead of "
                             "the run's own")
    parser.add_argument("--mode", choices=RTL_MODES, default="red")
    add_sim_argument(parser)
    parser.add_argument("--out", metavar="DIR", required=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the network, write its outputs; the verdict's exit status."""
    from red.sim.runner import SimulationError
    from ..inputs import load_float_array
    from ..net import NetJob, input_shape, network_input, run_network
    from ..onnx_graph import load_graph
    tile = config_arg(args.tile, TileConfig, "tile")
    tile.check_generable()
    tile.require_mode(args.mode)
    sim = simulator(args)
    seed = check_seed(0 if args.seed is None else args.seed)
    graph = load_graph(args.model, tile)         # refuses what the tile cannot take
    x, source = network_input(graph, args.input, seed)
    calibration = None if args.calibrate is None else load_float_array(
        args.calibrate, f"--calibrate {args.calibrate}", input_shape(graph))
    job = NetJob(Path(args.model), tile, x, source, calibration, args.mode, sim, seed)
    cache_root()
    with OutputFolder(args.out, "net", owned=(*NET_FILES.values(), "sim")) as folder:
        print(f"red net: {args.model}: {len(graph.stages)} ConvTranspose layer(s) on the "
              f"tile ({args.mode} on {sim}), {len(graph.host_nodes)} host node(s); tile "
              f"{format_tile(tile)}", flush=True)
        try:
            result = run_network(job, folder.scratch / "sim",
                                 lambda line: print(f"red net: {line}", flush=True), graph)
        except SimulationError as exc:
            print(f"red: error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return EXIT_MISMATCH
        saved = result.save(folder.scratch,
                            f"{Path(args.model).name} on the RTL ({args.mode}, {sim})")
        folder.commit()
    report = result.to_json()
    error = report["error_vs_float"]
    print(f"red net: every layer RTL == golden: {result.match}; cycles "
          f"{report['totals']['cycles']:,} (model {report['totals']['model_cycles']:,}); "
          f"error vs float: relative L2 {error['relative_l2']:.3g}, max "
          f"{error['max_abs']:.3g}" + (f", PSNR {error['psnr']:.1f} dB" if "psnr" in error
                                         else ""))
    for problem in result.problems:
        print(f"red net: {problem}", file=sys.stderr)
    print(f"red net: report {folder.path / saved.name}")
    return result.exit_status
