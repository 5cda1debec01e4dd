"""Every command line shown in README.md still parses: sub-command, options and component names.

The lines are the README's code-block lines that start with ``python run_benchmark.py`` or
``python -m <module>`` (with or without a ``$`` prompt); syntax summaries (``[...]``, ``a|b``, ``...``)
are skipped. The commands are parsed, not run.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_commands() -> list[str]:
    lines, block, joined = [], False, ""
    for raw in README.read_text(encoding="utf-8").splitlines():
        if raw.startswith("```"):
            block = not block
            continue
        if not block:
            continue
        line = joined + raw.strip().removeprefix("$ ")
        if line.endswith("\\"):
            joined = line[:-1] + " "
            continue
        joined = ""
        line = line.split("  #")[0].strip()
        if re.match(r"^(FBP_\w+=\S+ )*python (run_benchmark\.py|-m [\w.]+)", line) and not re.search(
                r"\[|\||\.\.\.|<|FILE\b", line):
            lines.append(line)
    return lines


COMMANDS = readme_commands()


def test_the_readme_shows_commands():
    assert sum("run_benchmark.py" in c for c in COMMANDS) >= 10


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_parses(line):
    words = shlex.split(line)
    while "=" in words[0]:
        words.pop(0)
    if words[1] == "-m":
        assert importlib.util.find_spec(words[2]) is not None, f"no module {words[2]}"
        return
    from cli.main import _with_command, build_parser

    if "test-pixels" in line:  # the README's synthetic-data example registers these in its test
        from tests.synthetic import register_fusion_features

        register_fusion_features()
    argv = _with_command(words[2:])
    args = build_parser().parse_args(argv)
    if argv[0] == "run":
        from benchmark.fusion import parse_feature_list
        from cli.main import _names
        from models import PREDICTORS
        from models.cnn import CNNS

        parse_feature_list(args.features)
        _names(args.predictors, PREDICTORS)
        _names(args.models, CNNS)
