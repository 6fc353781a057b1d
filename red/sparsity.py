"""Crossbar-aware sparsity: reorder channels so zero weights fill whole crossbar blocks,
then prune whole blocks (after "Learning the sparsity for ReRAM", ASP-DAC 2019).

**Blocks.** On the tile a layer ``w[cin][cout][k][k]`` runs in the passes of
:func:`red.mapping.schedule`: cin slices of at most ``tile.rows`` input channels, cout
slices of at most ``tile.logical_cols`` output channels, and each kernel pixel
``(kh, kw)`` is its own crossbar group. One *block* is what one group holds in one pass,
``w[cin slice, cout slice, kh, kw]``; it is *empty* when all its weights are zero, and an
empty block is a crossbar whose conversions and programming can be skipped.

**Block mask.** ``mask[cout_tile][cin_tile][kh][kw]``, bool, ``True`` where the block
holds a non-zero weight (:func:`block_mask`; the axes follow the schedule's order: cout
slices outermost, then cin slices, then kernel pixels). :func:`block_is_empty` answers it
for a pass of the schedule and a group of the tile.

**Permutations.** ``perm_in`` and ``perm_out`` list original channels in their new order:
the permuted layer is ``wp[i][j] = w[perm_in[i]][perm_out[j]]`` (:func:`apply_permutation`,
undone by :func:`undo_permutation`). It computes the same layer when its input is
``x[perm_in]`` (:func:`permute_input`); its output is then ``y[perm_out]``, which
:func:`restore_output` puts back in the original channel order. One pair of permutations
serves every kernel pixel, because all groups share the layer's channels.

**Reordering** (:func:`reorder_channels`, :data:`ALGORITHM`): alternating balanced
co-clustering. Each cin slice is a cluster of input channels, each cout slice one of
output channels, with the slices' sizes. With the output clusters fixed, the non-empty
blocks of an input cluster are the union of its members' *profiles* (the (output
cluster, kernel pixel) pairs where a member has a non-zero weight), so the input side is
clustered to minimise the summed size of those unions; then the output side likewise
with the input clusters fixed, and so on while the count of empty blocks grows. A side is
clustered by farthest-first seeds (Hamming distance of profiles; the seed that draws
the most items gets the largest slice, as a remainder slice is smaller), a
capacity-bounded greedy assignment (items with the most to lose first), then rounds of
re-assignment by leave-one-out cost (how many new non-empty cells an item adds to each
cluster), kept only while they reduce the non-empty count. The first side starts from
fine profiles (every channel of the other side its own cluster), since the slices of
the identity order carry no signal. Both sides are tried as the first; the best of those
two and the identity order is kept, so the result is never worse than the original
order. It is deterministic (no random numbers). It recovers planted block structure
when a channel has non-zeros in most of its non-empty blocks; when non-empty blocks are
so sparse that a channel has about one non-zero or fewer in each, it finds far fewer
(the fine profiles of one cluster's channels then barely overlap).

**Pruning** (:func:`prune_blocks`): zero whole non-empty blocks, lowest L2 norm first,
until a target fraction of blocks is empty. There is no retraining: the error it causes
is measured by :func:`relative_weight_error` and :func:`relative_output_error`.
:func:`unstructured_prune` (magnitude pruning) and :func:`synthetic_weights` are the
baselines and the test data of the evaluation.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ConfigError, LayerSpec, TileConfig
from .golden import check_signed, deconv2d
from .mapping import Pass, cin_slices

__all__ = [
    "ALGORITHM", "BLOCK_MASK_AXES", "check_weights", "channel_slices", "block_mask",
    "block_is_empty", "count_empty_blocks", "apply_permutation", "undo_permutation",
    "permute_input", "restore_output", "Reordering", "reorder_channels", "prune_blocks",
    "relative_weight_error", "relative_output_error", "unstructured_prune",
    "synthetic_weights", "SparsifyResult", "sparsify", "SPARSIFY_FILES",
]

#: What :meth:`SparsifyResult.save` writes (``red sparsify``'s outputs), by role.
SPARSIFY_FILES = {"w": "w.npy", "perm_in": "perm_in.npy", "perm_out": "perm_out.npy",
                  "block_mask": "block_mask.npy", "summary": "sparsity.json"}

#: Name of the reordering algorithm (module docstring), as reports state it.
ALGORITHM = "alternating balanced co-clustering"

#: Axes of a block mask, outermost first.
BLOCK_MASK_AXES = ("cout_tile", "cin_tile", "kh", "kw")

#: Re-assignment rounds per clustering and alternations of the two sides: bounds on the
#: running time; both loops stop earlier as soon as a round no longer helps.
_REFINE_ROUNDS = 12
_ALTERNATIONS = 8


# -- blocks --------------------------------------------------------------------------

def check_weights(w, tile: TileConfig) -> np.ndarray:
    """``w`` as int64 ``[cin][cout][k][k]``, refused with :class:`ConfigError` unless it
    is a layer's weights that run on ``tile``: signed ``tile.w_bits`` integers, a square
    kernel, ``cin <= tile.max_cin`` and ``k <= tile.max_k``."""
    w = np.asarray(w)
    if w.ndim != 4 or w.shape[2] != w.shape[3] or 0 in w.shape:
        raise ConfigError(f"w must be [cin][cout][k][k] with a square kernel and no empty "
                          f"axis, got shape {w.shape}")
    cin, _, k, _ = w.shape
    if cin > tile.max_cin:
        raise ConfigError(f"w has cin={cin}, exceeds the tile's max_cin={tile.max_cin}")
    if k > tile.max_k:
        raise ConfigError(f"w has k={k}, exceeds the tile's max_k={tile.max_k}")
    return check_signed("w", w, tile.w_bits)


def channel_slices(cin: int, cout: int, tile: TileConfig) -> tuple[tuple[range, ...],
                                                                    tuple[range, ...]]:
    """The cin and cout slices of a layer's passes on ``tile``.

    :func:`red.mapping.cin_slices` cuts channels into slices of at most ``n``; the
    schedule cuts output channels the same way with ``n = tile.logical_cols``.
    """
    return cin_slices(cin, tile.rows), cin_slices(cout, tile.logical_cols)


def _slice_sizes(slices: tuple[range, ...]) -> np.ndarray:
    return np.array([len(s) for s in slices])


def _per_block(values: np.ndarray, reduce: np.ufunc, tile: TileConfig) -> np.ndarray:
    """``values[cin][cout][kh][kw]`` reduced by ``reduce`` over each block:
    ``[cout_tile][cin_tile][kh][kw]``."""
    cins, couts = channel_slices(values.shape[0], values.shape[1], tile)
    by_cin = reduce.reduceat(values, [s.start for s in cins], axis=0)
    return np.swapaxes(reduce.reduceat(by_cin, [s.start for s in couts], axis=1), 0, 1)


def block_mask(w, tile: TileConfig) -> np.ndarray:
    """The block mask of weights ``w[cin][cout][k][k]`` on ``tile``.

    Returns
    -------
    bool array ``[cout_tiles][cin_tiles][k][k]`` (:data:`BLOCK_MASK_AXES`)
        ``True`` where block ``w[cin slice, cout slice, kh, kw]`` holds a non-zero weight.
    """
    return _per_block(np.asarray(w) != 0, np.logical_or, tile)


def block_is_empty(mask: np.ndarray, tile: TileConfig, pass_: Pass,
                   group: tuple[int, int]) -> bool:
    """Whether group ``(gh, gw)`` of the tile holds only zero weights in pass ``pass_``
    (of :func:`red.mapping.schedule` for the layer whose mask is ``mask``).

    The group holds kernel pixel ``(kh0 + gh, kw0 + gw)`` of the pass's fold; a pixel
    beyond the layer's kernel (a fold's window running past it) is empty.
    """
    gh, gw = group
    kh, kw = pass_.kh0 + gh, pass_.kw0 + gw
    k = mask.shape[2]
    if kh >= k or kw >= k:
        return True
    return not mask[pass_.cout.start // tile.logical_cols, pass_.cin.start // tile.rows,
                    kh, kw]


def count_empty_blocks(w, tile: TileConfig) -> int:
    """Blocks of ``w`` on ``tile`` that hold only zeros."""
    mask = block_mask(w, tile)
    return int(mask.size - np.count_nonzero(mask))


# -- permutations --------------------------------------------------------------------

def apply_permutation(w, perm_in, perm_out) -> np.ndarray:
    """The permuted layer ``wp[i][j] = w[perm_in[i]][perm_out[j]]``."""
    return np.asarray(w)[np.asarray(perm_in)][:, np.asarray(perm_out)]


def undo_permutation(wp, perm_in, perm_out) -> np.ndarray:
    """The original layer of ``wp = apply_permutation(w, perm_in, perm_out)``."""
    return np.asarray(wp)[np.argsort(perm_in)][:, np.argsort(perm_out)]


def permute_input(x, perm_in) -> np.ndarray:
    """The input ``x[Cin][H][W]`` in the permuted layer's channel order, ``x[perm_in]``."""
    return np.asarray(x)[np.asarray(perm_in)]


def restore_output(yp, perm_out) -> np.ndarray:
    """The permuted layer's output ``yp = y[perm_out]`` back in the original channel
    order."""
    return np.asarray(yp)[np.argsort(perm_out)]


# -- reordering ----------------------------------------------------------------------

@dataclass(frozen=True)
class Reordering:
    """Channel permutations of a layer (module docstring for the convention).

    Attributes
    ----------
    perm_in, perm_out : int64 arrays
        Original input and output channels in their new order.
    empty_blocks : int or None
        Empty blocks of the permuted layer (``None``: not counted).
    start : str
        Which candidate won: ``identity``, ``cin first`` or ``cout first``; ``given``
        for permutations found elsewhere (read from files).
    """

    perm_in: np.ndarray
    perm_out: np.ndarray
    empty_blocks: int | None = None
    start: str = "given"


def _one_hot(labels: np.ndarray, clusters: int) -> np.ndarray:
    hot = np.zeros((len(labels), clusters), dtype=np.float32)
    hot[np.arange(len(labels)), labels] = 1
    return hot


def _assign(cost: np.ndarray, sizes: np.ndarray, current: np.ndarray | None) -> np.ndarray:
    """Labels that give each cluster exactly ``sizes[c]`` items, cheaply: greedy, items
    with the largest regret (second-best minus best cost) first, each to its cheapest
    cluster with room. Ties keep an item in its ``current`` cluster."""
    n, clusters = cost.shape
    cost = cost.astype(np.float64)
    if current is not None:
        # Costs are whole cells; half a cell only breaks ties, so items do not churn.
        cost[np.arange(n), current] -= 0.5
    if clusters > 1:
        two_best = np.partition(cost, 1, axis=1)[:, :2]
        regret = two_best[:, 1] - two_best[:, 0]
    else:
        regret = np.zeros(n)
    room = sizes.copy()
    labels = np.empty(n, dtype=np.int64)
    for item in np.argsort(-regret, kind="stable"):
        choice = int(np.argmin(np.where(room > 0, cost[item], np.inf)))
        labels[item] = choice
        room[choice] -= 1
    return labels


def _seed(profiles: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Initial clusters: farthest-first seeds, one per cluster (Hamming distance between
    profiles, starting from the item with the largest profile), then every item goes
    where it adds the fewest cells to its seed's profile (:func:`_assign`)."""
    clusters = len(sizes)
    support = profiles.sum(axis=1)
    seeds = [int(np.argmax(support))]
    nearest = np.full(len(profiles), np.inf)
    for _ in range(clusters - 1):
        last = profiles[seeds[-1]]
        nearest = np.minimum(nearest, support + last.sum() - 2 * (profiles @ last))
        nearest[seeds] = -1                   # no item seeds twice, even among equals
        seeds.append(int(np.argmax(nearest)))
    added = support[:, None] - profiles @ profiles[seeds].T
    # Slots differ in size (a remainder slice is smaller): the seed whose items would
    # form the largest cluster gets the largest slot, so no cluster is cut to fit.
    natural = np.bincount(np.argmin(added, axis=1), minlength=clusters)
    slot_of_seed = np.empty(clusters, dtype=np.int64)
    slot_of_seed[np.argsort(-natural, kind="stable")] = np.argsort(-sizes, kind="stable")
    cost = np.empty_like(added)
    cost[:, slot_of_seed] = added
    return _assign(cost, sizes, None)


def _refine(profiles: np.ndarray, sizes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Re-assign items while that lowers the non-empty cells ``sum_c |union of the
    profiles in c|``; each round moves every item by its leave-one-out cost."""
    clusters = len(sizes)
    counts = _one_hot(labels, clusters).T @ profiles
    best = np.count_nonzero(counts)
    for _ in range(_REFINE_ROUNDS):
        # Cost of joining another cluster: the item's cells that cluster lacks; of staying:
        # the cells only the item fills (they would empty without it).
        cost = profiles @ (counts == 0).T.astype(np.float32)
        alone = (counts == 1).astype(np.float32)
        for cluster in range(clusters):
            members = labels == cluster
            cost[members, cluster] = profiles[members] @ alone[cluster]
        candidate = _assign(cost, sizes, labels)
        moved = np.flatnonzero(candidate != labels)
        if not len(moved):
            break
        # Only the moved items change the counts (float32 counts up to 2^24 are exact).
        candidate_counts = counts + (_one_hot(candidate[moved], clusters)
                                     - _one_hot(labels[moved], clusters)).T @ profiles[moved]
        nonempty = np.count_nonzero(candidate_counts)
        if nonempty >= best:
            break
        labels, counts, best = candidate, candidate_counts, nonempty
    return labels


def _cluster(profiles: np.ndarray, sizes: np.ndarray,
             labels: np.ndarray | None) -> np.ndarray:
    """Cluster labels of items with bool ``profiles[item][cell]``, refined from
    ``labels`` (seeded when None)."""
    if len(sizes) == 1:
        return np.zeros(len(profiles), dtype=np.int64)
    profiles = profiles.astype(np.float32)
    return _refine(profiles, sizes, _seed(profiles, sizes) if labels is None else labels)


def _pool(nonzero: np.ndarray, labels: np.ndarray, clusters: int) -> np.ndarray:
    """``pooled[c][item][g]``: does cluster ``c`` of axis-0 channels hold a non-zero
    weight for ``item`` (axis 1) at kernel pixel ``g``."""
    pooled = np.zeros((clusters, *nonzero.shape[1:]), dtype=bool)
    for cluster in range(clusters):
        pooled[cluster] = nonzero[labels == cluster].any(axis=0)
    return pooled


def _profiles(pooled: np.ndarray) -> np.ndarray:
    """Profiles of the items of :func:`_pool`: ``[item][(cluster, g)]``."""
    return np.swapaxes(pooled, 0, 1).reshape(pooled.shape[1], -1)


def _permutation(labels: np.ndarray, clusters: int) -> np.ndarray:
    """Channels of cluster 0 (slice 0) first, each cluster in channel order."""
    return np.concatenate([np.flatnonzero(labels == c) for c in range(clusters)])


def _empty_blocks(nonzero: np.ndarray, first: np.ndarray, second: np.ndarray,
                  clusters_first: int, clusters_second: int) -> int:
    """Empty blocks of ``nonzero[channel][channel][g]`` with its axes 0 and 1 clustered
    by the labels ``first`` and ``second``."""
    pooled = _pool(nonzero, first, clusters_first)
    both = _pool(np.swapaxes(pooled, 0, 1), second, clusters_second)
    return int(both.size - np.count_nonzero(both))


def _alternate(nonzero: np.ndarray, sizes_first: np.ndarray, sizes_second: np.ndarray,
               first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alternating clustering of the two channel axes of ``nonzero[first][second][g]``,
    starting from ``first`` labels; returns the ``(first, second)`` labels with the
    most empty blocks."""
    transposed = np.swapaxes(nonzero, 0, 1)
    clusters = len(sizes_first), len(sizes_second)
    second = _cluster(_profiles(_pool(nonzero, first, clusters[0])), sizes_second, None)
    best, best_score = (first, second), _empty_blocks(nonzero, first, second, *clusters)
    for _ in range(_ALTERNATIONS):
        first = _cluster(_profiles(_pool(transposed, second, clusters[1])),
                         sizes_first, first)
        second = _cluster(_profiles(_pool(nonzero, first, clusters[0])),
                          sizes_second, second)
        current = _empty_blocks(nonzero, first, second, *clusters)
        if current <= best_score:
            break
        best, best_score = (first, second), current
    return best


def reorder_channels(w, tile: TileConfig) -> Reordering:
    """Input and output channel permutations that make many blocks of ``w`` empty.

    The algorithm is the module docstring's (:data:`ALGORITHM`); the result never has
    fewer empty blocks than the identity order.
    """
    nonzero = np.asarray(w) != 0
    cin, cout = nonzero.shape[:2]
    nonzero = nonzero.reshape(cin, cout, -1)                    # [cin][cout][kernel pixel]
    sizes_in, sizes_out = (_slice_sizes(s) for s in channel_slices(cin, cout, tile))
    clusters = len(sizes_in), len(sizes_out)
    # Labels are slice numbers: the identity order has channel c in the slice holding it.
    candidates = {"identity": (np.repeat(np.arange(clusters[0]), sizes_in),
                               np.repeat(np.arange(clusters[1]), sizes_out))}
    if clusters != (1, 1):
        transposed = np.swapaxes(nonzero, 0, 1)
        # Fine profiles: every channel of the other axis counts as its own cluster.
        labels_in = _cluster(nonzero.reshape(cin, -1), sizes_in, None)
        candidates["cin first"] = _alternate(nonzero, sizes_in, sizes_out, labels_in)
        labels_out = _cluster(transposed.reshape(cout, -1), sizes_out, None)
        candidates["cout first"] = _alternate(transposed, sizes_out, sizes_in,
                                              labels_out)[::-1]
    empty = {start: _empty_blocks(nonzero, *labels, *clusters)
             for start, labels in candidates.items()}
    start = max(empty, key=empty.get)     # the first of equals: identity unless beaten
    labels_in, labels_out = candidates[start]
    return Reordering(_permutation(labels_in, clusters[0]),
                      _permutation(labels_out, clusters[1]), empty[start], start)


# -- pruning and its error -----------------------------------------------------------

def _target_count(fraction: float, total: int, what: str) -> int:
    """The fewest of ``total`` items that make up at least ``fraction`` of them."""
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"{what} fraction {fraction} is invalid: must be in [0, 1]")
    # Rounding first drops float noise: 0.07 * 100 is 7.000000000000001, not above 7.
    return math.ceil(round(fraction * total, 9))


def prune_blocks(w, tile: TileConfig, fraction: float) -> np.ndarray:
    """Crossbar-grained pruning: ``w`` with whole blocks zeroed until at least a
    ``fraction`` of its blocks are empty.

    The non-empty blocks with the lowest L2 norm go first (ties: the earlier block in
    mask order). Weights already that sparse are returned unchanged.
    """
    w = np.array(w, dtype=np.int64)
    mask = block_mask(w, tile)
    missing = _target_count(fraction, mask.size, "block pruning") - (
        mask.size - np.count_nonzero(mask))
    if missing <= 0:
        return w
    # Float squares: int64 would overflow for wide weights; the order is what counts.
    norms = _per_block(w.astype(np.float64) ** 2, np.add, tile)
    cins, couts = channel_slices(w.shape[0], w.shape[1], tile)
    candidates = np.flatnonzero(mask)
    doomed = candidates[np.argsort(norms.ravel()[candidates], kind="stable")[:missing]]
    for co_tile, ci_tile, kh, kw in zip(*np.unravel_index(doomed, mask.shape)):
        w[cins[ci_tile].start:cins[ci_tile].stop, couts[co_tile].start:couts[co_tile].stop,
          kh, kw] = 0
    return w


def unstructured_prune(w, fraction: float) -> np.ndarray:
    """Magnitude pruning: ``w`` with its smallest-magnitude weights zeroed, the fewest
    that make up at least ``fraction`` of all weights (ties: the earlier in C order).
    Zeros count as the smallest, so at least that fraction is zero afterwards."""
    w = np.array(w, dtype=np.int64)
    count = _target_count(fraction, w.size, "unstructured pruning")
    flat = w.reshape(-1)
    flat[np.argsort(np.abs(flat), kind="stable")[:count]] = 0
    return w


def relative_weight_error(w, w_pruned) -> float:
    """``||w - w_pruned|| / ||w||`` (Frobenius); 0 for an all-zero ``w``."""
    w = np.asarray(w, dtype=np.float64)
    norm = np.linalg.norm(w)
    return float(np.linalg.norm(w - np.asarray(w_pruned, dtype=np.float64)) / norm) \
        if norm else 0.0


def relative_output_error(x, w, w_pruned, layer: LayerSpec) -> float:
    """``||y - y_pruned|| / ||y||`` of the layer on input ``x[cin][h][w]``: ``y`` with
    weights ``w``, ``y_pruned`` with ``w_pruned`` (same channel order as ``w`` and
    ``x``; :func:`undo_permutation` restores it), both from the golden
    :func:`red.golden.deconv2d`. 0 when ``y`` is all zero.

    For inputs with independent zero-mean pixels it is close to
    :func:`relative_weight_error`; real activations (non-negative after a ReLU,
    correlated) differ, which is why it takes an input.
    """
    expected = (layer.cin, layer.cout, layer.k, layer.k)
    for name, weights in (("w", w), ("w_pruned", w_pruned)):
        if np.shape(weights) != expected:
            raise ConfigError(f"{name} has shape {np.shape(weights)}, the layer needs "
                              f"{expected}")
    y = deconv2d(x, w, layer.s, layer.p, layer.op).astype(np.float64)
    y_pruned = deconv2d(x, w_pruned, layer.s, layer.p, layer.op).astype(np.float64)
    norm = np.linalg.norm(y)
    return float(np.linalg.norm(y - y_pruned) / norm) if norm else 0.0


def synthetic_weights(cin: int, cout: int, k: int, tile: TileConfig, *,
                      distribution: str = "laplace", channel_spread: float = 4.0,
                      seed: int = 0) -> np.ndarray:
    """Dense weights shaped like a trained layer's, for evaluations without a model.

    Each output channel ``co`` has a scale drawn log-uniformly from
    ``[1/channel_spread, 1]`` (trained layers' channels differ in magnitude, which is
    what magnitude and block pruning act on); its weights are that scale times iid
    unit-variance ``"laplace"`` (heavy-tailed, like trained weights) or ``"gauss"``
    samples. The layer is quantised symmetrically to ``tile.w_bits``: the largest
    magnitude maps to ``tile.w_max``, the rest round to the nearest integer.

    Returns
    -------
    int64 array ``[cin][cout][k][k]`` in ``[-tile.w_max, tile.w_max]``.
    """
    rng = np.random.default_rng(seed)
    shape = (cin, cout, k, k)
    if distribution == "laplace":
        samples = rng.laplace(scale=1 / math.sqrt(2), size=shape)
    elif distribution == "gauss":
        samples = rng.standard_normal(shape)
    else:
        raise ConfigError(f"distribution={distribution!r} is invalid: "
                          "choose 'laplace' or 'gauss'")
    if not channel_spread >= 1:
        raise ConfigError(f"channel_spread={channel_spread} is invalid: must be >= 1")
    scales = np.exp(rng.uniform(-math.log(channel_spread), 0.0, size=cout))
    real = samples * scales[None, :, None, None]
    return np.rint(real / np.abs(real).max() * tile.w_max).astype(np.int64)


# -- the whole flow ------------------------------------------------------------------

@dataclass(frozen=True)
class SparsifyResult:
    """What :func:`sparsify` computes.

    Attributes
    ----------
    weights : int64 array ``[cin][cout][k][k]``
        The permuted and pruned weights (``wp[i][j]`` is original ``[perm_in[i]]
        [perm_out[j]]``, module docstring).
    perm_in, perm_out : int64 arrays
        The permutations.
    mask : bool array
        The block mask of :attr:`weights` (:func:`block_mask`).
    empty_blocks_dense, empty_blocks_reordered, empty_blocks_pruned : int
        Empty blocks in the original order, after reordering, after pruning.
    prune_fraction : float
        The requested fraction of empty blocks.
    relative_weight_error : float
        ``||w - pruned|| / ||w||`` (pruning's error; reordering changes no weight).
    start : str
        The winning candidate of :func:`reorder_channels`.
    """

    weights: np.ndarray
    perm_in: np.ndarray
    perm_out: np.ndarray
    mask: np.ndarray
    empty_blocks_dense: int
    empty_blocks_reordered: int
    empty_blocks_pruned: int
    prune_fraction: float
    relative_weight_error: float
    start: str

    @property
    def blocks_total(self) -> int:
        return int(self.mask.size)

    def describe(self) -> dict:
        """The figures, for ``sparsity.json``."""
        cout_tiles, cin_tiles, k, _ = self.mask.shape
        return {
            "blocks_total": self.blocks_total,
            "empty_blocks_dense": self.empty_blocks_dense,
            "empty_blocks_reordered": self.empty_blocks_reordered,
            "empty_blocks_pruned": self.empty_blocks_pruned,
            "prune_fraction": self.prune_fraction,
            "relative_weight_error": self.relative_weight_error,
            "cin": int(self.weights.shape[0]), "cout": int(self.weights.shape[1]), "k": k,
            "cin_tiles": cin_tiles, "cout_tiles": cout_tiles,
            "block_mask_axes": list(BLOCK_MASK_AXES),
            "permutation": "w[i][j] = original[perm_in[i]][perm_out[j]]",
            "algorithm": ALGORITHM, "winning_start": self.start,
        }

    def save(self, folder: Path, tile: TileConfig) -> Path:
        """Write the arrays and ``sparsity.json`` (:meth:`describe`, the tile and the
        array files) into ``folder``; return the JSON file's path."""
        arrays = {"w": self.weights, "perm_in": self.perm_in, "perm_out": self.perm_out,
                  "block_mask": self.mask}
        for role, array in arrays.items():
            np.save(folder / SPARSIFY_FILES[role], array)
        summary = {**self.describe(), "tile": tile.describe(),
                   "files": {role: SPARSIFY_FILES[role] for role in arrays}}
        path = folder / SPARSIFY_FILES["summary"]
        path.write_text(json.dumps(summary, indent=2) + "\n")
        return path


def sparsify(w, tile: TileConfig, prune: float = 0.0) -> SparsifyResult:
    """Reorder the channels of ``w[cin][cout][k][k]`` so zeros fill whole blocks of
    ``tile``, then prune blocks to a fraction ``prune`` of empty blocks (0: none)."""
    w = check_weights(w, tile)
    _target_count(prune, 1, "block pruning")          # refuse a bad fraction before work
    dense_mask = block_mask(w, tile)
    order = reorder_channels(w, tile)
    reordered = apply_permutation(w, order.perm_in, order.perm_out)
    pruned = prune_blocks(reordered, tile, prune)
    mask = block_mask(pruned, tile)
    return SparsifyResult(
        weights=pruned, perm_in=order.perm_in, perm_out=order.perm_out, mask=mask,
        empty_blocks_dense=int(dense_mask.size - np.count_nonzero(dense_mask)),
        empty_blocks_reordered=order.empty_blocks,
        empty_blocks_pruned=int(mask.size - np.count_nonzero(mask)),
        prune_fraction=float(prune),
        relative_weight_error=relative_weight_error(reordered, pruned), start=order.start)
