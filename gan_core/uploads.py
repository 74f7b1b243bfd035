"""The upload flow: keep a visitor's zip or checkpoint once it has been checked as a run would use it.

An upload is saved under ``<runs_dir>/uploads/`` with a name made from a hash of
its bytes (never from the user's file name), so the same zip uploaded twice is
stored once and no user text ever becomes part of a server path. It is then
opened with ``load_data`` exactly as a run will open it, so a zip the trainer
could not use is refused at once, with one sentence, instead of failing a run.
A checkpoint is checked in memory (metadata, shapes, a real load) before it is
written, so a refused file never reaches the disk.

The checks of the bytes themselves (limits, names, images, zips) live a floor down,
in ``untrusted.py``, where the data sources and the checkpoint reader use them too.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import checkpoints, untrusted
from .config import DataConfig
from .data import load_data
from .data.store import IMAGE_EXTENSIONS
from .errors import CheckpointError, DataError, GanError
from .inference import generator_from
from .recipes import RECIPES
from .runs import atomic_write_bytes
from .settings import upload_limits
from .translate import translator_from
from .untrusted import byte_size, open_zip, shown_name
from .visitors import UPLOADS, uploads_dir

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


def upload_path(data: bytes, runs_dir: str | Path, owner: str | None = None) -> Path:
    """``owner``: a demo visitor's id, whose uploads have a folder of their own (gan_core.visitors)."""
    digest = hashlib.sha256(data).hexdigest()[:20]
    return (uploads_dir(runs_dir, owner) if owner else Path(runs_dir) / UPLOADS) / f"upload-{digest}.zip"


def _write(path: Path, data: bytes, error: type[GanError]) -> None:
    """Keep an upload; a runs folder that is a file, unwritable or full is one sentence."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as e:
        raise error(f"The upload cannot be saved in the runs folder ({e.strerror or type(e).__name__}); "
                    "ask whoever runs this server to free space or fix GAN_WORKBENCH_RUNS_DIR.") from None


def upload_file_limit(kind_limit: int) -> int:
    """The most one uploaded file of a kind may be: the kind's own limit (``untrusted``)
    or this server's per-file upload limit (``settings.upload_limits``: 32 MB in demo
    mode), whichever is smaller. The server refuses larger bodies before Streamlit keeps
    them (pages.common.streamlit_internals.hold_uploads); the engine checks again, as it
    does not rely on the page."""
    return min(kind_limit, upload_limits().file_bytes)


def save_upload(data: bytes, runs_dir: str | Path, owner: str | None = None) -> Upload:
    """Save an uploaded zip under the runs area and check that it holds usable images.

    Raises ``DataError`` (and keeps nothing on disk) for an empty file, a file that is
    not a zip, a zip over the limits above, or a zip without readable images.
    """
    if not data:
        raise DataError("The uploaded file is empty; upload a .zip of jpg or png images.")
    limit = upload_file_limit(untrusted.MAX_UPLOAD_BYTES)
    if len(data) > limit:
        raise DataError(f"The uploaded file is {byte_size(len(data))}, more than the {byte_size(limit)} upload limit; "
                        "zip fewer or smaller images.")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DataError("The uploaded file is not a zip archive; upload a .zip of jpg or png images.")
    try:  # the limits, from the zip's directory alone, before anything is written or unpacked
        open_zip(io.BytesIO(data)).close()
    except (zipfile.BadZipFile, ValueError, EOFError):  # ValueError: e.g. a name flagged UTF-8 that is not
        raise DataError("The uploaded zip is damaged or incomplete; create it again and upload it.") from None
    path = upload_path(data, runs_dir, owner)
    new = not path.exists()
    if new:
        _write(path, data, DataError)
    try:
        if not zipfile.is_zipfile(path):
            raise DataError("The uploaded file is not a zip archive; upload a .zip of jpg or png images.")
        return check_upload(path)
    except DataError:
        if new:
            path.unlink(missing_ok=True)
        raise


def check_upload(path: str | Path) -> Upload:
    """Open a saved zip the way a run will (the "folder" source) and describe it. The
    source reads every member's header before decoding any, and refuses a zip whose images
    add up to more than ``untrusted.MAX_TRAINING_PIXELS`` (counted for runs up to 256 px,
    though the check decodes at CHECK_SIZE), so a few kilobytes never cost the server minutes."""
    path = Path(path)
    try:
        with open_zip(path) as archive:
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


def check_paired_upload(path: str | Path) -> str:
    """Open a saved zip the way a pix2pix run on ``--data paired`` will (A|B images, or
    A/ and B/ folders with matching names) and describe its pairs in one sentence."""
    path = Path(path)
    try:
        data = load_data(DataConfig(name="paired", path=str(path), image_size=CHECK_SIZE))
    except DataError as e:  # named by its server path; the user knows it as "the uploaded zip"
        raise DataError(str(e).replace(str(path), "the uploaded zip")) from None
    layout = "A|B side-by-side images" if "A|B" in data.description else "A/ and B/ files with matching names"
    colour = "colour" if data.shape[0] == 3 else "grey"
    skipped = f"; {data.skipped} file(s) without a partner or unreadable will be skipped" if data.skipped else ""
    return f"Found {len(data)} {colour} image pairs as {layout}{skipped}."


UPLOADED_CHECKPOINTS = "checkpoints"  # under uploads/


def save_checkpoint_upload(data: bytes, filename: str, runs_dir: str | Path, owner: str | None = None,
                           conditional: bool = False, translator: bool = False, gallery: bool = False) -> Path:
    """Save an uploaded generator (e.g. trained on a GPU server and exported with
    ``python -m gan_core export``) where the gallery lists it, after checking it in
    memory exactly as it will be loaded: metadata bounds, shapes against the
    tensors, finite weights, a real load. Only then is it written, so a refused file
    never reaches the disk. Only .safetensors is accepted: a pickle could run code."""
    name = Path(str(filename)).name
    shown = shown_name(name, 100) or "The uploaded file"
    # The real name, not the shown one: shortening a long name cuts its extension off.
    if not name.lower().endswith(".safetensors"):
        raise CheckpointError(f"{shown} is not a .safetensors file; only those are accepted (make one with python -m gan_core export).")
    if not data:
        raise CheckpointError("The uploaded checkpoint is empty; upload the .safetensors file again.")
    limit = upload_file_limit(untrusted.MAX_CHECKPOINT_BYTES)
    if len(data) > limit:
        raise CheckpointError(f"{shown} is {byte_size(len(data))}, more than the {byte_size(limit)} limit for uploaded checkpoints "
                              "on this server; export the generator alone (python -m gan_core export).")
    digest = hashlib.sha256(data).hexdigest()[:20]
    path = (uploads_dir(runs_dir, owner) if owner else Path(runs_dir) / UPLOADS / UPLOADED_CHECKPOINTS) / f"ckpt-{digest}.safetensors"
    ckpt = checkpoints.parse(data, shown)  # errors name the file as the visitor knows it
    _right_page(ckpt, shown, translator, conditional or gallery)
    if translator:
        translator_from(ckpt)  # the generator and, if the file has one, the discriminator, checked alike
    else:
        gen = generator_from(ckpt)
        if conditional and not gen.conditional:
            raise CheckpointError(f"{shown} is an unconditional {gen.config.recipe} generator, so it cannot be told what to make; "
                                  "open it in the Gallery instead.")
    if not path.exists():
        _write(path, data, CheckpointError)
    return path


def save_conditional_upload(data: bytes, filename: str, runs_dir: str | Path, owner: str | None = None) -> Path:
    """``save_checkpoint_upload`` for the Conditional page: only a cgan generator is kept."""
    return save_checkpoint_upload(data, filename, runs_dir, owner, conditional=True)


def save_gallery_upload(data: bytes, filename: str, runs_dir: str | Path, owner: str | None = None) -> Path:
    """``save_checkpoint_upload`` for the Gallery: only a generator that makes pictures from noise is kept."""
    return save_checkpoint_upload(data, filename, runs_dir, owner, gallery=True)


def save_translator_upload(data: bytes, filename: str, runs_dir: str | Path, owner: str | None = None) -> Path:
    """``save_checkpoint_upload`` for the Pix2Pix page: only a pix2pix translator is kept."""
    return save_checkpoint_upload(data, filename, runs_dir, owner, translator=True)


def _right_page(ckpt, shown: str, translator: bool, no_translator: bool) -> None:
    """The Pix2Pix page takes translators only, and the Conditional page and the Gallery
    (``no_translator``) no translator: a file meant for another page is pointed there
    before anything is built. A recipe this server does not know is left to the loader,
    which refuses it in its own words."""
    try:
        recipe = RECIPES.get(ckpt.config.recipe)
    except GanError:
        return
    if translator and not recipe.paired:
        page = "Conditional generation" if recipe.conditional else "the Gallery"
        raise CheckpointError(f"{shown} is a {recipe.name} generator, which makes images from noise rather than translating "
                              f"them; open it in {page} instead, or upload a pix2pix checkpoint here.")
    if no_translator and recipe.paired:
        raise CheckpointError(f"{shown} is a {recipe.name} model, which translates images rather than making them from noise; "
                              "open it in Pix2Pix instead.")


__all__ = ["Upload", "UPLOADED_CHECKPOINTS", "save_upload", "check_upload", "upload_path", "save_checkpoint_upload",
           "save_conditional_upload", "save_gallery_upload", "save_translator_upload", "check_paired_upload"]
