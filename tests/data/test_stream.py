"""BatchStream: seeded, resumable batches, for in-memory tensors and lazy datasets alike."""

import pytest
import torch

from gan_core.config import DataConfig
from gan_core.data import BatchStream, GanData, load_data, store

CPU = torch.device("cpu")


class IndexDataset(torch.utils.data.Dataset):
    """Item i is the number i, so a batch shows exactly which items it drew."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"real": torch.tensor([float(i)]), "label": torch.tensor(i)}


def in_memory(n):
    return GanData("ids", "vector", (1,), tensors={"real": torch.arange(n, dtype=torch.float32)[:, None], "label": torch.arange(n)})


def lazy(n):
    return GanData("ids", "vector", (1,), dataset=IndexDataset(n))


def take(stream, k):
    return [stream.next()["label"].tolist() for _ in range(k)]


@pytest.mark.parametrize("make", [in_memory, lazy])
def test_same_seed_same_batches(make):
    a = take(BatchStream(make(10), 4, seed=3, device=CPU), 6)
    b = take(BatchStream(make(10), 4, seed=3, device=CPU), 6)
    c = take(BatchStream(make(10), 4, seed=4, device=CPU), 6)
    assert a == b and a != c
    # Each epoch is a permutation: the first 2.5 batches hold 10 distinct items.
    flat = sum(a, [])
    assert sorted(flat[:10]) == list(range(10))


@pytest.mark.parametrize("make", [in_memory, lazy])
def test_resumed_stream_continues_where_a_fresh_one_would_be(make):
    fresh = BatchStream(make(10), 4, seed=7, device=CPU)
    batches = take(fresh, 6)
    resumed = BatchStream(make(10), 4, seed=7, device=CPU, start_batch=5)
    assert resumed.position == 5
    assert resumed.next()["label"].tolist() == batches[5]
    assert resumed.position == 6


def test_in_memory_and_lazy_streams_agree():
    assert take(BatchStream(in_memory(9), 4, seed=1, device=CPU), 8) == take(BatchStream(lazy(9), 4, seed=1, device=CPU), 8)


@pytest.mark.parametrize("make", [in_memory, lazy])
def test_batch_larger_than_the_data(make):
    batch = BatchStream(make(5), 12, seed=0, device=CPU).next()
    labels = batch["label"]
    assert batch["real"].shape == (12, 1) and labels.shape == (12,)
    assert torch.bincount(labels, minlength=5).min() >= 2  # two full passes plus part of a third


def test_stream_over_a_lazy_image_folder(monkeypatch, tmp_path, write_image):
    for i in range(6):
        write_image(tmp_path / f"{i}.png", 40 * i, mode="L")
    monkeypatch.setattr(store, "EAGER_LIMIT", 2)
    data = load_data(DataConfig(name="folder", path=str(tmp_path), image_size=4))
    assert data.dataset is not None
    fresh = BatchStream(data, 4, seed=2, device=CPU)
    batches = [fresh.next()["real"] for _ in range(6)]
    assert all(b.shape == (4, 1, 4, 4) for b in batches)
    resumed = BatchStream(data, 4, seed=2, device=CPU, start_batch=5)
    assert torch.equal(resumed.next()["real"], batches[5])


def test_stream_over_builtin_images():
    data = load_data(DataConfig(name="mnist-5k", limit=100))
    first = BatchStream(data, 32, seed=0, device=CPU)
    batches = [first.next() for _ in range(6)]
    resumed = BatchStream(data, 32, seed=0, device=CPU, start_batch=5).next()
    assert torch.equal(resumed["real"], batches[5]["real"]) and torch.equal(resumed["label"], batches[5]["label"])
    assert batches[0]["real"].shape == (32, 1, 32, 32)
