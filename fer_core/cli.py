"""Command line: ``python -m fer_core {analyze,evaluate,models,train,card} ...``.

Results go to stdout as JSON (one object per line for ``analyze``); progress and
warnings go to stderr, so stdout can be piped into other tools.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer_core import settings
from fer_core.constants import KEEP_CHOICES, MODEL_NAMES, MODELS, OPINIONS, REVIEW_LABELS, ROLES, JobStatus, Keep
from fer_core.trust.access import ACCOUNT_ROLES

# A CPU without bfloat16 instructions emulates it about 20 times slower than float32 (docs/training_log.md).


def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 itself (x86 AVX-512 BF16 or AMX; on Linux, from /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_bf16", "amx_bf16"))


def _quiet_tensorflow() -> None:
    settings.quiet_tensorflow()


def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)


def _models_arg(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


def cmd_analyze(args) -> int:
    from fer_core.analyzer import Analyzer
    from fer_core.config import AnalyzerConfig
    from fer_core.models.registry import WeightsError
    from fer_core.vision.media import MediaError

    overrides = {"fps": args.fps} if args.fps else {}
    if args.models:
        overrides["models"] = _models_arg(args.models)
    if args.min_face:
        overrides["min_face_px"] = args.min_face
    analyzer = Analyzer(AnalyzerConfig.from_env(**overrides))
    try:
        analyzer.load_models()  # fail once, clearly, before touching any file
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def emit(records: list[dict]) -> None:  # printed as found: memory stays flat on long videos
        for face in records:
            print(json.dumps(face, ensure_ascii=False), flush=True)

    failed = 0
    for i, path in enumerate(args.files, 1):
        print(f"({i}/{len(args.files)}) {path}", file=sys.stderr, flush=True)
        try:
            result = analyzer.analyze_file(path, on_progress=_progress, on_faces=emit)
        except MediaError as exc:
            failed += 1
            print(json.dumps({"file": path, "error": str(exc)}, ensure_ascii=False), flush=True)
            continue
        except Exception as exc:  # one bad file must never stop the others
            failed += 1
            print(
                json.dumps(
                    {"file": path, "error": f"unexpected error: {type(exc).__name__}: {exc}"}, ensure_ascii=False
                ),
                flush=True,
            )
            continue
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if not result.face_count:
            print(json.dumps({"file": path, "faces": 0}, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def cmd_evaluate(args) -> int:
    import numpy as np

    from fer_core.analyzer import Analyzer
    from fer_core.config import AnalyzerConfig
    from fer_core.constants import FACE_SIZE
    from fer_core.lab.evaluation import load_labelled
    from fer_core.models.metrics import metrics
    from fer_core.vision.crop import to_face_size

    overrides = {"models": _models_arg(args.models)} if args.models else {}
    analyzer = Analyzer(AnalyzerConfig.from_env(**overrides))
    analyzer.load_models()
    x, y, extras = load_labelled(args.data)
    if args.exclude:
        drop = extras[args.exclude].astype(bool)
        x, y = x[~drop], y[~drop]
    found = np.ones(len(x), bool)
    if args.detect:
        detector = analyzer.detector()
        crops = np.zeros((len(x), FACE_SIZE, FACE_SIZE), np.uint8)
        for i, img in enumerate(x):
            bgr = img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
            faces = detector.detect(bgr)
            if faces:
                crops[i] = analyzer.crop(bgr, max(faces, key=lambda f: f.w * f.h))
            else:
                found[i] = False
            if i % 200 == 199:
                _progress((i + 1) / len(x), f"detected faces in {i + 1} of {len(x)} images")
    else:
        crops = to_face_size(x)
    probs = analyzer.classify(crops)
    out = {"n": int(len(y)), "detected": int(found.sum()), "models": {}}
    for name, p in probs.items():
        pred = np.where(found, p.argmax(axis=1), -1)
        out["models"][name] = metrics(y, p, pred=pred)
    if args.mixes:
        from fer_core.statistics import quantify

        shipped = quantify.shipped(analyzer.config.weights_dir)
        if shipped is None:
            print("error: weights/validation_probs.npz is missing (scripts/validation_probs.py)", file=sys.stderr)
            return 1
        keep = ~np.isin(shipped["hash"], quantify.face_hashes(crops))  # never corrected with DATA's own faces
        correctors = {m: quantify.Corrector(quantify.reference_of(shipped, m, keep=keep)) for m in probs}
        out["mixes"] = quantify.mixes(
            probs, y, correctors, sessions=args.mixes, size=args.mix_size, seed=args.seed, found=found
        )
        out["mixes_reference"] = {"faces": int(keep.sum()), "left_out_as_in_data": int((~keep).sum())}
    print(json.dumps(out))
    return 0


def cmd_models(args) -> int:
    from fer_core.models.registry import sha256, spec

    rows = []
    for name in MODEL_NAMES:
        s = spec(name)
        card = s.card()
        exists = s.weights_file.is_file()
        rows.append(
            {
                "name": name,
                "params": s.params,
                "weights_file": str(s.weights_file),
                "weights_present": exists,
                "sha256": sha256(s.weights_file) if exists else None,
                "version": s.version,
                "preprocessing": s.preprocessing,
                "backbone_size": s.backbone_size,
                "val_accuracy": card.get("publictest", {}).get("accuracy"),
                "val_accuracy_without_near_dups": card.get("publictest_without_near_dups", {}).get("accuracy"),
                "expw_test_accuracy": card.get("expw_test", {}).get("accuracy"),
                "sfew_test_accuracy": card.get("sfew2_test", {}).get("accuracy"),
            }
        )
    print(json.dumps(rows, indent=2))
    return 0


def cmd_card(args) -> int:
    from fer_core.lab.modelcard import write_card

    card = write_card(model=args.model, weights=args.weights, data_dir=args.data, run_dir=args.run, notes=args.notes)
    print(json.dumps(card, indent=2))
    return 0


def cmd_ingest(args) -> int:
    from datetime import datetime

    from fer_core import jobs, service
    from fer_core.analyzer import Analyzer
    from fer_core.config import AnalyzerConfig
    from fer_core.models.registry import WeightsError
    from fer_core.service import IngestSummary, ingest

    try:
        recorded_at = datetime.fromisoformat(args.recorded_at) if args.recorded_at else None
    except ValueError:
        print(
            f"error: --recorded-at must be an ISO date or date-time, e.g. 2026-11-28T14:30; "
            f"received {args.recorded_at!r}",
            file=sys.stderr,
        )
        return 2
    overrides = {"fps": args.fps} if args.fps else {}
    engine = _database()
    details = dict(
        session_name=args.session,
        recorded_at=recorded_at,
        participant=args.participant,
        tags=_models_arg(args.tags) if args.tags else [],
        notes=args.notes,
        consent=args.consent,
        keep=args.keep,
    )
    if jobs.broker_url():  # queue workers do the analysis
        from fer_core.trust import access, audit

        access.require("upload")
        session_id, job_ids = jobs.submit(args.files, engine=engine, **details)
        audit.record(engine, "upload", session_id=session_id, detail={"files": [Path(f).name for f in args.files]})
        service.dispatch(job_ids, engine=engine)
        if args.no_wait:
            print(json.dumps({"session_id": session_id, "jobs": job_ids}))
            return 0
        print(f"{len(job_ids)} job(s) queued for the workers at {settings.masked(jobs.broker_url())}", file=sys.stderr)
        files = jobs.wait(job_ids, engine=engine, on_progress=_progress)
        summary = IngestSummary(session_id=session_id, files=files)
        for f, name in zip(summary.files, args.files):
            f.file = Path(name).name
    else:
        try:
            summary = ingest(
                args.files,
                engine=engine,
                analyzer=Analyzer(AnalyzerConfig.from_env(**overrides)),
                on_progress=_progress,
                **details,
            )
        except WeightsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(json.dumps(summary.to_dict(), ensure_ascii=False))
    return 0 if summary.ok else 1


def cmd_prepare(args) -> int:
    """Convert the shipped weights to LiteRT files once (scripts/install.sh runs this); the default engine,
    OpenVINO, and the LiteRT interpreter both run these files."""
    from fer_core.models.engines import lite_file, litert_available, openvino_available
    from fer_core.models.registry import WeightsError

    if not (openvino_available() or litert_available()):
        print("neither openvino nor ai-edge-litert is installed: inference uses Keras (slower start)", file=sys.stderr)
        return 0
    from fer_core.config import AnalyzerConfig

    int8 = args.int8 or AnalyzerConfig.from_env().engine == "litert-int8"
    try:
        for name in _models_arg(args.models) if args.models else MODEL_NAMES:
            print(json.dumps({"model": name, "litert_file": str(lite_file(name))}), flush=True)
            if int8:
                print(json.dumps({"model": name, "litert_int8_file": str(lite_file(name, int8=True))}), flush=True)
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_worker(args) -> int:
    from fer_core.worker import run_worker

    run_worker(name=args.name, threads=args.threads, loglevel=args.loglevel)
    return 0


def cmd_jobs(args) -> int:
    from fer_core import jobs, service
    from fer_core.storage.queries import jobs_overview

    engine = _database()
    if args.retry:
        from fer_core.trust import access, audit

        access.require("analyse")
        queued = jobs.retry(args.retry, engine=engine)
        if queued:
            service.dispatch(queued, engine=engine)
            audit.record(engine, "analyse again", detail={"jobs": queued})
        print(json.dumps({"queued_again": queued}))
        return 0 if len(queued) == len(args.retry) else 1
    table = jobs_overview(engine, status=args.status, limit=args.limit)
    print(table.to_json(orient="records", date_format="iso", lines=True))
    return 0


def cmd_delete_session(args) -> int:
    from fer_core import service

    engine = _database()
    session_id = _session_id(engine, args.session)
    service.delete_session(session_id, engine=engine)
    print(json.dumps({"deleted": args.session}, ensure_ascii=False))
    return 0


class CommandError(Exception):
    """A mistake in what was typed: ``main`` prints it as one line and exits 1."""


def _database():
    """The configured database, its schema brought up to date."""
    from fer_core.storage.db import make_engine, upgrade

    engine = make_engine()
    upgrade(engine)
    return engine


def _session_id(engine, name: str) -> int:
    from fer_core.storage.queries import sessions_overview

    ids = sessions_overview(engine).set_index("name")["id"]
    if name not in ids:
        raise CommandError(f"no session named {name!r}")
    return int(ids[name])


def cmd_markers(args) -> int:
    from fer_core import service

    engine = _database()
    session_id = _session_id(engine, args.session)
    try:
        result = service.import_markers(session_id, Path(args.file), engine=engine)
    except (OSError, ValueError) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 1
    for problem in result["problems"]:  # not imported, and said so
        print(f"not imported: {problem}", file=sys.stderr)
    print(json.dumps({"imported": result["imported"]}))
    return 0


def cmd_summary(args) -> int:
    from fer_core import service
    from fer_core.statistics.study import Baseline

    engine = _database()
    session_id = _session_id(engine, args.session)
    try:
        baseline = (
            Baseline(segment=args.baseline, first_s=args.baseline_first_s)
            if args.baseline is not None or args.baseline_first_s is not None
            else None
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    records = service.session_summary(
        session_id,
        by=args.by,
        engine=engine,
        model=args.model,
        baseline=baseline,
        correct=not args.raw,
        everyone=args.everyone,
    )
    counts = "everyone" if args.everyone or args.by == "person" else "participants"
    if args.by == "session" and not records:
        records = [{"people": 0, "readings": 0, "shares": {}, "ci95": {}}]
    for record in records:
        print(json.dumps({"session": args.session, "counts": counts, **record}, ensure_ascii=False))
    if counts == "participants" and not any(r["readings"] for r in records):
        print("note: no participant in this session has a reading: add --everyone, or set roles", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    """Two sessions compared as the Compare page does: one JSON line per measure."""
    from fer_core import service

    engine = _database()
    ids = []
    for name in args.sessions:
        ids.append(_session_id(engine, name))
    table = service.compare_groups(
        "sessions", ids[0], ids[1], engine=engine, model=args.model, correct=not args.raw, everyone=args.everyone
    )
    if table is None:
        who = "reading" if args.everyone else "participant's reading (add --everyone to count everyone seen)"
        print(f"error: one of the two sessions has no {who}", file=sys.stderr)
        return 1
    for row in table.itertuples():
        bound = [None if v != v or abs(v) == float("inf") else round(float(v), 6) for v in (row.low, row.high)]
        record = {
            "measure": row.measure,
            "a": round(float(row.a), 6),
            "b": round(float(row.b), 6),
            "diff": round(float(row.difference), 6),
            "ci95": bound,  # [null, null]: no interval (too few people for any difference to be rejected)
            "p": None if row.p != row.p else round(float(row.p), 6),
            "people": [table.attrs["people_a"], table.attrs["people_b"]],
            "counts": table.attrs["counts"],
            "shares": table.attrs.get("correction"),
        }
        print(json.dumps(record, ensure_ascii=False))
    if table.attrs["units"] == "people" and min(table.attrs["people_a"], table.attrs["people_b"]) < 10:
        from fer_core.statistics.study import few_people_warning

        print("note: " + few_people_warning(table.attrs["people_a"], table.attrs["people_b"]), file=sys.stderr)
    return 0


def cmd_review(args) -> int:
    import getpass

    from fer_core import service

    engine = _database()
    if args.review_command == "set":
        try:
            service.review_faces(
                [(args.face_id, args.label)], reviewer=args.reviewer or getpass.getuser(), engine=engine
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(json.dumps({"face": args.face_id, "review": args.label}))
        return 0
    session_id = None
    if args.session is not None:
        session_id = _session_id(engine, args.session)
    if args.review_command == "list":
        for face in service.list_faces(engine=engine, session_id=session_id):
            print(json.dumps(face), flush=True)
        return 0
    if args.review_command == "export":
        data = service.export_reviews(engine=engine, session_id=session_id, tag=args.tag, crops=not args.no_crops)
        Path(args.out).write_bytes(data)
        print(json.dumps({"out": args.out, "bytes": len(data)}))
        return 0
    print(json.dumps(service.review_accuracy(engine=engine, session_id=session_id, tag=args.tag)))
    return 0


def cmd_report(args) -> int:
    from fer_core import service

    engine = _database()
    session_id = _session_id(engine, args.session)
    data = service.report(session_id, engine=engine, fmt=args.format)
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        print(f"error: {args.out}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"out": args.out, "format": args.format, "bytes": len(data)}))
    return 0


def cmd_adapt(args) -> int:
    from fer_core import service

    engine = _database()
    if args.use or args.original:
        try:
            service.choose_adapted(args.tag, None if args.original else args.use, engine=engine)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(json.dumps({"tag": args.tag, "analysed_with": args.use or "original"}))
        return 0
    try:
        card = service.adapt(args.tag, engine=engine, method=args.method)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    keys = ("version", "method", "chosen_because", "verdict", "cv_accuracy", "baseline_accuracy", "folds", "n")
    print(json.dumps({k: card[k] for k in keys}))
    if card["verdict"].startswith("worse"):
        print(f"warning: {card['version']} is {card['verdict']}", file=sys.stderr)
    return 0


def cmd_hash_password(args) -> int:
    """Ask for a password twice (or read one line from a pipe) and print the variable that sets it."""
    import getpass

    from fer_core.trust.login import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Dashboard password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("error: use at least 8 characters", file=sys.stderr)
        return 1
    print(f"FER_DASHBOARD_PASSWORD_HASH='{hash_password(password)}'")
    return 0


def _train_config(args):
    from fer_core.lab.training import TrainConfig

    bf16 = (MODELS[args.model].bf16_faster and cpu_has_bfloat16()) if args.bf16 is None else args.bf16
    return TrainConfig(
        model=args.model,
        data_dir=args.data,
        out_dir=args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        class_weight_power=args.class_weight_power,
        ferplus_mix=args.ferplus_mix,
        label_smoothing=args.label_smoothing,
        mixed_bfloat16=bf16,
        patience=args.patience,
        limit_train=args.limit_train,
        limit_val=args.limit_val,
        seed=args.seed,
        init_weights=args.init_weights,
        schedule=args.schedule,
        backbone_size=args.backbone_size,
        mix=_mix_arg(args.mix),
        optimizer=args.optimizer,
        weight_decay=args.weight_decay,
        photometric=args.photometric,
        select=args.select,
        train_part=args.train_part,
        epoch_faces=args.epoch_faces,
    )


def cmd_train(args) -> int:
    if args.threads:
        settings.use_threads(args.threads)
    from fer_core.lab.training import resumed_config, train

    cfg = _train_config(args)
    if args.resume:
        # the run goes on with its own settings; only the options typed now (a longer --epochs) change them
        defaults = build_parser().parse_args(["train", "--model", args.model, "--out", args.out])
        cfg = resumed_config(cfg, _train_config(defaults))
    summary = train(cfg, resume=args.resume)
    print(json.dumps(summary))
    return 0


def _mix_arg(text: str | None) -> dict:
    """'expw=1,sfew=2' -> {'expw': 1.0, 'sfew': 2.0}."""
    out = {}
    for part in filter(None, (text or "").split(",")):
        name, _, times = part.partition("=")
        try:
            out[name.strip()] = float(times or 1)
        except ValueError:
            raise SystemExit(f"--mix: expected SOURCE=TIMES such as expw=1; received {part!r}") from None
    return out


def _read_password(prompt: str = "Password: ") -> str | None:
    """A new password: asked twice on a terminal, else the first line of standard input; None (said) if bad."""
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return None
        return password
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users(args) -> int:
    from fer_core.trust import access, accounts, audit

    engine = _database()
    access.require("users")
    if args.users_command == "list":
        for account in accounts.listing(engine):
            print(json.dumps(account, ensure_ascii=False))
        return 0
    try:
        if args.users_command in ("add", "password"):
            password = _read_password()
            if password is None:
                return 1
            if args.users_command == "add":
                accounts.add(engine, args.name, args.role, password)
            else:
                accounts.set_password(engine, args.name, password)
        elif args.users_command == "set-role":
            accounts.set_role(engine, args.name, args.role)
        else:
            accounts.remove(engine, args.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    role = getattr(args, "role", None)
    audit.record(engine, f"account {args.users_command}", target=args.name, detail={"role": role} if role else None)
    print(json.dumps({"account": args.name, "done": args.users_command, **({"role": role} if role else {})}))
    return 0


def cmd_audit(args) -> int:
    from datetime import datetime

    from fer_core.trust import access, audit

    engine = _database()
    access.require("audit")
    session_id = None
    if args.session:
        session_id = _session_id(engine, args.session)
    try:
        since = datetime.fromisoformat(args.since) if args.since else None
    except ValueError:
        print(f"error: --since must be an ISO date or date-time; received {args.since!r}", file=sys.stderr)
        return 2
    for event in audit.events(
        engine, who=args.who, action=args.action, session_id=session_id, since=since, limit=args.limit
    ):
        print(json.dumps(event, ensure_ascii=False))
    return 0


def cmd_erase(args) -> int:
    from fer_core import service

    engine = _database()
    try:
        if args.person:
            receipt = service.erase_person(*args.person, engine=engine)
        else:
            receipt = service.erase_participant(args.participant, engine=engine)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(receipt, ensure_ascii=False))
    if args.participant and not receipt["people"]:
        print(f"note: no person labelled {args.participant!r} was found; nothing but text mentions", file=sys.stderr)
    return 0


def cmd_retention(args) -> int:
    from fer_core import service

    engine = _database()
    if args.retention_command == "list":
        for rule in service.retention_rules(engine=engine):
            print(json.dumps(rule, ensure_ascii=False))
        return 0
    if args.retention_command == "apply":
        print(json.dumps(service.apply_retention(engine=engine, why="command line")))
        return 0
    if (args.days is None) == (not args.off):
        print("error: give --days N, or --off to remove the rule", file=sys.stderr)
        return 2
    try:
        service.set_retention(engine=engine, days=args.days, tag=args.tag, keep_readings=not args.drop_readings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"tag": args.tag, "days": args.days, "keep_readings": not args.drop_readings}))
    return 0


EVERYONE_HELP = "count everyone seen (but excluded people), not only the participants"


def cmd_people(args) -> int:
    from fer_core import service

    engine = _database()
    session_id = _session_id(engine, args.session)
    people = service.people_roles(session_id, engine=engine)
    if args.people_command == "list":
        for p in people:
            print(json.dumps(p, ensure_ascii=False))
        return 0
    chosen = [
        (p["media_id"], p["person"])
        for p in people
        if (args.name is not None and p["name"] == args.name) or [p["media_id"], p["person"]] == args.person
    ]
    if not chosen:
        print("error: no such person in this session (see `people list`)", file=sys.stderr)
        return 1
    try:
        service.set_roles(chosen, None if args.role == "default" else args.role, engine=engine)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"people": len(chosen), "role": args.role}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fer_core", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="find faces and classify their emotions; one JSON line per face")
    a.add_argument("files", nargs="+", metavar="FILE")
    a.add_argument("--models", default=None, help="comma-separated, e.g. resnet50,vgg16 (default: both)")
    a.add_argument("--fps", type=float, default=None, help="video frames analysed per second (default 2)")
    a.add_argument("--min-face", type=int, default=None, help="smallest face side in pixels (default 40)")
    a.set_defaults(func=cmd_analyze)

    e = sub.add_parser("evaluate", help="accuracy of the models on a labelled .npz (x, y)")
    e.add_argument("data", metavar="DATA.npz")
    e.add_argument("--detect", action="store_true", help="images are photos: detect and classify the largest face")
    e.add_argument("--models", default=None)
    e.add_argument(
        "--exclude",
        default=None,
        metavar="MASK",
        help="leave out rows where this boolean array of DATA.npz is true, e.g. near_dup_in_train",
    )
    e.add_argument("--mixes", type=int, default=0, metavar="N", help="simulated sessions of mixed emotions")
    e.add_argument("--mix-size", type=int, default=100, metavar="K", help="faces drawn for each simulated session")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=cmd_evaluate)

    m = sub.add_parser("models", help="list the models, their weights and model-card accuracy")
    m.set_defaults(func=cmd_models)

    c = sub.add_parser("card", help="ship trained weights: copy them to weights/ and write the model card")
    c.add_argument("--model", required=True, choices=MODEL_NAMES)
    c.add_argument("--weights", required=True, help="compact .npz from a run, e.g. runs/resnet50/best.npz")
    c.add_argument("--run", default=None, help="the run folder (for epochs, backend, settings)")
    c.add_argument("--data", default="../shared/data")
    c.add_argument("--notes", default="")
    c.set_defaults(func=cmd_card)

    i = sub.add_parser("ingest", help="analyse files into a session and store the results in the database")
    i.add_argument("files", nargs="+", metavar="FILE")
    i.add_argument("--session", required=True, help="session name (created if new, reused otherwise)")
    i.add_argument("--recorded-at", default=None, help="ISO date/time the session was recorded")
    i.add_argument("--participant", default=None)
    i.add_argument("--tags", default=None, help="comma-separated, e.g. product-x,store-12")
    i.add_argument("--notes", default=None)
    i.add_argument("--consent", action="store_true", help="participants consented to analysis")
    i.add_argument("--fps", type=float, default=None)
    i.add_argument(
        "--keep",
        choices=KEEP_CHOICES,
        default=Keep.MEDIA.value,
        help="besides the results, store a copy of each file (default), a small JPEG of each face, or nothing",
    )
    i.add_argument(
        "--no-wait", action="store_true", help="with BROKER_URL: print the queued job ids and return at once"
    )
    i.set_defaults(func=cmd_ingest)

    pr = sub.add_parser(
        "prepare", help="convert the shipped weights for fast inference (LiteRT files, run by OpenVINO or LiteRT), once"
    )
    pr.add_argument("--models", default=None)
    pr.add_argument(
        "--int8", action="store_true", help="also make the int8 files (default when FER_ENGINE=litert-int8)"
    )
    pr.set_defaults(func=cmd_prepare)

    w = sub.add_parser("worker", help="run an analysis worker for the task queue at BROKER_URL (Celery)")
    w.add_argument("--name", default=None, help="worker name, e.g. w1 (default: celery@host)")
    w.add_argument("--threads", type=int, default=0, help="CPU threads for inference (0: all)")
    w.add_argument("--loglevel", default="INFO")
    w.set_defaults(func=cmd_worker)

    mk = sub.add_parser("markers", help="markers and segments on the session's timelines")
    mk_sub = mk.add_subparsers(dest="markers_command", required=True)
    mi = mk_sub.add_parser("import", help="import markers from CSV: file,start_s,end_s,label (end_s empty: a point)")
    mi.add_argument("--session", required=True)
    mi.add_argument("file", help="the CSV file")
    mi.set_defaults(func=cmd_markers)
    su = sub.add_parser(
        "summary",
        help="a session's emotion shares with 95%% intervals, as a whole or by person, segment or file (JSON lines)",
    )
    su.add_argument("--session", required=True)
    su.add_argument("--by", choices=("session", "person", "segment", "file"), default="person")
    su.add_argument("--model", choices=OPINIONS, default="ensemble")
    base = su.add_mutually_exclusive_group()
    base.add_argument("--baseline", metavar="SEGMENT_LABEL", help="subtract each person's mean in these segments")
    base.add_argument(
        "--baseline-first-s", type=float, metavar="N", help="subtract each person's mean over their first N s"
    )
    su.add_argument(
        "--raw", action="store_true", help="the raw mean probabilities, not corrected for the models' confusions"
    )
    su.add_argument("--everyone", action="store_true", help=EVERYONE_HELP)
    su.set_defaults(func=cmd_summary)
    co = sub.add_parser(
        "compare", help="two sessions' emotion shares and satisfaction compared, as on the Compare page (JSON lines)"
    )
    co.add_argument("--sessions", nargs=2, required=True, metavar=("A", "B"), help="the two sessions' names")
    co.add_argument("--model", choices=OPINIONS, default="ensemble")
    co.add_argument(
        "--raw", action="store_true", help="the raw mean probabilities, not corrected for the models' confusions"
    )
    co.add_argument("--everyone", action="store_true", help=EVERYONE_HELP)
    co.set_defaults(func=cmd_compare)
    pe = sub.add_parser("people", help="the people seen in a session and their roles: participant, other, excluded")
    pe_sub = pe.add_subparsers(dest="people_command", required=True)
    pl = pe_sub.add_parser("list", help="one JSON line per person seen: file, media_id, person, name, role, readings")
    pl.add_argument("--session", required=True)
    ps = pe_sub.add_parser("set-role", help="set people's role (by name, or by file id and person as `list` shows)")
    ps.add_argument("--session", required=True)
    ps.add_argument("--role", required=True, choices=(*ROLES, "default"), help="default: the role the rules give")
    who = ps.add_mutually_exclusive_group(required=True)
    who.add_argument("--name", help="every person of the session with this name")
    who.add_argument("--person", nargs=2, type=int, metavar=("MEDIA_ID", "PERSON"))
    pe.set_defaults(func=cmd_people)
    us = sub.add_parser("users", help="personal accounts with roles (admin, researcher, viewer)")
    us_sub = us.add_subparsers(dest="users_command", required=True)
    ua = us_sub.add_parser("add", help="a new account; its password from standard input (asked twice on a terminal)")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=ACCOUNT_ROLES)
    us_sub.add_parser("list", help="the accounts as JSON lines")
    ur = us_sub.add_parser("set-role", help="change an account's role")
    ur.add_argument("name")
    ur.add_argument("--role", required=True, choices=ACCOUNT_ROLES)
    up = us_sub.add_parser("password", help="set an account's password (from standard input)")
    up.add_argument("name")
    ux = us_sub.add_parser("remove", help="remove an account (its past actions stay in the audit trail)")
    ux.add_argument("name")
    us.set_defaults(func=cmd_users)
    au = sub.add_parser("audit", help="the audit trail as JSON lines: at, who, role, action, session, target")
    au.add_argument("--who")
    au.add_argument("--action")
    au.add_argument("--session", help="a session's name")
    au.add_argument("--since", help="ISO date or date-time (UTC)")
    au.add_argument("--limit", type=int, default=None, help="the newest N events only")
    au.set_defaults(func=cmd_audit)
    er = sub.add_parser("erase", help="erase a participant everywhere, on request; prints a JSON receipt")
    who = er.add_mutually_exclusive_group(required=True)
    who.add_argument("--participant", metavar="LABEL", help="the participant's label (name), across sessions")
    who.add_argument("--person", nargs=2, type=int, metavar=("MEDIA_ID", "PERSON"), help="one person seen")
    er.set_defaults(func=cmd_erase)
    rt = sub.add_parser("retention", help="delete stored media and face pictures after a period (run `apply` daily)")
    rt_sub = rt.add_subparsers(dest="retention_command", required=True)
    rs_ = rt_sub.add_parser("set", help="the period for every session, or for those with --tag")
    rs_.add_argument("--days", type=int, help="keep stored media and face pictures this many days after upload")
    rs_.add_argument("--off", action="store_true", help="remove the rule")
    rs_.add_argument("--tag", default=None, help="only the sessions with this tag (default: every session)")
    rs_.add_argument("--drop-readings", action="store_true", help="delete the files' readings too")
    rt_sub.add_parser("list", help="the rules as JSON lines")
    rt_sub.add_parser("apply", help="delete what is past its period now; prints the counts (JSON)")
    rt.set_defaults(func=cmd_retention)
    rv = sub.add_parser("review", help="the true expression of faces, and the models' accuracy on them")
    rv_sub = rv.add_subparsers(dest="review_command", required=True)
    rs = rv_sub.add_parser("set", help="set a face's true expression")
    rs.add_argument("face_id", type=int, help="the face's id (as `analyze`, exports and the Review page show it)")
    rs.add_argument("label", choices=REVIEW_LABELS)
    rs.add_argument("--reviewer", help="who reviewed it (default: the user name)")
    rs.set_defaults(func=cmd_review)
    rl = rv_sub.add_parser("list", help="a session's faces, one JSON object each, with their labels and review")
    rl.add_argument("--session", required=True)
    rl.set_defaults(func=cmd_review, tag=None)
    ra = rv_sub.add_parser("accuracy", help="each model's accuracy on the reviewed faces (JSON)")
    ra.add_argument("--session")
    ra.add_argument("--tag")
    ra.set_defaults(func=cmd_review)
    rx = rv_sub.add_parser("export", help="the reviewed faces as a ZIP: reviews.csv and 48x48 face crops")
    rx.add_argument("--out", required=True, help="the ZIP file to write")
    rx.add_argument("--session")
    rx.add_argument("--tag")
    rx.add_argument("--no-crops", action="store_true", help="labels only, no face pictures")
    rx.set_defaults(func=cmd_review)
    rp = sub.add_parser("report", help="a session's report to hand out: PDF (A4, printable) or HTML")
    rp.add_argument("--session", required=True)
    rp.add_argument("--format", choices=("pdf", "html"), default="pdf")
    rp.add_argument("--out", required=True)
    rp.set_defaults(func=cmd_report)
    ad = sub.add_parser("adapt", help="adapt the models to a population (a tag) from its reviewed faces")
    ad.add_argument("--tag", required=True)
    ad.add_argument(
        "--method",
        choices=("auto", "calibrate", "finetune"),
        default="auto",
        help="auto (default): where the faces' pictures are kept, try both and keep the better; else calibrate",
    )
    use = ad.add_mutually_exclusive_group()
    use.add_argument(
        "--use", metavar="VERSION", help="analyse the tag's sessions with this adapted version from now on"
    )
    use.add_argument("--original", action="store_true", help="analyse the tag's sessions with the original models")
    ad.set_defaults(func=cmd_adapt)
    hp = sub.add_parser("hash-password", help="make FER_DASHBOARD_PASSWORD_HASH (salted scrypt) from a password")
    hp.set_defaults(func=cmd_hash_password)

    j = sub.add_parser("jobs", help="list analysis jobs (JSON lines), or queue failed ones again")
    j.add_argument("--status", choices=tuple(s.value for s in JobStatus), default=None)
    j.add_argument("--limit", type=int, default=100)
    j.add_argument("--retry", type=int, nargs="+", metavar="JOB_ID", help="queue these failed jobs again")
    j.set_defaults(func=cmd_jobs)

    ds = sub.add_parser("delete-session", help="delete a session, its results and its stored media")
    ds.add_argument("session", help="session name")
    ds.set_defaults(func=cmd_delete_session)

    t = sub.add_parser("train", help="train one model on FER-2013 (resumable)")
    t.add_argument("--model", required=True, choices=MODEL_NAMES)
    t.add_argument("--data", default="../shared/data", help="folder with fer2013_train.npz etc.")
    t.add_argument("--out", default="runs", help="run folder (checkpoints, history, best.npz)")
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=None, help="initial learning rate (default per backbone)")
    t.add_argument(
        "--schedule",
        choices=("plateau", "cosine"),
        default="plateau",
        help="learning rate: halve on a plateau, or cosine decay to 1%% over --epochs",
    )
    t.add_argument(
        "--backbone-size",
        type=int,
        default=48,
        help="enlarge the 48x48 face to N x N inside the net before the backbone (default 48: no)",
    )
    t.add_argument("--bf16", dest="bf16", action="store_true", default=None, help="force mixed bfloat16")
    t.add_argument("--no-bf16", dest="bf16", action="store_false", help="force float32")
    t.add_argument("--class-weight-power", type=float, default=0.5)
    t.add_argument("--ferplus-mix", type=float, default=0.0, help="weight of FER+ vote distributions in targets")
    t.add_argument("--label-smoothing", type=float, default=0.0)
    t.add_argument("--patience", type=int, default=8, help="early stopping patience in epochs")
    t.add_argument("--threads", type=int, default=0, help="CPU threads for this process (0: all)")
    t.add_argument("--limit-train", type=int, default=0, help="use only N training faces (smoke tests)")
    t.add_argument("--limit-val", type=int, default=0, help="use only N validation faces")
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--init-weights", default=None, help="compact .npz to start from, e.g. weights/resnet50.npz")
    t.add_argument(
        "--mix",
        default=None,
        metavar="SOURCE=TIMES,...",
        help="in-the-wild training sets mixed in, e.g. expw=1,sfew=2,rafdb=1,affectnet=1 (times each face per epoch)",
    )
    t.add_argument(
        "--epoch-faces",
        type=int,
        default=0,
        metavar="N",
        help="each epoch trains on N faces drawn afresh from the whole mix (0: all of them)",
    )
    t.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="sgd: Nesterov, momentum 0.9")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--photometric", action="store_true", help="random gamma too (dark movie frames)")
    t.add_argument(
        "--select",
        choices=("publictest", "mean"),
        default="publictest",
        help="best epoch by PublicTest, or by the mean of PublicTest, ExpW and SFEW test, RAF-DB and AffectNet validation",
    )
    t.add_argument(
        "--train-part",
        choices=("all", "head"),
        default="all",
        help="head: only the final Dense layer learns (start from --init-weights)",
    )
    t.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    t.set_defaults(func=cmd_train)
    return p


def _split_as(argv: list[str]) -> tuple[str | None, list[str]]:
    """The account of a global ``--as NAME`` (anywhere on the line) and the rest of the arguments."""
    rest, name, i = [], None, 0
    while i < len(argv):
        if argv[i] == "--as" and i + 1 < len(argv):
            name, i = argv[i + 1], i + 2
            continue
        if argv[i].startswith("--as="):
            name = argv[i][5:]
        else:
            rest.append(argv[i])
        i += 1
    return name, rest


def _account(name: str):
    """The ``access.Actor`` of the account ``name``, or None (said on stderr)."""
    from fer_core.trust import access, accounts

    engine = _database()
    role = accounts.role_of(engine, name)
    if role is None:
        print(f"error: no account named {name!r} (see `users list`)", file=sys.stderr)
        return None
    return access.Actor(name=name, role=role, client="command line")


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow()
    settings.mask_logs()
    account, argv = _split_as(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    from contextlib import nullcontext

    from fer_core.storage.db import DatabaseUnusable
    from fer_core.trust.access import NotAllowed, acting_as

    try:
        actor = _account(account) if account is not None else None
        if account is not None and actor is None:
            return 2
        with acting_as(actor) if actor else nullcontext():  # for this command only (tests call main repeatedly)
            return args.func(args)
    except DatabaseUnusable as exc:  # one message, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except NotAllowed as exc:  # checked before anything changed
        print(f"error: {exc}", file=sys.stderr)
        return 4
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
