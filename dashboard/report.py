"""The session report: the session's numbers and interactive charts in one self-contained HTML file."""

from __future__ import annotations

import html

from fer_core.constants import MediaKind, Outcome

import charts
import reads


def session_report(session_id: int, *, per: str) -> bytes:
    """Media, the emotion distribution (counted ``per`` person or reading) and each video's timeline; user
    text is escaped."""
    name = (reads.session_details(session_id) or {}).get("name", f"session {session_id}")
    media = reads.session_media(session_id)
    dist = reads.emotion_distribution(session_id=session_id, per=per)
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(name)}</title></head><body>",
        f"<h1>Session report: {html.escape(name)}</h1>",
        media[["original_name", "kind", "status", "people", "faces", "duration_s"]]
        .rename(columns={"people": "people seen", "faces": "face readings"})
        .to_html(index=False),
        f"<p>{html.escape(charts.UNIT_HELP[per])}</p>",
    ]
    figures = [] if dist.empty else [(charts.distribution_figure(dist, value="mean_prob"), dist)]
    videos = media[(media.kind == MediaKind.VIDEO) & (media.status == Outcome.DONE) & (media.faces > 0)]
    for v in videos.itertuples():
        tl = reads.video_timeline(media_id=int(v.id), bin_s=2, model="ensemble")
        figures.append((charts.timeline_figure(tl, title=f"{html.escape(v.original_name)} (ensemble)"), None))
    for i, (fig, table) in enumerate(figures):  # plotly.js once, inline: the file works offline
        parts.append(fig.to_html(include_plotlyjs=i == 0, full_html=False))
        if table is not None:
            parts.append(table.to_html(index=False))
    parts.append(f"<p>{html.escape(charts.SATISFACTION_HELP)}</p></body></html>")
    return "\n".join(parts).encode()
