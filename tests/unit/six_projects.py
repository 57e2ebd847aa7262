"""Write a small project that needs six, for freeze tests with a faked lock."""

from __future__ import annotations

from pathlib import Path

# A base on a registry no test reaches: freeze only writes its name.
REMOTE_BASE = "reg.example:5000/base:1"


def project(tmp_path: Path, extra: str = "", base: str | None = REMOTE_BASE) -> Path:
    """Write reprobox.toml (with extra appended), requirements.txt and train.py."""
    head = 'command = "python train.py"\n'
    if base is not None:
        head += f'base_image = "{base}"\n'
    (tmp_path / "reprobox.toml").write_text(head + extra)
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("print(1)\n")
    return tmp_path
