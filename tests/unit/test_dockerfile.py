"""The generated Dockerfile: golden files, GPU planning through freeze, refusals.

Golden files live in tests/unit/golden/<case>.Dockerfile. After a deliberate
change to the template or the GPU planning, rewrite them with

    REPROBOX_UPDATE_GOLDEN=1 python3 -m pytest tests/unit/test_dockerfile.py

and review the diff before committing. The resolver is faked (it pins what it
is asked for, hashes derived from the name), so only reprobox's own choices
show in the files; reprobox's version is fixed so a release does not churn them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from reprobox import dockerfile as dockerfile_module
from reprobox import proc
from reprobox.config import load_config
from reprobox.dockerfile import GpuImage, builds_as_root, render_dockerfile
from reprobox.errors import CompatibilityError, InputError, LockError
from reprobox.freeze import freeze_project
from reprobox.lock import resolve as resolve_module

GOLDEN = Path(__file__).parent / "golden"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits"
UPDATE = os.environ.get("REPROBOX_UPDATE_GOLDEN") == "1"
# Versions the fake resolver picks for lines that pin nothing exactly.
FAKE_LATEST = {"numpy": "1.26.4", "tensorflow": "2.17.1"}
NVIDIA_WHEELS = {"nvidia-cublas-cu12": "12.5.3.2", "nvidia-cudnn-cu12": "9.3.0.75"}


class FakeUv:
    """Stands in for uv: pins each requirement (nvidia-* wheels for GPU extras)."""

    def __init__(self, with_nvidia: bool = True):
        self.with_nvidia = with_nvidia
        self.calls: list[dict] = []

    def __call__(
        self, argv, *, env=None, cwd=None, input=None, check=True, timeout=None
    ):
        argv = [str(a) for a in argv]
        if argv[-1] == "--version":
            return subprocess.CompletedProcess(argv, 0, "uv 0.13.9 (fake)\n", "")
        lines = Path(cwd, "requirements.in").read_text().splitlines()
        self.calls.append({"argv": argv, "env": dict(env or {}), "lines": lines})
        return subprocess.CompletedProcess(argv, 0, self.output(lines), "")

    def output(self, lines: list[str]) -> str:
        pins = {}
        for line in lines:
            req = Requirement(line)
            exact = [s.version for s in req.specifier if s.operator == "=="]
            pins[req.name.lower()] = exact[0] if exact else FAKE_LATEST[req.name]
            cuda_build = "+cu" in pins.get("torch", "")
            if self.with_nvidia and ("and-cuda" in req.extras or cuda_build):
                pins.update(NVIDIA_WHEELS)
        out = []
        for name, version in sorted(pins.items()):
            digest = hashlib.sha256(f"{name}=={version}".encode()).hexdigest()
            out.append(f"{name}=={version} \\\n    --hash=sha256:{digest}\n")
            out.append("    # via -r requirements.in\n")
        return "".join(out)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Keep the host's pip, uv and docker settings out of every test."""
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_", "DOCKER_", "SSL_CERT", "REQUESTS_CA")):
            monkeypatch.delenv(name)
    monkeypatch.setattr(dockerfile_module, "__version__", "0.0.0+golden")


@pytest.fixture
def fake_uv(monkeypatch):
    def install(with_nvidia: bool = True) -> FakeUv:
        fake = FakeUv(with_nvidia)
        monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")
        monkeypatch.setattr(proc, "run_command", fake)
        return fake

    return install


def make_project(tmp_path: Path, requirements: list[str], **top) -> Path:
    """Write a small project: reprobox.toml with the given keys, requirements.txt."""
    lines = ['name = "golden"', 'command = "python train.py"']
    for key, value in sorted(top.items()):
        lines.append(
            f"{key} = {value!r}" if isinstance(value, int) else f'{key} = "{value}"'
        )
    (tmp_path / "reprobox.toml").write_text("\n".join(lines) + "\n")
    (tmp_path / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (tmp_path / "train.py").write_text("print('train')\n")
    return tmp_path


# case -> (requirement lines, python, gpu flag, extra config keys)
CASES = {
    "tf-2.5.2-cpu": (["tensorflow==2.5.2"], "3.8", False, {}),
    "tf-2.5.2-gpu": (["tensorflow==2.5.2"], "3.8", True, {}),
    "tf-2.11.1-cpu": (["tensorflow==2.11.1"], "3.8", False, {}),
    "tf-2.11.1-gpu": (["tensorflow==2.11.1"], "3.8", True, {}),
    "tf-2.14.1-cpu": (["tensorflow==2.14.1"], "3.11", False, {}),
    "tf-2.14.1-gpu": (["tensorflow==2.14.1"], "3.11", True, {}),
    "tf-2.17.1-cpu": (["numpy==1.26.4", "tensorflow==2.17.1"], "3.11", False, {}),
    "tf-2.17.1-gpu-strict": (
        ["numpy==1.26.4", "tensorflow==2.17.1"],
        "3.11",
        True,
        {"profile": "strict", "seed": 7},
    ),
    "tf-2.21.0-cpu": (["tensorflow==2.21.0"], "3.12", False, {}),
    "tf-2.21.0-gpu": (["tensorflow==2.21.0"], "3.12", True, {}),
    "torch-2.4.1-cpu": (["torch==2.4.1+cpu"], "3.11", False, {}),
    "torch-2.4.1-cu124": (["torch==2.4.1+cu124"], "3.11", False, {}),
    "torch-2.6.0-cu126": (["torch==2.6.0+cu126"], "3.11", True, {}),
    "torch-2.8.0-cu128-strict": (
        ["torch==2.8.0+cu128"],
        "3.12",
        True,
        {"profile": "strict", "seed": 3},
    ),
}


def freeze_case(tmp_path: Path, case: str):
    lines, python, gpu, extra = CASES[case]
    project = make_project(tmp_path, lines, python=python, **extra)
    return freeze_project(load_config(project), environ={}, gpu=gpu)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.Dockerfile"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"{path} is missing: run with REPROBOX_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.name} differs from the rendered file"


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_dockerfiles(case, tmp_path, fake_uv):
    fake_uv()
    check_golden(case, freeze_case(tmp_path, case).dockerfile)


def test_golden_digits_example(fake_uv):
    fake_uv()
    result = freeze_project(load_config(EXAMPLE), environ={})
    check_golden("digits-cpu", result.dockerfile)
    assert result.manifest["gpu"]["enabled"] is False


@pytest.mark.parametrize("case", ["tf-2.5.2-gpu", "torch-2.6.0-cu126"])
def test_same_input_gives_identical_bytes(case, tmp_path, fake_uv):
    fake_uv()
    first = freeze_case(tmp_path, case)
    second = freeze_case(tmp_path, case)
    assert first.dockerfile.encode() == second.dockerfile.encode()
    assert first.manifest_text.encode() == second.manifest_text.encode()


# -- what goes to the resolver, and what the manifest says ---------------------


@pytest.mark.parametrize("version", ["2.14.1", "2.17.1", "2.21.0"])
def test_gpu_tensorflow_is_locked_with_and_cuda(version, tmp_path, fake_uv):
    fake = fake_uv()
    project = make_project(tmp_path, [f"tensorflow=={version}"], python="3.11")
    result = freeze_project(load_config(project), environ={}, gpu=True)
    assert fake.calls[-1]["lines"] == [f"tensorflow[and-cuda]=={version}"]
    # From 2.20 the extra names ranges; the lock pins them all the same.
    for name, pinned in NVIDIA_WHEELS.items():
        assert f"{name}=={pinned} \\\n    --hash=sha256:" in result.lock
    assert result.manifest["packages"]["pins"]["nvidia-cudnn-cu12"] == "9.3.0.75"


def test_cpu_tensorflow_is_locked_as_written(tmp_path, fake_uv):
    fake = fake_uv()
    project = make_project(tmp_path, ["tensorflow==2.14.1"], python="3.11")
    result = freeze_project(load_config(project), environ={})
    assert fake.calls[-1]["lines"] == ["tensorflow==2.14.1"]
    assert "nvidia" not in result.lock
    assert result.manifest["gpu"] == {
        "base": None,
        "cuda": None,
        "cudnn": None,
        "enabled": False,
        "min_driver": None,
    }
    assert result.manifest["frameworks"]["tensorflow"]["cuda"] is None


def test_unpinned_tensorflow_is_resolved_then_planned(tmp_path, fake_uv):
    fake = fake_uv()
    project = make_project(tmp_path, ["tensorflow>=2.14"], python="3.11")
    result = freeze_project(load_config(project), environ={}, gpu=True)
    assert [call["lines"] for call in fake.calls] == [
        ["tensorflow>=2.14"],
        ["tensorflow[and-cuda]==2.17.1"],
    ]
    assert result.manifest["gpu"]["cuda"] == "12.3"


def test_gpu_manifest_fields(tmp_path, fake_uv):
    fake_uv()
    result = freeze_case(tmp_path, "tf-2.21.0-gpu")
    assert result.manifest["gpu"] == {
        "base": "python:3.12-slim-bookworm",
        "cuda": "12.5",
        "cudnn": "9.3",
        "enabled": True,
        "min_driver": "525.60.13",
    }
    assert result.manifest["frameworks"]["tensorflow"] == {
        "cuda": "12.5",
        "cudnn": "9.3",
        "min_driver": "525.60.13",
        "package": "tensorflow",
        "version": "2.21.0",
    }


def test_old_tensorflow_gets_a_cuda_base_and_distro_python(tmp_path, fake_uv):
    fake = fake_uv()
    result = freeze_case(tmp_path, "tf-2.5.2-gpu")
    base = "nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04"
    assert result.manifest["base_image"]["ref"] == base
    assert result.manifest["gpu"]["base"] == base
    assert result.manifest["gpu"]["cudnn"] == "8.1"
    assert f"FROM {base}\n" in result.dockerfile
    assert "python3 python3-venv" in result.dockerfile
    assert 'v == "3.8"' in result.dockerfile
    # Ubuntu 20.04's pip 20.0 installs nothing newer than manylinux2014 wheels.
    argv = fake.calls[-1]["argv"]
    assert argv[argv.index("--python-platform") + 1] == "x86_64-manylinux_2_17"
    assert fake.calls[-1]["lines"] == ["tensorflow==2.5.2"]


def test_torch_build_index_goes_to_the_resolver_not_the_lock(tmp_path, fake_uv):
    fake = fake_uv()
    result = freeze_case(tmp_path, "torch-2.4.1-cu124")
    index = "https://download.pytorch.org/whl/cu124"
    assert fake.calls[-1]["env"]["UV_INDEX"] == index
    assert "download.pytorch.org" not in result.lock
    assert "--extra-index-url" not in result.lock and "--index-url" not in result.lock
    assert result.manifest["indexes"]["extra_index_urls"] == [index]
    assert f'PIP_EXTRA_INDEX_URL="${{PIP_EXTRA_INDEX_URL:-}} {index}"' in (
        result.dockerfile
    )
    # A +cuXYZ pin asks for a GPU image by itself.
    assert result.manifest["gpu"]["enabled"] is True
    assert result.manifest["frameworks"]["torch"]["cudnn"] == "9.1.0.70"


def test_torch_cpu_build_uses_the_cpu_index(tmp_path, fake_uv):
    fake = fake_uv()
    result = freeze_case(tmp_path, "torch-2.4.1-cpu")
    assert fake.calls[-1]["env"]["UV_INDEX"] == "https://download.pytorch.org/whl/cpu"
    assert result.manifest["gpu"]["enabled"] is False


def test_declared_index_is_not_repeated(tmp_path, fake_uv):
    fake = fake_uv()
    index = "https://download.pytorch.org/whl/cu126"
    project = make_project(tmp_path, ["torch==2.6.0+cu126"], python="3.11")
    with open(project / "reprobox.toml", "a") as fh:
        fh.write(f'[packages]\nextra_index_urls = ["{index}"]\n')
    result = freeze_project(load_config(project), environ={})
    assert fake.calls[-1]["env"]["UV_INDEX"] == index
    assert "PIP_EXTRA_INDEX_URL=" not in result.dockerfile


def test_strict_profile_sets_cublas_and_never_autotune(tmp_path, fake_uv):
    fake_uv()
    project = make_project(
        tmp_path, ["tensorflow==2.17.1"], python="3.11", profile="strict"
    )
    with open(project / "reprobox.toml", "a") as fh:
        fh.write('[env]\nTF_USE_CUDNN_AUTOTUNE = "1"\n')
    environ = {"TF_USE_CUDNN_AUTOTUNE": "1"}
    result = freeze_project(load_config(project), environ=environ, gpu=True)
    env = result.manifest["environment"]
    assert env["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert "TF_USE_CUDNN_AUTOTUNE" not in env
    assert 'CUBLAS_WORKSPACE_CONFIG=":4096:8"' in result.dockerfile
    assert "TF_USE_CUDNN_AUTOTUNE" not in result.dockerfile


def test_strict_profile_keeps_a_deterministic_cublas_choice(tmp_path, fake_uv):
    fake_uv()
    project = make_project(tmp_path, ["six==1.17.0"], profile="strict")
    result = freeze_project(
        load_config(project), environ={"CUBLAS_WORKSPACE_CONFIG": ":16:8"}
    )
    assert result.manifest["environment"]["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_default_profile_sets_no_cublas(tmp_path, fake_uv):
    fake_uv()
    result = freeze_case(tmp_path, "tf-2.21.0-gpu")
    assert "CUBLAS_WORKSPACE_CONFIG" not in result.manifest["environment"]


# -- refusals before anything is built -----------------------------------------


def test_cudnn_mismatch_case_is_refused_before_resolving(tmp_path, fake_uv):
    """cases/run/cudnn-mismatch.md: TF 2.5.2 (cuDNN 8.1) on CUDA 11.0.3/cuDNN 8.0.5."""
    fake = fake_uv()
    base = "nvidia/cuda:11.0.3-cudnn8-runtime-ubuntu20.04"
    project = make_project(
        tmp_path, ["tensorflow==2.5.2"], python="3.8", base_image=base
    )
    with pytest.raises(CompatibilityError) as caught:
        freeze_project(load_config(project), environ={}, gpu=True, base_cudnn="8.0.5")
    message = str(caught.value)
    assert "cuDNN 8.1" in message
    assert "cuDNN 8.0.5" in message
    assert "nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04" in message
    assert fake.calls == []


def test_cudnn_mismatch_on_a_base_outside_the_table(tmp_path, fake_uv):
    fake = fake_uv()
    base = "registry.example.com/cuda:11.0.3-cudnn8-devel-ubuntu20.04"
    project = make_project(
        tmp_path, ["tensorflow==2.5.2"], python="3.8", base_image=base
    )
    with pytest.raises(CompatibilityError, match=r"cuDNN 8\.0\.5.*11\.2\.2-cudnn8"):
        freeze_project(load_config(project), environ={}, gpu=True, base_cudnn="8.0.5")
    assert fake.calls == []


def test_distro_python_must_match_the_config(tmp_path, fake_uv):
    fake = fake_uv()
    project = make_project(tmp_path, ["tensorflow==2.5.2"], python="3.9")
    with pytest.raises(CompatibilityError) as caught:
        freeze_project(load_config(project), environ={}, gpu=True)
    message = str(caught.value)
    assert "installs Python 3.8" in message and "Python 3.9" in message
    assert "must equal the config's python" in message
    assert fake.calls == []


def test_cpu_only_tensorflow_refused_for_gpu(fake_uv):
    fake_uv()
    with pytest.raises(CompatibilityError, match="tensorflow-cpu==2.21.0 has no GPU"):
        freeze_project(load_config(EXAMPLE), environ={}, gpu=True)


def test_and_cuda_lock_without_nvidia_wheels_is_refused(tmp_path, fake_uv):
    fake_uv(with_nvidia=False)
    project = make_project(tmp_path, ["tensorflow==2.17.1"], python="3.11")
    with pytest.raises(LockError, match="nvidia-cudnn"):
        freeze_project(load_config(project), environ={}, gpu=True)


# -- the renderer on its own ---------------------------------------------------


def _render(env: dict[str, str], **kwargs) -> str:
    args = {
        "base_image": "python:3.11-slim-bookworm",
        "command": ["python", "train.py"],
        "environment_vars": env,
    }
    args.update(kwargs)
    return render_dockerfile(**args)


def logical_lines(text: str) -> list[str]:
    """Join Dockerfile continuation lines; drop comments and blank lines."""
    out, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1]
            continue
        out.append(current + line)
        current = ""
    assert current == "", "the file ends inside a continued line"
    return out


def env_pairs(instruction: str) -> dict[str, str]:
    """Read NAME="value" pairs of an ENV line the way the Dockerfile lexer does."""
    text, pairs, i = instruction[len("ENV ") :], {}, 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        name_end = text.index("=", i)
        name, i = text[i:name_end], name_end + 1
        value = []
        if text[i] == '"':
            i += 1
            while text[i] != '"':
                if text[i] == "\\" and text[i + 1] in '"$\\':
                    i += 1
                value.append(text[i])
                i += 1
            i += 1
        else:
            while i < len(text) and not text[i].isspace():
                value.append(text[i])
                i += 1
        pairs[name] = "".join(value)
    return pairs


NASTY = [
    'say "hi"',
    "$(touch /pwned)",
    "${HOME} and $HOME",
    "back\\slash\\",
    'a\\"b',
    "ends with a backslash \\",
    "`id`; RUN echo pwned",
    "#not a comment",
]


@pytest.mark.parametrize("value", NASTY)
def test_env_value_cannot_add_an_instruction(value):
    plain = logical_lines(_render({"MY_FLAG": "1", "ZZ": "2"}))
    nasty = logical_lines(_render({"MY_FLAG": value, "ZZ": "2"}))
    assert len(nasty) == len(plain)
    assert [line.split()[0] for line in nasty] == [line.split()[0] for line in plain]
    env_line = next(line for line in nasty if "MY_FLAG=" in line)
    assert env_pairs(env_line) == {"MY_FLAG": value, "ZZ": "2"}


@pytest.mark.parametrize("value", ["a\nRUN touch /pwned", "a\rb", "nul\x00"])
def test_env_value_with_a_line_break_is_refused(value):
    with pytest.raises(InputError, match="line break"):
        _render({"MY_FLAG": value})


@pytest.mark.parametrize(
    "ref",
    [
        "python:3.11 \nRUN touch /pwned",
        "Python:3.11",
        "python:3.11-slim; rm -rf /",
        "python@sha256:abc",
        "",
        "-python:3.11",
        "python:3.11 AS builder",
    ],
)
def test_invalid_base_image_refused(ref):
    with pytest.raises(InputError, match="not a valid image reference"):
        _render({}, base_image=ref)


@pytest.mark.parametrize(
    "ref",
    [
        "python:3.11-slim-bookworm",
        "nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04",
        "localhost:5000/team/base:1.0",
        "python@sha256:" + "a" * 64,
    ],
)
def test_valid_base_image_accepted(ref):
    assert f"FROM {ref}\n" in _render({}, base_image=ref)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:token@example.com/simple",
        'https://example.com/simple" && touch /pwned "',
        "http://example.com/simple",
        "https://example.com/simple $(id)",
    ],
)
def test_index_with_credentials_or_quoting_not_written(url):
    with pytest.raises(InputError, match="cannot be written into the Dockerfile"):
        _render({}, extra_index_urls=[url])


def test_render_refuses_bad_names_and_versions():
    with pytest.raises(InputError, match="variable name"):
        _render({"BAD NAME": "1"})
    with pytest.raises(InputError, match="system package"):
        _render({}, system_packages=["git; rm"])
    with pytest.raises(InputError, match="major.minor"):
        _render({}, install_python='3.8"; touch /x; "')
    with pytest.raises(InputError, match="plain version"):
        _render({}, gpu=GpuImage("12.5\nRUN x", "9.3", "525.60.13", "pip-wheels"))
    with pytest.raises(InputError, match="plain name"):
        _render({}, config_name="reprobox.toml\nRUN touch /pwned")


def test_gpu_image_states_cuda_and_driver():
    text = _render({}, gpu=GpuImage("11.2", "8.1", "460.32.03", "base-image"))
    assert "CUDA 11.2 and cuDNN 8.1 come from the base image" in text
    assert "NVIDIA driver 460.32.03 or newer" in text
    assert "ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility\n" in text
    assert "NVIDIA_DRIVER_CAPABILITIES" not in _render({})


def test_gpu_image_without_a_known_framework_says_nothing_is_checked(tmp_path, fake_uv):
    fake_uv()
    project = make_project(tmp_path, ["six==1.17.0"])
    result = freeze_project(load_config(project), environ={}, gpu=True)
    assert result.manifest["gpu"] == {
        "base": "python:3.11-slim-bookworm",
        "cuda": None,
        "cudnn": None,
        "enabled": True,
        "min_driver": None,
    }
    assert "CUDA, cuDNN and the\n# driver are not checked" in result.dockerfile
    assert "ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility\n" in result.dockerfile
    assert any("no pinned package is a framework" in w for w in result.warnings)


def test_known_cuda_source_needs_its_versions():
    with pytest.raises(InputError, match="needs CUDA, cuDNN and driver"):
        _render({}, gpu=GpuImage(None, None, None, "pip-wheels"))


def test_pip_cuda_on_a_plain_user_base_keeps_it_quietly(tmp_path, fake_uv):
    fake_uv()
    base = "reprobox-base:bookworm-py3.11"
    project = make_project(
        tmp_path, ["tensorflow==2.21.0"], python="3.11", base_image=base
    )
    result = freeze_project(load_config(project), environ={}, gpu=True)
    assert f"FROM {base}\n" in result.dockerfile
    assert "python3-venv" not in result.dockerfile
    assert result.warnings == []


def test_base_cuda_framework_on_a_plain_user_base_is_refused(tmp_path, fake_uv):
    fake = fake_uv()
    project = make_project(
        tmp_path,
        ["tensorflow==2.11.1"],
        python="3.10",
        base_image="reprobox-base:bookworm-py3.11",
    )
    with pytest.raises(CompatibilityError, match="takes cuDNN 8.1 from the base"):
        freeze_project(load_config(project), environ={}, gpu=True)
    assert fake.calls == []


@pytest.mark.parametrize(
    "pin, python, platform",
    [
        ("tensorflow==2.5.2", "3.8", "x86_64-manylinux_2_17"),
        ("tensorflow==2.12.1", "3.10", "x86_64-manylinux_2_35"),
        ("tensorflow==2.21.0", "3.11", "x86_64-manylinux_2_36"),
    ],
)
def test_lock_platform_follows_the_base_system(
    pin, python, platform, tmp_path, fake_uv
):
    fake = fake_uv()
    project = make_project(tmp_path, [pin], python=python)
    freeze_project(load_config(project), environ={}, gpu=True)
    argv = fake.calls[-1]["argv"]
    assert argv[argv.index("--python-platform") + 1] == platform


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"A": ""},
        {"B": 'x "y" $Z \\ \\\\"', "A": "1", "C": 'a \\ D="2"'},
    ],
)
def test_the_env_block_reads_back_as_written(env):
    from reprobox.dockerfile import dockerfile_environment

    assert dockerfile_environment(_render(env)) == env


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace('A="1"', "A=1"),  # unquoted: not render's form
        lambda text: text.replace('A="1" \\\n    B="2"', 'B="2" \\\n    A="1"'),
        lambda text: text.replace('B="2"', 'B="2" C="3"'),
    ],
)
def test_an_env_block_not_in_render_s_form_is_not_read(edit):
    from reprobox.dockerfile import dockerfile_environment

    text = _render({"A": "1", "B": "2"})
    assert dockerfile_environment(edit(text)) is None


def test_build_steps_run_as_root_whatever_user_the_base_ends_on():
    lines = logical_lines(_render({}))
    # Right after FROM: the first RUN already needs root (venv in /opt).
    assert lines[0].startswith("FROM ")
    assert lines[1] == "USER 0:0"  # by number: no /etc/passwd is needed
    assert lines[-2:] == ["USER 1000:1000", 'CMD ["python", "train.py"]']
    assert [line for line in lines if line.startswith("USER ")] == [
        "USER 0:0",
        "USER 1000:1000",
    ]
    assert builds_as_root(_render({}))


def test_a_dockerfile_frozen_without_user_root_is_known():
    old = _render({}).replace("\nUSER 0:0\n", "\n")
    assert not builds_as_root(old)
    # What reprobox froze before USER was written by number.
    assert builds_as_root(_render({}).replace("\nUSER 0:0\n", "\nUSER root\n"))
