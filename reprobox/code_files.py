"""Files that are code by their name or their first lines, though no suffix says so.

A Makefile's `train:` rule and its `\tTWINE_PASSWORD=X twine upload` recipe
read like a settings file's section and an indented value; a Dockerfile, a
justfile or a script with a shebang may too. Such a file is never a
credential file (left out, `make train` would find no Makefile): a credential
on one of its lines is refused on that line instead (image_inputs).
"""

from __future__ import annotations

import re

# Build and task files named without a suffix that tells their language.
_CODE_NAMES = frozenset(
    (
        "makefile",
        "gnumakefile",
        "dockerfile",
        "containerfile",
        "justfile",
        ".justfile",
        "jenkinsfile",
        "vagrantfile",
        "snakefile",
        "rakefile",
        "procfile",
    )
)
_CODE_NAME_SUFFIXES = (".mk", ".mak", ".dockerfile", ".containerfile", ".just")
# Dockerfile.dev, Makefile.gpu: a build file's name with a variant after it.
_CODE_NAME_STEMS = ("makefile.", "dockerfile.", "containerfile.", "justfile.")
# A make or just rule and the first line of its recipe, indented by a tab:
# YAML allows no tabs for indentation, and a settings file has no recipe.
_RULE_WITH_RECIPE = re.compile(
    rb"(?:^|\n)[A-Za-z0-9_./%$(){}-][^:=\n#]*::?(?![=:])[^=\n]*\r?\n\t[^\s]"
)
# A Dockerfile's first instruction, after comments and parser directives.
_DOCKERFILE_START = re.compile(rb"(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*FROM[ \t]+\S")


def code_file_name(name: str) -> bool:
    """Tell whether a file's name makes it a build or task file: code."""
    lower = name.lower()
    return (
        lower in _CODE_NAMES
        or lower.endswith(_CODE_NAME_SUFFIXES)
        or lower.startswith(_CODE_NAME_STEMS)
    )


def code_text(head: bytes) -> bool:
    """Tell whether a file's first bytes are code: a shebang, a make rule with
    its recipe, or a Dockerfile's FROM."""
    return bool(
        head.startswith(b"#!")
        or _RULE_WITH_RECIPE.search(head)
        or _DOCKERFILE_START.match(head)
    )
