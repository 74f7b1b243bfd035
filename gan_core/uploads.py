"""Files uploaded through the dashboard: zips of images, and checkpoints.

An upload is saved under ``<runs_dir>/uploads/`` with a name made from a hash of
its bytes (never from the user's file name), so the same zip uploaded twice is
stored once and no user text ever becomes part of a server path. It is then
opened with ``load_data`` exactly as a run will open it, so a zip the trainer
could not use is refused at once, with one sentence, instead of failing a run.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from .config import DataConfig
from .errors import CheckpointError, DataError, GanError
from .runs import atomic_write_bytes
from .visitors import uploads_dir

UPLOADS = "uploads"  # folder under the runs directory; list_runs ignores it (no config.json)
CHECK_SIZE = 16  # images are decoded at this size to check them: cheap, and enough to prove they are readable

# ----------------------------------------------------------------------------- limits
# Every file a visitor sends passes these checks before anything in it is decoded or
# unpacked: a few kilobytes must never cost gigabytes or minutes (Streamlit Community
# Cloud gives the whole app about 1 GB of memory). The data layer applies the image and
# zip limits too, so a run opens an upload exactly as it was checked.

# The upload itself. Streamlit refuses more (.streamlit/config.toml: maxUploadSize = 200,
# in MiB); checked again because the engine does not rely on the page.
MAX_UPLOAD_BYTES = 200 * 2**20
# One image file, as uploaded or as a zip member once unpacked: an uncompressed
# 48-megapixel RGB photo (8000 x 6000 TIFF or BMP) is 144 MB.
MAX_IMAGE_BYTES = 150 * 2**20
# Pixels of one image, read from its header before decoding. 48 MP (8000 x 6000) and
# 50 MP (8160 x 6120) phone photos pass; Pillow holds such an image in about 200 MB
# (4 bytes a pixel), which Cloud's ~1 GB can afford one or two at a time.
MAX_IMAGE_PIXELS = 50_000_000
# Long side over short side. Images are scaled so that their short side is the
# training size and then centre-cropped, so the scaled copy has (ratio x size^2)
# pixels: a 9.8 KB PNG of 1 x 5,000,000 pixels became 1.3 billion pixels (59 s, 5.2 GB).
# Panoramas (about 8:1) and long phone screenshots (about 1:10) pass.
MAX_ASPECT = 20
# Entries in a zip. The upload check decodes every image once, and the folder source
# decodes up to folder.EAGER_LIMIT (20,000) images up front; 30,001 empty entries took
# 15 s. Larger sets belong in a folder (--data-path), which has no such limit.
MAX_ZIP_ENTRIES = 20_000
# zipfile parses the whole central directory when it opens a zip, trusting its size in
# bytes rather than its entry count, so that size is checked first, from the end
# record: 512 bytes an entry leaves room for paths of 400 characters.
MAX_ZIP_DIRECTORY_BYTES = 512 * MAX_ZIP_ENTRIES
# All members unpacked together: decompressing 1 GiB takes a few seconds, and a
# 200 MB upload of photos (JPEG and PNG do not compress further) is nowhere near it.
MAX_ZIP_TOTAL_BYTES = 2**30
# Unpacked over stored size, for members over RATIO_CHECK_BYTES. Image files compress
# little (JPEG, PNG, WebP hardly at all, photos as BMP or TIFF about 2-10 times); a
# 1 MiB zip holding a 1 GiB member (ratio 1000) is a zip bomb.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_BYTES = 2**20  # smaller members cost nothing however well they compress (a flat-colour icon)

_KINDS = "jpg, png, gif, webp, bmp or tiff"
# The Pillow decoders a visitor's bytes may reach: those of the kinds named above.
# Image.open picks a decoder from the content, not the name, out of some 40 (EPS runs
# Ghostscript, and PSD, FITS, DDS... were never meant to face the public).
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")


def _size(n: int) -> str:
    """Bytes in words, in the binary units Streamlit's upload limit uses: '1.5 GB', '150 MB', '9.8 KB'."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def unprintable(text: str) -> bool:
    """Whether ``text`` holds a character that is not shown as itself on one line:
    controls, format characters (bidi overrides such as U+202E reorder what follows),
    line and paragraph separators, unassigned or surrogate code points."""
    return any(unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" for c in text)


def shown_name(name: str, limit: int = 60) -> str:
    """A visitor's file or member name, made safe to quote in a one-line message."""
    name = "".join("?" if unprintable(c) else c for c in str(name)[: limit * 4])
    return name if len(name) <= limit else name[: limit - 3] + "..."


def check_image_size(width: int, height: int, what: str = "The image") -> None:
    """Refuse an image whose header declares too many pixels or too long a shape,
    before any pixel is decoded. ``what`` starts the sentence ("The image x.png")."""
    dims = f"{width:,} x {height:,} pixels"
    if width < 1 or height < 1:
        raise DataError(f"{what} declares {dims}, which is no image; save it again from an image editor.")
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(f"{what} is {dims}, more than the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit; "
                        "scale it down and try again.")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise DataError(f"{what} is {dims}, more elongated than the {MAX_ASPECT}:1 aspect-ratio limit; "
                        "crop it closer to a square and try again.")


def open_image(fp: BinaryIO, what: str = "The image") -> Image.Image:
    """``Image.open``, which reads only the header, then the size limits above: every
    image, uploaded or in a data folder, opens through here, so that an over-limit one
    is refused before a pixel is decoded."""
    try:
        img = Image.open(fp, formats=IMAGE_FORMATS)
    except Image.DecompressionBombError:  # Pillow's own guard fires first above ~179 megapixels
        raise DataError(f"{what} declares far more than the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit; "
                        "scale it down and try again.") from None
    try:
        check_image_size(*img.size, what)
    except BaseException:
        img.close()
        raise
    return img


def check_zip_members(members: list[zipfile.ZipInfo], what: str = "The uploaded zip") -> None:
    """Refuse a zip whose central directory declares too many entries or members that
    unpack too large, too well or too much in total. Only the directory is read: the
    declared sizes are binding, because zipfile never unpacks a member beyond its
    declared size (and fails its CRC check if the data says otherwise)."""
    if len(members) > MAX_ZIP_ENTRIES:
        raise DataError(f"{what} holds {len(members):,} entries, more than the {MAX_ZIP_ENTRIES:,}-entry limit; "
                        f"zip at most {MAX_ZIP_ENTRIES:,} images and try again.")
    total = 0
    for m in members:
        if m.is_dir():
            continue
        if m.file_size > MAX_IMAGE_BYTES:
            raise DataError(f"{what} holds {shown_name(m.filename)}, which unpacks to {_size(m.file_size)}, more than "
                            f"the {_size(MAX_IMAGE_BYTES)} limit per file; leave it out or shrink it and zip again.")
        if m.file_size > RATIO_CHECK_BYTES and m.file_size > MAX_COMPRESSION_RATIO * max(m.compress_size, 1):
            ratio = m.file_size / max(m.compress_size, 1)
            raise DataError(f"{what} holds {shown_name(m.filename)}, which unpacks {ratio:,.0f} times larger than it "
                            f"is stored, more than the {MAX_COMPRESSION_RATIO}:1 compression-ratio limit for images; "
                            "zip the image files themselves.")
        total += m.file_size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise DataError(f"{what} unpacks to more than the {_size(MAX_ZIP_TOTAL_BYTES)} limit in total; "
                            "zip fewer or smaller images.")


def _check_end_record(fp: BinaryIO, what: str) -> None:
    # Private but unchanged since Python 2: reads only the end record (and its zip64 twin).
    end = zipfile._EndRecData(fp)
    if end is None:
        raise zipfile.BadZipFile("File is not a zip file")
    entries, directory = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if entries > MAX_ZIP_ENTRIES:
        raise DataError(f"{what} holds {entries:,} entries, more than the {MAX_ZIP_ENTRIES:,}-entry limit; "
                        f"zip at most {MAX_ZIP_ENTRIES:,} images and try again.")
    if directory > MAX_ZIP_DIRECTORY_BYTES:
        raise DataError(f"{what} has a {_size(directory)} table of contents, more than the "
                        f"{_size(MAX_ZIP_DIRECTORY_BYTES)} limit; zip fewer files, with shorter names.")


def open_zip(source: str | Path | BinaryIO, what: str = "The uploaded zip") -> zipfile.ZipFile:
    """Open a zip within the limits: its end record (entry count, directory size) is
    checked before zipfile parses the directory, the members' declared sizes before
    anything is unpacked. Raises ``DataError`` naming the limit, ``zipfile.BadZipFile``
    for a damaged archive and ``OSError`` for an unreadable file (callers word those)."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fp:
            _check_end_record(fp, what)
    else:
        _check_end_record(source, what)
        source.seek(0)
    archive = zipfile.ZipFile(source)
    try:
        check_zip_members(archive.infolist(), what)
    except DataError:
        archive.close()
        raise
    return archive


def read_image(data: bytes, name: str) -> np.ndarray:
    """One uploaded image -> uint8 array (H, W, C): C = 1 for grey, 3 for colour.

    The size in bytes, then the header's dimensions (pixels, aspect ratio) are checked
    before any pixel is decoded; EXIF orientation is applied (phone photos store their
    rotation there) and transparency is composited on white, as the data layer does.
    Raises ``DataError`` with one sentence for anything that is not a usable image.
    """
    what = f"The image {shown_name(Path(str(name)).name) or '(unnamed)'}"
    if not data:
        raise DataError(f"{what} is empty; upload the image file again.")
    if len(data) > MAX_IMAGE_BYTES:
        raise DataError(f"{what} is {_size(len(data))}, more than the {_size(MAX_IMAGE_BYTES)} limit per image; "
                        "save it smaller (as a JPEG, or scaled down) and try again.")
    try:
        with open_image(io.BytesIO(data), what) as img:
            # Imports torch: only for an image within the limits.
            from .data import _images

            img.load()
            # Memory: a 48-megapixel photo is 200 MB in Pillow, so no step keeps a spare copy.
            ImageOps.exif_transpose(img, in_place=True)
            flat = _images.flatten(img, _images.native_channels(img.mode))
            if flat is not img:
                img.close()  # frees the decoded pixels
            array = _to_array(flat)
    except GanError:
        raise
    except Exception:  # noqa: BLE001 - whatever a decoder raises on a visitor's bytes means "not a readable image"
        raise DataError(f"{what} cannot be read (damaged, incomplete or not a {_KINDS} image); "
                        "open it in an image viewer, save it again and upload that.") from None
    return array


def _to_array(img: Image.Image) -> np.ndarray:
    """Pillow "L" or "RGB" -> writable uint8 (H, W, C), one band of rows at a time:
    ``np.asarray(img)`` would hold the whole image twice more, as bytes on the way."""
    width, height = img.size
    channels = 1 if img.mode == "L" else 3
    out = np.empty((height, width, channels), dtype=np.uint8)
    rows = max(1, 2**22 // width)  # bands of about 4 MB
    for top in range(0, height, rows):
        band = np.asarray(img.crop((0, top, width, min(height, top + rows))))
        out[top : top + band.shape[0]] = band.reshape(band.shape[0], width, channels)
    return out


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


def save_upload(data: bytes, runs_dir: str | Path, owner: str | None = None) -> Upload:
    """Save an uploaded zip under the runs area and check that it holds usable images.

    Raises ``DataError`` (and keeps nothing on disk) for an empty file, a file that is
    not a zip, a zip over the limits above, or a zip without readable images.
    """
    if not data:
        raise DataError("The uploaded file is empty; upload a .zip of jpg or png images.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise DataError(f"The uploaded file is {_size(len(data))}, more than the {_size(MAX_UPLOAD_BYTES)} upload limit; "
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
    """Open a saved zip the way a run will (the "folder" source) and describe it."""
    from .data import load_data  # imports torch; only needed once a zip has arrived
    from .data.folder import IMAGE_EXTENSIONS

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
    from .data import load_data

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
# The largest checkpoint a visitor may upload. A DCGAN generator at 256 x 256 with
# width 64 is about 190 MB; the gallery's own demo is 1.5 MB. The same cap as
# Streamlit's upload limit in .streamlit/config.toml, so a larger file never arrives.
MAX_CHECKPOINT_BYTES = 200 * 1024 * 1024


def save_checkpoint_upload(data: bytes, filename: str, runs_dir: str | Path, owner: str | None = None,
                           conditional: bool = False, translator: bool = False) -> Path:
    """Save an uploaded generator (e.g. trained on a GPU server and exported with
    ``python -m gan_core export``) where the gallery lists it, after checking it in
    memory exactly as it will be loaded: metadata bounds, shapes against the
    tensors, finite weights, a real load. Only then is it written, so a refused file
    never reaches the disk. Only .safetensors is accepted: a pickle could run code."""
    from . import checkpoints
    from .inference import generator_from  # imports torch; only needed once a file has arrived

    shown = shown_name(Path(str(filename)).name, 100) or "The uploaded file"
    if not shown.lower().endswith(".safetensors"):
        raise CheckpointError(f"{shown} is not a .safetensors file; only those are accepted (make one with python -m gan_core export).")
    if not data:
        raise CheckpointError("The uploaded checkpoint is empty; upload the .safetensors file again.")
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{shown} is {len(data) / 2**20:,.0f} MB, more than the {MAX_CHECKPOINT_BYTES // 2**20} MB limit for uploaded checkpoints; export the generator alone (python -m gan_core export).")
    digest = hashlib.sha256(data).hexdigest()[:20]
    path = (uploads_dir(runs_dir, owner) if owner else Path(runs_dir) / UPLOADS / UPLOADED_CHECKPOINTS) / f"ckpt-{digest}.safetensors"
    ckpt = checkpoints.parse(data, shown)  # errors name the file as the visitor knows it
    _right_page(ckpt, shown, translator, conditional)
    if translator:
        from .translate import translator_from

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


def save_translator_upload(data: bytes, filename: str, runs_dir: str | Path, owner: str | None = None) -> Path:
    """``save_checkpoint_upload`` for the Pix2Pix page: only a pix2pix translator is kept."""
    return save_checkpoint_upload(data, filename, runs_dir, owner, translator=True)


def _right_page(ckpt, shown: str, translator: bool, conditional: bool) -> None:
    """The Pix2Pix page takes translators only and the Conditional page no translator:
    a file meant for another page is pointed there before anything is built. (The
    gallery's door still keeps a translator, as it keeps every checkpoint the engine
    can load.) A recipe this server does not know is left to the loader, which refuses
    it in its own words."""
    from .recipes import RECIPES

    try:
        recipe = RECIPES.get(ckpt.config.recipe)
    except GanError:
        return
    if translator and not recipe.paired:
        page = "Conditional generation" if recipe.conditional else "the Gallery"
        raise CheckpointError(f"{shown} is a {recipe.name} generator, which makes images from noise rather than translating "
                              f"them; open it in {page} instead, or upload a pix2pix checkpoint here.")
    if conditional and recipe.paired:
        raise CheckpointError(f"{shown} is a {recipe.name} model, which translates images rather than making them from noise; "
                              "open it in Pix2Pix instead.")


__all__ = ["Upload", "UPLOADS", "save_upload", "check_upload", "upload_path", "save_checkpoint_upload", "save_conditional_upload",
           "save_translator_upload", "check_paired_upload",
           "read_image", "open_zip", "check_image_size", "check_zip_members"]
