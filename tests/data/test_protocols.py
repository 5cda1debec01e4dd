import warnings
from collections import Counter

import pytest

from core.errors import ConfigError, DataError
from data.protocols import (
    PROTOCOLS,
    load_protocols,
    read_split_folder,
    ten_fold_splits,
    write_generated_splits,
    write_split_folder,
)
from data.scut import ScutFBP5500, subset_of
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
    with pytest.raises(ConfigError, match="unknown protocol '7fold'.*10fold"):
        load_protocols("7fold", ds)


def test_select_splits(tmp_path):
    from data.protocols import select_splits

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


# --------------------------------------------------------------------------- 10fold (not an official split)


def _check_partition(folds, names):
    assert [s.name for s in folds] == [str(k) for k in range(1, 11)]
    assert sorted(n for s in folds for n in s.test) == sorted(names)  # test folds partition the images
    for s in folds:
        assert not set(s.train) & set(s.test) and set(s.train) | set(s.test) == set(names)


def test_real_ten_fold_is_balanced(scut):
    (folds,) = load_protocols("10fold", scut)
    _check_partition(folds, scut.names)
    for s in folds:
        assert (len(s.train), len(s.test)) == (4950, 550)
        assert Counter(subset_of(n) for n in s.test) == {"AF": 200, "AM": 200, "CF": 75, "CM": 75}


def test_ten_fold_stratified_deterministic_and_order_free(tmp_path):
    ds = ScutFBP5500(make_fake_scut(tmp_path / "d", n_per_subset=50))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "least populated class" warning from StratifiedKFold
        (folds,) = load_protocols("10fold", ds)
    _check_partition(folds, ds.names)
    assert all(s.protocol == "10fold" for s in folds)
    for s in folds:
        assert len(s.test) == 20 and Counter(subset_of(n) for n in s.test) == dict.fromkeys(("AF", "AM", "CF", "CM"), 5)
    # 5 score bins of 10 images per subset: each fold's test part holds one image of each bin of each subset.
    for subset in ("AF", "CM"):
        ranked = sorted((n for n in ds.names if n.startswith(subset)), key=lambda n: (ds.labels[n], n))
        bins = {n: i // 10 for i, n in enumerate(ranked)}
        for s in folds:
            assert sorted(bins[n] for n in s.test if n.startswith(subset)) == [0, 1, 2, 3, 4]
    shuffled = dict(reversed(list(ds.labels.items())))
    assert ten_fold_splits(shuffled) == folds  # the label file's line order does not matter
    assert ten_fold_splits(ds.labels, seed=1) != folds


def test_ten_fold_tiny_dataset_and_too_small(tmp_path):
    ds = ScutFBP5500(make_fake_scut(tmp_path / "d", n_per_subset=5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (folds,) = load_protocols("10fold", ds)
    _check_partition(folds, ds.names)
    assert all(len(s.test) == 2 for s in folds)
    with pytest.raises(DataError, match="10fold: the dataset has 8 labelled image"):
        ten_fold_splits(dict(list(ds.labels.items())[:8]))


def test_all_is_the_official_protocols_only(tmp_path):
    ds = ScutFBP5500(make_fake_scut(tmp_path / "d"))
    assert [p[0].protocol for p in load_protocols("all", ds)] == ["5fold", "60-40"]
    assert not PROTOCOLS["10fold"].official and "not an official split" in PROTOCOLS["10fold"].description
    assert all(PROTOCOLS[n].official for n in ("5fold", "60-40"))


def test_ten_fold_split_files_rerun_as_the_same_protocol(tmp_path):
    ds = ScutFBP5500(make_fake_scut(tmp_path / "d", n_per_subset=20))
    (folds,) = load_protocols("10fold", ds)
    both = [folds, *load_protocols("all", ds)]
    (folder,) = write_generated_splits(tmp_path / "out", both, ds.labels)  # only 10fold is written
    assert folder == tmp_path / "out" / "splits" / "10fold"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["README.md", *(f"{k}_{i}.txt" for k in ("train", "test") for i in range(1, 11))])
    assert "not an official split" in (folder / "README.md").read_text()
    first = (folder / "test_1.txt").read_text().splitlines()
    assert first == [f"{n} {ds.labels[n]!r}" for n in folds[0].test]  # official format, labels as read
    (again,) = load_protocols(str(folder), ds)
    assert again == folds  # same name, same splits, same order
    write_split_folder(folder, folds, ds.labels)  # rewriting replaces the folder whole
    assert load_protocols(str(folder), ds) == [folds]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]
    # A folder named 10fold with other splits is not labelled as the 10fold protocol.
    (folder / "test_1.txt").write_text((folder / "test_1.txt").read_text().splitlines()[0] + "\n")
    (custom,) = load_protocols(str(folder), ds)
    assert {s.protocol for s in custom} == {"custom-10fold"}
