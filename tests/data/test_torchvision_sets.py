import struct
from urllib.error import URLError

import numpy as np
import pytest
import torch
from torchvision import datasets

from gan_core.config import DataConfig
from gan_core.data import load_data
from gan_core.errors import DataError

N = 12
LABELS = np.arange(N, dtype=np.uint8) % 10


def idx_images(images: np.ndarray) -> bytes:
    """The IDX format of the MNIST files: magic 0x00000803, big-endian sizes, then uint8 pixels."""
    return struct.pack(">IIII", 0x0803, *images.shape) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x0801, len(labels)) + labels.astype(np.uint8).tobytes()


def write_mnist(root, folder="MNIST"):
    """The four uncompressed files torchvision's MNIST._check_exists looks for in <root>/<folder>/raw."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    # Image i is flat: white for even labels, black for odd ones.
    images = np.where((LABELS % 2 == 0)[:, None, None], 255, 0) * np.ones((N, 28, 28))
    for split in ("train", "t10k"):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(idx_images(images))
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(idx_labels(LABELS))
    return raw


def test_mnist_from_raw_files(tmp_path):
    write_mnist(tmp_path)
    data = load_data(DataConfig(name="mnist", path=str(tmp_path), image_size=32))
    real, label = data.tensors["real"], data.tensors["label"]
    assert len(data) == N and data.shape == (1, 32, 32) and real.dtype == torch.float32
    assert label.dtype == torch.int64 and label.tolist() == LABELS.tolist()
    assert data.class_names == [str(d) for d in range(10)]
    white = torch.from_numpy(LABELS % 2 == 0)
    assert torch.allclose(real[white], torch.ones_like(real[white]))
    assert torch.allclose(real[~white], -torch.ones_like(real[~white]))


def test_mnist_path_may_point_at_the_inner_folder(tmp_path):
    write_mnist(tmp_path)
    data = load_data(DataConfig(name="mnist", path=str(tmp_path / "MNIST"), image_size=16, channels=3))
    assert data.shape == (3, 16, 16) and len(data) == N


def test_fashion_mnist_class_names(tmp_path):
    write_mnist(tmp_path, "FashionMNIST")
    data = load_data(DataConfig(name="fashion-mnist", path=str(tmp_path), limit=5))
    assert len(data) == 5 and data.class_names[0] == "T-shirt/top" and data.num_classes == 10


def test_missing_mnist(tmp_path, user_error):
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name="mnist", path=str(tmp_path)))
    assert "MNIST was not found" in user_error(e, tmp_path, "--download")


def test_missing_cifar10_mentions_download(tmp_path, user_error):
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name="cifar10", path=str(tmp_path / "data")))
    assert "CIFAR-10" in user_error(e, tmp_path / "data", "--download")


def test_damaged_mnist(tmp_path, user_error):
    raw = write_mnist(tmp_path)
    (raw / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01garbage")
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name="mnist", path=str(tmp_path)))
    assert "damaged" in user_error(e, tmp_path / "MNIST")


def test_failed_download(tmp_path, monkeypatch, user_error):
    def offline(self):
        raise URLError("no network")

    monkeypatch.setattr(datasets.MNIST, "download", offline)
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name="mnist", path=str(tmp_path), download=True))
    assert "Downloading MNIST" in user_error(e, tmp_path)
