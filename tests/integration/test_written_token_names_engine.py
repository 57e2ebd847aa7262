"""A token written as a name reaches no record, sealed label, bundle or layer.

Round 34: a training script that wrote a token as a metric name had it kept
in the record, sealed into the pushed image's label and exported in the
bundle's reference-record.json; a project file or folder named with a token
went into /app. Round 36: a token joined inside a name (loss_ghp_...) was
kept the same way. The script builds the token from pieces, so its own text
holds none (freeze would refuse or leave out a file that did).
"""

from __future__ import annotations

# ruff: noqa: F811
import json
import tarfile

import pytest
from conftest_cross import registry  # noqa: F401  (a fixture, taken by name)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

# Made up for this test: the shapes of a GitHub token and an AWS key id.
TOKEN = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
AWS_ID = "AKIA" + "Z7QW3ERT5YU8IO2P"
TRAIN = """import json, os
name = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({name: 1.0, "loss_" + name: 2.0, "acc": 0.9}, fh)
"""


@pytest.mark.registry
def test_a_token_metric_name_stays_out_of_record_label_and_bundle(
    cli, engine_cleanup, docker_client, registry, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    (project / "train.py").write_text(TRAIN)
    ran = cli.run("run", str(project), timeout=600)
    assert TOKEN not in ran.stdout + ran.stderr
    assert "metric ghp_*** (40 characters) in the metrics file" in ran.stderr
    # Round 36: a token joined inside a name (loss_ghp_...) counts as well.
    assert "metric loss_ghp_*** (45 characters) in the metrics file" in ran.stderr
    (run_dir,) = (project / ".reprobox" / "runs").iterdir()
    record = json.loads((run_dir / "record.json").read_text())
    assert record["metrics"] == {"acc": 0.9}
    assert TOKEN not in (run_dir / "record.json").read_text()

    cli.run("-q", "push", str(project), "--registry", registry, timeout=600)
    (entry,) = json.loads((project / ".reprobox" / "manifest.json").read_text())[
        "published"
    ]
    assert entry["reference_run"] == record["run_id"]  # the record was sealed
    image = docker_client.images.get(entry["image_id"])
    assert "org.reprobox.reference-record" in image.labels
    assert TOKEN not in json.dumps(image.attrs)

    bundle = tmp_path / "bundle.tar"
    cli.run("-q", "export", str(project), "-o", str(bundle), timeout=600)
    with tarfile.open(bundle) as archive:
        names = archive.getnames()
        member = next(n for n in names if n.endswith("reference-record.json"))
        text = archive.extractfile(member).read().decode()
    assert json.loads(text)["metrics"] == {"acc": 0.9}
    assert TOKEN.encode() not in bundle.read_bytes()


@pytest.mark.parametrize(
    ("rel", "shown"),
    [(f"{TOKEN}.txt", "ghp_***.txt"), (f"{AWS_ID}/notes.txt", "AKIA***/notes.txt")],
)
def test_a_token_named_project_file_is_refused_at_freeze_and_build(
    cli, engine_cleanup, docker_client, tmp_path, rel, shown
):
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / rel).parent.mkdir(parents=True, exist_ok=True)
    (project / rel).write_text("hello\n")
    expected = f"reprobox: error: {shown}: its name holds a token of a published format"
    for command in ("freeze", "build"):
        result = cli.run("-q", command, str(project), timeout=600, check=False)
        assert result.returncode == 2, result.describe()
        assert result.stderr.startswith(expected), result.describe()
        assert "rename it, or list it in .reproboxignore" in result.stderr
        assert TOKEN not in result.stderr and AWS_ID not in result.stderr
    labelled = {"label": f"org.reprobox.project={name}"}
    assert docker_client.images.list(all=True, filters=labelled) == []


def test_a_project_path_holding_a_token_is_cut_in_every_line_shown(
    cli, engine_cleanup, tmp_path
):
    # brk r44 (BI minor): errors cut work_ghp_... short since round 43, but
    # the result lines on stdout (froze ... / the files it wrote, run ...
    # record: PATH) and the progress lines on stderr printed the path whole.
    holder = tmp_path / f"work_{TOKEN}"
    holder.mkdir()
    project, _, _ = cli.frozen_sleeper(holder, engine_cleanup)
    (project / "train.py").write_text("print('trained', flush=True)\n")
    shown_path = str(project).replace(TOKEN, "ghp_***")
    froze = cli.run("freeze", str(project), timeout=600)
    assert f"  {shown_path}/.reprobox/manifest.json" in froze.stdout.splitlines()
    ran = cli.run("run", str(project), timeout=600)
    (run_dir,) = (project / ".reprobox" / "runs").iterdir()
    assert ran.stdout.splitlines()[-1] == (
        f"  record: {shown_path}/.reprobox/runs/{run_dir.name}/record.json"
    )
    for done in (froze, ran):
        assert TOKEN not in done.stdout + done.stderr, done.describe()
    assert "trained" in ran.stderr  # the training's own output went by too


LOSES_ACC_WHEN_TOLD = """import json, os
acc = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R" if os.environ.get("LOSE") else 0.9
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"acc": acc, "loss": 0.5}, fh)
"""


def test_export_seals_the_newest_run_that_kept_every_metric(
    cli, engine_cleanup, tmp_path
):
    # brk r45 (BL F2): a newer run whose acc was left out (its value held a
    # token) was sealed without a word, and no verify of the image could pass.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(LOSES_ACC_WHEN_TOLD)
    toml = project / "reprobox.toml"
    toml.write_text(toml.read_text() + '\n[metrics]\ncompare = ["acc", "loss"]\n')
    cli.run("-q", "freeze", str(project), timeout=600)
    whole = cli.run("run", str(project), "--json", timeout=600)
    lacking = cli.run("-q", "run", str(project), "--env", "LOSE=1", "--json")
    assert json.loads(lacking.stdout)["metrics"] == {"loss": 0.5}
    bundle = tmp_path / "bundle.tar"
    done = cli.run("export", str(project), "-o", str(bundle), timeout=600)
    assert "lacks" not in done.stderr, done.describe()
    # Given as --reference, the lacking run is sealed, and said.
    runs = project / ".reprobox" / "runs"
    lacked = runs / json.loads(lacking.stdout)["run_id"]
    given = cli.run(
        "-q",
        "export",
        str(project),
        "-o",
        str(tmp_path / "given.tar"),
        "--reference",
        str(lacked),
    )
    assert given.stderr.splitlines() == [
        f"reprobox: warning: run {lacked.name}, given as --reference of this build "
        "with metrics, lacks acc, which metrics.compare checks: every verify of "
        "this image would fail on it (run again, or give another --reference)"
    ], given.describe()
    with tarfile.open(bundle) as archive:
        member = next(
            m for m in archive.getnames() if m.endswith("reference-record.json")
        )
        sealed = json.loads(archive.extractfile(member).read())
    assert sealed["run_id"] == json.loads(whole.stdout)["run_id"]
    assert sealed["metrics"] == {"acc": 0.9, "loss": 0.5}


def test_import_refuses_a_bundle_tagged_with_a_token_saying_so(cli, tmp_path):
    # brk r45 (BK 6): the README says import refuses a bundle whose tag holds
    # a token; it said only "damaged or not reprobox's" (capitals are no tag's).
    index = {
        "schema_version": 1,
        "image_id": "sha256:" + "2" * 64,
        "tag": f"reprobox/x-{TOKEN}:0123456789abcdef",
        "files": {"image.tar": "0" * 64},
    }
    (tmp_path / "reprobox-bundle.json").write_text(json.dumps(index))
    bundle = tmp_path / "b.tar"
    with tarfile.open(bundle, "w") as tar:
        tar.add(tmp_path / "reprobox-bundle.json", arcname="reprobox-bundle.json")
    done = cli.run("import", str(bundle), check=False, timeout=300)
    assert done.returncode == 2, done.describe()
    assert done.stderr.splitlines()[0] == (
        f"reprobox: error: {bundle}: reprobox-bundle.json's tag "
        "reprobox/x-ghp_***:0123456789abcdef holds a token of a published format "
        "(ghp_..., hf_..., AKIA...), which import would tag the image with; "
        "refused, nothing was imported (ask its maker to rename the project and "
        "export it again: `reprobox export` tags reprobox/<project>:<digest>, and "
        "freeze refuses a project name holding a token)"
    )
    assert TOKEN not in done.stderr + done.stdout


WRITES_NAMES_FROM_ENV = """import json, os
names = json.loads(os.environ["EXTRA"])
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({**names, "acc": 0.9}, fh)
"""


def test_metric_names_holding_a_secret_env_value_are_left_out(
    cli, engine_cleanup, tmp_path
):
    # brk r46 (BN 1): kept as "***" and "*** (2)", so compare matched a
    # metric of one run with an unrelated one of another.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(WRITES_NAMES_FROM_ENV)
    first = (
        '{"acme_live_Zx8Cv7Bn6Mq1Wr5Ty3Ui9Op2": 4, '
        '"beta_test_Qw3Er4Ty5Ui6Op7As8Df9Gh0": 7}'
    )
    ran = cli.run("-q", "run", str(project), "--env", f"EXTRA={first}", "--json")
    record = json.loads(ran.stdout)
    assert record["metrics"] == {"acc": 0.9}
    assert [w for w in record["warnings"] if "secret --env" in w] == [
        "metric *** is named with a secret --env value; left out"
    ] * 2
    assert "acme_live_" not in ran.stdout + ran.stderr


def test_a_metric_name_like_a_login_is_shown_as_it_is(cli, engine_cleanup, tmp_path):
    # brk r46 (BN 2): stderr cut acc:top5@epoch to acc:***@epoch.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(
        "import json, os\n"
        "with open(os.environ['REPROBOX_METRICS'], 'w') as fh:\n"
        "    json.dump({'acc:top5@epoch': 'x', 'acc': 0.9}, fh)\n"
    )
    ran = cli.run("-q", "run", str(project), timeout=600)
    assert "metric 'acc:top5@epoch' in the metrics file" in ran.stderr, ran.describe()
    assert "***" not in ran.stderr


PRINTS_ITS_KEY = """import os
print("key is", os.environ["PGPV"], flush=True)
"""


@pytest.mark.parametrize(
    ("key", "body"),
    [
        (
            "-----BEGIN PGP PRIVATE KEY BLOCK----- lQOYBFZx8Cv7Bn2Mq9Lp4Rt6Wy1K",
            "lQOYBFZx8Cv7",
        ),
        # brk r48 (BQ 1): in lower case, run raised IndexError (exit 1).
        (
            "age-secret-key-1qqpzry9x8gf2tvdw0s3jn54khce6mua7lqpzry9x8gf2tvdw0s3jn54khce",
            "qqpzry9x8gf2",
        ),
    ],
    ids=["pgp", "age-lower-case"],
)
def test_a_private_key_given_with_env_is_hidden_in_record_and_log(
    cli, engine_cleanup, tmp_path, key, body
):
    # brk r47 (BO 1): only a PEM key was a secret value; a PGP key given with
    # --env was kept in clear in options.env and the log, then sealed.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(PRINTS_ITS_KEY)
    ran = cli.run("run", str(project), "--env", f"PGPV={key}", "--json")
    record = json.loads(ran.stdout)
    assert record["options"]["env"]["PGPV"] == "***"
    (run_dir,) = (project / ".reprobox" / "runs").iterdir()
    assert (run_dir / "container.log").read_text() == "key is ***\n"
    for path in run_dir.iterdir():
        assert body not in path.read_text(errors="replace"), path
    assert body not in ran.stderr
