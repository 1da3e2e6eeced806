"""``torch.onnx.export``: the example models and the other convertible ops run in onnxruntime as in distgrad.

Each test exports a model, runs the file with onnxruntime and compares with distgrad's own forward pass,
at the traced batch size and at another one where the batch axis is dynamic.
"""
import io

import numpy as np
import pytest

import distgrad
from distgrad import nn
from distgrad.onnx import ExportError

import example_models

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def exported(model, x, **kw):
    buf = io.BytesIO()
    program = distgrad.onnx.export(model, (x,), buf, input_names=["x"], output_names=["y"], **kw)
    assert isinstance(program, distgrad.onnx.ONNXProgram)
    return program.model_proto, ort.InferenceSession(buf.getvalue())


def forward(model, x):
    with distgrad.no_grad():
        out = model(x)
    return (out[0] if isinstance(out, tuple) else out).numpy()


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm", "transformer"])
def test_each_example_model_runs_in_onnxruntime_with_a_dynamic_batch(kind):
    distgrad.manual_seed(0)
    model, (input_kind, shape) = example_models.build(kind, torch_side=False)
    model.eval()
    x = distgrad.randn(*shape) if input_kind == "float" else distgrad.randint(0, 20, shape)
    proto, sess = exported(model, x, dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["y"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    initializers = {t.name for t in proto.graph.initializer}
    assert set(dict(model.named_parameters())) <= initializers  # parameters keep their state_dict names
    for batch in (x, distgrad.cat([x, x[:2]], 0)):
        got = sess.run(None, {"x": batch.numpy()})[0]
        np.testing.assert_allclose(got, forward(model, batch), rtol=1e-5, atol=1e-5)


def test_a_static_export_runs_without_dynamic_axes_and_tied_weights_are_stored_once():
    model, _ = example_models.build("transformer", torch_side=False)
    model.eval()
    x = distgrad.randint(0, 20, (2, 8))
    proto, sess = exported(model, x)
    names = [t.name for t in proto.graph.initializer]
    assert names.count("tok.weight") + names.count("head.weight") == 1
    np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], forward(model, x), rtol=1e-5, atol=1e-5)


class _Mixed(nn.Module):
    """Ops beyond the examples: strided/dilated/grouped conv, ceil-mode pooling, norms, indexing, stack, softmax."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2)
        self.bn = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.norm = nn.LayerNorm(6)
        self.gelu = nn.GELU(approximate="tanh")

    def forward(self, x):
        h = self.pool(self.bn(self.conv(x)))            # (N, 6, 3, 3)
        h = self.norm(h.permute(0, 2, 3, 1))            # (N, 3, 3, 6)
        h = self.gelu(h)[:, 1:, ::2, None, :4]          # (N, 2, 2, 1, 4)
        h = distgrad.stack([h.sigmoid(), h.tanh() * 2 - 1], dim=1)
        return distgrad.log_softmax(h.flatten(1), dim=-1) + h.flatten(1).softmax(-1).sqrt()


def test_other_ops_convert_with_their_arguments():
    distgrad.manual_seed(1)
    model = _Mixed()
    model.bn.running_mean.normal_()
    model.bn.running_var.uniform_(0.5, 2.0)
    model.eval()
    x = distgrad.randn(2, 4, 11, 11)
    _, sess = exported(model, x, dynamic_axes={"x": [0], "y": [0]})
    for batch in (x, distgrad.randn(5, 4, 11, 11)):
        np.testing.assert_allclose(sess.run(None, {"x": batch.numpy()})[0], forward(model, batch),
                                   rtol=1e-5, atol=1e-6)


def test_an_op_without_a_conversion_is_named():
    class Cumulative(nn.Module):
        def forward(self, x):
            return distgrad.cumsum(x, dim=1)
    with pytest.raises(ExportError, match="no ONNX conversion for the op Cumsum"):
        exported(Cumulative(), distgrad.randn(2, 3))


def test_what_depends_on_a_dynamic_axis_in_a_way_onnx_cannot_hold_is_refused():
    model, _ = example_models.build("transformer", torch_side=False)
    model.eval()
    with pytest.raises(ExportError, match="depends on a dynamic axis"):  # positions and the causal mask
        exported(model, distgrad.randint(0, 20, (2, 6)), dynamic_axes={"x": {1: "time"}})
    model, _ = example_models.build("lstm", torch_side=False)
    model.eval()
    with pytest.raises(ExportError, match="runs different ops when a dynamic axis changes"):
        exported(model, distgrad.randint(0, 20, (2, 6)), dynamic_axes={"x": {1: "time"}})


def test_dropout_in_training_mode_is_refused_and_arguments_are_checked():
    class Attend(nn.Module):
        def forward(self, x):
            return distgrad.nn.functional.scaled_dot_product_attention(x, x, x, dropout_p=0.5)
    with pytest.raises(ExportError, match="with dropout"):
        exported(Attend(), distgrad.randn(1, 2, 3, 4))
    lin = nn.Linear(2, 2)
    with pytest.raises(NotImplementedError, match="opsets 13 to 17"):
        exported(lin, distgrad.randn(1, 2), opset_version=11)
    with pytest.raises(ValueError, match="dynamic_axes names 'z'"):
        exported(lin, distgrad.randn(1, 2), dynamic_axes={"z": [0]})
    with pytest.raises(NotImplementedError, match="training"):
        exported(lin, distgrad.randn(1, 2), training=1)


def test_export_takes_pytorchs_argument_names_and_the_alias_path():
    torch = pytest.importorskip("torch")
    import inspect
    ours = inspect.signature(distgrad.onnx.export).parameters
    theirs = inspect.signature(torch.onnx.export).parameters
    assert [n for n in ours if n != "unsupported"] == [n for n in theirs if n in ours]
    for n in ours:
        if n != "unsupported" and ours[n].default is not inspect.Parameter.empty:
            assert ours[n].default == theirs[n].default, n


def test_the_returned_program_saves_and_runs_as_pytorchs_does(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh()).eval()
    x = distgrad.randn(2, 3)
    program = distgrad.onnx.export(model, (x,), dynamic_axes={"input_0": [0], "output_0": [0]})
    path = tmp_path / "m.onnx"
    program.save(path)
    assert onnx.load(str(path)).graph.input[0].name == "input_0"
    (y,), batch = program(x), distgrad.randn(5, 3)
    assert isinstance(y, distgrad.Tensor)
    np.testing.assert_allclose(y.numpy(), forward(model, x), rtol=1e-6)
    np.testing.assert_allclose(program(batch)[0].numpy(), forward(model, batch), rtol=1e-6)
    program.release()
    assert "ONNXProgram(inputs=['input_0']" in repr(program)
    assert distgrad.onnx.export(model, (x,), io.BytesIO(), dynamo=False) is None
    with pytest.raises(ValueError, match="f .* is required"):
        distgrad.onnx.export(model, (x,), dynamo=False)
