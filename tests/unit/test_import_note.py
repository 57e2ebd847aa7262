"""import names the way `verify` takes the image it tagged beside another."""

from __future__ import annotations

from reprobox import engine as engine_module
from reprobox.cli_share import _beside_note
from reprobox.share import REFERENCE_LABEL

TAG = "reprobox/p:0123456789abcdef"


def test_beside_an_unsealed_build_verify_of_the_tag_takes_the_sealed_copy(
    monkeypatch,
):
    monkeypatch.setattr(engine_module, "image_labels", lambda e, ref: {})
    note = _beside_note(None, TAG, f"{TAG}-sealed")
    assert note.endswith(f"(`reprobox verify {TAG}` takes it)")


def test_beside_a_sealed_image_verify_of_the_tag_takes_that_one(monkeypatch):
    # brk 33 item 4: <tag> held the image a `run --host` pulled, sealed with
    # another run; verify <tag> checked that one, not the import's -sealed.
    labels = {REFERENCE_LABEL: "{}"}
    monkeypatch.setattr(engine_module, "image_labels", lambda e, ref: labels)
    note = _beside_note(None, TAG, f"{TAG}-sealed")
    assert f"`reprobox verify {TAG}-sealed` checks it" in note
    assert f"`verify {TAG}` checks the image at {TAG}, sealed with another run" in note
    assert "takes it" not in note
