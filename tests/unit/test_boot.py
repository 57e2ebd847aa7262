"""The start-up hook, run for real in a child Python with fake numpy and keras."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FAKE_NUMPY = {
    "numpy/__init__.py": "from . import random\n",
    "numpy/random.py": "SEEDS = []\n\n\ndef seed(value=None):\n"
    "    SEEDS.append(value)\n",
}

# fit() evaluates the validation data itself, as Keras does; evaluate() returns
# loss = x so each call is recognisable in the capture.
FAKE_KERAS = {
    "keras/__init__.py": textwrap.dedent("""\
        __version__ = "3.99.0"
        from . import callbacks, utils


        class Model:
            def __init__(self):
                self._metrics = {}

            def fit(self, x=None, y=None, epochs=1, callbacks=None,
                    validation_data=None, verbose=0):
                self.jit_compile = True
                for epoch in range(epochs):
                    logs = {"loss": 1.0 / (epoch + 1), "accuracy": 0.5 + epoch / 10,
                            "optimizer": "adam"}
                    if validation_data is not None:
                        val = self.evaluate(*validation_data, return_dict=True)
                        logs.update({"val_" + k: v for k, v in val.items()})
                    for cb in callbacks or []:
                        cb.on_epoch_end(epoch, logs)
                return "history"

            def evaluate(self, x=None, y=None, return_dict=False, verbose=0):
                self._metrics = {"loss": float(x), "accuracy": 1.0 - float(x)}
                if return_dict:
                    return dict(self._metrics)
                return [self._metrics["loss"], self._metrics["accuracy"]]

            def get_metrics_result(self):
                return dict(self._metrics)
        """),
    "keras/callbacks.py": textwrap.dedent("""\
        class Callback:
            def __init__(self):
                self.model = None

            def on_epoch_end(self, epoch, logs=None):
                pass
        """),
    "keras/utils.py": "SEEDS = []\n\n\ndef set_random_seed(seed):\n"
    "    SEEDS.append(seed)\n",
}

_HOST_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "PYTHONHASHSEED",
)


@pytest.fixture
def fakes(tmp_path) -> Path:
    """Write the fake numpy and keras packages; return their folder."""
    root = tmp_path / "fakes"
    for rel, text in {**FAKE_NUMPY, **FAKE_KERAS}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def out_dir(tmp_path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def run_boot(
    fakes: Path, script: str, env: dict[str, str] | None = None, prelude: str = ""
) -> tuple[dict, subprocess.CompletedProcess]:
    """Run prelude, import boot, run script; return what the script printed as JSON."""
    child_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REPROBOX_") and k not in _HOST_VARS
    }
    child_env["PYTHONPATH"] = os.pathsep.join([str(fakes), str(REPO)])
    child_env.update(env or {})
    code = prelude + "\nimport reprobox.runtime.boot\n" + textwrap.dedent(script)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    return (json.loads(lines[-1]) if lines else {}), proc


def read_capture(out_dir: Path) -> dict:
    return json.loads((out_dir / "capture.json").read_text())


TRAIN = """
import json, os, random, numpy, keras
model = keras.Model()
model.fit(0, 0, epochs=3, validation_data=(0.5, 0))
result = model.evaluate(0.125, 0)
print(json.dumps({"result": result, "numpy_seeds": numpy.random.SEEDS,
                  "keras_seeds": keras.utils.SEEDS, "random": random.random(),
                  "env": {k: os.environ.get(k) for k in (
                      "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                      "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}}))
"""


def test_history_is_captured_per_epoch(fakes, out_dir):
    run_boot(fakes, TRAIN, {"REPROBOX_OUT": str(out_dir)})
    capture = read_capture(out_dir)
    assert capture["schema_version"] == 1
    assert len(capture["history"]) == 1
    fit = capture["history"][0]
    assert fit["call"] == 0
    assert fit["jit_compile"] is True
    assert fit["epochs"] == [
        {
            "epoch": 1,
            "loss": 1.0,
            "accuracy": 0.5,
            "val_loss": 0.5,
            "val_accuracy": 0.5,
        },
        {
            "epoch": 2,
            "loss": 0.5,
            "accuracy": 0.6,
            "val_loss": 0.5,
            "val_accuracy": 0.5,
        },
        {
            "epoch": 3,
            "loss": 1 / 3,
            "accuracy": 0.7,
            "val_loss": 0.5,
            "val_accuracy": 0.5,
        },
    ]
    assert capture["keras"] == {"version": "3.99.0", "jit_compile": True}


def test_only_user_evaluate_calls_are_recorded(fakes, out_dir):
    printed, _ = run_boot(fakes, TRAIN, {"REPROBOX_OUT": str(out_dir)})
    assert printed["result"] == [0.125, 0.875]  # the user's return value untouched
    capture = read_capture(out_dir)
    assert capture["evaluations"] == [
        {"call": 0, "results": {"loss": 0.125, "accuracy": 0.875}}
    ]


def test_seed_reaches_random_numpy_and_keras(fakes, out_dir):
    printed, _ = run_boot(
        fakes, TRAIN, {"REPROBOX_OUT": str(out_dir), "REPROBOX_SEED": "7"}
    )
    assert printed["numpy_seeds"] == [7]
    assert printed["keras_seeds"] == [7]
    assert printed["random"] == random.Random(7).random()


def test_no_seed_leaves_frameworks_unseeded(fakes, out_dir):
    printed, _ = run_boot(fakes, TRAIN, {"REPROBOX_OUT": str(out_dir)})
    assert printed["numpy_seeds"] == []
    assert printed["keras_seeds"] == []


def test_numpy_imported_before_boot_is_seeded_too(fakes, out_dir):
    printed, _ = run_boot(
        fakes,
        TRAIN,
        {"REPROBOX_OUT": str(out_dir), "REPROBOX_SEED": "11"},
        prelude="import numpy",
    )
    assert printed["numpy_seeds"] == [11]


def test_strict_profile_pins_every_thread_count_to_one(fakes, out_dir):
    printed, _ = run_boot(
        fakes, TRAIN, {"REPROBOX_OUT": str(out_dir), "REPROBOX_PROFILE": "strict"}
    )
    assert set(printed["env"].values()) == {"1"}
    capture = read_capture(out_dir)
    assert capture["threads"] == {
        "intra_op": 1,
        "inter_op": 1,
        "omp": 1,
        "source": "strict profile",
    }


def test_user_thread_setting_is_kept(fakes, out_dir):
    printed, _ = run_boot(
        fakes,
        TRAIN,
        {
            "REPROBOX_OUT": str(out_dir),
            "REPROBOX_PROFILE": "strict",
            "OMP_NUM_THREADS": "3",
        },
    )
    assert printed["env"]["OMP_NUM_THREADS"] == "3"
    assert read_capture(out_dir)["threads"]["omp"] == 3


@pytest.mark.parametrize("bad", ["abc", "2.5", ""])
def test_a_thread_count_that_is_no_number_still_seeds_and_says_so(fakes, out_dir, bad):
    printed, _ = run_boot(
        fakes,
        TRAIN,
        {
            "REPROBOX_OUT": str(out_dir),
            "REPROBOX_SEED": "7",
            "TF_NUM_INTRAOP_THREADS": bad,
        },
    )
    assert printed["numpy_seeds"] == [7]  # seeding does not depend on threads
    assert printed["keras_seeds"] == [7]
    capture = read_capture(out_dir)
    assert capture["threads"]["intra_op"] == bad
    assert capture["history"]  # and fit was still captured


@pytest.mark.parametrize(
    ("files", "version"),
    [
        ({"cpu.max": "100000 100000"}, "v2"),
        ({"cpu/cpu.cfs_quota_us": "100000", "cpu/cpu.cfs_period_us": "100000"}, "v1"),
    ],
)
def test_threads_follow_a_fake_cgroup_quota(fakes, out_dir, tmp_path, files, version):
    """The shared case run/cpu-quota.md, through the hook: 2 CPUs, quota 1 -> 1."""
    cgroup = tmp_path / "cgroup"
    for rel, text in files.items():
        (cgroup / rel).parent.mkdir(parents=True, exist_ok=True)
        (cgroup / rel).write_text(text + "\n")
    prelude = (
        "import reprobox.runtime.machine_facts as mf\n"
        f"mf.cpu_facts.__defaults__ = ({str(cgroup)!r},)\n"
        "mf.visible_cpus = lambda: 2\n"
    )
    printed, _ = run_boot(fakes, TRAIN, {"REPROBOX_OUT": str(out_dir)}, prelude=prelude)
    assert printed["env"]["TF_NUM_INTRAOP_THREADS"] == "1"
    assert printed["env"]["TF_NUM_INTEROP_THREADS"] == "1"
    capture = read_capture(out_dir)
    assert capture["threads"] == {
        "intra_op": 1,
        "inter_op": 1,
        "omp": 1,
        "source": "cgroup quota",
    }
    cpu = capture["machine_cpu"]
    assert (cpu["visible_cpus"], cpu["cpu_quota"], cpu["cgroup_version"]) == (
        2,
        1.0,
        version,
    )


def test_find_spec_probe_does_not_use_up_the_hook(fakes, out_dir):
    script = """
    import importlib.util, json
    assert importlib.util.find_spec("keras") is not None
    import keras
    keras.Model().fit(0, 0, epochs=1)
    print(json.dumps({"keras_seeds": keras.utils.SEEDS}))
    """
    printed, _ = run_boot(
        fakes, script, {"REPROBOX_OUT": str(out_dir), "REPROBOX_SEED": "5"}
    )
    assert printed["keras_seeds"] == [5]
    assert len(read_capture(out_dir)["history"]) == 1


def test_nothing_happens_without_reprobox_out(fakes, tmp_path):
    script = """
    import json, os, keras, numpy
    keras.Model().fit(0, 0, epochs=1)
    print(json.dumps({"wrapped": getattr(keras.Model.fit, "_reprobox", False),
                      "seeds": numpy.random.SEEDS + keras.utils.SEEDS,
                      "omp": os.environ.get("OMP_NUM_THREADS"),
                      "pid": os.environ.get("REPROBOX_BOOT_PID")}))
    """
    printed, proc = run_boot(fakes, script, {"REPROBOX_SEED": "3"})
    assert printed == {"wrapped": False, "seeds": [], "omp": None, "pid": None}
    assert proc.stderr == ""
    assert list(tmp_path.rglob("capture.json")) == []


def test_forked_child_does_not_write_capture(fakes, out_dir):
    capture = out_dir / "capture.json"
    script = f"""
    import json, os, sys, keras
    os.remove({str(capture)!r})
    pid = os.fork()
    if pid == 0:
        keras.Model().fit(0, 0, epochs=2)
        keras.Model().evaluate(0.25, 0)
        sys.exit(0)  # normal exit: inherited atexit hooks run in the child
    _, status = os.waitpid(pid, 0)
    print(json.dumps({{"child_ok": status == 0,
                       "written_by_child": os.path.exists({str(capture)!r})}}))
    """
    printed, _ = run_boot(fakes, script, {"REPROBOX_OUT": str(out_dir)})
    assert printed == {"child_ok": True, "written_by_child": False}
    # The parent still writes its own capture at exit, without the child's calls.
    data = read_capture(out_dir)
    assert data["history"] == [] and data["evaluations"] == []


def test_child_interpreter_started_by_the_script_does_not_write(fakes, out_dir):
    script = f"""
    import json, os, subprocess, sys
    os.remove({str(out_dir / "capture.json")!r})
    code = "import reprobox.runtime.boot, keras; keras.Model().fit(0, 0, epochs=1)"
    rc = subprocess.run([sys.executable, "-c", code]).returncode
    print(json.dumps({{"rc": rc,
                       "written": os.path.exists({str(out_dir / "capture.json")!r})}}))
    """
    printed, _ = run_boot(fakes, script, {"REPROBOX_OUT": str(out_dir)})
    assert printed == {"rc": 0, "written": False}


def test_exit_records_machine_facts_and_leaves_no_temp_files(fakes, out_dir):
    run_boot(fakes, TRAIN, {"REPROBOX_OUT": str(out_dir), "KERAS_BACKEND": "jax"})
    capture = read_capture(out_dir)
    assert capture["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert capture["env"]["KERAS_BACKEND"] == "jax"
    assert capture["env"]["OMP_NUM_THREADS"] == str(capture["threads"]["omp"])
    assert isinstance(capture["packages"], dict)
    assert list(capture["packages"]) == sorted(capture["packages"])
    assert capture["machine_cpu"]["visible_cpus"] == len(os.sched_getaffinity(0))
    assert capture["error"] is None
    assert "hook_errors" not in capture
    assert sorted(p.name for p in out_dir.iterdir()) == ["capture.json"]


def test_a_float_whose_index_raises_is_captured_as_a_float():
    # CI, 5d0816b: Keras's evaluate() returns float tensors, whose __index__
    # raises AttributeError (numpy.float32 has none); the capture hook let it
    # through and every TensorFlow training died in model.evaluate.
    from reprobox.runtime.boot import _logged_number

    class FloatTensor:
        def __float__(self):
            return 0.25

        def __index__(self):
            raise AttributeError("'numpy.float32' object has no attribute '__index__'")

    class IntTensor:
        def __float__(self):
            return float(2**60 + 1)

        def __index__(self):
            return 2**60 + 1

    assert _logged_number(FloatTensor()) == 0.25
    assert _logged_number(IntTensor()) == 2**60 + 1


def test_a_logged_integer_is_captured_as_itself():
    # brk r36 F2: Keras logs went through float(): 2**60 + 1 read 2**60;
    # brk r37 6: and 3 read 3.0. A float (Keras logs np.float32) stays one.
    code = (
        "import json; from reprobox.runtime.boot import _logged_number as n\n"
        "class FloatTensor:\n"  # torch and tf: __index__ refuses a float
        "    def __float__(self): return 0.25\n"
        "    def __index__(self): raise TypeError('not an integer')\n"
        "print(json.dumps([n(2**60 + 1), n(-(2**60)), n(3), n(0), n(0.5), n(True),"
        " n(FloatTensor())]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROBOX_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"[{2**60 + 1}, {-(2**60)}, 3, 0, 0.5, 1.0, 0.25]"
