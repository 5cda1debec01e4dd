import pytest

from benchmark.errors import ConfigError, DataError
from benchmark.protocols import load_protocols, read_split_folder
from data.scut import ScutFBP5500
from tests.synthetic import make_fake_scut


def test_real_five_fold_partition(scut):
    (folds,) = load_protocols("5fold", scut)
    assert [s.name for s in folds] == ["1", "2", "3", "4", "5"]
    all_names = set(scut.labels)
    assert len(all_names) == 5500
    tests = [set(s.test) for s in folds]
    for s, t in zip(folds, tests, strict=True):
        assert len(s.train) == 4400 and len(s.test) == 1100
        assert not set(s.train) & t
        assert set(s.train) | t == all_names
    assert set().union(*tests) == all_names
    assert sum(len(t) for t in tests) == 5500  # test folds are disjoint


def test_real_sixty_forty(scut):
    (split,) = load_protocols("60-40", scut)[0]
    assert len(split.train) == 3300 and len(split.test) == 2200
    assert not set(split.train) & set(split.test)
    assert [p[0].protocol for p in load_protocols("all", scut)] == ["5fold", "60-40"]


def test_synthetic_protocols_and_old_spelling(tmp_path):
    ds = ScutFBP5500(make_fake_scut(tmp_path / "d", old_names=True))
    assert ds.names[0].startswith("AF")
    (folds,) = load_protocols("5fold", ds)
    assert sorted(n for s in folds for n in s.test) == sorted(ds.names)


def test_custom_folder(tmp_path):
    ds = ScutFBP5500(make_fake_scut(tmp_path / "d"))
    custom = tmp_path / "mysplit"
    custom.mkdir()
    names = ds.names
    (custom / "train.txt").write_text("".join(f"{n} 3.0\n" for n in names[:30]))
    (custom / "test.txt").write_text("".join(f"{n} 3.0\n" for n in names[30:]))
    (split,) = load_protocols(str(custom), ds)[0]
    assert split.protocol == "mysplit" and len(split.train) == 30


def test_custom_folder_overlap_and_unknown_images(tmp_path):
    ds = ScutFBP5500(make_fake_scut(tmp_path / "d"))
    known = set(ds.labels)
    bad = tmp_path / "overlap"
    bad.mkdir()
    (bad / "train_1.txt").write_text("AF1.jpg 3.0\nAF2.jpg 3.0\n")
    (bad / "test_1.txt").write_text("AF2.jpg 3.0\n")
    with pytest.raises(DataError, match=r"test_1.txt: 1 image\(s\) also in train_1.txt"):
        read_split_folder(bad, "x", known)
    unk = tmp_path / "unknown"
    unk.mkdir()
    (unk / "train.txt").write_text("AF1.jpg 3.0\nAF999.jpg 3.0\n")
    (unk / "test.txt").write_text("AF2.jpg 3.0\n")
    with pytest.raises(DataError, match=r"train.txt:2: image AF999.jpg is not in the dataset"):
        read_split_folder(unk, "x", known)


def test_unknown_protocol(tmp_path):
    ds = ScutFBP5500(make_fake_scut(tmp_path / "d"))
    with pytest.raises(ConfigError, match="unknown protocol '10fold'"):
        load_protocols("10fold", ds)


def test_select_splits(tmp_path):
    from benchmark.protocols import select_splits

    ds = ScutFBP5500(make_fake_scut(tmp_path / "d", n_per_subset=5))
    both = load_protocols("all", ds)
    assert select_splits(both, None) is both
    assert [[(s.protocol, s.name) for s in p] for p in select_splits(both, "1")] == [[("5fold", "1")],
                                                                                   [("60-40", "1")]]
    assert [[(s.protocol, s.name) for s in p] for p in select_splits(both, "5fold/3, 5fold/1")] == [
        [("5fold", "1"), ("5fold", "3")]]
    for bad in ("6", "60-40/2", " , "):
        with pytest.raises(ConfigError, match="--splits"):
            select_splits(both, bad)
