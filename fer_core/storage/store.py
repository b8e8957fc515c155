"""Where uploaded and kept files live: a folder (local, or shared between machines, e.g. NFS) or S3.

``FER_MEDIA_STORE`` picks it: a folder path (default ``FER_HOME/media``) or
``s3://bucket/prefix`` for S3-compatible object storage (MinIO, Ceph, AWS...;
endpoint from ``AWS_ENDPOINT_URL``, credentials the usual boto3 way).

Files are written under a key such as ``12/uploads/3f2a.mp4`` and the database
stores the *location* the store returns: an absolute path for a folder, an
``s3://`` URL for S3.  Any machine that mounts the same folder or reaches the
same bucket can then read any row's file: ``store_for(location)`` finds the
right store from the location alone.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fer_core import settings
from fer_core.storage.db import data_home


class StoreFull(OSError):
    """The disk (or quota) under the media store is full; nothing half-written was left behind."""


def _written(tmp: Path, target: Path, write) -> str:
    """Write through ``tmp`` then rename, so a reader never sees half a file; a failed write leaves nothing."""
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            free = shutil.disk_usage(target.parent).free / 1e6
            raise StoreFull(exc.errno, f"the disk of the media store is full ({free:.0f} MB free)") from None
        raise
    return str(target)


class LocalStore:
    """A folder. Writes go to a temporary name first, so a reader never sees half a file."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def location(self, key: str) -> str:
        return str(self.root / key)

    def put_file(self, key: str, src: str | Path) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        return _written(target.with_name(f".{target.name}.part"), target, lambda tmp: shutil.copyfile(src, tmp))

    def put_bytes(self, key: str, data: bytes) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        return _written(target.with_name(f".{target.name}.part"), target, lambda tmp: tmp.write_bytes(data))

    @contextmanager
    def local_file(self, location: str) -> Iterator[Path]:
        path = Path(location)
        if not path.is_file():
            raise FileNotFoundError(f"{location} is not in the media store (was it deleted?)")
        yield path

    def exists(self, location: str) -> bool:
        return Path(location).is_file()

    def delete(self, location: str) -> None:
        path = Path(location)
        path.unlink(missing_ok=True)
        # remove folders left empty, up to the store's root (a session with nothing kept leaves no trace)
        for parent in path.parents:
            if parent == self.root or self.root not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.root / prefix, ignore_errors=True)


class S3Store:
    """A bucket (and key prefix) on S3-compatible object storage. Reads are cached on local disk.

    A cached copy is named by its location *and* the object's ETag (its content's checksum), asked of the
    server at each read: a deleted object is never served from the cache, and a new object at a reused key
    (SQLite reuses the ids of deleted rows; another machine's cache is not cleared by a delete here) is
    never mistaken for the old one."""

    def __init__(self, url: str, cache_dir: str | Path | None = None):
        import boto3  # only needed when S3 is configured

        if not url.startswith("s3://"):
            raise ValueError(f"an S3 store URL starts with s3://; received {url!r}")
        bucket, _, prefix = url[5:].partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client("s3")
        self.cache = Path(cache_dir or data_home() / "cache" / "s3")

    def __repr__(self) -> str:
        return f"S3Store('s3://{self.bucket}/{self.prefix}')"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    @staticmethod
    def _split(location: str) -> tuple[str, str]:
        bucket, _, key = location[5:].partition("/")
        return bucket, key

    def put_file(self, key: str, src: str | Path) -> str:
        self.client.upload_file(str(src), self.bucket, self._key(key))
        return self.location(key)

    def put_bytes(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        return self.location(key)

    def _cached(self, location: str, etag: str) -> Path:
        return self.cache / hashlib.sha256(f"{location}\n{etag.strip(chr(34))}".encode()).hexdigest()[:32]

    @contextmanager
    def local_file(self, location: str) -> Iterator[Path]:
        bucket, key = self._split(location)
        try:
            etag = self.client.head_object(Bucket=bucket, Key=key)["ETag"]
        except Exception as exc:
            raise FileNotFoundError(f"{location} is not in the media store (was it deleted?)") from exc
        cached = self._cached(location, etag) / Path(key).name
        if not cached.is_file():
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cached.parent)
            os.close(fd)
            try:
                self.client.download_file(bucket, key, tmp)
            except Exception as exc:
                Path(tmp).unlink(missing_ok=True)
                raise FileNotFoundError(f"{location} could not be read from the media store ({exc})") from exc
            os.replace(tmp, cached)
        yield cached

    def exists(self, location: str) -> bool:
        bucket, key = self._split(location)
        try:
            self.client.head_object(Bucket=bucket, Key=key)
            return True
        except Exception:
            return False

    def delete(self, location: str) -> None:
        bucket, key = self._split(location)
        try:
            etag = self.client.head_object(Bucket=bucket, Key=key)["ETag"]
        except Exception:  # already gone
            return
        self.client.delete_object(Bucket=bucket, Key=key)
        shutil.rmtree(self._cached(location, etag), ignore_errors=True)

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object under ``prefix`` and this machine's cached copies of them."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix.rstrip("/") + "/")
        )
        for page in pages:
            objects = page.get("Contents", [])
            if objects:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": o["Key"]} for o in objects]})
            for o in objects:
                shutil.rmtree(self._cached(f"s3://{self.bucket}/{o['Key']}", o["ETag"]), ignore_errors=True)


MediaStore = LocalStore | S3Store


def media_store(spec: str | Path | None = None) -> MediaStore:
    """The configured store: ``spec``, else ``FER_MEDIA_STORE``, else the folder FER_HOME/media."""
    spec = str(spec or settings.current().media_store or data_home() / "media")
    return S3Store(spec) if spec.startswith("s3://") else LocalStore(spec)


def store_for(location: str, default: MediaStore | None = None) -> MediaStore:
    """The store that holds ``location`` (an s3:// URL or a path), to read a row's file on any machine."""
    if location.startswith("s3://"):
        if isinstance(default, S3Store):
            return default
        bucket = location[5:].partition("/")[0]
        return S3Store(f"s3://{bucket}")
    if isinstance(default, LocalStore):
        return default
    return LocalStore(Path(location).parent)


def face_key(session_id: int, detection_id: int) -> str:
    """Key of the small JPEG of one face, for sessions that keep faces instead of media."""
    return f"{session_id}/faces/{detection_id}.jpg"


def playable_dir() -> Path:
    """Where browser copies of kept videos are cached (FER_HOME/playable), by the video's SHA-256."""
    return settings.current().home / "playable"


def forget_playable(shas) -> None:
    """Remove the browser copies of these videos (they show people's faces too)."""
    for sha in set(shas) - {None}:
        (playable_dir() / f"{sha}.mp4").unlink(missing_ok=True)
