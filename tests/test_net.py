"""``red net``: ONNX graphs built with ``onnx.helper``, folded into tile stages and run
layer by layer on the RTL (both simulators), against an independent float
transposed convolution, the quantisation's error bound and every unsupported case."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from red import cli  # noqa: E402
from red.config import ConfigError, TileConfig  # noqa: E402
from red.net import quantise_weights, symmetric_limit  # noqa: E402
from red.onnx_graph import load_graph  # noqa: E402
from red.onnx_models import bilinear_filter, bilinear_upscore, dcgan_generator  # noqa: E402
from red.sim import SIMULATORS  # noqa: E402

#: 8-bit weights and inputs and a lossless ADC: the quantisation is the only error.
TILE = "rows=8,cols=16,kernel=3,w_bits=8,in_bits=8"
SEED = 5


def convt(x, w, s, p, op):
    """Float transposed convolution by its definition (scatter every input pixel through
    the kernel), one NCHW sample: an independent formulation."""
    _, cin, h, wd = x.shape
    cout, k = w.shape[1], w.shape[2]
    full = np.zeros((cout, (h - 1) * s + k + op, (wd - 1) * s + k + op))
    for ci in range(cin):
        for i in range(h):
            for j in range(wd):
                full[:, i * s:i * s + k, j * s:j * s + k] += x[0, ci, i, j] * w[ci]
    ho, wo = (h - 1) * s - 2 * p + k + op, (wd - 1) * s - 2 * p + k + op
    return full[None, :, p:p + ho, p:p + wo]


def _f32(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def _save(tmp_path, nodes, inputs, outputs, inits, name="m.onnx"):
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _io(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _deconv_model(tmp_path, rng, *, cin=3, cout=4, h=3, k=4, s=2, p=1, op=0, bias=True,
                  affine=True, relu=True, attrs=None, w_shape=None, name="m.onnx"):
    """ConvTranspose [+ BN, Mul, Add of per-channel constants] [+ Relu]."""
    w = rng.normal(0, 0.4, w_shape or (cin, cout, k, k))
    inits = [_f32("W", w)]
    inputs = ["x", "W"]
    if bias:
        inits.append(_f32("B", rng.normal(0, 0.2, cout)))
        inputs.append("B")
    attributes = {"strides": [s, s], "pads": [p] * 4, "output_padding": [op, op]}
    attributes.update(attrs or {})
    attributes = {key: value for key, value in attributes.items() if value is not None}
    nodes = [helper.make_node("ConvTranspose", inputs, ["t0"], name="deconv", **attributes)]
    tensor = "t0"
    if affine:
        inits += [_f32("g", rng.uniform(0.5, 1.5, cout)), _f32("b", rng.normal(0, 0.1, cout)),
                  _f32("m", rng.normal(0, 0.1, cout)), _f32("v", rng.uniform(0.5, 1.5, cout)),
                  _f32("scale", rng.uniform(-1.5, 1.5, (1, cout, 1, 1))),
                  _f32("shift", rng.normal(0, 0.3, (cout, 1, 1)))]
        nodes += [helper.make_node("BatchNormalization", ["t0", "g", "b", "m", "v"], ["t1"],
                                   name="bn", epsilon=1e-3),
                  helper.make_node("Mul", ["t1", "scale"], ["t2"], name="mul"),
                  helper.make_node("Add", ["shift", "t2"], ["t3"], name="add")]
        tensor = "t3"
    if relu:
        nodes.append(helper.make_node("Relu", [tensor], ["y"], name="relu"))
    else:
        nodes.append(helper.make_node("Identity", [tensor], ["y"], name="identity"))
    ho = (h - 1) * s - 2 * p + k + op
    path = _save(tmp_path, nodes, [_io("x", [1, cin, h, h])], [_io("y", [1, cout, ho, ho])],
                 inits, name)
    return path, w


def test_folding_equals_onnxruntime_on_an_independent_convolution(tmp_path):
    """BN, Mul, Add (either operand order) and Relu fold into one affine per channel:
    relu(convt(x, W_folded) + b_folded) equals onnxruntime's float output."""
    import onnxruntime
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    path, _ = _deconv_model(tmp_path, rng)
    graph = load_graph(path, TileConfig.parse(TILE))
    (stage,) = graph.stages
    assert stage.nodes == ("deconv", "bn", "mul", "add", "relu") and stage.relu
    assert graph.host_nodes == ["identity"] or graph.host_nodes == []
    x = rng.normal(0, 1, (1, 3, 3, 3)).astype(np.float32)
    ours = np.maximum(convt(x, stage.weight, 2, 1, 0) + stage.bias[None, :, None, None], 0)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {"x": x})
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_quantised_weights_stay_in_range_per_channel():
    w = np.random.default_rng(SEED).normal(0, 1, (3, 4, 2, 2))
    w[:, 2] = 0.0
    q, scales = quantise_weights(w, 8)
    assert np.abs(q).max() == symmetric_limit(8) and scales[2] == 1.0 and not q[:, 2].any()
    assert np.abs(q * scales[None, :, None, None] - w).max() <= scales.max() / 2 + 1e-12


def _net(tmp_path, model, *extra, sim="icarus"):
    out = tmp_path / "out"
    source = [] if "--input" in extra else ["--seed", str(SEED)]
    status = cli.main(["net", str(model), "--tile", TILE, "--sim", sim, *source, *extra,
                       "--out", str(out)])
    return status, out


def test_one_layer_is_within_the_quantisation_bound(tmp_path):
    """Lossless ADC: the only error is rounding x, w and the bias, so per output
    |y - y_float| <= convt(s_x/2, |W|) + convt(|x|, s_w/2) + convt(s_x/2, s_w/2) + s_x s_w/2."""
    rng = np.random.default_rng(SEED)
    path, _ = _deconv_model(tmp_path, rng, cin=5, cout=3, h=4, k=5, s=3, p=2, op=1,
                            affine=False, relu=False)
    status, out = _net(tmp_path, path)
    report = json.loads((out / "net.json").read_text())
    assert status == 0, report["problems"]
    (layer,) = report["layers"]
    assert layer["match"] and layer["cycles"]["total"] == layer["model"]["total_cycles"]
    x = np.random.default_rng(SEED).standard_normal((1, 5, 4, 4)).astype(np.float32)
    graph = load_graph(path, TileConfig.parse(TILE))
    w = graph.stages[0].weight
    s_x, s_w = layer["scales"]["x"], np.array(layer["scales"]["w"])
    half_w = np.broadcast_to((s_w / 2)[None, :, None, None], w.shape)
    bound = (convt(np.full_like(x, s_x / 2), np.abs(w), 3, 2, 1)
             + convt(np.abs(x), half_w, 3, 2, 1)
             + convt(np.full_like(x, s_x / 2), half_w, 3, 2, 1)
             + (s_x * s_w / 2)[None, :, None, None])
    y, y_float = np.load(out / "y.npy"), np.load(out / "y_float.npy")
    assert np.all(np.abs(y - y_float) <= bound * (1 + 1e-5) + 1e-6)
    assert np.abs(y - y_float).max() > 0            # the quantisation shows
    assert report["error_vs_float"]["relative_l2"] < 0.02


@pytest.mark.parametrize("sim", SIMULATORS)
def test_a_generator_runs_layer_after_layer_bit_exact(sim, tmp_path):
    """Gemm, Reshape, Relu on the host; three ConvTranspose + BN + ReLU (the first two
    larger than the tile: cin over 8 rows, K4 over K3) and Tanh; an image out."""
    model = tmp_path / "gen.onnx"
    onnx.save(dcgan_generator(latent=8, channels=(12, 6, 3), base=3, seed=SEED), str(model))
    status, out = _net(tmp_path, model, sim=sim)
    report = json.loads((out / "net.json").read_text())
    assert status == 0, report["problems"]
    assert [layer["name"] for layer in report["layers"]] == ["deconv1", "deconv2"]
    assert report["layers"][0]["nodes"] == ["deconv1", "bn1", "relu1"]
    assert report["layers"][0]["passes"] > 1
    for layer in report["layers"]:
        assert layer["match"] and layer["source"] == "rtl"
        assert layer["cycles"]["total"] == layer["model"]["total_cycles"]
    assert report["totals"]["cycles"] == sum(l["cycles"]["total"] for l in report["layers"])
    assert set(report["host_nodes"]) == {"project", "reshape", "relu0", "tanh"}
    y, y_float = np.load(out / "y.npy"), np.load(out / "y_float.npy")
    assert y.shape == y_float.shape == (1, 3, 12, 12)
    assert report["error_vs_float"]["relative_l2"] < 0.05 and "psnr" in report["error_vs_float"]
    assert (out / "picture.png").read_bytes()[:4] == b"\x89PNG"


def test_bilinear_upscore_interpolates(tmp_path):
    """FCN's fixed upscore (K4 s2) through the tile: the float model is bilinear
    interpolation (a constant image stays constant inside), and the RTL path follows."""
    assert np.allclose(bilinear_filter(4)[1], [0.1875, 0.5625, 0.5625, 0.1875])
    model = tmp_path / "up.onnx"
    onnx.save(bilinear_upscore(3, 2, 5, 5), str(model))
    x = np.full((1, 3, 5, 5), 0.5, dtype=np.float32)
    np.save(tmp_path / "x.npy", x[0])                       # the batch axis may be left out
    status, out = _net(tmp_path, model, "--input", str(tmp_path / "x.npy"))
    assert status == 0
    y_float = np.load(out / "y_float.npy")
    assert np.allclose(y_float[..., 1:-1, 1:-1], 0.5, atol=1e-6)
    assert np.abs(np.load(out / "y.npy") - y_float).max() < 0.01


def _refused(tmp_path, capsys, model, *flags):
    status, out = _net(tmp_path, model, *flags)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert not out.exists()
    return err[0]


@pytest.mark.parametrize("attrs, w_shape, message", [
    ({"group": 3}, (3, 4, 4, 4), "group=3"),
    ({"dilations": [2, 2]}, None, "dilations=[2, 2]"),
    ({"auto_pad": "SAME_UPPER", "pads": None, "output_padding": None}, None, "auto_pad"),
    ({"output_shape": [8, 8]}, None, "output_shape"),
    ({"strides": [2, 1]}, None, "the same value in both dimensions"),
    ({}, (3, 4, 4, 2), "the same value in both dimensions"),
    ({}, (3, 4, 65, 65), "over the tile's max_k=64"),
])
def test_conv_transposes_the_tile_cannot_take_are_refused(attrs, w_shape, message, tmp_path,
                                                          capsys):
    path, _ = _deconv_model(tmp_path, np.random.default_rng(SEED), bias=False, affine=False,
                            attrs=attrs, w_shape=w_shape)
    line = _refused(tmp_path, capsys, path)
    assert "node deconv (ConvTranspose)" in line and message in line


def test_a_3d_conv_transpose_and_an_unknown_operator_are_refused(tmp_path, capsys):
    w = np.zeros((2, 2, 3, 3, 3))
    path = _save(tmp_path, [helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="d3")],
                 [_io("x", [1, 2, 2, 2, 2])], [_io("y", [1, 2, 4, 4, 4])], [_f32("W", w)])
    assert "node d3 (ConvTranspose): a 3-D transposed convolution" in \
        _refused(tmp_path, capsys, path)
    nodes = [helper.make_node("ConvTranspose", ["x", "W"], ["t"], name="d"),
             helper.make_node("Frobnicate", ["t"], ["y"], name="odd", domain="com.example")]
    model = helper.make_model(
        helper.make_graph(nodes, "g", [_io("x", [1, 2, 2, 2])], [_io("y", [1, 2, 4, 4])],
                          [_f32("W", np.zeros((2, 2, 3, 3)))]),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    odd = tmp_path / "odd.onnx"
    onnx.save(model, str(odd))
    assert "node odd (Frobnicate)" in _refused(tmp_path, capsys, odd)


def test_bad_files_and_inputs_are_refused(tmp_path, capsys):
    bogus = tmp_path / "bogus.onnx"
    bogus.write_text("not a model")
    assert "not a valid ONNX model" in _refused(tmp_path, capsys, bogus)
    rng = np.random.default_rng(SEED)
    path, _ = _deconv_model(tmp_path, rng)
    np.save(tmp_path / "wrong.npy", np.zeros((1, 3, 4, 4), dtype=np.float32))
    assert "shape (1, 3, 4, 4)" in _refused(tmp_path, capsys, path, "--input",
                                            str(tmp_path / "wrong.npy"))
    np.save(tmp_path / "nan.npy", np.full((1, 3, 3, 3), np.nan, dtype=np.float32))
    assert "NaN" in _refused(tmp_path, capsys, path, "--input", str(tmp_path / "nan.npy"))
    with pytest.raises(ConfigError, match="no ConvTranspose"):
        load_graph(_save(tmp_path, [helper.make_node("Relu", ["x"], ["y"], name="r")],
                         [_io("x", [1, 2])], [_io("y", [1, 2])], [], "relu.onnx"),
                   TileConfig.parse(TILE))


def test_torch_export_agrees_when_torch_is_installed(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(SEED)
    net = torch.nn.Sequential(
        torch.nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, bias=False),
        torch.nn.BatchNorm2d(6), torch.nn.ReLU(),
        torch.nn.ConvTranspose2d(6, 3, 3, stride=2, padding=1, output_padding=1),
        torch.nn.Tanh()).eval()
    x = torch.randn(1, 4, 3, 3)
    model = tmp_path / "torch.onnx"
    torch.onnx.export(net, x, str(model))
    np.save(tmp_path / "x.npy", x.numpy())
    status, out = _net(tmp_path, model, "--input", str(tmp_path / "x.npy"))
    assert status == 0
    with torch.no_grad():
        expected = net(x).numpy()
    np.testing.assert_allclose(np.load(out / "y_float.npy"), expected, atol=1e-5)
    assert np.abs(np.load(out / "y.npy") - expected).max() < 0.05


def test_a_conv_transpose_inside_a_local_function_is_found(tmp_path):
    """Exporters may wrap modules in model-local functions: they are inlined first."""
    fn = helper.make_function(
        "local", "Block", ["x", "W"], ["y"],
        [helper.make_node("ConvTranspose", ["x", "W"], ["t"], strides=[2, 2]),
         helper.make_node("Relu", ["t"], ["y"])],
        opset_imports=[helper.make_opsetid("", 17)])
    graph = helper.make_graph([helper.make_node("Block", ["x", "W"], ["y"], domain="local",
                                                name="block")],
                              "g", [_io("x", [1, 2, 3, 3])], [_io("y", [1, 3, 7, 7])],
                              [_f32("W", np.ones((2, 3, 3, 3)))])
    model = helper.make_model(graph, functions=[fn],
                              opset_imports=[helper.make_opsetid("", 17),
                                             helper.make_opsetid("local", 1)])
    path = tmp_path / "fn.onnx"
    onnx.save(model, str(path))
    (stage,) = load_graph(path, TileConfig.parse(TILE)).stages
    assert stage.relu and stage.stride == 2 and stage.weight.shape == (2, 3, 3, 3)
