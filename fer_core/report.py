"""The session report to hand out: PDF (paged A4, printable) or HTML, from the same content.

Its details, people and readings, each model's emotion shares with 95% intervals, satisfaction, each video's
satisfaction over time with its segments, key moments with their faces (pixelated when FER_BLUR_FACES is
set), how often the models agree, accuracy on reviewed faces where there are any, the model versions and the
date it was made. Charts are drawn by reportlab itself (no browser needed).
"""

from __future__ import annotations

import html
import io
import unicodedata
from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from fer_core import faces, review
from fer_core.config import AnalyzerConfig
from fer_core.constants import DISPLAY_NAMES, EMOTION_COLORS, EMOTIONS, ENSEMBLE, MODEL_NAMES, OPINIONS, MediaKind
from fer_core.statistics import corrections, groups, roles, study
from fer_core.storage import queries
from fer_core.storage.repository import clean_text
from fer_core.wording import counted

FORMATS = ("pdf", "html")
BIN_S = 2.0
# Unicode fonts for the PDF: DejaVu Sans (Latin, Greek, Cyrillic, Hebrew, Arabic, many symbols) and WenQuanYi
# Micro Hei (Chinese, Japanese, Korean), Debian's packages that scripts/install.sh installs. Without them the PDF
# uses Helvetica, and characters outside Latin-1 print as "?".
FONT_FILES = {
    "regular": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/Library/Fonts/DejaVuSans.ttf"),
    "bold": ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/Library/Fonts/DejaVuSans-Bold.ttf"),
    "cjk": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",),  # Debian's fonts-wqy-microhei
}


def gather(engine: Engine, session_id: int) -> dict:
    """Everything the report shows, as plain data."""
    details = queries.session_details(engine, session_id=session_id)
    if details is None:
        raise ValueError(f"no session {session_id}")
    media = queries.session_media(engine, session_id=session_id)
    marks = queries.markers(engine, session_id=session_id)
    shares = {}
    rows_by_model = {}
    correction = "raw mean probabilities"
    reviewed = corrections.population_reviews(engine, session_id)  # read once for the three opinions
    for model in OPINIONS:
        rows = study.with_participants(roles.counted(queries.readings(engine, session_id=session_id, model=model)))
        rows_by_model[model] = rows
        fixer, words = corrections.corrector(engine, session_id, model, reviewed=reviewed)
        shares[model] = study.estimate(rows, fixer=fixer) if len(rows) else None
        if model == ENSEMBLE and shares[model] is not None:
            correction = words if shares[model]["corrected"] or fixer is None else "raw mean probabilities"
    ens = rows_by_model["ensemble"]
    attention_rows = _attention(engine, session_id, ens)
    timelines = []
    for v in media[(media.kind == MediaKind.VIDEO) & (media.faces > 0)].itertuples():
        part = ens[ens.media_id == v.id]
        sat = part.assign(t_s=(part.t_s // BIN_S) * BIN_S).groupby("t_s")["satisfaction"].mean()
        timelines.append(
            {
                "file": v.original_name,
                "t_s": list(sat.index),
                "satisfaction": list(sat.values),
                "segments": marks[marks.media_id == v.id],
            }
        )
    moments = study.key_moments(ens, n=3)
    where = media.rename(columns={"id": "media_id"})[["media_id", "stored_path", "kind"]]
    moments = (
        moments.drop(columns=["kind"], errors="ignore")
        .merge(where, on="media_id", how="left")
        .assign(session_id=session_id)
    )
    blur = AnalyzerConfig.from_env().blur_faces
    pictures = [faces.face_picture(r, blur=blur, size=96) for r in moments.itertuples()]
    agreement = queries.model_agreement(engine, session_id=session_id)
    reviewed = queries.reviewed_faces(engine, session_id=session_id)
    segments = groups.session_summary(session_id, by="segment", engine=engine, model=ENSEMBLE) if len(ens) else []
    return {
        "segments": segments,
        "details": details,
        "media": media,
        "people": int(ens["participant"].nunique()) if len(ens) else 0,
        "others": _others(engine, session_id),
        "readings": int(len(ens)),
        "shares": shares,
        "correction": correction,
        "timelines": timelines,
        "moments": moments,
        "pictures": pictures,
        "agreement": agreement,
        "attention": attention_rows,
        "accuracy": review.accuracy(reviewed) if len(reviewed) else None,
        "versions": queries.model_versions(engine, session_id=session_id),
        "made_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "blurred": blur,
    }


THIN_PEOPLE = 3


def _rests_on(d: dict) -> str:
    """Whom the shares count and how much they rest on, with a warning where that is thin."""
    rest = f"They count participants only: {counted(d['people'], 'person', 'people')}, "
    rest += f"{counted(d['readings'], 'reading')}."
    if d["people"] < THIN_PEOPLE:
        rest += f" Fewer than {THIN_PEOPLE} people cannot speak for a group."
    return rest


def _others(engine: Engine, session_id: int) -> int:
    """How many people seen are not counted as participants (bystanders, interviewers), excluded ones aside."""
    rows = roles.with_roles(queries.readings(engine, session_id=session_id))
    if rows.empty:
        return 0
    return int(rows[rows["role"] == "other"][["media_id", "person"]].drop_duplicates().shape[0])


def session_report(engine: Engine, session_id: int, *, fmt: str = "pdf") -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}; received {fmt!r}")
    data = gather(engine, session_id)
    return to_pdf(data) if fmt == "pdf" else to_html(data)


# --- shared wording -----------------------------------------------------------------------------------------


def _facts(d: dict) -> list[tuple[str, str]]:
    det = d["details"]
    when = pd.Timestamp(det["recorded_at"]).strftime("%Y-%m-%d %H:%M") if det.get("recorded_at") else "not given"
    return [
        ("Recorded", when),
        ("Participant", det.get("participant") or "not given"),
        ("Tags", ", ".join(det.get("tags") or []) or "none"),
        ("Consent recorded", "yes" if det.get("consent") else "no"),
        ("Files", str(int((d["media"]["status"] == "done").sum()))),
        ("Participants counted", f"{d['people']} (others seen: {d['others']}; people marked excluded count nowhere)"),
        ("Face readings counted", str(d["readings"])),
        ("Notes", det.get("notes") or ""),
    ]


def _share_rows(d: dict) -> list[list[str]]:
    """Per model: each emotion's share with its interval, and satisfaction."""
    rows = []
    for model in OPINIONS:
        est = d["shares"][model]
        if est is None:
            continue
        row = [DISPLAY_NAMES[model]]
        for e in EMOTIONS:
            v, lo, hi = est["value"][e], est["low"][e], est["high"][e]
            row.append(f"{100 * v:.0f}%" + ("" if not np.isfinite(lo) else f"\n[{100 * lo:.0f}-{100 * hi:.0f}]"))
        s, lo, hi = est["value"]["satisfaction"], est["low"]["satisfaction"], est["high"]["satisfaction"]
        row.append(f"{s:+.2f}" + ("" if not np.isfinite(lo) else f"\n[{lo:+.2f}, {hi:+.2f}]"))
        rows.append(row)
    return rows


ATTENTION_HEADER = ["who", "readings", "looking", "head turn", "eyes open", "mouth open", "brows raised",
                    "brows lowered", "blinks/min"]  # fmt: skip
MAX_PEOPLE_IN_REPORT = 20


def _attention(engine: Engine, session_id: int, ens: pd.DataFrame) -> list[list[str]]:
    """The session's and each person's facial states as table rows (empty when no reading has them)."""
    from fer_core.statistics import attention, groups

    if ens.empty:
        return []
    rows = attention.with_measures(groups.with_states(engine, session_id, ens))
    if rows["yaw"].notna().sum() == 0:
        return []
    out = [_attention_row("all participants", attention.estimate(rows))]
    for name, part in list(rows.groupby("participant", sort=False))[:MAX_PEOPLE_IN_REPORT]:
        out.append(_attention_row(str(name), attention.estimate(part)))
    return out


def _attention_row(who: str, s: dict) -> list[str]:
    def cell(m: str, pct: bool = False, deg: bool = False) -> str:
        v, (lo, hi) = s[m]["value"], s[m]["ci95"]
        if v is None:
            return ""
        f = (lambda x: f"{100 * x:.0f}%") if pct else (lambda x: f"{x:.0f}°") if deg else (lambda x: f"{x:.2f}")
        return f(v) + ("" if lo is None else f"\n[{f(lo)}-{f(hi)}]")

    return [
        who,
        str(s["readings_with_states"]),
        cell("looking", pct=True),
        cell("head_turn", deg=True),
        cell("eyes_open"),
        cell("mouth_open"),
        cell("brows_raised", pct=True),
        cell("brows_lowered", pct=True),
        "" if s["blinks_per_min"] is None else f"{s['blinks_per_min']:.1f}",
    ]


ATTENTION_NOTE = (
    "Looking: head and eyes within 25 degrees of a point 10 degrees below the camera. Head turn: degrees away "
    "from the camera. Eyes and mouth open: 0 (closed) to 1. Brows: against each person's own typical height. "
    "Blinks: only with video analysed at 10 frames a second or more. [95% intervals]."
)


def _agreement_text(d: dict) -> str:
    a = d["agreement"]
    if not a["faces"]:
        return "No face was seen by both models."
    return (
        f"{DISPLAY_NAMES[MODEL_NAMES[0]]} and {DISPLAY_NAMES[MODEL_NAMES[1]]} give the same label to "
        f"{a['agreement']:.0%} of {a['faces']} faces (Cohen's kappa {a['kappa']:.2f})."
    )


def _accuracy_rows(d: dict) -> list[list[str]]:
    acc = d["accuracy"]
    if not acc or not acc["n"]:
        return []
    return [
        [DISPLAY_NAMES[m], f"{s['accuracy']:.1f}%", f"{s['ci95'][0]:.1f}-{s['ci95'][1]:.1f}%"]
        for m, s in acc["models"].items()
    ]


def _segment_rows(d: dict) -> list[list[str]]:
    """Per segment (ensemble): where it is, people, readings, each emotion's share with its interval, satisfaction."""
    rows = []
    for r in d["segments"]:
        row = [f"{r['segment']} ({r['start_s']:g}-{r['end_s']:g} s, {r['file']})", str(r["people"]), str(r["readings"])]
        for m in (*EMOTIONS, "satisfaction"):
            v = r["shares"][m] if m != "satisfaction" else r["satisfaction"]
            lo, hi = r["ci95"][m]
            if v is None:
                row.append("no reading")
            elif m == "satisfaction":
                row.append(f"{v:+.2f}" + ("" if lo is None else f"\n[{lo:+.2f}, {hi:+.2f}]"))
            else:
                row.append(f"{100 * v:.0f}%" + ("" if lo is None else f"\n[{100 * lo:.0f}-{100 * hi:.0f}]"))
        rows.append(row)
    return rows


SEGMENT_HEADER = ["segment", "people", "readings", *EMOTIONS, "satisfaction"]


def _moment_caption(r) -> str:
    """ "most positive +0.98: Anna, at 12.5 s in interview.mp4" (the file once; a photo has no time)."""
    where = "" if str(r.file) in str(r.participant) else f" in {r.file}"
    when = f", at {r.t_s:.1f} s" if r.kind == MediaKind.VIDEO else ", a photo"
    return f"{r.moment} {r.satisfaction:+.2f}: {r.participant}{when}{where}"


def _made_by(d: dict) -> str:
    """The report's header line, in words; the exact versions go in a footnote (``_versions_text``)."""
    models = " and ".join(DISPLAY_NAMES[m] for m in MODEL_NAMES)
    return f"Made on {d['made_at']} from the readings of {models} and their ensemble (versions at the end)."


def _versions_text(d: dict) -> str:
    return "; ".join(f"{DISPLAY_NAMES.get(m, m)} {', '.join(v)}" for m, v in d["versions"].items()) or "none"


METHOD = (
    "Shares: each person's mean probability of each emotion over their readings, averaged over people, with "
    "a 95% interval by bootstrap over people (one person: over blocks of their consecutive readings). Satisfaction: "
    "P(happy) + P(surprise) - P(angry) - P(disgust) - P(fear) - P(sad), from -1 to +1."
)


# --- PDF ----------------------------------------------------------------------------------------------------


class PdfFonts(NamedTuple):
    regular: str
    bold: str
    covered: frozenset[int]  # the characters the regular font draws
    cjk: str | None  # a font for Chinese, Japanese and Korean, where the system has one
    cjk_covered: frozenset[int]


def _pdf_fonts() -> PdfFonts:
    """Register the report's fonts with reportlab (once) and say which characters each draws."""
    from pathlib import Path

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    found = {k: next((p for p in paths if Path(p).is_file()), None) for k, paths in FONT_FILES.items()}
    registered = pdfmetrics.getRegisteredFontNames()
    if not (found["regular"] and found["bold"]):
        return PdfFonts("Helvetica", "Helvetica-Bold", frozenset(range(256)), None, frozenset())
    if "ReportSans" not in registered:
        pdfmetrics.registerFont(TTFont("ReportSans", found["regular"]))
        pdfmetrics.registerFont(TTFont("ReportSans-Bold", found["bold"]))
    if found["cjk"] and "ReportCJK" not in registered:
        pdfmetrics.registerFont(TTFont("ReportCJK", found["cjk"], subfontIndex=0))
    covered = frozenset(pdfmetrics.getFont("ReportSans").face.charWidths)
    cjk = frozenset(pdfmetrics.getFont("ReportCJK").face.charWidths) if found["cjk"] else frozenset()
    return PdfFonts("ReportSans", "ReportSans-Bold", covered, "ReportCJK" if found["cjk"] else None, cjk)


def pdf_text(text, fonts: PdfFonts) -> str:
    """User text as the PDF draws it: no control or bidirectional override characters, right-to-left runs in
    the order they are read (reportlab lays out left to right), and "?" for a character no font of the report
    can draw, rather than an empty box."""
    from bidi import get_display

    text = clean_text(str(text), lines=True) or ""
    if any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        text = "\n".join(get_display(line) for line in text.split("\n"))
    drawn = fonts.covered | fonts.cjk_covered
    return "".join(c if ord(c) in drawn or c in "\n\t" else "?" for c in text)


def pdf_markup(text, fonts: PdfFonts) -> str:
    """``pdf_text`` as a reportlab Paragraph's markup: escaped (it reads a little HTML), runs that only the CJK
    font draws set in it, line breaks kept."""
    out, run, run_cjk = [], [], False

    def flush():
        if run:
            piece = html.escape("".join(run)).replace("\n", "<br/>")
            out.append(f'<font name="{fonts.cjk}">{piece}</font>' if run_cjk else piece)
            run.clear()

    for c in pdf_text(text, fonts):
        cjk = fonts.cjk is not None and ord(c) not in fonts.covered and ord(c) in fonts.cjk_covered
        if cjk != run_cjk:
            flush()
            run_cjk = cjk
        run.append(c)
    flush()
    return "".join(out)


def pdf_font_for(text: str, fonts: PdfFonts) -> str:
    """The one font for a whole line drawn outside a Paragraph (a chart label, the footer)."""
    if fonts.cjk and any(ord(c) not in fonts.covered for c in text):
        return fonts.cjk
    return fonts.regular


def _pdf_shares_drawing(d: dict, width: float, font: str) -> list:
    """The ensemble's share of each emotion as bars with their 95% intervals (a reportlab drawing)."""
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
    from reportlab.lib import colors

    est = d["shares"].get(ENSEMBLE)
    if est is None:
        return []
    bar, gap, left = 9, 4, 60
    h = len(EMOTIONS) * (bar + gap) + 6
    drawing = Drawing(width, h)
    scale = (width - left - 40) / 1.0
    for i, e in enumerate(EMOTIONS):
        y = h - (i + 1) * (bar + gap)
        v, lo, hi = est["value"][e], est["low"][e], est["high"][e]
        drawing.add(String(left - 4, y + 2, e, fontSize=7, fontName=font, textAnchor="end"))
        drawing.add(Rect(left, y, scale * v, bar, fillColor=colors.HexColor(EMOTION_COLORS[e]), strokeColor=None))
        if np.isfinite(lo) and np.isfinite(hi):
            drawing.add(Line(left + scale * lo, y + bar / 2, left + scale * hi, y + bar / 2, strokeWidth=0.8))
            for x in (lo, hi):
                drawing.add(Line(left + scale * x, y + 2, left + scale * x, y + bar - 2, strokeWidth=0.8))
        right = max(v, hi) if np.isfinite(hi) else v
        drawing.add(String(left + scale * right + 3, y + 2, f"{100 * v:.0f}%", fontSize=7, fontName=font))
    return [drawing]


def to_pdf(d: dict) -> bytes:
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    fonts = _pdf_fonts()
    regular, bold = fonts.regular, fonts.bold
    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        if hasattr(style, "fontName"):
            style.fontName = bold if "Bold" in style.fontName else regular
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=8, leading=10)
    cell = small.clone("cell", fontSize=7, leading=8.5)  # wraps names and headers inside their column
    name = d["details"]["name"]
    buf = io.BytesIO()
    margin = 18 * mm
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=clean_text(name),
    )
    width = A4[0] - 2 * margin

    def esc(text) -> str:
        return pdf_markup(text, fonts)

    def grid(rows, widths, header=True):
        t = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
        t.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), regular, 7.5),
                    ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 3),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                    *([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))] if header else []),
                ]
            )
        )
        return t

    story = [
        Paragraph(f"Session report: {esc(name)}", styles["Title"]),
        Paragraph(esc(_made_by(d)), small),
        Spacer(1, 4 * mm),
        grid([[k, Paragraph(esc(v), small)] for k, v in _facts(d)], [40 * mm, width - 40 * mm], header=False),
        Spacer(1, 4 * mm),
        Paragraph("Emotion shares per model", styles["Heading2"]),
        grid(
            [["model", *EMOTIONS, "satisfaction"], *_share_rows(d)], [26 * mm] + [(width - 48 * mm) / 7] * 7 + [22 * mm]
        ),
        *_pdf_shares_drawing(d, width, regular),
        Paragraph(esc(f"{_rests_on(d)} These shares are {d['correction']}. {METHOD}"), small),
        Spacer(1, 3 * mm),
        Paragraph("Agreement of the models", styles["Heading2"]),
        Paragraph(esc(_agreement_text(d)), body),
    ]
    if d["segments"]:
        story += [
            Paragraph("Per segment (ensemble)", styles["Heading2"]),
            grid(
                [
                    [Paragraph(esc(c).replace("\n", "<br/>"), cell) for c in row]
                    for row in [SEGMENT_HEADER, *_segment_rows(d)]
                ],
                [34 * mm, 12 * mm, 13 * mm] + [(width - 81 * mm) / 7] * 7 + [22 * mm],
            ),
            Paragraph(esc(d["segments"][0].get("correction", "") + "."), small),
        ]
    if d.get("attention"):
        story += [
            Paragraph("Attention: head, eyes, mouth and brows", styles["Heading2"]),
            grid(
                [[Paragraph(esc(c), cell) for c in row] for row in [ATTENTION_HEADER, *d["attention"]]],
                [28 * mm, 13 * mm] + [(width - 41 * mm) / 7] * 7,
            ),
            Paragraph(esc(ATTENTION_NOTE), small),
        ]
    for tl in d["timelines"]:
        heading = Paragraph(f"Satisfaction over {esc(tl['file'])} (ensemble, {BIN_S:g} s bins)", styles["Heading2"])
        w, h = width, 55 * mm
        drawing = Drawing(w, h)
        x_max = max([*tl["t_s"], *([float(s) for s in tl["segments"]["end_s"].dropna()] or [0])]) + BIN_S
        plot = LinePlot()
        plot.x, plot.y, plot.width, plot.height = 30, 20, w - 40, h - 35
        plot.data = [list(zip(tl["t_s"], tl["satisfaction"]))] if tl["t_s"] else [[(0, 0)]]
        plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, x_max
        plot.yValueAxis.valueMin, plot.yValueAxis.valueMax, plot.yValueAxis.valueStep = -1, 1, 0.5
        plot.lines[0].strokeColor = colors.HexColor("#1f77b4")
        for seg in tl["segments"].itertuples():
            x0 = plot.x + plot.width * seg.start_s / x_max
            if pd.isna(seg.end_s):
                drawing.add(
                    Line(x0, plot.y, x0, plot.y + plot.height, strokeColor=colors.black, strokeDashArray=[2, 2])
                )
            else:
                x1 = plot.x + plot.width * min(seg.end_s, x_max) / x_max
                drawing.add(
                    Rect(
                        x0, plot.y, x1 - x0, plot.height, fillColor=colors.Color(0.5, 0.5, 0.5, 0.15), strokeColor=None
                    )
                )
            label = pdf_text(str(seg.label)[:30], fonts)
            font = pdf_font_for(label, fonts)
            drawing.add(String(x0 + 2, plot.y + plot.height + 3, label, fontSize=6, fontName=font))
        drawing.add(plot)
        drawing.add(
            String(plot.x + plot.width / 2, 2, "time in video (s)", fontSize=7, fontName=regular, textAnchor="middle")
        )
        story.append(KeepTogether([heading, drawing]))  # a chart never on another page than its title
    if len(d["moments"]):
        story.append(Paragraph("Key moments (ensemble satisfaction per face)", styles["Heading2"]))
        cells, captions = [], []
        for r, pic in zip(d["moments"].itertuples(), d["pictures"]):
            if pic is None:
                cells.append(Paragraph("(not kept)", small))
            else:
                png = io.BytesIO()
                from PIL import Image as PILImage

                PILImage.fromarray(pic).save(png, format="PNG")
                png.seek(0)
                cells.append(Image(png, width=24 * mm, height=24 * mm))
            captions.append(Paragraph(esc(_moment_caption(r)), small))
        cols = 6
        rows = []
        for i in range(0, len(cells), cols):
            rows += [cells[i : i + cols], captions[i : i + cols]]
        story.append(grid(rows, [width / cols] * min(cols, len(cells)), header=False))
        if d["blurred"]:
            story.append(Paragraph("Faces are pixelated (FER_BLUR_FACES is set on this server).", small))
    acc_rows = _accuracy_rows(d)
    if acc_rows:
        acc = d["accuracy"]
        story.append(Paragraph("Accuracy on reviewed faces", styles["Heading2"]))
        story.append(grid([["model", "accuracy", "95% interval"], *acc_rows], [50 * mm, 40 * mm, 50 * mm]))
        story.append(Paragraph(esc(f"{acc['n']} reviewed faces; Wilson's interval."), small))
    story += [Spacer(1, 4 * mm), Paragraph(esc(f"Model versions: {_versions_text(d)}."), small)]

    def footer(canvas, doc_):
        canvas.saveState()
        line = f"{pdf_text(name[:60], fonts)} · made {d['made_at']}"
        canvas.setFont(pdf_font_for(line, fonts), 7)
        canvas.drawString(margin, margin / 2, line)
        canvas.drawRightString(A4[0] - margin, margin / 2, f"page {doc_.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


# --- HTML ---------------------------------------------------------------------------------------------------


def _cell(text: str, esc) -> str:
    """A table cell's lines, each kept whole (an interval "[40-60]" never breaks at its dash)."""
    return "<br>".join(f"<span class='nw'>{esc(line)}</span>" if line.startswith("[") else esc(line)
                       for line in str(text).split("\n"))  # fmt: skip


def _svg_shares(d: dict) -> str:
    """The ensemble's share of each emotion as bars with their 95% intervals (an inline SVG chart)."""
    est = d["shares"].get(ENSEMBLE)
    if est is None:
        return ""
    w, h, left, top, bar = 520, 190, 70, 10, 18
    scale = (w - left - 20) / 1.0
    out = [f"<svg role='img' aria-label='Emotion shares with 95% intervals' width='{w}' height='{h}' "
           "xmlns='http://www.w3.org/2000/svg' font-size='10' font-family='sans-serif'>"]  # fmt: skip
    for i, e in enumerate(EMOTIONS):
        y = top + i * (bar + 6)
        v, lo, hi = est["value"][e], est["low"][e], est["high"][e]
        out.append(f"<text x='{left - 6}' y='{y + 13}' text-anchor='end'>{e}</text>")
        out.append(f"<rect x='{left}' y='{y}' width='{scale * v:.1f}' height='{bar}' fill='{EMOTION_COLORS[e]}'/>")
        if np.isfinite(lo) and np.isfinite(hi):
            x0, x1, mid = left + scale * lo, left + scale * hi, y + bar / 2
            out.append(f"<line x1='{x0:.1f}' x2='{x1:.1f}' y1='{mid}' y2='{mid}' stroke='#222'/>")
            out += [
                f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{y + 4}' y2='{y + bar - 4}' stroke='#222'/>" for x in (x0, x1)
            ]
        out.append(
            f"<text x='{left + scale * max(v, hi if np.isfinite(hi) else v) + 4:.1f}' y='{y + 13}'>{100 * v:.0f}%</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _svg_timeline(tl: dict, esc) -> str:
    """Satisfaction over a video (an inline SVG line chart) with its segments (alternately shaded bands) and
    point markers (dashed lines), labelled."""
    w, h, left, top, bottom = 680, 170, 34, 16, 22
    ends = [float(x) for x in tl["segments"]["end_s"].dropna()]
    x_max = max([*tl["t_s"], *ends, 0.0]) + BIN_S
    plot_w, plot_h = w - left - 10, h - top - bottom

    def x_of(t):
        return left + plot_w * t / x_max

    def y_of(v):
        return top + plot_h * (1 - (v + 1) / 2)

    out = [f"<svg role='img' aria-label='Satisfaction over the video' width='{w}' height='{h}' "
           "xmlns='http://www.w3.org/2000/svg' font-size='9' font-family='sans-serif'>"]  # fmt: skip
    segs = tl["segments"].sort_values("start_s")
    for i, seg in enumerate(segs[segs["end_s"].notna()].itertuples()):
        fill = "#888888" if i % 2 == 0 else "#4c78a8"
        out.append(f"<rect x='{x_of(seg.start_s):.1f}' y='{top}' width='{x_of(seg.end_s) - x_of(seg.start_s):.1f}' "
                   f"height='{plot_h}' fill='{fill}' fill-opacity='0.15'/>")  # fmt: skip
        out.append(f"<line x1='{x_of(seg.start_s):.1f}' x2='{x_of(seg.start_s):.1f}' y1='{top}' y2='{top + plot_h}' "
                   "stroke='#777'/>")  # fmt: skip
        out.append(f"<text x='{x_of(seg.start_s) + 2:.1f}' y='{top - 4}'>{esc(str(seg.label)[:30])}</text>")
    for seg in segs[segs["end_s"].isna()].itertuples():
        x = x_of(seg.start_s)
        out.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top}' y2='{top + plot_h}' stroke='#333' stroke-dasharray='3,2'/>"
        )
        out.append(f"<text x='{x + 2:.1f}' y='{top + 10}'>{esc(str(seg.label)[:30])}</text>")
    for v in (-1, 0, 1):
        out.append(f"<line x1='{left}' x2='{left + plot_w}' y1='{y_of(v):.1f}' y2='{y_of(v):.1f}' stroke='#ccc'/>")
        out.append(f"<text x='{left - 4}' y='{y_of(v) + 3:.1f}' text-anchor='end'>{v:+d}</text>")
    points = " ".join(f"{x_of(t):.1f},{y_of(v):.1f}" for t, v in zip(tl["t_s"], tl["satisfaction"]))
    out.append(f"<polyline points='{points}' fill='none' stroke='#1f77b4' stroke-width='1.5'/>")
    out.append(f"<text x='{left + plot_w / 2:.0f}' y='{h - 4}' text-anchor='middle'>time in video (s), 0 to "
               f"{x_max:g}</text></svg>")  # fmt: skip
    return "".join(out)


def to_html(d: dict) -> bytes:
    import base64

    from PIL import Image as PILImage

    def esc(text) -> str:
        """User text as HTML: escaped (no markup runs), isolated so that right-to-left text does not reorder
        what is around it, no control or bidirectional override characters."""
        return f"<bdi>{html.escape(clean_text(str(text), lines=True) or '')}</bdi>"

    name = d["details"]["name"]
    shares_note = f"{_rests_on(d)} These shares are {d['correction']}. {METHOD}"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Session report: {html.escape(clean_text(str(name)) or '')}</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:190mm;margin:12mm auto;color:#222;font-size:11pt;"
        "overflow-wrap:anywhere}"
        "table{border-collapse:collapse;width:100%;margin:4px 0 10px}td,th{border:1px solid #bbb;padding:3px 5px;"
        "font-size:9pt;vertical-align:top}th{background:#eee}.small{font-size:8.5pt;color:#555}"
        ".bar{display:inline-block;height:10px}.moments img{width:96px;height:96px}.nw{white-space:nowrap}"
        ".moments{table-layout:fixed}"  # equal columns: a caption breaks between words, not inside them
        "@page{size:A4;margin:15mm}@media print{h2{break-after:avoid}table{break-inside:avoid}}",
        "</style></head><body>",
        f"<h1>Session report: {esc(name)}</h1>",
        f"<p class='small'>{esc(_made_by(d))}</p>",
        "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _facts(d)) + "</table>",
        "<h2>Emotion shares per model</h2><table><tr><th>model</th>"
        + "".join(f"<th style='border-bottom:3px solid {EMOTION_COLORS[e]}'>{e}</th>" for e in EMOTIONS)
        + "<th>satisfaction</th></tr>",
    ]
    for row in _share_rows(d):
        parts.append("<tr>" + "".join(f"<td>{_cell(c, esc)}</td>" for c in row) + "</tr>")
    parts += [
        "</table>",
        _svg_shares(d),
        f"<p class='small'>{esc(shares_note)}</p>",
    ]
    if d["segments"]:
        parts.append("<h2>Per segment (ensemble)</h2><table><tr>")
        parts.append("".join(f"<th>{esc(h)}</th>" for h in SEGMENT_HEADER) + "</tr>")
        for row in _segment_rows(d):
            parts.append("<tr>" + "".join(f"<td>{_cell(c, esc)}</td>" for c in row) + "</tr>")
        parts.append(f"</table><p class='small'>{esc(d['segments'][0].get('correction', ''))}.</p>")
    parts.append(f"<h2>Agreement of the models</h2><p>{esc(_agreement_text(d))}</p>")
    if d.get("attention"):
        parts.append("<h2>Attention: head, eyes, mouth and brows</h2><table><tr>")
        parts.append("".join(f"<th>{esc(h)}</th>" for h in ATTENTION_HEADER) + "</tr>")
        for row in d["attention"]:
            parts.append("<tr>" + "".join(f"<td>{esc(c).replace(chr(10), '<br>')}</td>" for c in row) + "</tr>")
        parts.append(f"</table><p class='small'>{esc(ATTENTION_NOTE)}</p>")
    for tl in d["timelines"]:
        parts.append(f"<h2>Satisfaction over {esc(tl['file'])} (ensemble, {BIN_S:g} s bins)</h2>")
        parts.append(_svg_timeline(tl, esc))
    if len(d["moments"]):
        parts.append("<h2>Key moments (ensemble satisfaction per face)</h2><table class='moments'><tr>")
        for r, pic in zip(d["moments"].itertuples(), d["pictures"]):
            img = ""
            if pic is not None:
                png = io.BytesIO()
                PILImage.fromarray(pic).save(png, format="PNG")
                img = f"<img alt='face' src='data:image/png;base64,{base64.b64encode(png.getvalue()).decode()}'><br>"
            parts.append(f"<td>{img}<span class='small'>{esc(_moment_caption(r))}</span></td>")
        parts.append("</tr></table>")
        if d["blurred"]:
            parts.append("<p class='small'>Faces are pixelated (FER_BLUR_FACES is set on this server).</p>")
    acc_rows = _accuracy_rows(d)
    if acc_rows:
        parts.append(
            "<h2>Accuracy on reviewed faces</h2><table><tr><th>model</th><th>accuracy</th><th>95% interval</th></tr>"
        )
        parts += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in acc_rows]
        parts.append(f"</table><p class='small'>{d['accuracy']['n']} reviewed faces; Wilson's interval.</p>")
    parts.append(f"<p class='small'>Model versions: {esc(_versions_text(d))}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts).encode()
