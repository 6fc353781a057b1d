"""``red sparsify``: crossbar-aware channel reordering and block pruning."""

from __future__ import annotations

import argparse

from ..config import ConfigError, TileConfig, _shown
from ..inputs import config_arg, load_array
from ..outdir import OutputFolder
from ..sparsity import SPARSIFY_FILES
from ._common import add_tile_argument


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sparsify", help="reorder channels so zero weights fill whole crossbar blocks; "
                         "optionally prune whole blocks",
        description="Permute the input and output channels of a layer's weights so that "
                    "as many crossbar blocks (cin slice x cout slice x kernel pixel of the "
                    "tile's passes) as possible hold only zeros, then optionally zero the "
                    "lowest-norm blocks until a fraction of blocks is empty (no "
                    "retraining). Writes w.npy (permuted and pruned: w[i][j] = "
                    "original[perm_in[i]][perm_out[j]]), perm_in.npy, perm_out.npy, "
                    "block_mask.npy ([cout_tile][cin_tile][kh][kw], True = non-empty) "
                    "and sparsity.json into --out. Exit 0, or 2 for bad input.")
    parser.add_argument("--w", metavar="W.npy", required=True,
                        help="weights [Cin][Cout][K][K], signed w_bits")
    add_tile_argument(parser)
    parser.add_argument("--prune", metavar="FRACTION", default="0",
                        help="prune whole blocks until this fraction of all blocks is empty, "
                             "a number in [0, 1] (default 0: reorder only)")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.set_defaults(run=run)


def _fraction(text: str, what: str) -> float:
    """A number in [0, 1], refused with one line otherwise (``nan`` and ``inf`` too)."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{what} {_shown(text)} is invalid: must be a number in [0, 1]")
    return value


def run(args: argparse.Namespace) -> int:
    """Write the mapping and its summary; 0."""
    from ..sparsity import check_weights, sparsify
    tile = config_arg(args.tile, TileConfig, "tile")
    fraction = _fraction(args.prune, "--prune")
    w = check_weights(load_array(args.w, f"--w {args.w}", ("cin", "cout", "k", "k"),
                                 tile.w_bits), tile)
    with OutputFolder(args.out, "sparsify", owned=tuple(SPARSIFY_FILES.values())) as folder:
        result = sparsify(w, tile, prune=fraction)
        summary = result.save(folder.scratch, tile)
        folder.commit()
    print(f"red sparsify: {result.blocks_total} blocks; empty: {result.empty_blocks_dense} "
          f"in the original order, {result.empty_blocks_reordered} reordered, "
          f"{result.empty_blocks_pruned} pruned (relative weight error "
          f"{result.relative_weight_error:.4g}); {folder.path / summary.name}")
    return 0
