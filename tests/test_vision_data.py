"""commgan.vision.data and .degradations: shipped images, split, reading files, patches, masks,
noise, fading, and the bicubic pipeline that reproduces the published bicubic references."""

import numpy as np
import pytest
import torch
from PIL import Image

from commgan.errors import CommganError
from commgan.vision.baselines import bicubic_upsample
from commgan.vision.data import (
    IMAGE_NAMES,
    TEST_IMAGES,
    TRAIN_IMAGES,
    PatchSampler,
    load_image,
    read_image,
    to_uint8,
)
from commgan.vision.degradations import (
    Fade,
    block_mask,
    block_removal_mask,
    crop_to_multiple,
    fade,
    free_form_mask,
    gaussian_noise,
    make_mask,
    pil_resize,
)
from commgan.vision.metrics import psnr


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class TestImages:
    def test_split_is_by_image_and_disjoint(self):
        assert set(TEST_IMAGES) == {"astronaut", "coffee", "chelsea"}
        assert not set(TEST_IMAGES) & set(TRAIN_IMAGES)
        assert set(TEST_IMAGES) | set(TRAIN_IMAGES) <= set(IMAGE_NAMES)

    def test_load_image(self):
        image = load_image("coffee")
        assert image.shape == (3, 400, 600) and image.dtype == torch.float32
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
        with pytest.raises(CommganError, match="unknown image"):
            load_image("lena")

    def test_read_image_roundtrip_and_grey(self, tmp_path):
        rgb = (np.arange(5 * 7 * 3) % 256).astype(np.uint8).reshape(5, 7, 3)
        Image.fromarray(rgb).save(tmp_path / "a.png")
        assert np.array_equal(to_uint8(read_image(tmp_path / "a.png")), rgb)
        Image.fromarray(rgb[..., 0]).save(tmp_path / "g.png")
        grey = read_image(tmp_path / "g.png")
        assert grey.shape == (3, 5, 7) and torch.equal(grey[0], grey[2])

    @pytest.mark.parametrize("kind, message", [
        ("missing", "does not exist"), ("folder", "not a file"), ("text", "not an image"),
        ("truncated", "corrupt or truncated"), ("16bit", "unsupported pixel mode"),
    ])
    def test_read_image_errors(self, tmp_path, kind, message):
        path = tmp_path / "x.png"
        if kind == "folder":
            path.mkdir()
        elif kind == "text":
            path.write_text("not an image at all")
        elif kind == "truncated":
            Image.fromarray(np.full((64, 64, 3), 7, np.uint8)).save(path)
            path.write_bytes(path.read_bytes()[:60])
        elif kind == "16bit":
            Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(path)
        with pytest.raises(CommganError, match=message):
            read_image(path)


class TestPatchSampler:
    def test_aligned_pairs_under_augmentation(self):
        high = torch.rand(3, 40, 48)
        low = high[:, ::4, ::4]  # nearest down-sampling: alignment is exact
        sampler = PatchSampler([(low, high)], patch=16, batch_size=32, scale=4, seed=3)
        target, inp = sampler()
        assert target.shape == (32, 3, 16, 16) and inp.shape == (32, 3, 4, 4)
        # under a rotation/flip, the top-left pixel of each 4x4 cell moves to another corner
        corners = [target[:, :, a::4, b::4] for a in (0, 3) for b in (0, 3)]
        assert all(any(torch.equal(inp[i], c[i]) for c in corners) for i in range(32))

    def test_deterministic_and_checked(self):
        images = [torch.rand(3, 30, 30), torch.rand(3, 50, 20)]
        a = PatchSampler(images, 16, 4, seed=1)()
        b = PatchSampler(images, 16, 4, seed=1)()
        assert torch.equal(a[0], b[0])
        with pytest.raises(ValueError, match="smaller than the patch"):
            PatchSampler(images, 32, 4)
        with pytest.raises(ValueError, match="multiple"):
            PatchSampler(images, 15, 4, scale=4)


class TestMasks:
    @pytest.mark.parametrize("kind", ["block", "free-form", "block-removal"])
    @pytest.mark.parametrize("ratio", [0.1, 0.3, 0.6])
    def test_area_ratio(self, kind, ratio):
        mask = make_mask(kind, 128, 160, ratio, gen(int(ratio * 10)))
        assert mask.shape == (1, 128, 160)
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        assert float(mask.mean()) == pytest.approx(ratio, abs=0.02)

    def test_block_sizes_are_absolute_and_deterministic(self):
        a = block_mask(200, 200, 0.05, gen(1), min_side=10, max_side=10)
        assert torch.equal(a, block_mask(200, 200, 0.05, gen(1), min_side=10, max_side=10))
        assert not torch.equal(a, block_mask(200, 200, 0.05, gen(2), min_side=10, max_side=10))
        one = block_mask(200, 200, 100 / 40000, gen(3), min_side=10, max_side=10)[0]
        ys, xs = one.nonzero(as_tuple=True)
        assert one.sum() == 100 and int(ys.max() - ys.min()) == int(xs.max() - xs.min()) == 9

    def test_free_form_strokes_are_thin(self):
        mask = free_form_mask(256, 256, 0.2, gen(0), min_radius=2, max_radius=3)
        eroded = -torch.nn.functional.max_pool2d(-mask.unsqueeze(0), 9, 1, 4)
        assert float(eroded.sum()) < 0.05 * float(mask.sum())  # no 9x9 square fits in a stroke

    def test_block_removal_on_grid(self):
        mask = block_removal_mask(64, 64, 0.25, gen(0), block=8)
        cells = mask[0].reshape(8, 8, 8, 8).permute(0, 2, 1, 3).reshape(64, 64)
        assert set(cells.mean(1).tolist()) <= {0.0, 1.0} and float(mask.mean()) == 0.25

    def test_bad_ratio(self):
        with pytest.raises(ValueError, match="ratio"):
            make_mask("block", 10, 10, 1.0, gen())
        with pytest.raises(ValueError, match="mask kind"):
            make_mask("circle", 10, 10, 0.1, gen())


class TestDegradations:
    @pytest.mark.parametrize("name, reference_db", [("astronaut", 26.84), ("coffee", 27.29),
                                                    ("chelsea", 31.47)])
    def test_bicubic_x4_reproduces_the_references(self, name, reference_db):
        high = crop_to_multiple(load_image(name), 4)
        low = pil_resize(high, (high.shape[1] // 4, high.shape[2] // 4))
        up = bicubic_upsample(low, 4)
        assert float(psnr(up, high, crop=4, y_channel=True)) == pytest.approx(reference_db,
                                                                              abs=0.005)

    def test_noise_level(self):
        image = torch.full((3, 128, 128), 0.5)
        noisy = gaussian_noise(image, 25 / 255, gen())
        assert float((noisy - image).std()) == pytest.approx(25 / 255, rel=0.03)

    def test_fade(self):
        image = load_image("chelsea")[:, :64, :64]
        identity = Fade(desaturation=0, sepia=0, gamma=1, brightness=1, lift=0)
        assert torch.allclose(fade(image, identity), image, atol=0.5 / 255 + 1e-6)
        grey = fade(image, Fade(desaturation=1, sepia=0, gamma=1, brightness=1, lift=0))
        assert float((grey[0] - grey[2]).abs().max()) <= 1 / 255 + 1e-6
        dark = fade(image, Fade(desaturation=0.3, sepia=0.2, gamma=2.0, brightness=0.55,
                                lift=0.02))
        assert float(dark.mean()) < 0.6 * float(image.mean())
        assert float(psnr(dark, image)) < 20
