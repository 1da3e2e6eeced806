"""Version counters: in-place ops bump ``_version``; views share it; backward refuses
a saved tensor that was changed after it was saved, naming the op and the versions;
in-place ops on leaves that require grad are refused outside no_grad."""
import numpy as np
import pytest

import distgrad


def leaf(values):
    return distgrad.tensor(values, requires_grad=True)


def test_inplace_ops_bump_the_version():
    t = distgrad.zeros(3)
    assert t._version == 0
    t.add_(1)
    t.mul_(2)
    assert t._version == 2
    t += 1
    t -= 1
    t *= 2
    t /= 2
    assert t._version == 6
    for op in (lambda: t.fill_(3.0), lambda: t.zero_(), lambda: t.copy_(distgrad.ones(3)),
               lambda: t.clamp_(0, 1), lambda: t.uniform_(), lambda: t.normal_()):
        before = t._version
        op()
        assert t._version == before + 1


def test_out_of_place_ops_start_new_counters():
    t = distgrad.ones(3)
    t.add_(1)
    assert (t + 1)._version == 0
    assert t.clone()._version == 0


def test_views_share_the_version_counter():
    t = distgrad.zeros(2, 3)
    v = t.view(6)
    r = t.reshape(3, 2)
    p = t.t()
    v.add_(1)
    assert t._version == v._version == r._version == p._version == 1
    p.mul_(2)
    assert t._version == 2
    assert t.tolist() == [[2.0] * 3] * 2


def test_modified_saved_output_raises_naming_op_and_versions():
    x = leaf([1.0, 2.0, 3.0])
    y = (x * 1).exp()  # exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError) as err:
        y.sum().backward()
    msg = str(err.value)
    assert "one of the variables needed for gradient computation has been modified by an inplace operation" in msg
    assert "[distgrad.float32 [3]]" in msg
    assert "output 0 of Exp" in msg
    assert "is at version 1; expected version 0 instead" in msg


def test_modified_saved_input_raises():
    x = leaf([1.0, 2.0, 3.0])
    q = x * 1
    r = q.sin()  # sin saves its input
    q.mul_(2)
    q.mul_(2)
    with pytest.raises(RuntimeError, match=r"output 0 of Mul.*is at version 2; expected version 0 instead"):
        r.sum().backward()


def test_modified_saved_leaf_raises():
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    with distgrad.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*is at version 1; expected version 0"):
        y.backward()


def test_inplace_change_of_a_tensor_that_was_not_saved_is_fine():
    x = leaf([1.0, 2.0, 3.0])
    q = x * 1
    r = q * 3  # a constant factor: only the constant is needed for d/dq
    s = q + 3  # add saves nothing
    q.mul_(2)
    (r + s).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0]  # 3 + 1, then q.mul_ doubled nothing upstream


def test_inplace_before_use_is_fine():
    x = leaf([1.0, 2.0])
    q = x * 2
    q.add_(1)  # changed before anyone saved it
    y = q.exp()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([3.0, 5.0]), rtol=1e-6)


def test_inplace_on_leaf_that_requires_grad():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.mul_(2)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w += 1
    assert w.tolist() == [1.0, 2.0] and w._version == 0  # the failed ops changed nothing
    with distgrad.no_grad():
        w.add_(1)
        w.mul_(2)
    assert w.tolist() == [4.0, 6.0] and w._version == 2
    assert w.requires_grad and w.is_leaf


def test_inplace_on_non_leaf_is_recorded():
    x = leaf([1.0, 2.0])
    q = x * 2
    q.mul_(3)
    assert q.grad_fn.name() == "MulBackward0" and q._version == 1
    q.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    x2 = leaf([1.0, 2.0])
    e = x2 * 2
    e.exp_()
    e.sum().backward()
    np.testing.assert_allclose(x2.grad.numpy(), 2 * np.exp([2.0, 4.0]), rtol=1e-6)


def test_inplace_with_grad_requiring_operand_makes_result_require_grad():
    c = distgrad.zeros(2)
    w = leaf([1.0, 2.0])
    c.add_(w * 3)
    assert c.requires_grad and not c.is_leaf
    c.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_version_error_matches_torch_gist():
    torch = pytest.importorskip("torch")
    msgs = []
    for mod in (torch, distgrad):
        x = mod.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = (x * 1).exp()
        y.add_(1)
        with pytest.raises(RuntimeError) as err:
            y.sum().backward()
        msgs.append(str(err.value))
    for part in ("modified by an inplace operation", "[3]]", "is at version 1; expected version 0 instead"):
        assert part in msgs[0] and part in msgs[1]
