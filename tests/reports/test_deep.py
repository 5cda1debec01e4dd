"""Deep-track views: CNN rows beside the paper's, per-split run provenance, training-loss figure."""

import numpy as np

from reports import deep


def _record(split: str, protocol: str = "5fold", pc: float = 0.9, model: str = "mobilenet_v2") -> dict:
    return {"track": "cnn", "feature": model, "predictor": "cnn", "init": "imagenet", "recipe": "cpu",
            "protocol": protocol, "split": split, "metrics": {"pc": pc, "mae": 0.22, "rmse": 0.29},
            "git_commit": "abcdef0123456789",
            "cnn": {"device_name": "cpu: Test CPU", "threads": 2, "train_time_s": 500.0, "wall_time_s": 530.0,
                    "images_per_s": 70.4, "image_size": 184, "input_size": 160, "resumed_from_iteration": 0,
                    "loss_per_epoch": [0.4, 0.2, 0.1, 0.05]}}


def test_deep_tables_put_our_cnn_rows_beside_the_papers(tmp_path):
    records = [_record("1", pc=0.90), _record("2", pc=0.92), _record("1", "60-40", 0.88),
               {**_record("3", pc=0.91), "cnn": {**_record("3")["cnn"], "peak_rss_mib": 3456.7}},
               {"track": "handcrafted", "feature": "geom86", "predictor": "gr", "protocol": "5fold", "split": "1",
                "metrics": {"pc": 0.7, "mae": 0.4, "rmse": 0.5}}]
    md, tex, runs_md, _ = deep.render_deep_tables(records, tmp_path, provenance="test")
    text = md.read_text() + runs_md.read_text()
    assert "mobilenet_v2 (CNN, init=imagenet, recipe=cpu)" in text and "0.9100" in text  # mean of 3 folds
    assert "| 3457 " in runs_md.read_text() and "| —" in runs_md.read_text()  # peak RSS where recorded
    assert "ResNeXt-50 (paper, GPU)" in text and "0.8997" in text and "0.8777" in text
    assert "ResNet-50 (80/20 split)" in text and "0.9013" in text
    assert "cpu: Test CPU" in text and "70.4" in text and "184/160" in text and "`abcdef0123`" in text
    assert "geom86" not in text
    assert tex.read_text().count("\\toprule") == 1
    assert deep.render_deep_tables(records[-1:], tmp_path / "none") == []


def test_loss_figure_has_one_line_per_split():
    fig = deep.loss_figure(deep.cnn_records([_record("1"), _record("2"), _record("1", "60-40")]), "5fold")
    (ax,) = fig.axes
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.4, 0.2, 0.1, 0.05])
    assert deep.loss_figure([], "5fold") is None
