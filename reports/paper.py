"""Numbers reported by Liang et al. (ICPR 2018) for SCUT-FBP5500, stored as data.

The main tables (:mod:`reports.protocol_tables`) show these values beside ours (with the
difference ours - paper) wherever a pairing and protocol match.  Nothing here is
computed: every number is copied from the sources named in :data:`CITATION` and in
each entry's ``source``.

Protocol of the hand-crafted numbers
------------------------------------
The paper evaluates its CNNs under the two official settings (5-fold cross-validation and
the 60/40 split). Of its geometric baselines (Tables IV and V) it says (Sec. IV-A):
:data:`PAPER_PROTOCOL_SENTENCE`. Its folds are not published, so those rows are matched to our
``10fold`` protocol (our own stratified folds, not an official split; see
:mod:`data.protocols`). For its Gabor baselines (Table VI) the paper gives no fold count:
those rows are matched to both our official ``5fold`` and our ``10fold`` results. Each entry's
``compare_with`` names the protocols it is matched to and its ``protocol_note`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.metrics import METRICS
from data.protocols import TEN_FOLD

CITATION = (
    "L. Liang, L. Lin, L. Jin, D. Xie, M. Li, \"SCUT-FBP5500: A Diverse Benchmark Dataset for "
    "Multi-Paradigm Facial Beauty Prediction\", ICPR 2018, arXiv:1801.06345"
)
#: Short form used in table notes.
SHORT_CITATION = "Liang et al. 2018 (arXiv:1801.06345)"

GEOMETRIC_TABLE = "geometric rows of its Tables IV-V (geometric features with LR, GR, SVR)"
GABOR_TABLE = "Gabor rows of its Table VI (Gabor features with GR, SVR)"
CNN_5FOLD_TABLE = "CNN rows from its 5-fold cross-validation table (mean over the 5 folds)"
CNN_6040_TABLE = "CNN rows from its 60% training / 40% testing table"

#: The paper's sentence on the protocol of its geometric baselines (Sec. IV-A), verbatim.
PAPER_PROTOCOL_SENTENCE = (
    "the performance of different model are measured using pearson correlation coefficient (PC), maximum "
    "absolute error (MAE) and root mean square error (RMSE) after 10 folds cross validation"
)
#: Protocol name of the paper's hand-crafted rows whose protocol the paper does not state.
UNKNOWN_PROTOCOL = "unknown"

GEOMETRIC_PROTOCOL_NOTE = (
    f"Geometric rows: of them the paper (Sec. IV-A, Tables IV and V) says \"{PAPER_PROTOCOL_SENTENCE}\". Its folds are "
    "not published, so these rows are compared with our 10fold protocol (10-fold cross-validation over all "
    "images with our own stratified folds; not an official split) only. Our MAE is the mean absolute error."
)
GABOR_PROTOCOL_NOTE = (
    "Gabor rows: the paper (Table VI) does not state their protocol (no fold count), so they are compared "
    "with both our official 5fold and our 10fold results; read their Δ as indicative only."
)

INCONSISTENT_ROW_NOTE = (
    "The paper's Gabor (64 uniform samples) + SVR row (gabor-grid + svr: PC 0.8065, MAE 0.3976, "
    "RMSE 0.5126) is internally inconsistent: its PC would be the best hand-crafted result by far, yet "
    "its MAE and RMSE are worse than those of Gabor (86 keypoints) + GR (PC 0.7472, MAE 0.3554, "
    "RMSE 0.4599). Both cannot be right, so at least one of its numbers is likely a misprint; do not "
    "trust its Δ."
)

@dataclass(frozen=True)
class PaperEntry:
    """One row of numbers reported in the literature.

    Attributes
    ----------
    protocol : str
        The protocol the source used, in this project's vocabulary (``"5fold"``, ``"60-40"``,
        ``"10fold"`` for the paper's own 10-fold CV), :data:`UNKNOWN_PROTOCOL` where the source does
        not state it, or a descriptive name such as ``"80-20"`` for non-official reference entries.
    feature : str
        Feature name (hand-crafted) or model name (CNN), in this project's vocabulary.
    predictor : str
        ``"lr"``, ``"gr"``, ``"svr"`` or ``"cnn"``.
    pc, mae, rmse : float
        The reported Pearson correlation, mean absolute error and root mean squared error.
    source : str
        Where the numbers come from (paper and table).
    init : str
        ``"imagenet"`` for the paper's CNNs (all ImageNet-initialised); ``""`` otherwise.
    label : str
        The name the source uses for this row.
    official : bool
        False for reference entries that are not from the paper's tables (another source, another
        protocol); those are never matched to our results by :func:`paper_entry`.
    note : str
        Caveat to render under any table that shows this entry (empty if none).
    compare_with : tuple of str
        Our protocols this entry is matched to (empty: ``(protocol,)``).
    protocol_note : str
        Why it is matched to those protocols (rendered under every table that shows the entry).
    """

    protocol: str
    feature: str
    predictor: str
    pc: float
    mae: float
    rmse: float
    source: str
    init: str = ""
    label: str = ""
    official: bool = True
    note: str = ""
    compare_with: tuple[str, ...] = ()
    protocol_note: str = ""

    @property
    def matched_protocols(self) -> tuple[str, ...]:
        """Our protocols this entry is compared with."""
        return self.compare_with or (self.protocol,)

    def metric(self, name: str) -> float:
        """Return the reported value of metric ``name`` (``"pc"``, ``"mae"`` or ``"rmse"``)."""
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; expected one of {tuple(METRICS)}")
        return float(getattr(self, name))


def _geometric(predictor: str, label: str, values: tuple[float, float, float]) -> PaperEntry:
    pc, mae, rmse = values
    return PaperEntry(TEN_FOLD, "geom86", predictor, pc, mae, rmse, GEOMETRIC_TABLE, label=label,
                      protocol_note=GEOMETRIC_PROTOCOL_NOTE)


def _gabor(feature: str, predictor: str, label: str, values: tuple[float, float, float],
           note: str = "") -> PaperEntry:
    pc, mae, rmse = values
    return PaperEntry(UNKNOWN_PROTOCOL, feature, predictor, pc, mae, rmse, GABOR_TABLE, label=label, note=note,
                      compare_with=("5fold", TEN_FOLD), protocol_note=GABOR_PROTOCOL_NOTE)


def _cnn(protocol: str, model: str, label: str, values: tuple[float, float, float]) -> PaperEntry:
    pc, mae, rmse = values
    source = CNN_5FOLD_TABLE if protocol == "5fold" else CNN_6040_TABLE
    return PaperEntry(protocol, model, "cnn", pc, mae, rmse, source, init="imagenet", label=label)


#: Official-protocol entries of the paper, matched to our rows by :func:`paper_entry`.
ENTRIES: tuple[PaperEntry, ...] = (
    _geometric("lr", "Geometric + LR", (0.5948, 0.4289, 0.5531)),
    _geometric("gr", "Geometric + GR", (0.6738, 0.3914, 0.5085)),
    _geometric("svr", "Geometric + SVR", (0.6668, 0.3898, 0.5132)),
    _gabor("gabor-kp", "gr", "Gabor (86 keypoints) + GR", (0.7472, 0.3554, 0.4599)),
    _gabor("gabor-kp", "svr", "Gabor (86 keypoints) + SVR", (0.6691, 0.3891, 0.5065)),
    _gabor("gabor-grid", "gr", "Gabor (64 uniform samples) + GR", (0.6764, 0.4014, 0.5177)),
    _gabor("gabor-grid", "svr", "Gabor (64 uniform samples) + SVR", (0.8065, 0.3976, 0.5126),
           note=INCONSISTENT_ROW_NOTE),
    _cnn("5fold", "alexnet", "AlexNet", (0.8634, 0.2651, 0.3481)),
    _cnn("5fold", "resnet18", "ResNet-18", (0.8900, 0.2419, 0.3166)),
    _cnn("5fold", "resnext50", "ResNeXt-50", (0.8997, 0.2291, 0.3017)),
    _cnn("60-40", "alexnet", "AlexNet", (0.8298, 0.2938, 0.3819)),
    _cnn("60-40", "resnet18", "ResNet-18", (0.8513, 0.2818, 0.3703)),
    _cnn("60-40", "resnext50", "ResNeXt-50", (0.8777, 0.2518, 0.3325)),
)

#: Reference numbers that are not on an official protocol; shown for context only.
REFERENCE_ENTRIES: tuple[PaperEntry, ...] = (
    PaperEntry("80-20", "resnet50", "cnn", 0.9013, 0.2334, 0.3018,
               "seed write-up (blog): ResNet-50 on a single 80/20 split, not an official protocol",
               init="imagenet", label="ResNet-50 (80/20 split)", official=False),
)

_BY_KEY: dict[tuple[str, str, str], PaperEntry] = {
    (protocol, e.feature, e.predictor): e for e in ENTRIES for protocol in e.matched_protocols
}


@dataclass(frozen=True)
class SubsetEntry:
    """Per-subset numbers the paper reports for one pairing (PC only where that is all it gives).

    Attributes
    ----------
    protocol : str
        Our protocol these numbers are compared with.
    feature, predictor : str
        The pairing in this project's vocabulary.
    pc : dict of str to float
        PC by subset code (``AF``, ``AM``, ``CF``, ``CM``), as printed.
    source : str
        Where the numbers come from.
    """

    protocol: str
    feature: str
    predictor: str
    pc: dict[str, float]
    source: str


#: The paper's per-subset numbers. Table IV's PC of geometric features + GR by subset, as quoted in
#: issue 12 (AF .7057, AM .6923, CF .7263, CM .63); Table IV's other columns (MAE, RMSE, other
#: predictors, if any) were not available to us and are not filled in.
SUBSET_ENTRIES: tuple[SubsetEntry, ...] = (
    SubsetEntry(TEN_FOLD, "geom86", "gr", {"AF": 0.7057, "AM": 0.6923, "CF": 0.7263, "CM": 0.63},
                "its Table IV (geometric features + Gaussian regression, PC by subset)"),
)


def subset_entry(protocol: str, feature: str, predictor: str) -> SubsetEntry | None:
    """The paper's per-subset entry for a pairing and protocol, or None."""
    for entry in SUBSET_ENTRIES:
        if (entry.protocol, entry.feature, entry.predictor) == (protocol, feature, predictor):
            return entry
    return None


def paper_entry(protocol: str, feature: str, predictor: str, init: str | None = None) -> PaperEntry | None:
    """Return the official-protocol entry for a pairing, or None.

    Parameters
    ----------
    protocol, feature, predictor : str
        The pairing in this project's vocabulary.
    init : str or None
        When given, the entry must have the same initialisation (``""`` for hand-crafted
        rows, ``"imagenet"`` for the paper's CNNs); scratch-trained CNNs match nothing.

    Returns
    -------
    PaperEntry or None
    """
    entry = _BY_KEY.get((protocol, feature, predictor))
    if entry is None or (init is not None and init != entry.init):
        return None
    return entry


def missing_geometric_note() -> str:
    """Note for a comparison without geometric 10fold rows: the paper's sentence, and why they are absent."""
    return (f"The paper's geometric rows (Tables IV and V) were measured, in its words (Sec. IV-A), \"after 10 folds "
            f"cross validation\" (\"{PAPER_PROTOCOL_SENTENCE}\"), so they are compared with our {TEN_FOLD} results "
            f"only; these results have no {TEN_FOLD} rows for them (run with --protocol {TEN_FOLD}).")
