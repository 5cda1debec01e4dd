"""``python -m tools.frame_constants``: the measured SCUT frame constants of the CNN photo scorer."""

import re

from predict.face_scorer import FRAME_SCALE, FRAME_SHIFT
from tools.frame_constants import main


def test_prints_constants_near_the_committed_ones(scut_root, capsys):
    """On 10 of the release's images the medians land near the committed constants (which are
    medians over 50)."""
    assert main(["--data-dir", str(scut_root), "--every", "550"]) == 0
    out = capsys.readouterr().out
    assert "images: 10" in out
    scale = float(re.search(r"median (\d\.\d+), 10th", out).group(1))
    shift_y = float(re.search(r"y ([+-]\d\.\d+)", out).group(1))
    assert abs(scale - FRAME_SCALE) < 0.25 and abs(shift_y - FRAME_SHIFT[1]) < 0.08


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert main(["--every", "0"]) == 2
