"""Character-level text data for the language-model examples (``char_lstm.py``, ``transformer_lm.py``).

The bundled corpus is ``examples/data/river.txt``, a short story written for distgrad (about
5 KB).  Characters are the tokens; a training example is a window of ``seq_len + 1``
characters, the model reads the first ``seq_len`` and predicts the next character at each
position.  Windows start every ``stride`` characters, so an epoch covers the text about
``seq_len / stride`` times; the last tenth of the text is held out for validation.
"""
import argparse
import os
import time

import numpy as np

import distgrad as torch
from distgrad.utils.data import DataLoader, DistributedSampler, TensorDataset
from train_digits import progress  # the main job's tqdm-on-rank-0 bar, shared

DEFAULT_TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "river.txt")


def parse_args(description, argv, epochs, lr, model_args):
    """The options both examples take, plus ``model_args`` (``(flag, type, default)`` triples)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--text", default=DEFAULT_TEXT)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--stride", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=16, help="per rank")
    for flag, kind, default in model_args:
        p.add_argument(flag, type=kind, default=default)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-len", type=int, default=200)
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


class CharVocab:
    """The sorted set of characters of a text, with encode/decode."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids):
        return "".join(self.chars[int(i)] for i in ids)


def load_text(path=DEFAULT_TEXT):
    with open(path, encoding="utf-8") as f:
        return f.read()


def windows(ids, seq_len, stride):
    """(inputs, targets) int64 tensors of shape (N, seq_len): targets are inputs shifted by one."""
    starts = np.arange(0, len(ids) - seq_len - 1, stride)
    x = np.stack([ids[s:s + seq_len] for s in starts])
    y = np.stack([ids[s + 1:s + seq_len + 1] for s in starts])
    return torch.from_numpy(x), torch.from_numpy(y)


def datasets(text, vocab, seq_len, stride, val_fraction=0.1):
    """Train and validation TensorDatasets of windows over the text split at ``1 - val_fraction``."""
    ids = vocab.encode(text)
    cut = int(len(ids) * (1 - val_fraction))
    return (TensorDataset(*windows(ids[:cut], seq_len, stride)),
            TensorDataset(*windows(ids[cut - seq_len:], seq_len, seq_len // 2)))


def loaders(args, rank, world):
    """What both examples train on: ``(vocab, sampler, loader, val_set)``, the loader over this rank's shard."""
    text = load_text(args.text)
    vocab = CharVocab(text)
    train_set, val_set = datasets(text, vocab, args.seq_len, args.stride)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    return vocab, sampler, DataLoader(train_set, batch_size=args.batch_size, sampler=sampler), val_set


def evaluate(model, dataset, batch_size=64):
    """Mean cross-entropy (nats per character) of ``model`` over ``dataset``, in eval mode."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(dataset), batch_size):
            x, y = dataset[i:i + batch_size]
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                     reduction="sum")
            total += loss.item()
            count += y.numel()
    model.train()
    return total / max(count, 1)


def train(model, loader, sampler, optimizer, scheduler, vocab_size, val_set, epochs, show):
    """The loop both examples share: an epoch per sampler epoch, next-character cross-entropy, clipped
    gradients, a per-step schedule; rank 0 prints the losses.  Returns the seconds it took."""
    import distgrad.distributed as dist  # the examples initialise the process group first
    rank = dist.get_rank()
    nn = torch.nn
    t0 = time.perf_counter()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        total, batches = 0.0, 0
        bar = progress(loader, show, f"epoch {epoch + 1}/{epochs}", len(loader))
        for x, y in bar:
            optimizer.zero_grad()
            logits = model(x)
            loss = nn.functional.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            total += loss.item()
            batches += 1
            if show and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{loss.item():.3f}")
        if rank == 0:
            print(f"epoch {epoch + 1:2d}/{epochs}  train loss {total / max(batches, 1):.3f}  "
                  f"val loss {evaluate(model.module, val_set):.3f}", flush=True)
    return time.perf_counter() - t0


def report(model, val_set, world, seconds):
    """Rank 0's final line: the validation loss, the ranks and the time."""
    print(f"final val loss: {evaluate(model.module, val_set):.3f} nats/char  ({world} "
          f"rank{'s' if world > 1 else ''}, {seconds:.1f}s)", flush=True)
