"""A record's image.ref names the image that ran; its digest is the engine's."""

from __future__ import annotations

from types import SimpleNamespace

import docker.errors

from reprobox.image_names import choose_name, recorded_name, repository_of

SEALED, BUILD = "sha256:" + "5" * 64, "sha256:" + "b" * 64
TAG = "reprobox/p:0123456789abcdef"
D = "sha256:" + "d" * 64
PUSHED = f"127.0.0.1:5000/reprobox/p@{D}"


def test_repository_of_leaves_out_tag_and_digest_but_not_the_port():
    assert repository_of("127.0.0.1:5000/reprobox/p:abc") == "127.0.0.1:5000/reprobox/p"
    assert repository_of(PUSHED) == "127.0.0.1:5000/reprobox/p"
    assert repository_of("127.0.0.1:5000/p") == "127.0.0.1:5000/p"


def test_a_name_that_names_the_image_is_kept_with_the_engines_digest():
    tags = [TAG + "-sealed", "127.0.0.1:5000/reprobox/p:0123456789abcdef"]
    got = choose_name(TAG + "-sealed", True, SEALED, tags, [PUSHED])
    assert got == (TAG + "-sealed", D)  # brk 33 item 5: the digest was null


def test_a_build_tag_naming_another_image_gives_the_registry_name():
    # brk 33 item 5: `verify reprobox/p:<tag>` ran the sealed copy and
    # recorded the build's tag, which names the unsealed image.
    got = choose_name(TAG, False, SEALED, [TAG + "-sealed"], [PUSHED])
    assert got == (PUSHED, D)


def test_without_a_registry_digest_the_images_own_tag_else_its_id():
    assert choose_name(TAG, False, SEALED, [TAG + "-sealed"], []) == (
        TAG + "-sealed",
        None,
    )
    assert choose_name(TAG, False, SEALED, [], []) == (SEALED, None)


def test_a_claimed_digest_the_engine_does_not_list_is_not_recorded():
    # brk 33 item 6: loaded from a bundle, the image has no RepoDigests.
    assert choose_name(PUSHED, False, SEALED, [TAG], []) == (TAG, None)


class NameEngine:
    def __init__(self, tags, repo_digests):
        self.tags = tags  # ref -> id
        attrs = {"RepoTags": [t for t, i in tags.items() if i == SEALED]}
        attrs["RepoDigests"] = repo_digests

        def get(ref):
            found = self.tags.get(ref, ref)
            if found not in (SEALED, BUILD):
                raise docker.errors.ImageNotFound(ref)
            return SimpleNamespace(id=found, attrs=attrs if found == SEALED else {})

        self.client = SimpleNamespace(images=SimpleNamespace(get=get))


def test_recorded_name_asks_the_engine_what_names_the_image():
    engine = NameEngine({TAG: BUILD, TAG + "-sealed": SEALED, PUSHED: SEALED}, [PUSHED])
    assert recorded_name(engine, SEALED, TAG) == (PUSHED, D)
    assert recorded_name(engine, SEALED, TAG + "-sealed") == (TAG + "-sealed", D)
    assert recorded_name(engine, SEALED, PUSHED) == (PUSHED, D)
    engine = NameEngine({TAG: SEALED}, [])
    assert recorded_name(engine, SEALED, PUSHED) == (TAG, None)
