"""SyncBatchNorm: N ranks on shards compute what BatchNorm computes on the concatenated batch.

Outputs (each rank's shard), running statistics, the input gradient (each
rank's shard) and the weight/bias gradients (summed over ranks) are compared
with a plain BatchNorm run on the whole batch, in float64; also with uneven
shards, inside DDP training, in eval mode (no communication) and in a world of
one (plain BatchNorm, gradcheck of the synchronised path).
"""
import numpy as np
import pytest

import distgrad
import distgrad.distributed as dist
from distgrad import nn
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.comm import env
from distgrad.comm.world import default_group
from distgrad.comm.ddp.sync_batchnorm import sync_batch_norm
from distgrad.nn.parallel import DistributedDataParallel as DDP

mpi = pytest.mark.mpi(min_size=2)
single = pytest.mark.skipif(env.launched_by_mpi(), reason="world-of-one test (runs without mpiexec)")


@pytest.fixture(autouse=True, scope="module")
def _world():
    dist.init_process_group(timeout=60)
    yield


def rank_size():
    return dist.get_rank(), dist.get_world_size()


def counts(size, uneven):
    return [r + 2 for r in range(size)] if uneven else [4] * size


def full_batch(shape_rest, sizes, seed=5):
    g = np.random.default_rng(seed)
    x = g.standard_normal((sum(sizes),) + shape_rest) * 3.0 + 1.5
    w = g.standard_normal(x.shape)
    return x, w


def piece(a, sizes, rank):
    start = sum(sizes[:rank])
    return a[start:start + sizes[rank]]


def all_sum(array):
    t = distgrad.tensor(np.ascontiguousarray(array))
    dist.all_reduce(t)
    return t.numpy()


def make_pair(c, momentum=0.1, affine=True):
    ref = nn.BatchNorm2d(c, momentum=momentum, affine=affine).double()
    sbn = nn.SyncBatchNorm(c, momentum=momentum, affine=affine).double()
    if affine:
        g = np.random.default_rng(9)
        with distgrad.no_grad():
            ref.weight.copy_(distgrad.tensor(g.standard_normal(c)))
            ref.bias.copy_(distgrad.tensor(g.standard_normal(c)))
            sbn.weight.copy_(ref.weight)
            sbn.bias.copy_(ref.bias)
    return ref, sbn


@mpi
@pytest.mark.parametrize("uneven", [False, True], ids=["even", "uneven"])
@pytest.mark.parametrize("rest", [(3,), (3, 2, 5)], ids=["NC", "NCHW"])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_sync_batchnorm_equals_batchnorm_on_the_concatenated_batch(uneven, rest, momentum):
    rank, size = rank_size()
    sizes = counts(size, uneven)
    c = rest[0]
    ref, sbn = make_pair(c, momentum)
    if len(rest) == 1:
        ref = nn.BatchNorm1d(c, momentum=momentum).double()
        ref.load_state_dict(sbn.state_dict())
    for step in range(2):
        x, w = full_batch(rest, sizes, seed=step)
        xs = distgrad.tensor(piece(x, sizes, rank), requires_grad=True)
        xf = distgrad.tensor(x, requires_grad=True)
        ys = sbn(xs)
        yf = ref(xf)
        np.testing.assert_allclose(ys.detach().numpy(), piece(yf.detach().numpy(), sizes, rank), rtol=1e-11,
                                   atol=1e-12)
        (ys * distgrad.tensor(piece(w, sizes, rank))).sum().backward()
        (yf * distgrad.tensor(w)).sum().backward()
        np.testing.assert_allclose(xs.grad.numpy(), piece(xf.grad.numpy(), sizes, rank), rtol=1e-10, atol=1e-12)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(sbn, name).numpy(), getattr(ref, name).numpy(), rtol=1e-12, err_msg=name)
    assert sbn.num_batches_tracked.item() == 2
    np.testing.assert_allclose(all_sum(sbn.weight.grad.numpy()), ref.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(all_sum(sbn.bias.grad.numpy()), ref.bias.grad.numpy(), rtol=1e-10)


@mpi
def test_one_collective_each_way():
    rank, size = rank_size()
    sbn = nn.SyncBatchNorm(3).double()
    pg = default_group()
    x = distgrad.randn(4, 3, 2, dtype=distgrad.float64, requires_grad=True)
    before = pg.entered()
    y = sbn(x)
    assert pg.entered() == before + 1
    y.sum().backward()
    assert pg.entered() == before + 2


@mpi
def test_eval_mode_uses_running_stats_without_communicating():
    rank, size = rank_size()
    ref, sbn = make_pair(3)
    with distgrad.no_grad():
        for bn in (ref, sbn):
            bn.running_mean.copy_(distgrad.tensor([0.5, -1.0, 2.0], dtype=distgrad.float64))
            bn.running_var.copy_(distgrad.tensor([1.5, 0.25, 4.0], dtype=distgrad.float64))
    ref.eval()
    sbn.eval()
    pg = default_group()
    before = pg.entered()
    x = distgrad.randn(2 + rank, 3, 4, 4, dtype=distgrad.float64)
    np.testing.assert_allclose(sbn(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-14)
    assert pg.entered() == before


@mpi
def test_ddp_with_sync_batchnorm_equals_one_process_with_batchnorm():
    rank, size = rank_size()

    def build():
        distgrad.manual_seed(11)
        return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 2)).double()
    ref = build()
    ddp = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(build()))
    o1 = distgrad.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    o2 = distgrad.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    n = 3
    for step in range(3):
        g = np.random.default_rng(step)
        x = distgrad.tensor(g.standard_normal((n * size, 4)))
        y = distgrad.tensor(g.standard_normal((n * size, 2)))
        o1.zero_grad()
        o2.zero_grad()
        ((ddp(x[rank * n:(rank + 1) * n]) - y[rank * n:(rank + 1) * n]) ** 2).mean().backward()
        ((ref(x) - y) ** 2).mean().backward()
        o1.step()
        o2.step()
    for (name, p), q in zip(ddp.module.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


# --- world of one, conversion, errors -----------------------------------------------------------------
@single
def test_world_of_one_is_batchnorm():
    ref, sbn = make_pair(3)
    x = distgrad.randn(6, 3, 4, dtype=distgrad.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    ref = nn.BatchNorm1d(3).double()
    ref.load_state_dict(sbn.state_dict())
    (sbn(x) ** 2).sum().backward()
    (ref(x2) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(sbn.running_var.numpy(), ref.running_var.numpy(), rtol=1e-14)


@single
def test_synchronised_path_gradcheck_in_a_world_of_one():
    pg = default_group()
    g = np.random.default_rng(0)
    x = distgrad.tensor(g.standard_normal((5, 2, 3)), requires_grad=True)
    w = distgrad.tensor(g.standard_normal(2), requires_grad=True)
    b = distgrad.tensor(g.standard_normal(2), requires_grad=True)

    def fn(x, w, b):
        return sync_batch_norm(x, None, None, w, b, 0.1, 1e-5, pg)
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
    want = distgrad.nn.functional.batch_norm(x, None, None, w, b, training=True)
    np.testing.assert_allclose(fn(x, w, b).detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_convert_sync_batchnorm_replaces_recursively_and_shares_state():
    inner = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3, momentum=0.3, eps=1e-3))
    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, affine=False), inner)
    net.eval()
    old_bn = inner[1]
    old_weight, old_mean = old_bn.weight, old_bn.running_mean
    out = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert out is net
    assert isinstance(net[1], nn.SyncBatchNorm) and isinstance(net[2][1], nn.SyncBatchNorm)
    assert isinstance(net[0], nn.Linear) and isinstance(net[2][0], nn.Conv2d)
    new = net[2][1]
    assert new.weight is old_weight and new.running_mean is old_mean
    assert (new.num_features, new.eps, new.momentum, new.affine) == (3, 1e-3, 0.3, True)
    assert net[1].weight is None and not net[1].affine and not new.training
    assert list(net.state_dict()) == ['0.weight', '0.bias', '1.running_mean', '1.running_var',
                                      '1.num_batches_tracked', '2.0.weight', '2.0.bias', '2.1.weight', '2.1.bias',
                                      '2.1.running_mean', '2.1.running_var', '2.1.num_batches_tracked']
    lone = nn.BatchNorm1d(2)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(lone, process_group=default_group())
    assert converted is not lone and converted.process_group is default_group()
    assert repr(converted) == "SyncBatchNorm(2, eps=1e-05, momentum=0.1, affine=True, bias=True, " \
                              "track_running_stats=True)"


def test_input_errors_name_the_layer():
    sbn = nn.SyncBatchNorm(3)
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        sbn(distgrad.randn(3))
    with pytest.raises(RuntimeError, match="expected input with 3 channels"):
        sbn(distgrad.randn(4, 2))
    with pytest.raises(TypeError, match="expected a Tensor input"):
        sbn([1.0, 2.0])
