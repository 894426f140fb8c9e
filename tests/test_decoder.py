"Fusion gate, AdaLN, the decoder's masks, streaming equivalence, full-size count, and the Griffin-Lim vocoder."
import math
import pytest
import torch

from emotion_omni_lite.config import get_config, ConfigError
from emotion_omni_lite.decoder import (FusionGate, build_fusion, build_speech_decoder, build_streaming_mask,
                                       build_full_mask, decode_batch, decoder_mask, stream_decode, stream_teacher_forced)
from emotion_omni_lite.vocoder import GriffinLim, build_vocoder


# AdaLN (a plain LayerNorm at init and when switched off; the condition matters once trained): checked in
# nbs/12_decoder.ipynb (cell 413cb22f).


def test_gate_mixes_h_and_e():
    g, h, e = FusionGate(4), torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    with torch.no_grad(): g.proj.weight.zero_(); g.proj.bias.zero_()
    torch.testing.assert_close(g(h, e), (h + e) / 2)                       # σ(0) = ½
    assert 0 < g.gate(h, e).min() and g.gate(h, e).max() < 1


@pytest.mark.parametrize('n_reply', [1, 5, 7, 10, 23])
def test_streaming_mask_rule(n_reply):
    C, R, M = 15, 5, 50
    m = build_streaming_mask(n_reply, M, C, R)
    P = n_reply + 2
    for t in range(M + 1):                                                 # suffix position t predicts unit t
        k = t // C
        seen = m[P + t, :P].nonzero().flatten().tolist()
        lim = n_reply + 1 if (k + 1) * R > n_reply else (k + 1) * R
        assert seen == list(range(lim + 1)), (t, seen)
        assert m[P + t, P:].nonzero().flatten().tolist() == list(range(t + 1))
    assert not m[:P, P:].any()
    f = build_full_mask(n_reply, M)
    assert f[P:, :P].all() and torch.equal(f[:P], m[:P])


def test_batched_mask_pads_are_invisible():
    m = decoder_mask([2, 5], [3, 6], [True, True])                          # Lp = 7, Ls = 7
    vis = m[0].clone(); vis.fill_diagonal_(False)
    assert not vis[:, 4:7].any() and not vis[:, 7 + 4:].any()               # sample 0's pad columns


@pytest.fixture(scope='module')
def smoke_parts():
    torch.manual_seed(0)
    cfg = get_config('smoke')
    return cfg, build_fusion(cfg), build_speech_decoder(cfg).eval()


def test_padding_does_not_leak(smoke_parts):
    cfg, fus, dec = smoke_parts
    d = cfg.decoder.d_model
    x = torch.randn(2, 8, d); units = torch.randint(0, cfg.units.n_units, (2, 30))
    rl, ul, st = torch.tensor([8, 3]), torch.tensor([30, 17]), torch.tensor([True, True])
    with torch.no_grad():
        both = dec(x, rl, units, ul, st)
        one = dec(x[1:, :3], rl[1:], units[1:, :17], ul[1:], st[1:])
    torch.testing.assert_close(one, both[1:, :18], atol=1e-4, rtol=1e-4)


def test_streaming_cache_equals_masked_forward(smoke_parts):
    cfg, fus, dec = smoke_parts
    for N, M in ((9, 40), (10, 31), (3, 16)):
        x = torch.randn(1, N, cfg.decoder.d_model); units = torch.randint(0, cfg.units.n_units, (1, M))
        with torch.no_grad():
            ref = dec(x, torch.tensor([N]), units, torch.tensor([M]), torch.tensor([True]))[0]
        torch.testing.assert_close(stream_teacher_forced(dec, x, units[0].tolist()), ref, atol=1e-4, rtol=1e-4)


def test_non_streaming_greedy_is_consistent(smoke_parts):
    cfg, fus, dec = smoke_parts
    x = torch.randn(1, 6, cfg.decoder.d_model)
    units = sum(stream_decode(dec, [x], streaming=False), [])
    assert 0 < len(units) <= cfg.decoder.max_units and all(0 <= u < cfg.units.n_units for u in units)
    with torch.no_grad():
        logits = dec(x, torch.tensor([6]), torch.tensor([units]), torch.tensor([len(units)]), torch.tensor([False]))[0]
    logits[:, cfg.units.n_units:] = -1e9                                    # greedy over units (EOU aside)
    assert logits[:-1].argmax(-1).tolist() == units


@pytest.mark.parametrize('N', [7, 10])
def test_streaming_greedy_is_the_masked_forwards_and_the_batchs(smoke_parts, N):
    "The scheduler inference runs: the streamed units, the reply states arriving a few at a time, are the greedy picks of the streaming-masked forward, and what decode_batch gives."
    cfg, fus, dec = smoke_parts
    x = torch.randn(1, N, cfg.decoder.d_model)
    units = sum(stream_decode(dec, [x[:, :3], x[:, 3:5], x[:, 5:]], streaming=True), [])
    assert 0 < len(units) <= cfg.decoder.max_units
    with torch.no_grad():
        logits = dec(x, torch.tensor([N]), torch.tensor([units]), torch.tensor([len(units)]), torch.tensor([True]))[0]
    logits[:, cfg.units.n_units:] = -1e9
    assert logits[:len(units)].argmax(-1).tolist() == units
    assert decode_batch(dec, [x[0], torch.randn(3, cfg.decoder.d_model)], streaming=True)[0] == units


def test_an_empty_reply_says_nothing_streamed_or_batched(smoke_parts):
    cfg, fus, dec = smoke_parts
    empty = torch.zeros(1, 0, cfg.decoder.d_model)
    assert list(stream_decode(dec, [empty], streaming=True)) == [] and list(stream_decode(dec, [], streaming=False)) == []
    x = torch.randn(5, cfg.decoder.d_model)
    got = decode_batch(dec, [empty[0], x, empty[0]])
    assert got[0] == got[2] == [] and got[1] == decode_batch(dec, [x])[0] and got[1]


def test_a_token_to_wave_stream_without_look_ahead_still_finalises():
    "A hop-multiple of tokens and no look-ahead: the last call is still the final one, which flushes what the function held back."
    from emotion_omni_lite.vocoder import TokenToWave
    calls = []
    def token2wav(tokens, offset, finalize, cache):                  # like HiFT: one token's samples kept until the end
        calls.append(finalize); upto = tokens.shape[1] if finalize else tokens.shape[1] - 1
        start = cache.get('said', 0); cache['said'] = max(start, upto)
        return torch.ones(max(0, upto - start))
    voc = TokenToWave(token2wav, 16000, hop=5, lookahead=0)
    s = voc.stream(); wave = torch.cat([s.push(list(range(15))), s.finish()])
    assert len(wave) == 15 and calls[-1] is True


def test_emotion_reaches_the_units_only_through_adaln():
    "Same reply states, two emotions, two unit sequences: learnable with AdaLN, not without."
    losses = {}
    for adaln in (True, False):
        torch.manual_seed(0)
        cfg = get_config('smoke', **{'fusion.adaln': adaln})
        fus, dec = build_fusion(cfg), build_speech_decoder(cfg)
        d, nu = cfg.decoder.d_model, cfg.units.n_units
        h, e = torch.randn(1, 6, d).expand(2, -1, -1), torch.randn(1, 6, d).expand(2, -1, -1)
        emo = torch.randn(2, cfg.fusion.adaln_cond_dim)
        units = torch.randint(0, nu, (2, 12))
        opt = torch.optim.Adam([*fus.parameters(), *dec.parameters()], lr=3e-3)
        for _ in range(150):
            loss = dec.loss(fus(h, e, emo), torch.tensor([6, 6]), units, torch.tensor([12, 12]), torch.tensor([False, False]))
            opt.zero_grad(); loss.backward(); opt.step()
        losses[adaln] = loss.item()
    # without the condition the first unit is a coin flip between two answers: loss ≥ ln 2 / 13
    assert losses[True] < 0.02 and losses[False] > math.log(2) / 13 * 0.8, losses


def test_full_size_on_meta():
    full = get_config('full')
    with torch.device('meta'):
        n = sum(p.numel() for m in (build_fusion(full), build_speech_decoder(full)) for p in m.parameters())
    assert 1.25e9 < n < 1.35e9, n                                           # the paper: about 1.3 B


def test_griffin_lim_round_trip():
    from emotion_omni_lite.audio import log_mel, _mel_transform
    acfg = get_config('lite').audio
    gl = GriffinLim(acfg, 32)
    torch.testing.assert_close(gl.fb, _mel_transform(acfg.sample_rate, acfg.n_fft, acfg.hop_length, acfg.n_mels).mel_scale.fb)
    t = torch.arange(16000) / 16000
    f0 = 120 + 40 * t
    wave = sum(0.2 / k * torch.sin(2 * torch.pi * k * torch.cumsum(f0, 0) / 16000) for k in range(1, 6))
    mel = log_mel(wave, acfg)
    mel2 = log_mel(gl(mel), acfg)
    n = min(mel.shape[1], mel2.shape[1])
    assert (mel[:, 2:n - 2] - mel2[:, 2:n - 2]).abs().mean() < 0.1
    err = lambda it: (mel[:, 2:n - 2] - log_mel(GriffinLim(acfg, it)(mel), acfg)[:, 2:n - 2]).abs().mean()
    assert err(32) < err(2)                                                  # the phase search is what rebuilds it
    noise = log_mel(torch.randn(16000) * 0.1, acfg)
    assert (mel - noise).abs().mean() > 0.3                                 # the check can fail


def test_mel_vocoder_shapes_and_missing_full_vocoder():
    cfg = get_config('smoke')
    voc = build_vocoder(cfg, trained=False)
    hop = cfg.audio.hop_length
    assert voc([3, 4, 5]).shape == (3 * 4 * hop,)
    assert voc.mel([1, 2]).shape == (cfg.audio.n_mels, 8)
    with pytest.raises(ConfigError, match='vocoder.pretrained'): build_vocoder(get_config('full'))   # names the folder to set


def test_a_vocoder_of_your_own_written_to_the_interface_streams():
    "The interface is `vocoder(units) → waveform`: a vocoder whose forward takes no `context` streams chunk by chunk (the default stream called it with context=… and failed at the first chunk); one that takes it gets the units before each chunk."
    from emotion_omni_lite.vocoder import Vocoder
    class Mine(Vocoder):                                                      # exactly the documented interface
        def forward(self, units): return torch.tensor([float(u) for u in units])
    class Keyed(Vocoder):                                                     # takes any keyword: the context is handed on
        def forward(self, units, **kw):
            seen.append(list(kw.get('context', ())))
            return torch.tensor([float(u) for u in units])
    st, seen = Mine().stream(), []
    assert torch.equal(torch.cat([st.push([1, 2, 3]), st.push([4, 5]), st.finish()]), torch.tensor([1., 2, 3, 4, 5]))
    assert [len(w) for w in Mine().stream_many([[1, 2, 3, 4, 5], [6]], 2)] == [5, 1]
    st = Keyed().stream(); st.push([1, 2, 3]); st.push([4, 5])
    assert seen == [[], [1, 2, 3]]
    voc = build_vocoder(get_config('smoke'), trained=False)                   # the kit's own still gets its left context
    st = voc.stream(); st.push(range(6))
    assert torch.equal(st.push(range(6, 10)), voc([6, 7, 8, 9], context=[2, 3, 4, 5]))


def test_the_mel_vocoder_names_units_it_cannot_speak():
    "Unit ids outside units.n_units, padding, or a batch [1, T] were an IndexError or a TypeError from inside the network: they are named, with the ids or the shape taken, before anything runs."
    cfg = get_config('smoke'); n = cfg.units.n_units
    voc = build_vocoder(cfg, trained=False)
    for call in (voc, voc.mel):
        name = 'forward' if call is voc else 'mel'
        with pytest.raises(ValueError, match=rf'MelVocoder\.{name}: unit ids from 3 to {n}; this vocoder knows units\.n_units = {n} \(ids 0 … {n - 1}\)'):
            call([3, n])
        with pytest.raises(ValueError, match=rf'MelVocoder\.{name}: unit ids from -1 to 4; .*no padding \(-1\)'):
            call(torch.tensor([4, -1]))
        with pytest.raises(ValueError, match=rf'MelVocoder\.{name}: units of shape \[1, 3\]: it takes one utterance.s unit ids \[T25\] \(a batch of one: units\[0\]'):
            call(torch.tensor([[1, 2, 3]]))
    with pytest.raises(ValueError, match=r'MelVocoder\.forward \(context\): unit ids from 0 to 9999'):
        voc([1, 2], context=[0, 9999])
    with pytest.raises(ValueError, match=r'MelVocoder\.forward: units of type list .*a list or LongTensor \[T25\]'):
        voc([torch.tensor([1, 2])])
    assert voc([n - 1, 0]).shape == (2 * 4 * cfg.audio.hop_length,) and voc([]).shape == (0,)   # the edge ids speak


def test_an_untrained_vocoder_is_asked_of_a_kind_that_has_none(monkeypatch):
    "`build_vocoder(trained=False)` gives an untrained MelVocoder; for vocoder.kind='cosyvoice2' it loaded the pretrained checkpoint instead, a flag silently ignored: now refused with the fix, before any factory runs."
    from emotion_omni_lite import vocoder
    monkeypatch.setitem(vocoder.VOCODERS, 'cosyvoice2', lambda cfg, s: pytest.fail('the factory ran'))
    with pytest.raises(ConfigError, match=r"build_vocoder\(trained=False\) builds an untrained MelVocoder, which vocoder\.kind='cosyvoice2' is not: "
                                          r"call build_vocoder\(cfg\) .* or set vocoder\.kind='griffin_lim' and vocoder\.sample_rate=16000"):
        build_vocoder(get_config('full'), trained=False)
    assert isinstance(build_vocoder(get_config('full', **{'vocoder.kind': 'griffin_lim', 'vocoder.sample_rate': 16000}), trained=False),
                      vocoder.MelVocoder)


def test_a_cosyvoice2_folder_without_its_language_model_folder_is_named(tmp_path):
    "CosyVoice2(folder) also reads CosyVoice-BlankEN/ (its Qwen2 LM's config and text tokenizer): a folder without it passed the check and failed inside CosyVoice."
    from emotion_omni_lite.vocoder import COSYVOICE2_FILES, cosyvoice2_folder_problem
    for n in COSYVOICE2_FILES[:6]: (tmp_path / n).write_bytes(b'')
    assert 'lacks CosyVoice-BlankEN/config.json, which CosyVoice2 reads' in cosyvoice2_folder_problem(tmp_path)
    (tmp_path / 'CosyVoice-BlankEN').mkdir(); (tmp_path / 'CosyVoice-BlankEN' / 'config.json').write_text('{}')
    assert cosyvoice2_folder_problem(tmp_path) == ''


def test_the_decoder_refuses_states_of_the_wrong_shape_or_a_reply_too_long_for_its_positions():
    "A stream takes pieces [1, n, d], a batch one [n, d] per reply: anything else is named with the shape it takes; a reply past decoder.max_reply_tokens would share RoPE positions with the units, so it is refused before it is decoded."
    cfg = get_config('smoke'); torch.manual_seed(0)
    dec, d, most = build_speech_decoder(cfg).eval(), cfg.decoder.d_model, cfg.decoder.max_reply_tokens
    x = torch.randn(1, 9, d)
    assert sum(map(len, stream_decode(dec, [x]))) == len(decode_batch(dec, [x[0]])[0]) > 0      # the right shapes speak
    for bad, want in ((x[0], r'\[1, n, d_model\] \(decode_batch'), (torch.randn(1, 9, d + 4), f'd_model = {d}'),
                      (torch.randn(2, 9, d), r'one reply'), ([1.0] * d, r'of shape list')):
        with pytest.raises(ValueError, match=f'stream_decode: .*{want}'): list(stream_decode(dec, [bad]))
    with pytest.raises(ValueError, match=r'decode_batch \(reply 1\): fused reply states of shape \[1, 9, 32\]; .*\[n, d_model\] \(stream_decode'):
        decode_batch(dec, [x[0], x])
    said = f'a reply of {most + 1} states; .*decoder.max_reply_tokens={most} states'
    with pytest.raises(ValueError, match=f'decode_batch \\(reply 1\\): {said}'): decode_batch(dec, [x[0], torch.randn(most + 1, d)])
    with pytest.raises(ValueError, match=f'stream_decode: {said}'): list(stream_decode(dec, [torch.randn(1, most + 1, d)]))
    pieces = [torch.randn(1, 1, d)] * (most + 1)                            # one token at a time, as a reply streams in
    with pytest.raises(ValueError, match=f'stream_decode: {said}'): list(stream_decode(dec, pieces, streaming=False))
    assert len(decode_batch(dec, [torch.randn(most, d)])) == 1               # the longest reply it takes is spoken


def test_the_vocoder_settings_that_cannot_work_together_are_refused():
    "CosyVoice2 reads its own 6561 speech tokens, not the kit's k-means units; a griffin_lim vocoder reads no checkpoint folder; an unknown kind names the two the config accepts. Every preset still passes."
    with pytest.raises(ConfigError, match=r"vocoder\.kind: 'cosyvoice2' speaks CosyVoice2's own speech tokens, not the 512 units .*"
                                          r"units\.kind='external' with its 6561 tokens .*vocoder\.kind='griffin_lim' with vocoder\.sample_rate=16000"):
        get_config('lite', **{'vocoder.kind': 'cosyvoice2', 'vocoder.sample_rate': 24000})
    with pytest.raises(ConfigError, match=r"vocoder\.pretrained: /models/cv: a griffin_lim vocoder .*clear vocoder\.pretrained \(a CosyVoice2 folder speaks only CosyVoice2's own tokens"):
        get_config('lite', **{'vocoder.pretrained': '/models/cv'})
    with pytest.raises(ConfigError, match=r"vocoder\.kind: 'mine': use 'cosyvoice2' or 'griffin_lim' \(a vocoder of your own takes one of their places"):
        get_config('smoke', **{'vocoder.kind': 'mine'})
    for preset in ('full', 'lite', 'smoke'): get_config(preset)
    assert get_config('full', **{'vocoder.pretrained': '/models/cv'}).vocoder.pretrained == '/models/cv'
    assert get_config('full', **{'vocoder.kind': 'griffin_lim', 'vocoder.sample_rate': 16000}).units.kind == 'external'
    mine = get_config('smoke'); mine.vocoder.kind = 'mine'                   # set past the config's checks: build_vocoder says the same
    with pytest.raises(ConfigError, match=r"'mine' has no factory in .*VOCODERS: use 'griffin_lim' .* or 'cosyvoice2', the kinds the config accepts"):
        build_vocoder(mine)


def test_a_bad_cosyvoice2_folder_is_named_before_the_dataset_is_read(tmp_path, monkeypatch):
    "The folder is the first thing CosyVoice2 needs: a wrong one is named even where no dataset has been built yet."
    from emotion_omni_lite import vocoder
    from emotion_omni_lite.config import get_settings
    monkeypatch.setitem(vocoder.VOCODERS, 'cosyvoice2', vocoder._cosyvoice2_vocoder)   # the kit's own
    s = get_settings(preset='full', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    with pytest.raises(ConfigError, match=r'vocoder\.pretrained: .*nowhere is not a folder here'):
        build_vocoder(get_config('full', **{'vocoder.pretrained': str(tmp_path / 'nowhere')}), s)
    assert not (tmp_path / 'data').exists()


def test_an_empty_piece_mid_stream_schedules_nothing(smoke_parts):
    "A piece of no states (a token that gave none) adds no state: the stream writes what decode_batch writes."
    cfg, fus, dec = smoke_parts
    x = torch.randn(1, 12, cfg.decoder.d_model)
    gap = x[:, :0]
    for pieces in ([x[:, :3], gap, x[:, 3:5], x[:, 5:]], [gap, x[:, :4], gap, gap, x[:, 4:9], gap, x[:, 9:]]):
        assert sum(stream_decode(dec, pieces), []) == decode_batch(dec, [x[0]])[0] == sum(stream_decode(dec, [x]), [])


def test_a_temperature_or_top_k_that_cannot_sample_is_refused(smoke_parts):
    from emotion_omni_lite.decoder import DecoderStream
    cfg, fus, dec = smoke_parts
    x, n = torch.randn(1, 6, cfg.decoder.d_model), cfg.units.n_units
    for t in (float('nan'), float('inf'), -1.0):
        with pytest.raises(ValueError, match=rf"decoder\.temperature: {t}; use 0 \(greedy\) or a finite number above 0"):
            list(stream_decode(dec, [x], temperature=t))
    for k in (-1, n + 1, dec.vocab + 1, 2.0, True):                    # a float or a bool is no count of units
        with pytest.raises(ValueError, match=rf"decoder\.top_k: {k}; use a whole number from 0 \(every unit\) to units\.n_units = {n}"):
            DecoderStream(dec, 1.0, k)
    with pytest.raises(ValueError, match=r"decoder\.temperature: True; use 0 \(greedy\)"): DecoderStream(dec, True)
    g = torch.Generator().manual_seed(0)
    units = sum(stream_decode(dec, [x], temperature=1.0, top_k=n, generator=g), [])   # the widest top_k still samples
    assert units and all(0 <= u < n for u in units)
    import numpy as np                                                   # NumPy's numbers (a config read from an array) are numbers
    st = DecoderStream(dec, np.float32(0.7), np.int64(5))
    assert (st.temperature, st.top_k) == (float(np.float32(0.7)), 5) and type(st.temperature) is float and type(st.top_k) is int
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert (sum(stream_decode(dec, [x], temperature=np.float32(0.7), top_k=np.int64(5), generator=g1), [])
            == sum(stream_decode(dec, [x], temperature=float(np.float32(0.7)), top_k=5, generator=g2), []))


def test_a_padded_batch_tensor_is_refused_not_decoded_with_its_padding(smoke_parts):
    "Replies padded into one [B, N, d] tensor would each decode N states, padding too: decode_batch takes a list, one reply each."
    cfg, _, dec = smoke_parts
    padded = torch.zeros(2, 9, cfg.decoder.d_model); padded[0] = torch.randn(9, cfg.decoder.d_model)   # reply 1: 4 states, then padding
    padded[1, :4] = torch.randn(4, cfg.decoder.d_model)
    for xs in (padded, padded[0]):
        with pytest.raises(ValueError, match=r'decode_batch: fused reply states as one tensor of shape \[.*\]; pass a list of '
                                             r'\[n, d_model\] tensors, one per reply \(unpadded\)'):
            decode_batch(dec, xs)
    assert decode_batch(dec, [padded[0], padded[1, :4]]) == decode_batch(dec, list(padded[:1])) + decode_batch(dec, [padded[1, :4]])


def test_a_stream_moves_the_reply_states_to_the_decoders_device(smoke_parts, monkeypatch):
    "The LLM's states may sit on another device than the decoder (decode_batch moves them): a stream moves each piece too. The meta device stands in for a GPU here: the decoder runs there by shape, the states arrive on the CPU."
    from emotion_omni_lite.decoder import DecoderStream
    cfg = smoke_parts[0]
    with torch.device('meta'): dec = build_speech_decoder(cfg).eval()
    x = torch.randn(1, 7, cfg.decoder.d_model)                            # on the CPU
    st = DecoderStream(dec); st.add_reply(x[:, :5])
    assert st.n_reply == 5 and st.pre_cache.get_seq_length() == 5
    monkeypatch.setattr(DecoderStream, '_pick', lambda self, logits: self.dec.ids['EOU'] if self.ended else 0)   # meta: no values to pick by
    assert sum(len(c) for c in stream_decode(dec, [x[:, :3], x[:, 3:]])) == cfg.decoder.chunk_units   # a chunk, then the end


def test_a_stream_with_no_context_vocodes_each_chunk_alone():
    "`VocoderStream(context=0)` handed each chunk the whole history (units[-0:] is every unit): 0 is no context now; a negative one is refused."
    from emotion_omni_lite.vocoder import Vocoder, VocoderStream
    class Keyed(Vocoder):
        def forward(self, units, context=()):
            seen.append(list(context)); return torch.zeros(len(units))
    seen = []
    st = VocoderStream(Keyed(), context=0)
    for piece in ([1, 2, 3], [4, 5], [6]): st.push(piece)
    assert seen == [[], [], []]
    seen.clear(); st = VocoderStream(Keyed(), context=2)
    for piece in ([1, 2, 3], [4, 5], [6]): st.push(piece)
    assert seen == [[], [2, 3], [4, 5]]
    voc = build_vocoder(get_config('smoke'), trained=False)
    st = VocoderStream(voc, context=0); st.push(range(6))
    assert torch.equal(st.push(range(6, 10)), voc([6, 7, 8, 9]))      # the chunk alone
    with pytest.raises(ValueError, match=r'VocoderStream: context=-1: give the number of units .*0 or more'):
        VocoderStream(voc, context=-1)


def test_the_log_mel_a_stream_vocodes_stays_near_the_whole_replys():
    "`MelVocoder.streamed_mel`: each chunk's frames of its own mel with the stream's left context, to set against the whole reply's (the notebook measures the trained one's)."
    cfg = get_config('smoke'); torch.manual_seed(0)
    voc = build_vocoder(cfg, trained=False)
    u = torch.randint(0, cfg.units.n_units, (40,))
    whole, streamed = voc.mel(u), voc.streamed_mel(u, 15)
    assert streamed.shape == whole.shape and torch.equal(voc.streamed_mel(u, 40), whole)
    assert torch.equal(streamed[:, 60:120], voc.mel(u[11:30])[:, 16:])   # chunk 2: its 15 units after 4 of context
    spread = (whole - whole.mean(-1, keepdim=True)).abs().mean()
    assert (streamed - whole).abs().mean() < 0.4 * spread < (torch.roll(streamed, 4, -1) - whole).abs().mean()   # a unit off: far
    assert voc.streamed_mel([], 15).shape == (cfg.audio.n_mels, 0)
    with pytest.raises(ValueError, match=r'streamed_mel: chunk=0, context=4: give 1 or more units a chunk'): voc.streamed_mel(u, 0)


def test_griffin_lim_refuses_speech_tokens_at_another_rate(tmp_path, monkeypatch):
    "`MelVocoder` speaks each unit as 4 mel frames (25 Hz at 16 kHz and a hop of 160): a manifest's tokens at 50 Hz were trained on and spoken at 40 ms each. Refused, naming units.rate_hz and audio.sample_rate / audio.hop_length, by build_vocoder, the vocoder stage and `eol run` before any work; every preset passes."
    from emotion_omni_lite import cli, vocoder
    said = (r"units\.rate_hz: 50, but vocoder\.kind='griffin_lim' speaks each unit as 4 mel frames of audio\.sample_rate / "
            r"audio\.hop_length = 100 a second, i\.e\. 25 units a second: bring speech tokens at 25 Hz \(units\.rate_hz=25\)")
    fast = get_config('full', **{'vocoder.kind': 'griffin_lim', 'vocoder.sample_rate': 16000, 'units.rate_hz': 50})
    monkeypatch.setattr(vocoder, 'vocoder_pairs', lambda *a, **k: pytest.fail('the replies were read'))
    for call in (lambda: build_vocoder(fast, trained=False), lambda: build_vocoder(fast), lambda: vocoder.vocoder_job(fast, None)):
        with pytest.raises(ConfigError, match=said): call()
    for preset in ('full', 'lite', 'smoke'): vocoder.check_vocoder_units(get_config(preset))   # full: cosyvoice2, not asked
    vocoder.check_vocoder_units(get_config('full', **{'vocoder.kind': 'griffin_lim', 'vocoder.sample_rate': 16000}))   # 25 Hz
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = smoke\ndata_dir = data\nout_dir = runs\ndevice = cpu\n\n[emotion_omni_lite.smoke]\n'
                   'units.kind = external\nunits.manifest = m.jsonl\nunits.rate_hz = 50\nstages.stage2.cross_emotion = 0\n')
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    for name in ('train_stage', 'evaluate_stage', 'run_tasks'): monkeypatch.setattr(cli, name, lambda *a, **k: pytest.fail('the job started'))
    for stages in (None, ['vocoder']):
        with pytest.raises(ConfigError, match=said): cli.run_pipeline(stages=stages, jobs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['settings.ini']   # no data, no runs


def test_a_vocoder_run_with_no_held_out_reply_has_no_test_score(monkeypatch):
    "With no held-out pair the vocoder stage reported test_mel_l1 = 0.0, a perfect score: it is None, as stage 2's held-out losses are."
    from emotion_omni_lite import vocoder
    from emotion_omni_lite.vocoder import UnitToMel
    cfg = get_config('smoke'); torch.manual_seed(0)
    pair = (torch.randint(0, cfg.units.n_units, (8,)), torch.zeros(cfg.audio.n_mels, 32).half())
    held = []
    monkeypatch.setattr(vocoder, 'vocoder_pairs', lambda cfg, s, split='train', limit=None: [pair] if split == 'train' else held)
    job = vocoder.vocoder_job(cfg, None)
    model = UnitToMel(cfg.units.n_units, cfg.audio.n_mels, cfg.vocoder.hidden)
    assert job.evaluate(model, None) == {'test_mel_l1': None}
    held.append(pair)
    assert job.evaluate(model, None)['test_mel_l1'] > 0
