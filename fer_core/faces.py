"""Pictures of stored faces, from what their session kept (the media file, or the face's own small picture):
thumbnails to show (pixelated where asked) and the 48x48 grayscale crops the models saw."""

from __future__ import annotations

from fer_core.storage.store import MediaStore, face_key, media_store, store_for
from fer_core.trust import access
from fer_core.vision.media import MediaError
from fer_core.vision.pictures import classifier_crop, face_thumbnail


def reviewed_crops(reviewed, *, store: MediaStore | None = None) -> list:
    """The 48x48 grayscale classifier crop of each reviewed face (rows as ``queries.reviewed_faces`` gives
    them), from its kept media or kept face picture; None where nothing of it was kept."""
    store = store or media_store()
    out = []
    for r in reviewed.itertuples():
        box = (int(r.x), int(r.y), int(r.w), int(r.h))
        try:
            if isinstance(r.stored_path, str) and r.stored_path:
                with store_for(r.stored_path, store).local_file(r.stored_path) as path:
                    out.append(classifier_crop(path, kind=r.kind, t_s=r.t_s, box=box))
            else:
                with store.local_file(store.location(face_key(r.session_id, r.detection_id))) as path:
                    out.append(classifier_crop(path, kind="face", t_s=0.0, box=box))
        except (MediaError, OSError):
            out.append(None)
    return out


def face_picture(row, *, blur: bool, store: MediaStore | None = None, size: int = 128):
    """An RGB thumbnail of one face (a row with session_id, detection_id, stored_path, kind, t_s, x, y, w, h),
    from the kept media or the kept face picture, pixelated if ``blur``; None when nothing of it was kept, or
    when the acting account may not see faces (``access.can_see_faces``)."""
    if not access.can_see_faces():
        return None
    store = store or media_store()
    box = (int(row.x), int(row.y), int(row.w), int(row.h))
    try:
        if isinstance(row.stored_path, str) and row.stored_path:
            with store_for(row.stored_path, store).local_file(row.stored_path) as path:
                return face_thumbnail(path, kind=row.kind, t_s=row.t_s, box=box, blur=blur, size=size)
        with store.local_file(store.location(face_key(row.session_id, row.detection_id))) as path:
            return face_thumbnail(path, kind="face", t_s=0.0, box=(0, 0, 0, 0), blur=blur, size=size)
    except (MediaError, OSError):
        return None
