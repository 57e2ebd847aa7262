"""Which environment variables a frozen project carries, and which it never may."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import unquote

from reprobox.config import ProjectConfig
from reprobox.errors import ConfigError
from reprobox.index_urls import referenced_variables
from reprobox.run_env import (
    HASH_SEED,
    STRICT_ENV,
    reserved_why,
    run_hash_seed,
)
from reprobox.secret_shapes import (
    KEY_MARKER,
    PUBLISHED_TOKEN,
    SECRET_URLS,
    SECRET_VALUES,
    shown_token,
)
from reprobox.stand_ins import placeholder

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
FORBIDDEN = ("TF_USE_CUDNN_AUTOTUNE",)  # autotuning picks kernels by timing

_SECRET_PARTS = {
    "AUTH",
    "BEARER",
    "COOKIE",
    "CRED",
    "CREDS",
    "CREDENTIAL",
    "CREDENTIALS",
    "KEY",
    "PASS",
    "PASSWD",
    "PASSWORD",
    "PAT",
    "PRIVATE",
    "PW",
    "PWD",
    "SALT",
    "SECRET",
    "SESSION",
    "TOKEN",
    "APIKEY",
    "SIGNATURE",
    "PASSPHRASE",
    "JWT",
    "OAUTH",
    "OAUTH2",
    "DSN",  # a database or Sentry DSN carries its password or key
}
# Words that mark a secret even run together with others (PGPASSWORD,
# MYSECRET, GITHUBTOKEN); TOKENIZERS_PARALLELISM is Hugging Face's, not one.
_SECRET_INSIDE_NAME = re.compile(
    r"PASSW(?:OR)?D|PASSPHRASE|SECRET|CREDENTIAL|TOKEN(?!IZER)|JWT|OAUTH"
    r"|(?:API|ACCESS|AUTH|PRIVATE|SSH|SIGNING|MASTER|ENCRYPTION|SECRET)_?KEY"
    # DBPASS, ROOTPASS; not the words bypass, compass, surpass, trespass.
    r"|(?<!BY)(?<!COM)(?<!SUR)(?<!TRES)PASS$"
)
# Any userinfo in a URL: a user name (often the token itself) or a password,
# with or without a user before it (redis://:pw@host).
_URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@]*[^/\s@:][^/\s@]*@", re.I)


# An AWS secret access key has no prefix: 40 characters of base64 with both
# cases, a digit and a / or +, which hashes and words do not have.
_AWS_SECRET = re.compile(
    r"^(?=[A-Za-z0-9/+]{40}$)(?=.*[/+])(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])"
)


# name=value settings inside a value (connection strings, flags, query-like
# lists): AccountKey=..., SharedAccessSignature=..., --password=..., and the
# "name": "value" of JSON. The value is read ahead, not taken: the next
# setting may start after a comma inside it.
_SETTINGS = re.compile(
    r"""(?:^|[\s;&,?'"{(])-{0,2}([A-Za-z][\w.-]*)\s*=\s*"""
    r"""(?=([^\s;&,'"][^\s;&'"]*))"""
    r"""|"([A-Za-z][\w.-]*)"\s*:\s*"(?=([^"\s](?:[^"\\]|\\.)*))"""
)
# Names ending so name a key that is a credential (API_KEY, clientKey),
# separators dropped and lowercase: settings and code assignments read both.
SECRET_KEY_ENDS = (
    "apikey",
    "accesskey",
    "accountkey",
    "authkey",
    "clientkey",
    "encryptionkey",
    "masterkey",
    "privatekey",
    "secretkey",
    "signingkey",
    "subscriptionkey",
)
# How the name of a credential setting ends, separators dropped and lowercase.
_SECRET_SETTING_ENDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "signature",
    "token",
    "credential",
    "credentials",
    *SECRET_KEY_ENDS,
)
# Tokenizer settings that name a vocabulary token, not a credential (--eos_token).
_VOCABULARY_TOKENS = re.compile(
    r"(?:bos|eos|pad|unk|sep|cls|mask|special|start|end|additional)s?token$"
)


# Words that end a credential setting's name when written as a word of their
# own: --wandb-key, hf_creds, --bearer, --auth user:pw, --basic-auth.
_SECRET_LAST_WORDS = ("key", "bearer", "cred", "creds", "auth")
# The word before a final "key" that makes it a key of data, not a secret:
# --sort-key, --partition-key, JAX's --rng-key, --metric-key.
_PLAIN_KEYS = frozenset(
    [
        "batch",
        "bucket",
        "cache",
        "category",
        "child",
        "class",
        "column",
        "data",
        "dataset",
        "dedup",
        "dict",
        "event",
        "feature",
        "field",
        "file",
        "foreign",
        "group",
        "hash",
        "id",
        "image",
        "index",
        "input",
        "item",
        "join",
        "label",
        "limit",
        "lookup",
        "map",
        "match",
        "metric",
        "monitor",
        "name",
        "node",
        "object",
        "order",
        "output",
        "parent",
        "partition",
        "path",
        "prefix",
        "primary",
        "prng",
        "random",
        "range",
        "record",
        "result",
        "rng",
        "routing",
        "row",
        "sample",
        "seed",
        "shard",
        "sort",
        "split",
        "state",
        "table",
        "target",
        "task",
        "text",
        "time",
        "type",
        "value",
        "version",
    ]
)


def _name_words(name: str) -> list[str]:
    """Split a name into lowercase words at separators and camelCase humps."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def secret_setting_name(name: str) -> bool:
    """Tell whether a setting or option called name holds a credential value."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    if flat in ("pwd", "pass", "sig"):
        return True  # ODBC's pwd=, Azure SAS's sig=
    if flat.endswith(_SECRET_SETTING_ENDS) and not _VOCABULARY_TOKENS.search(flat):
        return True
    words = _name_words(name)
    if not words or words[-1] not in _SECRET_LAST_WORDS:
        return False  # --keyword, --monkey, --max-keys, --key-column
    # A bare --key is taken for a secret too: tools name their API key so.
    return not plain_data_key(name)


def secret_settings(value: str) -> Iterator[str]:
    """Yield the values of the settings in value that are named for a secret.

    Password=X; in a connection string, --token=X, "secret": "X" of JSON; a
    stand-in such as "***" or {password} is none.
    """
    for match in _SETTINGS.finditer(value):
        if match.group(1) is not None:
            name, setting = match.group(1, 2)
        else:
            name, setting = match.group(3), _json_unescaped(match.group(4))
        if secret_setting_name(name) and not placeholder(setting):
            yield setting


def _json_unescaped(text: str) -> str:
    """Return a JSON string's inside as it reads, or as written if it is cut."""
    try:
        return json.loads(f'"{text}"')
    except ValueError:
        return text


def secret_variable_name(name: str) -> bool:
    """Tell whether a variable's name marks it a secret, in any case (DB_PASS)."""
    upper = name.upper()
    parts = set(re.split(r"[^A-Z0-9]+", upper))
    return bool(parts & _SECRET_PARTS or _SECRET_INSIDE_NAME.search(upper))


def plain_data_key(name: str) -> bool:
    """Tell whether name ends in a key of data (sort_key, text-key), no secret."""
    words = _name_words(name)
    return len(words) > 1 and words[-1] == "key" and words[-2] in _PLAIN_KEYS


# Words that name a secret wherever they stand in a variable's name
# (DB_PASSWORD_FILE, GCP_CREDS_JSON), and those that do as its last word only,
# where nothing qualifies them (HF_TOKEN, DB_PASS, SENTRY_DSN; not PASS_K,
# AUTH_MODE, SECRET_SAUCE, COOKIE_NAME). TOKEN names one anywhere: TOKENS
# (MAX_TOKENS) counts a text's words.
_SECRET_ANYWHERE = frozenset(
    ("password", "passwd", "passphrase", "credential", "credentials", "cred")
    + ("creds", "apikey", "token")
)
_SECRET_LAST = frozenset(
    ("secret", "pass", "pwd", "pw", "pat", "auth", "cookie", "bearer", "dsn", "jwt")
    + ("oauth", "oauth2", "signature", "key", "salt")
)
# The word before "key" that makes a key a secret's (API_KEY, PRIVATE_KEY_PATH,
# AWS_ACCESS_KEY_ID), wherever the pair stands.
_SECRET_KEY_KINDS = frozenset(
    ("api", "access", "auth", "private", "ssh", "signing", "master", "encryption")
    + ("secret", "client", "account", "subscription")
)
# Words run together that end in a secret's name (PGPASSWORD, GITHUBTOKEN,
# MYSECRET, DBPASS), as _SECRET_INSIDE_NAME finds them.
_SECRET_WORD_END = re.compile(
    r"(?:passw(?:or)?d|passphrase|credentials?|secret|token|jwt|oauth"
    r"|(?:api|access|auth|private|ssh|signing|master|encryption|secret)key"
    r"|(?<!by)(?<!com)(?<!sur)(?<!tres)pass)$"
)
# Values no secret is: a short number, a switch, or a short lowercase name
# made of words (len, id, none, top_k, cross-entropy).
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?", re.I)
_SWITCH_WORDS = frozenset(
    ("true", "false", "yes", "no", "on", "off", "none", "null", "auto")
    + ("enabled", "disabled", "enable", "disable")
)
_PLAIN_NAME = re.compile(r"[a-z]+[0-9]*(?:[_.-](?:[a-z]+[0-9]*|[0-9]+))*")


def secret_named_outright(name: str) -> bool:
    """Tell whether a variable's name names a secret whatever value it holds.

    DB_PASSWORD, HF_TOKEN, API_KEY, AWS_ACCESS_KEY_ID, PRIVATE_KEY_PATH and
    PGPASSWORD do; MAX_TOKENS, PASS_K, SORT_KEY, KEY_COLUMN, PRIMARY_KEY_FIELD,
    AUTH_MODE and SECRET_SAUCE hold a secret's word as part of another or to
    qualify another, and are judged by their values.
    """
    words = _name_words(name)
    if not words:
        return False
    last = words[-1]
    if last in _SECRET_LAST and not (last == "key" and plain_data_key(name)):
        return True
    for before, word in zip([""] + words, words, strict=False):
        if word in _SECRET_ANYWHERE or (word == "key" and before in _SECRET_KEY_KINDS):
            return True
        # Run together with another word (PGPASSWORD, MYSECRET), or a key's
        # kind and key as one word (ACCESSKEY): not a bare SECRET or PASS,
        # which the rule for the last word judges.
        run_together = _SECRET_WORD_END.search(word)
        if run_together and (run_together.start() > 0 or word.endswith("key")):
            return True
    return False


def plain_setting_value(value: str | None) -> bool:
    """Tell whether value is a short number, a switch or a short lowercase name."""
    if value is None:
        return False
    value = value.strip()
    return bool(
        value.lower() in _SWITCH_WORDS
        or (len(value) <= 12 and _PLAIN_NUMBER.fullmatch(value))
        or (len(value) <= 32 and _PLAIN_NAME.fullmatch(value))
    )


def looks_secret(name: str, value: str | None = None) -> bool:
    """Tell whether a variable looks like it holds a credential.

    A name that names a secret outright makes it one whatever its value; a
    name that only holds a secret's word (MAX_TOKENS, SORT_KEY, AUTH_MODE)
    does unless the value is plain: a short number, a switch or a short
    lowercase name, as `[env]` data settings are.
    """
    if secret_variable_name(name) and (
        secret_named_outright(name) or not plain_setting_value(value)
    ):
        return True
    return bool(value) and found(value_secret_parts(value))


def found(parts: Iterable[str]) -> bool:
    """Tell whether a finder of secret parts finds one, reading no further."""
    return any(True for _ in parts)


def value_secret_parts(value: str) -> Iterator[str]:
    """Yield the parts of value that its shape gives away as a secret.

    The same reading judges a value (looks_secret) and tells what of it to
    hide: a token of a published format, a URL's userinfo, the token of an
    Authorization header, a secret-named setting's value. A value that is a
    secret as a whole (a URL with userinfo or a secret URL, an AWS secret
    key) is yielded whole.
    """
    # A URL's userinfo is taken apart by lock.indexes.secret_pieces, which
    # knows a plain user name (postgres) from a token.
    if _URL_CREDENTIALS.search(value) or SECRET_URLS.search(value):
        yield value
    for match in PUBLISHED_TOKEN.finditer(value):
        yield match.group()
    for match in SECRET_VALUES.finditer(value):
        yield from _shaped_value_parts(match.group(), value)
    if _AWS_SECRET.match(value):
        yield value
    yield from secret_settings(value)
    # Arguments kept in a variable: EXTRA_ARGS="--password X".
    if len(value.split()) > 1:
        yield from command_secret_parts(value.split())


def _shaped_value_parts(shape: str, value: str) -> Iterator[str]:
    """Yield the secret in a SECRET_VALUES match: a header's token (and a Basic
    login's password), a query value, or a private key's body lines."""
    # As SECRET_VALUES matched it: in any case (an age key's bech32 may be
    # written in lower case; brk r48 BQ 1 crashed on it here).
    if re.match(KEY_MARKER, shape, re.I):
        yield value  # a key is a secret whole, however short its lines
        yield from private_key_lines(value)
        return
    if shape[:1] in "?&":
        secret = shape.partition("=")[2]
        yield from dict.fromkeys((secret, unquote(secret)))
        return
    words = shape.split()  # a scheme and its token, two words at least
    token = words[-1].strip("\"',;")
    yield token
    if len(words) > 1 and words[-2].rpartition(":")[2].lower() == "basic":
        yield from basic_login_password(token)


def basic_login_password(token: str) -> Iterator[str]:
    """Yield the user:password a Basic login's base64 holds, and its password."""
    try:
        login = base64.b64decode(token, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return
    if ":" in login:
        yield login
        yield login.partition(":")[2]


# A private key block: its body runs to its END line, or to the text's end.
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----(.*?)(?:-----END \1-----|\Z)",
    re.S,
)
# A private key's body lines: broken by line breaks, or by written "\n" as a
# key kept in one line of JSON or of a variable has them.
_KEY_LINE_BREAK = re.compile(r"\r\n|[\r\n]|\\n")
# A body line shorter than this (the last, short line of base64) is left.
SHORTEST_KEY_LINE = 16


def private_key_lines(text: str) -> Iterator[str]:
    """Yield the body lines of each private key in text, as a script prints
    a key line by line; each at least SHORTEST_KEY_LINE characters."""
    for block in _PRIVATE_KEY_BLOCK.finditer(text):
        for line in _KEY_LINE_BREAK.split(block.group(2)):
            line = line.strip()
            if len(line) >= SHORTEST_KEY_LINE:
                yield line


_ASSIGNMENT = re.compile(r"([A-Z_][A-Z0-9_]*)=(.+)", re.S)


def command_holds_secret(command: Sequence[str]) -> bool:
    """Tell whether a command line carries a credential in any of its arguments."""
    return found(command_secret_parts(command))


def command_secret_parts(command: Sequence[str]) -> Iterator[str]:
    """Yield the credentials that a command line carries in its arguments.

    Beyond values that look secret by themselves: an option named for one with
    its value attached (--password=X) or in the next argument (--api-key X),
    and a variable set for the program (env WANDB_API_KEY=X python ...). A
    negated switch (--no-auth) takes no value: the argument after it is not one.
    """
    for i, arg in enumerate(command):
        yield from value_secret_parts(arg)
        assignment = _ASSIGNMENT.fullmatch(arg)
        if assignment and looks_secret(*assignment.groups()):
            yield assignment.group(2)
        option = re.fullmatch(r"--?([A-Za-z][\w.-]*)", arg)
        following = command[i + 1] if i + 1 < len(command) else ""
        if (
            option
            and secret_setting_name(option.group(1))
            and _name_words(option.group(1))[0] != "no"
            and following
            and not following.startswith("-")
        ):
            yield following


def is_utf8(value: str) -> bool:
    """Tell whether a value read from the environment was valid UTF-8 there."""
    try:
        value.encode("utf-8")  # os.environ keeps other bytes as lone surrogates
    except UnicodeEncodeError:
        return False
    return True


def refuse_token_names(
    cfg: ProjectConfig, credential_name: Callable[[str], bool]
) -> None:
    """Refuse an [env] or pass_env name that is itself a credential by its shape.

    The name is written as the value is (ENV NAME=..., the manifest, the
    labels and the build history), so a token pasted as a name (ghp_...)
    leaks as surely; credential_name judges it (credential_files), as
    `reprobox run --env` and a shared record's names are judged.
    """
    from reprobox.credential_files import CREDENTIAL_NAME_WHAT  # it imports us

    for key, names in (("env", cfg.env), ("pass_env", cfg.pass_env)):
        for name in names:
            if not credential_name(name):
                continue
            shown = shown_token(name)
            where = f"env.{shown}" if key == "env" else key
            raise ConfigError(
                cfg.source,
                cfg.key(where),
                f"the variable name {shown} is {CREDENTIAL_NAME_WHAT}, which "
                "would be written into the Dockerfile, manifest and image",
                "give the variable a plain name (e.g. GITHUB_TOKEN) and pass its "
                "value at run time with `reprobox run --env NAME`",
            )


def frozen_environment(
    cfg: ProjectConfig, environ: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Return the variables the image sets, and warnings about skipped ones."""
    # Imported here: credential_files reads values with this module's shapes.
    from reprobox.credential_files import credential_name, secret_value

    warnings: list[str] = []
    refuse_token_names(cfg, credential_name)
    env = {}
    # An index URL's ${NAME} is a secret by its use, whatever it is called.
    index_credentials = {
        ref
        for url in (cfg.index_url or "", *cfg.extra_index_urls)
        for ref in referenced_variables(url)
    }
    index_values = {environ[n] for n in index_credentials if environ.get(n)}
    hash_seed = run_hash_seed(cfg.profile, cfg.seed)
    for name in BAKED_FROM_HOST:
        if name not in environ:
            continue
        if name == HASH_SEED and hash_seed is not None:
            warnings.append(
                f"{name} in this shell is not frozen: every run sets it from "
                f"the seed ({hash_seed}); give another at run time with "
                f"`reprobox run --env {name}`"
            )
            continue
        if secret_value(name, environ[name]):
            warnings.append(
                f"{name}'s value in this shell looks like a secret and is never "
                f"written; give it at run time with `reprobox run --env {name}`"
            )
            continue
        env[name] = environ[name]
    for name in cfg.pass_env:
        why = reserved_why(name)
        if why is not None:  # set or not here: it is never the config's
            warnings.append(f"pass_env: {name} {why}; it is not frozen")
            continue
        if name not in environ:
            warnings.append(f"pass_env: {name} is not set here; it is not frozen")
            continue
        if name in index_credentials or environ[name] in index_values:
            warnings.append(
                f"pass_env: {name} is a credential of the package indexes "
                f"(${{{name}}} in an index URL) and is never written; give it at run "
                f"time with `reprobox run --env {name}`"
            )
            continue
        if secret_value(name, environ[name]):
            warnings.append(
                f"pass_env: {name} looks like a secret and is never written; "
                "give it at run time with `reprobox run --env NAME`"
            )
            continue
        env[name] = environ[name]
    for name, value in env.items():  # all of them come from this shell
        problem = (
            "is not UTF-8 text, which an image variable and the manifest must be"
            if not is_utf8(value)
            else "holds a line break or NUL; an image variable must be one line"
            if any(ch in value for ch in "\r\n\x00")
            else None
        )
        if problem is None:
            continue
        from_pass_env = name in cfg.pass_env
        raise ConfigError(
            cfg.source,
            cfg.key("pass_env") if from_pass_env else "environment",
            f"{name}'s value in this shell {problem}",
            f"set {name} to one line of UTF-8 text before freezing"
            + (", or drop it from pass_env" if from_pass_env else ""),
        )
    for name, value in cfg.env.items():
        if secret_value(name, value):
            raise ConfigError(
                cfg.source,
                cfg.key(f"env.{name}"),
                "looks like a secret and would be "
                "written into the manifest and the image",
                f"remove it; pass it at run time with `reprobox run --env {name}`",
            )
        env[name] = value
    if cfg.profile == "strict":
        for name, value in STRICT_ENV.items():
            # A config value was checked when it was loaded; this one is the
            # shell's, and went without a word (PYTHONHASHSEED's is said).
            if name not in cfg.env and env.get(name, value) != value:
                warnings.append(
                    f"{name}={env[name]} in this shell is not frozen: the strict "
                    f"profile sets {value}; give another at run time with "
                    f"`reprobox run --env {name}`"
                )
        env.update(STRICT_ENV)
    for name in FORBIDDEN:
        if name in env:
            warnings.append(
                f"{name} is never set by reprobox (it makes kernel "
                "choice depend on timing); dropped"
            )
            del env[name]
    return dict(sorted(env.items())), warnings
