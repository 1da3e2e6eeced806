"""The names PyTorch programs touch in passing, against PyTorch itself where it is installed:
torch.nn.modules.<file> paths, torch.backends, torch.accelerator, compile/precision/determinism/threads, __format__."""
import inspect
import warnings

import pytest

import distgrad
from distgrad.nn import modules


def test_every_module_path_holds_distgrads_own_class():
    for file, (_, names) in modules.FILES.items():
        mod = getattr(modules, file)
        for name in names:
            if hasattr(distgrad.nn, name):  # NonDynamicallyQuantizableLinear lives in modules.linear only, as in PyTorch
                assert getattr(distgrad.nn, name) is getattr(mod, name), (file, name)
            assert getattr(modules, name) is getattr(mod, name)
            assert isinstance(getattr(mod, name), type) and getattr(mod, name).__name__ == name


def test_module_paths_match_pytorchs_files():
    torch = pytest.importorskip("torch")
    for file in modules.FILES:
        theirs = getattr(torch.nn.modules, file)
        ours = getattr(modules, file)
        for name, obj in vars(theirs).items():
            if isinstance(obj, type) and obj.__module__ == theirs.__name__ and not name.startswith("_"):
                if hasattr(distgrad.nn, name) or name == "NonDynamicallyQuantizableLinear":
                    assert getattr(ours, name).__name__ == name, (file, name)  # present where PyTorch has it
                else:
                    with pytest.raises(AttributeError, match=f"does not provide torch.nn.modules.{file}.{name} yet"):
                        getattr(ours, name)
    for name in dir(distgrad.nn):  # each distgrad layer that PyTorch files somewhere is filed there too
        obj = getattr(torch.nn, name, None)
        if isinstance(obj, type) and obj.__module__.startswith("torch.nn.modules."):
            file = obj.__module__.rsplit(".", 1)[1]
            assert getattr(getattr(modules, file), name) is getattr(distgrad.nn, name), (file, name)


def test_backends_flags_and_queries_match_pytorch_cpu():
    torch = pytest.importorskip("torch")
    tb, db = torch.backends, distgrad.backends
    for flag in ("allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction"):
        assert getattr(db.cuda.matmul, flag) == getattr(tb.cuda.matmul, flag)
    for flag in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(db.cudnn, flag) == getattr(tb.cudnn, flag)
    assert (db.cudnn.is_available(), db.cudnn.version()) == (tb.cudnn.is_available(), tb.cudnn.version())
    assert (db.mps.is_available(), db.mps.is_built()) == (tb.mps.is_available(), tb.mps.is_built())
    assert db.cuda.is_built() == tb.cuda.is_built()
    assert db.cpu.get_cpu_capability() == tb.cpu.get_cpu_capability()
    for mod in (db, tb):
        with pytest.raises(AttributeError, match="Unknown attribute tf32"):
            mod.cuda.matmul.tf32 = True
    old = db.cuda.matmul.allow_tf32
    db.cuda.matmul.allow_tf32 = True
    assert db.cuda.matmul.allow_tf32 is True
    db.cuda.matmul.allow_tf32 = old


def test_accelerator_answers_as_pytorch_without_one():
    torch = pytest.importorskip("torch")
    if torch.accelerator.is_available() or distgrad.cuda.is_available():
        pytest.skip("compares the answers of a machine without an accelerator")
    for name in ("is_available", "current_accelerator", "device_count"):
        assert getattr(distgrad.accelerator, name)() == getattr(torch.accelerator, name)()
    for name in ("current_device_index", "synchronize"):
        for mod in (distgrad.accelerator, torch.accelerator):
            with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
                getattr(mod, name)()


def test_compile_returns_the_model_unchanged_in_every_form():
    model = distgrad.nn.Linear(2, 2)
    assert distgrad.compile(model) is model and distgrad.compile(model, backend="eager", mode="max-autotune") is model
    assert distgrad.compile()(model) is model and model.compile() is None

    @distgrad.compile
    def f(x):
        return x * 2

    @distgrad.compile(fullgraph=True)
    def g(x):
        return x * 3
    assert f(2) == 4 and g(2) == 6
    with pytest.raises(RuntimeError, match="Either mode or options"):
        distgrad.compile(model, mode="default", options={})


def test_settings_validate_as_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (torch, distgrad):
        assert lib.get_float32_matmul_precision() == "highest"
        lib.set_float32_matmul_precision("medium")
        assert lib.get_float32_matmul_precision() == "medium"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.set_float32_matmul_precision("bad")
        assert any("is not one of 'highest', 'high', or 'medium'" in str(w.message) for w in caught)
        assert lib.get_float32_matmul_precision() == "medium"
        lib.set_float32_matmul_precision("highest")
        with pytest.raises(TypeError, match="must be bool, not str"):
            lib.use_deterministic_algorithms("yes")
        lib.use_deterministic_algorithms(True, warn_only=True)
        assert lib.are_deterministic_algorithms_enabled() and lib.is_deterministic_algorithms_warn_only_enabled()
        lib.use_deterministic_algorithms(False)
        assert not lib.are_deterministic_algorithms_enabled()
        with pytest.raises(RuntimeError, match="set_num_threads expects a positive integer"):
            lib.set_num_threads(0)
        assert lib.get_num_interop_threads() >= 1
    for name in ("compile", "use_deterministic_algorithms", "set_float32_matmul_precision"):
        ours, theirs = inspect.signature(getattr(distgrad, name)), inspect.signature(getattr(torch, name))
        assert list(ours.parameters)[:2] == list(theirs.parameters)[:2]


def test_set_num_threads_sets_the_blas_pool():
    n = distgrad.get_num_threads()
    try:
        distgrad.set_num_threads(1)
        assert distgrad.get_num_threads() == 1
    finally:
        distgrad.set_num_threads(n)
    assert distgrad.get_num_threads() == n


@pytest.mark.parametrize("value,spec", [(3.14159, ".2f"), (2.0, "+.2f"), (3, "d"), (3, ">5"), (True, ""),
                                        (1.5, "")])
def test_format_of_a_0d_tensor_is_its_numbers(value, spec):
    torch = pytest.importorskip("torch")
    assert format(distgrad.tensor(value), spec) == format(torch.tensor(value), spec)


def test_format_of_other_tensors_is_objects():
    torch = pytest.importorskip("torch")
    assert format(distgrad.ones(2), "") == str(distgrad.ones(2))
    for lib in (torch, distgrad):
        with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
            format(lib.ones(2), ".2f")
    with pytest.raises(TypeError):  # PyTorch formats only plain Tensors as numbers, not a 0-d Parameter
        format(torch.nn.Parameter(torch.tensor(1.0)), ".1f")
    with pytest.raises(TypeError):
        format(distgrad.nn.Parameter(distgrad.tensor(1.0)), ".1f")


def test_bfloat16_is_named_as_pytorch_has_it_and_refuses_tensors_clearly():
    torch = pytest.importorskip("torch")
    bf = distgrad.bfloat16
    for attr in ("is_floating_point", "is_signed", "itemsize", "is_complex"):
        assert getattr(bf, attr) == getattr(torch.bfloat16, attr), attr
    assert repr(bf) == "distgrad.bfloat16" and bf != distgrad.float16 and {bf: 1}[distgrad.bfloat16] == 1
    table = {"float32": distgrad.float32, "bfloat16": distgrad.bfloat16, "float16": distgrad.float16}
    assert table["bfloat16"] is bf  # nanoGPT's ptdtype table
    assert distgrad.cuda.is_bf16_supported() is torch.cuda.is_bf16_supported() is False
    for make in (lambda: distgrad.zeros(2, dtype=bf), lambda: distgrad.ones(2).to(bf),
                 lambda: distgrad.set_default_dtype(bf), lambda: distgrad.promote_types(bf, distgrad.float32)):
        with pytest.raises(NotImplementedError, match="no bfloat16 tensors yet"):
            make()
    assert distgrad.get_default_dtype() is distgrad.float32


def test_a_bfloat16_checkpoint_is_refused_by_name():
    torch = pytest.importorskip("torch")
    import io
    import pickle
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2, dtype=torch.bfloat16), "dtype": torch.bfloat16}, buf)
    with pytest.raises(pickle.UnpicklingError, match="no bfloat16 tensors yet"):
        distgrad.load(io.BytesIO(buf.getvalue()))
    buf = io.BytesIO()
    torch.save({"dtype": torch.bfloat16}, buf)
    assert distgrad.load(io.BytesIO(buf.getvalue()))["dtype"] is distgrad.bfloat16
