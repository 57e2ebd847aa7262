"""Builds: rebuild after a code-only change, cold builds and image size.

The alternative is benchmarks/handwritten/Dockerfile: copy the project, then
pip-install its requirements. Cold builds run on the shared engine without
pruning its cache: each gets a base image of its own (reprobox-base plus a
a layer of its own, so no layer of any earlier build matches), and the cold-pip
variant of reprobox's Dockerfile gets a pip cache mount of its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench_common import (
    BASE, CA, REPO, WORK, Row, cache_record_ids, clock, docker_build,
    fmt_times, image_size, median, met, nonce, prune_records, remove_images, sh,
)

HANDWRITTEN = Path(__file__).resolve().parent / "handwritten" / "Dockerfile"
PROJECT = WORK / "digits"
CODE_EDIT = "\n# benchmark edit {}\n"


def prepare_project() -> Path:
    """Copy examples/digits to the work folder and freeze it (kept between runs)."""
    source = REPO / "examples" / "digits"
    PROJECT.mkdir(parents=True, exist_ok=True)
    for name in ("reprobox.toml", "requirements.txt", "train.py"):
        shutil.copy2(source / name, PROJECT / name)
    reprobox(["freeze", "--ca-cert", CA, "."])
    return PROJECT


def reprobox(args, *, cwd: Path = PROJECT, check=True, env=None):
    return sh(["reprobox", "-q", *args], cwd=cwd, check=check, env=env)


def build_tag() -> str:
    """Build the project with reprobox; return the image tag."""
    out = reprobox(["build", "--ca-cert", CA, "--json", "."]).stdout
    import json

    return json.loads(out)["tag"]


def _handwritten_context(edit: str = "") -> Path:
    context = WORK / "handwritten-context"
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    for name in ("requirements.txt", "train.py"):
        shutil.copy2(PROJECT / name, context / name)
    (context / "train.py").write_text((PROJECT / "train.py").read_text() + edit)
    return context


def build_handwritten(tag: str) -> Path:
    """Build the hand-written image of the unedited project; return its context."""
    context = _handwritten_context()
    docker_build(context, HANDWRITTEN, tag)
    return context


def bench_rebuild(n_reprobox: int, n_hand: int) -> tuple[Row, list[str]]:
    """Time a rebuild after editing train.py only, reprobox vs hand-written."""
    original = (PROJECT / "train.py").read_text()
    base_tag = build_tag()
    before = cache_record_ids()
    build_handwritten("bench-hw:base")
    made, ours, theirs = [], [], []
    try:
        for _ in range(n_reprobox):
            (PROJECT / "train.py").write_text(original + CODE_EDIT.format(nonce()))
            ours.append(clock(lambda: made.append(build_tag())))
        for i in range(n_hand):
            context = _handwritten_context(CODE_EDIT.format(nonce()))
            theirs.append(clock(lambda: docker_build(context, HANDWRITTEN,
                                                     f"bench-hw:edit{i}")))
    finally:
        (PROJECT / "train.py").write_text(original)
        remove_images(*[t for t in made if t != base_tag],
                      *[f"bench-hw:edit{i}" for i in range(n_hand)])
        prune_records(cache_record_ids() - before)
    ratio = median(theirs) / median(ours)
    row = Row("rebuild after a code-only change", fmt_times(ours), fmt_times(theirs),
              f"{ratio:.0f}× faster", "≤ 1 s, ≥ 50× faster",
              met(median(ours) <= 1.0 and ratio >= 50))
    return row, [base_tag]


def _unique_base(tag: str) -> None:
    folder = WORK / "unique-base"
    folder.mkdir(parents=True, exist_ok=True)
    # A label alone is not enough: BuildKit keys the cache on the base's layers.
    (folder / "Dockerfile").write_text(
        f"FROM {BASE}\nRUN echo {tag} > /etc/bench-nonce\n")
    docker_build(folder, folder / "Dockerfile", tag)


def _reprobox_cold(base: str, pip_cache_id: str | None, tag: str) -> None:
    """Stage and build reprobox's context as reprobox does, on a unique base."""
    import os

    from reprobox.build import image_labels, staged_context
    from reprobox.config import load_config
    from reprobox.engine import build_image, connect
    from reprobox.manifest import load_frozen

    cfg = load_config(PROJECT)
    frozen = load_frozen(cfg)
    with staged_context(cfg, frozen) as ctx:
        dockerfile = ctx.path / "Dockerfile"
        text = dockerfile.read_text().replace(f"FROM {cfg.base_image}", f"FROM {base}")
        if pip_cache_id:
            text = text.replace("--mount=type=cache,target=/root/.cache/pip",
                                f"--mount=type=cache,id={pip_cache_id},"
                                "target=/root/.cache/pip")
        dockerfile.write_text(text)
        saved = {k: os.environ.pop(k) for k in list(os.environ)
                 if k.startswith(("PIP_", "DOCKER_"))}
        try:
            build_image(connect(), ctx.path, tag,
                        labels=image_labels(frozen, ctx.digest, ctx.code),
                        secrets={"ca_cert": Path(CA)})
        finally:
            os.environ.update(saved)


def bench_cold(n: int) -> list[Row]:
    """Cold builds (no layer cache), reprobox with warm and cold pip cache."""
    times = {"warm": [], "cold": [], "hand": []}
    before = cache_record_ids()
    for _ in range(n):
        key = nonce()
        base = f"bench-base:{key}"
        tags = {k: f"bench-cold-{k}:{key}" for k in times}
        _unique_base(base)
        try:
            times["cold"].append(clock(
                lambda: _reprobox_cold(base, f"bench-pip-{key}", tags["cold"])))
            remove_images(tags["cold"])
            # Same pip cache mount, now filled; a fresh base so no layer matches.
            _unique_base(base + "w")
            times["warm"].append(clock(
                lambda: _reprobox_cold(base + "w", f"bench-pip-{key}", tags["warm"])))
            context = _handwritten_context()
            (WORK / "hw-cold.Dockerfile").write_text(
                HANDWRITTEN.read_text().replace(f"FROM {BASE}", f"FROM {base}"))
            times["hand"].append(clock(lambda: docker_build(
                context, WORK / "hw-cold.Dockerfile", tags["hand"])))
        finally:
            remove_images(*tags.values(), base, base + "w")
            prune_records(cache_record_ids() - before)
    hand = median(times["hand"])
    rows = []
    for key, label in (("cold", "cold pip cache"), ("warm", "warm pip cache")):
        ratio = median(times[key]) / hand
        rows.append(Row(f"cold build, empty layer cache, {label}", fmt_times(times[key]),
                        fmt_times(times["hand"]), f"{ratio:.2f}×", "not slower (≤ 1.0×)",
                        met(ratio <= 1.0)))
    return rows


def size_row(reprobox_ref: str, hand_ref: str) -> Row:
    """Compare image sizes of the same project."""
    ours, theirs = image_size(reprobox_ref), image_size(hand_ref)
    ratio = ours / theirs
    return Row("image size", f"{ours / 1e9:.3f} GB", f"{theirs / 1e9:.3f} GB",
               f"{ratio:.3f}×", "≤ 0.9×", met(ratio <= 0.9))

