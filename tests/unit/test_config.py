"""Config loading: every bad input is a ConfigError naming file, key and fix."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reprobox.config import ProjectConfig, load_config
from reprobox.config_metrics import Tolerance
from reprobox.errors import EXIT_USAGE, ConfigError

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Bad:
    """One bad project: its files, and what the ConfigError must name."""

    id: str
    toml: str | bytes | None
    key: str | None
    problem: str
    files: dict = field(default_factory=dict)
    source: str = "reprobox.toml"  # file the error names ("." is the folder)
    link: tuple[str, str] | None = None  # (name in project, target) symlink


CMD = 'command = "python train.py"\n'
BAD = [
    # the file itself
    Bad(
        "malformed-toml",
        "command = \n",
        None,
        "not valid TOML",
    ),
    Bad("empty-file", "", None, "is empty"),
    Bad("blank-file", "  \n\n", None, "is empty"),
    Bad("not-utf8", b'command = "python tr\xe9in.py"\n', None, "not UTF-8"),
    Bad("no-config", None, None, "no reprobox.toml", source="."),
    Bad(
        "pyproject-without-table",
        None,
        None,
        "no reprobox.toml",
        source=".",
        files={"pyproject.toml": "[tool.black]\nline-length = 88\n"},
    ),
    Bad(
        "pyproject-table-not-table",
        None,
        "tool.reprobox",
        "is not a table",
        files={"pyproject.toml": "[tool]\nreprobox = 1\n"},
        source="pyproject.toml",
    ),
    Bad(
        "pyproject-tool-not-table",
        None,
        "tool",
        "is not a table",
        files={"pyproject.toml": 'tool = "x"\n'},
        source="pyproject.toml",
    ),
    # unknown keys, top level and in each table
    Bad("unknown-top-key", 'comand = "python train.py"\n', "comand", "unknown key"),
    Bad("unknown-top-key-far", CMD + "zzz = 1\n", "zzz", "unknown key"),
    Bad(
        "unknown-packages-key",
        CMD + '[packages]\nrequirement = "r.txt"\n',
        "packages.requirement",
        "unknown key",
    ),
    Bad(
        "unknown-build-key",
        CMD + '[build]\ncacert = "ca.pem"\n',
        "build.cacert",
        "unknown key",
    ),
    Bad("unknown-run-key", CMD + "[run]\ncpu = 1\n", "run.cpu", "unknown key"),
    Bad(
        "unknown-metrics-key",
        CMD + "[metrics]\ntolerance = {}\n",
        "metrics.tolerance",
        "unknown key",
    ),
    # wrong types
    Bad("data-string-not-list", CMD + 'data = "x.csv"\n', "data", "wrong type (str)"),
    Bad("seed-bool-not-int", CMD + "seed = true\n", "seed", "wrong type (bool)"),
    Bad("seed-string-not-int", CMD + 'seed = "42"\n', "seed", "wrong type (str)"),
    Bad("python-float", CMD + "python = 3.11\n", "python", "wrong type (float)"),
    Bad(
        "from-env-string",
        CMD + '[packages]\nfrom_env = "yes"\n',
        "packages.from_env",
        "wrong type (str)",
    ),
    Bad("cpus-string", CMD + '[run]\ncpus = "2"\n', "run.cpus", "wrong type (str)"),
    Bad("cpus-bool", CMD + "[run]\ncpus = true\n", "run.cpus", "wrong type (bool)"),
    Bad(
        "compare-string",
        CMD + '[metrics]\ncompare = "acc"\n',
        "metrics.compare",
        "wrong type (str)",
    ),
    Bad("env-string", CMD + 'env = "X=1"\n', "env", "wrong type (str)"),
    Bad("pass-env-string", CMD + 'pass_env = "HOME"\n', "pass_env", "wrong type (str)"),
    Bad(
        "packages-list", CMD + 'packages = ["numpy"]\n', "packages", "wrong type (list)"
    ),
    Bad("command-int", "command = 42\n", "command", "wrong type (int)"),
    Bad(
        "index-url-int",
        CMD + "[packages]\nindex_url = 1\n",
        "packages.index_url",
        "wrong type (int)",
    ),
    # command
    Bad("command-missing", 'python = "3.11"\n', "command", "is missing"),
    Bad("command-empty-string", 'command = ""\n', "command", "is empty"),
    Bad("command-blank-string", 'command = "   "\n', "command", "is empty"),
    Bad("command-empty-list", "command = []\n", "command", "is empty"),
    Bad(
        "command-empty-item",
        'command = ["python", ""]\n',
        "command",
        "non-empty strings",
    ),
    Bad(
        "command-unclosed-quote",
        'command = "python \'train.py"\n',
        "command",
        "cannot be split",
    ),
    # python, profile, name, resolver, network, cpus, seed
    Bad("python-major-only", CMD + 'python = "3"\n', "python", "not major.minor"),
    Bad("python-two", CMD + 'python = "2.7"\n', "python", "not major.minor"),
    Bad("python-patch", CMD + 'python = "3.11.4"\n', "python", "not major.minor"),
    Bad(
        "python-trailing-newline",
        CMD + 'python = "3.11\\n"\n',
        "python",
        "not major.minor",
    ),
    Bad("profile-capitalised", CMD + 'profile = "Strict"\n', "profile", "is unknown"),
    Bad("profile-unknown", CMD + 'profile = "fast"\n', "profile", "is unknown"),
    Bad(
        "env-value-the-strict-profile-overrides",
        CMD + 'profile = "strict"\n[env]\nONEDNN_MAX_CPU_ISA = "AVX512_CORE"\n',
        "env.ONEDNN_MAX_CPU_ISA",
        "is 'AVX512_CORE', but profile \"strict\" sets 'AVX2' and the profile wins",
    ),
    Bad(
        "pass-env-the-strict-profile-overrides",
        CMD + 'profile = "strict"\npass_env = ["TF_DETERMINISTIC_OPS"]\n',
        "pass_env",
        "names TF_DETERMINISTIC_OPS, but profile \"strict\" sets '1' and the "
        "profile wins, so the shell's value would not be the run's",
    ),
    Bad(
        "env-thread-count-the-strict-profile-pins",
        CMD + 'profile = "strict"\n[env]\nTF_NUM_INTRAOP_THREADS = "8"\n',
        "env.TF_NUM_INTRAOP_THREADS",
        "is '8', but profile \"strict\" sets '1' and the profile wins",
    ),
    Bad(
        "env-non-deterministic-cublas-under-strict",
        CMD + 'profile = "strict"\n[env]\nCUBLAS_WORKSPACE_CONFIG = ":0:0"\n',
        "env.CUBLAS_WORKSPACE_CONFIG",
        "is ':0:0', but profile \"strict\" sets ':4096:8' and the profile wins",
    ),
    Bad(
        "pass-env-thread-count-the-strict-profile-pins",
        CMD + 'profile = "strict"\npass_env = ["OMP_NUM_THREADS"]\n',
        "pass_env",
        "names OMP_NUM_THREADS, but profile \"strict\" sets '1' and the profile "
        "wins, so the shell's value would not be the run's",
    ),
    Bad(
        "env-hash-seed-the-seed-sets",
        CMD + 'seed = 42\n[env]\nPYTHONHASHSEED = "1"\n',
        "env.PYTHONHASHSEED",
        "is '1', but seed = 42 sets '42' and the seed wins",
    ),
    Bad(
        "env-hash-seed-under-strict-without-a-seed",
        CMD + 'profile = "strict"\n[env]\nPYTHONHASHSEED = "1"\n',
        "env.PYTHONHASHSEED",
        "is '1', but profile \"strict\" sets '0' and the profile wins",
    ),
    Bad(
        "pass-env-hash-seed-the-seed-sets",
        CMD + 'seed = 3\npass_env = ["PYTHONHASHSEED"]\n',
        "pass_env",
        "names PYTHONHASHSEED, but seed = 3 sets '3' and the seed wins",
    ),
    Bad(
        "env-reprobox-own-variable",
        CMD + '[env]\nREPROBOX_SEED = "1"\n',
        "env.REPROBOX_SEED",
        "is reprobox's own: the REPROBOX_ prefix is kept for what reprobox tells",
    ),
    Bad(
        "env-home-the-image-decides",
        CMD + '[env]\nHOME = "/root"\n',
        "env.HOME",
        "is the image's to decide (the home folder of the user the run starts as)",
    ),
    Bad(
        # brk r39 (BB 7): [env] silently won over this shell's value.
        "pass-env-also-in-env",
        CMD + 'pass_env = ["X"]\n[env]\nX = "2"\n',
        "pass_env",
        "names X, which [env] sets too",
    ),
    Bad(
        "pass-env-twice",
        CMD + 'pass_env = ["X", "X"]\n',
        "pass_env",
        "names 'X' twice",
    ),
    Bad(
        "env-python-platlibdir",
        CMD + '[env]\nPYTHONPLATLIBDIR = "x"\n',
        "env.PYTHONPLATLIBDIR",
        "is the image's and reprobox's to decide",
    ),
    Bad(
        "env-gpu-runtime-variable",
        CMD + '[env]\nNVIDIA_VISIBLE_DEVICES = "all"\n',
        "env.NVIDIA_VISIBLE_DEVICES",
        "is --gpus's to decide",
    ),
    Bad(
        "env-variable-the-image-sets",
        CMD + '[env]\nVIRTUAL_ENV = "/x"\n',
        "env.VIRTUAL_ENV",
        "is the image's and reprobox's to decide",
    ),
    Bad(
        "name-with-space",
        CMD + 'name = "my project!"\n',
        "name",
        "cannot name an image",
    ),
    Bad(
        "name-leading-dash", CMD + 'name = "-digits"\n', "name", "no mark at either end"
    ),
    Bad("name-too-long", CMD + f'name = "{"a" * 64}"\n', "name", "Docker allows 63"),
    Bad(
        "resolver-unknown",
        CMD + '[packages]\nresolver = "pip"\n',
        "packages.resolver",
        "is unknown",
    ),
    Bad("network-host", CMD + '[run]\nnetwork = "host"\n', "run.network", "is unknown"),
    Bad("cpus-zero", CMD + "[run]\ncpus = 0\n", "run.cpus", "below the least"),
    Bad("cpus-negative", CMD + "[run]\ncpus = -1.5\n", "run.cpus", "below the least"),
    Bad("cpus-nan", CMD + "[run]\ncpus = nan\n", "run.cpus", "is not a number"),
    # bv 4: 9999 was "not a finite CPU count (give a number above 0)".
    Bad("cpus-9999", CMD + "[run]\ncpus = 9999\n", "run.cpus", "more CPUs than any"),
    Bad(
        "cpus-infinite",
        CMD + "[run]\ncpus = inf\n",
        "run.cpus",
        "more CPUs than any machine has",
    ),
    Bad(
        "seed-negative",
        CMD + "seed = -1\n",
        "seed",
        "seed",
    ),
    # env and pass_env
    Bad("env-value-newline", CMD + '[env]\nFOO = "a\\nb"\n', "env.FOO", "line break"),
    Bad(
        "env-value-carriage-return",
        CMD + '[env]\nFOO = "a\\rb"\n',
        "env.FOO",
        "line break",
    ),
    Bad("env-value-nul", CMD + '[env]\nFOO = "a\\u0000b"\n', "env.FOO", "NUL"),
    Bad(
        "env-value-too-long",
        CMD + f'[env]\nFOO = "{"x" * 4097}"\n',
        "env.FOO",
        "longer than 4096",
    ),
    Bad("env-value-bool", CMD + "[env]\nFOO = true\n", "env.FOO", "or an integer"),
    Bad("env-value-table", CMD + "[env.FOO]\nx = 1\n", "env.FOO", "or an integer"),
    Bad("env-value-list", CMD + "[env]\nFOO = [1]\n", "env.FOO", "or an integer"),
    Bad("env-name-digit", CMD + '[env]\n"1BAD" = "1"\n', "env.1BAD", "variable name"),
    Bad("env-name-dash", CMD + '[env]\n"A-B" = "1"\n', "env.A-B", "variable name"),
    Bad(
        "env-name-trailing-newline",
        CMD + '[env]\n"FOO\\n" = "1"\n',
        "env.FOO\n",
        "variable name",
    ),
    Bad(
        "pass-env-bad-name",
        CMD + 'pass_env = ["1BAD"]\n',
        "pass_env",
        "not a variable name",
    ),
    Bad(
        "pass-env-empty-name",
        CMD + 'pass_env = [""]\n',
        "pass_env",
        "non-empty strings",
    ),
    Bad(
        "pass-env-trailing-newline",
        CMD + 'pass_env = ["FOO\\n"]\n',
        "pass_env",
        "not a variable name",
    ),
    # data and requirements paths
    Bad(
        "data-parent",
        CMD + 'data = ["../x.csv"]\n',
        "data",
        "outside the project",
        files={"../x.csv": "1\n"},
    ),
    Bad(
        "data-absolute",
        CMD + 'data = ["/etc/hostname"]\n',
        "data",
        "not a relative path",
    ),
    Bad(
        "data-symlink-out",
        CMD + 'data = ["link.csv"]\n',
        "data",
        "outside the project",
        files={"../secret.csv": "1\n"},
        link=("link.csv", "../secret.csv"),
    ),
    Bad("data-missing", CMD + 'data = ["data/none.csv"]\n', "data", "does not exist"),
    Bad(
        "data-folder",
        CMD + 'data = ["data"]\n',
        "data",
        "is a folder; name files",
        files={"data/a.csv": "1\n"},
    ),
    Bad(
        "data-not-string",
        CMD + "data = [1]\n",
        "data",
        "non-empty strings",
    ),
    Bad(
        "requirements-parent",
        CMD + '[packages]\nrequirements = "../r.txt"\n',
        "packages.requirements",
        "outside the project",
        files={"../r.txt": "x\n"},
    ),
    Bad(
        "requirements-missing",
        CMD + '[packages]\nrequirements = "reqs.txt"\n',
        "packages.requirements",
        "does not exist",
    ),
    Bad(
        "requirements-and-from-env",
        CMD + '[packages]\nrequirements = "requirements.txt"\nfrom_env = true\n',
        "packages",
        "both requirements and from_env",
        files={"requirements.txt": "numpy\n"},
    ),
    Bad(
        "extra-index-not-string",
        CMD + "[packages]\nextra_index_urls = [1]\n",
        "packages.extra_index_urls",
        "non-empty strings",
    ),
    Bad(
        "index-url-unclosed-ipv6-bracket",
        CMD + '[packages]\nindex_url = "https://[::1/simple"\n',
        "packages.index_url",
        "is not a URL (invalid IPv6 URL)",
    ),
    Bad(
        "extra-index-url-stray-bracket",
        CMD + '[packages]\nextra_index_urls = ["https://h]/simple"]\n',
        "packages.extra_index_urls",
        "is not a URL (invalid IPv6 URL)",
    ),
    Bad(
        "index-url-no-host",
        CMD + '[packages]\nindex_url = "https://"\n',
        "packages.index_url",
        "'https://' names no host",
    ),
    Bad(
        "index-url-port-too-big",
        CMD + '[packages]\nindex_url = "https://h:99999/simple"\n',
        "packages.index_url",
        "(port out of range 1-65535)",
    ),
    Bad(
        "index-url-port-zero",
        CMD + '[packages]\nindex_url = "http://127.0.0.1:0/simple/"\n',
        "packages.index_url",
        "'http://127.0.0.1:0/simple/' is not a URL (port out of range 1-65535)",
    ),
    Bad(
        "extra-index-url-port-zero-by-reference",
        CMD + '[packages]\nextra_index_urls = ["https://${H}:0/simple/"]\n',
        "packages.extra_index_urls",
        "(port out of range 1-65535)",
    ),
    Bad(
        "index-url-port-not-a-number",
        CMD + '[packages]\nindex_url = "https://u:p@h:8o/simple"\n',
        "packages.index_url",
        "'https://***@h:8o/simple' is not a URL",
    ),
    Bad(
        "base-image-newline",
        CMD + 'base_image = "python:3.11\\nRUN id"\n',
        "base_image",
        "image",
    ),
    # tolerances
    Bad(
        "tolerance-unknown-field",
        CMD + "[metrics.tolerances]\nacc = { abs = 0.1, absolute = 1 }\n",
        "metrics.tolerances.acc.absolute",
        "abs and/or rel",
    ),
    Bad(
        "tolerance-not-table",
        CMD + "[metrics.tolerances]\nacc = 0.1\n",
        "metrics.tolerances.acc",
        "abs and/or rel",
    ),
    Bad(
        "tolerance-negative-abs",
        CMD + "[metrics.tolerances]\nacc = { abs = -0.1 }\n",
        "metrics.tolerances.acc.abs",
        "number ≥ 0",
    ),
    Bad(
        "tolerance-negative-rel",
        CMD + "[metrics.tolerances]\nacc = { rel = -1 }\n",
        "metrics.tolerances.acc.rel",
        "number ≥ 0",
    ),
    Bad(
        "tolerance-string",
        CMD + '[metrics.tolerances]\nacc = { rel = "1%" }\n',
        "metrics.tolerances.acc.rel",
        "number ≥ 0",
    ),
    Bad(
        "tolerance-bool",
        CMD + "[metrics.tolerances]\nacc = { abs = true }\n",
        "metrics.tolerances.acc.abs",
        "number ≥ 0",
    ),
    Bad(
        "tolerance-nan",
        CMD + "[metrics.tolerances]\nacc = { abs = nan }\n",
        "metrics.tolerances.acc.abs",
        "number ≥ 0",
    ),
]


def _build(tmp_path: Path, case: Bad, make_project) -> Path:
    text = case.toml if isinstance(case.toml, str) else None
    root = make_project(tmp_path, text, case.files)
    if isinstance(case.toml, bytes):
        (root / "reprobox.toml").write_bytes(case.toml)
    if case.link:
        os.symlink(case.link[1], root / case.link[0])
    return root


def _expected_source(root: Path, case: Bad) -> Path:
    return root.resolve() if case.source == "." else root.resolve() / case.source


def test_there_are_at_least_thirty_bad_inputs():
    assert len(BAD) >= 30
    assert len({case.id for case in BAD}) == len(BAD)


@pytest.mark.parametrize("case", BAD, ids=[case.id for case in BAD])
def test_bad_input_is_a_config_error_naming_file_and_key(tmp_path, make_project, case):
    root = _build(tmp_path, case, make_project)
    with pytest.raises(ConfigError) as info:
        load_config(root)
    err = info.value
    text = str(err)
    source = _expected_source(root, case)
    assert Path(err.path) == source
    assert text.startswith(f"{source}: ")
    assert err.key == case.key
    if case.key is not None:
        # A key with a line break is shown quoted, so the error stays one line.
        shown = case.key if case.key.isprintable() else repr(case.key)
        assert text.startswith(f"{source}: {shown}: ")
        assert "\n" not in text
    assert case.problem in text
    assert err.exit_code == EXIT_USAGE


@pytest.mark.parametrize("case", BAD, ids=[case.id for case in BAD])
def test_bad_input_error_says_how_to_fix_it(tmp_path, make_project, case):
    root = _build(tmp_path, case, make_project)
    with pytest.raises(ConfigError) as info:
        load_config(root)
    err = info.value
    assert err.hint, f"no fix in: {err}"
    assert str(err).endswith(f"({err.hint})")


@pytest.mark.parametrize(
    ("toml", "fix"),
    [
        ('comand = "python train.py"\n', "did you mean command?"),
        (CMD + "sed = 1\n", "did you mean seed?"),
        (
            CMD + '[packages]\nrequirement = "r.txt"\n',
            "did you mean packages.requirements?",
        ),
        (CMD + '[build]\ncacert = "x"\n', "did you mean build.ca_cert?"),
        (CMD + "[run]\ncpu = 1\n", "did you mean run.cpus?"),
        (CMD + "[metrics]\ncompares = []\n", "did you mean metrics.compare?"),
    ],
)
def test_unknown_key_suggests_the_closest_known_key(tmp_path, make_project, toml, fix):
    root = make_project(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert info.value.hint == fix


def test_unknown_key_far_from_any_lists_known_keys(tmp_path, make_project):
    root = make_project(tmp_path, CMD + "[run]\nzzzz = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert info.value.hint == "known keys: cpus, network"


def test_minimal_reprobox_toml_gets_defaults(tmp_path, make_project):
    root = make_project(tmp_path, CMD)
    cfg = load_config(root)
    assert isinstance(cfg, ProjectConfig)
    assert cfg.root == root.resolve()
    assert cfg.source == root.resolve() / "reprobox.toml"
    assert cfg.name == "proj"
    assert cfg.command == ("python", "train.py")
    assert cfg.python == "3.11"
    assert cfg.base_image == "python:3.11-slim-bookworm"
    assert cfg.profile == "default"
    assert cfg.seed is None
    assert cfg.requirements is None
    assert cfg.from_env is False
    assert cfg.resolver == "uv"
    assert cfg.network == "bridge"
    assert cfg.cpus is None
    assert cfg.data == ()
    assert cfg.env == {}
    assert cfg.tolerances == {}
    assert cfg.state_dir == root.resolve() / ".reprobox"


def test_base_image_follows_python_version(tmp_path, make_project):
    cfg = load_config(make_project(tmp_path, CMD + 'python = "3.10"\n'))
    assert cfg.base_image == "python:3.10-slim-bookworm"


def test_explicit_base_image_wins(tmp_path, make_project):
    cfg = load_config(make_project(tmp_path, CMD + 'base_image = "debian:bookworm"\n'))
    assert cfg.base_image == "debian:bookworm"


def test_requirements_txt_is_picked_up_when_present(tmp_path, make_project):
    root = make_project(tmp_path, CMD, {"requirements.txt": "numpy==2.0.0\n"})
    assert load_config(root).requirements == "requirements.txt"


def test_requirements_txt_is_ignored_with_from_env(tmp_path, make_project):
    root = make_project(
        tmp_path, CMD + "[packages]\nfrom_env = true\n", {"requirements.txt": "numpy\n"}
    )
    cfg = load_config(root)
    assert cfg.requirements is None
    assert cfg.from_env is True


def test_explicit_requirements_path_is_normalised(tmp_path, make_project):
    root = make_project(
        tmp_path,
        CMD + '[packages]\nrequirements = "./env/../req/a.txt"\n',
        {"req/a.txt": "numpy\n"},
    )
    assert load_config(root).requirements == "req/a.txt"


def test_command_string_is_split_like_a_shell(tmp_path, make_project):
    toml = "command = 'python train.py --name \"two words\" --lr=0.1'\n"
    cfg = load_config(make_project(tmp_path, toml))
    assert cfg.command == ("python", "train.py", "--name", "two words", "--lr=0.1")


@pytest.mark.parametrize(
    "command, word",
    [
        ("python train.py > out.txt 2>&1", ">"),
        ("python train.py 2>err.log", ">"),
        ("cd /data && python train.py", "&&"),
        ("python train.py | tee log", "|"),
        ("python a.py; python b.py", ";"),
        ("python train.py --home $HOME", "$HOME"),
        ("python train.py --out=${OUT}", "--out=${OUT}"),
        ("python train.py --who $(id -u)", "("),
        ("python train.py < in.txt", "<"),
    ],
)
def test_a_command_string_that_needs_a_shell_is_refused(
    tmp_path, make_project, command, word
):
    root = make_project(tmp_path, f"command = '{command}'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert caught.value.key == "command"
    assert f"uses shell syntax ({word!r})" in caught.value.message
    assert caught.value.hint.startswith(f'write command = ["sh", "-c", "{command}"]')


@pytest.mark.parametrize(
    "command",
    [
        "python train.py --price 5$ --at user@host",
        "python train.py --sep ';x' --rule 'a|b' --expr 'a>b'",
    ],
)
def test_shell_characters_inside_words_are_plain_arguments(
    tmp_path, make_project, command
):
    assert load_config(make_project(tmp_path, f'command = "{command}"\n')).command


def test_a_command_list_may_hold_any_words(tmp_path, make_project):
    root = make_project(tmp_path, 'command = ["sh", "-c", "python t.py > $OUT/x"]\n')
    assert load_config(root).command == ("sh", "-c", "python t.py > $OUT/x")


def test_command_list_is_kept_as_given(tmp_path, make_project):
    cfg = load_config(make_project(tmp_path, 'command = ["python", "a b.py"]\n'))
    assert cfg.command == ("python", "a b.py")


def test_pyproject_tool_reprobox_table_is_read(tmp_path, make_project):
    pyproject = (
        '[project]\nname = "x"\n\n[tool.reprobox]\ncommand = "python t.py"\nseed = 3\n'
    )
    root = make_project(tmp_path, None, {"pyproject.toml": pyproject})
    cfg = load_config(root)
    assert cfg.source == root.resolve() / "pyproject.toml"
    assert cfg.command == ("python", "t.py")
    assert cfg.seed == 3


def test_two_configs_are_refused_not_one_silently_ignored(tmp_path, make_project):
    pyproject = '[tool.reprobox]\ncommand = "python other.py"\n'
    root = make_project(tmp_path, CMD, {"pyproject.toml": pyproject})
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert "pyproject.toml: tool.reprobox: is there as well as reprobox.toml" in str(
        info.value
    )


def test_reprobox_toml_beside_a_pyproject_without_the_table(tmp_path, make_project):
    pyproject = '[project]\nname = "x"\n'
    root = make_project(tmp_path, CMD, {"pyproject.toml": pyproject})
    assert load_config(root).source.name == "reprobox.toml"


@pytest.mark.parametrize("python", ["3.1", "3.99", "3.7"])
def test_a_python_no_wheels_exist_for_is_refused(tmp_path, make_project, python):
    with pytest.raises(ConfigError, match="not a Python that packages are built for"):
        load_config(make_project(tmp_path, CMD + f'python = "{python}"\n'))


def test_env_values_become_strings_sorted_by_name(tmp_path, make_project):
    toml = CMD + '[env]\nZZ = "a b"\nOMP_NUM_THREADS = 4\nRATE = "0.5"\n'
    cfg = load_config(make_project(tmp_path, toml))
    assert cfg.env == {"OMP_NUM_THREADS": "4", "RATE": "0.5", "ZZ": "a b"}
    assert list(cfg.env) == sorted(cfg.env)


def test_env_value_of_exactly_4096_chars_is_accepted(tmp_path, make_project):
    cfg = load_config(make_project(tmp_path, CMD + f'[env]\nX = "{"y" * 4096}"\n'))
    assert cfg.env["X"] == "y" * 4096


def test_data_paths_are_normalised_deduplicated_and_sorted(tmp_path, make_project):
    toml = CMD + 'data = ["data/b.csv", "./data/a.csv", "data/a.csv"]\n'
    root = make_project(tmp_path, toml, {"data/a.csv": "1\n", "data/b.csv": "2\n"})
    assert load_config(root).data == ("data/a.csv", "data/b.csv")


def test_data_symlink_inside_project_is_accepted(tmp_path, make_project):
    root = make_project(tmp_path, CMD + 'data = ["link.csv"]\n', {"real/a.csv": "1\n"})
    os.symlink("real/a.csv", root / "link.csv")
    assert load_config(root).data == ("real/a.csv",)


def test_name_defaults_to_the_folder_lowercased(tmp_path, make_project):
    root = make_project(tmp_path, CMD, folder="My.Project")
    assert load_config(root).name == "my.project"


def test_cpus_integer_becomes_float(tmp_path, make_project):
    cfg = load_config(make_project(tmp_path, CMD + "[run]\ncpus = 2\n"))
    assert cfg.cpus == 2.0
    assert isinstance(cfg.cpus, float)


def test_digits_example_loads(tmp_path):
    cfg = load_config(REPO / "examples" / "digits")
    assert cfg.name == "digits"
    assert cfg.command == ("python", "train.py")
    assert cfg.seed == 42
    assert cfg.base_image == "reprobox-base:bookworm-py3.11"
    assert cfg.requirements == "requirements.txt"
    assert cfg.compare_metrics == ("test_accuracy", "test_loss")
    assert cfg.tolerances == {
        "test_accuracy": Tolerance(abs=0.005, rel=None),
        "test_loss": Tolerance(abs=None, rel=0.05),
    }


def test_a_project_that_does_not_exist_is_called_missing(tmp_path):
    # cd: `reprobox build /nonexistent` said "is not a folder".
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "gone")
    assert str(info.value) == (
        f"{tmp_path / 'gone'}: does not exist (give a project folder)"
    )


def test_project_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("x")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "is not a folder" in str(info.value)
    assert info.value.hint


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ('name = "UPPER"', "name", "has capitals"),
        ('name = ""', "name", "is empty"),
        ('base_image = " "', "base_image", "is empty"),
    ],
)
def test_names_that_would_be_changed_or_dropped_silently_are_refused(
    tmp_path, line, key, message
):
    (tmp_path / "reprobox.toml").write_text(f'command = "python t.py"\n{line}\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert key in str(info.value) and message in str(info.value)


def test_a_folder_name_with_capitals_is_lower_cased(tmp_path):
    folder = tmp_path / "MyProj"
    folder.mkdir()
    (folder / "reprobox.toml").write_text('command = "python t.py"\n')
    assert load_config(folder).name == "myproj"


def test_a_data_file_that_became_a_link_after_freeze_is_named_so(
    tmp_path, make_project
):
    from reprobox.errors import InputError
    from reprobox.manifest import check_data_unchanged

    root = make_project(
        tmp_path, CMD + 'data = ["a.csv"]\n', {"a.csv": "1\n", "real/b.csv": "1\n"}
    )
    frozen = {"data": [{"path": "a.csv", "sha256": "0" * 64, "size": 2}]}
    (root / "a.csv").unlink()
    os.symlink("real/b.csv", root / "a.csv")

    with pytest.raises(InputError) as caught:
        check_data_unchanged(load_config(root), frozen)
    assert caught.value.message == (
        f"{root / 'a.csv'}: data file became a link to real/b.csv after freeze"
    )


@pytest.mark.parametrize(
    "folder, suggested",
    [("BA Proj", "ba-proj"), ("My_Model (v2)", "my-model-v2"), ("x" * 70, "x" * 63)],
)
def test_a_folder_name_that_cannot_name_an_image_gets_a_name_to_add(
    tmp_path, make_project, folder, suggested
):
    root = make_project(tmp_path, CMD, folder=folder)
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert caught.value.key is None  # no name key was written to blame
    assert f"sets no name, and the folder name {folder!r}" in caught.value.message
    assert caught.value.hint == f'add name = "{suggested}"'
    # What it suggests is a name the config takes.
    (root / "reprobox.toml").write_text(CMD + f'name = "{suggested}"\n')
    assert load_config(root).name == suggested


def test_a_folder_name_with_capitals_only_is_lower_cased(tmp_path, make_project):
    assert load_config(make_project(tmp_path, CMD, folder="Digits")).name == "digits"


def test_a_name_with_capitals_gets_a_fix_that_is_itself_a_name(tmp_path, make_project):
    root = make_project(tmp_path, CMD + 'name = "Bad Name"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert caught.value.hint == 'use name = "bad-name"'


def test_a_nul_in_the_command_is_refused(tmp_path, make_project):
    root = make_project(tmp_path, 'command = ["python", "train.py\\u0000x"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert caught.value.key == "command"
    assert "NUL" in caught.value.message


def test_a_data_file_that_is_a_fifo_is_named_as_such(tmp_path, make_project):
    root = make_project(tmp_path, CMD + 'data = ["feed.csv"]\n')
    os.mkfifo(root / "feed.csv")
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert "'feed.csv' is not a regular file (a FIFO, socket or device)" in (
        caught.value.message
    )


def test_env_agreeing_with_the_strict_profile_or_under_default_is_kept(tmp_path):
    (tmp_path / "reprobox.toml").write_text(
        CMD + 'profile = "strict"\n[env]\nTF_ENABLE_ONEDNN_OPTS = "0"\n'
    )
    assert load_config(tmp_path).env == {"TF_ENABLE_ONEDNN_OPTS": "0"}
    (tmp_path / "reprobox.toml").write_text(
        CMD + '[env]\nTF_ENABLE_ONEDNN_OPTS = "1"\n'
    )
    assert load_config(tmp_path).env == {"TF_ENABLE_ONEDNN_OPTS": "1"}


def test_a_suggested_run_flag_is_quoted_for_the_shell(tmp_path):
    # cf 5: the fix read `reprobox run --env OMP_NUM_THREADS= 1`, which a
    # shell splits in two when pasted.
    (tmp_path / "reprobox.toml").write_text(
        CMD + 'profile = "strict"\n[env]\nOMP_NUM_THREADS = " 1"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.hint.endswith(
        "`reprobox run --env 'OMP_NUM_THREADS= 1'`, which wins"
    )


def test_every_thread_count_the_strict_profile_pins_is_refused_in_env(tmp_path):
    from reprobox.runtime.machine_facts import THREAD_COUNT_VARS

    assert "TF_NUM_INTEROP_THREADS" in THREAD_COUNT_VARS
    assert "OMP_NUM_THREADS" in THREAD_COUNT_VARS
    for name in THREAD_COUNT_VARS:
        (tmp_path / "reprobox.toml").write_text(
            CMD + f'profile = "strict"\n[env]\n{name} = "8"\n'
        )
        with pytest.raises(ConfigError) as caught:
            load_config(tmp_path)
        assert caught.value.key == f"env.{name}"
        assert caught.value.hint == (
            'remove it from [env], or use profile = "default"; or pass it at run '
            f"time with `reprobox run --env {name}=8`, which wins"
        )


def test_values_the_profile_or_seed_would_set_anyway_are_kept(tmp_path):
    toml = (
        CMD + 'profile = "strict"\nseed = 5\n[env]\nOMP_NUM_THREADS = "1"\n'
        'PYTHONHASHSEED = "5"\nCUBLAS_WORKSPACE_CONFIG = ":16:8"\n'
    )
    (tmp_path / "reprobox.toml").write_text(toml)
    assert load_config(tmp_path).env == {
        "CUBLAS_WORKSPACE_CONFIG": ":16:8",
        "OMP_NUM_THREADS": "1",
        "PYTHONHASHSEED": "5",
    }


def test_hash_seed_and_thread_counts_are_the_users_without_seed_or_strict(tmp_path):
    (tmp_path / "reprobox.toml").write_text(
        CMD + '[env]\nPYTHONHASHSEED = "1"\nOMP_NUM_THREADS = "8"\n'
    )
    assert load_config(tmp_path).env == {"OMP_NUM_THREADS": "8", "PYTHONHASHSEED": "1"}


def test_hash_seed_under_a_seed_says_the_seed_sets_it(tmp_path):
    (tmp_path / "reprobox.toml").write_text(
        CMD + 'seed = 42\n[env]\nPYTHONHASHSEED = "1"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.hint == (
        "remove it from [env], as the seed sets it; or pass it at run time with "
        "`reprobox run --env PYTHONHASHSEED=1`, which wins"
    )


@pytest.mark.parametrize("char", ["\n", "\r"])
def test_a_command_string_with_a_line_break_is_refused(tmp_path, char):
    written = f"python train.py{char}rm -rf /"
    (tmp_path / "reprobox.toml").write_text(
        "command = " + json.dumps(written) + "\n", newline=""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "command"
    assert caught.value.message.endswith(
        f"command: holds a line break ({char!r}), where a shell would end the "
        "command, but it runs without a shell, so the words after it would "
        "reach the script as arguments"
    )
    assert caught.value.hint == (
        "write it on one line, or command = "
        + json.dumps(["sh", "-c", written])
        + " to run each line"
    )
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("char", ["\x00", "\x0b", "\x0c", "\x85", "\u2028", "\u200b"])
def test_a_command_string_with_a_control_character_is_refused(tmp_path, char):
    (tmp_path / "reprobox.toml").write_text(
        "command = " + json.dumps(f"python train.py{char}--x") + "\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "command"
    assert caught.value.message.endswith(
        f"command: holds an invisible control character ({char!r})"
    )
    assert caught.value.hint == "remove it, or give the command as a list of its words"


def test_a_tab_in_a_command_string_and_a_line_break_in_a_list_are_kept(tmp_path):
    (tmp_path / "reprobox.toml").write_text('command = "python\\ttrain.py"\n')
    assert load_config(tmp_path).command == ("python", "train.py")
    (tmp_path / "reprobox.toml").write_text(
        'command = ["python", "-c", "print(1)\\nprint(2)"]\n'
    )
    assert load_config(tmp_path).command == ("python", "-c", "print(1)\nprint(2)")


@pytest.mark.parametrize(("written", "read"), [("1.5e3", "1500.0"), ("1e-7", "1e-07")])
def test_a_float_in_env_is_refused_as_its_spelling_is_lost(tmp_path, written, read):
    (tmp_path / "reprobox.toml").write_text(CMD + f"[env]\nA = {written}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "env.A"
    assert caught.value.message.endswith(
        f"env.A: is a float ({read}), whose spelling TOML does not keep"
    )
    assert caught.value.hint == (
        f'write it as a string, spelt as the program should read it, e.g. A = "{read}"'
    )


def test_metrics_compare_naming_a_metric_twice_is_refused(tmp_path):
    (tmp_path / "reprobox.toml").write_text(
        CMD + '[metrics]\ncompare = ["acc", "loss", "acc"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "metrics.compare"
    assert caught.value.message.endswith("metrics.compare: names 'acc' twice")
    assert caught.value.hint == "list each name once"


def test_an_empty_tolerance_table_is_refused(tmp_path):
    (tmp_path / "reprobox.toml").write_text(
        CMD + "[metrics]\ntolerances = { acc = { } }\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "metrics.tolerances.acc"
    assert caught.value.message.endswith("must be a table with abs and/or rel")
    assert caught.value.hint == "e.g. { abs = 0.01 }"


def test_an_unknown_key_in_a_tolerance_table_is_named(tmp_path):
    # cd: { abs = 0.1, foo = 1 } said "must be a table with abs and/or rel".
    (tmp_path / "reprobox.toml").write_text(
        CMD + "[metrics]\ntolerances = { acc = { abs = 0.1, foo = 1 } }\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "metrics.tolerances.acc.foo"
    assert caught.value.message.endswith(
        "metrics.tolerances.acc.foo: is not a tolerance key"
    )
    assert caught.value.hint == "use abs and/or rel, e.g. { abs = 0.01 }"


def test_a_tolerance_for_a_metric_compare_leaves_out_is_refused(tmp_path):
    # A typo (test_acuracy) or a metric left out of compare: the bound would
    # be read and never applied, and the user would believe it was.
    (tmp_path / "reprobox.toml").write_text(
        CMD + '[metrics]\ncompare = ["test_accuracy"]\n'
        "tolerances = { test_acuracy = { abs = 0.01 } }\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "metrics.tolerances.test_acuracy"
    assert caught.value.message.endswith(
        "metrics.tolerances.test_acuracy: 'test_acuracy' is not in metrics.compare, "
        "so this tolerance is never used"
    )
    assert caught.value.hint == (
        "add 'test_acuracy' to metrics.compare, or remove the tolerance"
    )


def test_tolerances_for_compared_metrics_or_with_all_compared_are_kept(tmp_path):
    (tmp_path / "reprobox.toml").write_text(
        CMD + '[metrics]\ncompare = ["acc", "loss"]\n'
        "tolerances = { loss = { rel = 0.1 } }\n"
    )
    assert load_config(tmp_path).tolerances["loss"].rel == 0.1
    (tmp_path / "reprobox.toml").write_text(
        CMD + "[metrics]\ntolerances = { anything = { abs = 1 } }\n"
    )
    assert load_config(tmp_path).tolerances["anything"].abs == 1


def test_a_config_that_is_a_folder_or_a_dangling_link_says_so(tmp_path):
    # bx 4: both said "no reprobox.toml ... (create reprobox.toml)", untrue.
    import os

    (tmp_path / "a" / "reprobox.toml").mkdir(parents=True)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "a")
    assert info.value.message == (
        f"{tmp_path / 'a' / 'reprobox.toml'}: is a folder, so reprobox cannot "
        "read it as the project's config"
    )
    (tmp_path / "b").mkdir()
    os.symlink(tmp_path / "nowhere.toml", tmp_path / "b" / "reprobox.toml")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "b")
    assert info.value.message == (
        f"{tmp_path / 'b' / 'reprobox.toml'}: is a symbolic link to "
        f"{tmp_path / 'nowhere.toml'}, which does not exist"
    )


def test_a_name_ending_in_a_mark_names_the_rule(tmp_path):
    # by 4c: 'abc-' was told to use letters, digits, '.', '_' or '-'.
    (tmp_path / "reprobox.toml").write_text('name = "abc-"\ncommand = "python t.py"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert "'abc-' cannot name an image" in info.value.message
    assert "no mark at either end" in info.value.message


def test_data_naming_a_file_twice_is_refused(tmp_path):
    # cc: data = ["d.csv", "d.csv"] was taken silently as one file.
    (tmp_path / "d.csv").write_text("x\n1\n")
    (tmp_path / "reprobox.toml").write_text(CMD + 'data = ["d.csv", "d.csv"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "data"
    assert caught.value.message.endswith("data: names 'd.csv' twice")
    assert caught.value.hint == "list each name once"


@pytest.mark.parametrize("rel", [".reprobox/manifest.json", "./.reprobox/runs/x.csv"])
def test_data_inside_reproboxs_own_folder_is_refused(tmp_path, rel):
    # cf 3: data = [".reprobox/manifest.json"] froze, then every run said the
    # file changed since freeze, and each freeze changed it again.
    target = tmp_path / rel
    target.parent.mkdir(parents=True)
    target.write_text("{}\n")
    (tmp_path / "reprobox.toml").write_text(CMD + f'data = ["{rel}"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "data"
    assert caught.value.message.endswith(
        f"data: {rel!r} is inside .reprobox/, which reprobox itself rewrites"
    )
    assert caught.value.hint == "move the data file out of .reprobox/"


@pytest.mark.parametrize(
    "command, hint",
    [
        ('"exec python train.py"', 'drop \'exec\': command = ["python", "train.py"]'),
        (
            '["exec", "python", "train.py"]',
            'drop \'exec\': command = ["python", "train.py"]',
        ),
        (
            '["source", "env.sh"]',
            'write command = ["sh", "-c", "source env.sh"]',
        ),
        ('"cd src"', 'write command = ["sh", "-c", "cd src"]'),
    ],
)
def test_a_command_that_starts_with_a_shell_builtin_is_refused(tmp_path, command, hint):
    # cf 2 / h77: ["exec", "python", "x.py"] froze and failed in the container,
    # which runs the command with no shell: exec is no program there.
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "reprobox.toml").write_text(f"command = {command}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "command"
    assert "a shell builtin, but the command runs without a shell" in str(caught.value)
    assert caught.value.hint == hint


def test_what_freeze_holds_a_config_to_is_its_settings_not_its_bytes(tmp_path):
    # The README says which edits are "changed since freeze": checked here.
    from reprobox.config import load_config

    toml = tmp_path / "reprobox.toml"
    toml.write_text('command = "python train.py"\n[run]\ncpus = 1\n')
    (tmp_path / "train.py").write_text("")
    frozen = load_config(tmp_path).digest
    toml.write_text('# a note\ncommand = "python train.py"  # why\n\n[run]\ncpus = 1\n')
    assert load_config(tmp_path).digest == frozen
    toml.write_text('command = "python train.py"\n[run]\ncpus = 2\n')
    assert load_config(tmp_path).digest != frozen


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        # brk r36 (AW 8e): Python's spelling came back ("True", "inf", "'1%'").
        ("true", "true"),
        # brk r42 (BF 7): 1e400 read "inf is not finite", a value never
        # written: it now says why it reads as inf.
        ("1e400", "inf"),
        ("inf", "inf"),
        ("-inf", "-inf"),
        ('"1%"', '"1%"'),
        ("[0.1]", "[0.1]"),
        ("-0.5", "-0.5"),
    ],
)
def test_a_bad_tolerance_is_shown_as_toml_writes_it(
    tmp_path, make_project, value, shown
):
    root = make_project(
        tmp_path, CMD + f"[metrics.tolerances]\nacc = {{ abs = {value} }}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(root)
    past = (
        " (a number past the largest float, such as 1e400, reads as inf)"
        if shown == "inf"
        else ""
    )
    assert info.value.message.endswith(
        f"metrics.tolerances.acc.abs: {shown} is not a finite number ≥ 0{past}"
    )


@pytest.mark.parametrize(
    ("table", "key", "written", "fix"),
    [
        (
            "[metrics.tolerances]\nacc = { rel = 1e-400 }\n",
            "metrics.tolerances.acc.rel",
            "1e-400",
            "write 0 for an exact bound, or a number of at least 5e-324",
        ),
        (
            "[metrics.tolerances]\nacc = { abs = -2.5e-4_00 }\n",
            "metrics.tolerances.acc.abs",
            "-2.5e-4_00",
            "write 0 for an exact bound, or a number of at least 5e-324",
        ),
        # brk r45 (BL F1), r46 (BM F4): each key's own fix.
        (
            "[run]\ncpus = 1e-400\n",
            "run.cpus",
            "1e-400",
            "give 0.01 or more, e.g. cpus = 1",
        ),
    ],
)
def test_a_float_below_the_smallest_is_refused_where_it_is_written(
    tmp_path, make_project, table, key, written, fix
):
    # brk r44 (BI 4): TOML reads 1e-400 as 0, so rel = 1e-400 was an exact
    # tolerance without a word.
    root = make_project(tmp_path, CMD + table)
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert info.value.message.endswith(
        f"{key}: {written} is too close to 0 for a float (the smallest is 5e-324), "
        "so it reads as 0"
    )
    assert info.value.hint == fix


@pytest.mark.parametrize(
    ("table", "message"),
    [
        # brk r46 (BN 5, BM F4): where a key takes no float, its own check
        # speaks, naming the value as written.
        ("seed = 1e-400\n", "seed: has the wrong type (float)"),
        ("x_unknown = 1e-400\n", "x_unknown: unknown key"),
        (
            "[env]\nLR = 1e-400\n",
            "env.LR: is a float (1e-400), whose spelling TOML does not keep",
        ),
    ],
)
def test_a_float_below_the_smallest_elsewhere_meets_the_keys_own_check(
    tmp_path, make_project, table, message
):
    root = make_project(tmp_path, CMD + table)
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert message in info.value.message


def test_zero_written_small_and_the_smallest_float_are_read(tmp_path, make_project):
    root = make_project(
        tmp_path, CMD + "[metrics.tolerances]\nacc = { abs = 0.0e-400, rel = 5e-324 }\n"
    )
    tolerance = load_config(root).tolerances["acc"]
    assert (tolerance.abs, tolerance.rel) == (0.0, 5e-324)


def test_a_tolerance_of_minus_zero_is_kept_as_zero(tmp_path, make_project):
    # brk r43 (BH minor): abs = -0.0 reached the manifest and tables as -0.
    root = make_project(
        tmp_path, CMD + "[metrics.tolerances]\nacc = { abs = -0.0, rel = 0 }\n"
    )
    tolerance = load_config(root).tolerances["acc"]
    assert (repr(tolerance.abs), repr(tolerance.rel)) == ("0.0", "0")
