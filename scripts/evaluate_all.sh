#!/usr/bin/env bash
# The README's results table: each model and the ensemble on the six evaluation sets, one line per set.
#   python scripts/web_validation.py --out data/validation     # RAF-DB and AffectNet held-out parts, FER+ majority
#   bash scripts/evaluate_all.sh [WEIGHTS_DIR]                 # default: weights/
# Per set: accuracy of resnet50, vgg16 and the ensemble, then the ensemble's recall of disgust, fear, surprise.
set -euo pipefail
cd "$(dirname "$0")/.."
export FER_WEIGHTS_DIR=${1:-weights}
DATA=${FER_DATA:-../shared/data}
printf "%-20s %9s %9s %9s   %s\n" set resnet50 vgg16 ensemble "recall: disgust fear surprise"
for f in "$DATA/fer2013_publictest.npz" data/validation/ferplus_majority.npz "$DATA/expw_test.npz" \
  "$DATA/sfew2_test.npz" data/validation/rafdb_val.npz data/validation/affectnet_val.npz; do
  python -m fer_core evaluate "$f" 2>/dev/null | SET=$(basename "$f" .npz) python -c '
import json, os, sys
r = json.loads(sys.stdin.read())["models"]
recall = r["ensemble"]["per_class_recall"]
shown = " ".join("-" if recall[e] is None else f"{100 * recall[e]:.0f}%" for e in ("disgust", "fear", "surprise"))
accuracy = " ".join("%8.2f%%" % r[m]["accuracy"] for m in ("resnet50", "vgg16", "ensemble"))
print("%-20s %s   %s" % (os.environ["SET"], accuracy, shown))
'
done
