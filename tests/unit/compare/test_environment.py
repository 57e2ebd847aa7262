import pytest
from reprobox_synthetic import clone, make_record

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
    ],
)
def test_each_field_lands_in_its_category(field, category):
    assert classify(field)[0].name == category


def test_numeric_categories_rank_before_those_that_cannot_change_numbers():
    flags = [c.changes_numerics for c in CATEGORIES]
    assert flags == sorted(flags, reverse=True)
    assert NUMERIC[:7] == [
        "code",
        "image",
        "lock",
        "data",
        "seed",
        "determinism",
        "onednn",
    ]


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

    assert [(d.category, d.field) for d in diffs] == [
        ("image", "image.id"),
        ("seed", "seed"),
        ("onednn", "machine.onednn.TF_ENABLE_ONEDNN_OPTS"),
        ("threads", "machine.threads.intra_op"),
        ("threads", "machine.threads.omp"),
        ("jit", "machine.keras.jit_compile"),
        ("reprobox", "reprobox_version"),
        ("host", "engine.server_version"),
    ]
    assert diffs[0].reference_value == "sha256:" + "1" * 64
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


def test_image_difference_outranks_the_package_differences_it_brings():
    ref = make_record("A")
    run = clone(
        ref,
        "B",
        image__id="sha256:" + "9" * 64,
        machine__packages__numpy="2.0.0",
        metrics={"loss": 0.3, "accuracy": 0.9},
    )
    assert compare_runs([ref, run]).runs[1].likely_cause == "image.id"


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
    ref = {"image.code_sha256": "c1", "image.layers": "L1", "seed": 1}
    run = {"image.code_sha256": "c2", "image.layers": "L2", "seed": 2}
    found = diff_environments("r2", ref, run)
    assert [d.field for d in found] == ["image.code_sha256", "image.layers", "seed"]
    assert found[0].explanation == "the project's own files (training code) differ"
