"""Train on a lent GPU machine (Keras 3 on JAX) within the device tool's limits.

The device tool sends the working tree (64 MiB at most, the shipped weights included: move them aside
for the call), runs one command (10 min at most) and returns at most 8 files of 16 MiB, 64 MiB
together. The machine has JAX, NumPy and OpenCV but not Keras. Hence four steps:

  pack     (here)   in two folders, each small enough to travel in one call: .device/fer/ holds FER-2013
                    Training and PublicTest as JPEG bytes (q95: the source pixels are decoded JPEGs, so this
                    moves them by about 0.05 grey levels), the FER+ votes and the wheels of Keras and the two
                    packages it needs that the machine lacks; .device/wild/ the in-the-wild faces as training
                    reads them: ExpW, SFEW (with its re-cropped full frames) and the 48x48 crops of RAF-DB and
                    AffectNet (fer_core.lab.web_faces, validation parts included). Both git-ignored.
  run      (there)  install the wheels, unpack the faces, train the models side by side on the GPU until
                    a deadline (`python -m fer_core train` with the in-the-wild mix, KERAS_BACKEND=jax), then
                    `collect` the first
  collect  (there)  one model's best.npz in parts of at most 16,000,000 bytes plus a tar of its log,
                    history and state, under $OUT: both models do not fit in one reply
  join     (here)   the fetched parts -> runs_gpu/MODEL/best.npz and its log, ready for `python -m fer_core card`

README "Training on a lent GPU machine" gives the calls.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / ".device"
WHEELS = ["keras==3.15.1", "namex", "optree"]  # the machine's image has Keras' other needs
PART_BYTES = 16_000_000
WORK = Path("/tmp/fer_gpu")


# What the in-the-wild mix trains on, as `python -m fer_core train --mix` reads it (docs/training_log.md).
MIX = "expw=2,sfew=2,rafdb=1,affectnet=1"
FERPLUS_MIX = "0.7"
CROPS = ("rafdb_crops48", "affectnet_crops48", "sfew_recrop")  # training's cached crops (runs/crops/)


def pack(args) -> int:
    from fer_core.lab.training import load_wild_training, load_wild_validation

    pack_dir = Path(args.pack_dir)
    data = Path(args.data)
    fer, wild = pack_dir / "fer" / "data", pack_dir / "wild" / "data"
    fer.mkdir(parents=True, exist_ok=True)
    wild.mkdir(parents=True, exist_ok=True)
    for name in ("fer2013_train", "fer2013_publictest"):
        pack_faces(data / f"{name}.npz", fer / f"{name}.jpg.npz", quality=args.quality)
    shutil.copy(data / "ferplus_train.npz", fer / "ferplus_train.npz")
    # the crops training caches (made here, with the product's detector, which the GPU machine lacks)
    crops = Path(args.crops)
    load_wild_training(data, {"sfew": 1, "rafdb": 1, "affectnet": 1}, seed=0, cache_dir=crops)
    load_wild_validation(data, cache_dir=crops, web=True)
    for name in ("expw_train", "expw_test", "sfew2_train", "sfew2_test"):
        pack_faces(data / f"{name}.npz", wild / f"{name}.jpg.npz", quality=args.quality)
    for name in CROPS:
        pack_faces(crops / f"{name}.npz", wild / f"{name}.jpg.npz", quality=args.quality)
    if not args.no_wheels:
        download_wheels(pack_dir / "fer" / "wheels", args.python)
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    tree = sum((ROOT / p).stat().st_size for p in tracked.decode().split("\0") if p and (ROOT / p).is_file())
    weights = sum(p.stat().st_size for p in (ROOT / "weights").glob("*.npz"))
    for part in ("fer", "wild"):
        packed = sum(f.stat().st_size for f in (pack_dir / part).rglob("*") if f.is_file())
        print(
            f"{pack_dir / part}: {packed / 2**20:.1f} MiB; with the tracked files but the weights "
            f"{(packed + tree - weights) / 2**20:.1f} MiB of the 64 MiB a call may send"
        )
    return 0


def download_wheels(wheel_dir: Path, python: str) -> None:
    wheel_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--implementation",
            "cp",
            "--platform",
            "manylinux_2_28_x86_64",
            "--platform",
            "manylinux_2_17_x86_64",
            "--platform",
            "manylinux2014_x86_64",
            "-d",
            str(wheel_dir),
            *WHEELS,
        ],
        check=True,
    )


def pack_faces(src: Path, dst: Path, *, quality: int = 95) -> None:
    """A face .npz with its 48x48 faces (`x`) as JPEG bytes (`jpeg`, `ends`) and the per-face arrays training
    needs (labels, csv rows, duplicate flags); not the large ones it does not (SFEW's full frames)."""
    import cv2

    d = np.load(src)
    blobs = [cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes() for img in d["x"]]
    keep = ("y", "row", "near_dup_in_train", "dup_conflict")
    extra = {k: d[k] for k in keep if k in d.files and k != "y"}
    np.savez(
        dst,
        jpeg=np.frombuffer(b"".join(blobs), np.uint8),
        ends=np.cumsum([len(b) for b in blobs]),
        **({"y": d["y"]} if "y" in d.files else {}),
        **extra,
    )


def unpack_faces(src: Path, dst: Path, crops: Path | None = None) -> None:
    """Every *.jpg.npz in `src` back to a face .npz (x uint8 (N, 48, 48), y, ...) in `dst` (training's cached
    crops in `crops`); other .npz files are copied as they are."""
    import cv2

    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.glob("*.npz")):
        if not f.name.endswith(".jpg.npz"):
            shutil.copy(f, dst / f.name)
            continue
        name = f.name.replace(".jpg.npz", "")
        target = (crops if crops and name in CROPS else dst) / f"{name}.npz"
        target.parent.mkdir(parents=True, exist_ok=True)
        d = dict(np.load(f))  # read each array once (an NpzFile re-reads on every access)
        jpeg, ends = d.pop("jpeg"), d.pop("ends")
        starts = np.concatenate([[0], ends[:-1]])
        x = np.stack([cv2.imdecode(jpeg[s:e], cv2.IMREAD_GRAYSCALE) for s, e in zip(starts, ends)])
        np.savez(target, x=x, **d)


def run(args) -> int:
    work, pack_dir = Path(args.work), Path(args.pack_dir)
    site = work / "site"
    wheels = sorted((pack_dir / "fer" / "wheels").glob("*.whl"))
    if wheels:  # the GPU machine lacks Keras; a rehearsal here has it
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                "--no-deps",
                "--no-compile",
                "--target",
                str(site),
                *map(str, wheels),
            ],
            check=True,
        )
    for part in ("fer", "wild"):
        unpack_faces(pack_dir / part / "data", work / "data", crops=work / "runs" / "crops")
    wild = (work / "data" / "expw_train.npz").exists()
    env = dict(
        os.environ,
        KERAS_BACKEND=args.backend,
        PYTHONPATH=f"{site}:{ROOT}",
        PYTHONUNBUFFERED="1",
        XLA_PYTHON_CLIENT_MEM_FRACTION=f"{0.9 / len(args.models):.2f}",
    )  # share the GPU's memory
    procs = []
    for spec in args.models:
        model, _, size = spec.partition(":")
        out = work / "runs"
        cmd = [
            sys.executable,
            "-m",
            "fer_core",
            "train",
            "--model",
            model,
            "--data",
            str(work / "data"),
            "--out",
            str(out),
            "--epochs",
            str(args.epochs),
            "--batch-size",
            str(args.batch_size),
            "--schedule",
            "cosine",
            "--bf16",
            "--patience",
            str(args.epochs),
            "--backbone-size",
            size or "48",
            "--limit-train",
            str(args.limit_train),
            "--limit-val",
            str(args.limit_val),
            *(["--mix", MIX, "--ferplus-mix", FERPLUS_MIX, "--select", "mean", "--photometric"] if wild else []),
        ]
        (out / model).mkdir(parents=True, exist_ok=True)
        log = open(out / model / "train.log", "w")
        procs.append((model, subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), log))
        print("started:", " ".join(cmd[1:]), flush=True)
    deadline = time.time() + args.minutes * 60
    while any(p.poll() is None for _, p, _ in procs) and time.time() < deadline:
        time.sleep(20)
        for model, _, _ in procs:  # the last epoch line of each, as progress
            lines = [
                ln for ln in (work / "runs" / model / "train.log").read_text().splitlines() if ln.startswith("epoch ")
            ]
            print(f"{time.strftime('%H:%M:%S')} {model}: {lines[-1] if lines else 'starting'}", flush=True)
    for model, p, log in procs:
        if p.poll() is None:
            p.terminate()  # best.npz is written atomically at each epoch's end, so stopping loses nothing kept
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()
        print(f"{model}: exit {p.returncode}", flush=True)
    return collect_model(args.models[0].partition(":")[0], work)


def collect_model(model: str, work: Path = WORK) -> int:
    split_run(work / "runs" / model, Path(os.environ.get("OUT", work / "out")))
    print(f"{model}: best.npz and its run files are under $OUT", flush=True)
    return 0


def split_run(run_dir: Path, out: Path, *, part_bytes: int = PART_BYTES) -> None:
    """run_dir/best.npz as MODEL.best.partK files of at most part_bytes, the rest as MODEL.run.tar.

    The tar comes first so that a run that failed before its first epoch still sends its log back.
    """
    model = run_dir.name
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / f"{model}.run.tar", "w") as tar:
        for name in ("train.log", "history.csv", "state.json", "config.json"):
            if (run_dir / name).exists():
                tar.add(run_dir / name, arcname=name)
    data = (run_dir / "best.npz").read_bytes()
    for k in range(0, len(data), part_bytes):
        (out / f"{model}.best.part{k // part_bytes}").write_bytes(data[k : k + part_bytes])


def join(args) -> int:
    for run_dir in join_runs(Path(args.files_at), Path(args.out)):
        print(f"{run_dir}/best.npz rebuilt")
    return 0


def join_runs(src: Path, out: Path) -> list[Path]:
    """The reverse of split_run for every MODEL.run.tar under src; returns the run folders made."""
    made = []
    for tar_path in sorted(src.rglob("*.run.tar")):
        model = tar_path.name.split(".")[0]
        run_dir = out / model
        run_dir.mkdir(parents=True, exist_ok=True)
        parts = sorted(src.rglob(f"{model}.best.part*"), key=lambda p: int(p.name.rsplit("part", 1)[1]))
        numbers = [int(p.name.rsplit("part", 1)[1]) for p in parts]
        if numbers != list(range(len(numbers))) or not numbers:
            raise ValueError(f"{model}: parts {numbers} under {src}; expected 0 to N-1 (fetch every file of the reply)")
        (run_dir / "best.npz").write_bytes(b"".join(p.read_bytes() for p in parts))
        with tarfile.open(tar_path) as tar:
            tar.extractall(run_dir, filter="data")
        with np.load(run_dir / "best.npz") as check:  # a damaged part fails here, not later in `card`
            [check[k] for k in check.files]
        made.append(run_dir)
    return made


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="step", required=True)
    a = sub.add_parser("pack")
    a.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    a.add_argument("--quality", type=int, default=95)
    a.add_argument("--python", default="3.12", help="the device's Python version (for the wheels)")
    a.add_argument("--pack-dir", default=str(PACK))
    a.add_argument("--crops", default="runs_wild/crops", help="training's crop cache (made here if missing)")
    a.add_argument("--no-wheels", action="store_true", help="leave the Keras wheels out (a rehearsal here)")
    a.set_defaults(func=pack)
    r = sub.add_parser("run")
    r.add_argument("--models", nargs="+", default=["resnet50:96", "vgg16"], help="MODEL[:BACKBONE_SIZE] ...")
    r.add_argument("--epochs", type=int, default=60, help="cosine schedule length for each model")
    r.add_argument("--batch-size", type=int, default=128)
    r.add_argument("--minutes", type=float, default=8.0, help="stop training after this long")
    r.add_argument("--limit-train", type=int, default=0, help="only N training faces (a smoke test on the CPU)")
    r.add_argument("--limit-val", type=int, default=0)
    r.add_argument("--backend", default="jax", help="Keras backend (tensorflow for a rehearsal on this machine)")
    r.add_argument("--pack-dir", default=str(PACK))
    r.add_argument("--work", default=str(WORK))
    r.set_defaults(func=run)
    c = sub.add_parser("collect")
    c.add_argument("--model", required=True)
    c.add_argument("--work", default=str(WORK))
    c.set_defaults(func=lambda a: collect_model(a.model, Path(a.work)))
    j = sub.add_parser("join")
    j.add_argument("--files-at", required=True, help="the folder the device tool put the fetched files in")
    j.add_argument("--out", default="runs_gpu")
    j.set_defaults(func=join)
    args = p.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
