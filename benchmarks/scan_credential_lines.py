"""Count the files of installed packages that freeze would refuse for a credential.

Installed packages stand in for a project's code and docs: nearly none of their
files write a real secret, so each file flagged is most likely a false alarm to
read. Scans the .py, .sh, .md and .txt files under each folder given (by default
every site-packages this Python and pyenv's Pythons have), reads each as freeze
does (reprobox.image_inputs.written_credential), and prints the number of files
read and flagged, then each flagged file with its line and the kind of credential.
Files met twice (the same package in two Pythons) are read once.

    python benchmarks/scan_credential_lines.py [--kind KIND] [FOLDER ...]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import site
import sys
from collections import Counter
from pathlib import Path

from reprobox.credential_lines import LINE_BREAK
from reprobox.image_inputs import written_credential

SUFFIXES = (".py", ".sh", ".md", ".txt")


def default_folders() -> list[str]:
    """Return this Python's site-packages and those of pyenv's Pythons."""
    found = [*site.getsitepackages(), site.getusersitepackages()]
    found += sorted(glob.glob("/root/.pyenv/versions/*/lib/python*/site-packages"))
    return [f for f in dict.fromkeys(found) if Path(f).is_dir()]


def scan(folders: list[str]):
    """Yield (path, line, kind) for each distinct file read; kind None if clean."""
    seen: set[bytes] = set()
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix not in SUFFIXES or path.is_symlink() or not path.is_file():
                continue
            digest = hashlib.sha256(path.read_bytes()).digest()
            if digest in seen:
                continue
            seen.add(digest)
            found = written_credential(path)
            yield (path, *found) if found else (path, None, None)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--kind", help="list only files flagged with this kind")
    args = parser.parse_args(argv)
    folders = args.folders or default_folders()
    kinds: Counter[str] = Counter()
    read = 0
    for path, line, kind in scan(folders):
        read += 1
        if kind is None:
            continue
        kinds[kind] += 1
        if args.kind is None or kind == args.kind:
            lines = LINE_BREAK.split(path.read_text(errors="replace"))
            text = lines[line - 1].strip()
            print(f"{path}:{line}: ({kind}) {text[:160]}")
    print(f"{read} files read in {len(folders)} folders", file=sys.stderr)
    for kind, count in kinds.most_common():
        print(f"{count:6d}  {kind}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
