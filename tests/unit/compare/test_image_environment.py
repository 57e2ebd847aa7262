"""The variables the image sets (the record's `environment`) in compare."""

import pytest
from reprobox_synthetic import clone, make_record, set_field

from reprobox.compare import compare_runs
from reprobox.compare.environment import classify, diff_environments, environment_of
from reprobox.compare.records import read_record
from reprobox.compare.render import render_text
from reprobox.errors import InputError

LAYERS = "sha256:" + "7" * 64


@pytest.mark.parametrize(
    "field, category",
    [
        ("environment.MY_SHIFT", "env"),
        ("environment.OMP_NUM_THREADS", "threads"),
        ("environment.TF_NUM_INTEROP_THREADS", "threads"),
        ("environment.TF_ENABLE_ONEDNN_OPTS", "onednn"),
        ("environment.TF_DETERMINISTIC_OPS", "determinism"),
        ("environment.PYTHONHASHSEED", "seed"),
        ("environment.CUDA_VISIBLE_DEVICES", "gpu"),
        ("environment.NVIDIA_TF32_OVERRIDE", "gpu"),
        ("environment.TF_XLA_FLAGS", "jit"),
    ],
)
def test_an_image_variable_lands_in_its_category(field, category):
    assert classify(field)[0].name == category


def _with_env(run_id, shift, **changes):
    return make_record(
        run_id,
        image__layers=LAYERS,
        environment={"MY_SHIFT": shift, "TF_DETERMINISTIC_OPS": "1"},
        **changes,
    )


def test_a_refrozen_variable_is_named_as_the_cause_with_both_values():
    # [env] MY_SHIFT "0.01" -> "0.02", frozen again: the same layers, another
    # image id (its ENV and manifest label) and another manifest.
    ref = _with_env("A", "0.01")
    run = _with_env(
        "B",
        "0.02",
        image__id="sha256:" + "9" * 64,
        manifest_sha256="b" * 64,
        metrics={"loss": 0.3, "accuracy": 0.9},
    )
    comparison = compare_runs([ref, run])
    summary = comparison.runs[1]

    assert summary.likely_cause == "environment.MY_SHIFT"
    assert summary.headline.endswith(
        "most likely cause: env environment.MY_SHIFT 0.01 -> 0.02"
    )
    rows = {d.field: d for d in comparison.differences}
    assert list(rows) == ["environment.MY_SHIFT", "manifest_sha256", "image.id"]
    shift = rows["environment.MY_SHIFT"]
    assert (shift.reference_value, shift.run_value) == ("0.01", "0.02")
    assert shift.changes_numerics
    # The image id row says what the records show, not a push nobody made.
    relabel = rows["image.id"].explanation
    assert "push" not in relabel
    assert "a refreeze that changed its settings or data fingerprints" in relabel
    assert not rows["image.id"].changes_numerics


def test_an_image_variable_outranks_a_run_variable_of_its_category():
    ref = _with_env("A", "0.01", options__env={"MY_FLAG": "1"})
    run = _with_env(
        "B", "0.02", options__env={"MY_FLAG": "2"}, manifest_sha256="b" * 64
    )
    found = diff_environments("B", environment_of(ref), environment_of(run))
    assert [d.field for d in found] == [
        "options.env.MY_FLAG",
        "environment.MY_SHIFT",
        "manifest_sha256",
    ]


def test_a_record_written_before_the_field_shows_no_variable_row():
    # The old reference keeps no `environment`: its variables are unknown, not
    # absent, and the same manifest says they are the same.
    old = make_record("A", image__layers=LAYERS)
    assert "environment" not in old.data
    new = _with_env("B", "0.02")
    comparison = compare_runs([old, new])

    assert comparison.differences == ()
    assert comparison.runs[1].headline == "metrics identical"


def test_old_and_new_records_of_one_setup_are_still_repeats():
    old = make_record("A", image__layers=LAYERS)
    new = _with_env("B", "0.02", metrics={"loss": 0.5, "accuracy": 0.9688})
    summary = compare_runs([old, new]).runs[1]
    assert summary.likely_cause is None
    assert "no numerics-relevant setup difference: nondeterminism" in (summary.headline)


def test_an_old_record_beside_another_manifest_blames_the_manifest():
    old = make_record("A", image__layers=LAYERS)
    new = _with_env(
        "B", "0.02", manifest_sha256="b" * 64, metrics={"loss": 0.3, "accuracy": 0.9}
    )
    comparison = compare_runs([old, new])
    assert [d.field for d in comparison.differences] == ["manifest_sha256"]
    assert comparison.runs[1].likely_cause == "manifest_sha256"
    assert "its [env], tolerances" in comparison.differences[0].explanation


def test_another_manifest_with_the_same_variables_blames_other_settings():
    ref = _with_env("A", "0.01")
    run = _with_env("B", "0.01", manifest_sha256="b" * 64, metrics={"loss": 0.3})
    (lock,) = compare_runs([ref, run]).differences
    assert lock.explanation == (
        "another manifest with no package, data file or variable differing in the "
        "records: its tolerances, command or other frozen settings differ"
    )


TIGHT = {"compare": [], "tolerances": {"loss": {"abs": 0.001, "rel": None}}}
LOOSE = {"compare": [], "tolerances": {"loss": {"abs": 0.002, "rel": None}}}


def _refrozen_tolerances(**changes):
    """Return a run and one under a manifest refrozen with a looser tolerance.

    The same layers (a [metrics] edit rebuilds no layer), so another image id
    and manifest; the loss differs by nondeterminism, beyond both tolerances.
    """
    ref = _with_env("A", "0.01", compare_settings=TIGHT)
    run = _with_env(
        "B",
        "0.01",
        compare_settings=LOOSE,
        image__id="sha256:" + "9" * 64,
        manifest_sha256="b" * 64,
        metrics={"loss": 0.3, "accuracy": 0.9688},
    )
    for dotted, value in changes.items():
        set_field(run.data, dotted, value)
    return ref, run


def test_a_manifest_differing_only_in_tolerances_is_no_cause():
    # AM 2: the tolerances explain the other manifest; they change no number.
    comparison = compare_runs(list(_refrozen_tolerances()))
    rows = {d.field: d for d in comparison.differences}

    assert list(rows) == ["manifest_sha256", "image.id"]
    lock = rows["manifest_sha256"]
    assert lock.explanation == (
        "another manifest whose compare settings (tolerances) differ, with nothing "
        "else recorded about the setup differing: a tolerance changes no number"
    )
    assert not lock.changes_numerics
    summary = comparison.runs[1]
    assert summary.likely_cause is None
    assert summary.headline == (
        "metrics differ (loss +0.18) with no numerics-relevant setup difference: "
        "nondeterminism (e.g. an unseeded shuffle or racing ops)"
    )
    text = render_text(comparison)
    (row,) = [line for line in text.splitlines() if "b" * 64 in line]
    assert row.split()[:2] == ["B", "manifest_sha256"]  # no * before it
    assert "most likely cause:" not in text


@pytest.mark.parametrize(
    "changes, cause",
    [
        # Other layers: the manifest may hold other packages or files.
        ({"image.layers": "sha256:" + "8" * 64}, "image.id"),
        # Another seed, which the manifest may hold too, can change numbers.
        ({"seed": 7}, "seed"),
        # An option a manifest does not hold still leaves the manifest unexplained.
        ({"options.cpus": 4.0}, "options.cpus"),
    ],
)
def test_tolerances_do_not_explain_a_manifest_beside_another_difference(changes, cause):
    comparison = compare_runs(list(_refrozen_tolerances(**changes)))
    (lock,) = [d for d in comparison.differences if d.field == "manifest_sha256"]
    assert lock.changes_numerics
    assert lock.explanation == (
        "another manifest with no package, data file or variable differing in the "
        "records: its tolerances, command or other frozen settings differ"
    )
    assert comparison.runs[1].likely_cause == cause


def test_another_reprobox_leaves_a_manifest_unexplained_by_tolerances():
    # Another reprobox version may have frozen other settings into the manifest.
    comparison = compare_runs(list(_refrozen_tolerances(reprobox_version="9.9")))
    (lock,) = [d for d in comparison.differences if d.field == "manifest_sha256"]
    assert lock.changes_numerics
    assert comparison.runs[1].likely_cause == "manifest_sha256"


@pytest.mark.parametrize(
    "reference_settings, environment, explanation",
    [
        # Only one record keeps its tolerances: whether they differ is unknown.
        (None, {"TF_DETERMINISTIC_OPS": "1"}, "its tolerances, command or other"),
        # The same tolerances explain nothing.
        (LOOSE, {"TF_DETERMINISTIC_OPS": "1"}, "its tolerances, command or other"),
        # A reference written before `environment`: its [env] may differ too.
        (TIGHT, None, "its [env], tolerances or other"),
    ],
)
def test_tolerances_explain_a_manifest_only_where_both_records_tell(
    reference_settings, environment, explanation
):
    ref, run = _refrozen_tolerances()
    ref.data["compare_settings"] = reference_settings
    if environment is None:
        del ref.data["environment"]
    comparison = compare_runs([ref, run])
    (lock,) = [d for d in comparison.differences if d.field == "manifest_sha256"]
    assert lock.changes_numerics
    assert explanation in lock.explanation
    assert comparison.runs[1].likely_cause == "manifest_sha256"


def test_a_variable_dropped_from_env_shows_as_unset():
    ref = _with_env("A", "0.01")
    run = clone(ref, "B", environment={"TF_DETERMINISTIC_OPS": "1"})
    (diff,) = diff_environments("B", environment_of(ref), environment_of(run))
    assert (diff.field, diff.reference_value, diff.run_value) == (
        "environment.MY_SHIFT",
        "0.01",
        None,
    )


def test_an_empty_environment_is_recorded_not_unknown():
    ref = make_record("A", environment={})
    run = clone(ref, "B", environment={"MY_SHIFT": "0.02"})
    (diff,) = diff_environments("B", environment_of(ref), environment_of(run))
    assert (diff.field, diff.run_value) == ("environment.MY_SHIFT", "0.02")


@pytest.mark.parametrize(
    "reference, run, said",
    [
        # Pushed: the run took the sealed image, by its registry digest.
        (
            {"image.digest": None, "image.ref": "reprobox/p:1"},
            {"image.digest": "sha256:d", "image.ref": "127.0.0.1:5000/p@sha256:d"},
            "a push seals the reference run",
        ),
        (
            {"manifest_sha256": "a"},
            {"manifest_sha256": "b"},
            "another manifest: a refreeze",
        ),
        ({}, {}, "other settings or labels (the same manifest)"),
    ],
)
def test_other_labels_are_explained_by_what_the_records_show(reference, run, said):
    base = {"image.layers": "sha256:L"}
    ref = {**base, **reference, "image.id": "sha256:a"}
    other = {**base, **run, "image.id": "sha256:b"}
    (relabel,) = [
        d for d in diff_environments("B", ref, other) if d.field == "image.id"
    ]
    assert relabel.category == "provenance"
    assert said in relabel.explanation
    assert ("push" in relabel.explanation) == ("push" in said)


def test_a_record_whose_environment_is_no_object_is_refused(tmp_path):
    from reprobox_synthetic import record_data, write_record

    path = write_record(tmp_path, record_data("A", environment=["MY_SHIFT"]))
    with pytest.raises(InputError, match="environment must be a JSON object"):
        read_record(path)
