"""Named deconvolution workloads (RED_TILE.md, "Evaluation workloads").

Layer shapes come from the models' own papers and reference code. Layer names are
``"<workload>.<layer>"``, e.g. ``"dcgan.deconv1"``.
"""

from __future__ import annotations

from .config import ConfigError, LayerSpec

__all__ = ["WORKLOADS", "get_workload"]


def _chain(workload: str, channels: tuple[int, ...], inputs: tuple[int, ...], *, k: int,
           s: int, p: int, op: int = 0, first: int = 1) -> tuple[LayerSpec, ...]:
    """Layers ``channels[i] -> channels[i+1]`` on square inputs ``inputs[i]``, named
    ``<workload>.deconv<first+i>``."""
    return tuple(
        LayerSpec(cin=cin, cout=cout, h=size, w=size, k=k, s=s, p=p, op=op,
                  name=f"{workload}.deconv{index}")
        for index, (cin, cout, size) in enumerate(zip(channels, channels[1:], inputs),
                                                  start=first))


def _fcn_upscore(workload: str, layer: str, size: int, k: int, s: int) -> LayerSpec:
    """A Caffe FCN ``Deconvolution`` layer on the 21 PASCAL VOC class scores.

    Caffe applies no padding inside the layer (``p=0``); a separate ``Crop`` layer
    trims the result.
    """
    return LayerSpec(cin=21, cout=21, h=size, w=size, k=k, s=s, p=0,
                     name=f"{workload}.{layer}")


# Caffe FCN reference nets (fcn.berkeleyvision.org, voc-fcn*s) on a 500x500 image:
# conv1_1 pads by 100 (500 -> 698); the five 2x2/2 poolings round up (Caffe pooling):
# 698 -> 349 -> 175 -> 88 -> 44 (pool4) -> 22 (pool5); fc6 is a 7x7 valid convolution,
# 22 -> 16, so the class score map is 16x16. A Caffe deconvolution gives (n-1)*s + k:
# * FCN-32s: upscore K64 s32 on 16x16 -> 544x544, cropped (offset 19) to 500x500.
# * FCN-16s: upscore2 K4 s2 on 16x16 -> 34x34, fused with the cropped pool4 scores;
#   upscore16 K32 s16 on 34x34 -> 560x560, cropped (offset 27) to 500x500.
# * FCN-8s: upscore2 as FCN-16s; upscore_pool4 K4 s2 on 34x34 -> 70x70, fused with the
#   cropped pool3 scores; upscore8 K16 s8 on 70x70 -> 568x568, cropped (offset 31).
_FCN8S = (
    _fcn_upscore("fcn8s", "upscore2", 16, k=4, s=2),
    _fcn_upscore("fcn8s", "upscore_pool4", 34, k=4, s=2),
    _fcn_upscore("fcn8s", "upscore8", 70, k=16, s=8),
)
_FCN16S = (
    _fcn_upscore("fcn16s", "upscore2", 16, k=4, s=2),
    _fcn_upscore("fcn16s", "upscore16", 34, k=32, s=16),
)
_FCN32S = (
    _fcn_upscore("fcn32s", "upscore", 16, k=64, s=32),
)

#: Workload name -> its deconvolution layers, in network order.
WORKLOADS: dict[str, tuple[LayerSpec, ...]] = {
    # Radford et al.: a dense projection gives 4x4x1024, then four K5 s2 p2 op1 layers.
    "dcgan": _chain("dcgan", (1024, 512, 256, 128, 3), (4, 8, 16, 32), k=5, s=2, p=2, op=1),
    # PyTorch examples/dcgan, ngf=64: 100 -> 512 on 1x1 (K4 s1 p0), then K4 s2 p1.
    "dcgan-pytorch": (
        _chain("dcgan-pytorch", (100, 512), (1,), k=4, s=1, p=0)
        + _chain("dcgan-pytorch", (512, 256, 128, 64, 3), (4, 8, 16, 32), k=4, s=2, p=1,
                 first=2)
    ),
    # SNGAN standard CNN generator for CIFAR-10: dense 128 -> 4x4x512, then K4 s2 p1.
    "sngan": _chain("sngan", (512, 256, 128, 64), (4, 8, 16), k=4, s=2, p=1),
    "fcn8s": _FCN8S,
    "fcn16s": _FCN16S,
    "fcn32s": _FCN32S,
    "fcn": _FCN8S + _FCN16S + _FCN32S,
}


def get_workload(name: str) -> tuple[LayerSpec, ...]:
    """The layers of workload ``name``.

    Raises
    ------
    ConfigError
        ``name`` is not a key of :data:`WORKLOADS`; the message lists the known names.
    """
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ConfigError(f"unknown workload {name!r}; known workloads: "
                          f"{', '.join(WORKLOADS)}") from None
