"""A container's output chunks become log text and whole lines, whatever the cuts."""

from __future__ import annotations

from reprobox.output_stream import LONGEST_HELD_LINE, ContainerOutput


def _feed_all(output: ContainerOutput, chunks: list[bytes]) -> tuple[str, list[str]]:
    text, lines = "", []
    for chunk in [*chunks, None]:
        got, more = output.finish() if chunk is None else output.feed(chunk)
        text += got
        lines += more
    return text, lines


def test_a_line_cut_between_chunks_is_one_line():
    text, lines = _feed_all(
        ContainerOutput({}), [b"epoch 1 lo", b"ss 0.5\nepoch", b" 2"]
    )
    assert text == "epoch 1 loss 0.5\nepoch 2"
    assert lines == ["epoch 1 loss 0.5", "epoch 2"]


def test_a_crlf_cut_in_two_ends_one_line():
    text, lines = _feed_all(ContainerOutput({}), [b"a\r", b"\nb\r\n", b"\r", b"\nc"])
    assert text == "a\r\nb\r\n\r\nc"
    assert lines == ["a", "b", "", "c"]


def test_progress_bar_redraws_are_lines_without_blank_ones():
    chunks = [b"\r 10%|#", b"\r 20%|##", b"\r100%|###\n", b"done\n"]
    text, lines = _feed_all(ContainerOutput({}), chunks)
    assert text == "\r 10%|#\r 20%|##\r100%|###\ndone\n"
    assert lines == [" 10%|#", " 20%|##", "100%|###", "done"]


def test_a_line_ended_by_crlf_is_given_out_at_once():
    assert ContainerOutput({}).feed(b"a\r\nb\r") == ("a\r\nb\r", ["a"])


def test_a_character_cut_in_two_is_decoded_whole():
    assert _feed_all(ContainerOutput({}), [b"\xe2\x9c", b"\x93 ok\n"]) == (
        "\u2713 ok\n",
        ["\u2713 ok"],
    )


def test_a_line_that_never_ends_is_given_out_once_it_is_long():
    output = ContainerOutput({})
    half = "x" * (LONGEST_HELD_LINE // 2 + 1)
    assert output.feed(half.encode()) == (half, [])
    assert output.feed(half.encode()) == (half, [half * 2])
    assert output.finish() == ("", [])


def test_a_secret_cut_between_chunks_is_hidden_in_text_and_lines():
    output = ContainerOutput({"API_TOKEN": "tok-Z9y8X7w6V5"})
    text, lines = _feed_all(
        output, [b"key TOK-z9y8", b"x7W6v5 ok\nkey tok-Z9", b"y8X7w6V5"]
    )
    assert text == "key *** ok\nkey ***"
    assert lines == ["key *** ok", "key ***"]


def test_an_escaped_or_utf16_secret_cut_between_chunks_is_hidden():
    password = 'Zq"8x\\Wm/3@k%Lp!2&Rv'
    html = b"html Zq&quot;8x\\Wm/3@k%Lp!2&amp;Rv\n"
    as_bytes = f"bytes {password.encode('utf-16-le')!s}\n".encode()
    raw = b"raw " + password.encode("utf-16-le") + b" end\n"  # NULs and all
    # Each cut falls inside a secret: in an entity, an escape, a UTF-16 pair.
    chunks = [html[:30], html[30:] + as_bytes[:20], as_bytes[20:] + raw[:13], raw[13:]]
    text, lines = _feed_all(ContainerOutput({"DB_PASSWORD": password}), chunks)
    assert lines == ["html ***", "bytes b'***\\x00'", "raw ***\0 end"]
    assert text == "html ***\nbytes b'***\\x00'\nraw ***\0 end\n"


def test_a_last_piece_without_a_newline_is_given_out_at_the_end():
    output = ContainerOutput({})
    assert output.feed(b"first line\nERROR: final words") == (
        "first line\nERROR: final words",
        ["first line"],
    )
    assert output.finish() == ("", ["ERROR: final words"])


def test_a_last_piece_a_secret_could_begin_is_held_then_given_out():
    output = ContainerOutput({"API_TOKEN": "tok-5f0c9e1d2b3a4f5e"})
    # "tok" could begin the token: held until the output shows it does not.
    assert output.feed(b"first line\nERROR: final tok") == (
        "first line\nERROR: final ",
        ["first line"],
    )
    assert output.finish() == ("tok", ["ERROR: final tok"])


def test_a_secret_split_at_the_very_end_is_hidden_when_the_output_ends():
    output = ContainerOutput({"API_TOKEN": "tok-5f0c9e1d2b3a4f5e"})
    text, lines = _feed_all(output, [b"ERROR: final words tok-5f0", b"c9e1d2b3a4f5e"])
    assert text == "ERROR: final words ***"
    assert lines == ["ERROR: final words ***"]


def test_the_start_of_a_secret_left_at_the_end_is_shown_as_printed():
    # Half a token gives the token away no more than any text: it is not held
    # back for ever, or the log would lose the script's last words.
    output = ContainerOutput({"API_TOKEN": "tok-5f0c9e1d2b3a4f5e"})
    text, lines = _feed_all(output, [b"last tok-5f0"])
    assert text == "last tok-5f0"
    assert lines == ["last tok-5f0"]
