"""Digests that reprobox writes into its own JSON files, and strict JSON reading.

A manifest and a run record are files a person can open and edit. Rather than
checking chosen fields one by one, their writer puts a digest of the content
into the file itself: `sections_sha256` in a manifest (one sha256 per
top-level section, so a refusal can name the section) and `record_sha256` in
a record. Every reader recomputes them and refuses a mismatch. The digests
catch edits and damage, not forgery: anyone can recompute a sha256.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from reprobox.atomic import json_safe
from reprobox.errors import InputError, shortened

SECTIONS_FIELD = "sections_sha256"
RECORD_DIGEST_FIELD = "record_sha256"
# Sections reprobox itself changes after freeze (push adds where the image
# went): left out of the digests, they keep their own strict validation.
UNSEALED_SECTIONS = ("published",)
# The first schema versions whose files carry the digests.
SEALED_MANIFEST_VERSION = 2
SEALED_RECORD_VERSION = 2

_SHA256 = re.compile(r"[0-9a-f]{64}")
# A run id names a folder under runs/: one plain path component.
_SAFE_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def is_safe_run_id(value: Any) -> bool:
    """Tell whether value can name a run folder (no slash, no '..', printable)."""
    return isinstance(value, str) and _SAFE_RUN_ID.fullmatch(value) is not None


class RepeatedKeyError(InputError):
    """A JSON object that repeats a key; shown_key names it safely to print."""

    def __init__(self, where: object, key: str):
        # As JSON writes it (ASCII): any key (a control character, half of a
        # UTF-16 pair) prints on one line and encodes; cut short, a 20 MB key
        # cannot flood the message.
        self.key, self.shown_key = key, shortened(json.dumps(key), 60)
        super().__init__(
            f"{where}: key {self.shown_key} appears twice in one object; reprobox "
            "never writes that, so the file was edited",
            hint="remove the repeated key, or restore the file",
        )


def loads_strict(text: str | bytes, where: object, **numbers: Any) -> Any:
    """Parse JSON, refusing an object that repeats a key, naming where and key.

    Python keeps the last of repeated keys silently ("seed": 7, "seed": 3 reads
    as 3), while the text shows both; reprobox never writes a repeated key.
    JSON syntax errors propagate as ValueError for the caller to word.
    numbers: json.loads' parse_int and parse_float, for a caller that reads
    numbers its own way.
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise RepeatedKeyError(where, key)
            out[key] = value
        return out

    return json.loads(text, object_pairs_hook=pairs, **numbers)


def _digest(value: Any) -> str:
    """Return the sha256 of value in one canonical JSON form (as dump_json stores)."""
    text = json.dumps(
        json_safe(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=True,  # a hand-written NaN must mismatch, not crash
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def section_digests(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Return the sha256 of each sealed top-level section of a manifest."""
    skip = {SECTIONS_FIELD, *UNSEALED_SECTIONS}
    return {k: _digest(v) for k, v in sorted(manifest.items()) if k not in skip}


def seal_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Return the manifest with its section digests (re)computed."""
    out = {k: v for k, v in manifest.items() if k != SECTIONS_FIELD}
    out[SECTIONS_FIELD] = section_digests(out)
    return out


def check_manifest_sealed(where: object, manifest: Mapping[str, Any], fix: str) -> None:
    """Refuse a manifest whose content is not what freeze sealed, naming the section.

    where is the file (or image label) to name; fix says how to get a good one.
    """
    version = manifest.get("schema_version")
    if isinstance(version, int) and version < SEALED_MANIFEST_VERSION:
        raise InputError(
            f"{where}: manifest has schema_version {version}, written before "
            f"manifests carried {SECTIONS_FIELD}, so edits to it cannot be told",
            hint=fix,
        )
    sealed = manifest.get(SECTIONS_FIELD)
    if not isinstance(sealed, dict) or not all(
        isinstance(v, str) and _SHA256.fullmatch(v) for v in sealed.values()
    ):
        raise InputError(
            f"{where}: manifest field {SECTIONS_FIELD!r} is missing or damaged, so "
            "edits to the manifest cannot be told",
            hint=fix,
        )
    actual = section_digests(manifest)
    for name in sorted(set(sealed) | set(actual)):
        if sealed.get(name) == actual.get(name):
            continue
        plain = name.isidentifier() and len(name) <= 60
        shown = f"'{name}'" if plain else shortened(json.dumps(name), 60)
        # A seal with no section is a section removed, or a seal added: the
        # manifest cannot tell which, so both are said.
        what = (
            f"was removed after freeze, or a seal for it added to {SECTIONS_FIELD!r}"
            if name not in actual
            else "was added after freeze"
            if name not in sealed
            else "was edited after freeze"
        )
        raise InputError(f"{where}: manifest section {shown} {what}", hint=fix)


def record_digest(record: Mapping[str, Any]) -> str:
    """Return the sha256 of a record's content, its own digest field left out."""
    return _digest({k: v for k, v in record.items() if k != RECORD_DIGEST_FIELD})


def seal_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the record with its digest (re)computed, for writing."""
    out = {k: v for k, v in record.items() if k != RECORD_DIGEST_FIELD}
    out[RECORD_DIGEST_FIELD] = record_digest(out)
    return out


RECORD_FIX = "rerun it, or move the record out of the runs folder"


def check_record_sealed(
    where: object, record: Mapping[str, Any], fix: str = RECORD_FIX
) -> None:
    """Refuse a run record whose content is not what reprobox wrote.

    fix is what to do of it: a record in a runs folder is rerun or moved; one
    an image label or a bundle carries is fetched again from its source.
    """
    version = record.get("schema_version")
    if isinstance(version, int) and version < SEALED_RECORD_VERSION:
        raise InputError(
            f"{where}: run record has schema_version {version}, written before "
            f"records carried {RECORD_DIGEST_FIELD}, so edits to it cannot be told",
            hint=fix,
        )
    if record.get(RECORD_DIGEST_FIELD) != record_digest(record):
        missing = not isinstance(record.get(RECORD_DIGEST_FIELD), str)
        raise InputError(
            f"{where}: run record "
            + (
                f"has no {RECORD_DIGEST_FIELD}"
                if missing
                else f"was edited after reprobox wrote it ({RECORD_DIGEST_FIELD} "
                "no longer matches)"
            ),
            hint=fix,
        )
