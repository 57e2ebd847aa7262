"""Find and rank what differs between the setups of two runs."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from reprobox.addresses import engine_key
from reprobox.compare.compare_settings import SETTINGS_FIELD
from reprobox.compare.records import Record
from reprobox.seals import RECORD_DIGEST_FIELD


@dataclass(frozen=True)
class Category:
    """A kind of setup difference, and why it can (or cannot) change numbers."""

    name: str
    changes_numerics: bool
    explanation: str


# Most likely cause of a numeric difference first; those that cannot change
# numbers last.
CATEGORIES: tuple[Category, ...] = (
    # What an image holds, before the image id that changes with any of it: a
    # package change names the package, not just "another image". The digests
    # over many inputs (code, image, lock) rank after every specific numeric
    # difference all the same: see SUMMARY_CATEGORIES.
    Category(
        "code",
        True,
        "the project's files in the image (code, requirements or others) differ",
    ),
    Category(
        "command",
        True,
        "another training command or argument (a learning rate, an epoch count)",
    ),
    Category(
        "framework", True, "other TensorFlow/Keras/Python versions change kernels"
    ),
    Category("packages", True, "another package version can change numeric code"),
    Category("image", True, "another image can hold other libraries and builds"),
    Category(
        "lock",
        True,
        "another manifest: other locked packages, data or frozen settings "
        "([env], tolerances and the like)",
    ),
    Category("data", True, "other input data changes every number downstream"),
    Category("seed", True, "another seed changes weight init, shuffling and dropout"),
    Category("determinism", True, "determinism settings choose ordered or racing ops"),
    Category("onednn", True, "oneDNN CPU kernels round float sums differently"),
    Category("isa", True, "kernels are picked by instruction set (AVX2/AVX-512/AMX)"),
    # The CPU quota before thread counts: reprobox fits the threads to it.
    Category("cpus", True, "the CPU count sets default thread pools and work splits"),
    Category("threads", True, "thread counts change how reductions are split"),
    Category("cpu", True, "other CPU types (Intel vs AMD) take other kernel paths"),
    Category(
        "gpu", True, "GPU, driver, CUDA/cuDNN and TF32 pick kernels and precision"
    ),
    Category("jit", True, "XLA compilation fuses ops and reorders float arithmetic"),
    Category("env", True, "a numerics environment variable can change kernel choice"),
    Category("other", True, "not classified; it may change numbers"),
    Category("reprobox", False, "reprobox version; changes setup, not numbers as such"),
    Category("host", False, "container engine details; no effect on numbers as such"),
    Category("provenance", False, "names and bookkeeping; no effect on numbers"),
)
_CATEGORY = {category.name: category for category in CATEGORIES}
_RANK = {category.name: rank for rank, category in enumerate(CATEGORIES)}

# Digests over many inputs: the project's files (requirements.txt included),
# the image id and layers, the manifest (locked packages, data, [env]). A
# package version, a data file, a variable or a setting that differs explains
# them, so they are named as the cause only when nothing more specific differs.
SUMMARY_CATEGORIES = frozenset({"code", "image", "lock"})
# What the lock difference says when no package, data file or variable in the
# records differs: a record written before `environment` keeps no copy of
# [env], and the tolerances (compare_settings) are no setup difference.
LOCK_SETTINGS_ONLY = (
    "another manifest with no package, data file or variable differing in the "
    "records: its [env], tolerances or other frozen settings differ"
)
# The same when both records carry the image's variables and none differs.
LOCK_SETTINGS_ONLY_ENV_KNOWN = (
    "another manifest with no package, data file or variable differing in the "
    "records: its tolerances, command or other frozen settings differ"
)
# The same when both records also keep the command they ran.
LOCK_SETTINGS_ONLY_ALL_KNOWN = (
    "another manifest with no package, data file, variable or command differing "
    "in the records: its tolerances or other frozen settings differ"
)
# The same when both records keep their tolerances (compare_settings), these
# differ, and nothing else recorded about the setup could change numbers: the
# refreeze changed [metrics], which judges runs and computes nothing.
LOCK_TOLERANCES_ONLY = (
    "another manifest whose compare settings (tolerances) differ, with nothing "
    "else recorded about the setup differing: a tolerance changes no number"
)
# Where a record keeps the variables the image sets (the manifest's
# environment); records written before the field lack it.
IMAGE_ENV = "environment"
# Where a record keeps the command its container ran (records since the field).
COMMAND = "command"


def _tolerances_explain_lock(
    found: Sequence[EnvDifference], settings: tuple[Any, Any], env_known: bool
) -> bool:
    """Tell whether other tolerances alone explain another manifest.

    Only where both records keep their compare_settings and these differ, both
    keep the image's variables, and no other difference could change numbers
    or stem from another reprobox writing the manifest.
    """
    reference, run = settings
    if not (isinstance(reference, Mapping) and isinstance(run, Mapping)):
        return False
    return (
        env_known
        and reference != run
        and all(
            d.category == "lock" or not (d.changes_numerics or d.category == "reprobox")
            for d in found
        )
    )


def _explains_lock(diff: EnvDifference) -> bool:
    """Tell whether a difference is a package, a data file, a variable or the
    command: each is part of the manifest."""
    return diff.category in (
        "packages",
        "framework",
        "data",
        "command",
    ) or diff.field.lower().startswith(("machine.env.", "options.env.", "environment."))


# (field pattern, category, explanation or None for the category's own); the
# first pattern that matches the lower-cased field wins. Within a category,
# differences are listed in rule order, so what the user chose (the run's seed,
# --cpus, --gpus) comes before what follows from it.
FIELD_RULES: tuple[tuple[str, str, str | None], ...] = (
    ("image.ref", "provenance", "the image name; the id and digest say what ran"),
    ("image.code_sha256", "code", None),
    ("command", "command", None),
    ("image.*", "image", None),
    ("manifest_sha256", "lock", None),
    ("data*", "data", None),
    ("seed", "seed", None),
    ("machine.env.pythonhashseed", "seed", "the hash seed changes set/dict order"),
    ("environment.pythonhashseed", "seed", "the hash seed changes set/dict order"),
    ("profile", "determinism", "the determinism profile sets seeds and op settings"),
    ("*determinis*", "determinism", None),
    ("*onednn*", "onednn", None),
    ("*dnnl*", "onednn", None),
    ("machine.cpu.flags", "isa", None),
    ("options.cpus", "cpus", "the CPU quota (--cpus, or run.cpus in the config)"),
    ("machine.cpu.cpu_quota", "cpus", None),
    ("machine.cpu.visible_cpus", "cpus", None),
    ("machine.cpu.logical_cpus", "cpus", None),
    ("options.env.omp_*", "threads", None),
    ("options.env.*_num_threads", "threads", None),
    ("options.env.tf_num_*", "threads", None),
    ("machine.threads.*", "threads", None),
    ("machine.cpu.fitted_threads", "threads", None),
    ("machine.env.omp_*", "threads", None),
    ("machine.env.*_num_threads", "threads", None),
    ("machine.env.tf_num_*", "threads", None),
    ("environment.omp_*", "threads", None),
    ("environment.*_num_threads", "threads", None),
    ("environment.tf_num_*", "threads", None),
    ("machine.cpu.cgroup_version", "host", None),
    ("machine.cpu.*", "cpu", None),
    ("engine.arch", "cpu", "another architecture runs other kernels entirely"),
    ("options.gpus", "gpu", "the GPUs given with --gpus"),
    ("*tf32*", "gpu", "TF32 matmuls keep 10 mantissa bits instead of 23"),
    ("machine.gpu*", "gpu", None),
    ("machine.tensorflow.cud*", "gpu", None),
    ("machine.tensorflow.built_with_cuda", "gpu", None),
    ("machine.tensorflow.gpus_visible", "gpu", None),
    ("machine.torch.cud*", "gpu", None),
    ("machine.env.cuda_*", "gpu", None),
    ("machine.env.nvidia_*", "gpu", None),
    ("environment.cuda_*", "gpu", None),
    ("environment.nvidia_*", "gpu", None),
    ("machine.keras.jit_compile", "jit", None),
    ("*xla*", "jit", None),
    ("machine.packages.*", "packages", None),
    ("machine.python.executable", "provenance", "where Python lives in the image"),
    ("machine.python*", "framework", None),
    ("machine.tensorflow.*", "framework", None),
    ("machine.torch.*", "framework", None),
    ("machine.keras.*", "framework", None),
    ("machine.os.libc", "framework", "C library math functions round differently"),
    ("machine.os.*", "host", None),
    ("options.env.*", "env", "a variable given with --env"),
    (
        "environment.*",
        "env",
        "a variable the image sets ([env] or pass_env, frozen): the script can read it",
    ),
    ("machine.env.*", "env", None),
    ("reprobox_version", "reprobox", None),
    ("engine.*", "host", None),
    ("options.network", "provenance", "the container's network mode"),
    (
        "options.memory",
        "host",
        "the memory limit: a run short of it fails, it does not compute otherwise",
    ),
    ("project", "provenance", "the project name"),
)

# Record fields about the run itself, not its setup.
RUN_FIELDS = frozenset(
    {
        "schema_version",
        "run_id",
        "status",
        "exit_code",
        "started_at",
        "finished_at",
        "duration_s",
        "metrics",
        "history",
        "evaluations",
        "log",
        "warnings",
        "error",
        # How the run is judged, not how it computed; the manifest's own
        # metrics section already differs through manifest_sha256.
        SETTINGS_FIELD,
        RECORD_DIGEST_FIELD,  # differs for every record, whatever its setup
    }
)
RUN_OPTIONS = frozenset({"repeat_index", "seed_sweep"})
ISA_FLAG = re.compile(r"^(avx|amx|fma|sse4|f16c|asimd|sve)", re.IGNORECASE)


@dataclass(frozen=True)
class EnvDifference:
    """One setup field that differs between the reference run and another run."""

    run_id: str
    field: str
    reference_value: Any
    run_value: Any
    category: str
    changes_numerics: bool
    explanation: str
    rank: int


def environment_of(record: Record) -> dict[str, Any]:
    """Flatten a record's setup into field -> value, leaving out run bookkeeping."""
    setup = {key: value for key, value in record.data.items() if key not in RUN_FIELDS}
    if isinstance(setup.get("options"), Mapping):
        setup["options"] = {
            k: v for k, v in setup["options"].items() if k not in RUN_OPTIONS
        }
    if isinstance(setup.get("data"), list):
        setup["data"] = _data_by_path(setup["data"])
    flat: dict[str, Any] = {}
    _flatten("", setup, flat)
    if "machine.cpu.flags" in flat:
        flat["machine.cpu.flags"] = isa_flags(flat["machine.cpu.flags"])
    # The engine's ID is how its address compares (EngineAddress), not a
    # setup difference of its own beside it.
    engine_id = flat.pop("engine.id", None)
    if isinstance(flat.get("engine.host"), str):
        flat["engine.host"] = EngineAddress(flat["engine.host"], engine_id)
    return flat


def recorded_settings(record: Record) -> Any:
    """Return the tolerances a record keeps (compare_settings), None if none."""
    return record.data.get(SETTINGS_FIELD)


# What the docker SDK connects to with no --host and no DOCKER_HOST, which a
# record writes as "default".
DEFAULT_ENGINE = "unix:///var/run/docker.sock"


def engine_spelling(host: str) -> str:
    """Spell an engine address one way, by its text alone.

    "default" and the socket it stands for are one engine, as are
    unix:///run/docker.sock and UNIX:///var/run//docker.sock (/var/run is
    /run on every Linux that runs Docker). Nothing on this machine is read:
    a record is judged alike wherever compare runs, so a link to a socket is
    the address it is written as (brk r48 BS 1: the verdict changed when a
    link here was removed).
    """
    address = DEFAULT_ENGINE if host == "default" else host
    scheme, sep, rest = address.partition("://")
    if sep and scheme.lower() == "unix":
        path = posixpath.normpath("/" + (rest or DEFAULT_ENGINE[7:]).lstrip("/"))
        if path == "/var/run" or path.startswith("/var/run/"):
            path = path[len("/var") :]
        return "unix://" + path
    return engine_key(address)  # tcp, ssh: their text alone, as parsed


class EngineAddress(str):
    """An engine address as the record gives it, equal to any spelling of it.

    Two records name one engine by the ID `docker info` gave their runs, as
    `run` tells engines apart; a record without one (an older reprobox's)
    by its address's spelling (engine_spelling). Shown as written: "the URL
    given with --host", not the socket a link leads to.
    """

    def __new__(cls, given: str, engine_id: Any = None) -> EngineAddress:
        address = super().__new__(cls, given)
        if isinstance(engine_id, str) and engine_id:
            address.key = ("id", engine_id)
        else:
            address.key = ("at", engine_spelling(given))
        return address

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EngineAddress):
            return self.key == other.key
        if isinstance(other, str):
            return self.key == ("at", engine_spelling(other))
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self.key)


def engine_of(record: Record) -> Any:
    """Tell the engine a run used, as EngineAddress compares two: by its ID,
    else its address's spelling; "" when the record names none."""
    engine = record.data.get("engine")
    if not isinstance(engine, Mapping) or not engine.get("host"):
        return ""
    return EngineAddress(str(engine["host"]), engine.get("id")).key


def isa_flags(flags: Any) -> tuple[str, ...]:
    """Keep the instruction-set flags that steer kernel choice, sorted."""
    if isinstance(flags, str):
        flags = flags.split()
    if not isinstance(flags, (list, tuple)):
        return ()
    return tuple(sorted({str(f).lower() for f in flags if ISA_FLAG.match(str(f))}))


def classify(field: str) -> tuple[Category, str]:
    """Return a field's category and the one-line reason it can matter."""
    category, explanation, _ = _rule_for(field)
    return category, explanation


def _rule_for(field: str) -> tuple[Category, str, int]:
    """Return a field's category, reason and the position of the rule that matched."""
    lowered = field.lower()
    for position, (pattern, name, explanation) in enumerate(FIELD_RULES):
        if fnmatchcase(lowered, pattern):
            category = _CATEGORY[name]
            return category, explanation or category.explanation, position
    other = _CATEGORY["other"]
    return other, other.explanation, len(FIELD_RULES)


def numerics_key(environment: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the setup fields that can change numbers: what repeats must share.

    With the filesystem layers recorded, the image id and digest only say how
    the image was labelled (a pushed image is the same files with new labels).
    The image's variables are part of the manifest, which manifest_sha256
    already tells apart: left out, a record written before the field groups
    with one that carries it.
    """
    layered = environment.get("image.layers") is not None
    return {
        field: value
        for field, value in environment.items()
        if classify(field)[0].changes_numerics
        and not (layered and field in ("image.id", "image.digest"))
        and not _is_image_env(field)
    }


def _is_image_env(field: str) -> bool:
    """Tell whether field is the record's copy of the variables the image sets."""
    return field == IMAGE_ENV or field.startswith(IMAGE_ENV + ".")


def records_image_env(environment: Mapping[str, Any]) -> bool:
    """Tell whether a setup carries the image's variables (records since the field).

    An empty object flattens to the bare field, so it counts as carried.
    """
    return any(_is_image_env(field) for field in environment)


def relabel_explanation(reference: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    """Say why two images of the same filesystem layers have other ids.

    Told from what the records show: another manifest (a refreeze changes the
    image's ENV and its manifest label), a push (it seals the reference run
    into the labels, and the run took the pushed image), else unknown.
    """
    if reference.get("manifest_sha256") != run.get("manifest_sha256"):
        return (
            "same filesystem layers, other settings and labels (another manifest: "
            "a refreeze that changed its settings or data fingerprints): the same "
            "files ran"
        )
    if any(_pushed(side) for side in (reference, run)):
        return (
            "same filesystem layers, other labels (a push seals the reference run "
            "into them): the same files ran"
        )
    return (
        "same filesystem layers, other settings or labels (the same manifest): "
        "the same files ran"
    )


def _pushed(environment: Mapping[str, Any]) -> bool:
    """Tell whether a run took a pushed image: a registry digest or a digest ref."""
    ref = environment.get("image.ref")
    return bool(environment.get("image.digest")) or (
        isinstance(ref, str) and "@sha256:" in ref
    )


@dataclass(frozen=True)
class UnrecordedFacts:
    """Machine facts a run lacks because it stopped before they were gathered."""

    run_id: str
    status: str
    fields: tuple[str, ...]  # facts its partner(s) recorded and it did not


def facts_cut_short(record: Record) -> bool:
    """Tell whether a run stopped before its machine facts were all gathered.

    The start-up hook writes Python, OS, packages and variables when the
    script exits; a run interrupted or killed before that (its `machine`
    absent, or without `python`) lacks them unrecorded, not different.
    """
    machine = record.data.get("machine")
    return not isinstance(machine, Mapping) or machine.get("python") is None


def _unrecorded(field: str, value: Any, cut_short: bool) -> bool:
    """Tell whether a side lacks a machine fact only because it was not gathered."""
    return cut_short and value is None and field.startswith("machine.")


def unrecorded_facts(
    record: Record,
    environment: Mapping[str, Any],
    partners: Sequence[Mapping[str, Any]],
) -> UnrecordedFacts | None:
    """Name the machine facts partners recorded that a cut-short run lacks."""
    if not facts_cut_short(record):
        return None
    fields = sorted(
        {
            field
            for partner in partners
            for field, value in partner.items()
            if value is not None and _unrecorded(field, environment.get(field), True)
        }
    )
    if not fields:
        return None
    return UnrecordedFacts(record.run_id, record.status, tuple(fields))


def diff_environments(
    run_id: str,
    reference: Mapping[str, Any],
    run: Mapping[str, Any],
    *,
    cut_short: tuple[bool, bool] = (False, False),
    settings: tuple[Any, Any] = (None, None),
) -> list[EnvDifference]:
    """List the setup fields that differ, most likely numeric cause first.

    cut_short tells, for the reference and the run, whether its machine facts
    were never all gathered (see facts_cut_short): a machine fact such a side
    lacks is not recorded, so it is no difference and no cause. settings: the
    reference's and the run's compare_settings (None where not recorded),
    which can explain another manifest by itself.
    """
    found = []
    order: dict[str, int] = {}
    same_layers = reference.get("image.layers") is not None and reference.get(
        "image.layers"
    ) == run.get("image.layers")
    # A record written before the image's variables were kept lacks them
    # unrecorded, not different: its manifest_sha256 still tells a change.
    env_known = records_image_env(reference) and records_image_env(run)
    # So is one written before the command was kept.
    command_known = COMMAND in reference and COMMAND in run
    for field in sorted(set(reference) | set(run)):
        ref_value, run_value = reference.get(field), run.get(field)
        if ref_value == run_value:
            continue
        if _unrecorded(field, ref_value, cut_short[0]) or _unrecorded(
            field, run_value, cut_short[1]
        ):
            continue
        if _is_image_env(field) and not env_known:
            continue
        if field == COMMAND and not command_known:
            continue
        category, explanation, position = _rule_for(field)
        if same_layers and field in ("image.id", "image.digest"):
            category = _CATEGORY["provenance"]
            explanation = relabel_explanation(reference, run)
        found.append(
            EnvDifference(
                run_id=run_id,
                field=field,
                reference_value=ref_value,
                run_value=run_value,
                category=category.name,
                changes_numerics=category.changes_numerics,
                explanation=explanation,
                rank=_RANK[category.name],
            )
        )
        order[field] = position
    if _tolerances_explain_lock(found, settings, env_known):
        # Still listed, as the manifests do differ, but never the cause.
        found = [
            replace(d, explanation=LOCK_TOLERANCES_ONLY, changes_numerics=False)
            if d.category == "lock"
            else d
            for d in found
        ]
    elif not any(_explains_lock(d) for d in found):
        if env_known and command_known:
            settings_only = LOCK_SETTINGS_ONLY_ALL_KNOWN
        elif env_known:
            settings_only = LOCK_SETTINGS_ONLY_ENV_KNOWN
        else:
            settings_only = LOCK_SETTINGS_ONLY
        found = [
            replace(d, explanation=settings_only) if d.category == "lock" else d
            for d in found
        ]
    return sorted(
        found,
        key=lambda d: (
            _tier(d),
            d.rank,
            not _chosen(d.field),
            order[d.field],
            d.field,
        ),
    )


HIDDEN = "***"  # how a record keeps a secret-looking --env value


def hidden_env(*environments: Mapping[str, Any]) -> tuple[str, ...]:
    """Name the --env variables any of the setups keeps only as ***.

    Two records that both show *** may have run with other values: compare
    cannot tell them equal, so a claim of nondeterminism must say so.
    """
    return tuple(
        sorted(
            {
                field[len("options.env.") :]
                for environment in environments
                for field, value in environment.items()
                if field.startswith("options.env.") and value == HIDDEN
            }
        )
    )


def hidden_caveat(names: Sequence[str]) -> str:
    """Say that hidden --env values may differ, or return '' when none are."""
    return f"; hidden --env values ({', '.join(names)}) may differ" if names else ""


def _tier(diff: EnvDifference) -> int:
    """Order specific numeric differences, then digests, then the unclassified.

    Differences that cannot change numbers come last of all.
    """
    if not diff.changes_numerics:
        return 3
    if diff.category == "other":
        return 2
    return 1 if diff.category in SUMMARY_CATEGORIES else 0


def _chosen(field: str) -> bool:
    """Tell whether the user set field for this run (a flag, the seed, a profile).

    Within a category that comes first: `--env TF_ENABLE_ONEDNN_OPTS=0` is the
    cause, the machine.env and machine.onednn fields only show its effect; so
    is a variable frozen into the image (environment.NAME).
    """
    return field.lower().startswith(("options.", IMAGE_ENV + ".")) or field in (
        "seed",
        "profile",
    )


def _data_by_path(entries: list[Any]) -> dict[str, Any]:
    """Key data fingerprints by file path so that order and index do not matter."""
    keyed: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, Mapping):
            path = str(entry.get("path", index))
            keyed[path] = {k: v for k, v in entry.items() if k != "path"}
        else:
            keyed[str(index)] = entry
    return keyed


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Write the leaves of nested objects as dotted fields; lists of objects indexed.

    Walks with its own stack, so a record nested as deep as JSON allows cannot
    raise RecursionError; a list holding lists or mixed objects is kept as one
    canonical JSON text, a flat value that any renderer can show.
    """
    stack = [(prefix, value)]
    while stack:
        name, item = stack.pop()
        if isinstance(item, Mapping) and item:
            children = [
                (f"{name}.{key}" if name else str(key), item[key]) for key in item
            ]
            stack.extend(reversed(children))
        elif (
            isinstance(item, list)
            and item
            and all(isinstance(v, Mapping) for v in item)
        ):
            children = [(f"{name}[{index}]", entry) for index, entry in enumerate(item)]
            stack.extend(reversed(children))
        elif isinstance(item, list):
            scalar = all(not isinstance(v, (list, Mapping)) for v in item)
            out[name] = tuple(item) if scalar else canonical_json(item)
        else:
            out[name] = item if not isinstance(item, Mapping) else None


def canonical_json(value: Any) -> str:
    """Write value as compact JSON with sorted keys, at any depth (no recursion)."""
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Text):
            parts.append(item)
        elif isinstance(item, Mapping):
            if not item:
                parts.append("{}")
                continue
            todo: list[Any] = [_Text("{")]
            for index, key in enumerate(sorted(item, key=str)):
                todo += [_Text(("," if index else "") + json.dumps(str(key)) + ":")]
                todo.append(item[key])
            stack.extend(reversed([*todo, _Text("}")]))
        elif isinstance(item, (list, tuple)):
            todo = [_Text("[")]
            for index, entry in enumerate(item):
                todo += [_Text(","), entry] if index else [entry]
            stack.extend(reversed([*todo, _Text("]")]))
        else:
            parts.append(json.dumps(item, default=str))
    return "".join(parts)


class _Text(str):
    """Already-written JSON text on canonical_json's stack."""
