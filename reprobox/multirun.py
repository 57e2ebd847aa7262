"""Several runs of one image: across engines, across seeds, or repeated.

Engines run side by side (one worker thread each); the runs on one engine go
one after another, so a seed sweep or a repeat never competes with itself for
CPUs. The main thread waits and, on Ctrl-C, SIGTERM, SIGHUP or SIGQUIT (Ctrl-\\),
removes every container.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from reprobox.engine import Engine
from reprobox.errors import InputError, Interrupted, ReproboxError
from reprobox.number_options import refuse_plus
from reprobox.run_folders import new_run_id
from reprobox.run_options import RunOptions, RunTarget
from reprobox.run_signals import arm_cancellation, cancel_all_runs
from reprobox.runner import run_in_container

MAX_RUNS = 1000


def parse_seeds(spec: str) -> list[int]:
    """Parse '0-4', '1,3,5' or '0-2,7' into a sorted list of seeds; refuse one
    given twice ('1,1', '0-2,1')."""
    seeds: set[int] = set()
    refuse_plus("--seeds", spec)  # as every number flag: --seed +3 is too
    for part in spec.split(","):
        # No blanks, as --seed takes none (' 2' is refused there); ASCII
        # digits only: \d takes any script's (٣), which --seed refuses.
        match = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", part)
        if not match and re.fullmatch(r"-[0-9]+(?:-[0-9]+)?", part):
            # A negative seed, in --seed's words: "-1" read as a broken range
            # ("is not N or N-M") told nothing of what was wrong.
            from reprobox.config import SEED_RANGE_FIX

            negative = "-" + part[1:].split("-")[0]
            raise InputError(
                f"--seeds {spec!r}: {negative} is out of range",
                hint=SEED_RANGE_FIX,
            )
        if not match:
            raise InputError(
                f"--seeds {spec!r}: {part!r} is not N or N-M",
                hint="e.g. --seeds 0-4 or --seeds 1,3,5",
            )
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low:
            raise InputError(
                f"--seeds {spec!r}: {part} runs backwards", hint=f"write {high}-{low}"
            )
        from reprobox.config import MAX_SEED, SEED_RANGE_FIX

        if high > MAX_SEED:
            # Before the count: 0-4294967296 is out of range, whatever its
            # length (brk r50 BU 8: it was "more than 1000 runs").
            raise InputError(
                f"--seeds {spec!r}: {high} is out of range", hint=SEED_RANGE_FIX
            )
        if high - low + len(seeds) >= MAX_RUNS:
            raise InputError(
                f"--seeds {spec!r} asks for more than {MAX_RUNS} runs",
                hint=f"give at most {MAX_RUNS} seeds, e.g. --seeds 0-9",
            )
        again = seeds.intersection(range(low, high + 1))
        if again:
            # Cut silently to one run, a repeated seed asked for a run it never got.
            raise InputError(
                f"--seeds {spec!r}: seed {min(again)} is given twice",
                hint="give each seed once; --repeat N runs each seed N times",
            )
        seeds.update(range(low, high + 1))
    return sorted(seeds)


@dataclass(frozen=True)
class RunJob:
    """One run to make: on which engine (by label) and with which options."""

    engine_label: str
    opts: RunOptions


def plan_jobs(
    engine_labels: Sequence[str],
    base: RunOptions,
    *,
    seeds: Sequence[int] | None,
    repeat: int,
) -> list[RunJob]:
    """Return every run to make, in order: engine, then seed, then repeat."""
    if repeat < 1:
        raise InputError(f"--repeat {repeat} is not a count", hint="give 1 or more")
    seed_list = list(seeds) if seeds else [base.seed]
    total = len(engine_labels) * len(seed_list) * repeat
    if total > MAX_RUNS:
        raise InputError(
            f"{len(engine_labels)} engine(s) x {len(seed_list)} seed(s) x --repeat "
            f"{repeat} make {total} runs, more than {MAX_RUNS}",
            hint="fewer seeds, repeats or engines",
        )
    jobs = []
    for label in engine_labels:
        # One sweep per engine: a band that pooled two machines would count the
        # machines' difference as seed noise and hide it.
        sweep = new_run_id() if seeds else None
        for seed in seed_list:
            for index in range(repeat):
                opts = replace(
                    base,
                    seed=seed,
                    seed_sweep=sweep,
                    repeat_index=index if repeat > 1 else None,
                )
                jobs.append(RunJob(engine_label=label, opts=opts))
    return jobs


@dataclass
class JobResult:
    """A finished job: its record, or the error that stopped it."""

    job: RunJob
    record: dict[str, Any] | None = None
    error: ReproboxError | None = None


def run_jobs(
    jobs: Sequence[RunJob],
    engines: dict[str, Engine],
    images: dict[str, tuple[str, str]],  # engine label -> (ref, id)
    *,
    target: RunTarget,
    manifest: dict[str, Any],
    manifest_sha256: str,
    on_log: Callable[[str, str], None] | None = None,
) -> list[JobResult]:
    """Run jobs, engines side by side; return results in job order."""
    arm_cancellation()
    results = [JobResult(job=job) for job in jobs]
    by_engine: dict[str, list[JobResult]] = {}
    for result in results:
        by_engine.setdefault(result.job.engine_label, []).append(result)

    def work(label: str) -> None:
        for result in by_engine[label]:
            ref, image = images[label]
            log = (lambda line, label=label: on_log(label, line)) if on_log else None
            try:
                result.record = run_in_container(
                    target,
                    engines[label],
                    image_ref=ref,
                    image_id=image,
                    manifest=manifest,
                    manifest_sha256=manifest_sha256,
                    opts=result.job.opts,
                    on_log=log,
                )
            except Interrupted as exc:
                result.record = exc.records[0] if exc.records else None
                raise
            except ReproboxError as exc:
                result.error = exc

    stopping = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
    previous = {sig: signal.getsignal(sig) for sig in stopping}

    def on_term(signum, frame):
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        for sig in stopping:
            signal.signal(sig, on_term)
    pool = ThreadPoolExecutor(max_workers=len(by_engine), thread_name_prefix="run")
    try:
        futures = [pool.submit(work, label) for label in by_engine]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()
    except KeyboardInterrupt:
        cancel_all_runs()
        pool.shutdown(wait=True, cancel_futures=True)
        raise Interrupted(
            "runs interrupted; every container was removed",
            records=[r.record for r in results if r.record is not None],
        ) from None
    finally:
        pool.shutdown(wait=True)
        if in_main:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return results
