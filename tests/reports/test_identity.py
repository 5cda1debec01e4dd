"""Identity-disjoint view: each row's metrics without the test images the audit pairs with training."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy.stats import pearsonr

from core.errors import DataError
from reports import identity, stats
from reports.cli import build_report
from tests.reports.test_stats import fake_records, write_store

HEADER = "protocol,split,kind,test_image,train_image,descriptor_distance,phash_bits,strict\n"


@pytest.fixture(scope="module")
def records():
    return fake_records({("geom86", "svr"): 0.45, ("lbp", "lr"): 0.7})


@pytest.fixture(scope="module")
def pooled(records):
    return stats.pooled_predictions(records)


def images_of(pooled, protocol, split):
    sub = pooled[(pooled["protocol"] == protocol) & (pooled["split"] == split)]
    return list(dict.fromkeys(sub["image"]))


@pytest.fixture(scope="module")
def audit(pooled, tmp_path_factory):
    """A 5-fold pairs file: split 1 has 3 same-person (2 strict) and 1 near-duplicate, split 2 has 1 strict
    pair; split 3..5 have none. An image of split 1 also named under split 2 (where it is not tested) and
    a line of another protocol must exclude nothing."""
    one, two = images_of(pooled, "5fold", "1"), images_of(pooled, "5fold", "2")
    lines = [f"5fold,1,same-person,{one[0]},X1.jpg,0.4100,,1",
             f"5fold,1,same-person,{one[1]},X2.jpg,0.4800,,1",
             f"5fold,1,same-person,{one[2]},X3.jpg,0.5700,,0",
             f"5fold,1,near-duplicate,{one[3]},X4.jpg,,3,",
             f"5fold,1,near-duplicate,{one[0]},X1.jpg,0.4100,2,",  # same image twice: excluded once
             f"5fold,2,same-person,{two[0]},X5.jpg,0.3000,,1",
             f"5fold,2,same-person,{one[4]},X6.jpg,0.3000,,1",  # tested in split 1, not split 2
             f"60-40,1,same-person,{one[5]},X7.jpg,0.3000,,1"]
    audit_dir = tmp_path_factory.mktemp("audit")
    (audit_dir / "pairs-5fold.csv").write_text(HEADER + "\n".join(lines) + "\n")
    excluded = {"same-person": {("1", n) for n in one[:4]} | {("2", two[0])},
                "strict": {("1", one[0]), ("1", one[1]), ("1", one[3]), ("2", two[0])}}
    return audit_dir, excluded


def direct(part):
    t, p = part["true"].to_numpy(), part["pred"].to_numpy()
    return pearsonr(t, p)[0], np.abs(p - t).mean(), np.sqrt(((p - t) ** 2).mean())


def test_excluded_images_are_left_out(pooled, audit):
    audit_dir, excluded = audit
    pairs = identity.read_pairs(audit_dir / "pairs-5fold.csv")
    metrics = identity.identity_metrics(pooled, pairs, "5fold")
    assert list(dict.fromkeys(metrics["pairing"])) == stats.row_order(pooled[pooled["protocol"] == "5fold"])
    five = pooled[pooled["protocol"] == "5fold"]
    for r in metrics.itertuples():
        rows = five[five["pairing"] == r.pairing]
        if r.part != "all":
            drop = [(s, i) in excluded[r.part] for s, i in zip(rows["split"], rows["image"], strict=True)]
            rows = rows[~np.array(drop)]
        assert r.n == len(rows)
        assert (r.pc, r.mae, r.rmse) == pytest.approx(direct(rows))
    sizes = metrics.set_index(["pairing", "part"])["n"]
    assert sizes["geom86 + svr"].to_dict() == {"all": 220, "same-person": 215, "strict": 216}
    counts = identity.exclusion_counts(pooled, pairs, "5fold")
    assert list(counts.index) == ["1", "2", "3", "4", "5"]
    assert counts["same-person"].tolist() == [4, 1, 0, 0, 0] and counts["strict"].tolist() == [3, 1, 0, 0, 0]
    assert counts["n_test"].sum() == 220


def test_rendered_table(pooled, audit, tmp_path):
    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    (audit_dir / "pairs-5fold.csv").write_text((audit[0] / "pairs-5fold.csv").read_text())
    (audit_dir / "identity-audit.json").write_text(json.dumps(
        {"thresholds": {"same_person": 0.6, "strict": 0.45}, "splits": [{"protocol": "5fold", "split": "1"}]}))
    written = identity.render_identity_tables(pooled, tmp_path, audit_dir, provenance="`cmd`; commit abc")
    assert [p.name for p in written] == ["identity-5fold.md", "identity-5fold.tex"]  # 60-40: no audit file
    md = (tmp_path / "identity-5fold.md").read_text()
    assert "commit abc" in md and "## dlib's threshold: descriptor distance < 0.6" in md
    assert "## Strict: same person (descriptor distance < 0.45), or near-duplicate" in md
    assert "| All test images PC " in md and "| Identity-disjoint RMSE " in md and "| ΔPC " in md
    assert "1: 4 / 3 of 44; 2: 1 / 1 of 44; 3: 0 / 0 of 44" in md and "total 5 / 4 of 220" in md
    assert "under 0.45 are excluded" in md and "audit/pairs-5fold.csv" in md
    metrics = identity.identity_metrics(pooled, identity.read_pairs(audit_dir / "pairs-5fold.csv"), "5fold")
    pc = metrics.set_index(["pairing", "part"])["pc"]
    delta = pc["lbp + lr", "all"] - pc["lbp + lr", "same-person"]
    assert re.search(rf"\| lbp \+ lr .*\| {re.escape(f'{delta:+.4f}')} \|", md)
    tex = (tmp_path / "identity-5fold.tex").read_text()
    assert r"\multicolumn{3}{c}{Identity-disjoint}" in tex and r"\textit{Strict" in tex and r"$\Delta$PC" in tex


def test_no_audit_file_or_other_splits_no_table(pooled, tmp_path):
    assert identity.render_identity_tables(pooled, tmp_path / "tables", tmp_path / "audit") == []
    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    (audit_dir / "pairs-60-40.csv").write_text(HEADER + "60-40,7,same-person,AF1.jpg,AF2.jpg,0.3,,1\n")
    (audit_dir / "pairs-5fold.csv").write_text(HEADER)  # header only: names no split
    assert identity.render_identity_tables(pooled, tmp_path / "tables", audit_dir) == []
    assert not (tmp_path / "tables").exists()


@pytest.mark.parametrize(("text", "problem"), [
    ("protocol,split,kind,test_image\n5fold,1,same-person,AF1.jpg\n", "lacks column(s) train_image"),
    ("", "lacks column(s) protocol"),
    (HEADER + "5fold,1,same person,AF1.jpg,AF2.jpg,0.3,,1\n", "line 2: unknown kind"),
    (HEADER + "5fold,1,same-person,AF1.jpg,AF2.jpg,0.3,,yes\n", "strict must be 0 or 1"),
    (b"\xff\xfe\x00bad", "unreadable"),
])
def test_malformed_csv_is_a_data_error(pooled, tmp_path, text, problem):
    path = tmp_path / "pairs-5fold.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DataError, match=re.escape(problem)) as err:
        identity.render_identity_tables(pooled, tmp_path / "tables", tmp_path)
    assert str(path) in str(err.value) and len(str(err.value).splitlines()) == 1


def test_build_report_writes_and_links_the_table(records, audit, tmp_path):
    audit_dir, _ = audit
    out = tmp_path / "out"
    write_store(out, records)
    (out / "audit").mkdir()
    (out / "audit" / "pairs-5fold.csv").write_text((audit_dir / "pairs-5fold.csv").read_text())
    written = build_report(out, n_resamples=20, figures=False)
    assert out / "tables" / "identity-5fold.md" in written and out / "tables" / "identity-5fold.tex" in written
    assert not (out / "tables" / "identity-60-40.md").exists()
    index = (out / "index.md").read_text()
    assert "Identity-disjoint (audit)" in index
    assert "[Markdown](tables/identity-5fold.md) · [LaTeX](tables/identity-5fold.tex)" in index
    md = (out / "tables" / "identity-5fold.md").read_text()
    # No identity-audit.json: the strict threshold is not recorded.
    assert "## Strict: same person (under the strict threshold)" in md and "default 0.25" in md
