"""A run that stopped before its machine facts were gathered: not recorded, not
different, so its missing facts neither explain a metric change nor list as setup
differences."""

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_text
from reprobox.compare.environment import facts_cut_short
from reprobox.report import render_report_html

# What `run` writes for machine when capture.json never got its exit-time
# facts (runner.machine_from_capture of an empty capture).
NOTHING_GATHERED = {
    "cpu": None,
    "threads": None,
    "onednn": {"TF_ENABLE_ONEDNN_OPTS": None, "ONEDNN_MAX_CPU_ISA": None},
    "gpu": None,
    "python": None,
    "os": None,
    "packages": {},
    "tensorflow": None,
    "torch": None,
    "keras": None,
    "env": {},
}


def cut_short_pair(machine=NOTHING_GATHERED, status="interrupted"):
    ref = make_record("A")
    run = clone(
        ref,
        "B",
        status=status,
        exit_code=None,
        machine=machine,
        metrics={"loss": 0.5, "accuracy": 0.5},
    )
    return ref, run


@pytest.mark.parametrize("machine", [NOTHING_GATHERED, None])
def test_an_interrupted_runs_missing_facts_are_not_setup_differences(machine):
    comparison = compare_runs(list(cut_short_pair(machine)))

    assert comparison.differences == ()
    summary = comparison.runs[1]
    assert summary.likely_cause is None
    assert summary.headline == (
        "metrics differ (accuracy -0.469, loss +0.38); no cause can be named: "
        "this run stopped before its machine facts were recorded; but status "
        "interrupted: it cannot pass"
    )
    [unrecorded] = comparison.unrecorded
    assert unrecorded.run_id == "B" and unrecorded.status == "interrupted"
    assert "machine.python" in unrecorded.fields
    assert "machine.packages.numpy" in unrecorded.fields
    assert "machine.cpu.flags" in unrecorded.fields
    text = render_text(comparison)
    assert "Setup differences" not in text
    assert (
        "Machine facts not recorded (not setup differences)\n"
        "  - run B (interrupted) stopped before its machine facts were gathered; "
        "not compared: machine.cpu.cgroup_version, machine.cpu.cpu_quota, "
        "machine.cpu.flags, machine.cpu.logical_cpus, machine.cpu.model and "
    ) in text
    assert '"unrecorded": [' in render_json(comparison)
    html = render_report_html(list(cut_short_pair(machine)), comparison)
    assert "Machine facts not recorded" in html


def test_a_fact_both_recorded_still_differs_when_the_rest_was_not_gathered():
    # The start-up capture arrived (CPU facts), the exit capture did not.
    ref, _ = cut_short_pair()
    partial = dict(NOTHING_GATHERED, cpu=dict(ref.data["machine"]["cpu"]))
    partial["cpu"]["flags"] = ["avx", "avx2", "fma", "sse4_2"]
    run = clone(ref, "B", status="failed", exit_code=137, machine=partial)
    run.data["metrics"]["loss"] = 0.5

    comparison = compare_runs([ref, run])

    assert [d.field for d in comparison.differences] == ["machine.cpu.flags"]
    assert comparison.runs[1].likely_cause == "machine.cpu.flags"
    assert "machine.cpu.flags" not in comparison.unrecorded[0].fields
    assert "machine.python" in comparison.unrecorded[0].fields


def test_a_reference_cut_short_claims_no_nondeterminism():
    ref, run = cut_short_pair()
    done = clone(ref, "C", metrics={"loss": 0.2, "accuracy": 0.9})

    comparison = compare_runs([run, done])  # the interrupted run is the reference

    assert comparison.differences == ()
    assert comparison.runs[1].headline == (
        "metrics differ (accuracy +0.4, loss -0.3); no cause can be named: the "
        "reference stopped before its machine facts were recorded"
    )
    assert [u.run_id for u in comparison.unrecorded] == ["B"]


def test_a_succeeded_run_with_all_facts_still_shows_a_missing_fact_as_difference():
    # A package really absent from one image is a difference, not a gap.
    ref = make_record("A")
    run = clone(ref, "B", machine__packages={"tensorflow": "2.15.0"})
    run.data["metrics"]["loss"] = 0.5

    comparison = compare_runs([ref, run])

    assert not facts_cut_short(run)
    assert [d.field for d in comparison.differences] == ["machine.packages.numpy"]
    assert comparison.unrecorded == ()


def test_a_running_records_missing_facts_are_not_promised_to_come():
    # brk r48 (BP 10): of a run whose reprobox was killed, it said "no machine
    # facts yet (they are gathered as its script exits)", which never came.
    comparison = compare_runs(list(cut_short_pair(status="running")))
    text = render_text(comparison)
    assert (
        "  - run B (running) has no machine facts (they are gathered as its "
        "script exits, which its record does not say it did); not compared: "
    ) in text
    assert " yet " not in text
