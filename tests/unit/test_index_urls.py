"""Index URLs are checked by one function, and their scheme's case does not matter."""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from reprobox.config import load_config
from reprobox.errors import ConfigError, LockError
from reprobox.index_urls import IndexUrlError, checked_index_url, lower_scheme
from reprobox.lock import PackageIndexes, resolve_lock, sanitize_requirements
from reprobox.lock.entries import RequirementEntry
from reprobox.lock.resolve import find_uv

CMD = 'command = "python train.py"\n'


def config_with(tmp_path: Path, packages: str):
    (tmp_path / "reprobox.toml").write_text(CMD + "[packages]\n" + packages)
    return load_config(tmp_path)


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("HTTP://127.0.0.1:5803/simple/", "http://127.0.0.1:5803/simple/"),
        ("Https://Pypi.Example/Simple/", "https://Pypi.Example/Simple/"),
        ("HTTP://LOCALHOST:3141/root/", "http://LOCALHOST:3141/root/"),
        (
            "HTTPS://__token__:${TOK}@idx.example/simple/",
            "https://__token__:${TOK}@idx.example/simple/",
        ),
    ],
)
def test_the_config_keeps_an_index_with_its_scheme_in_lower_case(
    tmp_path, written, used
):
    cfg = config_with(
        tmp_path, f'index_url = "{written}"\nextra_index_urls = ["{written}"]\n'
    )
    assert cfg.index_url == used
    assert cfg.extra_index_urls == (used,)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "HTTP://pypi.example/simple/",
            "packages.index_url: pypi.example is plain http, which pip refuses "
            "without --trusted-host (reprobox never sets it) (serve the index over "
            "https (loopback http is allowed))",
        ),
        (
            "FILE:///srv/wheels",
            "packages.index_url: 'file:///srv/wheels' is not a remote index: a lock "
            "must install on other machines, so file URLs and local folders are not "
            "allowed (declare an https:// index, or publish the wheels to one)",
        ),
        (
            "HTTPS://__token__:s3cret@idx.example/simple/",
            "packages.index_url: holds a credential written into the file, which "
            "would travel with the project (and into the image) (write it as "
            "${NAME}, e.g. https://__token__:${PYPI_TOKEN}@host/simple/, and set "
            "NAME in the environment)",
        ),
    ],
)
def test_an_upper_case_scheme_is_held_to_the_same_rules(tmp_path, url, message):
    with pytest.raises(ConfigError) as caught:
        config_with(tmp_path, f'index_url = "{url}"\n')
    assert str(caught.value) == f"{tmp_path / 'reprobox.toml'}: {message}"


def test_lower_scheme_leaves_what_has_no_scheme_alone():
    assert lower_scheme("HTTPS://H/Path") == "https://H/Path"
    assert lower_scheme("GIT+HTTPS://h/r.git") == "git+https://h/r.git"
    assert lower_scheme("./HTTP://x") == "./HTTP://x"
    assert lower_scheme("no scheme at all") == "no scheme at all"


def test_the_indexes_given_to_a_resolver_are_lower_cased_everywhere():
    indexes = PackageIndexes(
        "HTTPS://__token__:tok@idx.example/simple/", ("Http://127.0.0.1:9/s/",)
    )
    assert indexes.uv_env() == {
        "UV_DEFAULT_INDEX": "https://__token__:tok@idx.example/simple/",
        "UV_INDEX": "http://127.0.0.1:9/s/",
    }
    assert indexes.pip_env()["PIP_INDEX_URL"].startswith("https://")
    assert indexes.redacted() == {
        "extra_index_urls": ["http://127.0.0.1:9/s/"],
        "index_url": "https://***@idx.example/simple/",
    }
    assert indexes.build_secrets().values["pip_index_url"].startswith("https://")


def test_a_filled_in_index_that_is_no_remote_one_is_refused_with_its_key():
    with pytest.raises(LockError) as caught:
        PackageIndexes(None, ("https://pypi.org/simple", "FILE:///srv/wheels"))
    assert str(caught.value) == (
        "extra_index_urls 'file:///srv/wheels' is not a remote index: a lock must "
        "install on other machines, so file URLs and local folders are not allowed "
        "(declare an https:// index, or publish the wheels to one)"
    )


def test_the_check_raises_one_error_with_problem_and_fix():
    with pytest.raises(IndexUrlError) as caught:
        checked_index_url("ftp://idx.example/simple")
    assert caught.value.problem.startswith("'ftp://idx.example/simple' is not")
    assert caught.value.fix == "declare an https:// index, or publish the wheels to one"


def entry(line: str) -> RequirementEntry:
    return RequirementEntry(Requirement(line), "requirements.txt:1")


def test_a_direct_url_with_an_upper_case_scheme_is_written_in_lower_case():
    lines, warnings, needs_git = sanitize_requirements(
        [entry("six @ HTTPS://files.example/six-1.17.0-py2.py3-none-any.whl")]
    )
    assert lines == ["six @ https://files.example/six-1.17.0-py2.py3-none-any.whl"]
    assert (warnings, needs_git) == ([], False)


def test_an_upper_case_git_url_gets_the_git_checks():
    lines, warnings, needs_git = sanitize_requirements(
        [entry("six @ GIT+HTTPS://git.example/six.git")]
    )
    assert lines == ["six @ git+https://git.example/six.git"]
    assert needs_git
    assert warnings == [
        "requirements.txt:1: six @ git+https://git.example/six.git names no "
        "commit; locked at the commit its branch points to now"
    ]
    with pytest.raises(LockError, match="six comes from hg; only git sources"):
        sanitize_requirements([entry("six @ HG+HTTPS://hg.example/six")])


def tiny_wheel(folder: Path) -> Path:
    """Write a one-module wheel, tinypkg 1.0, into folder/tinypkg/."""
    folder.mkdir(parents=True)
    path = folder / "tinypkg-1.0-py3-none-any.whl"
    files = {
        "tinypkg.py": b"VALUE = 1\n",
        "tinypkg-1.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n"
        ),
        "tinypkg-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(data)}")
    record.append("tinypkg-1.0.dist-info/RECORD,,")
    files["tinypkg-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return path


@pytest.fixture
def local_index(tmp_path):
    """Serve a simple index holding tinypkg on a free loopback port; yield its port."""
    root = tmp_path / "index"
    tiny_wheel(root / "simple" / "tinypkg")

    class Files(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(find_uv() is None, reason="needs uv")
def test_uv_resolves_from_an_index_written_with_an_upper_case_scheme(local_index):
    url = f"HTTP://127.0.0.1:{local_index}/simple/"
    lock = resolve_lock(["tinypkg==1.0"], indexes=PackageIndexes(url))
    assert lock.pins == {"tinypkg": "1.0"}


NAME_FIX = (
    "write it as ${NAME}, NAME a letter or underscore then letters, digits or "
    "underscores (e.g. ${PYPI_TOKEN}); a literal $ as %24"
)


@pytest.mark.parametrize(
    ("userinfo", "problem", "fix"),
    [
        (
            "${1BAD}",
            "${1BAD} is not a valid environment variable reference (names start "
            "with a letter or underscore)",
            NAME_FIX,
        ),
        ("${}", "${} names no environment variable", NAME_FIX),
        (
            "${A-B}",
            "${A-B} is not a valid environment variable reference (names hold "
            "only letters, digits and underscores)",
            NAME_FIX,
        ),
        (
            "$1",
            "$1 is not an environment variable reference: reprobox fills in only "
            "${NAME}",
            NAME_FIX,
        ),
        (
            "$PYPI_TOKEN",
            "$PYPI_TOKEN is not an environment variable reference: reprobox fills "
            "in only ${NAME}",
            "write it as ${PYPI_TOKEN}; a literal $ as %24",
        ),
        ("${A", "${A is not closed with a }", NAME_FIX),
        (
            "${pypi-AgEIcHlwaS5vcmcCJGFi}",
            "a ${...} of 28 characters is not a valid environment variable "
            "reference (names hold only letters, digits and underscores)",
            NAME_FIX,
        ),
        (
            "$ecretpassw0rd",
            "a $... of 14 characters is not an environment variable reference: "
            "reprobox fills in only ${NAME}",
            NAME_FIX,
        ),
    ],
)
def test_a_dollar_that_starts_no_reference_is_named_with_the_fix(
    tmp_path, userinfo, problem, fix
):
    url = f"http://__token__:{userinfo}@127.0.0.1:5803/simple/"
    with pytest.raises(ConfigError) as caught:
        config_with(tmp_path, f"extra_index_urls = ['{url}']\n")
    assert str(caught.value) == (
        f"{tmp_path / 'reprobox.toml'}: packages.extra_index_urls: {problem} ({fix})"
    )


def test_a_reference_in_the_query_or_path_is_checked_too(tmp_path):
    with pytest.raises(ConfigError, match=r"\$T is not an environment variable"):
        config_with(tmp_path, "index_url = 'https://idx.example/s/?token=$T'\n")
    cfg = config_with(tmp_path, "index_url = 'https://idx.example/${ORG}/s/%24x'\n")
    assert cfg.index_url == "https://idx.example/${ORG}/s/%24x"
