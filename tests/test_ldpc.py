"""The fast 5G LDPC decoder against Sionna's, and the coded systems `qam-ldpc`,
`qam-ldpc+chacha` against a plain Sionna loop."""

import os
import pickle

import numpy as np
import pytest
import sionna.phy
import torch
from scipy.stats import beta, norm
from sionna.phy.channel import AWGN, GenerateFlatFadingChannel
from sionna.phy.fec.interleaving import Deinterleaver, RandomInterleaver
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import BinarySource, Constellation, Demapper, Mapper
from sionna.phy.utils import ebnodb2no

from channels import ChannelOutput, get_channel, get_modulation, noise_variance
from commgan.comm.coded import QAMLDPCChaChaSystem, QAMLDPCSystem
from commgan.comm.ldpc_decoder import FastLDPC5GDecoder, pruned_length
from commgan.errors import CommganError

pytestmark = pytest.mark.usefixtures("one_thread")


def clopper_pearson(errors: int, trials: int, alpha: float) -> tuple[float, float]:
    low = beta.ppf(alpha / 2, errors, trials - errors + 1) if errors > 0 else 0.0
    high = beta.ppf(1 - alpha / 2, errors + 1, trials - errors) if errors < trials else 1.0
    return float(low), float(high)


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def awgn_llrs(encoder, num_bits_per_symbol, ebno_db, batch, generator_seed):
    """Information bits and Sionna APP LLRs of one batch of codewords on AWGN."""
    sionna.phy.config.seed = generator_seed
    constellation = Constellation("qam", num_bits_per_symbol)
    mapper = Mapper(constellation=constellation)
    demapper = Demapper("app", constellation=constellation)
    u = BinarySource()([batch, encoder.k])
    no = ebnodb2no(ebno_db, num_bits_per_symbol, encoder.k / encoder.n)
    llr = demapper(AWGN()(mapper(encoder(u)), no), no)
    return u, llr


@pytest.mark.parametrize("k, n, bits_per_symbol", [
    (512, 1024, None), (400, 1200, None), (1000, 1500, None), (20, 60, None), (100, 300, 4),
    (3000, 4002, 6),
])
def test_noiseless_round_trip_and_rate_recovery(k, n, bits_per_symbol):
    """Certain LLRs decode to the information bits, with fillers, puncturing, pruning and
    Sionna's output interleaver where the encoder has one; the pruned graph is Sionna's."""
    encoder = LDPC5GEncoder(k, n, num_bits_per_symbol=bits_per_symbol)
    decoder = FastLDPC5GDecoder(encoder)
    assert decoder.n_pruned == pruned_length(encoder) == LDPC5GDecoder(encoder)._n_pruned
    u = torch.randint(0, 2, (6, k), generator=torch.Generator().manual_seed(k)).float()
    llr = 8.0 * (2.0 * encoder(u) - 1.0)
    assert torch.equal(decoder(llr), u)
    assert (decoder.last_num_iter <= 3).all()  # early stopping


@pytest.mark.parametrize("cn_update, sionna_cn", [("boxplus", "boxplus-phi"),
                                                  ("minsum", "minsum")])
def test_messages_equal_sionna_before_early_stopping(cn_update, sionna_cn):
    """Without early stopping, a few BP iterations give Sionna's a-posteriori logits up to
    float32 rounding: the same graph, schedule, update rules and clipping."""
    encoder = LDPC5GEncoder(400, 1200, num_bits_per_symbol=4)
    _, llr = awgn_llrs(encoder, 4, 0.0, 40, 7)
    fast = FastLDPC5GDecoder(encoder, cn_update=cn_update, num_iter=4, early_stop=False)
    ref = LDPC5GDecoder(encoder, cn_update=sionna_cn, num_iter=4, hard_out=False)
    assert (fast(llr, hard_out=False) - ref(llr)).abs().max() < 1e-3


def test_fast_decoder_bler_equals_sionna():
    """Same LLRs to both decoders at waterfall points (16QAM and QPSK, k=512, n=1024): the
    decisions agree codeword by codeword (early stopping only changes where BP would have left
    a valid codeword) and the BLERs lie within simultaneous 95% Clopper–Pearson intervals."""
    encoder = LDPC5GEncoder(512, 1024)
    fast, ref = FastLDPC5GDecoder(encoder), LDPC5GDecoder(encoder)
    alpha = 0.05 / 4
    for bits_per_symbol, ebno_db in ((4, 3.6), (2, 1.3)):
        u, llr = awgn_llrs(encoder, bits_per_symbol, ebno_db, 240, 11 + bits_per_symbol)
        u_fast, u_ref = fast(llr), ref(llr)
        fail_fast = (u_fast != u).any(-1)
        fail_ref = (u_ref != u).any(-1)
        assert 5 <= int(fail_ref.sum()) <= 200  # a waterfall point, not an error floor
        assert (fail_fast == fail_ref).float().mean() >= 0.98
        assert overlap(clopper_pearson(int(fail_fast.sum()), len(u), alpha),
                       clopper_pearson(int(fail_ref.sum()), len(u), alpha))
        assert fast.last_num_iter.mean() < ref.num_iter  # early stopping at work


def plain_sionna_loop(k, n, bits_per_symbol, ebno_db, codewords, fading, seed):
    """Sionna only: BinarySource, LDPC5GEncoder, RandomInterleaver, Mapper, (per-symbol
    Rayleigh fading,) AWGN, equaliser, APP Demapper, Deinterleaver, LDPC5GDecoder."""
    sionna.phy.config.seed = seed
    encoder = LDPC5GEncoder(k, n)
    interleaver = RandomInterleaver(seed=99, keep_batch_constant=True)
    constellation = Constellation("qam", bits_per_symbol)
    u = BinarySource()([codewords, k])
    x = Mapper(constellation=constellation)(interleaver(encoder(u)))
    no = ebnodb2no(ebno_db, bits_per_symbol, k / n)
    h = (GenerateFlatFadingChannel(1, 1)(x.numel()).reshape(x.shape) if fading
         else torch.ones_like(x))
    y = AWGN()(h * x, no)
    llr = Demapper("app", constellation=constellation)(y / h, no / h.abs().square())
    return u, LDPC5GDecoder(encoder)(Deinterleaver(interleaver)(llr))


@pytest.mark.parametrize("channel, ebno_db", [("awgn", 3.6), ("rayleigh-fast", 5.8)])
def test_qam_ldpc_matches_plain_sionna_loop(seeded, channel, ebno_db):
    """`qam-ldpc` (fast decoder) through the project's channel against a plain Sionna loop of the
    same blocks at a waterfall point: BLER (Clopper–Pearson) and BER (normal interval over
    codewords) intervals overlap, simultaneous 95%."""
    k, n, frames = 512, 1024, 60
    system = QAMLDPCSystem(get_modulation("16qam"), k=k, n=n)
    assert system.bits_per_channel_use == 2.0 and system.code_rate == 0.5
    assert system.block_bits == k
    bits = torch.randint(0, 2, (frames, 4 * k)).float()
    out = get_channel(channel)(system.transmit(bits),
                               noise_variance(ebno_db, system.bits_per_channel_use))
    assert out.y.shape == (frames, 4 * n // 4)  # 4 codewords of n bits, 4 bits per symbol
    errors_sys = (system.receive(out) != bits).reshape(-1, k).sum(-1).float()
    u, u_hat = plain_sionna_loop(k, n, 4, ebno_db, 4 * frames, channel != "awgn", 5)
    errors_ref = (u_hat != u).sum(-1).float()

    alpha = 0.05 / 4
    blocks = len(errors_ref)
    assert 5 <= int((errors_ref > 0).sum()) <= blocks - 5  # a waterfall point
    assert overlap(clopper_pearson(int((errors_sys > 0).sum()), blocks, alpha),
                   clopper_pearson(int((errors_ref > 0).sum()), blocks, alpha))

    def ber_interval(errors):
        mean, sd = errors.mean() / k, errors.std() / k / np.sqrt(len(errors))
        return mean - norm.ppf(1 - alpha / 2) * sd, mean + norm.ppf(1 - alpha / 2) * sd

    assert overlap(ber_interval(errors_sys), ber_interval(errors_ref))


def test_non_dyadic_rate_round_trip_and_recipe():
    """16QAM with k=400, n=1200 (R = 4/3): noiseless round trip, Sionna decoder too; a pickled
    system (the worker recipe) keeps its non-default options."""
    for decoder in ("fast", "sionna"):
        system = QAMLDPCSystem(get_modulation("16qam"), k=400, n=1200, decoder=decoder,
                               iterations=8)
        assert system.bits_per_channel_use == pytest.approx(4 / 3)
        bits = torch.randint(0, 2, (3, 800)).float()
        x = system.transmit(bits)
        assert x.shape == (3, 600)
        out = ChannelOutput(x, torch.ones_like(x), torch.tensor(1e-4))
        assert torch.equal(system.receive(out), bits)
        clone = pickle.loads(pickle.dumps(system))
        assert clone.init_args() == system.init_args() == {
            "k": 400, "n": 1200, "decoder": decoder, "iterations": 8, "cn_update": "boxplus"}
        assert torch.equal(clone.receive(out), bits)


@pytest.mark.parametrize("options, message", [
    ({"k": 512, "n": 1022}, "multiple of 4"), ({"k": 8, "n": 16}, "does not support"),
    ({"k": 512, "n": 4096}, "does not support"), ({"decoder": "osd"}, "unknown decoder"),
    ({"iterations": 0}, "positive integer"),
])
def test_bad_options_are_one_clear_error(options, message):
    with pytest.raises(CommganError, match=message):
        QAMLDPCSystem(get_modulation("16qam"), **options)
    with pytest.raises(CommganError, match="multiple of 512"):
        QAMLDPCSystem(get_modulation("16qam")).check_frame_bits(1000)


def test_qam_ldpc_chacha_bob_decrypts_eve_at_one_half(seeded):
    """Encrypt-then-code: Bob recovers the message, and so does decoding his channel LLRs with
    the key stream's codeword flipped out (the code is linear); Eve, who decodes the
    ciphertext without the key, is at BER 0.5 within a 99.9% interval; a wrong key fails."""
    system = QAMLDPCChaChaSystem(get_modulation("qpsk"), key=os.urandom(32), k=256, n=768)
    frames, frame_bits = 24, 1024
    bits = torch.randint(0, 2, (frames, frame_bits)).float()
    nonces = torch.arange(frames)
    x = system.transmit(bits, nonces)
    # R = 2 * 256 / 768 = 2/3 (noise from Sionna: the engine's non-dyadic rates are issue 27's)
    out = get_channel("awgn")(x, ebnodb2no(4.0, 2, 256 / 768))
    assert torch.equal(system.receive(out, nonces), bits)
    z = torch.from_numpy(system.keystream.decryption_bits(nonces, frame_bits)).float()
    plain_code_llr = system.bob_logits(out, system.channel_bits(z))  # LLRs of the codeword of m
    assert torch.equal(system.code.decode(system.code.deinterleave(plain_code_llr)), bits)
    eve_errors = int((system.eavesdrop(out) != bits).sum())
    low, high = clopper_pearson(eve_errors, bits.numel(), 0.001)
    assert low <= 0.5 <= high
    wrong = (system.receive(out, nonces, key=os.urandom(32)) != bits).float().mean()
    assert 0.45 < wrong < 0.55
