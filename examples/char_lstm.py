"""A character-level LSTM language model on the bundled story, data-parallel over MPI ranks.

Written as a PyTorch script with ``import distgrad as torch``: Embedding -> nn.LSTM (2 layers,
batch_first, dropout between layers) -> Linear, cross-entropy at every position, Adam with
gradient clipping, DistributedSampler + DistributedDataParallel.  Prints a progress bar per
epoch, the train and validation loss (nats per character) and, at the end, a sample drawn
from the model one character at a time, carrying the LSTM's (h, c) state between steps.

    distgrad-launch -n 2 examples/char_lstm.py               # data-parallel on 2 ranks
    python examples/char_lstm.py --epochs 2 --hidden 64       # one process, quicker
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import distgrad as torch  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
from distgrad import nn  # noqa: E402
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402
import text_data  # noqa: E402
from text_data import loaders, report, train  # noqa: E402


def parse_args(argv=None):
    return text_data.parse_args(__doc__.splitlines()[0], argv, epochs=6, lr=1e-2,
                                model_args=[("--hidden", int, 128)])


class CharLSTM(nn.Module):
    def __init__(self, vocab, hidden, layers, dropout):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None, return_state=False):
        out, state = self.lstm(self.embed(x), state)
        logits = self.head(out)
        return (logits, state) if return_state else logits


def sample(model, vocab, prompt, length, seed):
    """Continue ``prompt`` for ``length`` characters, sampling each from the model's softmax."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    ids = torch.from_numpy(vocab.encode(prompt))[None]
    out = list(prompt)
    with torch.no_grad():
        logits, state = model(ids, return_state=True)
        for _ in range(length):
            probs = torch.softmax(logits[0, -1] / 0.8, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=gen)
            out.append(vocab.decode(nxt.tolist()))
            logits, state = model(nxt[None], state, return_state=True)
    model.train()
    return "".join(out)


def main(argv=None):
    args = parse_args(argv)
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)
    vocab, sampler, loader, val_set = loaders(args, rank, world)

    model = DDP(CharLSTM(len(vocab), args.hidden, args.layers, args.dropout))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(loader))
    seconds = train(model, loader, sampler, optimizer, scheduler, len(vocab), val_set, args.epochs,
                    show=rank == 0 and not args.no_progress)
    if rank == 0:
        report(model, val_set, world, seconds)
        print("sample:", sample(model.module, vocab, "The miller", args.sample_len, args.seed), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
