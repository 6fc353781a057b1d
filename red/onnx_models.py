"""ONNX models built in code (``onnx.helper``) for ``red net``: a DCGAN-shaped
generator with seeded weights and FCN's fixed bilinear upscore layer.

Both are what a PyTorch user's ``torch.onnx.export`` of the same modules gives: NCHW,
``ConvTranspose`` weights ``[Cin][Cout][K][K]``, inference-form batch normalisation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dcgan_generator", "bilinear_filter", "bilinear_upscore"]

#: The opset the models declare.
OPSET = 17


def _tensor(name: str, array) -> object:
    from onnx import numpy_helper
    return numpy_helper.from_array(np.asarray(array), name)


def _model(nodes, inputs, outputs, initializers, name: str):
    import onnx
    from onnx import helper
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="red.onnx_models")
    onnx.checker.check_model(model)
    return model


def dcgan_generator(latent: int = 16, channels: tuple[int, ...] = (32, 16, 8, 3),
                    base: int = 4, seed: int = 0):
    """DCGAN's generator (Radford et al.), scaled: ``latent -> Gemm -> Reshape`` to
    ``channels[0] x base x base``, then per further channel count a ``ConvTranspose``
    (K4, s2, p1, no bias) with ``BatchNormalization`` and ``Relu``, the last one with
    ``Tanh`` instead. Weights are seeded normals (DCGAN's initialisation: std 0.02 for
    the convolutions, BN scale around 1), scaled so that activations stay in range."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(seed)
    f32 = lambda a: np.asarray(a, dtype=np.float32)            # noqa: E731
    c0 = channels[0]
    inits = [_tensor("proj_w", f32(rng.normal(0, 1 / np.sqrt(latent),
                                              (latent, c0 * base * base)))),
             _tensor("proj_b", f32(rng.normal(0, 0.1, c0 * base * base))),
             _tensor("shape", np.array([1, c0, base, base], dtype=np.int64))]
    nodes = [helper.make_node("Gemm", ["z", "proj_w", "proj_b"], ["proj"], name="project"),
             helper.make_node("Reshape", ["proj", "shape"], ["h0"], name="reshape"),
             helper.make_node("Relu", ["h0"], ["a0"], name="relu0")]
    tensor, size = "a0", base
    for n, (cin, cout) in enumerate(zip(channels, channels[1:]), start=1):
        last = n == len(channels) - 1
        inits.append(_tensor(f"w{n}", f32(rng.normal(0, 1.5 / np.sqrt(cin * 4), (cin, cout, 4, 4)))))
        nodes.append(helper.make_node("ConvTranspose", [tensor, f"w{n}"], [f"d{n}"],
                                      name=f"deconv{n}", strides=[2, 2], pads=[1, 1, 1, 1],
                                      kernel_shape=[4, 4]))
        size *= 2
        if last:
            nodes.append(helper.make_node("Tanh", [f"d{n}"], ["image"], name="tanh"))
            break
        bn = [f"bn{n}_{p}" for p in ("scale", "bias", "mean", "var")]
        inits += [_tensor(bn[0], f32(rng.normal(1.0, 0.02, cout))),
                  _tensor(bn[1], f32(rng.normal(0, 0.05, cout))),
                  _tensor(bn[2], f32(rng.normal(0, 0.05, cout))),
                  _tensor(bn[3], f32(rng.uniform(0.8, 1.2, cout)))]
        nodes += [helper.make_node("BatchNormalization", [f"d{n}", *bn], [f"b{n}"],
                                   name=f"bn{n}"),
                  helper.make_node("Relu", [f"b{n}"], [f"a{n}"], name=f"relu{n}")]
        tensor = f"a{n}"
    return _model(nodes, [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, latent])],
                  [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                 [1, channels[-1], size, size])],
                  inits, "dcgan_generator")


def bilinear_filter(k: int) -> np.ndarray:
    """Caffe FCN's ``upsample_filt``: the ``k x k`` bilinear kernel
    ``(1 - |i - c| / f) * (1 - |j - c| / f)``, ``f = ceil(k / 2)``."""
    f = (k + 1) // 2
    c = f - 1 if k % 2 == 1 else f - 0.5
    i = np.arange(k)
    line = 1 - np.abs(i - c) / f
    return np.outer(line, line)


def bilinear_upscore(channels: int, factor: int, h: int, w: int):
    """FCN's upscore layer: a ``ConvTranspose`` of kernel ``2 * factor``, stride
    ``factor``, padding ``factor // 2``, with the bilinear filter on the diagonal across
    channels (each channel upsampled on its own), input ``[1, channels, h, w]``."""
    from onnx import TensorProto, helper
    k = 2 * factor
    weight = np.zeros((channels, channels, k, k), dtype=np.float32)
    for c in range(channels):
        weight[c, c] = bilinear_filter(k)
    pad = factor // 2
    out_h, out_w = (h - 1) * factor - 2 * pad + k, (w - 1) * factor - 2 * pad + k
    node = helper.make_node("ConvTranspose", ["x", "upscore_w"], ["y"], name="upscore",
                            strides=[factor, factor], pads=[pad] * 4, kernel_shape=[k, k])
    return _model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                          [1, channels, h, w])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                 [1, channels, out_h, out_w])],
                  [_tensor("upscore_w", weight)], "bilinear_upscore")
