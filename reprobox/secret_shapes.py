"""Credentials that text gives away by their shape, wherever the text sits.

The published formats of tokens and keys, URLs that are a credential by
themselves, and URLs with a password or token written into them. Used to judge
a variable's value and to read, line by line, the files that go into an image
as they are, comments included.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# URLs that are a credential by themselves: whoever has one can post or act.
SECRET_URLS = re.compile(
    r"hooks\.slack\.com/|discord(?:app)?\.com/api/webhooks/|\.webhook\.office\.com/"
    r"|outlook\.office\.com/webhook/|hooks\.zapier\.com/hooks/"
    r"|api\.telegram\.org/bot|chat\.googleapis\.com/v1/spaces/",
    re.I,
)
# Tokens of published formats, by their prefixes and shapes: case-sensitive,
# and bounded on both sides by a character no token has, so that a word, a
# hex digest or a run inside base64 data is never one.
_TOKEN_BOUNDARY = r"A-Za-z0-9_+-"
# A body that may hold - or _ must be random, not words joined by them
# (scikit-learn's CSS class sk-toggleable__label-arrow, xoxb-reply-to-thread,
# sk-learn-compatible-estimator-v2): a run of 20 letters and digits, or a
# digit and a run of 10, and not lowercase words of up to 15 letters, each
# with a short number after it or none, joined by - or _ (a random lowercase
# body weaves digits in, or runs longer than words do).
_WORD = r"[a-z]{1,15}[0-9]{0,3}"
_RANDOM = (
    rf"(?!{_WORD}(?:[_-]+(?:{_WORD}|[0-9]{{1,4}}))+(?![A-Za-z0-9_-]))"
    r"(?:(?=[A-Za-z0-9_-]*[A-Za-z0-9]{20})"
    r"|(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z0-9]{10}))"
)
# A body blanked out with x's, as docs write one (ghp_xxxxxxxx), is none.
_BLANKED = r"(?![A-Za-z0-9_.-]*(?:xxxx|XXXX))"
# Formats whose whole alphabet is letters, digits and _ can be told apart
# from a - or + beside them (data-ghp_..., a+ghp_..., x-AKIA...): only a
# letter, a digit or _ bounds them. The rest may hold - (or + or .) in their
# bodies, so - and + bound them too, as words joined by - are no token.
_ALNUM_FORMATS = (
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_" + _RANDOM + r"[A-Za-z0-9_]{20,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|hf_[A-Za-z0-9]{20,}|api_org_[A-Za-z0-9]{20,}"
    r"|npm_[A-Za-z0-9]{30,}|do[opr]_v1_[a-f0-9]{40,}"
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"
    r"|lin_api_[A-Za-z0-9]{32,}"
    r"|glsa_" + _RANDOM + r"[A-Za-z0-9_]{20,}"
    r"|gsk_[A-Za-z0-9]{20,}|r8_[A-Za-z0-9]{20,}"
)
_OTHER_FORMATS = (
    r"glpat-" + _RANDOM + r"[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-" + _RANDOM + r"[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|sk-" + _RANDOM + r"[A-Za-z0-9_-]{20,}"
    r"|pypi-" + _RANDOM + r"[A-Za-z0-9_-]{20,}"
    r"|xapp-" + _RANDOM + r"[A-Za-z0-9-]{10,}"
    r"|whsec_[A-Za-z0-9+/=]{24,}"
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"
    r"|ATATT3x[A-Za-z0-9_=-]{20,}"
    r"|dapi[a-f0-9]{32}(?:-\d+)?"
    r"|SK[0-9a-fA-F]{32}|AC[0-9a-f]{32}|key-[0-9a-f]{32}"
    r"|ya29\." + _RANDOM + r"[A-Za-z0-9_-]{20,}"
    r"|nvapi-" + _RANDOM + r"[A-Za-z0-9_-]{20,}"
    # age's bech32 key in either case (bech32 reads both alike).
    r"|(?i:AGE-SECRET-KEY-1[A-Z0-9]{20,})"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    # Discord bot token: base64 of the bot's numeric id (so M, N or O first,
    # with a digit), a timestamp part and an HMAC part.
    r"|[MNO](?=[A-Za-z0-9]{0,25}[0-9])[A-Za-z0-9]{23,25}"
    r"\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}"
    # HashiCorp Vault (service, batch, recovery), GitLab deploy and pipeline
    # trigger, Slack config, Postman, Doppler, PlanetScale and Pulumi tokens.
    r"|hv[sbr]\.[A-Za-z0-9_-]{24,}|gl(?:dt|ptt)-[A-Za-z0-9_-]{20,}"
    r"|xoxe(?:\.xox[bp])?-[A-Za-z0-9-]{10,}|PMAK-[A-Za-z0-9]{24}-[A-Za-z0-9]{34}"
    r"|dp\.(?:st|ct|sa|pt|scim|audit)\.[A-Za-z0-9_.-]{20,}"
    r"|pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_.-]{20,}|pul-[a-f0-9]{40}"
)
PUBLISHED_TOKEN = re.compile(
    rf"(?<![A-Za-z0-9_]){_BLANKED}(?:{_ALNUM_FORMATS})(?![A-Za-z0-9_])"
    rf"|(?<![{_TOKEN_BOUNDARY}]){_BLANKED}(?:{_OTHER_FORMATS})(?![{_TOKEN_BOUNDARY}])"
)
# The same formats anywhere inside a name (a metric, a variable, a file, a
# record's key): a name is no running text whose words the boundary keeps
# apart, and loss_ghp_..., xghp_... or AKIA..._x give the token away all the
# same. A match blanked out with x's (ghp_xxxxxxxx) is still none.
_TOKEN_IN_NAME = re.compile(rf"(?:{_ALNUM_FORMATS})|(?:{_OTHER_FORMATS})")
_X_RUN = re.compile(r"xxxx|XXXX")
# Values whose shape gives them away, whatever the variable is called, beyond
# the published formats: a private key, bearer headers, and credentials passed
# in a URL's query string.
# A private key's marker, of every kind key_blocks knows (a PGP armored key
# and ssh.com's, PuTTY's and age's were kept in clear in --env values and
# records: only PEM's was here, brk r47 BO 1).
KEY_MARKER = (
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"|---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----"
    r"|PuTTY-User-Key-File-[0-9]+:"
    r"|AGE-SECRET-KEY-1[0-9A-Z]"
)
SECRET_VALUES = re.compile(
    KEY_MARKER + r"|(?:^|authorization:\s*)(?:Bearer|Basic|token)\s+\S{8,}"
    r"|[?&](?:access_token|token|api_key|apikey|key|password|secret|sig)=[^&\s]+",
    re.I,
)
# A ${NAME} reference: pip and uv fill it in from the environment, so the file
# holds the name of a secret, not the secret.
REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
# A query parameter with one of these in its name carries a credential.
_SECRET_PARAMETER = re.compile(r"token|key|secret|pass|auth|sig|cred", re.I)
# A URL in running text: a scheme, then up to a blank or a quote.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")


def shown_token(name: str) -> str:
    """Return a name that is or holds a token as every message shows one: cut
    as hide_name_tokens cuts it (loss_ghp_***, as the training's output line
    shows it; "loss***" said where it lay no better), else its first four
    characters and ***, then its length; never the token's rest."""
    hidden = hide_name_tokens(name)
    shown = hidden if hidden != name else f"{name[:4]}***"
    return f"{shown} ({len(name)} characters)"


def _tokens_in_name(name: str) -> list[re.Match[str]]:
    return [m for m in _TOKEN_IN_NAME.finditer(name) if not _X_RUN.search(m.group())]


def token_spans(name: str) -> list[tuple[int, int]]:
    """Return where each token that token_in_name finds lies in name."""
    return [match.span() for match in _tokens_in_name(name)]


def token_in_name(name: str) -> bool:
    """Tell whether a name holds a token of a published format anywhere in it,
    joined to other characters or not (loss_ghp_..., hf_..._loss)."""
    return bool(_tokens_in_name(name))


def hide_name_tokens(name: str) -> str:
    """Return name with each token that token_in_name finds cut to its first
    four characters and *** (loss_ghp_***), as a message names it."""
    for match in reversed(_tokens_in_name(name)):
        name = name[: match.start()] + match.group()[:4] + "***" + name[match.end() :]
    return name


def url_credential(url: str) -> bool:
    """Tell whether url holds a password, token or secret query value as text.

    A ${NAME} reference is no secret, nor is a user name beside a password
    (__token__:${PYPI_TOKEN}); a lone user name is (tokens often go there),
    except git, the user name of ssh's git@host.
    """
    try:
        parts = urlsplit(url)
        password, user = parts.password, parts.username
    except ValueError:  # a bracketed host that is no IPv6 address
        netloc = url.partition("://")[2].split("/", 1)[0]
        return "@" in netloc
    secret = password if password is not None else user
    values = [] if secret == "git" and password is None else [secret or ""]
    for item in parts.query.split("&"):
        key, _, value = item.partition("=")
        if _SECRET_PARAMETER.search(key):
            values.append(value)
    return any(REFERENCE.sub("", unquote(v)) for v in values)


def token_shaped(text: str) -> bool:
    """Tell whether text holds a token of a published format or a secret URL."""
    plain = REFERENCE.sub("", text)  # ?token=${TOKEN} writes out no token
    return bool(
        SECRET_URLS.search(plain)
        or PUBLISHED_TOKEN.search(plain)
        or SECRET_VALUES.search(plain)
    )


def credential_line(text: str) -> int | None:
    """Return the number of the first line of text that writes out a credential.

    Every line counts, comments too: a file copied as it is carries them all.
    """
    for number, line in enumerate(text.splitlines(), start=1):
        if token_shaped(line) or any(url_credential(u) for u in _URL.findall(line)):
            return number
    return None
