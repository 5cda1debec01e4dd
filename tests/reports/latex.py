"""pdflatex helper for the tests that compile rendered LaTeX tables (skip where pdflatex is absent)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")

DOCUMENT = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{booktabs}
\usepackage[margin=1cm,landscape]{geometry}
%s
\begin{document}
%s
\end{document}
"""


def inputs(tex_files: Iterable[Path]) -> str:
    """A document body that ``\\input``s each file on its own page."""
    return "".join(f"\\input{{{Path(t).as_posix()}}}\n\\clearpage\n" for t in tex_files)


def pdflatex(workdir: Path, body: str, preamble: str = "") -> subprocess.CompletedProcess:
    """Compile ``body`` (with ``booktabs`` and ``preamble``) to ``workdir/doc.pdf``; returns the process."""
    (workdir / "doc.tex").write_text(DOCUMENT % (preamble, body), encoding="utf-8")
    return subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          cwd=workdir, capture_output=True, text=True, timeout=300, check=False)
