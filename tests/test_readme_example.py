"""The README's feature-extractor example, installed through an entry point, runs the whole benchmark."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.synthetic import make_fake_scut

REPO = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- example:feature -->\n```python\n(.*?)```\n<!-- /example:feature -->", text, re.S)
    assert block, "README lost its feature example"
    return block.group(1)


def test_readme_example_is_short():
    assert len([line for line in readme_example().splitlines() if line.strip()]) <= 15


def test_entry_point_extractor_runs_through_benchmark(tmp_path):
    site = tmp_path / "site"
    pkg = site / "my_fbp_plugin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "hsv_hist.py").write_text(readme_example())
    dist = site / "my_fbp_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-fbp-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text('[fbp.features]\nhsv-hist = my_fbp_plugin.hsv_hist\n')
    root = make_fake_scut(tmp_path / "scut", n_per_subset=5)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    base = [sys.executable, str(REPO / "run_benchmark.py")]
    listing = subprocess.run([*base, "--list"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert "hsv-hist" in listing.stdout and "Hue/saturation histogram" in listing.stdout
    done = subprocess.run([*base, "--protocol", "all", "--data-dir", str(root), "--features", "hsv-hist",
                           "--predictors", "lr,svr", "--out", str(tmp_path / "out"),
                           "--cache-dir", str(tmp_path / "cache"), "--quiet"],
                          env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(df["feature"]) == {"hsv-hist"} and len(df) == 12
    assert "hsv-hist + svr" in (tmp_path / "out" / "tables" / "5fold.md").read_text()
