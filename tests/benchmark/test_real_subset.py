"""End-to-end run of the CLI on a small subset of the real SCUT-FBP5500 (skipped without it)."""

import json

import pandas as pd

from cli.main import main


def test_end_to_end_on_real_subset(scut, tmp_path):
    # 60 images of each subset, plus CM152 (empty .pts) and AF1183 (misordered .pts) in the test part
    by_subset = {s: [n for n in scut.names if n.startswith(s)][:60] for s in ("AF", "AM", "CF", "CM")}
    names = [n for s in by_subset.values() for n in s if n not in ("CM152.jpg", "AF1183.jpg")]
    train, test = names[::3] + names[1::3], names[2::3] + ["CM152.jpg", "AF1183.jpg"]
    split_dir = tmp_path / "real-subset"
    split_dir.mkdir()
    for fname, part in (("train.txt", train), ("test.txt", test)):
        (split_dir / fname).write_text("".join(f"{n} {scut.labels[n]}\n" for n in part))
    out = tmp_path / "out"
    code = main(["--protocol", str(split_dir), "--data-dir", str(scut.root), "--features", "geom86,lbp",
                 "--predictors", "lr,svr", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                 "--quiet", "--jobs", "2", "--models", "none"])
    assert code == 0
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 4 and set(df["protocol"]) == {"real-subset"}
    assert (df["n_test"] == len(test)).all() and (df["n_train"] == len(train)).all()
    assert (df["pc"] > 0.3).all(), df  # real signal even with ~160 training faces
    rec = json.loads((out / "records" / "real-subset" / "geom86__svr" / "split-1.json").read_text())
    assert sorted(rec["landmark_fallback"]["test"]) == ["AF1183.jpg", "CM152.jpg"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["landmark_fallback"] == {"AF1183.jpg": "misordered", "CM152.jpg": "empty"}
    assert "geom86 + svr" in (out / "tables" / "real-subset.md").read_text()
