"""Differentiable collectives: gradients against the analytic answer on every rank.

Each rank weights the outputs with rank-dependent constants, so the expected
gradient is a sum over ranks every rank can compute itself.  In a world of one
process the collectives are identities, which gradcheck verifies end to end.
"""
import numpy as np
import pytest

import distgrad
import distgrad.comm as dist
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.comm import env
from distgrad.comm import differentiable as dnn

mpi = pytest.mark.mpi(min_size=2)
single = pytest.mark.skipif(env.launched_by_mpi(), reason="world-of-one test (runs without mpiexec)")


@pytest.fixture(autouse=True, scope="module")
def _world():
    dist.init_process_group(timeout=60)
    yield


def leaf(values):
    return distgrad.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


@single
def test_gradcheck_in_a_world_of_one():
    x = leaf([0.3, -1.2, 2.0])
    assert gradcheck(lambda t: dnn.all_reduce(t), (x,))
    assert gradcheck(lambda t: dnn.all_reduce(t, op=dist.ReduceOp.AVG), (x,))
    assert gradcheck(lambda t: dnn.all_reduce(t, op=dist.ReduceOp.MAX), (x,))
    assert gradcheck(lambda t: dnn.all_gather(t)[0] * 2, (x,))
    assert gradcheck(lambda t: dnn.broadcast(t, src=0), (x,))
    assert gradcheck(lambda t: dnn.reduce(t, dst=0), (x,))
    assert gradcheck(lambda t: dnn.reduce_scatter(distgrad.zeros(3), [t]), (x,))
    assert gradgradcheck(lambda t: dnn.all_reduce(t * t), (x,))


@single
def test_forward_returns_new_tensors_with_named_nodes():
    x = leaf([1.0, 2.0])
    y = dnn.all_reduce(x)
    assert y is not x and y.grad_fn.name() == "AllReduceBackward0"
    gathered = dnn.all_gather(x)
    assert isinstance(gathered, tuple) and len(gathered) == 1
    assert gathered[0].grad_fn.name() == "AllGatherBackward0"
    with pytest.raises(ValueError, match="input_list has 2 entries"):
        dnn.reduce_scatter(distgrad.zeros(2), [x, x])
    with pytest.raises(RuntimeError, match="PRODUCT"):
        dnn.all_reduce(x, op=dist.ReduceOp.PRODUCT).sum().backward()


@mpi
@pytest.mark.parametrize("op", [dist.ReduceOp.SUM, dist.ReduceOp.AVG], ids=lambda o: o.name)
def test_all_reduce_gradient_is_all_reduce_of_gradients(op):
    rank, size = dist.get_rank(), dist.get_world_size()
    x = leaf(np.arange(4.0) + rank)
    y = dnn.all_reduce(x, op=op)
    want_y = sum(np.arange(4.0) + r for r in range(size))
    if op == dist.ReduceOp.AVG:
        want_y = want_y / size
    np.testing.assert_allclose(y.detach().numpy(), want_y)
    (y * (rank + 1)).sum().backward()
    g = sum(r + 1 for r in range(size)) * (1.0 / size if op == dist.ReduceOp.AVG else 1.0)
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, g))


@mpi
def test_all_reduce_max_sends_the_gradient_to_the_maximum():
    rank, size = dist.get_rank(), dist.get_world_size()
    # Element 0's maximum is on the last rank; element 1 is tied on every rank.
    x = leaf([float(rank), 5.0])
    y = dnn.all_reduce(x, op=dist.ReduceOp.MAX)
    (y * (rank + 1)).sum().backward()
    total = sum(r + 1 for r in range(size))
    want0 = total if rank == size - 1 else 0.0
    np.testing.assert_allclose(x.grad.numpy(), [want0, total / size])


@mpi
def test_all_gather_gradient_is_reduce_scatter():
    rank, size = dist.get_rank(), dist.get_world_size()
    x = leaf(np.full(3, float(rank)))
    outs = dnn.all_gather(x)
    assert len(outs) == size
    for r in range(size):
        np.testing.assert_array_equal(outs[r].detach().numpy(), np.full(3, float(r)))
    # On rank q, piece j is weighted by (q + 1) * (j + 2): d/dx_i = sum_q (q + 1) * (i + 2).
    loss = sum(o.sum() * ((rank + 1) * (j + 2)) for j, o in enumerate(outs))
    loss.backward()
    want = sum(q + 1 for q in range(size)) * (rank + 2)
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, float(want)))


@mpi
def test_reduce_scatter_gradient_is_all_gather():
    rank, size = dist.get_rank(), dist.get_world_size()
    inputs = [leaf(np.full(2, float(rank + j))) for j in range(size)]
    out = dnn.reduce_scatter(distgrad.zeros(2, dtype=distgrad.float64), inputs)
    np.testing.assert_allclose(out.detach().numpy(), np.full(2, float(sum(q + rank for q in range(size)))))
    (out * (rank + 1)).sum().backward()
    for j in range(size):  # input j went to rank j, whose upstream gradient is j + 1
        np.testing.assert_allclose(inputs[j].grad.numpy(), np.full(2, float(j + 1)))


@mpi
def test_broadcast_and_reduce_gradients():
    rank, size = dist.get_rank(), dist.get_world_size()
    src = size - 1
    x = leaf([float(rank), 1.0])
    y = dnn.broadcast(x, src=src)
    np.testing.assert_array_equal(y.detach().numpy(), [float(src), 1.0])
    (y * (rank + 1)).sum().backward()
    total = sum(r + 1 for r in range(size))
    np.testing.assert_allclose(x.grad.numpy(), [total, total] if rank == src else [0.0, 0.0])
    z = leaf([float(rank + 1)])
    s = dnn.reduce(z, dst=0)
    if rank == 0:
        assert s.item() == total
    (s * 3.0).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [3.0])  # dst's gradient, broadcast to every rank


@mpi
def test_double_backward_through_all_reduce():
    rank, size = dist.get_rank(), dist.get_world_size()
    x = leaf([1.0 + rank])
    y = dnn.all_reduce(x * x)
    (g,) = distgrad.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [2.0 * (1.0 + rank) * size])
    # g = 2 x * all_reduce(ones): only the local factor depends on x.
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0 * size])
