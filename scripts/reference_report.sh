#!/usr/bin/env bash
# The committed reference report (reports/reference), stage by stage, on the full 5500 images.
#
#   FBP_DATA_DIR=/path/to/SCUT-FBP5500_v2 bash scripts/reference_report.sh [STAGE ...]
#
# Stages (default: all, in this order): handcrafted, cnn-mobilenet, 10fold, cnn-efficientnet,
# fusion, report (which also builds the CNN + fusion ensemble from the stored records). Every stage is one project command into the same store; a rerun skips finished
# records (and a killed CNN split resumes from its last epoch), so the script can be restarted at
# any point with nothing lost. The fusion stage's members come from
# reports/fusion_search/summary.md (python -m tools.fusion_search, training part only).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-reports/reference}
SINGLES=geom86,geom68,gabor-kp,gabor-grid,lbp,dlib-embed,mobilenet_v2-pooled,efficientnet_lite0-pooled
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(handcrafted cnn-mobilenet 10fold cnn-efficientnet fusion report)

fusion_args() {  # the fused row and its predictor stack, read from the committed fusion search
  "$PY" -m tools.fusion_search --print-run-args --out reports/fusion_search
}
deep_ensemble() {  # every CPU-trained CNN + the fused row (official protocols only: no CNN on 10fold)
  "$PY" -m tools.fusion_search --print-deep-ensemble --out reports/fusion_search
}

for stage in "${stages[@]}"; do
  echo "== $(date -u +%FT%TZ) stage $stage"
  case $stage in
    handcrafted) "$PY" run_benchmark.py --protocol all --jobs 2 --out "$OUT" --quiet --models none \
                   --features "$SINGLES" ;;
    cnn-mobilenet) "$PY" run_benchmark.py --protocol all --features none --models mobilenet_v2 --device cpu \
                     --out "$OUT" --quiet ;;
    10fold) "$PY" run_benchmark.py --protocol 10fold --jobs 2 --out "$OUT" --quiet --models none \
              --features "$SINGLES" ;;
    cnn-efficientnet) "$PY" run_benchmark.py --protocol all --features none --models efficientnet_lite0 \
                        --device cpu --out "$OUT" --quiet ;;
    fusion) eval "set -- $(fusion_args)"
            "$PY" run_benchmark.py --protocol all --jobs 2 --out "$OUT" --quiet --models none "$@"
            "$PY" run_benchmark.py --protocol 10fold --jobs 2 --out "$OUT" --quiet --models none "$@" ;;
    report) "$PY" run_benchmark.py report --out "$OUT" --ensemble "$(deep_ensemble)" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
echo "== $(date -u +%FT%TZ) done"
