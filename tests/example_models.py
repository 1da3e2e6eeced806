"""The example programs' models, built twice: with distgrad, and with PyTorch from the same source.

The examples are PyTorch scripts written with ``import distgrad as torch``; :func:`load`
executes an example's source with every ``distgrad`` import answered by the matching
``torch`` module, so the PyTorch model is built by the very code the example runs, not
by a copy of it.  Used by the checkpoint tests: a state dict PyTorch saves for each
example model must load into distgrad's and give PyTorch's outputs.
"""
import builtins
import importlib
import pathlib
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name, torch_side):
    """The namespace of ``examples/<name>.py``, run with distgrad (``torch_side=False``) or PyTorch."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    if not torch_side:
        return vars(importlib.import_module(name))
    real_import = builtins.__import__

    def to_torch(module, globals=None, locals=None, fromlist=(), level=0):
        if module == "distgrad" or module.startswith("distgrad."):
            return real_import("torch" + module[len("distgrad"):], globals, locals, fromlist, level)
        return real_import(module, globals, locals, fromlist, level)

    path = EXAMPLES / f"{name}.py"
    namespace = {"__name__": f"torch_{name}", "__file__": str(path),
                 "__builtins__": {**vars(builtins), "__import__": to_torch}}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def build(kind, torch_side):
    """One example model (``mlp``, ``cnn``, ``lstm``, ``transformer``), small, and an input batch for it."""
    if kind in ("mlp", "cnn"):
        model = load("train_digits", torch_side)["build_model"](kind)
        return model, ("float", (5, 1, 8, 8))
    if kind == "lstm":
        model = load("char_lstm", torch_side)["CharLSTM"](vocab=20, hidden=16, layers=2, dropout=0.0)
        return model, ("tokens", (3, 7))
    model = load("transformer_lm", torch_side)["TinyGPT"](vocab=20, seq_len=8, d_model=16, heads=2, layers=2,
                                                         dropout=0.0)
    return model, ("tokens", (3, 8))
