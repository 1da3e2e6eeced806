"""A GPT-style character model trained the way nanoGPT's CPU recipe trains one: a PyTorch program written here.

It uses the names such a program touches (a dtype table with ``torch.bfloat16``,
``torch.cuda.is_bf16_supported``, ``torch.cuda.amp.GradScaler``, TF32 flags,
``inspect.signature(torch.optim.AdamW)``'s ``fused``, ``F.scaled_dot_product_attention``,
``np.memmap`` batches, a checkpoint dict with the config, ``--resume``, top-k sampling),
so ``tests/test_gpt_program.py`` can run it through ``python -m distgrad.run`` unmodified.

    python -m distgrad.run char_gpt.py --data DIR --out DIR --iters 8 [--resume] [--sample 40]
"""
import argparse
import inspect
import math
import os
import pickle
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F


class LayerNorm(nn.Module):
    def __init__(self, dim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class SelfAttention(nn.Module):
    def __init__(self, dim, heads, block):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.heads = heads
        self.fused = hasattr(F, "scaled_dot_product_attention")
        self.register_buffer("causal", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def forward(self, x, fused=None):
        b, t, c = x.size()
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if self.fused if fused is None else fused:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = F.softmax(att.masked_fill(self.causal[:, :, :t, :t] == 0, float("-inf")), dim=-1)
            y = att @ v
        return self.proj(y.transpose(1, 2).contiguous().view(b, t, c))


class Block(nn.Module):
    def __init__(self, dim, heads, block):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(dim, True), LayerNorm(dim, True)
        self.attn = SelfAttention(dim, heads, block)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharGPT(nn.Module):
    def __init__(self, vocab, block, dim, heads, layers):
        super().__init__()
        self.block = block
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, dim), wpe=nn.Embedding(block, dim),
            h=nn.ModuleList([Block(dim, heads, block) for _ in range(layers)]), ln_f=LayerNorm(dim, True)))
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * layers))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        t = idx.size(1)
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for blk in self.transformer.h:
            x = blk(x)
        x = self.transformer.ln_f(x)
        if targets is None:
            return self.lm_head(x[:, [-1], :]), None
        logits = self.lm_head(x)
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)

    def configure_optimizers(self, weight_decay, lr, betas):
        params = {n: p for n, p in self.named_parameters() if p.requires_grad}
        groups = [{"params": [p for p in params.values() if p.dim() >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params.values() if p.dim() < 2], "weight_decay": 0.0}]
        extra = dict(fused=False) if "fused" in inspect.signature(torch.optim.AdamW).parameters else dict()
        return torch.optim.AdamW(groups, lr=lr, betas=betas, **extra)

    @torch.no_grad()
    def generate(self, idx, n, temperature=1.0, top_k=None):
        for _ in range(n):
            logits, _ = self(idx if idx.size(1) <= self.block else idx[:, -self.block:])
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, dim=-1), num_samples=1)), dim=1)
        return idx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--iters", type=int, default=8)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--sample", type=int, default=0)
    args = p.parse_args()
    config = dict(block=16, batch=6, dim=32, heads=4, layers=2, lr=1e-2, compile=False)
    torch.manual_seed(1337)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dtype = "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float16"
    ptdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    ctx = nullcontext() if not torch.cuda.is_available() else torch.amp.autocast(device_type="cuda", dtype=ptdtype)
    with open(os.path.join(args.data, "meta.pkl"), "rb") as f:
        meta = pickle.load(f)
    ckpt_path = os.path.join(args.out, "ckpt.pt")
    model_args = dict(vocab=meta["vocab_size"], block=config["block"], dim=config["dim"], heads=config["heads"],
                      layers=config["layers"])
    iter_num, best = 0, 1e9
    if args.resume or args.sample:
        ckpt = torch.load(ckpt_path, map_location="cpu")
        model_args = ckpt["model_args"]
    model = CharGPT(**model_args)
    optimizer = model.configure_optimizers(0.1, config["lr"], (0.9, 0.99))
    if args.resume or args.sample:
        state = ckpt["model"]
        for k in list(state):
            if k.startswith("_orig_mod."):
                state[k[len("_orig_mod."):]] = state.pop(k)
        model.load_state_dict(state)
        optimizer.load_state_dict(ckpt["optimizer"])
        iter_num, best = ckpt["iter_num"], ckpt["best_val_loss"]
        print(f"resumed at {iter_num}, best {float(best):.4f}, adam step {optimizer.state_dict()['state'][0]['step']}")
    if args.sample:
        model.eval()
        out = model.generate(torch.zeros((1, 1), dtype=torch.long), args.sample, temperature=0.8, top_k=5)
        print("sample:", "".join(meta["itos"][i] for i in out[0].tolist()))
        return
    if config["compile"]:
        model = torch.compile(model)
    scaler = torch.cuda.amp.GradScaler(enabled=(dtype == "float16"))

    def get_batch(split):
        data = np.memmap(os.path.join(args.data, f"{split}.bin"), dtype=np.uint16, mode="r")
        ix = torch.randint(len(data) - config["block"], (config["batch"],))
        x = torch.stack([torch.from_numpy(data[i:i + config["block"]].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + config["block"]].astype(np.int64)) for i in ix])
        return x, y

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        out = {}
        for split in ("train", "val"):
            losses = torch.zeros(4)
            for k in range(4):
                with ctx:
                    losses[k] = model(*get_batch(split))[1].item()
            out[split] = losses.mean()
        model.train()
        return out

    first = model.transformer.h[0].attn
    probe = torch.randn(2, 5, config["dim"])
    assert torch.allclose(first(probe, fused=True), first(probe, fused=False), atol=1e-5)
    stop = iter_num + args.iters
    while iter_num < stop:
        lr = config["lr"] * min(1.0, (iter_num + 1) / 4)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch("train")
        with ctx:
            _, loss = model(x, y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        print(f"iter {iter_num}: loss {loss.item():.4f}, lr {lr:.4f}")
        iter_num += 1
    losses = estimate_loss()
    print(f"step {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
    if losses["val"] < best:
        best = losses["val"]
    os.makedirs(args.out, exist_ok=True)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "model_args": model_args,
                "iter_num": iter_num, "best_val_loss": best, "config": config}, ckpt_path)


if __name__ == "__main__":
    main()
