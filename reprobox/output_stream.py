"""Turn a training container's output chunks into log text and whole lines."""

from __future__ import annotations

import codecs
from collections.abc import Mapping

from reprobox.secret_masking import StreamHider

# A line this long without an end (a progress bar that never prints a newline)
# is given out as it stands, so that holding it back cannot use up memory.
LONGEST_HELD_LINE = 64 * 1024


class ContainerOutput:
    """Decode, hide secrets in and cut into lines what a container prints.

    The engine cuts the output where it likes: a UTF-8 character, a secret
    --env value or a line may be split between two chunks, and each comes out
    whole all the same.
    """

    def __init__(self, env: Mapping[str, str]):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._hider = StreamHider(env)
        self._partial = ""  # the start of a line whose end has not come yet

    def hide(self, text: str) -> str:
        """Return a whole text the container left (a record field) with the
        same secrets hidden as in its output."""
        return self._hider.hide(text)

    def feed(self, chunk: bytes) -> tuple[str, list[str]]:
        """Return the text to log for chunk, and the lines it completes."""
        text = self._hider.feed(self._decoder.decode(chunk))
        return text, self._lines(text, final=False)

    def finish(self) -> tuple[str, list[str]]:
        """Return what is left at the end of the output: text, and its last line."""
        text = self._hider.feed(self._decoder.decode(b"", final=True))
        text += self._hider.finish()
        return text, self._lines(text, final=True)

    def _lines(self, text: str, *, final: bool) -> list[str]:
        if not self._partial and text.endswith("\n") and "\r" not in text:
            return text.splitlines()  # whole lines, as most chunks are
        lines = (self._partial + text).splitlines(keepends=True)
        self._partial = ""
        # A line is held while it has no end, or ends in "\r" that may be the
        # first half of a "\r\n".
        last = lines[-1] if lines else ""
        if not final and (last.endswith("\r") or last.splitlines() == [last]):
            self._partial = lines.pop()
            if len(self._partial) > LONGEST_HELD_LINE:
                lines.append(self._partial)
                self._partial = ""
        # A bare "\r" ends no line of its own: it starts a progress bar's redraw.
        return [line.splitlines()[0] for line in lines if line != "\r"]
