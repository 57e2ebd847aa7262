"""Start-up hook that runs inside every reprobox container before the script.

A `.pth` file in the image's virtualenv imports this module when Python
starts. With no REPROBOX_OUT in the environment it does nothing, so the image
stays usable without reprobox. Otherwise it:

- fits thread counts to the container's CPU quota (or pins them in the strict
  profile) before any numerical library reads its settings;
- seeds Python's `random` now, and NumPy, TensorFlow, Keras and PyTorch right
  after the script imports them (a framework the script never imports is never
  imported here);
- records every Keras `fit` history and `evaluate` result, and the machine and
  framework facts, into REPROBOX_OUT/capture.json.

Standard library only, apart from the frameworks the script imports itself.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import importlib.util
import itertools
import json
import os
import random
import sys
import tempfile
import threading
import traceback

from . import machine_facts

GPU_MISSING_EXIT = 97
_state: dict = {
    "history": [],
    "evaluations": [],
    "frameworks": {},
    "threads": {},
    "keras": {},
    "error": None,
}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _seed() -> int | None:
    raw = os.environ.get("REPROBOX_SEED")
    return int(raw) if raw not in (None, "") else None


def _write_capture() -> None:
    out = os.environ.get("REPROBOX_OUT")
    if not out or os.environ.get("REPROBOX_BOOT_PID") != str(os.getpid()):
        return  # only the script's own process writes; forked workers do not
    data = dict(_state)
    data["schema_version"] = 1
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".capture.", dir=out)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True, default=repr)
        os.replace(tmp, os.path.join(out, "capture.json"))
    except OSError as exc:  # never break the user's script over bookkeeping
        print(f"reprobox: could not write capture: {exc}", file=sys.stderr)
        if tmp is not None:  # a full disk must not keep a half capture
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _fit_threads() -> None:
    facts = machine_facts.cpu_facts()
    _state["machine_cpu"] = facts
    strict = os.environ.get("REPROBOX_PROFILE") == "strict"
    threads = 1 if strict else facts["fitted_threads"]
    given = [n for n in machine_facts.THREAD_COUNT_VARS if n in os.environ]
    if given:
        source = "set by the user: " + ", ".join(given)
    elif strict:
        source = "strict profile"
    elif facts["cpu_quota"] is not None:
        source = "cgroup quota"
    else:
        source = "visible CPUs"
    for name in machine_facts.THREAD_COUNT_VARS:
        os.environ.setdefault(name, str(threads))
    _state["threads"] = {
        "intra_op": _count(os.environ["TF_NUM_INTRAOP_THREADS"]),
        "inter_op": _count(os.environ["TF_NUM_INTEROP_THREADS"]),
        "omp": _count(os.environ["OMP_NUM_THREADS"]),
        "source": source,
    }


def _count(text: str):
    """Return a thread count as an int, or the text when it is not one."""
    try:
        return int(text)
    except ValueError:
        return text


# --- after-import hooks -----------------------------------------------------


def _on_numpy(np) -> None:
    seed = _seed()
    if seed is None:
        return
    np.random.seed(seed)
    # NumPy's recommended generator ignores the global seed: give every
    # default_rng() called without one its own stream, derived from the seed
    # and the call's position, so a rerun draws the same numbers.
    original = getattr(np.random, "default_rng", None)
    if original is None:  # NumPy before 1.17
        return
    calls = itertools.count()

    def default_rng(seed_arg=None):
        if seed_arg is None:
            seed_arg = np.random.SeedSequence([seed, next(calls)])
        return original(seed_arg)

    default_rng.__doc__ = original.__doc__
    np.random.default_rng = default_rng


def _fail_without_gpu(framework: str) -> None:
    _state["error"] = {
        "message": f"GPUs were requested but {framework} sees none; refusing "
        "to train on the CPU instead",
        "kind": "gpu_missing",
    }
    _write_capture()
    print(f"reprobox: {_state['error']['message']}", file=sys.stderr, flush=True)
    os._exit(GPU_MISSING_EXIT)


def _on_tensorflow(tf) -> None:
    seed = _seed()
    threads = _state.get("threads", {})
    try:
        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads["intra_op"])
            tf.config.threading.set_inter_op_parallelism_threads(threads["inter_op"])
    except RuntimeError as exc:  # the runtime was already initialised
        _state["threads"]["warning"] = str(exc)
    if seed is not None:
        tf.random.set_seed(seed)
    if _env_flag("REPROBOX_OP_DETERMINISM"):
        tf.config.experimental.enable_op_determinism()
    if os.environ.get("REPROBOX_PROFILE") == "strict":
        tf.config.experimental.enable_tensor_float_32_execution(False)
    info = {}
    try:
        build = dict(tf.sysconfig.get_build_info())
        info = {
            "built_with_cuda": bool(build.get("is_cuda_build")),
            "cuda": build.get("cuda_version"),
            "cudnn": build.get("cudnn_version"),
        }
    except Exception:  # noqa: BLE001 - older TF or a stripped build: facts are optional
        pass
    info["version"] = getattr(tf, "__version__", None)
    _state["frameworks"]["tensorflow"] = info
    if _env_flag("REPROBOX_REQUIRE_GPU"):
        gpus = tf.config.list_physical_devices("GPU")
        info["gpus_visible"] = len(gpus)
        if not gpus:
            _fail_without_gpu("TensorFlow")


def _on_torch(torch) -> None:
    seed = _seed()
    if seed is not None:
        torch.manual_seed(seed)
    if os.environ.get("REPROBOX_PROFILE") == "strict":
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(_state.get("threads", {}).get("intra_op", 1))
    cuda_ok = bool(torch.cuda.is_available())
    _state["frameworks"]["torch"] = {
        "version": getattr(torch, "__version__", None),
        "cuda": getattr(torch.version, "cuda", None),
        "cuda_available": cuda_ok,
    }
    if _env_flag("REPROBOX_REQUIRE_GPU") and not cuda_ok:
        _fail_without_gpu("PyTorch")


def _logged_number(value):
    """Return a logged metric as capture.json keeps it: an integer as itself
    (5, not 5.0; as a float 2**60 + 1 reads 2**60), anything else a float
    (Keras logs np.float32), as the host keeps the script's own metrics
    (reprobox.metric_numbers, not importable here).
    """
    number = float(value)
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        return number
    try:
        # An int, or a NumPy or tensor integer. A float tensor has __index__
        # too, which raises (AttributeError from TensorFlow): it is a float.
        whole = value.__index__()
    except Exception:  # noqa: BLE001 - any failure means "not an integer"
        return number
    return whole if isinstance(whole, int) else number


def _history_callback(keras):
    class ReproboxHistory(keras.callbacks.Callback):
        """Append each epoch's logs to the capture as soon as it ends."""

        def __init__(self, entry):
            super().__init__()
            self.entry = entry

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1}
            for key, value in (logs or {}).items():
                try:
                    row[key] = _logged_number(value)
                except (TypeError, ValueError, OverflowError):
                    continue
            self.entry["epochs"].append(row)
            _write_capture()

    return ReproboxHistory


def _on_keras(keras) -> None:
    seed = _seed()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    _state["keras"]["version"] = getattr(keras, "__version__", None)
    model_cls = keras.Model
    if getattr(model_cls.fit, "_reprobox", False):
        return
    callback_cls = _history_callback(keras)
    original_fit, original_evaluate = model_cls.fit, model_cls.evaluate

    def fit(self, *args, **kwargs):
        entry = {"call": len(_state["history"]), "epochs": []}
        _state["history"].append(entry)
        callbacks = list(kwargs.get("callbacks") or [])
        kwargs["callbacks"] = callbacks + [callback_cls(entry)]
        _state["fit_depth"] = _state.get("fit_depth", 0) + 1
        try:
            result = original_fit(self, *args, **kwargs)
        finally:
            _state["fit_depth"] -= 1
        entry["jit_compile"] = getattr(self, "jit_compile", None)
        _state["keras"]["jit_compile"] = entry["jit_compile"]
        _write_capture()
        return result

    def evaluate(self, *args, **kwargs):
        result = original_evaluate(self, *args, **kwargs)
        if _state.get("fit_depth"):
            return result  # fit's own validation pass, already in the history
        try:
            values = dict(self.get_metrics_result())
        except Exception:  # noqa: BLE001 - never break the user's script
            values = {}
        if not values and isinstance(result, dict):
            values = result
        clean = {}
        for key, value in values.items():
            try:
                clean[key] = _logged_number(value)
            except (TypeError, ValueError, OverflowError):
                continue
        _state["evaluations"].append(
            {"call": len(_state["evaluations"]), "results": clean}
        )
        _write_capture()
        return result

    fit._reprobox = evaluate._reprobox = True
    model_cls.fit, model_cls.evaluate = fit, evaluate


_HOOKS = {
    "numpy": _on_numpy,
    "tensorflow": _on_tensorflow,
    "keras": _on_keras,
    "torch": _on_torch,
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Run a hook once a watched top-level module has finished importing.

    find_spec may be called without an import following (TensorFlow probes for
    keras with importlib.util.find_spec), so a module counts as done only once
    its code has run, not when it was looked up.
    """

    _looking = threading.local()

    def find_spec(self, name, path=None, target=None):
        if name not in _HOOKS or name in _done or getattr(self._looking, name, False):
            return None
        setattr(self._looking, name, True)
        try:
            spec = importlib.util.find_spec(name)  # the normal finders, minus us
        finally:
            setattr(self._looking, name, False)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            if name in _done:
                return
            _run_hook(name, module)

        loader.exec_module = exec_module
        return spec


_done: set[str] = set()


def _run_hook(name: str, module) -> None:
    """Run one after-import hook; a failure is recorded, never raised."""
    _done.add(name)
    try:
        _HOOKS[name](module)
    except SystemExit:
        raise  # the GPU check ends the run on purpose
    except Exception:  # noqa: BLE001 - never break the user's script
        _state.setdefault("hook_errors", []).append(
            f"{name}: {traceback.format_exc(limit=2)}"
        )


def _installed_packages() -> dict:
    from importlib import metadata

    found = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name:
            found[name] = dist.version
    return dict(sorted(found.items()))


def shown_numerics_env() -> dict:
    """Return the numerics variables as capture.json keeps them: those whose
    values `reprobox run` hides (REPROBOX_HIDDEN_ENV names them) as ***."""
    hidden = set(os.environ.get("REPROBOX_HIDDEN_ENV", "").split(","))
    return {
        name: "***" if name in hidden else value
        for name, value in machine_facts.numerics_env().items()
    }


def _record_exit() -> None:
    _state["packages"] = _installed_packages()
    _state["env"] = shown_numerics_env()
    _state["python"] = machine_facts.python_facts()
    _state["os"] = machine_facts.os_facts()
    try:
        from . import gpu_facts

        _state["gpu"] = gpu_facts.gpu_facts()
    except Exception:  # noqa: BLE001 - never break the user's script
        _state["gpu"] = None
    _write_capture()


def start() -> None:
    """Set threads, seeds and hooks when running under `reprobox run`."""
    if not os.environ.get("REPROBOX_OUT"):
        return
    owner = os.environ.get("REPROBOX_BOOT_PID")
    main_process = owner is None
    if main_process:
        os.environ["REPROBOX_BOOT_PID"] = str(os.getpid())
    try:
        _fit_threads()
    except Exception:  # noqa: BLE001 - seeding and capture must still happen
        _state.setdefault("hook_errors", []).append(
            f"threads: {traceback.format_exc(limit=2)}"
        )
    seed = _seed()
    if seed is not None:
        random.seed(seed)
    for name in _HOOKS:
        if name in sys.modules:
            _run_hook(name, sys.modules[name])
    sys.meta_path.insert(0, _AfterImport())
    if main_process:
        atexit.register(_record_exit)
        _write_capture()


start()
