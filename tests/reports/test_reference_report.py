"""The committed example report (reports/reference): complete, and its LaTeX compiles with pdflatex."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

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


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_reference_latex_compiles(tmp_path):
    tables = sorted((REFERENCE / "tables").glob("*.tex"))
    assert len(tables) >= 7
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
                   "\\usepackage{booktabs}\n\\usepackage[margin=1cm,landscape]{geometry}\n\\begin{document}\n"
                   + "".join(f"\\input{{{t.as_posix()}}}\n\\clearpage\n" for t in tables)
                   + "\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
