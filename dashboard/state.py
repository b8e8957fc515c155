"""Every key the pages keep in ``st.session_state`` (one browser tab's memory), named in one place."""

SELECTED_SESSION = "selected_session_id"  # the session the Session, Manage and Upload pages are on


def chosen_video(session_id: int) -> str:
    """The video picked on the Session page, remembered per session."""
    return f"video-of-{session_id}"


LIVE = "live-run"  # this tab's live run: the recording being made, and the last one saved
LIVE_NAME = "live-session-name"  # the name typed for a live run's new session
PLAY_FROM = "play_from"  # (media id, seconds): the moment or segment last clicked, where the video starts


def page_of(name: str) -> str:
    """The page a paginated list of the Session page is on."""
    return f"page-of-{name}"
