"""Training speed (images/s) per backbone, float32 against mixed_bfloat16, on random 48x48 batches.

    python benchmarks/train_speed.py [--steps 8] [--batch 64]

Each configuration runs in its own process, because a Keras dtype policy is global.
"""

import argparse
import subprocess
import sys

CHILD = r"""
import json, sys, time, numpy as np, keras
sys.path.insert(0, ".")
from fer_core.models.nets import build_classifier
backbone, policy, steps, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
keras.mixed_precision.set_global_policy(policy)
m = build_classifier(backbone=backbone)
m.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy")
x = np.random.rand(batch, 48, 48, 3).astype("float32")
y = np.eye(7, dtype="float32")[np.random.randint(0, 7, batch)]
m.train_on_batch(x, y); m.train_on_batch(x, y)  # warm-up (graph tracing)
t = time.perf_counter()
for _ in range(steps):
    m.train_on_batch(x, y)
print(json.dumps({"backbone": backbone, "policy": policy, "img_per_s": round(steps * batch / (time.perf_counter() - t), 1)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", default="resnet50,vgg16")
    args = ap.parse_args()
    for backbone in args.models.split(","):
        for policy in ("float32", "mixed_bfloat16"):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, backbone, policy, str(args.steps), str(args.batch)],
                capture_output=True,
                text=True,
            )
            print(out.stdout.strip().splitlines()[-1] if out.returncode == 0 else out.stderr[-2000:], flush=True)


if __name__ == "__main__":
    main()
