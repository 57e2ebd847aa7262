"""Building a project's image for a command: the step that build, run and the
share commands take before they use the image.

The live build output, the error of a failed build and the build log kept
for it all go out with the project's index credentials hidden.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from reprobox.cli_interrupts import finished_step
from reprobox.cli_output import log_printer, say, warn
from reprobox.errors import BuildError, ReproboxError


@contextmanager
def build_secrets(cfg, ca_cert: Path | None) -> Iterator[dict]:
    """Yield the build's secret files (CA bundle, index settings), then delete them."""
    from reprobox.freeze import expanded_indexes
    from reprobox.lock import PackageIndexes

    secrets: dict[str, Path] = {}
    if ca_cert:
        secrets["ca_cert"] = ca_cert
    pip_env = PackageIndexes(*expanded_indexes(cfg, os.environ)).pip_env()
    if not pip_env:
        yield secrets
        return
    lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(pip_env.items())]
    # In memory, never on disk: a reprobox killed outright (SIGKILL) cannot
    # leave the index credentials behind in a temp file; the build CLI reads
    # the descriptor it inherits.
    fd = os.memfd_create("reprobox-pip-index", os.MFD_CLOEXEC)
    try:
        data = memoryview(("\n".join(lines) + "\n").encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
        secrets["pip_index"] = Path(f"/dev/fd/{fd}")
        yield secrets
    finally:
        os.close(fd)


def _build(cfg, engine, ca_cert: Path | None, force: bool = False, frozen=None):
    """Build the project's image, of frozen when a command loaded it already."""
    from reprobox.build import build_project
    from reprobox.freeze import resolve_ca_cert

    ca = resolve_ca_cert(str(ca_cert) if ca_cert else None, cfg, os.environ)
    echo = log_printer()
    scrub = _index_scrubber(cfg)

    def shown(line: str) -> None:
        if echo is not None:
            echo(scrub(line))

    # Secrets are made only if a build happens: an up-to-date image needs none.
    try:
        result = build_project(
            cfg,
            engine,
            secrets=lambda: build_secrets(cfg, ca),
            force=force,
            on_line=shown,
            on_note=lambda note: warn(note),
            on_info=say,
            on_built=finished_step("build"),
            frozen=frozen,
        )
    except ReproboxError as exc:
        lines = exc.build_log
        if lines is None:
            raise
        # pip echoes index URLs, and hides only their passwords: a token in a
        # URL's path (or a user-name token) would reach the terminal.
        exc.message = scrub(exc.message)
        if isinstance(exc, BuildError):
            exc.log_tail = scrub(exc.log_tail)
        kept = _keep_build_log(cfg, "\n".join(scrub(line) for line in lines))
        if kept:
            where = f"the whole build log is in {kept}"
            exc.hint = f"{exc.hint}; {where}" if exc.hint else where
        raise
    if result.built:
        from reprobox.build_failure import drop_build_log

        drop_build_log(cfg.state_dir)
    return result


def _keep_build_log(cfg, text: str) -> str | None:
    """Write a failed build's log (credentials hidden) into .reprobox/; say where."""
    from reprobox.build_failure import keep_build_log

    path, problem = keep_build_log(cfg.state_dir, text)
    if path is None:
        warn(problem)
        return None
    shown = os.path.relpath(path)
    return str(path) if shown.startswith("..") else shown


def _index_scrubber(cfg) -> Callable[[str], str]:
    """Return what hides the project's index credentials in build output.

    Made on first use: an up-to-date image needs no index variables at all.
    """
    indexes = None

    def scrub(text: str) -> str:
        nonlocal indexes
        if indexes is None:
            from reprobox.freeze import expanded_indexes, index_reference_values
            from reprobox.lock import PackageIndexes

            indexes = PackageIndexes(
                *expanded_indexes(cfg, os.environ),
                hidden=index_reference_values(cfg, os.environ),
            )
        return indexes.scrub(text)

    return scrub
