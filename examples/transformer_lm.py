"""A small decoder-only Transformer language model on the bundled story, data-parallel over MPI ranks.

Written as a PyTorch script with ``import distgrad as torch``: token and learned position
embeddings, ``nn.TransformerEncoder`` of pre-norm ``nn.TransformerEncoderLayer``s under the
causal mask (``nn.Transformer.generate_square_subsequent_mask``, ``is_causal=True``), a final
LayerNorm and an output layer whose weight is tied to the token embedding (one parameter,
reduced once by DDP).  AdamW with warmup and cosine decay, DistributedSampler +
DistributedDataParallel, a progress bar per epoch, the train and validation loss (nats per
character), and a generated sample at the end.

    distgrad-launch -n 2 examples/transformer_lm.py           # data-parallel on 2 ranks
    python examples/transformer_lm.py --epochs 2              # one process
"""
import math
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
    return text_data.parse_args(__doc__.splitlines()[0], argv, epochs=8, lr=3e-3,
                                model_args=[("--d-model", int, 64), ("--heads", int, 4)])


class TinyGPT(nn.Module):
    def __init__(self, vocab, seq_len, d_model, heads, layers, dropout):
        super().__init__()
        self.seq_len = seq_len
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        block = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        self.head.weight = self.tok.weight  # weight tying: one parameter, two uses
        for emb in (self.tok, self.pos):     # GPT-2's scale: N(0, 1) embeddings would give logits of std ~8
            nn.init.normal_(emb.weight, std=0.02)

    def forward(self, x):
        t = x.shape[1]
        h = self.tok(x) + self.pos(torch.arange(t))
        mask = nn.Transformer.generate_square_subsequent_mask(t)
        return self.head(self.norm(self.blocks(h, mask=mask, is_causal=True)))


def generate(model, vocab, prompt, length, seed):
    """Continue ``prompt`` by ``length`` characters, each sampled from the softmax at temperature 0.8."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    ids = torch.from_numpy(vocab.encode(prompt))[None]
    with torch.no_grad():
        for _ in range(length):
            logits = model(ids[:, -model.seq_len:])
            nxt = torch.multinomial(torch.softmax(logits[0, -1] / 0.8, dim=-1), 1, generator=gen)
            ids = torch.cat([ids, nxt[None]], dim=1)
    model.train()
    return vocab.decode(ids[0].tolist())


def main(argv=None):
    args = parse_args(argv)
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)
    vocab, sampler, loader, val_set = loaders(args, rank, world)

    model = DDP(TinyGPT(len(vocab), args.seq_len, args.d_model, args.heads, args.layers, args.dropout))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    total_steps, warmup = args.epochs * len(loader), max(1, len(loader) // 2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total_steps) /
                                                                              total_steps)))
    seconds = train(model, loader, sampler, optimizer, scheduler, len(vocab), val_set, args.epochs,
                    show=rank == 0 and not args.no_progress)
    if rank == 0:
        report(model, val_set, world, seconds)
        print("sample:", generate(model.module, vocab, "The river", args.sample_len, args.seed), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
