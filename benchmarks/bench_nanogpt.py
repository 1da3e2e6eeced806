"""nanoGPT's CPU recipe, unmodified, under PyTorch and under distgrad: loss curves and time per iteration.

Runs karpathy/nanoGPT's ``train.py`` twice from a checkout you give it, once with the
real PyTorch and once through ``python -m distgrad.run`` (the torch alias), with the
README's CPU recipe and ``--max_iters`` iterations, each with one thread.  The two runs
draw different random numbers (initial weights, batches), so the script compares the
curves, not single losses: both are smoothed over ``--window`` iterations and the
largest relative gap after the first window is reported, with the mean time per
iteration of each.  It writes the curves as CSV and as an SVG plot.

    python benchmarks/bench_nanogpt.py --nanogpt /path/to/nanoGPT --iters 200 --out docs

The checkout needs ``data/shakespeare_char/{train,val}.bin`` (its ``prepare.py`` makes
them from ``input.txt``; pytorch/examples ships that file as
``distributed/minGPT-ddp/mingpt/data/input.txt``).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

RECIPE = ["config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
          "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4", "--n_embd=128",
          "--lr_decay_iters=2000", "--dropout=0.0"]
LINE = re.compile(r"^iter (\d+): loss ([\d.]+), time ([\d.]+)ms", re.M)


def run(nanogpt, iters, through_distgrad, out_dir):
    cmd = [sys.executable] + (["-m", "distgrad.run"] if through_distgrad else []) + ["train.py"] + RECIPE + [
        f"--max_iters={iters}", f"--eval_interval={max(iters // 2, 1)}", f"--out_dir={out_dir}"]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=nanogpt, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    rows = [(int(i), float(loss), float(ms)) for i, loss, ms in LINE.findall(proc.stdout)]
    if len(rows) < iters:
        raise SystemExit(f"expected {iters} iteration lines, got {len(rows)}:\n{proc.stdout[-2000:]}")
    return rows, " ".join(cmd)


def smooth(values, window):
    out = []
    for i in range(len(values)):
        part = values[max(0, i - window + 1):i + 1]
        out.append(sum(part) / len(part))
    return out


def svg(curves, path, width=640, height=360, pad=48):
    """A line plot of ``{label: (colour, [loss per iteration])}``, written by hand (no plotting library)."""
    n = max(len(v) for _, v in curves.values())
    lo = min(min(v) for _, v in curves.values())
    hi = max(max(v) for _, v in curves.values())

    def xy(i, y):
        return pad + (width - 2 * pad) * i / max(n - 1, 1), height - pad - (height - 2 * pad) * (y - lo) / (hi - lo)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             'font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>']
    for k in range(5):
        y = lo + (hi - lo) * k / 4
        _, py = xy(0, y)
        parts.append(f'<text x="{pad - 6}" y="{py + 4:.1f}" text-anchor="end">{y:.2f}</text>')
        i = round((n - 1) * k / 4)
        px, _ = xy(i, lo)
        parts.append(f'<text x="{px:.1f}" y="{height - pad + 16}" text-anchor="middle">{i}</text>')
    parts.append(f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">iteration</text>')
    parts.append(f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" '
                 'text-anchor="middle">training loss</text>')
    for row, (label, (colour, values)) in enumerate(curves.items()):
        points = " ".join("%.1f,%.1f" % xy(i, v) for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        parts.append(f'<text x="{width - pad - 4}" y="{pad + 16 * row}" text-anchor="end" fill="{colour}">'
                     f'{label}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nanogpt", required=True, help="a checkout of karpathy/nanoGPT with shakespeare_char prepared")
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--window", type=int, default=20)
    p.add_argument("--out", default=None, help="folder for nanogpt_loss.csv and nanogpt_loss.svg")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        theirs, cmd_t = run(args.nanogpt, args.iters, False, os.path.join(tmp, "torch"))
        ours, cmd_d = run(args.nanogpt, args.iters, True, os.path.join(tmp, "distgrad"))
    lt, ld = [r[1] for r in theirs[:args.iters]], [r[1] for r in ours[:args.iters]]
    st, sd = smooth(lt, args.window), smooth(ld, args.window)
    gaps = [abs(a - b) / b for a, b in zip(sd[args.window:], st[args.window:])]
    ms_t = sum(r[2] for r in theirs[1:args.iters]) / (args.iters - 1)  # iteration 0 includes start-up
    ms_d = sum(r[2] for r in ours[1:args.iters]) / (args.iters - 1)
    print(f"PyTorch:  {cmd_t}\ndistgrad: {cmd_d}\n")
    print(f"{'iter':>5} {'PyTorch':>9} {'distgrad':>9}   (losses smoothed over {args.window} iterations)")
    for i in range(0, args.iters, max(args.iters // 10, 1)):
        print(f"{i:>5} {st[i]:>9.4f} {sd[i]:>9.4f}")
    print(f"{args.iters - 1:>5} {st[-1]:>9.4f} {sd[-1]:>9.4f}")
    print(f"\nlargest relative gap of the smoothed curves after iteration {args.window}: {max(gaps):.2%}")
    print(f"time per iteration (excluding iteration 0, evaluations in nanoGPT's own timing): PyTorch {ms_t:.1f} ms, "
          f"distgrad {ms_d:.1f} ms, ratio {ms_d / ms_t:.2f}x")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "nanogpt_loss.csv"), "w") as f:
            f.write("iter,pytorch_loss,distgrad_loss\n")
            f.writelines(f"{i},{a},{b}\n" for i, (a, b) in enumerate(zip(lt, ld)))
        svg({"PyTorch 2.13 (raw)": ("#999999", lt), "distgrad (raw)": ("#f4a582", ld),
             f"PyTorch, mean of {args.window}": ("#000000", st), f"distgrad, mean of {args.window}": ("#ca0020", sd)},
            os.path.join(args.out, "nanogpt_loss.svg"))
    return max(gaps)


if __name__ == "__main__":
    main()
