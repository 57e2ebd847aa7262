"""Naming why a build failed from BuildKit's log (reprobox.build_failure)."""

from __future__ import annotations

import pytest

from reprobox.build_failure import explain_build_failure
from reprobox.errors import EXIT_ENGINE, EXIT_USAGE

RETRY = (
    "#6 4.756 WARNING: Retrying (Retry(total=4, connect=None, read=None, "
    "redirect=None, status=None)) after connection broken by 'NewConnectionError"
    "('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f1>: Failed to "
    "establish a new connection: [Errno 111] Connection refused')': /simple/six/"
)
NOT_FOUND = [
    "#6 12.28 ERROR: Could not find a version that satisfies the requirement "
    "six==1.16.0 (from versions: none)",
    "#6 12.28 ERROR: No matching distribution found for six==1.16.0",
]
SETUP_PY = [
    "#6 6.469   × Running setup.py install for pycrypto did not run successfully.",
    "#6 6.469   │ exit code: 1",
    "#6 6.473 error: legacy-install-failure",
    "#6 6.473 × Encountered error while trying to install package.",
    "#6 6.473 ╰─> pycrypto",
]


def explain(lines, loopback=()):
    return explain_build_failure(
        lines,
        config="reprobox.toml",
        base_image="base:1",
        python="3.11",
        loopback_indexes=loopback,
    )


def test_a_base_without_python3_names_the_setting():
    error = explain(["#6 0.176 /bin/sh: 1: python3: not found"])
    assert error.exit_code == EXIT_USAGE
    assert error.message.startswith("reprobox.toml: base_image base:1 has no python3")


def test_a_base_without_a_shell_names_the_setting():
    # BuildKit 20.10 on a FROM scratch base: the step never starts.
    error = explain([
        '#5 0.142 runc run failed: unable to start container process: exec: '
        '"/bin/sh": stat /bin/sh: no such file or directory',
        "#5 ERROR: executor failed running [/bin/sh -c set -eu; python3 -c 1]: "
        "exit code: 1",
    ])  # fmt: skip
    assert error.exit_code == EXIT_USAGE
    assert error.message == (
        "reprobox.toml: base_image base:1 has no /bin/sh (so no python3 either), "
        "which every build step runs in"
    )


def test_a_user_by_name_on_a_base_without_passwd_says_freeze_again():
    error = explain([
        "#5 ERROR: executor failed running [/bin/sh -c python3 -c 1]: unable "
        "to find user root: invalid argument",
    ])  # fmt: skip
    assert error.exit_code == EXIT_USAGE
    assert error.message.startswith(
        "reprobox.toml: base_image base:1 has no user root (no /etc/passwd entry)"
    )
    assert error.hint.startswith("freeze again")


def test_an_index_on_loopback_names_its_key():
    error = explain([RETRY, *NOT_FOUND], loopback=["packages.index_url"])
    assert error.exit_code == EXIT_USAGE
    assert error.message.startswith("reprobox.toml: packages.index_url:")
    assert "Connection refused" in error.message


def test_a_remote_index_out_of_reach_is_engine_trouble():
    error = explain([RETRY, *NOT_FOUND])
    assert error.exit_code == EXIT_ENGINE
    assert "cannot reach the package index (Connection refused)" in error.message


def test_a_retry_that_then_got_through_does_not_hide_the_real_cause():
    error = explain([RETRY, *SETUP_PY])
    assert error.message.startswith("package pycrypto failed to build from source")
    assert "Python 3.11, base:1" in error.message
    # Only what the config can say: it has no key for system packages.
    assert "use a base_image that has the compiler" in error.hint
    assert "system_packages" not in error.hint


@pytest.mark.parametrize(
    "line, name",
    [
        ("#7 9.1   ERROR: Failed building wheel for lxml", "lxml"),
        (
            "#7 9.1 ERROR: Failed to build installable wheels for some "
            "pyproject.toml based projects (numpy)",
            "numpy",
        ),
    ],
)
def test_a_package_that_does_not_build_is_named(line, name):
    assert explain([line]).message.startswith(f"package {name} failed to build")


def test_a_hash_mismatch_names_the_package_and_the_lock():
    error = explain(
        [
            "#6 3.1 ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE "
            "REQUIREMENTS FILE. ...",
            "#6 3.1     six==1.16.0 from https://files.example/six.whl:",
            "#6 3.1         Expected sha256 aaaa",
        ]
    )
    assert "requirements.lock (six)" in error.message
    assert error.exit_code == EXIT_USAGE


def test_an_untrusted_certificate_points_at_ca_cert():
    error = explain(["#6 2.0 ... [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify"])
    assert "ca_cert in reprobox.toml" in error.hint


def test_a_lock_entry_the_index_lacks_without_network_trouble():
    error = explain(NOT_FOUND)
    assert error.message.startswith("the build found no six==1.16.0")
    # CI, 26c0610: grpcio 1.85.4 was out minutes before; the lock named it,
    # the build's cached index page did not list it yet.
    assert "check index_url and extra_index_urls in reprobox.toml" in error.hint
    assert error.hint.endswith("(build again in a few minutes)")


def test_an_unknown_failure_is_left_to_the_caller():
    assert explain(["#9 ERROR: failed to compute cache key: not found"]) is None


# What a build step run as a base image's non-root user says, as BuildKit logs it.
DENIED = [
    "#6 [stage-0 2/5] RUN --mount=type=cache,target=/root/.cache/pip …",
    "#6 0.278 Error: [Errno 13] Permission denied: '/opt/venv'",
]


def test_a_refused_write_from_an_old_dockerfile_says_to_freeze_again():
    error = explain_build_failure(
        DENIED,
        config="reprobox.toml",
        base_image="base:1",
        python="3.11",
        as_root=False,
    )
    assert error.exit_code == EXIT_USAGE
    assert error.message.startswith("reprobox.toml: base_image base:1 ends on a user")
    assert "(Error: [Errno 13] Permission denied: '/opt/venv')" in error.message
    assert "frozen by an older reprobox" in error.message
    assert error.hint.startswith(
        "freeze again: the Dockerfile it writes builds as root"
    )
    assert "\n" not in error.message + error.hint


@pytest.mark.parametrize(
    "line",
    [
        "#6 0.3 Error: [Errno 13] Permission denied: '/opt/venv'",
        "#6 0.3 /bin/sh: 1: cannot create /opt/x/zz_reprobox.pth: Permission denied",
        "#5 1.2 E: Could not open lock file /var/lib/apt/lists/lock - open "
        "(13: Permission denied)",
    ],
)
def test_a_refused_write_as_root_names_the_base_image(line):
    error = explain([line])
    assert error.exit_code == EXIT_USAGE
    assert error.message.startswith(
        "reprobox.toml: base_image base:1: a build step running as root was denied"
    )
    assert line.split(" ", 2)[2] in error.message
    assert "use another base_image" in error.hint


def test_a_refused_install_after_a_retry_is_not_called_an_unreachable_index():
    error = explain(
        [
            RETRY,
            "#6 5.1 ERROR: Could not install packages due to an OSError: "
            "[Errno 13] Permission denied: '/opt/venv/lib/python3.11/six.py'",
        ]
    )
    assert error.exit_code == EXIT_USAGE
    assert "denied permission" in error.message
    assert "cannot reach" not in error.message


def test_a_long_refusal_line_is_cut_to_keep_one_short_line():
    error = explain(
        ["#6 0.3 Error: [Errno 13] Permission denied: '/" + "x" * 300 + "'"]
    )
    assert "x" * 60 in error.message
    assert "x" * 120 not in error.message
    assert "…" in error.message


def test_an_ssh_key_refusal_is_not_called_a_file_permission():
    lines = [
        "#6 4.2 git@github.com: Permission denied (publickey).",
        "#6 4.2 fatal: Could not read from remote repository.",
    ]
    assert explain(lines) is None
