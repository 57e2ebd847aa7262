"""Settings files (dotenv, INI, YAML, TOML) that write out a secret.

A settings file is one made only of settings, comments and structure: code and
prose have other lines. Such a file holds a credential when one of its settings
gives a secret's name a value written out, not a reference to one kept elsewhere.
"""

from __future__ import annotations

import re

from reprobox.envvars import looks_secret, secret_setting_name

# dotenv: NAME=value, "export" allowed, no space before the "=".
_DOTENV_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)=(.*)")
# INI, YAML, TOML and the like: name = value, name: value, "name": value.
_SETTING_LINE = re.compile(r"""["']?([A-Za-z_][\w.-]*)["']?\s*[=:]\s*(.*)""")
# npm's per-registry login: //host/path/:_authToken=X, _auth= or _password=.
_NPM_AUTH_LINE = re.compile(r"//[^\s=]*:(?:_authToken|_auth|_password)\s*=(.*)")
# A YAML list item: "- x".
_LIST_ITEM = re.compile(r"-\s+(\S.*)")
# Lines of such files that set nothing: [section], ---, a list item, "name:".
_STRUCTURE_LINE = re.compile(r"\[.*\]|---|\.\.\.|-(?:\s.*)?|[\w.-]+\s*:")
# A reference to a value kept elsewhere: ${NAME}, $NAME, %(name)s, {{ name }},
# or a placeholder such as <your key here>.
_REFERENCE = re.compile(r"\$\{|\A\$\w+\Z|%\(|\{\{|\A<[^>]*>\Z")
# An unquoted value that is code or structure: f(x), env["X"], [a, b], {a: b},
# and YAML's | and > block markers.
_CODE = re.compile(r"[A-Za-z_][\w.]*\s*[(\[]|[\[{|>]")
_LINE = re.compile(r"[^\r\n]+")
# A vocabulary's special token in brackets, as tokenizers spell them: [IMG].
_SPECIAL_TOKEN = re.compile(r"\[[A-Za-z0-9_|]+\]")
_NO_VALUE = frozenset(("true", "false", "yes", "no", "on", "off", "null", "none", "~"))


def settings_with_secret(text: str) -> bool:
    """Tell whether text is all settings (dotenv, INI, YAML) and one is a secret.

    Every line must be a setting, a comment or structure: code and prose have
    other lines, so `password = os.environ["X"]` in train.py or "api_key" in a
    README is never read as a credential file.
    """
    found = False
    for match in _LINE.finditer(text):  # lazily: most files fail on a first line
        line = match.group()
        stripped = line.strip()
        if npm := _NPM_AUTH_LINE.fullmatch(stripped):
            # .npmrc: //registry/path/:_authToken=X, a login for one registry.
            found = found or _written(npm.group(1))
            continue
        if not stripped or stripped.startswith(("#", ";", "//")):
            continue
        if item := _LIST_ITEM.fullmatch(stripped):
            # A YAML list item may set a variable: docker compose's
            # environment list, `- POSTGRES_PASSWORD=X`. Other items set nothing.
            dotenv = _DOTENV_LINE.fullmatch(_unquoted(item.group(1)))
            found = found or bool(dotenv and _secret_setting(dotenv.group()))
            continue
        verdict = _secret_setting(stripped)
        if verdict is not None:
            found = found or verdict
        elif not (_STRUCTURE_LINE.fullmatch(stripped) or line[:1] in (" ", "\t")):
            return False  # indented lines continue a value or nest settings
    return found


def _secret_setting(line: str) -> bool | None:
    """Tell whether a line sets a secret: None when it sets nothing."""
    if dotenv := _DOTENV_LINE.fullmatch(line):
        name, value = dotenv.groups()
        # The variable check: the same names `[env]` refuses.
        return _written(value) and looks_secret(name, _unquoted(value))
    if setting := _SETTING_LINE.fullmatch(line):
        name, value = setting.groups()
        return _written(value) and (
            (secret_setting_name(name) and name.lower() != "key")
            or looks_secret("", _unquoted(value))
        )
    return None


def _unquoted(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _written(value: str) -> bool:
    """Tell whether a setting's value is written out, not code or a reference."""
    value = value.strip().rstrip(",")
    quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"
    inner = _unquoted(value)
    if not inner or inner.lower() in _NO_VALUE:
        return False
    if _REFERENCE.search(inner):
        return False
    return quoted or not _CODE.match(inner)


def literal_secret(value: object) -> bool:
    """Tell whether a literal value (JSON, XML text) is a secret written out, not a
    stand-in for one."""
    if not isinstance(value, str):
        return False
    value = value.strip()
    return bool(
        value
        and value.lower() not in _NO_VALUE
        and not _REFERENCE.search(value)
        and not _SPECIAL_TOKEN.fullmatch(value)
    )
