"""``--launcher``: submitit jobs (real separate processes) give the in-process results; resume; sbatch golden."""

from __future__ import annotations

import importlib
import json
import os
import shlex
import stat
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmark.launch import CNN_UNIT, EXTRACT, FIT, LaunchOptions, SlurmOptions, launch, sbatch_text, time_minutes
from benchmark.runner import RunConfig, run
from core.errors import BenchmarkError, ConfigError
from tests.synthetic import make_fake_scut, register_pixel_feature

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden" / "sbatch_cnn_array.txt"
#: Columns that differ between two runs of the same computation.
VOLATILE = ["fit_seconds", "predict_seconds", "created"]
#: The README's SLURM example: the paper's three nets x the six official splits, as one array.
README_SLURM = SlurmOptions(partition="gpu", gpus=1, cpus=8, mem="32G", time="12:00:00", array_parallelism=6)

PLUGIN = '''\
"""Test components for the launcher's job processes (found through entry points)."""
import os

from models import PREDICTORS
from models.predictors.linear import LinearPredictor
from tests.synthetic import register_pixel_feature

register_pixel_feature()


class CrashOnce(LinearPredictor):
    """Ridge; the first fit that finds the marker file $FBP_TEST_CRASH_ONCE removes it and kills its process
    (or raises, with $FBP_TEST_CRASH_MODE=raise)."""

    def fit(self, X, y):
        marker = os.environ.get("FBP_TEST_CRASH_ONCE")
        if marker:
            try:
                os.unlink(marker)
            except FileNotFoundError:
                pass
            else:
                if os.environ.get("FBP_TEST_CRASH_MODE") == "raise":
                    raise ValueError("crash-once: a test failure")
                os._exit(3)  # like a killed job: no result, no traceback
        return super().fit(X, y)


if "crash-once" not in PREDICTORS:
    PREDICTORS.register("crash-once")(CrashOnce)
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A fake installed distribution exposing the test components to the job processes by entry point."""
    site = tmp_path / "site"
    (site / "fbp_launchplugin-0.1.dist-info").mkdir(parents=True)
    (site / "fbp_launchplugin-0.1.dist-info" / "METADATA").write_text("Name: fbp-launchplugin\nVersion: 0.1\n")
    (site / "fbp_launchplugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[fbp.features]\ntest-pixels = fbp_launchplugin\n[fbp.predictors]\ncrash-once = fbp_launchplugin\n")
    (site / "fbp_launchplugin.py").write_text(PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(site))
    register_pixel_feature()
    importlib.import_module("fbp_launchplugin")  # this process too
    yield site
    from models import PREDICTORS

    if "crash-once" in PREDICTORS:  # later tests iterate the registry: leave it as it was
        PREDICTORS.unregister("crash-once")
    sys.modules.pop("fbp_launchplugin", None)


@pytest.fixture
def fake_root(tmp_path):
    return make_fake_scut(tmp_path / "scut", n_per_subset=10)


def config(fake_root, tmp_path, out="out", **kw):
    base = dict(data_dir=fake_root, protocol="all", features=["test-pixels"], predictors=["lr", "svr"],
                out_dir=tmp_path / out, cache_dir=tmp_path / "cache", progress=False, argv=["test"])
    base.update(kw)
    return RunConfig(**base)


def records_of(out: Path) -> dict[Path, bytes]:
    return {p.relative_to(out): p.read_bytes() for p in sorted((out / "records").glob("*/*/split-*.json"))}


def stable_csv(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path).drop(columns=VOLATILE)
    return df.sort_values(["protocol", "split", "feature", "predictor"]).reset_index(drop=True)


def test_local_launcher_gives_the_in_process_results(plugin, fake_root, tmp_path):
    run(config(fake_root, tmp_path, out="inproc", cache_dir=tmp_path / "cache-inproc"))
    outcomes = launch(config(fake_root, tmp_path), LaunchOptions("local", jobs=2))
    assert [o.unit.kind for o in outcomes].count(EXTRACT) == 1 and len(outcomes) == 1 + 6  # 6 splits of 'all'
    assert all(o.ok for o in outcomes)
    assert len({o.job_id for o in outcomes}) == 7 and str(os.getpid()) not in {o.job_id for o in outcomes}
    out = tmp_path / "out"
    pd.testing.assert_frame_equal(stable_csv(out / "results.csv"), stable_csv(tmp_path / "inproc" / "results.csv"))
    assert len(pd.read_csv(out / "results.csv")) == 12
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["records_computed"] == 12
    assert manifest["launcher"]["kind"] == "local" and len(manifest["launcher"]["jobs"]) == 7
    logs = list((out / "launcher").glob("*/*_log.err"))
    assert len(logs) == 7  # one log per job, under OUT/launcher/<stamp>/
    # a rerun finds every record: nothing is submitted, nothing rewritten
    before = records_of(out)
    assert launch(config(fake_root, tmp_path), LaunchOptions("local", jobs=2)) == []
    assert records_of(out) == before


@pytest.mark.parametrize("mode, error", [
    ("exit", "the job ended without a result (killed, or its process exited)"),
    ("raise", "ValueError: crash-once: a test failure"),
])
def test_a_failed_job_loses_nothing_else_and_a_rerun_completes(plugin, fake_root, tmp_path, monkeypatch, mode,
                                                                error):
    marker = tmp_path / "crash-once"
    marker.touch()
    monkeypatch.setenv("FBP_TEST_CRASH_ONCE", str(marker))
    monkeypatch.setenv("FBP_TEST_CRASH_MODE", mode)
    cfg = dict(predictors=["lr", "crash-once"], splits="5fold/1,5fold/2,60-40/1")
    with pytest.raises(BenchmarkError, match="1 of 4 launcher jobs failed.*run the same command again") as failure:
        launch(config(fake_root, tmp_path, **cfg), LaunchOptions("local", jobs=2))
    assert f": {error}; log " in str(failure.value)  # the job's own exception, not a log path
    assert not marker.exists()
    out = tmp_path / "out"
    before = records_of(out)
    assert len(before) == 4  # the crashed block (lr and crash-once on one split) is missing, nothing else
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert [j["error"] for j in manifest["launcher"]["jobs"] if not j["ok"]] == [error]
    assert len(pd.read_csv(out / "results.csv")) == 4
    assert not list((out / "records").rglob("*.tmp"))
    outcomes = launch(config(fake_root, tmp_path, **cfg), LaunchOptions("local", jobs=2))
    assert [(o.unit.kind, len(o.unit.predictors), o.ok, o.records) for o in outcomes] == [(FIT, 2, True, 2)]
    after = records_of(out)
    assert len(after) == 6 and all(after[p] == content for p, content in before.items())
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 6 and not df.duplicated(["feature", "predictor", "protocol", "split"]).any()
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def normalised(text: str, folder: Path) -> str:
    return text.replace(str(folder), "OUT/launcher/STAMP").replace(shlex.quote(sys.executable), "PYTHON")


def test_sbatch_script_of_the_readme_example_matches_the_golden_file(tmp_path):
    folder = tmp_path / "out" / "launcher" / "20260101-120000-000000"
    text = normalised(sbatch_text(README_SLURM, CNN_UNIT, folder, 18), folder)
    if os.environ.get("FBP_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    fits = sbatch_text(README_SLURM, FIT, folder, 12, dependency="afterany:4241")
    assert "#SBATCH --dependency=afterany:4241" in fits and "--gpus-per-node" not in fits
    assert "#SBATCH --array=0-11%6" in fits and "#SBATCH --job-name=fbp-fit" in fits


def test_slurm_launcher_submits_one_array_and_prints_the_ids(plugin, fake_root, tmp_path, monkeypatch, capsys):
    """The README's example through the command line, with stand-ins for sbatch and srun (no cluster here)."""
    from cli.main import main

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text('#!/bin/sh\ncp "$1" "$FAKE_SBATCH_COPY"\necho "Submitted batch job 4242"\n')
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    for f in bin_dir.iterdir():
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SBATCH_COPY", str(tmp_path / "submitted.sh"))
    out = tmp_path / "out"
    argv = ["--protocol", "all", "--data-dir", str(fake_root), "--features", "none", "--models",
            "alexnet,resnet18,resnext50", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
            "--launcher", "slurm", "--slurm-partition", "gpu", "--slurm-gpus", "1", "--slurm-cpus", "8",
            "--slurm-mem", "32G", "--slurm-time", "12:00:00", "--slurm-array-parallelism", "6"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "submitted 18 jobs (0 feature extractions, 18 CNN splits, 0 blocks of fits) to SLURM" in printed
    assert "cnn      job 4242 (18 tasks)" in printed
    assert "4242_0         cnn alexnet on 5fold/1" in printed and "4242_17        cnn resnext50 on 60-40/1" in printed
    assert f"python run_benchmark.py report --out {out}" in printed
    folder = next((out / "launcher").iterdir())
    assert normalised((tmp_path / "submitted.sh").read_text(), folder) == GOLDEN.read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "submitted" and manifest["launcher"]["arrays"] == [
        {"kind": "cnn", "job_id": "4242", "tasks": 18}]
    assert manifest["launcher"]["jobs"][0] == {"unit": "cnn alexnet on 5fold/1", "job_id": "4242_0",
                                               "writes": ["records/5fold/alexnet__cnn__imagenet-paper/split-1.json"]}
    assert not (out / "records").exists() and not (out / "results.csv").exists()  # the jobs write the records


def test_launcher_options_are_checked(fake_root, tmp_path, capsys):
    from cli.main import main

    base = ["--data-dir", str(fake_root), "--out", str(tmp_path / "out"), "--models", "none"]
    assert main([*base, "--slurm-gpus", "2"]) == 1  # --slurm-* without --launcher slurm
    assert main([*base, "--launcher", "slurm", "--ensemble", "e=test-pixels__lr,test-pixels__svr"]) == 1
    err = capsys.readouterr().err
    assert "--slurm-gpus need --launcher slurm" in err and "--ensemble with --launcher slurm" in err
    with pytest.raises(ConfigError, match="--slurm-time"):
        time_minutes("12h")
    assert (time_minutes("90"), time_minutes("12:00:00"), time_minutes("1-00:30"), time_minutes("0:30")) == (
        90, 720, 1470, 1)


FAKE_SBATCH = '''#!/bin/sh
n=$(cat "$FAKE_SLURM/next" 2>/dev/null || echo 5001)
echo $((n + 1)) > "$FAKE_SLURM/next"
cp "$1" "$FAKE_SLURM/job-$n.sh"
echo "Submitted batch job $n"
'''
#: Runs its command in place of srun (drops srun's own options).
FAKE_SRUN = '''#!/bin/sh
while [ "$#" -gt 0 ]; do case "$1" in --unbuffered) shift;; --output|--error) shift 2;; *) break;; esac; done
exec "$@"
'''


def test_slurm_scripts_run_as_array_tasks_then_report_gives_the_in_process_results(plugin, fake_root, tmp_path,
                                                                                  monkeypatch, capsys):
    """The hand-crafted track through the generated sbatch scripts, run task by task as SLURM would, then report."""
    import re
    import subprocess

    from cli.main import main

    fake = tmp_path / "fake-slurm"
    fake.mkdir()
    (fake / "sbatch").write_text(FAKE_SBATCH)
    (fake / "srun").write_text(FAKE_SRUN)
    for f in (fake / "sbatch", fake / "srun"):
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM", str(fake))
    splits = "5fold/1,5fold/2"
    outcomes = launch(config(fake_root, tmp_path, splits=splits), LaunchOptions("slurm", slurm=SlurmOptions(cpus=1)))
    assert [(o.unit.kind, o.job_id) for o in outcomes] == [(EXTRACT, "5001"), (FIT, "5002_0"), (FIT, "5002_1")]
    scripts = sorted(fake.glob("job-*.sh"))
    assert "#SBATCH --dependency=afterany:5001" in scripts[1].read_text()
    tasks = []  # the "cluster": each task of each array, in dependency order
    for script in scripts:
        job_id = script.stem.removeprefix("job-")
        array = re.search(r"#SBATCH --array=0-(\d+)%", script.read_text())
        tasks += [(script, job_id, task) for task in (range(int(array.group(1)) + 1) if array else [None])]

    def run_task(script, job_id, task, ok=True):
        env = dict(os.environ, SLURM_JOB_ID=job_id, SLURM_NTASKS="1", SLURM_PROCID="0", SLURM_LOCALID="0",
                   SLURM_NODEID="0", SLURM_JOB_NUM_NODES="1", SLURM_JOB_NODELIST="node1")
        if task is not None:
            env.update(SLURM_ARRAY_JOB_ID=job_id, SLURM_ARRAY_TASK_ID=str(task))
        done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=120)
        assert (done.returncode == 0) == ok, done.stderr[-2000:]

    for task in tasks[:-1]:
        run_task(*task)
    out = tmp_path / "out"
    assert len(records_of(out)) == 2 and not (out / "results.csv").exists()
    # the last task has not run: the report covers what is there and names the job still missing
    assert main(["report", "--out", str(out), "--no-figures", "--resamples", "10"]) == 0
    err = capsys.readouterr().err
    assert "note: 1 of 3 SLURM jobs have not written their records: 1 without a result yet (queued, running, or " \
           "killed; logs in " in err and "5002_1 (fit test-pixels x lr,svr on 5fold/2)" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "submitted" and manifest["finished"] is None
    assert [j["done"] for j in manifest["launcher"]["jobs"]] == [True, True, False]
    assert manifest["launcher"]["jobs"][2]["writes"] == ["records/5fold/test-pixels__lr/split-2.json",
                                                         "records/5fold/test-pixels__svr/split-2.json"]
    # it runs and fails (its node does not see the data): the report says with what, and where the log is
    fake_root.rename(fake_root.with_name("elsewhere"))
    run_task(*tasks[-1], ok=False)
    fake_root.with_name("elsewhere").rename(fake_root)
    assert main(["report", "--out", str(out), "--no-figures", "--resamples", "10"]) == 0
    err = capsys.readouterr().err
    assert "SLURM jobs have not written their records: 1 failed: 5002_1 (fit test-pixels x lr,svr on 5fold/2: " \
           "core.errors.DataError: " in err, err
    assert "SCUT-FBP5500 dataset not found" in err and "5002_1_0_log.err)" in err and len(err.strip().splitlines()) == 1
    job = json.loads((out / "manifest.json").read_text())["launcher"]["jobs"][2]
    assert job["state"] == "failed" and job["error"].startswith("core.errors.DataError: ")
    run_task(*tasks[-1])
    assert len(records_of(out)) == 4
    assert main(["report", "--out", str(out), "--no-figures", "--resamples", "10"]) == 0
    assert "SLURM jobs have not written" not in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    newest = max(json.loads((out / p).read_text())["created"] for p in records_of(out))
    assert manifest["status"] == "complete" and manifest["finished"] == newest
    assert re.search(r"\| Run status +\| complete +\|", (out / "index.md").read_text())
    run(config(fake_root, tmp_path, out="inproc", cache_dir=tmp_path / "cache-inproc", splits=splits))
    pd.testing.assert_frame_equal(stable_csv(out / "results.csv"), stable_csv(tmp_path / "inproc" / "results.csv"))


def test_collect_leaves_alone_what_it_cannot_judge(tmp_path):
    from benchmark.launch import collect_slurm
    from core.errors import DataError

    assert collect_slurm(tmp_path) is None  # no manifest
    manifest = tmp_path / "manifest.json"
    for m in ({"status": "complete", "launcher": {"kind": "slurm", "jobs": []}},
              {"status": "submitted", "launcher": {"kind": "local", "jobs": []}},
              {"status": "submitted", "launcher": {"kind": "slurm", "jobs": [{"unit": "cnn x", "job_id": "1"}]}}):
        manifest.write_text(json.dumps(m))
        assert collect_slurm(tmp_path) is None and json.loads(manifest.read_text()) == m
    manifest.write_text("{not json")
    with pytest.raises(DataError, match="manifest.json: corrupt manifest"):
        collect_slurm(tmp_path)
