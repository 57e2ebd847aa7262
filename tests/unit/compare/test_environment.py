import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.addresses import engine_key
from reprobox.compare import CATEGORIES, compare_runs
from reprobox.compare.environment import classify, diff_environments, environment_of

NUMERIC = [c.name for c in CATEGORIES if c.changes_numerics]


@pytest.mark.parametrize(
    "field, category",
    [
        ("image.id", "image"),
        ("image.digest", "image"),
        ("image.ref", "provenance"),
        ("manifest_sha256", "lock"),
        ("data.train.csv.sha256", "data"),
        ("seed", "seed"),
        ("machine.env.PYTHONHASHSEED", "seed"),
        ("profile", "determinism"),
        ("machine.env.TF_DETERMINISTIC_OPS", "determinism"),
        ("machine.env.TF_CUDNN_DETERMINISTIC", "determinism"),
        ("machine.tensorflow.op_determinism", "determinism"),
        ("machine.onednn.TF_ENABLE_ONEDNN_OPTS", "onednn"),
        ("machine.env.TF_ENABLE_ONEDNN_OPTS", "onednn"),
        ("machine.onednn.ONEDNN_MAX_CPU_ISA", "onednn"),
        ("machine.cpu.flags", "isa"),
        ("machine.threads.intra_op", "threads"),
        ("machine.threads.omp", "threads"),
        ("machine.env.OMP_NUM_THREADS", "threads"),
        ("machine.env.MKL_NUM_THREADS", "threads"),
        ("machine.cpu.cpu_quota", "cpus"),
        ("machine.cpu.visible_cpus", "cpus"),
        ("options.cpus", "cpus"),
        ("machine.cpu.vendor", "cpu"),
        ("machine.cpu.model", "cpu"),
        ("engine.arch", "cpu"),
        ("machine.gpu[0].driver", "gpu"),
        ("machine.tensorflow.cudnn", "gpu"),
        ("machine.env.NVIDIA_TF32_OVERRIDE", "gpu"),
        ("machine.tensorflow.tf32_enabled", "gpu"),
        ("options.gpus", "gpu"),
        ("machine.keras.jit_compile", "jit"),
        ("machine.env.TF_XLA_FLAGS", "jit"),
        ("machine.tensorflow.version", "framework"),
        ("machine.python", "framework"),
        ("machine.packages.numpy", "packages"),
        ("machine.env.KERAS_BACKEND", "env"),
        ("reprobox_version", "reprobox"),
        ("engine.server_version", "host"),
        ("machine.cpu.cgroup_version", "host"),
        ("options.network", "provenance"),
        ("project", "provenance"),
        ("machine.something_new", "other"),
        ("image.code_sha256", "code"),
        ("command", "command"),
    ],
)
def test_each_field_lands_in_its_category(field, category):
    assert classify(field)[0].name == category


def test_numeric_categories_rank_before_those_that_cannot_change_numbers():
    flags = [c.changes_numerics for c in CATEGORIES]
    assert flags == sorted(flags, reverse=True)
    assert NUMERIC[:10] == [
        "code",
        "command",
        "framework",
        "packages",
        "image",
        "lock",
        "data",
        "seed",
        "determinism",
        "onednn",
    ]
    assert NUMERIC.index("cpus") < NUMERIC.index("threads")


def test_differences_follow_category_rank_then_field_name():
    ref = make_record("A")
    run = clone(
        ref,
        "B",
        engine__server_version="25.0.0",  # host
        machine__threads__omp=8,  # threads
        machine__threads__intra_op=8,  # threads
        machine__keras__jit_compile=True,  # jit
        seed=7,  # seed
        image__id="sha256:" + "2" * 64,  # image
        machine__onednn__TF_ENABLE_ONEDNN_OPTS="0",  # onednn
        reprobox_version="0.2.0",  # reprobox
    )
    diffs = diff_environments("B", environment_of(ref), environment_of(run))

    # The image id sums up many inputs: it comes after every specific one.
    assert [(d.category, d.field) for d in diffs] == [
        ("seed", "seed"),
        ("onednn", "machine.onednn.TF_ENABLE_ONEDNN_OPTS"),
        ("threads", "machine.threads.intra_op"),
        ("threads", "machine.threads.omp"),
        ("jit", "machine.keras.jit_compile"),
        ("image", "image.id"),
        ("reprobox", "reprobox_version"),
        ("host", "engine.server_version"),
    ]
    assert diffs[5].reference_value == "sha256:" + "1" * 64
    assert all(d.explanation for d in diffs)


def test_only_the_isa_subset_of_cpu_flags_counts():
    ref = make_record("A", machine__cpu__flags=["avx2", "sse2", "ht", "avx"])
    same_isa = clone(ref, "B", machine__cpu__flags=["avx", "avx2", "pni", "ssse3"])
    other_isa = clone(
        ref, "C", machine__cpu__flags=["avx", "avx2", "avx512f", "amx_tile"]
    )

    assert diff_environments("B", environment_of(ref), environment_of(same_isa)) == []
    [diff] = diff_environments("C", environment_of(ref), environment_of(other_isa))
    assert diff.field == "machine.cpu.flags"
    assert diff.category == "isa"
    assert diff.reference_value == ("avx", "avx2")
    assert diff.run_value == ("amx_tile", "avx", "avx2", "avx512f")


def test_data_fingerprints_match_by_path_not_position():
    a = {"path": "a.csv", "sha256": "1", "size": 1}
    b = {"path": "b.csv", "sha256": "2", "size": 2}
    ref = make_record("A", data=[a, b])
    reordered = clone(ref, "B", data=[b, a])
    changed = clone(ref, "C", data=[a, {**b, "sha256": "3"}])

    assert diff_environments("B", environment_of(ref), environment_of(reordered)) == []
    [diff] = diff_environments("C", environment_of(ref), environment_of(changed))
    assert (diff.field, diff.category, diff.run_value) == (
        "data.b.csv.sha256",
        "data",
        "3",
    )


def test_run_bookkeeping_is_not_a_setup_difference():
    ref = make_record("A")
    run = clone(
        ref,
        "B",
        started_at="2030-01-01T00:00:00Z",
        duration_s=1.0,
        status="failed",
        log="other.log",
        options__repeat_index=3,
        options__seed_sweep="s1",
    )
    assert diff_environments("B", environment_of(ref), environment_of(run)) == []


def test_likely_cause_is_named_only_when_metrics_differ():
    ref = make_record("A")
    same_numbers = clone(ref, "B", machine__threads__intra_op=8)
    moved = clone(
        ref,
        "C",
        machine__threads__intra_op=8,
        metrics={"loss": 0.2, "accuracy": 0.9688},
    )
    runs = {r.run_id: r for r in compare_runs([ref, same_numbers, moved]).runs}

    assert runs["B"].likely_cause is None
    assert runs["B"].headline == "metrics identical despite setup differences"
    assert runs["C"].likely_cause == "machine.threads.intra_op"
    assert (
        "most likely cause: threads machine.threads.intra_op 2 -> 8"
        in runs["C"].headline
    )


def test_host_only_difference_is_not_blamed_for_changed_metrics():
    ref = make_record("A")
    run = clone(
        ref,
        "B",
        engine__server_version="25.0.0",
        metrics={"loss": 0.2, "accuracy": 0.9688},
    )
    summary = compare_runs([ref, run]).runs[1]

    assert summary.likely_cause is None
    assert (
        "with no numerics-relevant setup difference: nondeterminism" in summary.headline
    )


def test_a_package_change_is_named_before_the_image_id_it_changes():
    # brkc F10: "another image" says nothing; the package in it says what.
    ref = make_record("A")
    run = clone(
        ref,
        "B",
        image__id="sha256:" + "9" * 64,
        machine__packages__numpy="2.0.0",
        metrics={"loss": 0.3, "accuracy": 0.9},
    )
    summary = compare_runs([ref, run]).runs[1]
    assert summary.likely_cause == "machine.packages.numpy"
    assert "most likely cause: packages machine.packages.numpy 1.26.4 -> 2.0.0" in (
        summary.headline
    )


def test_an_image_change_alone_is_still_the_cause():
    ref = make_record("A")
    run = clone(ref, "B", image__id="sha256:" + "9" * 64, metrics={"loss": 0.3})
    assert compare_runs([ref, run]).runs[1].likely_cause == "image.id"


def test_a_seed_change_outranks_another_image():
    ref = make_record("A")
    run = clone(ref, "B", image__id="sha256:" + "9" * 64, seed=7, metrics={"loss": 0.3})
    assert compare_runs([ref, run]).runs[1].likely_cause == "seed"


def test_same_layers_other_labels_is_bookkeeping_not_a_cause():
    """A push seals the reference run into the labels: a new id, the same files."""
    ref = {"image.id": "sha256:aaa", "image.layers": "sha256:L", "image.digest": None}
    sealed = {
        "image.id": "sha256:bbb",
        "image.layers": "sha256:L",
        "image.digest": "sha256:ddd",
    }
    found = diff_environments("r2", ref, sealed)
    assert [(d.field, d.category, d.changes_numerics) for d in found] == [
        ("image.digest", "provenance", False),
        ("image.id", "provenance", False),
    ]
    assert "same filesystem layers" in found[0].explanation


def test_other_layers_keep_the_image_a_likely_cause():
    ref = {"image.id": "sha256:aaa", "image.layers": "sha256:L1"}
    run = {"image.id": "sha256:bbb", "image.layers": "sha256:L2"}
    found = diff_environments("r2", ref, run)
    assert {d.category for d in found} == {"image"}


def test_changed_code_is_named_first():
    ref = {"image.code_sha256": "c1", "image.layers": "L1", "project": "p"}
    run = {"image.code_sha256": "c2", "image.layers": "L2", "project": "q"}
    found = diff_environments("r2", ref, run)
    assert [d.field for d in found] == ["image.code_sha256", "image.layers", "project"]
    assert (
        found[0].explanation
        == "the project's files in the image (code, requirements or others) differ"
    )


def test_the_run_seed_is_named_before_the_hash_seed_it_sets():
    # brkc F13: the field the user changed comes first within its category.
    ref = make_record("A")
    run = clone(ref, "B", seed=7, machine__env__PYTHONHASHSEED="7", metrics={})
    found = diff_environments("B", environment_of(ref), environment_of(run))
    assert [d.field for d in found] == ["seed", "machine.env.PYTHONHASHSEED"]


def test_the_cpu_quota_is_named_before_the_threads_fitted_to_it():
    ref = make_record("A")
    run = clone(
        ref,
        "B",
        options__cpus=1.0,
        machine__cpu__cpu_quota=1.0,
        machine__cpu__fitted_threads=1,
        machine__threads__intra_op=1,
        metrics={"loss": 0.3, "accuracy": 0.9},
    )
    summary = compare_runs([ref, run]).runs[1]
    assert summary.likely_cause == "options.cpus"
    assert summary.headline.endswith("most likely cause: cpus options.cpus 2.0 -> 1.0")


def test_warnings_and_the_memory_limit_are_no_numerics_cause():
    ref = make_record("A")
    run = clone(
        ref,
        "B",
        warnings=["hook error"],
        options__memory="4g",
        metrics={"loss": 0.3, "accuracy": 0.9},
    )
    found = diff_environments("B", environment_of(ref), environment_of(run))
    assert [(d.field, d.changes_numerics) for d in found] == [("options.memory", False)]
    assert compare_runs([ref, run]).runs[1].likely_cause is None


def test_a_setup_field_nested_as_deep_as_json_allows_is_one_flat_value():
    # brkc F6: no RecursionError, in the walk or in anything downstream.
    deep: list = []
    for _ in range(950):
        deep = [deep]
    ref = make_record("A", machine__odd=deep)
    run = make_record("B", machine__odd=[[1]])
    [diff] = diff_environments("B", environment_of(ref), environment_of(run))
    assert diff.field == "machine.odd"
    assert diff.reference_value == "[" * 951 + "]" * 951
    assert diff.run_value == "[[1]]"

    nested: dict = {}
    for _ in range(950):
        nested = {"k": nested}
    flat = environment_of(make_record("C", machine__deep=nested))
    assert flat["machine.deep" + ".k" * 950] is None


def test_an_env_flag_is_named_before_what_it_sets_in_the_machine():
    # brkg F4: --env TF_ENABLE_ONEDNN_OPTS=0 against a plain run.
    from reprobox.compare.environment import diff_environments

    reference = {
        "machine.env.TF_ENABLE_ONEDNN_OPTS": None,
        "machine.onednn.enabled": True,
    }
    run = {
        "options.env.TF_ENABLE_ONEDNN_OPTS": "0",
        "machine.env.TF_ENABLE_ONEDNN_OPTS": "0",
        "machine.onednn.enabled": False,
    }
    fields = [d.field for d in diff_environments("B", reference, run)]
    assert fields[0] == "options.env.TF_ENABLE_ONEDNN_OPTS"
    assert set(fields[1:]) == {
        "machine.env.TF_ENABLE_ONEDNN_OPTS",
        "machine.onednn.enabled",
    }


@pytest.mark.parametrize(
    "one, other",
    [
        ("default", "unix:///var/run/docker.sock"),
        ("unix:///var/run/docker.sock", "UNIX:///var/run//docker.sock"),
    ],
)
def test_one_engine_spelt_two_ways_is_no_setup_difference(one, other):
    ref = make_record("A", metrics={"loss": 0.1}, engine__host=one)
    run = clone(ref, "B", engine__host=other)
    fields = {d.field for d in compare_runs([ref, run]).differences}
    assert "engine.host" not in fields


def test_two_engines_stay_two():
    ref = make_record("A", metrics={"loss": 0.1}, engine__host="default")
    run = clone(ref, "B", engine__host="unix:///run/reprobox-engine2/docker.sock")
    [difference] = [
        d for d in compare_runs([ref, run]).differences if d.field == "engine.host"
    ]
    # Told apart as run tells engines apart, shown as the records give them.
    assert difference.reference_value == engine_key("unix:///var/run/docker.sock")
    assert difference.run_value == engine_key(
        "unix:///run/reprobox-engine2/docker.sock"
    )
    assert (str(difference.reference_value), str(difference.run_value)) == (
        "default",
        "unix:///run/reprobox-engine2/docker.sock",
    )


def test_an_engine_is_shown_as_given_not_as_the_socket_a_link_leads_to():
    ref = make_record("A", metrics={"loss": 0.1}, engine__host="unix:///var/run/x.sock")
    run = clone(ref, "B", engine__host="unix:///run/reprobox-engine2/docker.sock")
    comparison = compare_runs([ref, run])
    [difference] = [d for d in comparison.differences if d.field == "engine.host"]
    assert str(difference.reference_value) == "unix:///var/run/x.sock"
    assert json.dumps(difference.reference_value) == '"unix:///var/run/x.sock"'


def _refrozen(ref, run_id, **changes):
    """Clone ref as a rerun after a refreeze: new image, code digest and manifest."""
    refrozen = {
        "image__id": "sha256:" + "9" * 64,
        "image__layers": "sha256:" + "8" * 64,
        "manifest_sha256": "b" * 64,
        "metrics": {"loss": 0.3, "accuracy": 0.9},
    }
    return clone(ref, run_id, **{**refrozen, **changes})


def _frozen_reference():
    return make_record(
        "A",
        image__layers="sha256:" + "7" * 64,
        image__code_sha256="c" * 64,
        machine__packages__six="1.16.0",
        data=[{"path": "d.csv", "sha256": "d" * 64, "size": 10}],
    )


def test_a_package_pin_outranks_the_code_and_manifest_digests_it_changes():
    # requirements.txt lives in /app, so a new pin also changes the code digest.
    ref = _frozen_reference()
    run = _refrozen(
        ref, "B", image__code_sha256="e" * 64, machine__packages__six="1.17.0"
    )
    comparison = compare_runs([ref, run])
    summary = comparison.runs[1]
    assert summary.likely_cause == "machine.packages.six"
    assert summary.headline.endswith(
        "most likely cause: packages machine.packages.six 1.16.0 -> 1.17.0"
    )
    assert [d.field for d in comparison.differences][:5] == [
        "machine.packages.six",
        "image.code_sha256",
        "image.id",
        "image.layers",
        "manifest_sha256",
    ]


def test_a_data_file_outranks_the_manifest_digest():
    ref = _frozen_reference()
    run = _refrozen(
        ref,
        "B",
        image__id=ref.data["image"]["id"],
        image__layers=ref.data["image"]["layers"],
        data=[{"path": "d.csv", "sha256": "f" * 64, "size": 10}],
    )
    comparison = compare_runs([ref, run])
    assert comparison.runs[1].likely_cause == "data.d.csv.sha256"
    assert [d.field for d in comparison.differences] == [
        "data.d.csv.sha256",
        "manifest_sha256",
    ]
    lock = comparison.differences[1]
    assert lock.explanation == (
        "another manifest: other locked packages, data or frozen settings "
        "([env], tolerances and the like)"
    )


def test_a_manifest_alone_says_its_frozen_settings_differ():
    # [env] BF_SHIFT "0" -> "0.01": the record keeps no copy of [env], only the
    # manifest's digest (the image's labels change, its layers do not).
    ref = _frozen_reference()
    run = _refrozen(ref, "B", image__layers=ref.data["image"]["layers"])
    comparison = compare_runs([ref, run])
    summary = comparison.runs[1]
    assert summary.likely_cause == "manifest_sha256"
    (lock,) = [d for d in comparison.differences if d.changes_numerics]
    assert lock.explanation == (
        "another manifest with no package, data file or variable differing in the "
        "records: its [env], tolerances or other frozen settings differ"
    )


def test_two_runs_of_one_setup_differ_in_no_setup_field_once_sealed():
    # Each record carries the digest of its own content, which differs for
    # every run: a repeat of one setup read "identical despite setup
    # differences" and its moved metrics were no longer nondeterminism.
    from reprobox.seals import seal_record

    first = make_record("A", started_at="2024-01-01T00:00:00Z")
    second = clone(first, "B", started_at="2024-01-01T00:00:09Z")
    sealed = [type(r)(r.path, seal_record(dict(r.data))) for r in (first, second)]
    assert sealed[0].data["record_sha256"] != sealed[1].data["record_sha256"]
    reference, run = (environment_of(r) for r in sealed)
    assert diff_environments("B", reference, run) == []
    runs = {r.run_id: r for r in compare_runs(sealed).runs}
    assert runs["B"].headline == "metrics identical"


def test_a_cpu_quota_is_said_to_come_from_the_flag_or_the_config():
    # brk r50 (BU 7): a quota from run.cpus was "given with --cpus".
    ref = make_record("A", options__cpus=None)
    run = clone(ref, "B", options__cpus=1.0)
    [diff] = [
        d
        for d in diff_environments("B", environment_of(ref), environment_of(run))
        if d.field == "options.cpus"
    ]
    assert diff.explanation == "the CPU quota (--cpus, or run.cpus in the config)"
