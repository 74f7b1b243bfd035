"""Files uploaded through the dashboard: zips of images, and checkpoints.

An upload is saved under ``<runs_dir>/uploads/`` with a name made from a hash of
its bytes (never from the user's file name), so the same zip uploaded twice is
stored once and no user text ever becomes part of a server path. It is then
opened with ``load_data`` exactly as a run will open it, so a zip the trainer
could not use is refused at once, with one sentence, instead of failing a run.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .config import DataConfig
from .errors import CheckpointError, DataError
from .runs import atomic_write_bytes

UPLOADS = "uploads"  # folder under the runs directory; list_runs ignores it (no config.json)
CHECK_SIZE = 16  # images are decoded at this size to check them: cheap, and enough to prove they are readable


@dataclass(frozen=True)
class Upload:
    path: Path  # the saved zip, to use as the "folder" source's data path
    images: int  # readable images in it
    channels: int  # 1 = all grey, 3 = some colour
    class_names: list[str] | None  # from sub-folders, if any
    skipped: int  # files with an image extension that could not be read

    def summary(self) -> str:
        colour = "colour" if self.channels == 3 else "grey"
        classes = f" in {len(self.class_names)} classes" if self.class_names else ""
        skipped = f"; {self.skipped} unreadable file(s) will be skipped" if self.skipped else ""
        return f"Found {self.images} {colour} images{classes}{skipped}."


def upload_path(data: bytes, runs_dir: str | Path) -> Path:
    digest = hashlib.sha256(data).hexdigest()[:20]
    return Path(runs_dir) / UPLOADS / f"upload-{digest}.zip"


def save_upload(data: bytes, runs_dir: str | Path) -> Upload:
    """Save an uploaded zip under the runs area and check that it holds usable images.

    Raises ``DataError`` (and keeps nothing on disk) for an empty file, a file that is
    not a zip, or a zip without readable images.
    """
    if not data:
        raise DataError("The uploaded file is empty; upload a .zip of jpg or png images.")
    path = upload_path(data, runs_dir)
    new = not path.exists()
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    try:
        if not zipfile.is_zipfile(path):
            raise DataError("The uploaded file is not a zip archive; upload a .zip of jpg or png images.")
        return check_upload(path)
    except DataError:
        if new:
            path.unlink(missing_ok=True)
        raise


def check_upload(path: str | Path) -> Upload:
    """Open a saved zip the way a run will (the "folder" source) and describe it."""
    from .data import load_data  # imports torch; only needed once a zip has arrived
    from .data.folder import IMAGE_EXTENSIONS

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [m.filename.replace("\\", "/") for m in archive.infolist() if not m.is_dir()]
    except zipfile.BadZipFile:
        raise DataError("The uploaded zip is damaged or incomplete; create it again and upload it.") from None
    images = [n for n in names if n.lower().endswith(IMAGE_EXTENSIONS)
              and not any(part.startswith(".") or part == "__MACOSX" for part in n.split("/"))]
    if not images:
        kinds = ", ".join(e[1:] for e in IMAGE_EXTENSIONS)
        raise DataError(f"The uploaded zip contains no images ({kinds}); zip a folder of images and upload it again.")
    try:
        data = load_data(DataConfig(name="folder", path=str(path), image_size=CHECK_SIZE))
    except DataError as e:  # the source names the file by its server path; the user knows it as "the uploaded zip"
        raise DataError(str(e).replace(str(path), "the uploaded zip")) from None
    return Upload(path, len(data), data.shape[0], data.class_names, data.skipped)


UPLOADED_CHECKPOINTS = "checkpoints"  # under uploads/
# The largest checkpoint a visitor may upload. A DCGAN generator at 256 x 256 with
# width 64 is about 190 MB; the gallery's own demo is 1.5 MB. The same cap as
# Streamlit's upload limit in .streamlit/config.toml, so a larger file never arrives.
MAX_CHECKPOINT_BYTES = 200 * 1024 * 1024


def save_checkpoint_upload(data: bytes, filename: str, runs_dir: str | Path) -> Path:
    """Save an uploaded generator (e.g. trained on a GPU server and exported with
    ``python -m gan_core export``) where the gallery lists it, after checking it in
    memory exactly as it will be loaded: metadata bounds, shapes against the
    tensors, finite weights, a real load. Only then is it written, so a refused file
    never reaches the disk. Only .safetensors is accepted: a pickle could run code."""
    from . import checkpoints
    from .inference import generator_from  # imports torch; only needed once a file has arrived

    shown = Path(str(filename)).name[:100] or "The uploaded file"
    if not shown.lower().endswith(".safetensors"):
        raise CheckpointError(f"{shown} is not a .safetensors file; only those are accepted (make one with python -m gan_core export).")
    if not data:
        raise CheckpointError("The uploaded checkpoint is empty; upload the .safetensors file again.")
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{shown} is {len(data) / 2**20:,.0f} MB, more than the {MAX_CHECKPOINT_BYTES // 2**20} MB limit for uploaded checkpoints; export the generator alone (python -m gan_core export).")
    digest = hashlib.sha256(data).hexdigest()[:20]
    path = Path(runs_dir) / UPLOADS / UPLOADED_CHECKPOINTS / f"ckpt-{digest}.safetensors"
    generator_from(checkpoints.parse(data, shown))  # errors name the file as the visitor knows it
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    return path


__all__ = ["Upload", "UPLOADS", "save_upload", "check_upload", "upload_path", "save_checkpoint_upload"]
