"""Integer-exact golden model of what the RED tile computes.

Layout: ``x[Cin][H][W]``, ``w[Cin][Cout][K][K]``, ``y[Cout][Ho][Wo]``, all int64.
Semantics are those of PyTorch ``conv_transpose2d`` (see ``../shared/RED_TILE.md``).

Four formulations of the deconvolution are kept independent of each other so that
they can cross-check one another:

* :func:`deconv2d` -- the defining scatter: every input pixel times every kernel tap
  lands at ``o = i*s - p + k``;
* :func:`deconv2d_zp` -- zero insertion, padding and stride-1 correlation with the
  flipped kernel (the baseline accelerator's view);
* :func:`deconv2d_pf` -- padding-free: overlap-add of ``K x K x Cout`` patches into the
  uncropped map, then crop;
* :func:`deconv2d_phase` -- pixel-wise / phase gather (RED's view): each output reads
  only the taps of its phase.

:func:`crossbar_mvm` and :func:`crossbar_deconv2d` model the crossbar arithmetic
contract bit for bit, including a clipping ADC. :func:`output_stage` is the layer's
output stage (bias, ReLU), and :func:`early_deconv2d` the tile's result under CompRRAE
early termination (:mod:`red.early`), decided plane by plane from the same bounds the
RTL computes.
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass, replace

from .config import EXACT_BITS, ConfigError, LayerSpec, lossless_adc_bits
from .early import BOUNDS, EPS_FRAC_BITS, EarlySpec, decide
from .mapping import cin_slices

__all__ = [
    "deconv2d", "conv_transpose2d", "deconv2d_zp", "deconv2d_pf", "deconv2d_phase",
    "crossbar_mvm", "crossbar_deconv2d", "check_signed", "weight_slices", "column_codes",
    "output_stage", "EarlyOutcome", "group_bounds", "early_deconv2d",
]


def check_signed(name: str, a, bits: int) -> np.ndarray:
    """Return ``a`` as int64, refusing values outside the ``bits``-bit signed range."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iub":
        raise ConfigError(f"{name} must hold integers, got dtype {arr.dtype}")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if arr.size:
        # Compare as Python ints, before any cast could wrap (a uint64 2^64-1 is not -1).
        smallest, largest = int(arr.min()), int(arr.max())
        if smallest < lo or largest > hi:
            bad = smallest if smallest < lo else largest
            raise ConfigError(f"{name} value {bad} is outside the {bits}-bit signed "
                              f"range [{lo}, {hi}]")
    return arr.astype(np.int64)


def _check_deconv_args(x, w, stride, padding, output_padding):
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 3:
        raise ConfigError(f"x must be [Cin][H][W], got shape {x.shape}")
    if w.ndim != 4 or w.shape[2] != w.shape[3]:
        raise ConfigError(f"w must be [Cin][Cout][K][K], got shape {w.shape}")
    if w.shape[0] != x.shape[0]:
        raise ConfigError(f"w has Cin={w.shape[0]} but x has Cin={x.shape[0]}")
    for name, arr in (("x", x), ("w", w)):
        if arr.dtype.kind not in "iub":
            raise ConfigError(f"{name} must hold integers, got dtype {arr.dtype}")
    cin, h, wd = x.shape
    layer = LayerSpec(cin=cin, cout=w.shape[1], h=h, w=wd, k=w.shape[2],
                      s=stride, p=padding, op=output_padding)
    x, w = check_signed("x", x, EXACT_BITS + 1), check_signed("w", w, EXACT_BITS + 1)
    _check_exact("deconvolution", _max_abs(x) * _max_abs(w) * cin * layer.k * layer.k)
    return x, w, layer


def _max_abs(a: np.ndarray) -> int:
    return max(abs(int(a.min())), abs(int(a.max()))) if a.size else 0


def _check_exact(what: str, bound: int) -> None:
    """Refuse work whose intermediate magnitudes could wrap int64."""
    if bound >= 1 << EXACT_BITS:
        raise ConfigError(f"{what} values can reach {bound}, beyond the {EXACT_BITS}-bit "
                          f"range the golden model computes exactly")


def _checked_bias(bias, cout: int) -> np.ndarray:
    """``bias`` as int64, refused unless it holds one exact integer per output channel."""
    bias = check_signed("bias", bias, EXACT_BITS)
    if bias.shape != (cout,):
        raise ConfigError(f"bias must have shape ({cout},) (one per output channel), "
                          f"got {bias.shape}")
    return bias


def output_stage(y, bias=None, relu: bool = False) -> np.ndarray:
    """The layer's output stage on ``y[Cout][Ho][Wo]``: ``max(0, y + bias[co])`` (the
    bias added once per output pixel; each part optional)."""
    y = np.asarray(y, dtype=np.int64)
    if bias is not None:
        bias = _checked_bias(bias, y.shape[0])
        _check_exact("output stage", _max_abs(y) + _max_abs(bias))
        y = y + bias[:, None, None]
    return np.maximum(y, 0) if relu else y


def deconv2d(x, w, stride: int, padding: int, output_padding: int = 0, *,
             bias=None, relu: bool = False) -> np.ndarray:
    """Transposed convolution by its definition (scatter of every tap), then the output
    stage (:func:`output_stage`)."""
    return output_stage(_deconv2d(x, w, stride, padding, output_padding), bias, relu)


def conv_transpose2d(x, w, stride: int, padding: int, output_padding: int = 0, *,
                     bias=None, relu: bool = False) -> np.ndarray:
    """PyTorch's name for :func:`deconv2d`."""
    return deconv2d(x, w, stride, padding, output_padding, bias=bias, relu=relu)


def _deconv2d(x, w, stride: int, padding: int, output_padding: int = 0) -> np.ndarray:
    x, w, L = _check_deconv_args(x, w, stride, padding, output_padding)
    y = np.zeros((L.cout, L.ho, L.wo), dtype=np.int64)
    ih = np.arange(L.h)
    iw = np.arange(L.w)
    for kh in range(L.k):
        oh = ih * L.s - L.p + kh
        rows = (oh >= 0) & (oh < L.ho)
        for kw in range(L.k):
            ow = iw * L.s - L.p + kw
            cols = (ow >= 0) & (ow < L.wo)
            # contribution[co, ih, iw] = sum_ci x[ci, ih, iw] * w[ci, co, kh, kw]
            contrib = np.einsum("chw,cd->dhw", x, w[:, :, kh, kw])
            y[:, oh[rows][:, None], ow[cols][None, :]] += contrib[:, rows][:, :, cols]
    return y


def deconv2d_zp(x, w, stride: int, padding: int, output_padding: int = 0) -> np.ndarray:
    """Zero insertion: dilate by ``s``, pad ``K-1-p`` (+``op`` far side), correlate with
    the kernel flipped in both axes, stride 1."""
    x, w, L = _check_deconv_args(x, w, stride, padding, output_padding)
    pad = L.k - 1 - L.p
    hz, wz = (L.h - 1) * L.s + 1, (L.w - 1) * L.s + 1
    z = np.zeros((L.cin, L.zp_h, L.zp_w), dtype=np.int64)   # hz + 2*pad + op
    z[:, pad:pad + hz:L.s, pad:pad + wz:L.s] = x
    wf = w[:, :, ::-1, ::-1]
    y = np.zeros((L.cout, L.ho, L.wo), dtype=np.int64)
    for a in range(L.k):
        for b in range(L.k):
            window = z[:, a:a + L.ho, b:b + L.wo]
            y += np.einsum("chw,cd->dhw", window, wf[:, :, a, b])
    return y


def deconv2d_pf(x, w, stride: int, padding: int, output_padding: int = 0) -> np.ndarray:
    """Padding-free: each input pixel's ``K x K x Cout`` patch is overlap-added into the
    full ``((H-1)s + K + op)`` map, which is then cropped by ``p``."""
    x, w, L = _check_deconv_args(x, w, stride, padding, output_padding)
    full = np.zeros((L.cout, L.full_h, L.full_w), dtype=np.int64)
    for i in range(L.h):
        for j in range(L.w):
            patch = np.einsum("c,cdhw->dhw", x[:, i, j], w)
            full[:, i * L.s:i * L.s + L.k, j * L.s:j * L.s + L.k] += patch
    return full[:, L.p:L.p + L.ho, L.p:L.p + L.wo]


def _phase_taps(o: int, k: int, s: int, p: int, n_in: int):
    """Yield ``(tap, input index)`` pairs that reach output ``o`` along one axis."""
    r, q = (o + p) % s, (o + p) // s
    for j in range(-(-(k - r) // s) if k > r else 0):
        i = q - j
        if 0 <= i < n_in:
            yield r + j * s, i


def deconv2d_phase(x, w, stride: int, padding: int, output_padding: int = 0) -> np.ndarray:
    """Pixel-wise (phase) gather: output ``o`` has phase ``r=(o+p) mod s`` and block
    ``q=floor((o+p)/s)``; its taps are ``k=r+j*s`` reading input ``q-j``."""
    x, w, L = _check_deconv_args(x, w, stride, padding, output_padding)
    y = np.zeros((L.cout, L.ho, L.wo), dtype=np.int64)
    taps_w = [list(_phase_taps(ow, L.k, L.s, L.p, L.w)) for ow in range(L.wo)]
    for oh in range(L.ho):
        taps_h = list(_phase_taps(oh, L.k, L.s, L.p, L.h))
        for ow in range(L.wo):
            acc = np.zeros(L.cout, dtype=np.int64)
            for kh, ih in taps_h:
                for kw, iw in taps_w[ow]:
                    acc += x[:, ih, iw] @ w[:, :, kh, kw]
            y[:, oh, ow] = acc
    return y


def weight_slices(w, *, cell_bits: int, w_bits: int) -> np.ndarray:
    """Offset-binary cell slices of signed weights: ``[..., S]``, slice ``k`` holds
    ``((w + 2^(Bw-1)) >> c*k) & (2^c - 1)``."""
    u = np.asarray(w, dtype=np.int64) + (1 << (w_bits - 1))
    shifts = cell_bits * np.arange(w_bits // cell_bits)
    return (u[..., None] >> shifts) & ((1 << cell_bits) - 1)


def _check_crossbar_params(rows, cell_bits, w_bits, in_bits, adc_bits):
    for name, v in (("rows", rows), ("cell_bits", cell_bits), ("w_bits", w_bits),
                    ("in_bits", in_bits)):
        if not isinstance(v, int) or v < 1:
            raise ConfigError(f"{name}={v!r} is invalid: must be an integer >= 1")
    if w_bits % cell_bits:
        raise ConfigError(f"cell_bits={cell_bits} is invalid: must divide w_bits={w_bits}")
    if adc_bits is None:
        adc_bits = lossless_adc_bits(rows, cell_bits)
    if not isinstance(adc_bits, int) or adc_bits < 1:
        raise ConfigError(f"adc_bits={adc_bits!r} is invalid: must be an integer >= 1")
    return adc_bits


def column_codes(drive, cells, adc_bits: int) -> np.ndarray:
    """ADC codes of crossbar steps: the crossbar macro's contract.

    ``drive[..., rows]`` are the driven rows of each step (plane bit and row enable, 0/1),
    ``cells[rows, cols]`` the cell values. Column ``j`` returns
    ``min(sum_r drive[r] * cells[r][j], 2^adc_bits - 1)``: the exact column sum,
    saturated by the ADC.
    """
    return _float_codes(drive, cells, adc_bits).astype(np.int64)


def _float_codes(drive, cells, adc_bits: int) -> np.ndarray:
    """:func:`column_codes` as float64 values (exact integers)."""
    drive, cells = np.asarray(drive), np.asarray(cells)
    # The products are 0/1 times a cell value and the sums at most rows * (2^c - 1)
    # (config limits: 1024 * 255 < 2^53), so floating point is exact here, and a float
    # matrix product runs on BLAS where numpy's integer one is a plain loop.
    if cells.size and int(cells.max()) * drive.shape[-1] >= 1 << 53:
        raise ConfigError("column_codes: column sums could exceed 2^53")
    # One 2-D product: numpy would multiply a stack of matrices one small BLAS call each.
    flat = drive.reshape(-1, drive.shape[-1]).astype(np.float64)
    sums = flat @ cells.astype(np.float64)
    np.minimum(sums, float((1 << adc_bits) - 1), out=sums)
    return sums.reshape(*drive.shape[:-1], cells.shape[-1])


def crossbar_mvm(x, w, *, cell_bits: int, w_bits: int, in_bits: int,
                 adc_bits: int | None = None, rows: int | None = None) -> np.ndarray:
    """One crossbar MVM under the arithmetic contract.

    Parameters
    ----------
    x : int array ``[..., n]``
        Signed ``in_bits`` inputs, one per active row (``n <= rows``); leading axes are
        independent MVMs on the same crossbar.
    w : int array ``[n, m]``
        Signed ``w_bits`` weights, one logical column per output.
    rows : int, optional
        Physical rows (sets the default lossless ADC); defaults to ``n``.
    adc_bits : int, optional
        ADC resolution; ``None`` is lossless for ``rows``.

    Returns
    -------
    int64 array ``[..., m]``: ``sum_b g_b 2^b sum_k 2^(c k) min(a_bk, 2^A - 1)
    - 2^(Bw-1) sum(x)``, which is ``x @ w`` exactly when the ADC is lossless.
    """
    w = check_signed("w", w, w_bits)
    x = check_signed("x", x, in_bits)
    if w.ndim != 2:
        raise ConfigError(f"w must be [n][m], got shape {w.shape}")
    n = w.shape[0]
    if x.shape[-1:] != (n,):
        raise ConfigError(f"x must end in n={n} rows, got shape {x.shape}")
    rows = n if rows is None else rows
    adc_bits = _check_crossbar_params(rows, cell_bits, w_bits, in_bits, adc_bits)
    if n > rows:
        raise ConfigError(f"x has {n} active rows, exceeds rows={rows}")
    # |P| <= 2^Bx * sum_k 2^(ck) (2^c - 1) * n = 2^Bx * (2^Bw - 1) * n; the correction is
    # 2^(Bw-1) * n * 2^(Bx-1): both bounded by n * 2^(Bw+Bx).
    _check_exact("crossbar MVM", n << (w_bits + in_bits))
    cells = weight_slices(w, cell_bits=cell_bits, w_bits=w_bits)          # [n, m, S]
    ux = x & ((1 << in_bits) - 1)                                          # two's complement
    planes = (ux[..., None, :] >> np.arange(in_bits)[:, None]) & 1        # [..., B, n]
    # codes[..., b, m, k]: plane b on the physical column of slice k of weight m.
    n_w, m_w, slices = cells.shape
    codes = _float_codes(planes, cells.reshape(n_w, m_w * slices),
                         adc_bits).reshape(*planes.shape[:-1], m_w, slices)
    slice_weight = 1 << (cell_bits * np.arange(w_bits // cell_bits))
    plane_weight = 1 << np.arange(in_bits)
    plane_weight[-1] = -plane_weight[-1]                                   # sign plane
    # P = sum_b g_b 2^b sum_k 2^(ck) codes. When no partial sum can reach 2^53
    # (|P| <= 2^Bx * sum_k 2^(ck) * code_max), float products are exact and run on BLAS,
    # slices first (contiguous), then planes; otherwise the integer einsum.
    code_max = int(codes.max(initial=0))
    if code_max * int(slice_weight.sum()) << in_bits < 1 << 53:
        per_plane = codes @ slice_weight.astype(np.float64)                # [..., B, m]
        p = (np.moveaxis(per_plane, -2, -1) @ plane_weight.astype(np.float64)).astype(np.int64)
    else:
        p = np.einsum("...bmk,k,b->...m", codes.astype(np.int64), slice_weight, plane_weight)
    return p - (1 << (w_bits - 1)) * x.sum(axis=-1, keepdims=True)


def _kernel_pixels(L: LayerSpec):
    """Per kernel pixel ``(kh, kw)``: the inputs along each axis whose term lands inside
    the output (boolean vectors) and those terms' output rows and columns."""
    for kh in range(L.k):
        oh = np.arange(L.h) * L.s - L.p + kh
        rsel = (oh >= 0) & (oh < L.ho)
        for kw in range(L.k):
            ow = np.arange(L.w) * L.s - L.p + kw
            csel = (ow >= 0) & (ow < L.wo)
            yield kh, kw, rsel, csel, oh[rsel][:, None], ow[csel][None, :]


def crossbar_deconv2d(x, w, stride: int, padding: int, output_padding: int = 0, *,
                      rows: int, cell_bits: int, w_bits: int, in_bits: int,
                      adc_bits: int | None = None, bias=None, relu: bool = False,
                      block_cols: int | None = None) -> np.ndarray:
    """Deconvolution computed as the RED tile does: one crossbar MVM per (kernel pixel,
    row tile of at most ``rows`` input channels, input pixel), results added exactly.

    The row tiles are the mapper's cin slices (:func:`red.mapping.cin_slices`): a layer
    with ``cin > rows`` is the exact sum of each row tile's clipped result. With a
    lossless ADC this equals :func:`deconv2d`; with a smaller ADC each MVM is clipped as
    :func:`crossbar_mvm` defines, and this is the value the RTL must produce, whatever
    the pass schedule (cout slices and kernel folds do not change the arithmetic).
    ``bias`` and ``relu`` are the output stage (:func:`output_stage`).

    With ``block_cols`` (the tile's logical columns), every all-zero *block* (one kernel
    pixel, row tile and slice of ``block_cols`` output channels, :mod:`red.sparsity`)
    contributes 0, as a sparse schedule gates it. A crossbar of zero weights computes 0
    only with a lossless ADC: its offset-binary cells are not zero, and a clipping ADC
    can clip their column sums.
    """
    x, w, L = _check_deconv_args(x, w, stride, padding, output_padding)
    x = check_signed("x", x, in_bits)
    w = check_signed("w", w, w_bits)
    _check_crossbar_params(rows, cell_bits, w_bits, in_bits, adc_bits)
    y = np.zeros((L.cout, L.ho, L.wo), dtype=np.int64)
    pixels = x.transpose(1, 2, 0)                                          # [H, W, Cin]
    for kh, kw, rsel, csel, rows_o, cols_o in _kernel_pixels(L):
        for tile_rows in cin_slices(L.cin, rows):
            r0, r1 = tile_rows.start, tile_rows.stop
            mvm = crossbar_mvm(pixels[:, :, r0:r1], w[r0:r1, :, kh, kw],
                               cell_bits=cell_bits, w_bits=w_bits, in_bits=in_bits,
                               adc_bits=adc_bits, rows=rows)               # [H, W, Cout]
            if block_cols is not None:
                for c0 in range(0, L.cout, block_cols):
                    if not w[r0:r1, c0:c0 + block_cols, kh, kw].any():
                        mvm[:, :, c0:c0 + block_cols] = 0
            y[:, rows_o, cols_o] += mvm[rsel][:, csel].transpose(2, 0, 1)
    return output_stage(y, bias, relu)


@dataclass(frozen=True)
class EarlyOutcome:
    """What the tile computes under early termination (:func:`early_deconv2d`).

    Attributes
    ----------
    y : int64 ``[Cout][Ho][Wo]``
        The outputs: decided outputs take their decided value, the others the exact
        contract value plus bias; then ReLU if on.
    exact : int64 ``[Cout][Ho][Wo]``
        The same layer without early termination (:func:`crossbar_deconv2d` and the
        output stage).
    decided : bool ``[Cout][Ho][Wo]``
        Outputs decided before their last plane.
    planes : int64 ``[Cout][Ho][Wo]``
        Bit planes converted in each column that feeds the output: the plane after
        which it was decided, or ``in_bits``.
    feeders : int64 ``[Ho][Wo]``
        Crossbar groups that feed each output pixel in the flow's step and convert:
        RED, its deconvolution terms (gated groups convert nothing); ZP, every kernel
        pixel's group (its zero-inserted inputs are driven and converted too).
    """

    y: np.ndarray
    exact: np.ndarray
    decided: np.ndarray
    planes: np.ndarray
    feeders: np.ndarray


def group_bounds(w, low, rest, *, cell_bits: int, w_bits: int, adc_bits: int | None,
                 bound: str = BOUNDS[0]) -> np.ndarray:
    """The most the planes still to come can add to each column of one crossbar group
    (:mod:`red.early`): ``min((2^r - 1) * U, (2^r - 1) * P + 2^(w_bits-1) * low)``.

    ``w[rows][cols]`` are the group's weights, ``low[n][v]`` is ``sum(x mod 2^r)`` of
    input vector ``v`` after plane ``n`` and ``rest[n]`` is ``2^r - 1``, ``r`` the planes to
    come; ``U`` is a column's largest plane value (its cells' column sums, each clipped by
    the ADC, weighted by slice) and ``P`` the sum of its positive weights. ``bound``
    ``"offset"`` (:data:`red.early.BOUNDS`) is ``(2^r - 1) * U`` alone. Returns
    ``[n][v][col]``."""
    if bound not in BOUNDS:
        raise ConfigError(f"bound={bound!r} is invalid: must be one of {', '.join(BOUNDS)}")
    S = w_bits // cell_bits
    cells = weight_slices(w, cell_bits=cell_bits, w_bits=w_bits)
    column = cells.sum(axis=0).reshape(w.shape[1], S)
    if adc_bits is not None:
        column = np.minimum(column, (1 << adc_bits) - 1)
    most = column @ (1 << (cell_bits * np.arange(S)))                # U, [cols]
    positive = np.maximum(w, 0).sum(axis=0)                          # P, [cols]
    rest = np.asarray(rest)[:, None, None]
    if bound == "offset":
        return np.broadcast_to(rest * most, (len(rest), low.shape[1], len(most)))
    return np.minimum(rest * most, rest * positive + (low[:, :, None] << (w_bits - 1)))


def early_deconv2d(x, w, stride: int, padding: int, output_padding: int = 0, *,
                   flow: str, early: EarlySpec, bias=None, relu: bool = False, rows: int,
                   cell_bits: int, w_bits: int, in_bits: int, adc_bits: int | None = None,
                   bound: str = BOUNDS[0]) -> EarlyOutcome:
    """The tile's result of a layer under CompRRAE early termination (:mod:`red.early`).

    Every output is the sum of the crossbar MVMs of its terms (one per group, RED) or of
    every group (ZP, zeros included), plus the bias. After each plane ``n < in_bits`` of
    the output's step, its bounds are ``lo = bias + sum(partial results)`` and
    ``hi = lo + sum(group_bounds)`` over those groups (:func:`group_bounds`, each with its
    own input vector: a ZP group off the terms has a zero one; ``bound`` as there), and
    :func:`red.early.decide` applies. In RED mode an output with no term is fed by no
    group and never decided (it is the bias).

    With ``cin > rows`` the decisions are those of the last cin slice's pass (the last
    ``cin mod rows`` or ``rows`` channels, :func:`red.mapping.cin_slices`): its bounds
    add the exact contract sum of the slices before it (:func:`crossbar_deconv2d`), the
    partial sum that pass brings (:func:`red.early.deciding_pass`).

    ``flow`` is ``"red"`` or ``"zp"``; the other parameters are those of
    :func:`crossbar_deconv2d`.
    """
    x, w, L = _check_deconv_args(x, w, stride, padding, output_padding)
    x = check_signed("x", x, in_bits)
    w = check_signed("w", w, w_bits)
    adc_bits = _check_crossbar_params(rows, cell_bits, w_bits, in_bits, adc_bits)
    if flow not in ("red", "zp"):
        raise ConfigError(f"flow={flow!r} is invalid: must be red or zp")
    bias = np.zeros(L.cout, np.int64) if bias is None else _checked_bias(bias, L.cout)
    # The passes before the last cin slice's: their exact sum, the deciding pass's psum.
    r0 = cin_slices(L.cin, rows)[-1].start
    before = crossbar_deconv2d(x[:r0], w[:r0], stride, padding, output_padding, rows=rows,
                               cell_bits=cell_bits, w_bits=w_bits, in_bits=in_bits,
                               adc_bits=adc_bits) if r0 else 0
    x, w, L = x[r0:], w[r0:], replace(L, cin=L.cin - r0)
    B, S = in_bits, w_bits // cell_bits
    _check_exact("crossbar MVM", L.cin << (w_bits + in_bits))
    pixels = x.transpose(1, 2, 0).reshape(L.h * L.w, L.cin)
    planes_in = ((pixels & ((1 << B) - 1))[:, None, :] >> np.arange(B)[:, None]) & 1
    plane_weight = 1 << np.arange(B)
    plane_weight[-1] = -plane_weight[-1]                          # sign plane
    slice_weight = 1 << (cell_bits * np.arange(S))
    offset = (1 << (w_bits - 1)) * pixels.sum(axis=1)
    lo = np.zeros((B, L.cout, L.ho, L.wo), dtype=np.int64)         # after planes 1..B
    # Per plane n = 1..B-1: 2^r - 1 for the r planes to come, and the inputs' low bits.
    rest = (1 << (B - np.arange(1, B))) - 1                         # [B-1]
    low = np.stack([(pixels & ((1 << r) - 1)).sum(axis=1) for r in B - np.arange(1, B)])
    span_terms = np.zeros((B - 1, L.cout, L.ho, L.wo), dtype=np.int64)
    idle_terms = np.zeros_like(span_terms)      # ZP: the terms' groups with a zero input
    idle_all = np.zeros((B - 1, L.cout), dtype=np.int64)
    taps = np.zeros((L.ho, L.wo), dtype=np.int64)
    for kh, kw, rsel, csel, rows_o, cols_o in _kernel_pixels(L):
        cells = weight_slices(w[:, :, kh, kw], cell_bits=cell_bits, w_bits=w_bits)
        codes = _float_codes(planes_in, cells.reshape(L.cin, L.cout * S), adc_bits)
        values = (codes.reshape(-1, B, L.cout, S) @ slice_weight.astype(np.float64)
                  ).astype(np.int64)                               # [HW, B, Cout]
        # Planes most significant first: the partial result after n planes.
        partial = np.cumsum((values * plane_weight[None, :, None])[:, ::-1], axis=1)
        partial -= offset[:, None, None]
        partial = partial.reshape(L.h, L.w, B, L.cout)[rsel][:, csel]
        lo[:, :, rows_o, cols_o] += partial.transpose(2, 3, 0, 1)
        # Every input pixel's vector, then a zero vector (a ZP group off the terms).
        bounds = group_bounds(w[:, :, kh, kw], np.pad(low, ((0, 0), (0, 1))), rest,
                              cell_bits=cell_bits, w_bits=w_bits, adc_bits=adc_bits,
                              bound=bound)                         # [B-1, HW+1, Cout]
        idle = bounds[:, -1]
        span_terms[:, :, rows_o, cols_o] += bounds[:, :-1].reshape(
            B - 1, L.h, L.w, L.cout)[:, rsel][:, :, csel].transpose(0, 3, 1, 2)
        idle_terms[:, :, rows_o, cols_o] += idle[:, :, None, None]
        idle_all += idle
        taps[rows_o, cols_o] += 1
    lo += bias[None, :, None, None] + before
    if flow == "red":
        span, feeders = span_terms, taps
    else:
        # Every group is driven: the terms' with their pixels, the others with zeros.
        span = span_terms - idle_terms + idle_all[:, :, None, None]
        feeders = np.full((L.ho, L.wo), L.k * L.k, dtype=np.int64)
    _check_exact("early-termination bounds", _max_abs(span) * (1 << EPS_FRAC_BITS)
                 + _max_abs(lo) * (1 << EPS_FRAC_BITS))
    exact = lo[B - 1]
    fed = np.broadcast_to(feeders > 0, exact.shape)
    decided = np.zeros(exact.shape, dtype=bool)
    value = np.zeros(exact.shape, dtype=np.int64)
    planes = np.full(exact.shape, B, dtype=np.int64)
    if early.on:
        for n in range(1, B):
            now, now_value = decide(lo[n - 1], lo[n - 1] + span[n - 1], early, relu)
            now &= fed & ~decided
            value[now], planes[now] = now_value[now], n
            decided |= now
    y = np.where(decided, value, exact)
    if relu:
        y, exact = np.maximum(y, 0), np.maximum(exact, 0)
    return EarlyOutcome(y=y, exact=exact, decided=decided, planes=planes, feeders=feeders)
