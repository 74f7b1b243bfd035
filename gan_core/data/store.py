"""Where image files come from: a folder or a zip, behind one small interface.

The "folder" source (``folder.py``) and pairs on disk (``paired.py``) read files
through the same stores, listings and decoders, so both see the same files, skip
the same ones and refuse the same limits:

    DirStore / ZipStore   open(name) -> a binary stream; a folder's regular files, or a
                          zip's members (addressed by ZipInfo, opened within the limits
                          of ``untrusted.open_zip``)
    list_dir / list_zip   the image files in them, hidden files and ``__MACOSX`` left out
    decode / header_mode  one file -> uint8 (C, S, S), or just its PIL mode; None when
                          unreadable or over the image limits (``untrusted.open_image``,
                          and for a zip's members the training image limit)
    scan                  the headers of a set of files, before any is decoded: each one's
                          mode and the pixels decoding it for training holds, and for a
                          zip the total, refused over ``untrusted.MAX_TRAINING_PIXELS``
    over_limit            which limit refused a set of files, for the error message
    parallel              a map over files with a few threads
    user_path             ``--data-path``, which must exist
"""

from __future__ import annotations

import os
import stat
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence, TypeVar

import torch
from PIL import Image

from ..config import DataConfig
from ..errors import DataError
from ..untrusted import (Unreadable, check_training_image, check_training_pixels, native_channels, open_image, open_regular,
                         open_zip, shown_name, training_pixels)
from ._images import pil_to_uint8

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# At most this many files (images, or pairs) are decoded up front, and are then all
# verified; more are read lazily. untrusted.MAX_ZIP_ENTRIES is the same number.
EAGER_LIMIT = 20_000

T = TypeVar("T")


class DirStore:
    """Image files under a directory, named by their relative POSIX path."""

    def __init__(self, root: Path):
        self.root = root
        self.where = str(root)

    def open(self, name: str) -> BinaryIO:
        # Listing keeps only regular files; should one be swapped for a FIFO since, open_regular
        # refuses it at once instead of waiting for a writer that never comes. OSError, as for
        # any file that cannot be read: a store's callers count it as unreadable.
        try:
            return open_regular(self.root / name)
        except Unreadable as e:
            raise OSError(str(e)) from None

    def read(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    def size(self, name: str) -> int | None:
        return None  # open_image measures a file on disk itself

    def close(self) -> None:
        pass


class ZipStore:
    """Members of a zip archive, addressed by their ``ZipInfo`` (two members may share a
    name, and each must be read on its own). Picklable for DataLoader workers: each
    process opens its own handle."""

    def __init__(self, path: Path):
        self.path = path
        self.where = str(path)
        self._zip: zipfile.ZipFile | None = None
        self._pid: int | None = None

    def archive(self) -> zipfile.ZipFile:
        # A handle inherited through fork shares its file offset with the parent, so reopen per process.
        if self._zip is None or self._pid != os.getpid():
            self._zip = open_zip(self.path, f"Zip file {self.path}")  # the upload limits, for every zip
            self._pid = os.getpid()
        return self._zip

    def open(self, member: zipfile.ZipInfo) -> BinaryIO:
        # A stream: never more than the member's declared size, which open_zip has checked.
        return self.archive().open(member)

    def read(self, member: zipfile.ZipInfo) -> bytes:
        with self.open(member) as f:
            return f.read()

    def size(self, member: zipfile.ZipInfo) -> int:
        # Binding: zipfile never unpacks a member beyond its declared size.
        return member.file_size

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_zip"] = None
        return state


Store = DirStore | ZipStore


def _training(store: Store, img: Image.Image, image_size: int, what: str = "The image") -> int:
    """The pixels decoding ``img`` for training holds; for a zip (a visitor's upload) refused
    over ``untrusted.MAX_TRAINING_IMAGE_PIXELS``. A folder on disk is the user's own data
    (4K frames on a GPU server, say) and keeps only the image limits every picture has."""
    if isinstance(store, ZipStore):
        return check_training_image(img, image_size, what)
    return training_pixels(img, image_size)


@contextmanager
def _open(store: Store, name, what: str = "The image") -> Iterator[Image.Image]:
    """``untrusted.open_image`` on a stored file, told its size (a zip member cannot tell)."""
    with store.open(name) as f, open_image(f, what, nbytes=store.size(name)) as img:
        yield img


def decode(store: Store, name, image_size: int, channels: int | None) -> torch.Tensor | None:
    """One file -> uint8 (C, S, S), in its native channels if ``channels`` is None; None if
    unreadable, over the size limits or over the training image limit (all checked from the
    header, before decoding)."""
    try:
        with _open(store, name) as img:
            _training(store, img, image_size)
            # JPEG only: let the decoder downscale by 1/2, 1/4 or 1/8 while keeping both sides
            # >= image_size. Much faster for large photos; the proper resize follows.
            img.draft(None, (image_size, image_size))
            img.load()
            return pil_to_uint8(img, image_size, channels or native_channels(img.mode))
    except Exception:  # noqa: BLE001 - any failure on a user's file means "unreadable", which is counted, not raised
        return None


def header_mode(store: Store, name) -> str | None:
    """The PIL mode from the file's header, without decoding the pixels; None if unreadable or over the size limits."""
    try:
        with _open(store, name) as img:
            return img.mode
    except Exception:  # noqa: BLE001 - as in decode
        return None


def header(store: Store, name, image_size: int) -> tuple[str, int] | None:
    """(PIL mode, pixels decoding it for training at ``image_size`` holds) from the file's
    header alone; None if unreadable, over the size limits or over the training image limit."""
    try:
        with _open(store, name) as img:
            return img.mode, _training(store, img, image_size)
    except Exception:  # noqa: BLE001 - as in decode
        return None


def scan(store: Store, names: Sequence, image_size: int) -> list[tuple[str, int] | None]:
    """``header`` for every file, before any is decoded; for a zip, the pixels of the
    readable ones must fit ``untrusted.MAX_TRAINING_PIXELS`` (``DataError`` in one sentence
    naming ``store.where`` otherwise). A folder is the user's own disk and has no total
    limit: a set too large to hold is read lazily."""
    found = parallel(lambda n: header(store, n, image_size), names)
    if isinstance(store, ZipStore):
        usable = [h for h in found if h is not None]
        check_training_pixels(len(usable), sum(pixels for _, pixels in usable), store.where)
    return found


def over_limit(store: Store, names: Sequence, image_size: int | None = None) -> str | None:
    """Why the first of ``names`` that breaks the size limits (and, given ``image_size``,
    the training image limit) does, as the end of a sentence; None if none does."""
    for name in names:
        shown = shown_name(getattr(name, "filename", name))
        try:
            with _open(store, name, shown) as img:
                if image_size is not None:
                    _training(store, img, image_size, shown)
        except DataError as e:
            return str(e)
        except Exception:  # noqa: BLE001, S112 - unreadable for another reason: look at the next
            continue
    return None


def parallel(fn: Callable[[str], T], names: Sequence[str]) -> list[T]:
    """Map over files in order with a few threads: PIL and file reads release the GIL."""
    workers = min(8, os.cpu_count() or 1)
    if workers == 1 or len(names) < 64:
        return [fn(n) for n in names]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, names, chunksize=32))


def wanted(parts: Sequence[str]) -> bool:
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return parts[-1].lower().endswith(IMAGE_EXTENSIONS)


def entry_kind(entry: os.DirEntry, top: str) -> str | None:
    """"dir", "file" (a regular file) or None (skip) for one directory entry.

    Only regular files are read: opening a FIFO blocks until someone writes to it, and a
    device may never end. A symlink is followed only if it leads to somewhere inside
    ``top`` (a real path): a data folder must not become a window onto the rest of the disk.
    """
    try:
        if entry.is_symlink():
            target = os.path.realpath(entry.path)
            if os.path.commonpath([top, target]) != top:
                return None
            mode = os.stat(target).st_mode
            return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else None
        # d_type from scandir: no extra system call per file
        return "dir" if entry.is_dir(follow_symlinks=False) else "file" if entry.is_file(follow_symlinks=False) else None
    except (OSError, ValueError):  # vanished, a dangling or looping link
        return None


def list_dir(root: Path) -> tuple[list[str], int]:
    """Image files under ``root`` (relative POSIX paths, sorted), and how many entries
    with an image name were skipped for not being a regular file inside the folder."""
    top = os.path.realpath(root)
    found, skipped = [], 0
    seen = set()  # real paths of visited folders: symlinked folders are followed, but never in a cycle
    pending: list[tuple[str, tuple[str, ...]]] = [(str(root), ())]
    while pending:
        folder, rel = pending.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as e:
            raise DataError(f"Folder {folder} cannot be read ({e.strerror}); check its permissions.") from None
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__MACOSX":
                continue
            parts = rel + (entry.name,)
            kind = entry_kind(entry, top)
            if kind == "dir":
                pending.append((entry.path, parts))
            elif wanted(parts):
                if kind == "file":
                    found.append("/".join(parts))
                else:
                    skipped += 1
    return sorted(found), skipped


def list_zip(store: ZipStore) -> list[zipfile.ZipInfo]:
    """The image members, in name order; members that share a name are all kept."""
    try:
        members = store.archive().infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):  # ValueError: e.g. a name flagged UTF-8 that is not
        raise DataError(
            f"{store.path} is not a valid zip archive (damaged or incomplete); re-create it or point --data-path at the unpacked folder."
        ) from None
    except OSError as e:
        raise DataError(f"Zip file {store.path} cannot be read ({e.strerror}); check its permissions.") from None
    # Zips made on Windows may use backslashes.
    images = [m for m in members if not m.is_dir() and wanted(m.filename.replace("\\", "/").split("/"))]
    return sorted(images, key=lambda m: (m.filename, m.header_offset))


def user_path(cfg: DataConfig) -> Path:
    path = Path(cfg.path).expanduser()
    if not path.exists():
        raise DataError(f"Folder {path} does not exist; check --data-path.")
    return path


__all__ = [
    "IMAGE_EXTENSIONS", "EAGER_LIMIT", "DirStore", "ZipStore", "Store", "decode", "header_mode", "header", "scan", "over_limit",
    "parallel",
    "wanted", "entry_kind", "list_dir", "list_zip", "user_path",
]
