"""Every measurement and selection command reports bad input as one line with a non-zero exit."""

from __future__ import annotations

import importlib

import pytest

DATA_COMMANDS = ["feature_speed", "fit_speed", "frame_constants", "fusion_search", "gp_speed", "perf",
                 "recipe_search"]


@pytest.mark.parametrize("name", DATA_COMMANDS)
def test_missing_dataset_is_one_line(name, tmp_path, capsys):
    missing = tmp_path / "no-such-scut"
    code = importlib.import_module(f"tools.{name}").main(["--data-dir", str(missing)])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("error: ") and str(missing) in err and len(err.splitlines()) == 1, err


def test_throughput_unknown_model_is_one_line(tmp_path, capsys):
    from tools import throughput

    code = throughput.main(["--device", "cpu", "--models", "nonet", "--json", str(tmp_path / "t.json")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "nonet" in err and "mobilenet_v2" in err


def test_unwritable_output_is_one_line(tmp_path, capsys):
    """An OSError (here: the output path is a folder) names the file instead of a traceback."""
    from core.errors import one_line_errors

    @one_line_errors
    def main(argv=None):
        (tmp_path / "out").mkdir()
        (tmp_path / "out").write_text("x")
        return 0

    assert main([]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "out" in err and len(err.splitlines()) == 1
