"""The user's own images: a folder, a .zip, or CelebA in torchvision's layout.

Folders and zips
    Image files (jpg, jpeg, png, bmp, gif, webp, tif, tiff; any case) are found at
    any depth; hidden files and folders (".name") and ``__MACOSX`` are ignored.
    A single folder that wraps everything (``faces.zip`` -> ``faces/...``) is looked
    through. Below that, each sub-folder is a class: labels follow the sorted folder
    names and images in deeper folders belong to their top-level class folder.
    Images directly in the root with no class folders are unlabelled; if the root
    holds both class folders and loose images, the loose images are kept (never
    silently dropped) as one extra class named ``(root)``, placed last so that the
    folder classes keep the same labels with or without stray files.

    Colour: ``channels=None`` gives 3 channels if any image is colour, else 1. Colour
    is judged from the file's header mode (palette images count as colour).

Eager or lazy
    Up to ``store.EAGER_LIMIT`` (20,000) images whose decoded floats fit in ``EAGER_BYTES``
    are decoded up front into tensors, so every image is verified and unreadable
    ones are counted in ``GanData.skipped``. Larger sets become a lazy Dataset: the
    scan opens each file's header (no full decode) and counts the failures as
    skipped; an image that still fails to decode later is replaced by the next
    readable one, so a batch never comes back short. Zips follow the same rule and
    are read member by member, never extracted to disk.

Limits (gan_core.untrusted, the same as for uploads)
    Only regular files are read, and symlinks only when they lead inside the folder;
    other entries with an image name (FIFOs, devices, links out) are skipped and counted.
    An image whose header declares too many pixels or too long a shape, more than its
    bytes can hold (``untrusted.check_plausible``) or, in a zip, more than a training image
    needs (``untrusted.MAX_TRAINING_IMAGE_PIXELS``, counted as decoded: JPEGs at their draft
    scale) is skipped and counted like an unreadable one, before it is decoded. A zip
    over the entry, size or compression-ratio limits is refused as a whole, from its
    directory alone; so is one whose images' headers add up to more than
    ``untrusted.MAX_TRAINING_PIXELS``, before any is decoded.

CelebA
    ``<root>/celeba/img_align_celeba/*.jpg`` plus ``<root>/celeba/list_attr_celeba.txt``
    (``root`` may also be the ``celeba`` folder itself). The attribute file is parsed
    here rather than by torchvision's CelebA class, which insists on the MD5 sums of
    the official files. Listed images missing on disk are skipped and counted.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..config import DataConfig
from ..errors import DataError
from ..untrusted import MAX_NAME_CHARS, MAX_NAMES, native_channels, shown_name, unprintable
from . import store as stores
from ._images import convert_channels, uint8_to_real
from .base import GanData, register_source
from .store import IMAGE_EXTENSIONS, DirStore, Store, ZipStore, decode, entry_kind, list_dir, list_zip, over_limit, parallel, scan, user_path

EAGER_BYTES = 1 << 30  # up to stores.EAGER_LIMIT images are decoded up front, and only if their float32 tensors fit in 1 GiB
ROOT_CLASS = "(root)"

_EXTENSION_LIST = ", ".join(e[1:] for e in IMAGE_EXTENSIONS)


# ----------------------------------------------------------------------------- datasets
# (the stores a dataset reads from, and their listings, are in store.py)


class ImageFileDataset(torch.utils.data.Dataset):
    """Decodes one image per item. A file that fails to decode is replaced by the
    next readable one (wrapping around), so batches always have full size."""

    def __init__(self, store: Store, names: list[str], extras: dict[str, torch.Tensor], image_size: int, channels: int):
        self.store, self.names, self.extras = store, names, extras
        self.image_size, self.channels = image_size, channels
        self._bad: set[int] = set()  # per process; only speeds up repeated failures

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        n = len(self.names)
        if not 0 <= index < n:
            raise IndexError(f"index {index} is out of range for {n} images")
        for step in range(n):
            i = (index + step) % n
            if i in self._bad:
                continue
            image = decode(self.store, self.names[i], self.image_size, self.channels)
            if image is None:
                self._bad.add(i)
                continue
            item = {"real": uint8_to_real(image)}
            item.update({k: v[i] for k, v in self.extras.items()})
            return item
        raise DataError(f"None of the {n} images in {self.store.where} can be decoded any more; check that the files are intact.")


def _fits_in_memory(n: int, image_size: int) -> bool:
    return n <= stores.EAGER_LIMIT and n * 3 * image_size * image_size * 4 <= EAGER_BYTES


def build_image_data(
    name: str,
    store: Store,
    files: list[str],
    cfg: DataConfig,
    *,
    extras: dict[str, torch.Tensor] | None = None,
    class_names: list[str] | None = None,
    attr_names: list[str] | None = None,
    skipped: int = 0,
    description: str = "",
) -> GanData:
    """Image files plus per-file extra tensors (labels, attributes) -> GanData, eager or lazy."""
    extras = extras or {}
    size = cfg.image_size
    # Every header first (for a zip, the total pixels against untrusted.MAX_TRAINING_PIXELS),
    # so that nothing is decoded for a set that is refused, nor for a file refused by its header.
    headers = scan(store, files, size)
    modes = [h and h[0] for h in headers]
    eager = _fits_in_memory(len(files), size)
    if eager:
        readable = [i for i, m in enumerate(modes) if m is not None]
        images: list[torch.Tensor | None] = [None] * len(files)
        for i, image in zip(readable, parallel(lambda i: decode(store, files[i], size, cfg.channels), readable)):
            images[i] = image
        store.close()
        keep = [i for i, im in enumerate(images) if im is not None]
    else:
        keep = [i for i, m in enumerate(modes) if m is not None]
    if not keep:
        reason = over_limit(store, files[:20], size)  # name the limit if that is what refused them
        if reason:
            raise DataError(f"None of the {len(files)} image files in {store.where} can be used: {reason}")
        raise DataError(f"None of the {len(files)} image files in {store.where} could be read; check that they are valid, complete images.")
    skipped += len(files) - len(keep)
    index = torch.tensor(keep, dtype=torch.int64)
    extras = {k: v.index_select(0, index) for k, v in extras.items()}
    common = dict(class_names=class_names, attr_names=attr_names, skipped=skipped, description=description)

    if eager:
        channels = cfg.channels or max(images[i].shape[0] for i in keep)
        real = torch.empty(len(keep), channels, size, size)
        for row, i in enumerate(keep):
            real[row] = uint8_to_real(convert_channels(images[i], channels))
            images[i] = None  # free as we go
        return GanData(name, "image", (channels, size, size), tensors={"real": real, **extras}, **common)

    channels = cfg.channels or max(native_channels(modes[i]) for i in keep)
    dataset = ImageFileDataset(store, [files[i] for i in keep], extras, size, channels)
    return GanData(name, "image", (channels, size, size), dataset=dataset, **common)


# ----------------------------------------------------------------------------- folder / zip


def _check_class_names(classes: list[str]) -> None:
    """Refuse class folders whose names a checkpoint cannot hold, so that a run never
    trains for minutes and then writes weights no page can open (checkpoints.py
    checks the same bounds on every checkpoint it reads)."""
    if len(classes) > MAX_NAMES:
        raise DataError(f"The images are in {len(classes):,} class folders, more than the {MAX_NAMES:,}-class limit; "
                        "group them into fewer sub-folders, or put them all in one folder to train without labels.")
    for name in classes:
        if not name:
            raise DataError("Some images are in a class folder with an empty name (a path starting with / or //); "
                            "zip the folder of images itself and upload it again.")
        if len(name) > MAX_NAME_CHARS:
            raise DataError(f"The class folder {shown_name(name)} has a name of {len(name):,} characters, more than "
                            f"the {MAX_NAME_CHARS}-character limit for class names; rename it shorter.")
        if unprintable(name):
            raise DataError(f"The class folder {shown_name(name)} has a line break or control character in its name; "
                            "rename it and try again.")


def split_classes(files: Sequence[str]) -> tuple[torch.Tensor | None, list[str] | None]:
    """Labels and class names from relative paths (see the module docstring for the rules)."""
    parts = [f.replace("\\", "/").split("/") for f in files]
    while parts and all(len(p) > 1 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]  # look through a single wrapping folder
    tops = [p[0] if len(p) > 1 else None for p in parts]
    classes = sorted({t for t in tops if t is not None})
    if not classes:
        return None, None
    if None in tops:
        if ROOT_CLASS in classes:
            raise DataError(f"A class folder is named {ROOT_CLASS}, the name given to images outside any class folder; "
                            "rename that folder, or move the loose images into a class folder.")
        classes.append(ROOT_CLASS)
    _check_class_names(classes)
    index = {c: i for i, c in enumerate(classes)}
    labels = torch.tensor([index[ROOT_CLASS if t is None else t] for t in tops], dtype=torch.int64)
    return labels, classes


def _listing(cfg: DataConfig) -> tuple[Path, Store, list, list[str], int]:
    """(path, store, files, their names, entries skipped) of a folder or zip: the directory
    entries, or the zip's central directory, and nothing opened or decoded."""
    path = user_path(cfg)
    if path.is_dir():
        store: Store = DirStore(path)
        files, skipped = list_dir(path)
        names = files
    elif path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)):
        store = ZipStore(path)
        files, skipped = list_zip(store), 0
        names = [m.filename for m in files]
    else:
        raise DataError(f"{path} is neither a folder nor a .zip file; point --data-path at a folder of images or a .zip of them.")
    if not files:
        store.close()
        raise DataError(f"{path} contains no images ({_EXTENSION_LIST}); point --data-path at a folder or .zip that holds your images.")
    return path, store, files, names, skipped


def count_images(cfg: DataConfig) -> int:
    """The image files of a folder or zip, from its listing alone (a zip's central directory,
    checked against the upload limits; a folder's directory entries): what rebuilding the
    set can cost is known before any image is opened (``memorisation.check_rebuild``)."""
    _, store, files, _, _ = _listing(cfg)
    store.close()
    return len(files)


@register_source(
    "folder",
    "image",
    "your own images: a folder or .zip of jpg/png/...; class sub-folders become labels",
    builtin=False,
    needs_path=True,
)
def load_folder(cfg: DataConfig, keep: Sequence[int] | None = None) -> GanData:
    """``keep``: read only these positions of the listing (its files in name order), for a
    caller that needs a bounded sample of a set it must not decode whole (``memorisation``,
    ``judge``); the labels and class names still come from the whole listing, so they are
    the ones the set was trained with."""
    path, store, files, names, skipped = _listing(cfg)
    labels, class_names = split_classes(names)
    if keep is not None:
        files = [files[i] for i in keep]
        labels = None if labels is None else labels[torch.as_tensor(list(keep), dtype=torch.int64)]
    extras = {} if labels is None else {"label": labels}
    what = f"{len(class_names)} classes" if class_names else "no labels"
    return build_image_data(
        "folder",
        store,
        files,
        cfg,
        extras=extras,
        class_names=class_names,
        skipped=skipped,
        description=f"images from {path} ({what})",
    )


# ----------------------------------------------------------------------------- CelebA


def _celeba_attributes(path: Path) -> tuple[list[str], list[str], torch.Tensor]:
    """Parse list_attr_celeba.txt -> (file names, attribute names, (N, A) float 0/1)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise DataError(f"CelebA attribute file {path} cannot be read ({e.strerror}); check its permissions.") from None

    def malformed(line: int, expected: str) -> DataError:
        return DataError(f"Line {line} of CelebA attribute file {path} is malformed (expected {expected}); re-download list_attr_celeba.txt.")

    if not lines or not lines[0].strip().isdigit():
        raise malformed(1, "the number of images")
    names = lines[1].split() if len(lines) > 1 else []
    if not names:
        raise malformed(2, "the attribute names")
    # Line 1's count is not enforced, so a hand-trimmed subset of the file still works.
    files, rows = [], []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        values = fields[1:]
        if len(values) != len(names) or not set(values) <= {"1", "-1"}:
            raise malformed(number, f"a file name and {len(names)} values of 1 or -1")
        files.append(fields[0])
        rows.append([v == "1" for v in values])  # -1 -> 0
    if not files:
        raise DataError(f"CelebA attribute file {path} lists no images; re-download list_attr_celeba.txt.")
    return files, names, torch.from_numpy(np.array(rows, dtype=np.float32))


@register_source(
    "celeba",
    "image",
    "CelebA faces with 40 binary attributes, from a local copy in torchvision's layout",
    builtin=False,
    needs_path=True,
    tags=("attrs",),
)
def load_celeba(cfg: DataConfig) -> GanData:
    path = user_path(cfg)
    if not path.is_dir():
        raise DataError(f"{path} is not a folder; point --data-path at the folder that holds celeba/ (torchvision's CelebA layout).")
    base = path / "celeba" if (path / "celeba").is_dir() else path
    attr_file = base / "list_attr_celeba.txt"
    image_dir = base / "img_align_celeba"
    if not attr_file.is_file():
        raise DataError(f"CelebA attribute file {attr_file} was not found; point --data-path at the folder that holds celeba/list_attr_celeba.txt.")
    if not image_dir.is_dir():
        raise DataError(f"CelebA image folder {image_dir} does not exist; unpack img_align_celeba.zip into {base}.")
    files, attr_names, attrs = _celeba_attributes(attr_file)
    try:
        top = os.path.realpath(image_dir)
        with os.scandir(image_dir) as it:  # only regular files inside the folder, as for "folder"
            on_disk = {e.name for e in it if entry_kind(e, top) == "file"}
    except OSError as e:
        raise DataError(f"Folder {image_dir} cannot be read ({e.strerror}); check its permissions.") from None
    present = [i for i, f in enumerate(files) if f in on_disk]
    if not present:
        raise DataError(f"None of the {len(files)} images listed in {attr_file} are in {image_dir}; unpack img_align_celeba.zip there.")
    return build_image_data(
        "celeba",
        DirStore(image_dir),
        [files[i] for i in present],
        cfg,
        extras={"attrs": attrs[present]},
        attr_names=attr_names,
        skipped=len(files) - len(present),
        description=f"CelebA faces from {base} with {len(attr_names)} attributes",
    )
