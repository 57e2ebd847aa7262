"""Package indexes the project declares, their credentials, and the CA to trust."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from reprobox.errors import LockError
from reprobox.index_urls import IndexUrlError, checked_index_url

# scheme://userinfo@ in any text: the userinfo is what gets hidden.
# The userinfo of a URL; "ssh://[USER@]HOST", a usage text, holds none.
_CREDENTIALS_IN_URL = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?!\[)[^/\s@]+@")
_SECRET_QUERY_NAME = re.compile(r"token|key|secret|pass|auth|sig", re.I)
_SECRET_QUERY = re.compile(
    r"([?&][A-Za-z0-9_.-]*(?:token|key|secret|pass|auth|sig)[A-Za-z0-9_.-]*)=[^&\s\"']+",
    re.I,
)

# Host variables that name a CA bundle, in the order they are trusted.
CA_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")


def redact_url(url: str) -> str:
    """Return url with any user name, password or query value shown as ***."""
    parts = urlsplit(url)
    if "@" not in parts.netloc and not parts.query:
        return url  # nothing to hide; urlunsplit would drop an empty "//"
    if "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"***@{host}")
    if parts.query:  # ?access_token=... is a credential as much as user:pass
        keys = [item.split("=", 1)[0] for item in parts.query.split("&")]
        parts = parts._replace(query="&".join(f"{k}=***" for k in keys))
    return urlunsplit(parts)


# A userinfo made of references only (__token__:${PYPI_TOKEN}@): the way the
# config is told to write a credential, which hints show as an example.
# Only names as variables are written (capitals, up to 24 characters): in
# ${...} a pasted token would be hidden like any other.
_REFERENCES_ONLY = re.compile(
    r"(?:[^\s/@:$]*|\$\{[A-Z_][A-Z0-9_]{0,23}\})(?::\$\{[A-Z_][A-Z0-9_]{0,23}\})?@"
)


def _hide_userinfo(match: re.Match) -> str:
    scheme, userinfo = match.group(1), match.group(0)[len(match.group(1)) :]
    if "$" in userinfo and _REFERENCES_ONLY.fullmatch(userinfo):
        return match.group(0)
    return f"{scheme}***@"


def redact_text(text: str) -> str:
    """Return text with the credentials of every URL in it shown as ***.

    A userinfo that only refers to variables (${NAME}) holds no secret and
    stays, as an example of how to write one.
    """
    text = _CREDENTIALS_IN_URL.sub(_hide_userinfo, text)
    return _SECRET_QUERY.sub(r"\1=***", text)


# user:password@host without a scheme, as in a registry or image reference
# ("u:pw@127.0.0.1:5000/team"); "host:5000/repo@sha256:..." has a slash first,
# and "name:tag@sha256:..." is a tag pinned by digest, not a password.
# The host after the @ is one as Docker reads a registry's: with a dot or a
# port, localhost, or a bracketed address. A metric name such as
# acc:top5@epoch reads as no login and is shown as it is (brk r46, BN 2).
_PASSWORD_BEFORE_HOST = re.compile(
    r"(?<![\w/.:-])([^\s/@:'\"]+):[^\s/@'\"]+@"
    r"(?=localhost\b|\[|[\w-]+(?:\.[\w-]+)+|[\w.-]+:\d)(?!sha(?:256|384|512):)"
)


def redact_message(text: str) -> str:
    """Return a message with every URL's credentials and user:password@ hidden."""
    return _PASSWORD_BEFORE_HOST.sub(_hide_password, redact_text(text))


def _hide_password(match: re.Match) -> str:
    if _REFERENCES_ONLY.fullmatch(match.group(0).lstrip("{")):
        return match.group(0)
    return f"{match.group(1)}:***@"


def has_credentials(url: str) -> bool:
    """Tell whether url carries a user name or password."""
    return "@" in urlsplit(url).netloc


def _checked(url: str, key: str, shown=redact_url) -> str:
    """Return a filled-in index URL, its scheme in lower case; else refuse it."""
    try:
        return checked_index_url(url, filled_in=True, shown=shown)
    except IndexUrlError as exc:
        raise LockError(f"{key} {exc.problem}", hint=exc.fix) from None


def is_loopback_host(host: str) -> bool:
    """Tell whether host names this machine itself (by name or address)."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback or (mapped or address).is_unspecified


@dataclass(frozen=True)
class BuildSecrets:
    """Values the build gets only as BuildKit secrets (id -> value); never shown."""

    values: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"BuildSecrets(ids={sorted(self.values)})"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.values)

    def ids(self) -> list[str]:
        """Return the secret ids, sorted, for the build's --secret flags."""
        return sorted(self.values)

    def contains_in(self, text: str) -> list[str]:
        """Return the ids whose value, or its password part, appears in text."""
        found = []
        for secret_id, value in sorted(self.values.items()):
            if any(piece in text for piece in secret_pieces(value)):
                found.append(secret_id)
        return found


# A user name that is a plain word (postgres, deploy), not a token.
_PLAIN_USER = re.compile(r"[a-z]+")


def secret_pieces(value: str, *, plain_users: bool = True) -> list[str]:
    """Return value and the parts of it that give a secret away on their own.

    For each URL in value: its userinfo and password, or its lone user name
    (the token often goes there), and the values of query parameters named
    for a secret; each also percent-decoded, as a script that parses the URL
    prints it. plain_users=False leaves out a lone user name that is a plain
    lowercase word, which masked would mangle ordinary text.
    """
    pieces = [value]
    for url in value.split():
        try:
            parts = urlsplit(url)
        except ValueError:  # a bracketed host that is no address
            continue
        if "@" in parts.netloc:
            userinfo = parts.netloc.rsplit("@", 1)[0]
            user, colon, password = userinfo.partition(":")
            if colon:
                pieces += [userinfo, password]
            elif plain_users or not _PLAIN_USER.fullmatch(user):
                pieces.append(user)
        for item in parts.query.split("&"):
            key, _, secret = item.partition("=")
            if secret and _SECRET_QUERY_NAME.search(key):
                pieces.append(secret)
    decoded = [unquote(piece) for piece in pieces]
    return [piece for piece in dict.fromkeys(pieces + decoded) if piece]


@dataclass(frozen=True)
class PackageIndexes:
    """The indexes a project declares; None as index_url means PyPI.

    hidden holds the values filled in from ${NAME} references: a token can sit
    in a URL's path (Gemfury, Cloudsmith) as well as in its user name, and is
    shown as *** wherever these URLs are shown.
    """

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    hidden: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        # Lower-case schemes here reach the resolver, the build and the manifest.
        if self.index_url is not None:
            checked = _checked(self.index_url, "index_url", self.shown)
            object.__setattr__(self, "index_url", checked)
        extra = tuple(
            _checked(url, "extra_index_urls", self.shown)
            for url in self.extra_index_urls
        )
        object.__setattr__(self, "extra_index_urls", extra)

    def _hidden_values(self) -> list[str]:
        values = {
            v for value in self.hidden if value for v in (value, quote(value, safe=""))
        }
        return sorted(values, key=len, reverse=True)

    def shown(self, url: str) -> str:
        """Return url with its credentials, wherever they sit, shown as ***."""
        for value in self._hidden_values():
            url = url.replace(value, "***")
        return redact_url(url)

    def __repr__(self) -> str:
        return f"PackageIndexes({self.redacted()!r})"

    __str__ = __repr__

    def redacted(self) -> dict:
        """Return the manifest's `indexes` object: credentials shown as ***."""
        return {
            "extra_index_urls": [self.shown(url) for url in self.extra_index_urls],
            "index_url": self.shown(self.index_url) if self.index_url else None,
        }

    def scrub(self, text: str) -> str:
        """Return text with every credential of the declared indexes as ***."""
        found: set[str] = set(self._hidden_values())
        for url in [self.index_url or "", *self.extra_index_urls]:
            rest = url.split("://", 1)[-1]
            if "@" not in rest:
                continue
            userinfo = rest.rsplit("@", 1)[0]
            secret = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
            for value in (userinfo, secret):
                if value:
                    found.update({value, unquote(value)})
        for value in sorted(found, key=len, reverse=True):
            text = text.replace(value, "***")
        return redact_text(text)

    def loopback_warnings(self) -> list[str]:
        """Warn of each declared index on this machine's loopback."""
        named = [("index_url", self.index_url)] if self.index_url else []
        named += [("extra_index_urls", url) for url in self.extra_index_urls]
        return [
            f"{key} {self.shown(url)} is on this machine's loopback: the lock was "
            "resolved against it, but the build container and other machines "
            "cannot reach it, so packages only it serves will not install there; "
            "serve it on an address they can reach"
            for key, url in named
            if is_loopback_host(urlsplit(url).hostname or "")
        ]

    def declaring(self, url: str) -> str | None:
        """Return the declared index that url, as a resolver shows it, lies under.

        Resolvers show an index without its user name and password, or one of
        its pages (.../simple/six/): what is compared is scheme, host, port and
        the start of the path.
        """
        wanted = _comparable(url)
        declared = [u for u in (self.index_url, *self.extra_index_urls) if u]
        for candidate in sorted(declared, key=len, reverse=True):
            if wanted.startswith(_comparable(candidate)):
                return candidate
        return None

    def has_credentials_in(self, url: str) -> bool:
        """Tell whether url carries credentials: user info, a token, a secret query."""
        return (
            has_credentials(url)
            or any(value in url for value in self._hidden_values())
            or _SECRET_QUERY.search(url) is not None
        )

    def has_credentials(self) -> bool:
        """Tell whether any declared index URL carries credentials."""
        urls = [self.index_url or "", *self.extra_index_urls]
        return any(has_credentials(url) for url in urls)

    def build_secrets(self) -> BuildSecrets:
        """Return every declared index as a build secret when any has credentials."""
        if not self.has_credentials():
            return BuildSecrets()
        values = {}
        if self.index_url:
            values["pip_index_url"] = self.index_url
        if self.extra_index_urls:
            values["pip_extra_index_url"] = " ".join(self.extra_index_urls)
        return BuildSecrets(values)

    def uv_env(self) -> dict[str, str]:
        """Return the UV_* variables that point uv at these indexes."""
        env = {}
        if self.index_url:
            env["UV_DEFAULT_INDEX"] = self.index_url
        if self.extra_index_urls:
            env["UV_INDEX"] = " ".join(self.extra_index_urls)
        return env

    def pip_env(self) -> dict[str, str]:
        """Return the PIP_* variables that point pip at these indexes."""
        env = {}
        if self.index_url:
            env["PIP_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            env["PIP_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)
        return env


def _comparable(url: str) -> str:
    """Return url's scheme, host, port and path, lower-cased where case is loose."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a port number: compared as written
        port = f":{parts.netloc.rsplit(':', 1)[-1]}"
    return f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}/"


def default_ca_cert(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the CA bundle the host names in SSL_CERT_FILE, PIP_CERT or similar."""
    environ = os.environ if environ is None else environ
    for variable in CA_BUNDLE_VARIABLES:
        value = environ.get(variable)
        if value and Path(value).is_file():
            return value
    return None
