import json
import math
import statistics

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import (
    compare_runs,
    render_json,
    render_markdown,
    render_text,
)


def sweep(values, *, sweep_id="sweep-1", metric="loss"):
    base = make_record("S0")
    return [
        clone(
            base,
            f"S{i}",
            seed=i,
            options__seed_sweep=sweep_id,
            metrics={metric: value},
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i, value in enumerate(values)
    ]


def test_noise_band_has_spread_std_and_count():
    runs = sweep([0.10, 0.12, 0.11])
    [band] = compare_runs(runs, metrics=["loss"]).noise_bands

    assert (band.sweep, band.metric, band.n) == ("sweep-1", "loss", 3)
    assert (band.minimum, band.maximum) == (0.10, 0.12)
    assert band.spread == pytest.approx(0.02)
    assert band.std == pytest.approx(statistics.stdev([0.10, 0.12, 0.11]))
    assert band.run_ids == ("S0", "S1", "S2")


def test_machine_difference_beyond_and_within_seed_noise():
    runs = sweep([0.10, 0.12, 0.11])
    far = clone(
        runs[0],
        "M1",
        options__seed_sweep=None,
        metrics={"loss": 0.15},
        machine__cpu__vendor="AuthenticAMD",
    )
    near = clone(
        runs[0],
        "M2",
        options__seed_sweep=None,
        metrics={"loss": 0.105},
        machine__cpu__vendor="AuthenticAMD",
    )

    checks = {c.run_id: c for c in compare_runs([*runs, far, near]).noise_checks}

    assert set(checks) == {"M1", "M2"}  # sweep members are the noise, not checked
    assert checks["M1"].beyond_noise
    assert checks["M1"].reason.startswith("|delta| 0.05 > seed spread 0.02")
    assert not checks["M2"].beyond_noise
    assert checks["M2"].reason.endswith("within seed noise")


def test_two_std_rule_catches_what_the_spread_lets_through():
    runs = sweep([0.0, 0.0, 0.0, 0.0, 1.0])  # spread 1.0, std 0.447
    machine = clone(runs[0], "M", options__seed_sweep=None, metrics={"loss": 0.95})
    [check] = compare_runs([*runs, machine]).noise_checks

    assert check.beyond_noise
    assert check.reason.startswith("|delta| 0.95 > 2 std 0.894")


def test_sweep_with_one_seed_gives_no_band_and_says_why():
    runs = [clone(r, r.run_id, seed=1) for r in sweep([0.1, 0.2])]
    comparison = compare_runs(runs)
    assert comparison.noise_bands == ()
    assert (
        "seed sweep sweep-1: needs two or more seeds for a noise band"
        in comparison.notes
    )


def test_sweep_across_images_is_flagged():
    runs = sweep([0.1, 0.2])
    runs[1] = clone(runs[1], "S1", image__id="sha256:other")
    notes = compare_runs(runs).notes
    assert (
        "seed sweep sweep-1 mixes images: its spread is more than seed noise" in notes
    )


def test_unseeded_shuffle_repeats_are_reported_as_nondeterminism():
    # cases/run/unseeded-shuffle.md: same image, seed and machine; metrics differ.
    first = make_record(
        "R0",
        options__repeat_index=0,
        metrics={"loss": 0.1202998384, "accuracy": 0.9688},
    )
    second = clone(
        first,
        "R1",
        options__repeat_index=1,
        metrics={"loss": 0.1187, "accuracy": 0.9688},
        started_at="2024-01-01T00:05:00Z",
    )

    comparison = compare_runs([first, second])

    [finding] = comparison.nondeterminism
    assert finding.metric == "loss"
    assert finding.run_ids == ("R0", "R1")
    assert finding.repeats
    assert finding.spread == pytest.approx(0.1202998384 - 0.1187)
    assert (
        "loss differs across 2 runs of the same image, seed and machine"
        in finding.reason
    )
    assert "nondeterminism" in comparison.runs[1].headline
    assert comparison.differences == ()
    assert not comparison.passed


def test_identical_repeats_raise_no_finding():
    first = make_record("R0", options__repeat_index=0)
    second = clone(first, "R1", options__repeat_index=1)
    comparison = compare_runs([first, second])
    assert comparison.nondeterminism == ()
    assert comparison.passed


def test_runs_on_other_machines_are_not_repeats():
    first = make_record("R0", options__repeat_index=0)
    other = clone(
        first,
        "R1",
        options__repeat_index=1,
        machine__threads__intra_op=8,
        metrics={"loss": 0.5, "accuracy": 0.9},
    )
    assert compare_runs([first, other]).nondeterminism == ()


def test_identical_metrics_need_no_noise_check():
    runs = sweep([0.10, 0.12, 0.11])
    same = clone(runs[0], "M", options__seed_sweep=None, machine__threads__omp=9)
    assert compare_runs([*runs, same]).noise_checks == ()


def test_sweep_whose_runs_came_from_two_engines_is_flagged():
    runs = sweep([0.10, 0.12, 0.11])
    runs[2] = clone(runs[2], "S2", engine__host="ssh://gpu-box")

    notes = compare_runs(runs, metrics=["loss"]).notes
    assert "seed sweep sweep-1 spans engines: its spread is more than seed noise" in (
        notes
    )


def test_an_outside_reference_is_checked_against_the_sweep_noise():
    # brkc F17: the earliest run (the default reference) is often the other
    # machine's; the sweep's run with its seed is the one to set against it.
    machine = clone(
        make_record("M"),
        "M",
        seed=0,
        metrics={"loss": 0.15},
        machine__cpu__vendor="AuthenticAMD",
        started_at="2023-12-31T00:00:00Z",
    )
    runs = sweep([0.10, 0.12, 0.11])
    comparison = compare_runs([machine, *runs])

    assert comparison.reference == "M"
    [check] = comparison.noise_checks
    assert (check.run_id, check.sweep, check.metric) == ("S0", "sweep-1", "loss")
    assert check.beyond_noise
    assert check.reason.startswith("|delta| 0.05 > seed spread 0.02")


def test_one_run_of_a_sweep_alone_gives_no_note():
    # brkc F18: one member given with another run is no faulty sweep.
    [member] = sweep([0.1])
    other = clone(member, "X", options__seed_sweep=None)
    assert not [n for n in compare_runs([member, other]).notes if "seed sweep" in n]


def test_a_warning_or_memory_limit_does_not_hide_nondeterminism():
    # brkc F9: neither can change numbers, so the runs are still repeats.
    a = make_record("A", options__repeat_index=0)
    b = clone(
        a,
        "B",
        options__repeat_index=1,
        options__memory="4g",
        warnings=["capture.json field 'history' was damaged; left out"],
        engine__server_version="25.0.0",
        metrics={"loss": 0.2, "accuracy": 0.9688},
    )
    comparison = compare_runs([a, b])

    [finding] = comparison.nondeterminism
    assert (finding.run_ids, finding.metric, finding.repeats) == (
        ("A", "B"),
        "loss",
        True,
    )
    assert comparison.runs[1].likely_cause is None
    assert "no numerics-relevant setup difference" in comparison.runs[1].headline


def test_repeats_of_a_seed_count_once_in_the_band():
    runs = sweep([0.10, 0.10, 0.30, 0.30])
    for index, record in enumerate(runs):  # seeds 0, 0, 1, 1: two repeats each
        runs[index] = clone(
            record, record.run_id, seed=index // 2, options__repeat_index=index % 2
        )
    [band] = compare_runs(runs, metrics=["loss"]).noise_bands
    assert band.n == 2
    assert band.run_ids == ("S0", "S2")
    assert band.std == pytest.approx(statistics.stdev([0.10, 0.30]))


def test_a_sweep_alone_passes_its_other_seeds_are_the_noise():
    from reprobox.compare import exit_code, render_text

    comparison = compare_runs(sweep([0.10, 0.12, 0.11]), metrics=["loss"])

    assert comparison.passed and exit_code(comparison) == 0
    assert [r.seed_noise for r in comparison.runs] == [False, True, True]
    text = render_text(comparison)
    assert (
        "verdict: PASS (nothing beyond seed noise); 2 sweep run(s) with other seeds "
        "measure the noise" in text
    )


def test_sweep_and_another_machine_are_judged_on_the_machine_run_alone():
    from reprobox.compare import render_text
    from reprobox.compare.metrics import Tolerance

    runs = sweep([0.10, 0.12, 0.11])
    near = clone(runs[0], "M2", options__seed_sweep=None, metrics={"loss": 0.105})
    within = compare_runs([*runs, near], tolerances={"loss": Tolerance(abs=0.01)})
    assert within.passed  # the seeds' 0.02 spread is no failure
    assert "verdict: PASS (all 1 metric checks within tolerance" in render_text(within)

    far = clone(runs[0], "M1", options__seed_sweep=None, metrics={"loss": 0.15})
    beyond = compare_runs([*runs, far], tolerances={"loss": Tolerance(abs=0.01)})
    assert not beyond.passed
    assert "1 of 1 metric checks out of tolerance" in render_text(beyond)


def test_a_metric_only_some_repeats_recorded_is_no_finding():
    # A metric added between repeats is missing in one, not a different value.
    first = make_record("R0", options__repeat_index=0, metrics={"acc": 0.9})
    second = clone(
        first, "R1", options__repeat_index=1, metrics={"acc": 0.9, "f1": 0.8}
    )
    assert compare_runs([first, second]).nondeterminism == ()


def test_repeats_that_recorded_a_metric_still_disagree_without_the_one_that_did_not():
    first = make_record("R0", options__repeat_index=0, metrics={"acc": 0.9})
    second = clone(first, "R1", options__repeat_index=1, metrics={"acc": 0.8})
    third = clone(first, "R2", options__repeat_index=2, metrics={})

    [finding] = compare_runs([first, second, third]).nondeterminism
    assert finding.run_ids == ("R0", "R1")
    assert finding.values == (0.9, 0.8)
    assert finding.reason == (
        "acc differs across 2 runs of the same image, seed and machine "
        "(0.9, 0.8; spread 0.1)"
    )


def _sweep_and_machine(machine_loss, *, machine_first):
    """Six sweep runs (seeds 0-2, twice each) and another machine's seed 42."""
    base = make_record("S0")
    runs = [
        clone(
            base,
            f"A{i}",
            seed=i // 2,
            options__seed_sweep="sw1",
            options__repeat_index=i % 2,
            metrics={"loss": [0.10, 0.12, 0.11][i // 2]},
            started_at=f"2024-01-01T00:00:0{i + 1}Z",
        )
        for i in range(6)
    ]
    machine = clone(
        base,
        "B",
        seed=42,
        engine__host="ssh://engine-b",
        machine__cpu__model="EPYC 9654",
        metrics={"loss": machine_loss},
        started_at="2024-01-01T00:00:00Z" if machine_first else "2024-01-01T00:01Z",
    )
    records = [machine, *runs] if machine_first else [*runs, machine]
    from reprobox.compare.metrics import Tolerance

    return compare_runs(records, tolerances={"loss": Tolerance(abs=0.01)})


BAND = "[0.1, 0.12] of sweep sw1 (seed 0: 0.1, seed 1: 0.12, seed 2: 0.11)"


def test_another_machine_as_reference_is_judged_on_the_seed_band():
    # A sweep beside another machine's run whose seed the sweep lacks: that
    # run (here the reference) was judged by nothing and the verdict passed.
    from reprobox.compare import exit_code, render_text

    comparison = _sweep_and_machine(0.15, machine_first=True)

    assert comparison.reference == "B"
    assert not comparison.passed and exit_code(comparison) == 1
    text = render_text(comparison)
    assert (
        "verdict: FAIL (1 of 1 metric checks outside the seed band widened by "
        "tolerance); 6 sweep run(s) with other seeds measure the noise"
    ) in text
    [ref] = [r for r in comparison.runs if r.is_reference]
    assert ref.judged_on_band and not ref.passed
    assert ref.headline == (
        "reference run; loss outside the seed band widened by tolerance; most "
        "likely cause: cpu machine.cpu.model Xeon Gold 6248 -> EPYC 9654"
    )
    assert "B (ref)  42    succeeded  FAIL" in text
    [judged] = [r for r in comparison.results if not r.seed_noise]
    assert (
        judged.reason == f"0.03 above the seed band {BAND}: out of tolerance (abs 0.01)"
    )
    # The sweep runs are the noise, not failures beside a verdict.
    noise_rows = [line for line in text.splitlines() if "seed noise: seed" in line]
    assert len(noise_rows) == 6 and all(" noise " in row for row in noise_rows)
    assert not [
        line for line in text.splitlines() if line.startswith("  A") and "FAIL" in line
    ]
    # Every seed of the sweep is shown against the machine's run.
    [check] = comparison.noise_checks
    assert (check.run_id, check.beyond_noise) == ("B", True)
    assert (
        check.reason == f"0.15 lies 0.03 above the seed band {BAND}: beyond seed noise"
    )


def test_another_machine_within_the_band_widened_by_tolerance_passes():
    from reprobox.compare import render_text

    inside = _sweep_and_machine(0.115, machine_first=True)
    assert inside.passed
    assert (
        "verdict: PASS (all 1 metric checks within the seed band widened by "
        "tolerance)" in render_text(inside)
    )
    [check] = inside.noise_checks
    assert check.reason == f"0.115 lies within the seed band {BAND}: within seed noise"

    widened = _sweep_and_machine(0.125, machine_first=True)  # 0.005 above, tol 0.01
    assert widened.passed
    [result] = [r for r in widened.results if not r.seed_noise]
    assert result.reason == (
        f"0.005 above the seed band {BAND}: within tolerance (abs 0.01)"
    )


def test_another_machine_after_the_sweep_is_judged_on_the_band_not_seed_0():
    from reprobox.compare import render_text

    comparison = _sweep_and_machine(0.125, machine_first=False)  # 0.025 from seed 0

    assert comparison.reference == "A0" and comparison.passed
    [machine] = [r for r in comparison.runs if r.run_id == "B"]
    assert (machine.passed, machine.headline) == (
        True,
        "loss within the seed band widened by tolerance",
    )
    assert (
        "verdict: PASS (all 2 metric checks within tolerance, 1 of them on the "
        "seed band); 4 sweep run(s) with other seeds measure the noise"
    ) in render_text(comparison)


def test_band_verdict_reads_the_same_in_markdown_json_and_html():
    import json

    from reprobox.compare import render_json, render_markdown
    from reprobox.report import render_report_html

    comparison = _sweep_and_machine(0.15, machine_first=True)

    md = render_markdown(comparison)
    assert (
        "verdict: FAIL (1 of 1 metric checks outside the seed band widened by "
        "tolerance); 6 sweep run(s) with other seeds measure the noise" in md
    )
    assert "| A0 | loss | 0.1 | 0.15 | -0.05 | -0.333 | abs 0.01 | noise |" in md
    data = json.loads(render_json(comparison))
    assert data["passed"] is False
    [band_row] = [r for r in data["results"] if r["seed_band"]]
    assert (band_row["run_id"], band_row["passed"], band_row["seed_band"]) == (
        "B",
        False,
        [0.1, 0.12],
    )
    assert all(r["seed_noise"] for r in data["results"] if r["run_id"] != "B")
    assert data["noise_bands"][0]["seeds"] == [0, 1, 2]
    html = render_report_html([], comparison)
    assert "<td>FAIL</td>" in html and html.count("<td>noise</td>") == 6
    assert "1 of 1 metric checks outside the seed band widened by tolerance" in html
    assert html.count('<td class="num noise"') == 6


def _hidden_token_runs():
    # run --env BF_API_TOKEN=a, then =b: both records keep the value as ***.
    first = make_record(
        "H0", options__env={"BF_API_TOKEN": "***"}, metrics={"loss": 0.12}
    )
    second = clone(first, "H1", metrics={"loss": 0.13})
    return compare_runs([first, second])


def test_hidden_env_values_caveat_the_nondeterminism_claim():
    comparison = _hidden_token_runs()
    caveat = "; hidden --env values (BF_API_TOKEN) may differ"
    assert comparison.runs[1].headline == (
        "metrics differ (loss +0.01) with no numerics-relevant setup difference: "
        "nondeterminism (e.g. an unseeded shuffle or racing ops)" + caveat
    )
    assert comparison.runs[1].hidden_env == ("BF_API_TOKEN",)
    [finding] = comparison.nondeterminism
    assert finding.hidden_env == ("BF_API_TOKEN",)
    assert finding.reason == (
        "loss differs across 2 runs of the same image, seed and machine "
        "(0.12, 0.13; spread 0.01)" + caveat
    )


def test_hidden_env_caveat_reads_the_same_in_text_markdown_and_json():
    comparison = _hidden_token_runs()
    verdict_note = (
        "loss: nondeterminism, though hidden --env values (BF_API_TOKEN) may "
        "differ (see below)"
    )
    caveat = "hidden --env values (BF_API_TOKEN) may differ"
    text = render_text(comparison)
    # Markdown escapes the name's underscores, nothing else of it.
    md = render_markdown(comparison).replace(r"BF\_API\_TOKEN", "BF_API_TOKEN")
    for rendered in (text, md):
        assert verdict_note in rendered
        assert rendered.count(caveat) == 3  # verdict, headline, finding
    data = json.loads(render_json(comparison))
    assert data["runs"][1]["hidden_env"] == ["BF_API_TOKEN"]
    assert data["runs"][1]["headline"].endswith("; " + caveat)
    assert data["nondeterminism"][0]["hidden_env"] == ["BF_API_TOKEN"]
    assert data["nondeterminism"][0]["reason"].endswith("; " + caveat)


def test_runs_without_hidden_values_carry_no_caveat():
    first = make_record("N0", options__env={"BF_SHIFT": "0"}, metrics={"loss": 0.1})
    second = clone(first, "N1", metrics={"loss": 0.2})
    comparison = compare_runs([first, second])
    assert "hidden" not in render_text(comparison)
    assert comparison.runs[1].hidden_env == ()


def test_repeats_on_two_engines_are_not_called_one_machine():
    # run --repeat 2 --env X=1 --host A --host B: four runs, two engines.
    base = make_record("E0", options__env={"X": "1"}, metrics={"loss": 0.1})
    runs = [
        clone(
            base,
            f"E{i}",
            options__repeat_index=i % 2,
            engine__host=host,
            metrics={"loss": 0.1 + i / 100},
        )
        for i, host in enumerate(["ssh://a", "ssh://a", "ssh://b", "ssh://b"])
    ]
    [finding] = compare_runs(runs).nondeterminism
    assert finding.engines == 2
    assert finding.reason.startswith(
        "loss differs across 4 runs of the same image and seed on 2 container engines ("
    )
    assert "machine" not in finding.reason


def test_one_engine_spelt_four_ways_is_one_machine():
    # bo F1: default, unix://, /var/run and /run spellings of one socket were
    # counted as four engines (and a sweep over them as spanning engines).
    base = make_record("S0", metrics={"loss": 0.1})
    hosts = [
        "default",
        "unix://",
        "unix:///var/run/docker.sock",
        "UNIX:///var/run//docker.sock",
    ]
    runs = [
        clone(base, f"S{i}", engine__host=host, metrics={"loss": 0.1 + i / 100})
        for i, host in enumerate(hosts)
    ]
    [finding] = compare_runs(runs).nondeterminism
    assert finding.engines == 1
    assert finding.reason.startswith(
        "loss differs across 4 runs of the same image, seed and machine"
    )


@pytest.mark.parametrize("given", ["{runs}/R1", "{runs}/R1/", "{runs}/R1/record.json"])
def test_reference_may_be_a_run_folder_or_its_record(tmp_path, given):
    # bo F6: --reference with a path said the run was not among the given runs.
    first = make_record("R1", metrics={"loss": 0.1})
    second = clone(first, "R2", metrics={"loss": 0.1})
    reference = given.format(runs=tmp_path)
    comparison = compare_runs([second, first], reference=reference)
    assert comparison.reference == "R1"


@pytest.mark.parametrize(
    ("values", "spread", "said"),
    [
        ((0.5, math.nan, math.nan), "NaN", "spread NaN: a value is NaN)"),
        (
            (0.5, math.inf, 0.7, -math.inf),
            "Infinity",
            "spread inf: a value is infinite)",
        ),
        ((0.5, math.inf), "Infinity", "spread inf: a value is infinite)"),
        ((0.5, 0.75), 0.25, "spread 0.25)"),
    ],
)
def test_a_nondeterminism_spread_counts_every_value(values, spread, said):
    # round 33 item 5: (0.5, nan, nan; spread 0) and (0.5, inf, 0.7, -inf;
    # spread 0.2): a spread of the finite values alone contradicts "differs".
    first = make_record("R0", options__repeat_index=0, metrics={"loss": values[0]})
    runs = [first] + [
        clone(
            first,
            f"R{i}",
            options__repeat_index=i,
            metrics={"loss": value},
            started_at=f"2024-01-01T00:0{i}:00Z",
        )
        for i, value in enumerate(values[1:], 1)
    ]
    comparison = compare_runs(runs)
    [finding] = comparison.nondeterminism
    assert finding.reason.endswith(said)
    [shown] = json.loads(render_json(comparison))["nondeterminism"]
    assert shown["spread"] == spread
