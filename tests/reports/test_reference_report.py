"""The committed example report (reports/reference): complete, and its LaTeX compiles with pdflatex."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.reports.latex import inputs, needs_pdflatex, pdflatex

REFERENCE = Path(__file__).resolve().parents[2] / "reports" / "reference"


def test_reference_report_is_complete():
    manifest = json.loads((REFERENCE / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["dataset"]["n_images"] == 5500
    index = (REFERENCE / "index.md").read_text()
    for link in re.findall(r"\]\(([^)#]+)\)", index):
        if not link.startswith("http"):
            assert (REFERENCE / link).is_file(), f"index.md links a missing file: {link}"


def test_no_records_or_models_are_tracked():
    """Records hold the dataset's labels (non-commercial licence): they must never be committed."""
    listed = subprocess.run(["git", "ls-files", "."], cwd=REFERENCE, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    assert not [p for p in listed.stdout.splitlines() if p.startswith(("records/", "models/"))]


@needs_pdflatex
def test_reference_latex_compiles(tmp_path):
    tables = sorted((REFERENCE / "tables").glob("*.tex"))
    assert len(tables) >= 7
    proc = pdflatex(tmp_path, inputs(tables))
    assert proc.returncode == 0, proc.stdout[-3000:]
