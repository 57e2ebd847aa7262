"""Settings files (dotenv, INI, YAML, TOML, .properties) that write out a secret.

A settings file is one made only of settings, comments and structure: code and
prose have other lines. Such a file holds a credential when one of its settings
gives a secret's name a value written out, not a reference to one kept elsewhere.
A value counts wherever the format puts it: after the name, on the indented
lines below it, or inside an inline table; and so does a variable set in a
list, as docker compose and Kubernetes write them.
"""

from __future__ import annotations

import re

from reprobox.envvars import (
    looks_secret,
    plain_data_key,
    secret_setting_name,
    secret_variable_name,
)
from reprobox.line_comments import SETTINGS, line_comments
from reprobox.stand_ins import placeholder

# dotenv: NAME=value, "export" allowed, no space before the "=", which is
# one: six==1.17 is a pinned requirement.
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_DOTENV_LINE = re.compile(rf"(?:export\s+)?({_VARIABLE.pattern})=(?!=)(.*)")
# INI, YAML, TOML and the like: name = value, name: value, "name": value.
# A requirement pinned with "==" (google-auth==2.11.0) compares, not sets.
_SETTING_LINE = re.compile(r"""["']?([A-Za-z_][\w.-]*)["']?\s*(?:=(?!=)|:)\s*(.*)""")
# A YAML list item's key: name: value. `- google-auth=2.11` is one string
# to YAML (conda's pin), not a setting; compose's `- NAME=X` is read apart.
_ITEM_SETTING_LINE = re.compile(r"""["']?([A-Za-z_][\w.-]*)["']?\s*:\s*(.*)""")
# INI keys may hold blanks (client secret = X); read so only with "=" and up
# to four words, so that prose with an equals sign is not a setting.
_SPACED_SETTING_LINE = re.compile(
    r"([A-Za-z_][\w.-]*(?:[ \t]+[\w.-]+){1,3})\s*=\s*(.*)"
)
# Docker's env-file passes a variable on by its bare name (DEBUG): a line
# of one name in capitals, as such files spell variables.
_BARE_VARIABLE_LINE = re.compile(r"[A-Z_][A-Z0-9_]*")
# Java .properties may part a name from its value with blanks alone. Read so
# only for a dotted name (db.password s3cr3t), as those files name their keys:
# "word rest" is also every line of prose or of a word list.
_PROPERTIES_LINE = re.compile(r"([A-Za-z_][\w-]*(?:\.[\w-]+)+)[ \t]+(\S.*)")
# npm's per-registry login: //host/path/:_authToken=X, _auth= or _password=.
_NPM_AUTH_LINE = re.compile(r"//[^\s=]*:(?:_authToken|_auth|_password)\s*=(.*)")
# A setting commented out, name=value with a value of one word: prose in a
# comment (# token: refresh it = later) has blanks.
_COMMENTED_SETTING = re.compile(r"([A-Za-z_][\w.-]*)[ \t]*=[ \t]*(\S+)")
# The same in YAML's own form, name: value. A comment that documents a field
# (# token: str, # password: Required) names its kind in a word of letters,
# so the value must hold a digit or a sign, or mix cases within the word.
_COMMENTED_YAML_SETTING = re.compile(r"([A-Za-z_][\w.-]*):[ \t]+(\S+)")
_PLAIN_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+")
# A YAML list item: "- x".
_LIST_ITEM = re.compile(r"-\s+(\S.*)")
# Lines of such files that set nothing: [section], ---, a list item, "name:",
# and YAML's directives (%YAML 1.2, %TAG ! x) before a document's "---".
_STRUCTURE_LINE = re.compile(
    r"\[.*\]|---|\.\.\.|-(?:\s.*)?|[\w.-]+\s*:|%(?:YAML|TAG)\s.*"
)
# YAML's explicit key, "? name", whose value follows on a ": value" line.
_EXPLICIT_KEY = re.compile(r"\?\s+([A-Za-z_][\w.-]*)")
_EXPLICIT_VALUE = re.compile(r":\s+(\S.*)")
# A value given on the indented lines below its name: nothing after the name,
# or YAML's block marker, | or >, with its chomping and indentation signs.
_VALUE_BELOW = re.compile(r"(?:[|>](?:[-+]?[1-9]?|[1-9][-+]))?(?:\s+#.*)?")
# A value that is a table of settings: TOML's inline table, { password = "x" },
# and YAML's flow mapping, {token: x}.
_INLINE_TABLE = re.compile(r"\{(.*)\}")
# What an inline table's commas are told apart from: strings and brackets.
_TABLE_PART = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'|[{\[(]|[}\])]|,""")
# A reference to a value kept elsewhere: ${NAME}, $NAME, %(name)s, {{ name }},
# or a placeholder such as <your key here>.
_REFERENCE = re.compile(r"\$\{|\A\$\w+\Z|%\(|\{\{|\A<[^>]*>\Z")
# An unquoted value that is code or structure: f(x), env["X"], [a, b], {a: b},
# and YAML's | and > block markers.
_CODE = re.compile(r"[A-Za-z_][\w.]*\s*[(\[]|[\[{|>]")
_LINE = re.compile(r"[^\r\n]+")
_LETTER = re.compile(r"[A-Za-z]")
# A vocabulary's special token in brackets, as tokenizers spell them: [IMG].
_SPECIAL_TOKEN = re.compile(r"\[[A-Za-z0-9_|]+\]")
_NO_VALUE = frozenset(("true", "false", "yes", "no", "on", "off", "null", "none", "~"))
# Secret names as an option (--key X, --auth X) that, alone as a file's key,
# name a dictionary's key or an auth scheme as often as a secret.
_BARE_NAMES = frozenset(("key", "auth"))
# Tokens of a request, not of a login: a page's next token, an API's
# pagination settings (botocore's "input_token": "NextToken", the AWS CLI's
# --starting-token), a query's result part (Lake Formation's
# --work-unit-token), an update or idempotency token. Matched on the name
# folded to lower case without marks.
REQUEST_TOKEN = re.compile(
    r"(?:next|prev|previous|page|pagination|continuation|update|client|request"
    r"|idempotency|cancel|cancellation|sync|resume|verification|input|output"
    r"|result|more|limit|starting|workunit)token"
)
# Plurals that end a name of a count or list of tokens or keys (max_tokens).
_COUNTED_WORDS = ("tokens", "keys")
# A value no secret is: a count, a rate or a switch (pass_rate: 0.9).
_PLAIN_VALUE = re.compile(r"[-+]?(?:\d[\d_]*)?\.?\d*(?:e[-+]?\d+)?|true|false", re.I)


def settings_with_secret(text: str, yaml: bool = False) -> bool:
    """Tell whether text is all settings (dotenv, INI, YAML) and one is a secret.

    Every line must be a setting, a comment or structure: code and prose have
    other lines, so `password = os.environ["X"]` in train.py or "api_key" in a
    README is never read as a credential file. yaml says the file is named as
    YAML, where a list item's setting (`- password: X`) is a setting, not prose.
    """
    return bool(settings_secrets(text, yaml))


def settings_secrets(text: str, yaml: bool = False) -> list[str]:
    """Return the secrets that text sets if it is a settings file, as written
    (unquoted; each line of a block value on its own); else nothing."""
    reader = _SettingsReader(yaml)
    for match in _LINE.finditer(text):  # lazily: most files fail on a first line
        if not reader.read(match.group()):
            return []
    return reader.secrets


def plain_value(value: str) -> bool:
    """Tell whether value is a number or a switch, which no secret is."""
    return bool(_PLAIN_VALUE.fullmatch(value.strip()))


def secret_name(name: str, plain: bool = False) -> bool:
    """Tell whether a settings file's key names a secret (bare key and auth aside).

    A name `[env]` refuses (DB_PASS, mysql_pwd) is one too, in any case, when
    its last word is itself one [env] refuses, so the name is the secret's and
    not about it (key_points, password_hint, session_name), it is no key of
    data (text_key), and its value is not plain, a number or a switch
    (pass_rate ends in no secret word; max_tokens and num_keys in a plural,
    which counts or lists tokens and keys).
    """
    if name.lower() in _BARE_NAMES:
        return False
    if REQUEST_TOKEN.search(re.sub(r"[^a-z0-9]", "", name.lower())):
        return False
    if secret_setting_name(name):
        return True
    last_word = re.split(r"[^A-Za-z0-9]+", name.strip("_.-"))[-1]
    return (
        secret_variable_name(last_word)
        and not last_word.lower().endswith(_COUNTED_WORDS)
        and secret_variable_name(name)
        and not plain
        and not plain_data_key(name)
    )


def literal_secret(value: object) -> bool:
    """Tell whether a literal value (JSON, XML text, a YAML block) is a secret
    written out, not a stand-in for one."""
    if not isinstance(value, str):
        return False
    value = value.strip()
    return bool(
        value
        and value.lower() not in _NO_VALUE
        and not _REFERENCE.search(value)
        and not _SPECIAL_TOKEN.fullmatch(value)
        and not placeholder(value)
    )


class _SettingsReader:
    """Read a settings file a line at a time, keeping what a line leaves open."""

    def __init__(self, yaml: bool = False) -> None:
        self.secrets: list[str] = []  # the values of secret settings
        self._yaml = yaml
        self._key: str | None = None  # YAML's "? name", awaiting ": value"
        # A setting whose value is on the lines below: its column, its name,
        # whether that is a variable's name, and whether | or > opened a block.
        self._below: tuple[int, str, bool, bool] | None = None
        # The list item being read, whose keys stand at one column: Kubernetes
        # sets a variable with `- name: X` and `value: Y`, in either order.
        self._item_column = -1
        self._item: dict[str, str] = {}

    def read(self, line: str) -> bool:
        """Take one line; False when it is code or prose, so no settings file."""
        stripped = line.strip()
        if npm := _NPM_AUTH_LINE.fullmatch(stripped):
            # .npmrc: //registry/path/:_authToken=X, a login for one registry.
            if _written(npm.group(1)):
                self.secrets.append(_unquoted(npm.group(1)))
            return True
        # A setting commented out is still written out: # password=X, on a
        # line of its own or after a setting (debug = 1  # password=X).
        for comment in line_comments(stripped, SETTINGS):
            self._read_comment(comment)
        if not stripped or stripped.startswith(("#", ";", "//")):
            return True
        column = len(line) - len(line.lstrip())
        key, self._key = self._key, None
        if explicit := _EXPLICIT_KEY.fullmatch(stripped):
            self._key = explicit.group(1)
            return True
        if key and (value := _EXPLICIT_VALUE.fullmatch(stripped)):
            self._judge(key, value.group(1))
            return True
        below, self._below = self._below, None
        if below and column > below[0] and self._value_below(stripped, *below[1:]):
            return True
        if item := _LIST_ITEM.fullmatch(stripped):
            self._item_column, self._item = column + item.start(1), {}
            # docker compose's environment list: `- POSTGRES_PASSWORD=X`. An
            # item's first key is read only as Kubernetes' `- name: X`, since
            # Markdown lists such as `- token: refresh fixed` are prose.
            if dotenv := _DOTENV_LINE.fullmatch(_unquoted(item.group(1))):
                self._judge(dotenv.group(1), dotenv.group(2), variable=True)
            elif setting := _ITEM_SETTING_LINE.fullmatch(item.group(1)):
                self._item_field(*setting.groups())
                if self._yaml and not _VALUE_BELOW.fullmatch(setting.group(2)):
                    self._judge(*setting.groups())
            return True
        if column < self._item_column:
            self._item_column, self._item = -1, {}
        if self._setting(stripped, column):
            return True
        if column == 0 and _BARE_VARIABLE_LINE.fullmatch(stripped):
            return True  # a variable passed on by name sets no value here
        # Indented lines continue a value or nest settings.
        return bool(_STRUCTURE_LINE.fullmatch(stripped)) or line[:1] in (" ", "\t")

    def _read_comment(self, comment: str) -> None:
        """Judge a comment's text, its mark left out, if it is one setting."""
        if commented := _COMMENTED_SETTING.fullmatch(comment):
            self._judge(*commented.groups())
        elif self._yaml and (colon := _COMMENTED_YAML_SETTING.fullmatch(comment)):
            name, value = colon.groups()
            if _LETTER.search(value) and not _PLAIN_WORD.fullmatch(value):
                self._judge(name, value)

    def _setting(self, text: str, column: int) -> bool:
        """Judge text if it is a setting; tell whether it was one."""
        if dotenv := _DOTENV_LINE.fullmatch(text):
            (name, value), variable = dotenv.groups(), True
        elif setting := _SETTING_LINE.fullmatch(text):
            (name, value), variable = setting.groups(), False
        elif spaced := _SPACED_SETTING_LINE.fullmatch(text):
            (name, value), variable = spaced.groups(), False
        elif properties := _PROPERTIES_LINE.fullmatch(text):
            name, value = properties.groups()
            # Prose after a dotted word has blanks; a secret here has none.
            if not any(ch.isspace() for ch in value.strip()):
                self._judge(name, value)
            return True
        else:
            return False
        if column == self._item_column and not variable:
            self._item_field(name, value)
        if _VALUE_BELOW.fullmatch(value):
            self._below = (column, name, variable, value[:1] in ("|", ">"))
        else:
            self._judge(name, value, variable=variable)
        return True

    def _item_field(self, name: str, value: str) -> None:
        """Keep a list item's name or value; judge the variable once both are."""
        if name not in ("name", "value"):
            return
        self._item[name] = value
        env_name = _unquoted(self._item.get("name", ""))
        if "value" in self._item and _VARIABLE.fullmatch(env_name):
            self._judge(env_name, self._item["value"], variable=True)

    def _value_below(self, text: str, name: str, variable: bool, block: bool) -> bool:
        """Judge the line below a name as its value; False if it is not one."""
        if block:  # a block scalar's lines are its value, whatever they hold
            self._judge(name, text, variable, literal=True)
            return True
        if _LIST_ITEM.fullmatch(text) or _DOTENV_LINE.fullmatch(text):
            return False  # the name opens a list or a mapping
        if _SETTING_LINE.fullmatch(text) or _STRUCTURE_LINE.fullmatch(text):
            return False
        self._judge(name, text, variable=variable)
        return True

    def _judge(self, name: str, value: str, variable=False, literal=False) -> None:
        self.secrets += _set_secrets(name, value, variable, literal)


def _set_secrets(name: str, value: str, variable: bool, literal: bool) -> list[str]:
    """Return the secrets that setting name to value, as written, writes out.

    A variable's name is judged as `[env]` judges it, a setting's by the names
    settings files keep secrets under; a value shaped like a token is a secret
    whatever its name, and an inline table is one when a setting in it is.
    """
    if literal:
        written, plain = literal_secret(value), value.strip()
    elif table := _INLINE_TABLE.fullmatch(value.strip().rstrip(",").rstrip()):
        return [
            secret
            for part in _table_parts(table.group(1))
            if (pair := _SETTING_LINE.fullmatch(part.strip()))
            for secret in _set_secrets(*pair.groups(), variable=False, literal=False)
        ]
    else:
        written, plain = _written(value), _unquoted(value)
    if not written:
        return []
    if variable:
        secret = looks_secret(name, plain)
    else:
        secret = secret_name(name, plain_value(plain)) or looks_secret("", plain)
    return [plain] if secret else []


def _table_parts(inner: str) -> list[str]:
    """Split an inline table's inside at its own commas, not those in a string
    or in a table or array within it."""
    parts, start, depth = [], 0, 0
    for token in _TABLE_PART.finditer(inner):
        mark = token.group()
        if mark in ("{", "[", "("):
            depth += 1
        elif mark in ("}", "]", ")"):
            depth -= 1
        elif mark == "," and depth == 0:
            parts.append(inner[start : token.start()])
            start = token.end()
    parts.append(inner[start:])
    return parts


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
    if _REFERENCE.search(inner) or placeholder(inner):
        return False  # the stand-ins of the line rules: ???, ***, {password}
    return quoted or not _CODE.match(inner)
