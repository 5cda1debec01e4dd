import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import mean_absolute_error, mean_squared_error

from benchmark.metrics import mae, pearson, rmse, score_all


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_scipy_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    t = rng.uniform(1, 5, 200)
    p = t + rng.normal(0, 0.5, 200)
    assert pearson(t, p) == pytest.approx(pearsonr(t, p).statistic, abs=1e-12)
    assert mae(t, p) == pytest.approx(mean_absolute_error(t, p), abs=1e-12)
    assert rmse(t, p) == pytest.approx(np.sqrt(mean_squared_error(t, p)), abs=1e-12)
    assert set(score_all(t, p)) == {"pc", "mae", "rmse"}


def test_metric_edge_cases():
    assert pearson([1, 2, 3], [2, 2, 2]) != pearson([1, 2, 3], [2, 2, 2])  # nan for constant prediction
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)
    assert mae([1, 2], [1, 2]) == 0
    with pytest.raises(ValueError):
        rmse([1, 2, 3], [1, 2])
