import pytest

from core.registry import DuplicateComponentError, Registry, UnknownComponentError
from features import FEATURES
from models import PREDICTORS


def make_registry():
    reg = Registry("widget")

    @reg.register("alpha")
    class Alpha:
        """An alpha widget.

        More text."""

        def __init__(self, size=1):
            self.size = size

    @reg.register("beta-two")
    class Beta:
        pass

    return reg, Alpha


def test_create_list_describe():
    reg, alpha = make_registry()
    assert reg.list() == ["alpha", "beta-two"]
    assert reg.list("b*") == ["beta-two"]
    obj = reg.create("alpha", size=3)
    assert isinstance(obj, alpha) and obj.size == 3
    assert reg.describe("alpha") == "An alpha widget."
    assert "alpha" in reg and "gamma" not in reg


def test_duplicate_name_raises():
    reg, _ = make_registry()
    with pytest.raises(DuplicateComponentError, match="already registered"):
        @reg.register("alpha")
        class Other:
            pass


def test_typo_suggests_closest_and_lists_valid():
    reg, _ = make_registry()
    with pytest.raises(UnknownComponentError) as err:
        reg.get("alpah")
    msg = str(err.value)
    assert "Did you mean 'alpha'?" in msg and "alpha, beta-two" in msg


def test_builtin_components_are_registered():
    assert {"geom86", "geom68", "gabor-kp", "gabor-grid", "lbp", "dlib-embed"} <= set(FEATURES.list())
    assert set(PREDICTORS.list()) >= {"lr", "gr", "svr", "xgb"}
    for name in FEATURES.list():
        assert FEATURES.describe(name), f"{name} has no one-line description"
