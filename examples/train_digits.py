"""Train a small CNN (or an MLP) on scikit-learn's bundled 8x8 digits, data-parallel over MPI ranks.

Written as a PyTorch script with ``import distgrad as torch``: DataLoader with a
DistributedSampler, CrossEntropyLoss, AdamW, a OneCycle schedule, DistributedDataParallel,
evaluation in eval mode under no_grad, a checkpoint each epoch (written by rank 0,
atomically) and ``--resume``, which ends with weights bit-identical to an
uninterrupted run.  Needs no download: the digits ship with scikit-learn.

    distgrad-launch -n 2 examples/train_digits.py            # data-parallel on 2 ranks
    python examples/train_digits.py --model mlp --epochs 5    # one process
"""
import argparse
import hashlib
import os
import sys
import time

import numpy as np

import distgrad as torch
import distgrad.distributed as dist
from distgrad import nn
from distgrad.nn.parallel import DistributedDataParallel as DDP
from distgrad.utils.data import DataLoader, DistributedSampler, TensorDataset


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=32, help="per rank")
    p.add_argument("--lr", type=float, default=6e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default="checkpoints/digits.safetensors")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this many epochs (to try --resume), as if interrupted")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def load_digits_split(seed=0, test_fraction=0.2):
    """The 1797 8x8 digits as (N, 1, 8, 8) float32 in [0, 1], split deterministically."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    order = np.random.RandomState(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (torch.from_numpy(x[train]), torch.from_numpy(y[train]),
            torch.from_numpy(x[test]), torch.from_numpy(y[test]))


def build_model(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                             nn.Linear(64, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))


def evaluate(model, x, y, batch_size=256):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            logits = model(x[i:i + batch_size])
            correct += int((logits.argmax(dim=1) == y[i:i + batch_size]).sum().item())
    model.train()
    return correct / len(y)


def weights_digest(model):
    """A short hash of every parameter and buffer, to compare runs bit for bit."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(np.ascontiguousarray(t.detach().numpy()).tobytes())
    return h.hexdigest()[:16]


def progress(iterable, enabled, desc, total):
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True, file=sys.stdout)


def main(argv=None):
    args = parse_args(argv)
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_digits_split(args.seed)
    train_set = TensorDataset(x_train, y_train)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler, drop_last=False)

    model = DDP(build_model(args.model))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                    steps_per_epoch=len(loader))
    start_epoch = 0
    if args.resume and os.path.exists(args.checkpoint):
        ckpt = torch.load(args.checkpoint)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch = ckpt["epoch"] + 1
        if rank == 0:
            print(f"resumed from {args.checkpoint} after epoch {ckpt['epoch'] + 1}", flush=True)

    show = rank == 0 and not args.no_progress
    t0 = time.perf_counter()
    for epoch in range(start_epoch, args.epochs):
        if args.stop_after is not None and epoch >= args.stop_after:
            break
        sampler.set_epoch(epoch)
        total_loss, batches = 0.0, 0
        bar = progress(loader, show, f"epoch {epoch + 1}/{args.epochs}", len(loader))
        for xb, yb in bar:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item()
            batches += 1
            if show and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{loss.item():.4f}")
        if rank == 0:
            acc = evaluate(model.module, x_test, y_test)
            print(f"epoch {epoch + 1:2d}/{args.epochs}  loss {total_loss / max(batches, 1):.4f}  "
                  f"test accuracy {acc * 100:.2f}%", flush=True)
            if args.checkpoint:
                os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "epoch": epoch}, args.checkpoint)
        dist.barrier()

    if rank == 0:
        acc = evaluate(model.module, x_test, y_test)
        print(f"final test accuracy: {acc * 100:.2f}%  ({world} rank{'s' if world > 1 else ''}, "
              f"{time.perf_counter() - t0:.1f}s, weights {weights_digest(model.module)})", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
