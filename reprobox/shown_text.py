"""Text shown to people, with every token of a published format cut short.

One cutting step for every place reprobox shows text to people: the lines it
prints (cli_output) and the report page. --json output and the files printed
whole go out as they are, for the programs that read them.
"""

from __future__ import annotations

import re

# A word that holds a percent-escape: it may spell a token (%67hp_... is ghp_...).
_ESCAPED_WORD = re.compile(r"[^\s'\"]*%[0-9A-Fa-f]{2}[^\s'\"]*")
# A value shortened to fit ends in …, which can fall inside a token and leave
# its start too short to be one (ghp_Zx81kQ93…). Each format's body is made
# whole again with each of these (every format takes one) to find it.
_SHORTENED = "\u2026"
_BODIES = ("a1B2c3D4e5" * 8, "a1b2c3d4e5" * 8, "A1B2C3D4E5" * 8)
_LONGEST_START = 120  # no token's prefix and shown body is longer


def cut_tokens(text: str) -> str:
    """Return text with each token of a published format cut short, joined
    to other characters or percent-escaped too. Only tokens: a result table
    or a training's line such as `acc:top5@epoch` is shown as it is, where
    an error's user:password@ filter would cut it."""
    # Imported here: the patterns compile on first use, not at every start.
    from reprobox.secret_shapes import hide_name_tokens

    return _shortened_tokens_cut(hide_name_tokens(_escaped_tokens_cut(text)))


def _shortened_tokens_cut(text: str) -> str:
    """Cut the start of a token a shortening left before its … (ghp_Zx81…
    is shown ghp_***…): what is left of it is no token to the filter, yet is
    part of one. A start of four characters or fewer is shown as it is."""
    from reprobox.secret_shapes import token_spans

    if _SHORTENED not in text:
        return text
    parts = text.split(_SHORTENED)
    for index, part in enumerate(parts[:-1]):
        head = part[-_LONGEST_START:]
        starts = [
            start
            for body in _BODIES
            for start, end in token_spans(head + body)
            if start < len(head) - 4 and end > len(head)
        ]
        if starts:
            cut_at = len(part) - len(head) + min(starts)
            parts[index] = part[: cut_at + 4] + "***"
    return _SHORTENED.join(parts)


def _escaped_tokens_cut(text: str) -> str:
    """Show a word whose percent-escapes spell a token (%67hp_... is ghp_...,
    %2567hp_... too) decoded, with the token cut short: the filter found plain
    tokens only. Decoded as the index URL check decodes (percent_decodings)."""
    from reprobox.index_urls import percent_decodings
    from reprobox.secret_shapes import hide_name_tokens

    def cut(match: re.Match[str]) -> str:
        word = match.group()
        decoded = percent_decodings(word)[-1]
        hidden = hide_name_tokens(decoded)
        # A value shortened to fit (…) can end in half an escape, which no
        # decoding reads: "ghp_***%…" said nothing the cut did not.
        return re.sub(r"%[0-9A-Fa-f]?…", "…", hidden) if hidden != decoded else word

    return _ESCAPED_WORD.sub(cut, text)
