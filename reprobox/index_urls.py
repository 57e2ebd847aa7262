"""Package index URLs: the one check, wherever reprobox reads one, and the
filling in of their ${NAME} references from the environment.

The config's index_url and extra_index_urls are checked as written (their
credentials must be ${NAME} references); freeze fills those in from its shell
(expand_index_url), and the indexes handed to a resolver are checked again for
what an installer needs. Either way the scheme comes back in lower case: RFC
3986 makes it case-insensitive, but uv takes `HTTP://host/simple/` for a
folder named `HTTP:`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, unquote, urlsplit

from reprobox.errors import ConfigError
from reprobox.secret_shapes import PUBLISHED_TOKEN

# ${NAME}: the only reference reprobox fills in from the environment.
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_USERINFO = re.compile(r"^[a-z][a-z0-9+.-]*://([^/@]*)@", re.I)
_SECRET_QUERY_NAME = re.compile(r"token|key|secret|pass|auth|sig", re.I)
# Plain http is let through only to this machine: pip refuses it elsewhere
# without --trusted-host, which reprobox never sets.
_PLAIN_HTTP_HOSTS = ("127.0.0.1", "localhost", "::1")
# A would-be reference longer than this is shown only by its length: it may be
# a token pasted in place of a name.
_SHOWN_REFERENCE_MAX = 24
SHAPE_FIX = "write it as https://HOST[:PORT]/PATH, e.g. https://pypi.org/simple"


class IndexUrlError(ValueError):
    """Why an index URL cannot be used, and what to write instead."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def lower_scheme(url: str) -> str:
    """Return url with the scheme before its `://` in lower case."""
    scheme, sep, rest = url.partition("://")
    if sep and _SCHEME.fullmatch(scheme):
        return scheme.lower() + sep + rest
    return url


def shown_url(url: str) -> str:
    """Return url as an error may show it: no user name, password, query or
    token of a published format."""
    url = PUBLISHED_TOKEN.sub("***", url)
    url = re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1***@", url, flags=re.I)
    return url.split("?", 1)[0] + ("?***" if "?" in url else "")


def checked_index_url(
    url: str, *, filled_in: bool = False, shown: Callable[[str], str] = shown_url
) -> str:
    """Return url with its scheme in lower case, or raise IndexUrlError.

    As written (filled_in=False), the URL must also parse once its ${NAME}
    references are filled in, use plain http on loopback only, and write
    no credential out. Filled in from the environment, only the scheme is
    checked: the rest was checked as written. shown hides what url holds in
    an error; a filled-in URL may carry a token in its path.
    """
    url = lower_scheme(url)
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme not in ("http", "https"):
        if scheme and scheme != "file":
            # ftp://, s3://: remote, but no installer reads an index there
            # (brk r48 BP 7: it was told file URLs are not allowed).
            raise IndexUrlError(
                f"{shown(url)!r} is not an index pip and uv can read: they read "
                f"indexes over https (or http on loopback), not {scheme}://",
                "declare an https:// index, or publish the wheels to one",
            )
        raise IndexUrlError(
            f"{shown(url)!r} is not a remote index: a lock must install on "
            "other machines, so file URLs and local folders are not allowed",
            "declare an https:// index, or publish the wheels to one",
        )
    if filled_in:
        return url
    _check_references(url)
    problem = url_shape_problem(url)
    if problem:
        raise IndexUrlError(f"{shown(url)!r} {problem}", SHAPE_FIX)
    host = urlsplit(REFERENCE.sub("1", url)).hostname or ""
    if scheme == "http" and host not in _PLAIN_HTTP_HOSTS:
        raise IndexUrlError(
            f"{host} is plain http, which pip refuses without "
            "--trusted-host (reprobox never sets it)",
            "serve the index over https (loopback http is allowed)",
        )
    _check_written_credentials(url)
    return url


def url_shape_problem(url: str) -> str | None:
    """Say why no installer could parse an index URL (bad brackets, no host, a
    port outside 1-65535), or return None. ${NAME} references count as filled in.
    """
    try:
        parts = urlsplit(REFERENCE.sub("1", url))
        port = parts.port
    except ValueError as exc:
        reason = str(exc).replace("0-65535", "1-65535")
        return f"is not a URL ({reason[:1].lower()}{reason[1:]})"
    if port == 0:
        # urlsplit takes port 0, which no server listens on: uv tries it 3 times.
        return "is not a URL (port out of range 1-65535)"
    return None if parts.hostname else "names no host"


def _check_written_credentials(url: str) -> None:
    """Refuse a password, a lone user name, a secret query value or a token of a
    published format written out."""
    query = url.partition("?")[2].partition("#")[0]
    for item in query.split("&") if query else []:
        name, _, value = item.partition("=")
        if _SECRET_QUERY_NAME.search(name) and value and REFERENCE.sub("", value):
            raise IndexUrlError(
                f"passes {name}= in its query string, written into "
                "the file; it would travel with the project",
                "write the value as ${NAME} and set NAME in the environment",
            )
    match = _USERINFO.match(url)
    # A user name beside a password is not secret (__token__:...); a password,
    # or a lone user name (tokens often go there), must be a ${NAME} reference.
    user, colon, password = match.group(1).partition(":") if match else ("", "", "")
    if REFERENCE.sub("", password if colon else user):
        raise IndexUrlError(
            "holds a credential written into the file, which would "
            "travel with the project (and into the image)",
            "write it as ${NAME}, e.g. https://__token__:${PYPI_TOKEN}@host/simple/, "
            "and set NAME in the environment",
        )

    # Anywhere, the path included (Gemfury and Cloudsmith put tokens there):
    # the URL is written into the manifest, its warnings and the image labels.
    # A ${NAME} is filled in only for the resolver and the build's secret.
    # Percent-escapes decoded too: %67hp_... is ghp_... to the index server,
    # and %2567hp_... once more decoded (a server or proxy may decode twice).
    if any(
        PUBLISHED_TOKEN.search(form)
        for form in percent_decodings(REFERENCE.sub("/", url))
    ):
        raise IndexUrlError(
            "holds a token of a published format (ghp_..., hf_..., AKIA...) "
            "written into the file; it would travel with the project and be "
            "written into the manifest and image labels",
            "put it in an environment variable and write ${NAME} in its place, "
            "e.g. https://HOST/${INDEX_TOKEN}/simple/",
        )


def percent_decodings(text: str, most: int = 4) -> list[str]:
    """Return text and each percent-decoding of it in turn, until it stays."""
    forms = [text]
    while len(forms) <= most and (decoded := unquote(forms[-1])) != forms[-1]:
        forms.append(decoded)
    return forms


def _check_references(url: str) -> None:
    """Refuse a `$` that does not start a ${NAME} reference ($1, ${1X}, ${A)."""
    for dollar in re.finditer(r"\$", url):
        rest = url[dollar.start() :]
        if REFERENCE.match(rest):
            continue
        fix = (
            "write it as ${NAME}, NAME a letter or underscore then letters, "
            "digits or underscores (e.g. ${PYPI_TOKEN}); a literal $ as %24"
        )
        if not rest.startswith("${"):
            bare = re.match(r"\$[A-Za-z0-9_]*", rest).group()
            if _shown_reference(bare) == bare and re.fullmatch(r"\$[A-Z_]\w*", bare):
                fix = f"write it as ${{{bare[1:]}}}; a literal $ as %24"
            raise IndexUrlError(
                f"{_shown_reference(bare)} is not an environment variable "
                "reference: reprobox fills in only ${NAME}",
                fix,
            )
        close = rest.find("}")
        if close < 0:
            opened = re.match(r"\$\{[^/@:?#]*", rest).group()
            raise IndexUrlError(
                f"{_shown_reference(opened)} is not closed with a }}", fix
            )
        name = rest[2:close]
        if not name:
            problem = "names no environment variable"
        elif name[0].isdigit():
            problem = (
                "is not a valid environment variable reference (names start "
                "with a letter or underscore)"
            )
        else:
            problem = (
                "is not a valid environment variable reference (names hold "
                "only letters, digits and underscores)"
            )
        raise IndexUrlError(f"{_shown_reference(rest[: close + 1])} {problem}", fix)


def _shown_reference(text: str) -> str:
    """Return a would-be reference as an error shows it: as written when it
    reads like a variable name, short and without lower case (${1BAD}, $1),
    else by its length, as it may be a password that starts with $."""
    inner = text.lstrip("${").rstrip("}")
    if len(text) <= _SHOWN_REFERENCE_MAX and not re.search(r"[a-z]", inner):
        return text
    opened = "${" if text.startswith("${") else "$"
    closed = "}" if text.endswith("}") else ""
    return f"a {opened}...{closed} of {len(text)} characters"


def referenced_variables(url: str) -> list[str]:
    """Return the NAMEs of the ${NAME} references in an index URL."""
    return REFERENCE.findall(url)


# The fewest characters a ${NAME} of an index URL may hold: its value is
# hidden by being searched for, and a shorter one occurs in ordinary text.
SHORTEST_INDEX_CREDENTIAL = 8


def expand_index_url(url: str, environ, where: str) -> str:
    """Replace ${NAME} references in an index URL from environ."""

    # A reference inside the userinfo (scheme://user:${TOKEN}@host) is
    # percent-encoded: tokens hold '/', '+', '@' and ':' that would otherwise
    # end the userinfo early. Anywhere else the value goes in as it is.
    after_scheme = url.find("://") + 3 if "://" in url else 0
    host_end = url.find("/", after_scheme)
    netloc_end = len(url) if host_end < 0 else host_end
    userinfo_end = url.rfind("@", after_scheme, netloc_end)

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(
                where,
                None,
                f"index URL needs ${{{name}}}, which is not set",
                f"export {name}=... before running reprobox",
            )
        if not environ[name]:
            # Empty, the index answers 401, which reads as a wrong token.
            raise ConfigError(
                where,
                None,
                f"index URL needs ${{{name}}}, which is set but empty",
                f"export {name}=... with its value before running reprobox",
            )
        if after_scheme <= match.start() and match.end() <= userinfo_end:
            return quote(environ[name], safe="")
        return environ[name]

    expanded = REFERENCE.sub(value, url)
    problem = url_shape_problem(expanded) if expanded != url else None
    if problem:
        # The values may be secrets: name the variables, never show them.
        names = ", ".join(f"${{{n}}}" for n in referenced_variables(url))
        raise ConfigError(
            where,
            None,
            f"index URL {shown_url(url)!r} {problem} with {names} as set in this shell",
            f"fix the value of {names}",
        )
    _refuse_short_values(url, environ, where)
    return expanded


def _refuse_short_values(url: str, environ, where: str) -> None:
    """Refuse a ${NAME} of an index URL whose value is too short to hide.

    Each value is a credential by its use: it is hidden by being looked for,
    as a whole, in the lock, the manifest and every message, and a value of
    a few characters is found in ordinary text (x in x86_64) as well.
    """
    for name in referenced_variables(url):
        if len(environ[name]) < SHORTEST_INDEX_CREDENTIAL:
            raise ConfigError(
                where,
                None,
                f"index URL needs ${{{name}}}, which holds only "
                f"{len(environ[name])} character(s): a credential that short "
                "cannot be told apart from ordinary text in the lock and messages",
                f"export {name} with the whole token ({SHORTEST_INDEX_CREDENTIAL} "
                "characters or more), or write a part that is no secret (a user "
                "name, a path) into the URL itself",
            )
