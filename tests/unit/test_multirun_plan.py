from reprobox.multirun import plan_jobs
from reprobox.run_options import RunOptions


def test_each_engine_gets_its_own_seed_sweep():
    jobs = plan_jobs(["a", "b"], RunOptions(), seeds=[0, 1, 2], repeat=1)

    sweeps = {}
    for job in jobs:
        sweeps.setdefault(job.engine_label, set()).add(job.opts.seed_sweep)
    assert [len(s) for s in sweeps.values()] == [1, 1]
    assert sweeps["a"] != sweeps["b"]
    assert [(j.engine_label, j.opts.seed) for j in jobs] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("b", 0),
        ("b", 1),
        ("b", 2),
    ]


def test_no_sweep_without_seeds():
    jobs = plan_jobs(["a", "b"], RunOptions(seed=7), seeds=None, repeat=2)

    assert {j.opts.seed_sweep for j in jobs} == {None}
    assert [j.opts.repeat_index for j in jobs] == [0, 1, 0, 1]


def _report(errors, as_json=False):
    from types import SimpleNamespace

    from reprobox.cli_run import _report_many
    from reprobox.multirun import JobResult

    job = SimpleNamespace(engine_label="local")
    results = [JobResult(job=job, error=error) for error in errors]
    return _report_many(results, {}, SimpleNamespace(), as_json, sweep=False)


def test_runs_that_could_not_start_for_a_runs_folder_exit_2():
    from reprobox.errors import InputError

    refused = InputError("/r/x: cannot write the run's files: Read-only file system")
    assert _report([refused, refused]) == 2


def test_runs_that_failed_otherwise_still_exit_1():
    from reprobox.errors import EngineError, InputError, RunFailed

    refused = InputError("/r/x: cannot write the run's files: Read-only file system")
    assert _report([refused, RunFailed("the run exited 1")]) == 1
    assert _report([EngineError("engine gone")]) == 1
