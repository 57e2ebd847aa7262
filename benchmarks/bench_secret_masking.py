#!/usr/bin/env python3
"""Time hiding 5 secret --env values in 10 MB of training log, before and after.

"before" is the hider as it was up to commit bbd656a (each value and its URL
parts, case-sensitive, one chunk at a time); "after" is reprobox's own
(case-insensitive, with the quoted, escaped, hex and base64 forms, holding
back the end of a chunk that may begin a secret). Both run the runner's whole
loop per chunk: decode, hide, cut into lines. The engine sends a line per
chunk, and a line longer than 16 KiB in 16 KiB pieces; chunks of 16 and 64
KiB show the cost for text in large pieces.

usage: python benchmarks/bench_secret_masking.py [--mb 10] [-n 5]
"""

from __future__ import annotations

import argparse
import base64
import random
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reprobox.envvars import looks_secret  # noqa: E402
from reprobox.lock.indexes import secret_pieces  # noqa: E402
from reprobox.output_stream import ContainerOutput  # noqa: E402
from reprobox.secret_masking import hidden_forms  # noqa: E402

SECRETS = {
    "HF_TOKEN": "hf_Q7x9LmPz2KsT4vWbYc3dRe5fTg6hUj",
    "OPENAI_API_KEY": "sk-proj-4fGh7JkL9mNp2QrS5tUv8WxY1zA3bC6dE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "DATABASE_URL": "postgres://trainer:Pw9%2Fs3cr3t%40X@db.internal:5432/runs",
    "WANDB_API_KEY": "0123456789abcdef0123456789abcdef01234567",
}


def old_hider(env):
    """The hider of commit bbd656a, as it was."""
    hidden: set[str] = set()
    for name, value in env.items():
        if not looks_secret(name, value):
            continue
        if len(value) >= 4:
            hidden.add(value)
        hidden.update(
            piece
            for piece in secret_pieces(value, plain_users=False)
            if len(piece) >= 6
        )
    pattern = re.compile("|".join(map(re.escape, sorted(hidden, key=len)[::-1])))
    return lambda text: pattern.sub("***", text)


def make_log(size: int) -> bytes:
    """Return size bytes of Keras/tqdm-like lines, one in 500 leaking a secret."""
    rng = random.Random(7)
    token = SECRETS["HF_TOKEN"]
    leaks = [
        f"using token {token}",
        f"auth header Basic {base64.b64encode(f'user:{token}'.encode()).decode()}",
        f"key={SECRETS['OPENAI_API_KEY'].upper()}",
        f"dsn {quote(SECRETS['DATABASE_URL'], safe='')}",
        f"wandb {SECRETS['WANDB_API_KEY'].encode().hex()}",
    ]
    lines = []
    total = 0
    step = 0
    while total < size:
        step += 1
        if step % 500 == 0:
            line = rng.choice(leaks)
        elif step % 3 == 0:
            done = step % 100
            bar = "#" * (done // 10)
            line = f"\r{done:3d}%|{bar:10s}| {done}/100 [00:{done:02d}<00:10]"
        else:
            line = (
                f"{step}/10000 [====>.....] - ETA: 12s - loss: {rng.random():.4f} "
                f"- accuracy: {rng.random():.4f} - lr: 1.0e-04 "
                f"- sha {rng.getrandbits(64):016x}"
            )
        lines.append(line + "\n")
        total += len(lines[-1])
    return "".join(lines).encode()[:size]


def chunks_of(data: bytes, how: str) -> list[bytes]:
    if how == "line":
        return data.splitlines(keepends=True)
    size = {"16 KiB": 16384, "64 KiB": 65536}[how]
    return [data[i : i + size] for i in range(0, len(data), size)]


def run_before(chunks: list[bytes]) -> str:
    hide = old_hider(SECRETS)
    out = []
    for chunk in chunks:
        text = hide(chunk.decode("utf-8", errors="replace"))
        out.append(text)
        text.splitlines()
    return "".join(out)


def run_after(chunks: list[bytes]) -> str:
    output = ContainerOutput(SECRETS)
    out = []
    for chunk in chunks:
        out.append(output.feed(chunk)[0])
    out.append(output.finish()[0])
    return "".join(out)


def timed(func, chunks, n: int) -> tuple[float, float, float, str]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        result = func(chunks)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=10)
    parser.add_argument("-n", type=int, default=5)
    args = parser.parse_args()
    data = make_log(int(args.mb * 1024 * 1024))
    forms = len(hidden_forms(SECRETS))
    print(
        f"{len(data) / 2**20:.1f} MB of log, {len(SECRETS)} secrets "
        f"({forms} hidden forms after), Python {sys.version.split()[0]}, "
        f"median of {args.n}\n"
    )
    print(
        "| chunks | count | before | after | after/before "
        "| lines leaking, before | after |"
    )
    print("|---|---|---|---|---|---|---|")
    for how in ("line", "16 KiB", "64 KiB"):
        chunks = chunks_of(data, how)
        b_med, b_lo, b_hi, b_text = timed(run_before, chunks, args.n)
        a_med, a_lo, a_hi, a_text = timed(run_after, chunks, args.n)
        print(
            f"| {how} | {len(chunks)} | {b_med:.3f} s ({b_lo:.3f}–{b_hi:.3f}) "
            f"| {a_med:.3f} s ({a_lo:.3f}–{a_hi:.3f}) | {a_med / b_med:.2f}× "
            f"| {leaks(b_text)} | {leaks(a_text)} |"
        )
    return 0


def leaks(text: str) -> int:
    """Return how many lines still show a secret in a form make_log plants."""
    token = SECRETS["HF_TOKEN"]
    needles = (
        token,
        base64.b64encode(f"user:{token}".encode()).decode()[8:-4],
        SECRETS["OPENAI_API_KEY"].upper(),
        quote(SECRETS["DATABASE_URL"], safe=""),
        SECRETS["WANDB_API_KEY"].encode().hex(),
    )
    return sum(any(n in line for n in needles) for line in text.splitlines())


if __name__ == "__main__":
    raise SystemExit(main())
