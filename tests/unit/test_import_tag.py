"""import tags a bundle's image without taking a tag from another image."""

from __future__ import annotations

from reprobox.bundles import import_tag

TAG = "reprobox/p:0123456789abcdef"
SEALED, BUILD = "sha256:" + "5" * 64, "sha256:" + "b" * 64
NEWER = "sha256:" + "7" * 64


def test_a_free_build_tag_goes_to_the_imported_image():
    assert import_tag(TAG, None, None, SEALED) == TAG


def test_a_build_tag_already_on_the_image_stays():
    assert import_tag(TAG, SEALED, None, SEALED) == TAG


def test_the_unsealed_build_keeps_its_tag_and_the_sealed_copy_goes_beside_it():
    # brk: the tag moved to the sealed image and left the build <none>.
    assert import_tag(TAG, BUILD, None, SEALED) == "reprobox/p:0123456789abcdef-sealed"


def test_a_sealed_tag_already_on_the_image_stays():
    assert import_tag(TAG, BUILD, SEALED, SEALED) == TAG + "-sealed"


def test_a_sealed_tag_naming_another_sealed_copy_stays_there():
    # AN 1: an export sealing a newer run had <tag>-sealed; importing the
    # older bundle took that tag and left the newer copy untagged.
    got = import_tag(TAG, BUILD, NEWER, SEALED)
    assert got == "reprobox/p:0123456789abcdef-sealed-555555555555"
    assert got not in (TAG, TAG + "-sealed")
