"""Data layouts shared by the tile's blocks and its testbenches (one definition each)."""

from amaranth.hdl import C, Value, signed
from amaranth.lib import data, enum

from red.config import TileConfig, unsigned_width
from red.early import EARLY_MODES, EPS_FRAC_BITS, EarlySpec
from red.modes import RTL_MODES

__all__ = ["require_tile_config", "ModeCode", "MODE_RED", "MODE_ZP", "MODE_PF", "runs",
           "pixel_layout",
           "weight_beat_layout", "weight_beats", "buffered_pixel_layout", "MODE_CODES",
           "layer_fields", "geometry_layout", "geometry_fields", "out_pixel_layout",
           "merged_pixel_layout", "out_beat_layout", "layer_layout", "step_meta_layout"]

def require_tile_config(config) -> TileConfig:
    """Return ``config`` if it is a :class:`TileConfig`; raise a clear TypeError if not."""
    if not isinstance(config, TileConfig):
        raise TypeError(f"config must be a TileConfig, not {config!r}")
    return config


class ModeCode(enum.Enum, shape=2):
    """The ``mode`` field of :func:`layer_layout`: the data flow of a pass, one code per
    :data:`red.modes.RTL_MODES` name."""

    #: Pixel-wise mapping with zero skipping: one step per output block.
    RED = 0
    #: The zero-insertion baseline on the same groups: one step per output pixel.
    ZP = 1
    #: The padding-free baseline: one step per input pixel, results overlap-added.
    PF = 2


MODE_RED = ModeCode.RED
MODE_ZP = ModeCode.ZP
MODE_PF = ModeCode.PF

#: The :class:`ModeCode` of each data flow the tile runs, by its :mod:`red.modes` name.
MODE_CODES = {name: ModeCode[name.upper()] for name in RTL_MODES}
assert set(MODE_CODES.values()) == set(ModeCode), "a mode code without a data flow"


def runs(config: TileConfig, mode, name: str) -> Value:
    """Whether a pass whose ``mode`` field is ``mode`` runs data flow ``name``: that
    comparison where the tile has several data flows, else a constant
    (:attr:`TileConfig.modes`), so that a tile holds none of the logic of the data
    flows it was generated without."""
    if name not in config.modes:
        return C(0, 1)
    if config.modes == (name,):
        return C(1, 1)
    return mode == MODE_CODES[name]


def pixel_layout(config: TileConfig) -> data.ArrayLayout:
    """One raw input pixel: ``rows`` signed ``in_bits`` channels (channels >= cin are 0)."""
    return data.ArrayLayout(signed(config.in_bits), config.rows)


def buffered_pixel_layout(config: TileConfig) -> data.StructLayout:
    """A pixel as the line buffer holds it: the channels and their sum over the layer's
    ``cin`` channels (computed once, when the pixel is written)."""
    return data.StructLayout({"x": pixel_layout(config), "x_sum": signed(config.x_sum_width)})


def weight_beat_layout(config: TileConfig) -> data.ArrayLayout:
    """One weight beat: the weights of one input channel ``ci`` for every group.

    Element ``[g][co]`` is ``w[ci][co][kh][kw]`` for group ``g = kh*kernel + kw``;
    output channels ``>= cout`` and kernel pixels outside the layer's ``k x k`` are 0.
    A beat programs crossbar row ``ci`` of every group in one cycle.
    """
    return data.ArrayLayout(data.ArrayLayout(signed(config.w_bits), config.logical_cols),
                            config.groups)


def weight_beats(config: TileConfig, w):
    """A layer's weights ``w[cin][cout][k][k]`` as the ``[cin][groups][logical_cols]``
    values of its :func:`weight_beat_layout` beats (zeros where the layer is smaller)."""
    import numpy as np
    cin, cout, k, _ = w.shape
    beats = np.zeros((cin, config.kernel, config.kernel, config.logical_cols), dtype=np.int64)
    beats[:, :k, :k, :cout] = np.asarray(w, dtype=np.int64).transpose(0, 2, 3, 1)
    return beats.reshape(cin, config.groups, config.logical_cols)


def out_pixel_layout(config: TileConfig) -> data.ArrayLayout:
    """One output pixel: ``logical_cols`` signed ``out_width`` channels (>= cout are 0),
    wide enough for the sum over every pass of a layer."""
    return data.ArrayLayout(signed(config.out_width), config.logical_cols)


def merged_pixel_layout(config: TileConfig) -> data.ArrayLayout:
    """One step's output pixel as the output banks hold it: ``logical_cols`` signed
    ``step_width`` channels (merged group results plus the bias, or a decided value)."""
    return data.ArrayLayout(signed(config.step_width), config.logical_cols)


def out_beat_layout(config: TileConfig) -> data.StructLayout:
    """One output beat: up to ``out_pixels`` consecutive pixels of one output row.

    ``count`` pixels are valid (lanes ``0 .. count-1``, in raster order); the rest are 0.
    """
    return data.StructLayout({
        "pixels": data.ArrayLayout(out_pixel_layout(config), config.out_pixels),
        "count": unsigned_width(config.out_pixels),
    })


def layer_layout(config: TileConfig) -> data.StructLayout:
    """The runtime configuration of one pass (see :mod:`red.mapping`): the channels of
    its slices (``cin <= rows``, ``cout <= logical_cols``), the layer's input size,
    kernel, stride, padding and output padding (:class:`red.config.LayerSpec`), the data
    flow, the fold ``(kh0, kw0)``, whether the pass adds the partial-sum input, and the
    output stage: the bias of the pass's output channels and whether it is added
    (``bias_en``: the first pass of a cout slice), ReLU (the last pass of a cout slice)
    and early termination (``early``, a :data:`red.early.EARLY_MODES` index, and
    ``eps``, :class:`red.early.EarlySpec`); ``skip``: the groups whose weight block is
    empty in this pass (:attr:`red.mapping.Pass.empty`), gated for the whole pass."""
    return data.StructLayout({
        "cin": unsigned_width(config.rows),
        "cout": unsigned_width(config.logical_cols),
        "h": unsigned_width(config.max_in),
        "w": unsigned_width(config.max_in),
        "k": unsigned_width(config.max_k),
        "s": unsigned_width(config.max_stride),
        "p": unsigned_width(config.max_k - 1),
        "op": unsigned_width(config.max_stride - 1),
        "mode": ModeCode,
        "kh0": unsigned_width(config.max_k - 1),
        "kw0": unsigned_width(config.max_k - 1),
        "accumulate": 1,
        "bias": data.ArrayLayout(signed(config.bias_width), config.logical_cols),
        "bias_en": 1,
        "relu": 1,
        "early": unsigned_width(len(EARLY_MODES) - 1),
        "eps": EPS_FRAC_BITS,
        "skip": config.groups,
        "geometry": geometry_layout(config),
    })


def geometry_layout(config: TileConfig) -> data.StructLayout:
    """What the host derives from a pass's layer and fold so that the tile never divides.

    Every value is a function of the layer (:class:`red.config.LayerSpec`) and the fold
    ``(kh0, kw0)`` alone, computed once per pass by :func:`geometry_fields` and carried
    in the ``geometry`` field of :func:`layer_layout`. Per axis (``h`` shown):

    ``ho``
        Output height ``(h-1)*s - 2p + k + op``;
    ``outputs``
        Output pixels ``Ho * Wo``;
    ``nb_h``
        Output blocks ``floor((Ho-1+p)/s) - floor(p/s) + 1``;
    ``q0``
        First block ``floor(p/s)``; ``r0``: its first phase ``p mod s``;
    ``jmin_h``
        The fold's smallest input offset ``floor(kh0/s)``; ``rot_h``: the phase of its
        first kernel row, ``kh0 mod s``.

    In PF mode the steps walk the input pixels, so ``nb_h = h``, ``q0 = r0 = 0`` and
    ``jmin_h = 0`` (every group reads the step's own pixel); ``pf_base_h = kh0 - p``
    (signed) is the uncropped map's row that group row 0 of input row 0 adds into.
    """
    out = unsigned_width(config.max_out)
    blocks = unsigned_width(config.max_blocks)
    offset = unsigned_width(config.max_k - 1)
    phase = unsigned_width(config.max_stride - 1)
    return data.StructLayout({
        "ho": out, "wo": out,
        "outputs": unsigned_width(config.max_out ** 2),
        "nb_h": blocks, "nb_w": blocks,
        "q0": offset,
        "r0": phase,
        "jmin_h": offset, "jmin_w": offset,
        "rot_h": phase, "rot_w": phase,
        "pf_base_h": signed(offset + 1), "pf_base_w": signed(offset + 1),
    })


def geometry_fields(layer, kh0: int = 0, kw0: int = 0, mode: str = "red") -> dict:
    """Field values of :func:`geometry_layout` for ``layer`` (a
    :class:`red.config.LayerSpec`) with the fold ``(kh0, kw0)``, in ``mode``."""
    s = layer.s
    fields = {"ho": layer.ho, "wo": layer.wo, "outputs": layer.ho * layer.wo,
              "nb_h": layer.nb_h, "nb_w": layer.nb_w, "q0": layer.p // s, "r0": layer.p % s,
              "jmin_h": kh0 // s, "jmin_w": kw0 // s, "rot_h": kh0 % s, "rot_w": kw0 % s,
              "pf_base_h": kh0 - layer.p, "pf_base_w": kw0 - layer.p}
    if mode == "pf":
        fields.update(nb_h=layer.h, nb_w=layer.w, q0=0, r0=0, jmin_h=0, jmin_w=0)
    return fields


def layer_fields(layer, mode: str, kh0: int = 0, kw0: int = 0,
                 accumulate: bool = False, bias=None, relu: bool = False,
                 early: EarlySpec = EarlySpec(), skip=()) -> dict:
    """Field values of :func:`layer_layout` that run ``layer`` (a
    :class:`red.config.LayerSpec`, with the pass's channel counts) in ``mode`` (a key of
    :data:`MODE_CODES`) with the fold ``(kh0, kw0)``; ``bias`` (the pass's channels,
    ``None``: not added in this pass), ``relu`` and ``early`` as this pass applies them,
    ``skip`` the empty groups (a bool per group)."""
    return {"cin": layer.cin, "cout": layer.cout, "h": layer.h, "w": layer.w, "k": layer.k,
            "s": layer.s, "p": layer.p, "op": layer.op, "mode": MODE_CODES[mode],
            "kh0": kh0, "kw0": kw0, "accumulate": int(accumulate),
            "bias": [] if bias is None else [int(b) for b in bias],
            "bias_en": int(bias is not None), "relu": int(relu), "early": early.code,
            "eps": early.eps_q, "skip": sum(int(bool(e)) << g for g, e in enumerate(skip)),
            "geometry": geometry_fields(layer, kh0, kw0, mode)}


def step_meta_layout(config: TileConfig) -> data.StructLayout:
    """What the merge must know about a step whose group results it receives.

    ``row``: block row (RED) or output row (ZP), counted from 0; ``idx``/``bank``: the
    output-bank word and (ZP) bank column the step's pixels go to; ``last``: last step
    of its row; ``row_ok``/``col_ok``: which phases land inside the output (RED);
    ``live``: groups that were not gated.
    """
    return data.StructLayout({
        "row": unsigned_width(max(config.max_blocks, config.max_out)),
        "idx": unsigned_width(config.bank_words - 1),
        "bank": unsigned_width(config.slot_banks - 1),
        "last": 1,
        "row_ok": config.max_stride,
        "col_ok": config.max_stride,
        "live": config.groups,
    })
