"""Shared image conversion: every image source ends up here.

Conventions (see ``base.py``): a "real" image is float32 (C, H, W) in [-1, 1],
resized so its short side equals ``image_size`` and centre-cropped to a square.
Resizing is done by torchvision (on PIL images or batched tensors), never by hand.
The torch-free steps (a PIL image to "L" or "RGB", its native channels) live in
``untrusted.py``, where reading an uploaded image uses them without torch.
"""

from __future__ import annotations

import torch
import torchvision.transforms.v2.functional as F
from PIL import Image, ImageOps

from ..untrusted import check_image_size, flatten


def pil_to_uint8(img: Image.Image, image_size: int, channels: int) -> torch.Tensor:
    """Orient, resize (short side), centre-crop one PIL image -> uint8 (C, S, S).

    uint8 is four times smaller than the final floats, which matters when thousands
    of decoded images wait to be stacked. Sources open files with
    ``untrusted.open_image``, which applies the size limits before decoding; they are
    checked again here for any image that arrived another way, because the resize
    below costs (aspect ratio x image_size^2) pixels.
    """
    check_image_size(*img.size)
    ImageOps.exif_transpose(img, in_place=True)  # phone photos store their rotation in EXIF; in place saves a copy
    img = flatten(img, channels)
    img = F.resize(img, [image_size])  # PIL resizing always antialiases
    img = F.center_crop(img, [image_size, image_size])
    return F.pil_to_tensor(img)


def uint8_to_real(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(127.5).sub_(1.0)


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(..., C, H, W) with C in {1, 3} -> the requested channel count."""
    if x.shape[-3] == channels:
        return x
    if channels == 3:
        return x.expand(*x.shape[:-3], 3, *x.shape[-2:])
    return F.rgb_to_grayscale(x)


def arrays_to_real(images: torch.Tensor, image_size: int, channels: int, chunk: int = 2048) -> torch.Tensor:
    """A batch of images (N, C, H, W), uint8 in [0, 255] or float in [0, 1] -> real tensors.

    Works in chunks so converting 60,000 images never holds more than one chunk of
    intermediate float copies.
    """
    n, _, h, w = images.shape
    out = torch.empty(n, channels, image_size, image_size, dtype=torch.float32)
    for start in range(0, n, chunk):
        x = images[start : start + chunk]
        x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
        if channels == 1:  # to grey before resizing: less work
            x = convert_channels(x, 1)
        if min(h, w) != image_size:
            x = F.resize(x, [image_size], antialias=True)
        if x.shape[-2:] != (image_size, image_size):
            x = F.center_crop(x, [image_size, image_size])
        x = convert_channels(x.clamp(0.0, 1.0), channels)
        out[start : start + chunk] = x * 2.0 - 1.0
    return out
