"""The files that describe the project: pyproject.toml, setup.cfg, the
requirements and a README.

pip, the build backend and the training code read them in the image (`pip
install .`, a version read from setup.cfg), so they go in whatever they hold:
they are never left out as credential files by their text, though their
settings read like a .env's (`google-auth = "^2.0"` under a poetry
dependencies table names a secret's word). A credential on one of their lines
is refused at freeze and build instead (image_inputs); a setting among those
lines, commented out or not, quoted or not, is judged as code's assignment
is: a secret's name and a random value (code_assignments.secret_value_for).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reprobox.code_assignments import secret_value_for

# Project metadata that pip or a build backend reads, by name.
_METADATA_NAMES = frozenset(("pyproject.toml", "setup.cfg"))
# Requirements and constraints files, as projects name them: requirements.txt,
# requirements-dev.txt, requirements_gpu.in, constraints.txt.
_REQUIREMENTS_NAME = re.compile(r"(?:requirements|constraints)([\w.-]*)\.(?:txt|in)")
# One setting on a line of INI or TOML, or a requirements comment: name = value
# or name: value, the line commented out or not, the value one word, quoted
# or not, a comment after it. A requirement (six==1.17, attrs>=23) compares:
# its = stands beside another =, <, > or !.
_SETTING_LINE = re.compile(
    r"""[ \t]*(?:[#;]+[ \t]*)?(["']?)([A-Za-z_][\w.-]*)\1[ \t]*"""
    r"""(?<![=<>!~])[=:](?![=:])[ \t]*(["']?)([^\s"'#;,]+)\3[ \t]*,?"""
    r"""(?:[ \t]+[#;].*)?"""
)
_LINE = re.compile(r"[^\r\n]+")


def metadata_file_name(name: str) -> bool:
    """Tell whether a file's name makes it the project's own metadata."""
    lower = name.lower()
    return (
        lower in _METADATA_NAMES
        or lower.startswith("readme")
        or _REQUIREMENTS_NAME.fullmatch(lower) is not None
    )


def metadata_setting_secrets(text: str) -> Iterator[str]:
    """Yield the random values that settings on text's lines give secret names.

    `api_key = Kq8v...` in setup.cfg, `# password: Kq8v...` in a requirements
    comment, `token = "..."` in pyproject.toml. A name that names no secret,
    or a value that reads as a word, version, module or path, is none.
    """
    for line in _LINE.finditer(text):
        setting = _SETTING_LINE.fullmatch(line.group())
        if setting is None:
            continue
        name, value = setting.group(2, 4)
        if secret_value_for(name, value):
            yield value
