"""commgan.vision.metrics and .perceptual: PSNR/SSIM held to scikit-image, LPIPS only from a
weights file, the substitute perceptual term and the edge loss; the classical baselines."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from commgan.errors import CommganError
from commgan.vision.baselines import (
    bicubic_upsample,
    biharmonic_inpaint,
    blend_weight,
    calibrated_inpaint,
    harmonic_inpaint,
    nlm_denoise,
    stretch_colours,
)
from commgan.vision.data import load_image, to_numpy
from commgan.vision.degradations import Fade, fade, gaussian_noise, make_mask
from commgan.vision.metrics import image_metrics, psnr, rgb_to_y, ssim
from commgan.vision.perceptual import (
    LPIPS,
    FilterBankFeatures,
    VGG16Features,
    edge_loss,
    load_backbone_state,
    perceptual_loss,
)


@pytest.fixture(scope="module")
def pair():
    """A clean crop and a noisy version of it (float tensors [3, H, W])."""
    clean = load_image("astronaut")[:, 100:220, 150:310]
    noisy = gaussian_noise(clean, 20 / 255, torch.Generator().manual_seed(0))
    return noisy, clean


class TestAgainstScikitImage:
    def test_y_channel(self, pair):
        x = pair[1]
        ours = rgb_to_y(x)[0].double().numpy() * 255
        theirs = rgb2ycbcr(to_numpy(x))[..., 0]
        assert np.allclose(ours, theirs, atol=1e-4)

    @pytest.mark.parametrize("crop", [0, 4])
    def test_psnr(self, pair, crop):
        x, ref = pair
        sl = slice(crop, -crop) if crop else slice(None)
        a, b = to_numpy(x)[sl, sl], to_numpy(ref)[sl, sl]
        assert float(psnr(x, ref, crop)) == pytest.approx(
            peak_signal_noise_ratio(b, a, data_range=1.0), abs=1e-5)
        ya, yb = rgb2ycbcr(to_numpy(x))[sl, sl, 0], rgb2ycbcr(to_numpy(ref))[sl, sl, 0]
        assert float(psnr(x, ref, crop, y_channel=True)) == pytest.approx(
            peak_signal_noise_ratio(yb, ya, data_range=255.0), abs=1e-4)

    @pytest.mark.parametrize("crop", [0, 4])
    def test_ssim(self, pair, crop):
        x, ref = pair
        sl = slice(crop, -crop) if crop else slice(None)
        kwargs = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
        theirs = structural_similarity(to_numpy(ref)[sl, sl], to_numpy(x)[sl, sl],
                                       data_range=1.0, channel_axis=-1, **kwargs)
        assert float(ssim(x, ref, crop)) == pytest.approx(theirs, abs=1e-4)
        ya, yb = rgb2ycbcr(to_numpy(x))[sl, sl, 0], rgb2ycbcr(to_numpy(ref))[sl, sl, 0]
        theirs_y = structural_similarity(yb, ya, data_range=255.0, **kwargs)
        assert float(ssim(x, ref, crop, y_channel=True)) == pytest.approx(theirs_y, abs=1e-4)

    def test_batched_and_shape_check(self, pair):
        x, ref = pair
        batch = psnr(torch.stack([x, ref]), torch.stack([ref, ref]))
        assert batch.shape == (2,) and torch.isinf(batch[1])
        with pytest.raises(ValueError, match="shape"):
            psnr(x, ref[:, 1:])


def _fake_lpips_state(with_lins: bool = True) -> dict[str, torch.Tensor]:
    """Synthetic weights with the right names and shapes (tests the loading code only)."""
    generator = torch.Generator().manual_seed(0)
    state = {f"features.{k}": 0.05 * torch.randn(v.shape, generator=generator)
             for k, v in VGG16Features().features.state_dict().items()}
    if with_lins:
        for k, c in enumerate((64, 128, 256, 512, 512)):
            state[f"lin{k}.model.1.weight"] = torch.rand(1, c, 1, 1, generator=generator)
    return state


class TestLPIPS:
    def test_unavailable_without_weights(self, pair):
        assert np.isnan(image_metrics(*pair)["lpips"])

    def test_from_file(self, tmp_path, pair):
        path = tmp_path / "vgg_lpips.safetensors"
        save_file(_fake_lpips_state(), str(path))
        lpips = LPIPS.from_state(load_backbone_state(path))
        x, ref = pair[0][None, :, :32, :32], pair[1][None, :, :32, :32]
        d = lpips(x, ref)
        assert d.shape == (1,) and float(d) > 0
        assert float(lpips(ref, ref)) == pytest.approx(0.0, abs=1e-7)
        assert float(lpips(ref, x)) == pytest.approx(float(d), rel=1e-5)
        assert not np.isnan(image_metrics(x[0], ref[0], lpips=lpips)["lpips"])
        torch.save(_fake_lpips_state(), tmp_path / "vgg.pth")
        assert set(load_backbone_state(tmp_path / "vgg.pth")) == set(_fake_lpips_state())

    def test_errors(self, tmp_path):
        with pytest.raises(CommganError, match="does not exist"):
            load_backbone_state(tmp_path / "none.pth")
        (tmp_path / "bad.pth").write_bytes(b"garbage")
        with pytest.raises(CommganError, match="cannot be read"):
            load_backbone_state(tmp_path / "bad.pth")
        with pytest.raises(CommganError, match="calibration"):
            LPIPS.from_state(_fake_lpips_state(with_lins=False))
        with pytest.raises(CommganError, match="not VGG16"):
            VGG16Features.from_state({"features.0.weight": torch.zeros(64, 3, 3, 3)})
        state = _fake_lpips_state()
        state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
        with pytest.raises(CommganError, match="do not fit"):
            VGG16Features.from_state(state)


class TestLosses:
    def test_substitute_perceptual_term(self, pair):
        x, ref = pair[0][None], pair[1][None]
        features = FilterBankFeatures(scales=3)
        taps = features.taps(ref)
        assert [t.shape[1:] for t in taps] == [(6, 120, 160), (6, 60, 80), (6, 30, 40)]
        assert float(perceptual_loss(features, ref, ref)) == 0.0
        assert float(perceptual_loss(features, x, ref)) > 0.0
        assert not any(p.requires_grad for p in features.parameters())

    def test_edge_loss(self):
        ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8)
        assert float(edge_loss(ramp, torch.zeros_like(ramp))) == pytest.approx(0.5)
        assert float(edge_loss(ramp + 3.0, ramp)) == 0.0


class TestBaselines:
    def test_bicubic_shape(self):
        assert bicubic_upsample(torch.rand(3, 10, 12), 4).shape == (3, 40, 48)

    def test_biharmonic_beats_a_hole(self):
        image = load_image("coffee")[:, 100:228, 200:328]
        mask = make_mask("block", 128, 128, 0.2, torch.Generator().manual_seed(0))
        filled = biharmonic_inpaint(image * (1 - mask), mask)
        assert torch.equal(filled * (1 - mask), (image * (1 - mask)).mul(255).round() / 255)
        assert float(psnr(filled, image)) > float(psnr(image * (1 - mask), image)) + 10

    def test_harmonic_fill_solves_laplace(self):
        mask = make_mask("block", 64, 80, 0.25, torch.Generator().manual_seed(3))
        y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 80), indexing="ij")
        ramp = torch.stack([0.1 + 0.8 * x, 0.9 - 0.7 * y, 0.2 + 0.3 * x + 0.4 * y])
        filled = harmonic_inpaint(ramp * (1 - mask), mask)  # a plane is harmonic: exact
        assert float((filled - ramp).abs().max()) <= 0.5 / 255 + 1e-6
        image = load_image("coffee")[:, 100:164, 200:280]
        filled = harmonic_inpaint(image * (1 - mask), mask).double()
        assert torch.equal(filled * (1 - mask), (image * (1 - mask)).mul(255).round() / 255)
        padded = torch.nn.functional.pad(filled[None], (1, 1, 1, 1), mode="replicate")[0]
        laplacian = (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2]
                     + padded[:, 1:-1, 2:] - 4 * filled)
        assert float((laplacian * mask).abs().max()) <= 4 / 255  # zero up to 8-bit rounding
        assert float((laplacian * (1 - mask)).abs().max()) > 0.1  # the known pixels are not

    def test_blend_weight_follows_the_image(self):
        """A quadratic surface is biharmonic (w -> 1); white noise is best filled by the
        smoother membrane fill (w -> 0); only the degraded image is read."""
        mask = make_mask("block", 96, 96, 0.2, torch.Generator().manual_seed(1))
        y, x = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 96), indexing="ij")
        bowl = (0.2 + 0.6 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)).expand(3, 96, 96)
        noise = (0.5 + 0.15 * torch.randn(1, 96, 96, generator=torch.Generator().manual_seed(0))
                 ).clamp(0, 1).expand(3, 96, 96)
        assert blend_weight(bowl * (1 - mask), mask) > 0.9
        assert blend_weight(noise * (1 - mask), mask) < 0.1
        assert blend_weight(bowl, torch.zeros(1, 96, 96)) == 0.5  # nothing to fit

    def test_calibrated_fill_finds_the_better_blend(self):
        """On a textured crop (china: foliage and roof tiles, biharmonic 21.46 dB, harmonic
        22.20) the self-calibrated weight leans to harmonic and lands near the best blend that
        the reference would choose (22.52 dB at w = 0.3)."""
        image = load_image("china")[:, 100:228, 200:328]
        mask = make_mask("block", 128, 128, 0.2, torch.Generator().manual_seed(0))
        degraded = image * (1 - mask)
        biharmonic, harmonic = biharmonic_inpaint(degraded, mask), harmonic_inpaint(degraded, mask)
        calibrated = calibrated_inpaint(degraded, mask)
        assert torch.equal(calibrated * (1 - mask), biharmonic * (1 - mask))
        best = max(float(psnr(harmonic + w / 10 * (biharmonic - harmonic), image))
                   for w in range(11))
        assert blend_weight(degraded, mask) < 0.5
        assert float(psnr(calibrated, image)) >= float(psnr(biharmonic, image)) + 0.5
        assert float(psnr(calibrated, image)) >= best - 0.5

    def test_nlm_denoises(self, pair):
        noisy, clean = pair
        assert float(psnr(nlm_denoise(noisy, 20 / 255), clean)) > float(psnr(noisy, clean)) + 3
        assert float(psnr(nlm_denoise(noisy), clean)) > float(psnr(noisy, clean)) + 3

    def test_stretch_undoes_part_of_a_fading(self, pair):
        clean = pair[1]
        faded = fade(clean, Fade(desaturation=0.2, sepia=0.3, gamma=1.0, brightness=0.7,
                                 lift=0.1))
        assert float(psnr(stretch_colours(faded), clean)) > float(psnr(faded, clean))
