"""--env secret values stay hidden in the run's log in the forms a script prints."""

from __future__ import annotations

import base64
import html
import json
import xml.sax.saxutils
from urllib.parse import quote

import pytest

from reprobox.lock.indexes import BuildSecrets, secret_pieces
from reprobox.secret_masking import StreamHider, hidden_in, secret_hider


def test_a_url_password_is_hidden_alone_and_with_its_user():
    hide = secret_hider({"DBURL": "postgres://u:Pw9secretX@h/db"})
    assert hide("password=Pw9secretX") == "password=***"
    assert hide("netloc=u:Pw9secretX@h") == "netloc=***@h"
    assert hide("postgres://u:Pw9secretX@h/db") == "***"
    assert hide("user=u host=h db=db") == "user=u host=h db=db"


def test_a_percent_encoded_password_is_hidden_in_both_forms():
    hide = secret_hider({"DBURL": "postgres://u:Pw9%2Fsecret%40X@h/db"})
    assert hide("raw=Pw9%2Fsecret%40X") == "raw=***"
    assert hide("decoded=Pw9/secret@X") == "decoded=***"
    assert hide("userinfo=u:Pw9/secret@X") == "userinfo=***"


def test_a_token_as_user_name_and_a_query_token_are_hidden():
    hide = secret_hider(
        {"REPO": "https://tok3nTOK3Ntok3n@git.example/r.git?x=1&access_token=q1w2e3r4"}
    )
    assert hide("user tok3nTOK3Ntok3n") == "user ***"
    assert hide("query q1w2e3r4") == "query ***"
    assert hide("x=1") == "x=1"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # A password shorter than 6 would mask ordinary words: only the whole
        # value and the userinfo go.
        ("postgres://admin:abc12@h/db", "step abc12 done, admin logged"),
        # A lone user name that is a plain word is no token.
        ("postgres://postgres@db.internal/app", "connected to postgres 16"),
    ],
)
def test_short_or_plain_parts_are_left_alone(value, text):
    assert secret_hider({"DBURL": value})(text) == text


def test_a_value_that_is_no_secret_is_left_alone():
    hide = secret_hider({"MODE": "https://example.com/data?page=2"})
    assert hide("https://example.com/data?page=2") == "https://example.com/data?page=2"


def test_secret_pieces_keep_a_lone_user_for_index_credentials():
    # For an index URL the user name is the token, whatever it looks like.
    assert "tokenonly" in secret_pieces("https://tokenonly@pypi.example/simple/")
    assert "tokenonly" not in secret_pieces(
        "https://tokenonly@pypi.example/simple/", plain_users=False
    )
    secrets = BuildSecrets({"pip_index_url": "https://__token__:p%40ss@h/simple/"})
    assert secrets.contains_in("x p@ss y") == ["pip_index_url"]


def test_a_value_that_is_no_url_gives_no_pieces_but_itself():
    assert secret_pieces("ghp_abc") == ["ghp_abc"]
    assert secret_pieces("https://u:pw@[bad/x") == ["https://u:pw@[bad/x"]


TOKEN = "hf_Q7x9LmPz2KsT4vWb"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"token={TOKEN.lower()}", "token=***"),
        (f"TOKEN={TOKEN.upper()}", "TOKEN=***"),
        ("token=HF_q7X9lMpZ2kSt4VwB", "token=***"),  # any mix of cases
        # base64 of the token alone: its last character holds bits of "=" too.
        ("aGZfUTd4OUxtUHoyS3NUNHZXYg==", "***g=="),
        # Basic auth: base64("user:" + token); "user:" stays, the token goes.
        ("Basic dXNlcjpoZl9RN3g5TG1QejJLc1Q0dldi", "Basic dXNlcjp***"),
        ("auth QmVhcmVyIGhmX1E3eDlMbVB6MktzVDR2V2I=", "auth QmVhcmVyIG***I="),
        ("hex=68665f513778394c6d507a324b735434765762;", "hex=***;"),
        ("HEX 68665F513778394C6D507A324B7354347657620A", "HEX ***0A"),
    ],
)
def test_case_and_encoded_forms_of_a_token_are_hidden(text, shown):
    assert secret_hider({"HF_TOKEN": TOKEN})(text) == shown


# A password with what URLs, JSON and base64 each write differently.
ODD = 'pa"ss\\wo rd/é9?>~'


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("quote: pa%22ss%5Cwo%20rd/%C3%A99%3F%3E~", "quote: ***"),
        ("lower: pa%22ss%5cwo%20rd/%c3%a99%3f%3e~", "lower: ***"),
        ("safe='': pa%22ss%5Cwo%20rd%2F%C3%A99%3F%3E~", "safe='': ***"),
        ("plus: pa%22ss%5Cwo+rd%2F%C3%A99%3F%3E~&x=1", "plus: ***&x=1"),
        ('json: {"pw": "pa\\"ss\\\\wo rd/\\u00e99?>~"}', 'json: {"pw": "***"}'),
        ('utf8 json: {"pw": "pa\\"ss\\\\wo rd/é9?>~"}', 'utf8 json: {"pw": "***"}'),
        ("repr: {'pw': 'pa\"ss\\\\wo rd/é9?>~'}", "repr: {'pw': '***'}"),
        # base64 of it after 0, 1 and 2 other bytes, standard and URL-safe: what
        # is left holds bits of the bytes around it.
        ("cGEic3Ncd28gcmQvw6k5Pz5+", "***"),
        ("cGEic3Ncd28gcmQvw6k5Pz5-", "***"),
        ("eHBhInNzXHdvIHJkL8OpOT8-fg==", "eH***g=="),
        ("eHBhInNzXHdvIHJkL8OpOT8+fg", "eH***g"),
        ("eHlwYSJzc1x3byByZC_DqTk_Pn4", "eHl***4"),
        ("eHlwYSJzc1x3byByZC/DqTk/Pn4=", "eHl***4="),
        # Words around the value are no disguise.
        ('before pa"ss\\wo rd/é9?>~after', "before ***after"),
    ],
)
def test_quoted_escaped_and_base64_forms_of_a_password_are_hidden(text, shown):
    assert secret_hider({"DB_PASSWORD": ODD})(text) == shown


ORDINARY = (
    "epoch 3/10 - loss: 0.4213 - accuracy: 0.9100 - val_loss: 0.5120\n"
    "Downloading model.safetensors: 100%|##########| 440M/440M [00:12<00:00]\n"
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4\n"
    "Authorization: Basic dXNlcjpvdGhlci1wYXNzd29yZA==\n"
    "https://hub.example/models/bert-base?revision=main&token=%2A%2A%2A\n"
)


def test_ordinary_text_is_left_alone():
    hide = secret_hider({"HF_TOKEN": TOKEN, "DB_PASSWORD": ODD})
    assert hide(ORDINARY) == ORDINARY


def test_a_value_that_is_no_secret_is_left_alone_in_every_form():
    value = "/data/imagenet-train"
    text = (
        f"{value} {value.upper()} {base64.b64encode(value.encode()).decode()} "
        f"{value.encode().hex()} {quote(value, safe='')}"
    )
    assert secret_hider({"DATA_DIR": value, "BATCH_SIZE": "4096"})(text) == text


def test_the_encoded_forms_of_a_short_password_are_left_alone():
    # abc12 is too short to hide alone, so its hex and base64 are too.
    hide = secret_hider({"DBURL": "postgres://admin:abc12@h/db"})
    assert hide("6162633132 YWJjMTI= ABC12") == "6162633132 YWJjMTI= ABC12"
    assert hide("POSTGRES://ADMIN:ABC12@H/DB") == "***"


FORMS_OF_TOKEN = (
    f"raw {TOKEN}\nlower {TOKEN.lower()} upper {TOKEN.upper()}\n"
    f"basic {base64.b64encode(f'user:{TOKEN}'.encode()).decode()}\n"
    f"hex {TOKEN.encode().hex()} quoted {quote(TOKEN)}!\n"
)


def test_a_token_cut_between_two_chunks_is_hidden_wherever_the_cut_falls():
    whole = secret_hider({"HF_TOKEN": TOKEN})(FORMS_OF_TOKEN)
    assert whole == (
        "raw ***\nlower *** upper ***\nbasic dXNlcjp***\nhex *** quoted ***!\n"
    )
    for cut in range(len(FORMS_OF_TOKEN) + 1):
        stream = StreamHider({"HF_TOKEN": TOKEN})
        shown = stream.feed(FORMS_OF_TOKEN[:cut]) + stream.feed(FORMS_OF_TOKEN[cut:])
        assert shown + stream.finish() == whole, cut


@pytest.mark.parametrize("sep", [" ", ":", "-"])
def test_a_token_printed_as_hex_with_a_separator_is_hidden(sep):
    # bx 1: v.hex(" ") and binascii.hexlify(v, "-") showed the whole token.
    hide = secret_hider({"HF_TOKEN": TOKEN})
    shown = TOKEN.encode().hex(sep)
    assert hide(f"hex {shown} end") == "hex *** end"
    assert hide(f"HEX {shown.upper()}") == "HEX ***"


def test_a_token_printed_in_base32_is_hidden():
    # bv 5: base64.b32encode(token) reached the terminal, log and record whole.
    hide = secret_hider({"HF_TOKEN": TOKEN})
    shown = base64.b32encode(TOKEN.encode()).decode()
    hidden = hide(f"b32 {shown} end")
    assert hidden.startswith("b32 ***") and hidden.endswith(" end")
    assert len(hidden) <= len("b32 *** end") + 8  # at most its last group's tail
    value = "/data/imagenet-train"  # no secret: its base32 stays
    text = base64.b32encode(value.encode()).decode()
    assert secret_hider({"DATA_DIR": value})(text) == text


def test_a_token_fed_one_character_at_a_time_is_hidden():
    stream = StreamHider({"HF_TOKEN": TOKEN})
    shown = "".join(stream.feed(char) for char in FORMS_OF_TOKEN) + stream.finish()
    assert shown == secret_hider({"HF_TOKEN": TOKEN})(FORMS_OF_TOKEN)


def test_a_stream_holds_back_only_what_could_begin_a_secret():
    stream = StreamHider({"HF_TOKEN": TOKEN})
    assert stream.feed("epoch 1 loss 0.5\n") == "epoch 1 loss 0.5\n"
    assert stream.feed("sending hf_Q7") == "sending "
    assert stream.feed("x done\n") == "hf_Q7x done\n"
    assert stream.feed("last hf_Q7x9") == "last "
    assert stream.finish() == "hf_Q7x9"
    assert stream.finish() == ""


def test_a_stream_without_secrets_gives_each_chunk_back_at_once():
    stream = StreamHider({"BATCH_SIZE": "64"})
    assert stream.feed("hf_Q7x9") == "hf_Q7x9"
    assert stream.finish() == ""


def test_hidden_in_reaches_every_string_and_key_and_keeps_clashing_keys():
    hide = secret_hider({"API_TOKEN": "Zq8f3k2j5h7g9d1s4a6q"})
    data = {
        "Zq8f3k2j5h7g9d1s4a6q": 1.0,
        "***": 2.0,
        "acc": 0.5,
        "notes": ["token zq8f3k2j5h7g9d1s4a6q in lower case", 3, None],
    }
    assert hidden_in(data, hide) == {
        "***": 1.0,
        "*** (2)": 2.0,
        "acc": 0.5,
        "notes": ["token *** in lower case", 3, None],
    }


def test_what_the_script_left_in_its_run_folder_reaches_the_record_hidden(tmp_path):
    import json

    from reprobox import run_ending

    secret = "Zq8f3k2j5h7g9d1s4a6q"
    (tmp_path / "metrics.json").write_text(
        json.dumps({"acc": 0.9, f"loss_{secret}": 0.1, "note": secret})
    )
    (tmp_path / "capture.json").write_text(
        json.dumps({"error": {"message": f"ValueError: bad token {secret.upper()}"}})
    )
    record: dict = {}
    run_ending.finish_record(
        record,
        tmp_path,
        0.0,
        hide=secret_hider({"API_TOKEN": secret}),
        status="failed",
        exit_code=1,
        error={"message": "exit 1", "log_tail": ""},
    )
    # Named with the secret: left out, not renamed (brk r46, BN 1).
    assert record["metrics"] == {"acc": 0.9}
    assert (
        "metric loss_*** is named with a secret --env value; left out"
        in (record["warnings"])
    )
    assert record["error"]["message"] == "ValueError: bad token ***"
    assert "metric 'note' in the metrics file ($REPROBOX_METRICS) is not a number" in (
        " ".join(record["warnings"])
    )
    assert secret.lower() not in json.dumps(record).lower()


def test_a_stream_hider_hides_a_whole_text_as_secret_hider_does():
    env = {"API_TOKEN": "Zq8f3k2j5h7g9d1s4a6q", "DB_URL": "postgres://u:pw123456@h/db"}
    texts = [
        "token Zq8f3k2j5h7g9d1s4a6q and ZQ8F3K2J5H7G9D1S4A6Q",
        "db pw123456 ends here: Zq8f3k2j5h",
        "",
    ]
    whole = secret_hider(env)
    assert [StreamHider(env).hide(t) for t in texts] == [whole(t) for t in texts]
    assert StreamHider({"PLAIN": "x"}).hide(texts[0]) == texts[0]


# The value a shell gives for export DB_PASSWORD='Zq"8x\\Wm/3@k%Lp!2&Rv'.
MARKUP = 'Zq"8x\\Wm/3@k%Lp!2&Rv'
# Both quotes, < and > and a character outside ASCII.
QUOTES = "Zq'8x\"Wm<3>@k&é"


@pytest.mark.parametrize(
    ("value", "text", "shown"),
    [
        # html.escape, quote=True and quote=False; xml.sax.saxutils.escape.
        (MARKUP, "<td>Zq&quot;8x\\Wm/3@k%Lp!2&amp;Rv</td>", "<td>***</td>"),
        (MARKUP, 'pw: Zq"8x\\Wm/3@k%Lp!2&amp;Rv.', "pw: ***."),
        (QUOTES, "Zq&#x27;8x&quot;Wm&lt;3&gt;@k&amp;é", "***"),
        (QUOTES, "Zq'8x\"Wm&lt;3&gt;@k&amp;é", "***"),
        # markupsafe (Jinja2) writes &#39; and &#34;; XML may write &apos;.
        (QUOTES, "Zq&#39;8x&#34;Wm&lt;3&gt;@k&amp;é", "***"),
        (QUOTES, "Zq&apos;8x&quot;Wm&lt;3&gt;@k&amp;é", "***"),
        # An upper-case entity is the same entity.
        (MARKUP, "Zq&QUOT;8x\\Wm/3@k%Lp!2&AMP;Rv", "***"),
        # repr of the value's bytes in UTF-16 and UTF-32, each byte order, and
        # with the byte order mark that the plain codec names put first. The NULs
        # that pad the first and last characters stay: they tell nothing.
        (MARKUP, str(MARKUP.encode("utf-16-le")), "b'***\\x00'"),
        (MARKUP, str(MARKUP.encode("utf-16-be")), "b'\\x00***'"),
        (MARKUP, str(MARKUP.encode("utf-16")), "b'\\xff\\xfe***\\x00'"),
        (
            MARKUP,
            str(MARKUP.encode("utf-32")),
            "b'\\xff\\xfe\\x00\\x00***\\x00\\x00\\x00'",
        ),
        (MARKUP, str(MARKUP.encode("utf-32-be")), "b'\\x00\\x00\\x00***'"),
        (QUOTES, str(QUOTES.encode("utf-16-le")), "b'***\\x00'"),
        # UTF-8 bytes: \xc3\xa9 where the str repr shows é; ascii() of the str.
        (QUOTES, str(QUOTES.encode()), "b'***'"),
        (QUOTES, ascii(QUOTES), "'***'"),
        # In a text that also holds ", repr escapes the value's ' as \'.
        ("Zq'8x/Wm@3k", repr('pw="Zq\'8x/Wm@3k"'), "'pw=\"***\"'"),
        (QUOTES, str([b'"', QUOTES.encode("utf-16-be")]), "[b'\"', b'\\x00***']"),
        # UTF-16 bytes written raw reach the log as text with NULs.
        (MARKUP, "pw " + MARKUP.encode("utf-16-le").decode() + "\n", "pw ***\x00\n"),
    ],
)
def test_markup_escaped_and_bytes_forms_of_a_password_are_hidden(value, text, shown):
    assert secret_hider({"DB_PASSWORD": value})(text) == shown


def test_what_the_standard_library_escapes_and_encodes_is_hidden():
    hide = secret_hider({"DB_PASSWORD": QUOTES})
    printed = [
        html.escape(QUOTES),
        html.escape(QUOTES, quote=False),
        xml.sax.saxutils.escape(QUOTES),
        xml.sax.saxutils.quoteattr(QUOTES),
        *(str(QUOTES.encode(codec)) for codec in ("utf-8", "utf-16", "utf-32")),
    ]
    assert [hide(text) for text in printed] == [
        "***",
        "***",
        "***",
        '"***"',
        "b'***'",
        "b'\\xff\\xfe***\\x00'",
        "b'\\xff\\xfe\\x00\\x00***\\x00\\x00\\x00'",
    ]


FORMS_OF_MARKUP = (
    "html Zq&quot;8x\\Wm/3@k%Lp!2&amp;Rv\n"
    f"utf16 {MARKUP.encode('utf-16-le')!s} utf32 {MARKUP.encode('utf-32')!s}\n"
    "raw " + MARKUP.encode("utf-16-be").decode() + "!\n"
)


def test_markup_and_bytes_forms_cut_between_two_chunks_are_hidden():
    env = {"DB_PASSWORD": MARKUP}
    whole = secret_hider(env)(FORMS_OF_MARKUP)
    assert whole == (
        "html ***\nutf16 b'***\\x00' utf32 b'\\xff\\xfe\\x00\\x00***\\x00\\x00\\x00'\n"
        "raw \x00***!\n"
    )
    for cut in range(len(FORMS_OF_MARKUP) + 1):
        stream = StreamHider(env)
        shown = stream.feed(FORMS_OF_MARKUP[:cut]) + stream.feed(FORMS_OF_MARKUP[cut:])
        assert shown + stream.finish() == whole, cut


def test_markup_and_bytes_text_without_the_whole_value_is_left_alone():
    text = (
        '<a href="/runs?id=8&amp;q=Zq">Zq&quot;8x</a> &#39;ok&#39; &apos;\n'
        "b'Z\\x00q\\x00\"\\x008\\x00' b'\\xff\\xfe\\x00\\x00' b'\\x00\\x00\\x00'\n"
        'Zq\x00"\x008\x00x\x00 ' + "\x00" * 8 + "\n"
    )
    assert secret_hider({"DB_PASSWORD": MARKUP})(text) == text
    # A value too short to hide is not hidden escaped or encoded either.
    text = "x&amp;y x&#38;y b'x\\x00&\\x00y\\x00' x&y"
    assert secret_hider({"DB_PASSWORD": "x&y"})(text) == text


@pytest.mark.parametrize(
    "secret, printed",
    [
        # aj 1: JSON with / escaped as \/ (ujson, PHP, many Java encoders).
        ("Qz7+Kp/2Lm9=Xw4&Vb8!Nc3", lambda s: json.dumps(s).replace("/", "\\/")),
        # aj 2: a CSV field, its quotes doubled (csv.writer).
        ('Rk4"Tz9\\Wq2&Lm7<Xv8', lambda s: '"' + s.replace('"', '""') + '"'),
    ],
)
def test_a_secret_printed_as_json_with_escaped_slashes_or_as_csv_is_hidden(
    secret, printed
):
    hide = secret_hider({"AJ_SECRET": secret})
    shown = hide(f"value: {printed(secret)}\n")
    assert shown == 'value: "***"\n'
