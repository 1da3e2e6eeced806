"""DistributedDataParallel: N ranks on shards equal one process on the whole batch.

Every rank builds the same full batch from a fixed seed, trains the DDP model
on its own shard and, beside it, a plain copy of the model on the whole batch;
in float64 the weights must agree to rounding.  The other tests cover
no_sync, unused parameters (reduced as zeros with the flag, the same error on
every rank without it), buffer broadcasting, the model-mismatch error,
bucketing and the misuse checks.  Multi-rank tests run with
``mpiexec -n 2`` and ``-n 3 --oversubscribe``; the rest also in one process.
"""
import numpy as np
import pytest

import distgrad
import distgrad.distributed as dist
from distgrad import nn
from distgrad.comm import env
from distgrad.nn.parallel import DistributedDataParallel as DDP

mpi = pytest.mark.mpi(min_size=2)
single = pytest.mark.skipif(env.launched_by_mpi(), reason="world-of-one test (runs without mpiexec)")
SHARD = 5


@pytest.fixture(autouse=True, scope="module")
def _world():
    dist.init_process_group(timeout=60)
    yield


def rank_size():
    return dist.get_rank(), dist.get_world_size()


def mlp(seed=7, hidden=6):
    distgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, 3), nn.Tanh(),
                         nn.Linear(3, 2)).double()


def twin(model):
    """A plain copy of ``model`` (same weights) for the single-process reference."""
    other = mlp(hidden=model[0].out_features)
    other.load_state_dict(model.state_dict())
    return other


def batch(step, size, seed=100):
    g = np.random.default_rng(seed + step)
    x = g.standard_normal((SHARD * size, 4))
    y = g.standard_normal((SHARD * size, 2))
    return distgrad.tensor(x), distgrad.tensor(y)


def shard(t, rank):
    return t[rank * SHARD:(rank + 1) * SHARD]


def loss_fn(out, y):
    return ((out - y) ** 2).mean()


def params_np(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def assert_same_params(a, b, rtol=1e-12, atol=1e-13):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=rtol, atol=atol, err_msg=name)


def local_grads(model, x, y):
    """The gradients a plain copy of ``model`` gets from (x, y)."""
    m = twin(model)
    loss_fn(m(x), y).backward()
    return [None if p.grad is None else p.grad.numpy() for p in m.parameters()]


def gathered(array):
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, np.asarray(array))
    return everyone


# --- equality with one process ---------------------------------------------------------------------
@pytest.mark.parametrize("opt", ["sgd_momentum", "adam"])
@pytest.mark.parametrize("cap_mb", [25, 1e-4], ids=["one_bucket", "tiny_buckets"])
def test_ddp_equals_one_process_on_the_concatenated_batch(opt, cap_mb):
    rank, size = rank_size()
    model = mlp()
    ref = twin(model)
    ddp = DDP(model, bucket_cap_mb=cap_mb)
    if opt == "adam":
        o1, o2 = distgrad.optim.Adam(ddp.parameters(), lr=0.01), distgrad.optim.Adam(ref.parameters(), lr=0.01)
    else:
        o1 = distgrad.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
        o2 = distgrad.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    for step in range(4):
        x, y = batch(step, size)
        o1.zero_grad()
        o2.zero_grad()
        loss_fn(ddp(shard(x, rank)), shard(y, rank)).backward()
        loss_fn(ref(x), y).backward()
        for p, q in zip(ddp.parameters(), ref.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-14)
        o1.step()
        o2.step()
    assert_same_params(ddp.module, ref)
    mine = np.concatenate([p.reshape(-1) for p in params_np(ddp.module)])
    for other in gathered(mine):
        np.testing.assert_array_equal(other, mine)   # the replicas are bitwise identical


def test_tiny_bucket_cap_makes_many_buckets_in_reverse_order():
    model = mlp()
    ddp = DDP(model, bucket_cap_mb=1e-6)
    params = list(model.parameters())
    assert len(ddp.reducer.buckets) == len(params)
    # reverse registration order: the last layer's bias is in bucket 0, the first weight in the last
    assert ddp.reducer.buckets[0].params[0] is params[-1]
    assert ddp.reducer.buckets[-1].params[0] is params[0]
    big = DDP(mlp(), bucket_cap_mb=25)
    assert len(big.reducer.buckets) == 1
    flat = big.reducer.buckets[0]
    assert flat.numel == sum(p.numel() for p in model.parameters())


def test_first_bucket_is_small():
    distgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 512), nn.Linear(512, 512), nn.Linear(512, 512))  # 1 MiB per weight
    ddp = DDP(model, bucket_cap_mb=25)
    sizes = [len(b.params) for b in ddp.reducer.buckets]
    # bucket 0 closes after the first weight that reaches 1 MiB: last bias + last weight
    assert sizes == [2, 4]


def test_gradient_as_bucket_view_equals_the_copying_mode():
    rank, size = rank_size()
    a, b = DDP(mlp(), bucket_cap_mb=1e-4, gradient_as_bucket_view=True), DDP(mlp(), bucket_cap_mb=1e-4)
    oa = distgrad.optim.SGD(a.parameters(), lr=0.1, momentum=0.5)
    ob = distgrad.optim.SGD(b.parameters(), lr=0.1, momentum=0.5)
    for step in range(3):
        x, y = batch(step, size)
        oa.zero_grad(set_to_none=step % 2 == 0)
        ob.zero_grad()
        loss_fn(a(shard(x, rank)), shard(y, rank)).backward()
        loss_fn(b(shard(x, rank)), shard(y, rank)).backward()
        for p, q in zip(a.parameters(), b.parameters()):
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
        oa.step()
        ob.step()
    for bucket in a.reducer.buckets:
        for p, view in zip(bucket.params, bucket.views):
            assert p.grad._data is view and np.shares_memory(p.grad._data, bucket.flat)
    assert_same_params(a.module, b.module, rtol=0, atol=0)


# --- no_sync ---------------------------------------------------------------------------------------
def test_no_sync_accumulates_locally_then_reduces_the_sum():
    rank, size = rank_size()
    model = mlp()
    ref = twin(model)
    ddp = DDP(model)
    pg = ddp.process_group
    chunks = [batch(10 + k, size) for k in range(3)]
    before = pg.entered()
    with ddp.no_sync():
        for x, y in chunks[:-1]:
            loss_fn(ddp(shard(x, rank)), shard(y, rank)).backward()
    assert pg.entered() == before, "no_sync must not communicate"
    local = [p.grad.numpy().copy() for p in ddp.parameters()]
    if size > 1:   # different shards, no communication: the ranks' gradients differ
        everyone = gathered(local[0])
        assert not all(np.array_equal(everyone[0], e) for e in everyone[1:])
    x, y = chunks[-1]
    loss_fn(ddp(shard(x, rank)), shard(y, rank)).backward()
    for x, y in chunks:
        loss_fn(ref(x), y).backward()
    for p, q in zip(ddp.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-14)


# --- unused parameters -----------------------------------------------------------------------------
class Branchy(nn.Module):
    """Uses ``side`` only when asked: an unused parameter on some ranks."""

    def __init__(self):
        super().__init__()
        distgrad.manual_seed(3)
        self.main = nn.Linear(4, 2).double()
        self.side = nn.Linear(4, 2).double()

    def forward(self, x, use_side):
        out = self.main(x)
        return out + self.side(x) if use_side else out


def branchy_grads(x, y, use_side):
    m = Branchy()
    loss_fn(m(x, use_side), y).backward()
    return [None if p.grad is None else p.grad.numpy() for p in m.parameters()]


@pytest.mark.parametrize("static", [False, True], ids=["find_unused", "static_graph"])
def test_globally_unused_parameters_keep_grad_none(static):
    rank, size = rank_size()
    kwargs = {"static_graph": True} if static else {"find_unused_parameters": True}
    ddp = DDP(Branchy(), **kwargs)
    for step in range(2):
        x, y = batch(step, size)
        ddp.zero_grad()
        loss_fn(ddp(shard(x, rank), False), shard(y, rank)).backward()
        assert ddp.module.side.weight.grad is None and ddp.module.side.bias.grad is None
        want = branchy_grads(x, y, False)
        np.testing.assert_allclose(ddp.module.main.weight.grad.numpy(), want[0], rtol=1e-12)


@mpi
@pytest.mark.filterwarnings("ignore:.*did not find any unused parameters")
def test_parameter_used_on_some_ranks_is_averaged_with_zeros():
    rank, size = rank_size()
    ddp = DDP(Branchy(), find_unused_parameters=True)
    x, y = batch(0, size)
    loss_fn(ddp(shard(x, rank), rank == 0), shard(y, rank)).backward()
    parts = [branchy_grads(shard(x, r), shard(y, r), r == 0) for r in range(size)]
    for i, p in enumerate(ddp.parameters()):
        want = sum(np.zeros_like(parts[0][i]) if part[i] is None else part[i] for part in parts) / size
        np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-12, atol=1e-15)


@mpi
def test_unused_parameter_without_the_flag_raises_on_every_rank():
    rank, size = rank_size()
    ddp = DDP(Branchy())
    x, y = batch(0, size)
    last = size - 1
    with pytest.raises(RuntimeError) as info:
        loss_fn(ddp(shard(x, rank), rank != last), shard(y, rank)).backward()
    text = str(info.value)
    assert "find_unused_parameters=True" in text and "not used in producing loss" in text
    assert f"rank {last}: side.weight, side.bias" in text
    # the error left DDP ready for the next iteration, and it reduces correctly again
    ddp.zero_grad()
    loss_fn(ddp(shard(x, rank), True), shard(y, rank)).backward()
    parts = [branchy_grads(shard(x, r), shard(y, r), True) for r in range(size)]
    for i, p in enumerate(ddp.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), sum(part[i] for part in parts) / size, rtol=1e-12)


@single
def test_unused_parameter_error_in_a_world_of_one():
    ddp = DDP(Branchy())
    x, y = batch(0, 1)
    with pytest.raises(RuntimeError, match=r"rank 0: side\.weight, side\.bias"):
        loss_fn(ddp(x, False), y).backward()
    assert ddp.module.main.weight.grad is not None  # the local gradient is left as backward computed it


# --- buffers and parameters from rank 0 --------------------------------------------------------------
def bn_model(seed):
    distgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)).double()


@mpi
def test_construction_broadcasts_rank0_parameters_and_buffers():
    rank, size = rank_size()
    model = bn_model(seed=rank)
    model[1].running_mean.fill_(float(rank))
    ddp = DDP(model)
    want = bn_model(seed=0)
    for p, q in zip(ddp.module.parameters(), want.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    np.testing.assert_array_equal(model[1].running_mean.numpy(), np.zeros(3))


@mpi
@pytest.mark.parametrize("broadcast", [True, False])
def test_buffers_follow_rank0_before_each_forward(broadcast):
    rank, size = rank_size()
    ddp = DDP(bn_model(seed=1), broadcast_buffers=broadcast)
    x, y = batch(0, size)
    loss_fn(ddp(shard(x, rank)), shard(y, rank)).backward()   # each rank updates its own running stats
    everyone = gathered(ddp.module[1].running_mean.numpy())
    assert not np.array_equal(everyone[0], everyone[1])
    rank0 = everyone[0]
    ddp.eval()   # eval forward: uses the buffers without changing them
    ddp(shard(x, rank))
    mine = ddp.module[1].running_mean.numpy()
    if broadcast:
        np.testing.assert_array_equal(mine, rank0)
        assert ddp.module[1].num_batches_tracked.item() == 1
    else:
        np.testing.assert_array_equal(mine, everyone[rank])
    assert ddp.will_sync_module_buffers() == broadcast


# --- construction errors -------------------------------------------------------------------------
@mpi
def test_model_mismatch_raises_on_every_rank():
    rank, size = rank_size()
    distgrad.manual_seed(0)
    hidden = 9 if rank == 1 else 8
    model = nn.Sequential(nn.Linear(4, hidden), nn.Linear(hidden, 2))
    with pytest.raises(RuntimeError) as info:
        DDP(model)
    text = str(info.value)
    assert "not the same on every rank" in text and "'0.weight'" in text
    assert "rank(s) [1]" in text and "shape [8, 4]" in text and "[9, 4]" in text


@mpi
def test_parameter_count_mismatch_names_the_extra_parameter():
    rank, size = rank_size()
    layers = [nn.Linear(2, 2)] + ([nn.Linear(2, 2)] if rank == size - 1 else [])
    with pytest.raises(RuntimeError, match=r"the first extra one is parameter '1\.weight'"):
        DDP(nn.Sequential(*layers))


def test_construction_argument_errors():
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires a gradient"):
        DDP(nn.Linear(2, 2).requires_grad_(False))
    with pytest.raises(ValueError, match="device_ids and output_device"):
        DDP(nn.Linear(2, 2), device_ids=[0])
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive"):
        DDP(nn.Linear(2, 2), bucket_cap_mb=0)
    with pytest.raises(TypeError, match="must be a distgrad.nn.Module"):
        DDP(lambda x: x)


# --- the module wrapper ------------------------------------------------------------------------------
def test_state_dict_has_the_module_prefix_and_round_trips():
    ddp = DDP(mlp())
    keys = list(ddp.state_dict())
    assert keys == ["module." + k for k in ddp.module.state_dict()]
    other = DDP(mlp(seed=99))
    other.load_state_dict(ddp.state_dict())
    assert_same_params(other.module, ddp.module, rtol=0, atol=0)
    assert isinstance(ddp, nn.Module) and ddp.module[0] is ddp.module[0]
    assert repr(ddp).startswith("DistributedDataParallel(\n  (module): Sequential(")
    assert nn.parallel.DistributedDataParallel is DDP


@pytest.mark.filterwarnings("ignore:.*did not find any unused parameters")
def test_forward_passes_args_and_kwargs_and_no_grad_forward_does_not_reduce():
    rank, size = rank_size()
    ddp = DDP(Branchy(), find_unused_parameters=True)
    x, y = batch(0, size)
    with distgrad.no_grad():
        out = ddp(shard(x, rank), use_side=True)
    assert out.shape == (SHARD, 2) and not ddp.reducer.expect
    loss_fn(ddp(shard(x, rank), use_side=True), shard(y, rank)).backward()
    assert not ddp.reducer.expect


# --- misuse -------------------------------------------------------------------------------------------
def test_grad_modified_after_the_hook_is_an_error():
    rank, size = rank_size()
    ddp = DDP(mlp())
    first = ddp.module[0].weight
    first.register_post_accumulate_grad_hook(lambda p: p.grad.mul_(2.0))
    x, y = batch(0, size)
    with pytest.raises(RuntimeError, match=r"gradient of parameter '0\.weight' was modified"):
        loss_fn(ddp(shard(x, rank)), shard(y, rank)).backward()


def test_backward_interrupted_midway_is_reported_at_the_next_forward():
    rank, size = rank_size()
    ddp = DDP(mlp(), bucket_cap_mb=1e-6)
    x, y = batch(0, size)
    out = ddp(shard(x, rank))

    def boom(grad):
        raise ValueError("boom")
    h = ddp.module[0].weight.register_hook(boom)   # after the later layers' gradients were handed over
    with pytest.raises(ValueError, match="boom"):
        loss_fn(out, shard(y, rank)).backward()
    h.remove()
    with pytest.raises(RuntimeError, match="Expected to have finished reduction in the prior iteration"):
        ddp(shard(x, rank))
    ddp.zero_grad()
    loss_fn(ddp(shard(x, rank)), shard(y, rank)).backward()   # and then it works again
    parts = [local_grads(ddp.module, shard(x, r), shard(y, r)) for r in range(size)]
    for i, p in enumerate(ddp.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), sum(part[i] for part in parts) / size, rtol=1e-12)


def test_buckets_are_dtype_homogeneous_and_mixed_models_reduce_correctly():
    rank, size = rank_size()
    distgrad.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 4).double(), nn.Linear(4, 2).half(), nn.Linear(2, 2))
    ddp = DDP(model, bucket_cap_mb=25)
    kinds = sorted(str(b.flat.dtype) for b in ddp.reducer.buckets)
    assert kinds == ["float16", "float32", "float64"]
    for p in ddp.parameters():
        p.grad = distgrad.full(p.shape, float(rank + 1), dtype=p.dtype)
    ddp.reducer.reduce_gradients()
    want = sum(r + 1 for r in range(size)) / size
    for p in ddp.parameters():
        np.testing.assert_allclose(p.grad.float().numpy(), np.full(tuple(p.shape), want), rtol=1e-3)


# --- communication hooks --------------------------------------------------------------------------------
def test_allreduce_comm_hook_matches_builtin_reduction_and_fp16_is_close():
    from distgrad.comm.ddp.comm_hooks import GradBucket, allreduce_hook, fp16_compress_hook
    rank, size = rank_size()
    plain, hooked, half = (DDP(mlp(), bucket_cap_mb=1e-4) for _ in range(3))
    hooked.register_comm_hook(None, allreduce_hook)
    half.register_comm_hook(dist.group.WORLD, fp16_compress_hook)
    seen = []

    def spy(state, bucket):
        assert isinstance(bucket, GradBucket) and state == "s"
        seen.append((bucket.index(), bucket.is_last(), len(bucket.parameters()), bucket.buffer().numel()))
        return allreduce_hook(None, bucket)
    spied = DDP(mlp(), bucket_cap_mb=1e-4)
    spied.register_comm_hook("s", spy)
    x, y = batch(0, size)
    for m in (plain, hooked, half, spied):
        loss_fn(m(shard(x, rank)), shard(y, rank)).backward()
    for p, q, h in zip(plain.parameters(), hooked.parameters(), half.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-14, atol=1e-16)
        np.testing.assert_allclose(h.grad.numpy(), p.grad.numpy(), rtol=2e-3, atol=1e-3)
    nb = len(spied.reducer.buckets)
    assert [s[:2] for s in seen] == [(k, k == nb - 1) for k in range(nb)]
    with pytest.raises(RuntimeError, match="can only be called once"):
        hooked.register_comm_hook(None, allreduce_hook)


def test_comm_hook_returning_a_wrong_result_is_an_error():
    from distgrad.comm.ddp.comm_hooks import allreduce_hook
    rank, size = rank_size()
    ddp = DDP(mlp())

    def bad(state, bucket):
        fut = allreduce_hook(None, bucket)
        return fut.then(lambda f: f.value()[:3])
    ddp.register_comm_hook(None, bad)
    x, y = batch(0, size)
    with pytest.raises(RuntimeError, match="must hold a tensor of the bucket's"):
        loss_fn(ddp(shard(x, rank)), shard(y, rank)).backward()


def test_find_unused_parameters_warns_once_when_nothing_is_unused():
    rank, size = rank_size()
    ddp = DDP(mlp(), find_unused_parameters=True)
    x, y = batch(0, size)
    with pytest.warns(UserWarning, match="did not find any unused parameters"):
        loss_fn(ddp(shard(x, rank)), shard(y, rank)).backward()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_fn(ddp(shard(x, rank)), shard(y, rank)).backward()


def test_parameter_used_only_inside_no_sync_is_still_reduced():
    rank, size = rank_size()
    ddp = DDP(Branchy(), find_unused_parameters=True)
    x, y = batch(0, size)
    x2, y2 = batch(1, size)
    with ddp.no_sync():
        loss_fn(ddp(shard(x, rank), True), shard(y, rank)).backward()
    loss_fn(ddp(shard(x2, rank), False), shard(y2, rank)).backward()
    want = []
    for r in range(size):
        a = branchy_grads(shard(x, r), shard(y, r), True)
        b = branchy_grads(shard(x2, r), shard(y2, r), False)
        want.append([ga + (0 if gb is None else gb) for ga, gb in zip(a, b)])
    for i, p in enumerate(ddp.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), sum(w[i] for w in want) / size, rtol=1e-12, atol=1e-15)


@mpi
def test_a_late_rank_is_waited_for_and_the_result_is_unchanged():
    import time
    rank, size = rank_size()
    ddp = DDP(mlp(), bucket_cap_mb=1e-4)
    x, y = batch(0, size)
    out = ddp(shard(x, rank))
    if rank == size - 1:
        time.sleep(0.2)   # the others reach each bucket's allreduce first and wait, sleeping
    t0 = time.perf_counter()
    loss_fn(out, shard(y, rank)).backward()
    if rank == 0:
        assert time.perf_counter() - t0 > 0.1
    parts = [local_grads(ddp.module, shard(x, r), shard(y, r)) for r in range(size)]
    for i, p in enumerate(ddp.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), sum(part[i] for part in parts) / size, rtol=1e-12)
