"""Read and check a project's reprobox config.

A project is a folder with `reprobox.toml`, or a `pyproject.toml` holding a
`[tool.reprobox]` table (config_files.py finds and reads it). Every key is
checked here: an unknown key or a wrong type is a ConfigError naming the
file, the key and the fix.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprobox.atomic import dump_json
from reprobox.config_command import checked_command
from reprobox.config_env import checked_env
from reprobox.config_files import find_config
from reprobox.config_metrics import Tolerance, checked_metrics
from reprobox.config_paths import checked_data_file, inside_project
from reprobox.config_values import check_keys, string_list, unique_items
from reprobox.cpu_limits import MAX_CPUS, MIN_CPUS, cpus_out_of_range
from reprobox.data_checks import refuse_data_the_image_needs
from reprobox.errors import ConfigError
from reprobox.index_urls import IndexUrlError, checked_index_url
from reprobox.lock.requirements_file import PYPROJECT, pyproject_declares_dependencies
from reprobox.run_env import check_env_kept_by_run
from reprobox.secret_shapes import token_in_name

DEFAULT_BASE_IMAGE = "python:{python}-slim-bookworm"
PROFILES = ("default", "strict")
RESOLVERS = ("uv", "pip-compile")
NETWORKS = ("bridge", "none")
# Pythons that wheels are published for, old and new: the lock resolves for it.
MIN_PYTHON_MINOR, MAX_PYTHON_MINOR = 8, 14
_PY_VERSION = re.compile(r"3\.(0|[1-9][0-9]?)")  # no leading zero: "3.08"
_IMAGE_REF = re.compile(
    r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?"
)
MAX_SEED = 2**32 - 1  # NumPy and Keras refuse larger seeds
# How every place a seed is given says the range (Python's random takes any
# integer: it is NumPy and Keras that refuse; brk r49 BS 5).
SEED_RANGE_FIX = f"use 0 to {MAX_SEED}; NumPy and Keras refuse others"


@dataclass(frozen=True)
class ProjectConfig:
    """A checked project config; paths are relative to `root`."""

    root: Path
    source: Path
    name: str
    command: tuple[str, ...]
    python: str = "3.11"
    base_image: str = ""
    seed: int | None = None
    profile: str = "default"
    data: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    pass_env: tuple[str, ...] = ()
    requirements: str | None = None
    from_env: bool = False
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    resolver: str = "uv"
    ca_cert: str | None = None
    slim: bool = True
    cpus: float | None = None
    network: str = "bridge"
    compare_metrics: tuple[str, ...] = ()
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    digest: str = ""  # sha256 of the settings as read, to spot edits after freeze

    def key(self, name: str) -> str:
        """Return a config key as the user wrote it: under tool.reprobox in a
        pyproject.toml."""
        return config_key(self.source, name)

    @property
    def state_dir(self) -> Path:
        """Return the folder where reprobox keeps its files for this project."""
        return self.root / ".reprobox"


# key -> (types accepted, what to write instead)
_TOP = {
    "name": (str, 'a string, e.g. name = "digits"'),
    "command": ((str, list), 'a string or list, e.g. command = "python train.py"'),
    "python": (str, 'a version string, e.g. python = "3.11"'),
    "base_image": (str, 'an image reference, e.g. base_image = "python:3.11-slim"'),
    "seed": (int, "an integer, e.g. seed = 42"),
    "profile": (str, 'one of "default", "strict"'),
    "data": (list, 'a list of paths, e.g. data = ["data/train.csv"]'),
    "env": (dict, 'a table, e.g. [env] TF_ENABLE_ONEDNN_OPTS = "0"'),
    "pass_env": (list, 'a list of variable names, e.g. pass_env = ["MY_FLAG"]'),
    "packages": (dict, "a table [packages]"),
    "build": (dict, "a table [build]"),
    "run": (dict, "a table [run]"),
    "metrics": (dict, "a table [metrics]"),
}
_PACKAGES = {
    "requirements": (str, 'a path, e.g. requirements = "requirements.txt"'),
    "from_env": (bool, "true or false"),
    "index_url": (str, "an index URL"),
    "extra_index_urls": (list, "a list of index URLs"),
    "resolver": (str, 'one of "uv", "pip-compile"'),
}
_BUILD = {
    "ca_cert": (str, "a path to a PEM CA bundle"),
    "slim": (bool, "true or false"),
}
_RUN = {
    "cpus": ((int, float), "a number of CPUs, e.g. cpus = 1.5"),
    "network": (str, 'one of "bridge", "none"'),
}
_METRICS = {
    "compare": (list, 'a list of metric names, e.g. compare = ["test_accuracy"]'),
    "tolerances": (dict, "a table of name = { abs = 0.01, rel = 0.001 }"),
}


def config_key(source: Path, name: str) -> str:
    """Return key name as written in source: tool.reprobox.NAME in a pyproject."""
    in_pyproject = Path(source).name == PYPROJECT
    return f"tool.reprobox.{name}" if in_pyproject else name


def load_config(project: str | Path) -> ProjectConfig:
    """Load and check the config of the project folder."""
    root = Path(project).resolve()
    path, table = find_config(root)
    try:
        return _checked_config(root, path, table)
    except ConfigError as exc:
        if path.name != PYPROJECT or not exc.key or exc.key.startswith("tool."):
            raise
        # The checks name keys inside the table; in a pyproject it sits under
        # [tool.reprobox], which is what the user searches the file for.
        head = ConfigError(path, exc.key, "").message
        raise ConfigError(
            path, config_key(path, exc.key), exc.message[len(head) :], exc.hint
        ) from None


def _checked_config(root: Path, path: Path, table: dict[str, Any]) -> ProjectConfig:
    """Build the ProjectConfig from table, one step per setting or section.

    With several faults the first refused is the one reported, so the steps
    keep their order.
    """
    check_keys(path, "", table, _TOP)
    packages = table.get("packages", {})
    build = table.get("build", {})
    run = table.get("run", {})
    metrics = table.get("metrics", {})
    check_keys(path, "packages.", packages, _PACKAGES)
    check_keys(path, "build.", build, _BUILD)
    check_keys(path, "run.", run, _RUN)
    check_keys(path, "metrics.", metrics, _METRICS)

    command = checked_command(path, table)

    python = _checked_python(path, table)

    profile = table.get("profile", "default")
    if profile not in PROFILES:
        raise ConfigError(
            path, "profile", f"{profile!r} is unknown", 'use "default" or "strict"'
        )

    for key in ("name", "base_image"):
        if key in table and not table[key].strip():
            raise ConfigError(
                path, key, "is empty", f"remove the {key} line to use the default"
            )
    name = _checked_name(path, root, table)

    env, pass_env = checked_env(path, table)

    data = tuple(
        sorted(
            {
                checked_data_file(path, root, item)
                for item in unique_items(
                    path, "data", string_list(path, "data", table.get("data", []))
                )
            }
        )
    )

    requirements, from_env = _checked_requirements(path, root, packages)
    needed: dict[str, str] = {}
    if requirements:
        needed[requirements] = "the requirements file the lock is made from"
    refuse_data_the_image_needs(path, data, command, needed)

    resolver = packages.get("resolver", "uv")
    if resolver not in RESOLVERS:
        raise ConfigError(
            path,
            "packages.resolver",
            f"{resolver!r} is unknown",
            'use "uv" or "pip-compile"',
        )
    network = run.get("network", "bridge")
    if network not in NETWORKS:
        raise ConfigError(
            path, "run.network", f"{network!r} is unknown", 'use "bridge" or "none"'
        )
    cpus = run.get("cpus")
    if cpus is not None and not (MIN_CPUS <= cpus < MAX_CPUS):
        why, fix = cpus_out_of_range(cpus)
        raise ConfigError(path, "run.cpus", f"{cpus} {why}", f"{fix}, e.g. cpus = 1")
    seed = table.get("seed")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ConfigError(
            path,
            "seed",
            f"{seed} is out of range",
            SEED_RANGE_FIX,
        )
    # What the profile or the seed fixes may not be set here too: the manifest
    # would state a value the run does not get.
    check_env_kept_by_run(path, env, profile=profile, seed=seed, pass_env=pass_env)
    base_image = table.get("base_image") or DEFAULT_BASE_IMAGE.format(python=python)
    if not _IMAGE_REF.fullmatch(base_image):
        raise ConfigError(
            path,
            "base_image",
            f"{base_image!r} is not an image reference",
            'e.g. base_image = "python:3.11-slim-bookworm"',
        )

    compare_metrics, tolerances = checked_metrics(path, metrics)

    return ProjectConfig(
        digest=hashlib.sha256(dump_json(table).encode("utf-8")).hexdigest(),
        root=root,
        source=path,
        name=name.lower(),
        command=command,
        python=python,
        base_image=base_image,
        seed=seed,
        profile=profile,
        data=data,
        env=env,
        pass_env=pass_env,
        requirements=requirements,
        from_env=from_env,
        index_url=(
            _check_index_url(path, "packages.index_url", packages["index_url"])
            if packages.get("index_url")
            else None
        ),
        extra_index_urls=tuple(
            _check_index_url(path, "packages.extra_index_urls", url)
            for url in string_list(
                path, "packages.extra_index_urls", packages.get("extra_index_urls", [])
            )
        ),
        resolver=resolver,
        ca_cert=build.get("ca_cert"),
        slim=build.get("slim", True),
        cpus=float(cpus) if cpus is not None else None,
        network=network,
        compare_metrics=compare_metrics,
        tolerances=tolerances,
    )


def _checked_python(path: Path, table: dict[str, Any]) -> str:
    """Return the config's Python as major.minor, one that wheels are built for."""
    python = table.get("python", "3.11")
    if not _PY_VERSION.fullmatch(python):
        written = re.fullmatch(r"3\.0*([0-9]{1,2})", python)
        raise ConfigError(
            path,
            "python",
            f"{python!r} is not major.minor",
            f'write "3.{int(written[1])}"' if written else 'e.g. "3.11"',
        )
    minor = int(python.split(".")[1])
    if not MIN_PYTHON_MINOR <= minor <= MAX_PYTHON_MINOR:
        raise ConfigError(
            path,
            "python",
            f"{python!r} is not a Python that packages are built for",
            f"use 3.{MIN_PYTHON_MINOR} to 3.{MAX_PYTHON_MINOR}",
        )
    return python


_TOKEN_AS_NAME = (
    "holds what looks like a token of a published format, which would name "
    "the image, its labels and every registry it is pushed to"
)
_OTHER_NAME = 'give the project another name, e.g. name = "my-model"'


def _checked_name(path: Path, root: Path, table: dict[str, Any]) -> str:
    """Return the name the image takes: the config's, else the folder's."""
    # Docker's grammar for one component of a repository name.
    component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    # A name made from a token would give it away lower-cased: none is offered.
    if "name" in table and token_in_name(table["name"]):
        raise ConfigError(path, "name", _TOKEN_AS_NAME, _OTHER_NAME)
    if "name" not in table and token_in_name(root.name):
        raise ConfigError(
            path,
            None,
            "sets no name, and the folder's name " + _TOKEN_AS_NAME,
            'add a name of your own, e.g. name = "my-model"',
        )
    if "name" in table and table["name"] != table["name"].lower():
        raise ConfigError(
            path,
            "name",
            f"{table['name']!r} has capitals; Docker image names are lower-case",
            f'use name = "{_image_name_like(table["name"])}"',
        )
    name = table.get("name") or root.name  # a folder name is lower-cased for you
    if "name" not in table and not (
        len(name) <= 63 and re.fullmatch(component, name.lower())
    ):
        # The name comes from the folder: say so, and offer one that works.
        raise ConfigError(
            path,
            None,
            f"sets no name, and the folder name {root.name!r} cannot name an image",
            f'add name = "{_image_name_like(root.name)}"',
        )
    if len(name) > 63:
        raise ConfigError(
            path,
            "name",
            f"{name[:20]!r}... is {len(name)} characters; Docker allows 63",
            "use a shorter name",
        )
    if not re.fullmatch(component, name.lower()):
        raise ConfigError(
            path,
            "name",
            f"{name!r} cannot name an image: Docker wants letters and digits, "
            "parted by single '.', '-' or '_' (or '__'), and no mark at either end",
            "use letters, digits, '.', '_' or '-' between them",
        )
    return name


def _image_name_like(folder: str) -> str:
    """Return an image name close to folder: lower-case, other runs as one '-'."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.lower()).strip("-")[:63].strip("-")
    return name or "project"


def _checked_requirements(
    path: Path, root: Path, packages: dict[str, Any]
) -> tuple[str | None, bool]:
    """Return the requirements file the lock is made from, and from_env."""
    from_env = packages.get("from_env", False)
    requirements = packages.get("requirements")
    not_a_list = ("a requirements file is one file", "name the file itself")
    if requirements is not None:
        requirements = inside_project(
            path, root, "packages.requirements", requirements, True, not_a_list
        )
    elif not from_env and os.path.lexists(root / "requirements.txt"):
        # Taken by default: one there that is no file (a folder, a FIFO, a
        # broken link) is said to be so, not "no requirements file".
        requirements = inside_project(
            path,
            root,
            "packages (requirements.txt, taken by default)",
            "requirements.txt",
            True,
            (not_a_list[0], 'set packages.requirements = "<its file>", or rename it'),
        )
    elif not from_env and pyproject_declares_dependencies(root / PYPROJECT):
        requirements = PYPROJECT
    if requirements and from_env:
        raise ConfigError(
            path, "packages", "sets both requirements and from_env", "choose one"
        )
    return requirements, from_env


def _check_index_url(path: Path, key: str, url: str) -> str:
    """Return url checked as written, its scheme in lower case; else refuse it."""
    try:
        return checked_index_url(url)
    except IndexUrlError as exc:
        raise ConfigError(path, key, exc.problem, exc.fix) from None
