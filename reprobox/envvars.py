"""Which environment variables a frozen project carries, and which it never may."""

from __future__ import annotations

import re
from collections.abc import Mapping

from reprobox.config import ProjectConfig
from reprobox.errors import ConfigError

# Numerics settings copied from the freezing shell into the image: they changed
# the numbers the user saw. Thread counts and device masks describe the host,
# not the experiment, so they are recorded as host facts but not baked in.
BAKED_FROM_HOST = (
    "CUBLAS_WORKSPACE_CONFIG",
    "KERAS_BACKEND",
    "NVIDIA_TF32_OVERRIDE",
    "ONEDNN_MAX_CPU_ISA",
    "PYTHONHASHSEED",
    "TF_CUDNN_DETERMINISTIC",
    "TF_DETERMINISTIC_OPS",
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_XLA_FLAGS",
    "XLA_FLAGS",
)
# Strict: deterministic ops and no oneDNN graph rewrites. TensorFlow still runs
# its matrix products through oneDNN's GEMM, which picks kernels by the CPU's
# instruction set: measured here, an AVX2 cap against the AVX-512/AMX default
# moved the digits test loss by 1.4e-05. The cap makes CPUs of both kinds agree.
STRICT_ENV = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "TF_DETERMINISTIC_OPS": "1",
    "TF_ENABLE_ONEDNN_OPTS": "0",
}
FORBIDDEN = ("TF_USE_CUDNN_AUTOTUNE",)  # autotuning picks kernels by timing

_SECRET_PARTS = {
    "AUTH",
    "COOKIE",
    "CREDENTIAL",
    "CREDENTIALS",
    "KEY",
    "PASS",
    "PASSWD",
    "PASSWORD",
    "PAT",
    "PRIVATE",
    "PWD",
    "SECRET",
    "SESSION",
    "TOKEN",
    "APIKEY",
    "SIGNATURE",
}
_URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+(:[^/\s@]*)?@", re.I)


def looks_secret(name: str, value: str | None = None) -> bool:
    """Tell whether a variable looks like it holds a credential."""
    parts = set(re.split(r"[^A-Z0-9]+", name.upper()))
    if parts & _SECRET_PARTS:
        return True
    return bool(value and _URL_CREDENTIALS.search(value))


def frozen_environment(
    cfg: ProjectConfig, environ: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Return the variables the image sets, and warnings about skipped ones."""
    warnings: list[str] = []
    env = {name: environ[name] for name in BAKED_FROM_HOST if name in environ}
    for name in cfg.pass_env:
        if name not in environ:
            warnings.append(f"pass_env: {name} is not set here; it is not frozen")
            continue
        if looks_secret(name, environ[name]):
            warnings.append(
                f"pass_env: {name} looks like a secret and is never written; "
                "give it at run time with `reprobox run --env NAME`"
            )
            continue
        env[name] = environ[name]
    for name, value in cfg.env.items():
        if looks_secret(name, value):
            raise ConfigError(
                cfg.source,
                f"env.{name}",
                "looks like a secret and would be "
                "written into the manifest and the image",
                f"remove it; pass it at run time with `reprobox run --env {name}`",
            )
        env[name] = value
    if cfg.profile == "strict":
        env.update(STRICT_ENV)
    for name in FORBIDDEN:
        if name in env:
            warnings.append(
                f"{name} is never set by reprobox (it makes kernel "
                "choice depend on timing); dropped"
            )
            del env[name]
    return dict(sorted(env.items())), warnings
