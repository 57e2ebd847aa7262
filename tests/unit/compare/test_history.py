import copy

from reprobox_synthetic import clone, curve_epochs, make_record

from reprobox.compare.exact import written
from reprobox.compare.history import find_divergence, history_metrics


def with_epochs(run_id, *calls):
    return make_record(
        run_id,
        history=[
            {"call": i, "epochs": copy.deepcopy(epochs)}
            for i, epochs in enumerate(calls)
        ],
    )


def test_identical_curves():
    ref = with_epochs("A", curve_epochs(5))
    found = find_divergence(ref, clone(ref, "B"))
    assert found.identical
    assert (found.epoch, found.call, found.reason) == (None, None, "identical curves")
    assert found.epochs_reference == found.epochs_run == (5,)


def test_first_parting_epoch_is_found_bitwise_by_default():
    epochs = curve_epochs(6)
    changed = copy.deepcopy(epochs)
    changed[3]["loss"] += 1e-12
    changed[4]["loss"] += 0.5
    changed[4]["accuracy"] -= 0.25

    found = find_divergence(with_epochs("A", epochs), with_epochs("B", changed))

    assert not found.identical
    assert (found.call, found.epoch) == (0, 3)
    # As written, as every delta: the binary difference is 9.999778782798785e-13.
    assert found.deltas == {"loss": 1e-12}
    assert found.max_abs_delta["loss"] == float(
        written(changed[4]["loss"]) - written(epochs[4]["loss"])
    )
    assert found.reason.startswith("curves part: loss +1e-12")


def test_epsilon_ignores_gaps_at_or_below_it():
    epochs = curve_epochs(6)
    changed = copy.deepcopy(epochs)
    changed[3]["loss"] += 1e-12
    changed[5]["val_loss"] += 1e-3

    found = find_divergence(
        with_epochs("A", epochs), with_epochs("B", changed), epsilon=1e-9
    )
    assert (found.epoch, list(found.deltas)) == (5, ["val_loss"])


def test_early_stopping_at_another_epoch_is_reported_with_both_counts():
    epochs = curve_epochs(8)
    found = find_divergence(with_epochs("A", epochs), with_epochs("B", epochs[:5]))

    assert not found.identical
    assert found.epochs_reference == (8,) and found.epochs_run == (5,)
    assert (found.call, found.epoch) == (0, 5)
    assert found.reason == "curves agree on shared epochs; epoch counts differ (8 vs 5)"


def test_nan_equals_nan_but_not_a_number():
    epochs = curve_epochs(3)
    nan_ref = copy.deepcopy(epochs)
    nan_ref[1]["loss"] = float("nan")
    nan_run = copy.deepcopy(nan_ref)

    assert find_divergence(
        with_epochs("A", nan_ref), with_epochs("B", nan_run)
    ).identical
    found = find_divergence(with_epochs("A", nan_ref), with_epochs("B", epochs))
    assert (found.epoch, found.deltas) == (1, {"loss": None})


def test_a_metric_missing_in_one_epoch_counts_as_parting():
    epochs = curve_epochs(3)
    missing = copy.deepcopy(epochs)
    del missing[2]["val_loss"]
    found = find_divergence(with_epochs("A", epochs), with_epochs("B", missing))
    assert (found.epoch, found.deltas) == (2, {"val_loss": None})


def test_parting_in_a_later_fit_call_names_the_call():
    first, second = curve_epochs(3), curve_epochs(4, seed=1)
    changed = copy.deepcopy(second)
    changed[2]["accuracy"] += 0.125
    found = find_divergence(
        with_epochs("A", first, second), with_epochs("B", first, changed)
    )
    assert (found.call, found.epoch) == (1, 2)
    assert found.epochs_reference == (3, 4)


def test_no_history_is_said_plainly():
    ref = make_record("A", history=[])
    found = find_divergence(ref, clone(ref, "B"))
    assert found.identical and found.reason == "no per-epoch history"


def test_history_metric_names_are_sorted_and_skip_the_epoch_key():
    assert history_metrics([make_record("A")]) == [
        "accuracy",
        "loss",
        "val_accuracy",
        "val_loss",
    ]


def test_curves_within_epsilon_are_not_called_identical():
    # round 33 item 8: --epsilon 0.05 called curves 0.01 apart "identical curves".
    epochs = curve_epochs(4)
    changed = copy.deepcopy(epochs)
    changed[1]["loss"] += 0.01
    changed[2]["loss"] -= 0.02

    found = find_divergence(
        with_epochs("A", epochs), with_epochs("B", changed), epsilon=0.05
    )
    assert not found.identical
    assert (found.call, found.epoch, found.deltas) == (None, None, {})
    assert found.reason == "curves within epsilon 0.05 (largest gap loss 0.02)"


def test_an_integer_against_its_float_parts_by_what_is_written():
    # brk r37 1 (curves): -(2**60) against its float, written
    # -1.152921504606847e+18, parted with a gap of 0.0 (int - float rounds).
    ref = with_epochs("A", [{"epoch": 1, "seen": -(2**60)}])
    run = with_epochs("B", [{"epoch": 1, "seen": -1.152921504606847e18}])
    found = find_divergence(ref, run)
    assert (found.deltas, found.max_abs_delta) == ({"seen": -24.0}, {"seen": 24.0})
    within = find_divergence(ref, run, epsilon=24)
    assert within.reason == "curves within epsilon 24 (largest gap seen 24)"
    same = with_epochs("B", [{"epoch": 1, "seen": 1e30}])
    assert find_divergence(
        with_epochs("A", [{"epoch": 1, "seen": 10**30}]), same
    ).identical
