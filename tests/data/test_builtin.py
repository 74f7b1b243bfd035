import torch
from skimage.data import lfw_subset

from gan_core.config import DataConfig
from gan_core.data import builtin, load_data
from gan_core.data._images import arrays_to_real


def test_mnist_5k():
    data = load_data(DataConfig(name="mnist-5k", image_size=32))
    real, label = data.tensors["real"], data.tensors["label"]
    assert len(data) == 5000 and data.kind == "image"
    assert data.shape == (1, 32, 32) and real.shape == (5000, 1, 32, 32) and real.dtype == torch.float32
    assert real.min() >= -1 and real.max() <= 1
    assert real.min() == -1 and real.max() > 0.9  # black background, white strokes
    assert label.dtype == torch.int64
    assert torch.bincount(label).tolist() == [500] * 10
    assert data.class_names == [str(d) for d in range(10)] and data.num_classes == 10


def test_mnist_5k_limit_keeps_classes_balanced():
    data = load_data(DataConfig(name="mnist-5k", limit=30))
    assert len(data) == 30
    assert torch.bincount(data.tensors["label"], minlength=10).tolist() == [3] * 10


def test_mnist_5k_colour_and_size():
    data = load_data(DataConfig(name="mnist-5k", image_size=64, channels=3, limit=10))
    real = data.tensors["real"]
    assert data.shape == (3, 64, 64) and real.shape == (10, 3, 64, 64)
    assert torch.equal(real[:, 0], real[:, 1]) and torch.equal(real[:, 1], real[:, 2])  # grey copied to RGB


def test_builtin_raw_arrays_are_cached():
    builtin._mnist_5k()  # make sure it is loaded
    hits = builtin._mnist_5k.cache_info().hits
    load_data(DataConfig(name="mnist-5k", limit=5))
    assert builtin._mnist_5k.cache_info().hits == hits + 1


def test_faces_lfw_keeps_only_the_faces():
    data = load_data(DataConfig(name="faces-lfw"))
    real = data.tensors["real"]
    assert len(data) == 100 and real.shape == (100, 1, 32, 32)
    assert real.min() >= -1 and real.max() <= 1
    assert "label" not in data.tensors and data.num_classes == 0
    # The first LFW image, resized like the source does, is the first face.
    first = torch.from_numpy(lfw_subset()[:1].astype("float32")).unsqueeze(1)
    assert torch.allclose(real[:1], arrays_to_real(first, 32, 1))


def test_photos_are_colour_tiles():
    data = load_data(DataConfig(name="photos", image_size=32))
    real = data.tensors["real"]
    assert data.shape == (3, 32, 32) and len(data) > 200
    assert real.min() >= -1 and real.max() <= 1
    assert (real[:, 0] - real[:, 2]).abs().mean() > 0.05  # genuinely colour, not grey in RGB
    again = load_data(DataConfig(name="photos", image_size=32)).tensors["real"]
    assert torch.equal(real, again)  # deterministic tiles
    # Flat tiles (the retina scan's black border) are dropped.
    assert (real.flatten(1).std(dim=1) > 0.01).all()


def test_photos_grey_and_larger():
    data = load_data(DataConfig(name="photos", image_size=64, channels=1))
    assert data.shape == (1, 64, 64) and data.tensors["real"].shape[1:] == (1, 64, 64)
