"""The last check of what freeze writes: no token of a published format in it.

The checks of each input (the command, [env], the index URLs, the project's
files) refuse a credential with a message made for its place. This one reads
every string of the texts freeze is about to write, a manifest's keys as well
as its values, so that a token that came in some other way (a metric name, a
data file's name, a resolver's warning) is refused before anything is
written: the manifest goes into the image labels, the Dockerfile into the
build history, the lock into a layer. A secret freeze already shows as ***
is no token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from reprobox.config import ProjectConfig
from reprobox.credential_files import CREDENTIAL_NAME_WHAT, credential_name
from reprobox.credential_lines import published_token
from reprobox.errors import ConfigError, InputError
from reprobox.secret_shapes import shown_token, token_in_name

# The config key each manifest field is taken from, by the field's path
# without list indexes; the longest path that starts a field's path wins.
_CONFIG_KEYS = {
    "project.name": "name",
    "project.command": "command",
    "python": "python",
    "base_image": "base_image",
    "indexes.index_url": "packages.index_url",
    "indexes.extra_index_urls": "packages.extra_index_urls",
    "environment": "env",
    "data": "data",
    "metrics.compare": "metrics.compare",
    "metrics.tolerances": "metrics.tolerances",
}
_INDEX = re.compile(r"\[\d+\]")
# The string fields, by path without list indexes, that hold names (a file's,
# a metric's, the project's), not text: a token anywhere in one counts, as in
# a key (token_in_name), where text counts only a whole one.
_NAME_FIELDS = frozenset(
    {
        "project",  # a record's project name
        "project.name",
        "data.path",
        "metrics.compare",
        "compare_settings.compare",
        "published.ref",  # an image's name in a registry
        "image.ref",  # a record's name of the image that ran
    }
)
# The objects, by path without list indexes, whose keys are variable names:
# a record's options.env (--env), environment (the image's) and machine.env
# (the container's), a capture's env, a manifest's environment and host.env.
# A name there is judged as [env] and --env judge one (credential_name): the
# vendor shape counts too, not only a published format.
_ENV_NAME_MAPS = frozenset(
    {"options.env", "environment", "machine.env", "env", "host.env"}
)
TOKEN_WHAT = "a token of a published format (ghp_..., hf_..., AKIA...)"
_WHAT = TOKEN_WHAT


def token_fields(value: Any, path: str = "") -> Iterator[str]:
    """Yield the path of each string in value, keys included, holding a token.

    A path is written as the manifest's fields are named in messages
    (metrics.compare[0], data[0].path); a key that is itself a token is
    shown shortened, never whole.
    """
    yield from without_tokens(value, path)[1]


def without_tokens(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """Return value less each entry whose key or string holds a token, and
    the paths of those left out, named as token_fields names them.

    A key, or a string in one of _NAME_FIELDS, is a name: a token anywhere in
    it counts (loss_ghp_...), and a key of _ENV_NAME_MAPS is judged as a
    variable name (credential_name). Any other string is text, where only a whole
    token does. An object loses the key, a list the item; value itself, a
    string that holds a token, becomes None.
    """
    found: list[str] = []
    if isinstance(value, Mapping):
        env_names = _INDEX.sub("", path) in _ENV_NAME_MAPS
        kept_map = {}
        for key, item in value.items():
            key = str(key)
            token = credential_name(key) if env_names else token_in_name(key)
            shown = shown_token(key) if token else key
            here = f"{path}.{shown}" if path else shown
            if shown != key:
                found.append(here)
                continue
            inner, paths = without_tokens(item, here)
            if isinstance(item, str) and paths:
                found += paths
                continue
            kept_map[key] = inner
            found += paths
        return kept_map, found
    if isinstance(value, (list, tuple)):
        kept_list = []
        for at, item in enumerate(value):
            inner, paths = without_tokens(item, f"{path}[{at}]")
            found += paths
            if not (isinstance(item, str) and paths):
                kept_list.append(inner)
        return kept_list, found
    if isinstance(value, str):
        name = _INDEX.sub("", path) in _NAME_FIELDS
        if token_in_name(value) if name else published_token(value):
            return None, [path]
    return value, found


def token_line(text: str) -> int | None:
    """Return the number of the first line of text that holds a token, or None."""
    for number, line in enumerate(text.splitlines(), start=1):
        if published_token(line):
            return number
    return None


def refuse_frozen_tokens(
    cfg: ProjectConfig, manifest: Mapping[str, Any], texts: Mapping[str, str]
) -> None:
    """Refuse a token of a published format anywhere in what freeze would write.

    texts maps each file's name (Dockerfile, requirements.lock) to its text.

    A field taken from the project config is named by its key there first:
    base_image or the command also reach the Dockerfile, and the user's fix
    is in reprobox.toml, not in a generated line.
    """
    state = cfg.state_dir
    unplaced: list[str] = []
    for path in token_fields(manifest):
        field = _INDEX.sub("", path)
        known = [k for k in _CONFIG_KEYS if field == k or field.startswith(k + ".")]
        if not known:
            unplaced.append(path)
            continue
        raise ConfigError(
            cfg.source,
            cfg.key(_CONFIG_KEYS[max(known, key=len)]),
            f"the manifest's {path} would hold {_WHAT}, and with it the image "
            "labels; refused, nothing was written",
            "remove it there; pass a credential at run time with "
            "`reprobox run --env NAME`",
        )
    for name, text in texts.items():
        number = token_line(text)
        if number is not None:
            raise InputError(
                f"{state / name}: line {number} would hold {_WHAT}; refused, "
                "nothing was written",
                hint="remove the credential from the project config and "
                "requirements; pass it at run time with `reprobox run --env NAME`",
            )
    if unplaced:
        raise InputError(
            f"{state / 'manifest.json'}: the manifest's {unplaced[0]} would hold "
            f"{_WHAT}, and with it the image labels; refused, nothing was written",
            hint="find where it comes from (the requirements, this shell's "
            "variables) and remove it; pass a credential at run time with "
            "`reprobox run --env NAME`",
        )


def is_variable_name(path: str) -> bool:
    """Whether a path token_fields gave names a key of _ENV_NAME_MAPS."""
    field = _INDEX.sub("", path)
    return any(field.startswith(f"{names}.") for names in _ENV_NAME_MAPS)


def what_field_holds(path: str) -> str:
    """What a path token_fields gave holds, for a refusal: a variable's name
    is judged by credential_name, which counts a vendor's shape, so it is
    named in the words [env] and --env refuse such a name with."""
    if is_variable_name(path):
        return f"names a variable that is {CREDENTIAL_NAME_WHAT}"
    return f"holds {_WHAT}"


def refuse_record_tokens(record: Mapping[str, Any], where: str | Path) -> None:
    """Refuse a run record holding a token anywhere, before it is sealed.

    A seal writes the record into an image label, which a push sends to the
    registry, and export into the bundle. A record by this reprobox holds
    none (the runner leaves them out); one by an older reprobox, or edited,
    may.
    """
    for path in token_fields(record):
        what = what_field_holds(path)
        if is_variable_name(path):
            fix = "give the variable a plain name and the token as its value"
        else:
            fix = "a run now leaves such names out of its record"
        raise InputError(
            f"{where}: the record's field {path} {what}, which sealing would "
            "write into the image label and the bundle; refused, nothing was "
            "shared",
            hint=f"run `reprobox run` again ({fix}) and share that run, or give "
            "another with --reference",
        )
