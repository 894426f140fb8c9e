"Downsampling adapter: rate arithmetic, stacking, concat / interleave, the ablation without the emotion stream."
import pytest
import torch
from emotion_omni_lite.config import get_config
from emotion_omni_lite.adapter import build_adapter, sequence_lengths, stack_frames


def test_interleave_doubles_the_llm_tokens():
    # the concat rates 16 kHz → 100 → 50 → 10 Hz: checked in nbs/10_adapter.ipynb (cell 83a8475b)
    tokens = lambda mode: sequence_lengths(16000 * 4, get_config('lite', **{'adapter.mode': mode}))['llm_tokens']
    assert tokens('interleave') == 2 * tokens('concat') == 80               # 4 s at 10 Hz, one token of each stream


def test_stack_drops_tail_and_keeps_order():
    x = torch.arange(2 * 13 * 3, dtype=torch.float).reshape(2, 13, 3)
    y, n = stack_frames(x, 5, torch.tensor([13, 4]))
    assert y.shape == (2, 2, 15) and n.tolist() == [2, 0]
    assert torch.equal(y[1, 1], x[1, 5:10].flatten())


@pytest.mark.parametrize('mode,factor', [('concat', 1), ('interleave', 2)])
def test_modes_shapes_and_lengths(mode, factor):
    cfg = get_config('smoke', **{'adapter.mode': mode})
    ad = build_adapter(cfg)
    sem, emo = torch.randn(3, 52, cfg.semantic_encoder.d_model), torch.randn(3, 52, cfg.emotion_encoder.dim)
    x, n = ad(sem, emo, torch.tensor([52, 26, 9]))
    assert x.shape == (3, 10 * factor, cfg.llm.hidden_size)
    assert n.tolist() == [10 * factor, 5 * factor, 1 * factor]
    emo2 = emo.clone(); emo2[0] += 1                     # the emotion stream matters
    assert not torch.allclose(ad(sem, emo2)[0][0], x[0])


def test_ablation_has_no_emotion_stream():
    cfg = get_config('smoke', **{'adapter.emotion_stream': False})
    ad = build_adapter(cfg)
    assert ad.emotion is None and ad.mix is None
    x, n = ad(torch.randn(1, 25, cfg.semantic_encoder.d_model), None, torch.tensor([25]))
    assert x.shape == (1, 5, cfg.llm.hidden_size) and n.tolist() == [5]


def test_full_size_on_meta():
    cfg = get_config('full')
    with torch.device('meta'):
        ad = build_adapter(cfg)
    n = sum(p.numel() for p in ad.parameters())
    # semantic 5·1280→2048→3584, emotion 5·768→2048→3584, mix 2·3584→3584
    exp = (6400 * 2048 + 2048 + 2048 * 3584 + 3584) + (3840 * 2048 + 2048 + 2048 * 3584 + 3584) + (7168 * 3584 + 3584)
    assert n == exp


def test_the_adapter_refuses_frames_it_cannot_read():
    "Frames of another rank, width or batch, lengths of another shape, and clips of fewer than k frames (no LLM token: the LLM heard no speech, silently) are refused; the semantic-only adapter counts no group past its frames."
    cfg = get_config('smoke')
    ad, ds, de = build_adapter(cfg), cfg.semantic_encoder.d_model, cfg.emotion_encoder.dim
    sem, emo = torch.randn(2, 12, ds), torch.randn(2, 12, de)
    for args, said in (((sem[0], emo), rf'sem is \[12, {ds}\]; it takes encoder frames \[B, T50, {ds}\] \(one clip: frames\[None\]\)'),
                       ((sem, emo[..., :3]), rf'emo frames are 3 wide, but this adapter was built for {de} \(emotion_encoder\.dim\)'),
                       ((torch.randn(2, 12, ds + 1), emo), rf'sem frames are {ds + 1} wide, but this adapter was built for {ds} \(semantic_encoder'),
                       ((sem, emo[:1]), r'2 clips of semantic frames but 1 of emotion frames'),
                       ((sem, emo, torch.tensor([[12, 12]])), r'lengths of shape \[1, 2\]: give one count of valid frames per clip, \[2\]'),
                       ((sem, emo, torch.tensor([12, 4])), r'clip 1 has 4 valid frames, fewer than the k=5 one LLM token stacks \(100 ms'),
                       ((sem[:, :3], emo[:, :3]), r'clip 0 has 3 valid frames')):
        with pytest.raises(ValueError, match='SpeechAdapter: ' + said): ad(*args)
    assert ad(sem, emo, torch.tensor([12, 5]))[1].tolist() == [2, 1]
    one = build_adapter(get_config('smoke', **{'adapter.emotion_stream': False}))
    x, n = one(sem, emo, torch.tensor([12, 40]))                        # the emotion frames given are not read; 40 > 12 frames
    assert x.shape[1] == 2 and n.tolist() == [2, 2]
    with pytest.raises(ValueError, match='clip 0 has 4 valid frames'): one(sem[:, :4])


def test_full_size_lengths_count_the_emotion_encoders_49_frames_a_second():
    "At full size stage 1 keeps the frames both encoders give (`encode_speech`), and wav2vec2 gives 49 a second, not Whisper's 50; each side counted by transformers' own code (Whisper's feature extractor and convolutions, wav2vec2's), not by the formula under test, and Whisper's alone where no wav2vec2 caps it (lite)."
    import numpy as np
    from transformers import Wav2Vec2Config, Wav2Vec2Model, WhisperConfig, WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder
    full, lite = get_config('full'), get_config('lite')
    with torch.device('meta'):                                                # the front ends' shapes, no weights
        w2v = Wav2Vec2Model(Wav2Vec2Config())                                  # wav2vec2-base's convolutions
        whisper_enc = WhisperEncoder(WhisperConfig(num_mel_bins=full.semantic_encoder.n_mels))   # Whisper's two convolutions
    fe = WhisperFeatureExtractor(feature_size=full.semantic_encoder.n_mels)
    def whisper_frames(n):                    # the log-mel frames of n samples (within the 30-s window), and its convolutions' frames
        mel = min(fe(np.zeros(n, np.float32), sampling_rate=16000, padding='longest')['input_features'][0].shape[-1], fe.nb_max_frames)
        return mel, whisper_enc.conv2(whisper_enc.conv1(torch.empty(1, full.semantic_encoder.n_mels, mel, device='meta'))).shape[-1]
    for cfg, ns in ((full, (400, 16000, 16000 * 4 + 123, 16000 * 30)),        # 30 s: all a query may last at full size
                    (lite, (400, 16000 + 487, 16000 * 3 + 170, 16000 * 4 + 8000))):   # odd mel counts too; 4.5 s: lite's most
        for n in ns:
            lens, (mel, whisper) = sequence_lengths(n, cfg), whisper_frames(n)
            w2v_frames = int(w2v._get_feat_extract_output_lengths(torch.tensor(n)))
            assert lens['mel'] == mel, (cfg.preset, n, lens)
            assert lens['encoder'] == (min(whisper, w2v_frames) if cfg.emotion_encoder.pretrained else whisper), (cfg.preset, n, lens)
    assert sequence_lengths(16000, full)['encoder'] == 49 and sequence_lengths(16000, full)['llm_tokens'] == 9
    assert sequence_lengths(16000, get_config('lite'))['encoder'] == 50                 # the kit's own encoders: 50


@pytest.mark.parametrize('preset', ['lite', 'full'])
def test_lengths_of_a_query_longer_than_the_model_hears_are_refused(preset):
    "The kit refuses such a query (`dataset.hearing_seconds`: 4.5 s in lite, 30 s at full size); its token count was planned as if cut at the encoder's window."
    from emotion_omni_lite.dataset import hearing_seconds
    cfg = get_config(preset)
    most = int(hearing_seconds(cfg) * 16000)
    assert sequence_lengths(most, cfg)['mel'] == 2 * cfg.semantic_encoder.max_source_positions   # the whole window, heard
    with pytest.raises(ValueError, match=rf"sequence_lengths: {most + 1} samples are .* s, longer than the {hearing_seconds(cfg):g} s this "
                                         rf"model hears of a query \(dataset\.hearing_seconds\), so the kit refuses it: plan with at "
                                         rf"most {most} samples, or cut the query into shorter clips"):
        sequence_lengths(most + 1, cfg)
