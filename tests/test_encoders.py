"Semantic and emotion encoders: builders, offline loaders, stage 0 runs, frozen use, and the lite quality figures."
import dataclasses, json
from pathlib import Path

import pytest
import torch
from torch import nn

from emotion_omni_lite.report import assert_guard
from emotion_omni_lite.config import EMOTIONS, ConfigError, TrainConfig, get_config, set_field, set_fields
from emotion_omni_lite.train import fit
from emotion_omni_lite.stages import StageMissing, require_stage, run_stage
from emotion_omni_lite.dataset import build_dataset, load_query_mels
from emotion_omni_lite.semantic_encoder import (asr_job, build_semantic_encoder, load_semantic_encoder, semantic_features,
                                                whisper_config)
from emotion_omni_lite.emotion_encoder import (build_emotion_encoder, emotion_encoder_job, emotion_features,
                                               load_emotion_encoder)


def n_params(m): return sum(p.numel() for p in m.parameters())


def test_full_size_builders_on_meta():
    cfg = get_config('full')
    with torch.device('meta'):
        sem, emo = build_semantic_encoder(cfg), build_emotion_encoder(cfg)
    assert abs(n_params(sem) - 0.637e9) / 0.637e9 < 0.01        # Whisper-large-v3's encoder
    # the emotion encoder's 90–100 M (wav2vec2-base size class): checked in nbs/07_emotion_encoder.ipynb (cell 0183ad11)
    assert sem.whisper.config.d_model == 1280 and emo.backbone.config.hidden_size == 768


def test_emotion_features_are_50hz():
    # the semantic features' 50 Hz shape and lengths: checked in nbs/06_semantic_encoder.ipynb (cell f74358fa)
    cfg = get_config('smoke')
    waves = [torch.randn(16000) * 0.1, torch.randn(6400) * 0.1]  # 1 s and 0.4 s
    f = emotion_features(build_emotion_encoder(cfg).eval(), waves, cfg.audio)
    assert f.frames.shape == (2, 50, cfg.emotion_encoder.dim) and f.lengths.tolist() == [50, 20]
    assert f.emotion_vec.shape == (2, cfg.emotion_encoder.dim) and f.logits.shape == (2, len(EMOTIONS))


def test_full_loaders_offline(tmp_path):
    "The full-size loading code, fed tiny random checkpoints saved to local folders."
    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification, WhisperModel
    cfg = get_config('smoke', **{'semantic_encoder.fit_window': False,    # a pretrained Whisper reads its whole window
                                 'semantic_encoder.envelope_ceps': 0,     # of the plain log-mel; a pretrained wav2vec2
                                 'emotion_encoder.pitch': False, 'emotion_encoder.relative_pitch': False})   # the wave alone
    wm = WhisperModel(whisper_config(cfg)).eval(); wm.save_pretrained(tmp_path / 'whisper')
    conf = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(16,) * 7, use_weighted_layer_sum=True, classifier_proj_size=8,
                          id2label={0: 'neu', 1: 'hap', 2: 'ang', 3: 'sad'}, label2id={'neu': 0, 'hap': 1, 'ang': 2, 'sad': 3})
    em = Wav2Vec2ForSequenceClassification(conf).eval(); em.save_pretrained(tmp_path / 'emo')
    full = set_fields(cfg, **{'semantic_encoder.pretrained': str(tmp_path / 'whisper'), 'emotion_encoder.pretrained': str(tmp_path / 'emo'),
                              'emotion_encoder.dim': 32, 'fusion.adaln_cond_dim': 32})   # the checkpoint's width
    sem, emo = load_semantic_encoder(full), load_emotion_encoder(full)
    with pytest.raises(ConfigError, match=r'set emotion_encoder\.dim=32'):          # a config of other sizes is refused
        load_emotion_encoder(set_field(cfg, 'emotion_encoder.pretrained', str(tmp_path / 'emo')))
    for k, v in wm.encoder.state_dict().items(): assert torch.equal(v, sem.whisper.state_dict()[k]), k
    wave = torch.randn(16000) * 0.1
    f = emotion_features(emo, wave)
    with torch.no_grad(): want = em(wave[None]).logits[0]
    assert torch.allclose(f.logits[0, [0, 1, 3, 2]], want, atol=1e-4)            # neutral happy angry sad
    assert torch.isinf(f.logits[0, 4:]).all()
    assert not any(p.requires_grad for p in list(sem.parameters()) + list(emo.parameters()))
    with pytest.raises(ConfigError, match='semantic_encoder.pretrained: there is no folder'):
        load_semantic_encoder(set_field(cfg, 'semantic_encoder.pretrained', str(tmp_path / 'nothing')))



def _tiny_wav2vec2(folder, head: bool = True, **kw):
    "A tiny random wav2vec2 (group-norm front end, as wav2vec2-base's, unless `kw` says otherwise), saved to `folder`: with a classification head, or none."
    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification, Wav2Vec2Model
    torch.manual_seed(0)
    conf = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7,
                          **{'feat_extract_norm': 'group', **kw})
    (Wav2Vec2ForSequenceClassification if head else Wav2Vec2Model)(conf).eval().save_pretrained(folder)
    return str(folder)


def test_a_group_norm_checkpoint_hears_a_clip_the_same_in_any_batch(tmp_path):
    "wav2vec2-base normalises its first convolution over the whole padded input: the encoder runs each length alone, so a clip beside a longer one reads as it does alone."
    from emotion_omni_lite.emotion_encoder import load_pretrained_emotion_encoder, predict_emotions
    enc = load_pretrained_emotion_encoder(_tiny_wav2vec2(tmp_path / 'emo', id2label={0: 'neu', 1: 'hap', 2: 'ang', 3: 'sad'},
                                                         label2id={'neu': 0, 'hap': 1, 'ang': 2, 'sad': 3}))
    assert enc.backbone.config.feat_extract_norm == 'group'
    g = torch.Generator().manual_seed(1)
    short, long, other = (torch.randn(n, generator=g) * 0.1 for n in (8000, 16000, 8000))
    alone, batch = emotion_features(enc, [short]), emotion_features(enc, [long, short, other])
    n = int(alone.lengths[0])
    assert batch.lengths.tolist()[1] == n and batch.frames.shape[1] == emotion_features(enc, [long]).frames.shape[1]
    assert torch.allclose(batch.emotion_vec[1], alone.emotion_vec[0], atol=1e-5)
    assert torch.allclose(batch.frames[1, :n], alone.frames[0], atol=1e-5) and not batch.frames[1, n:].any()
    assert torch.allclose(batch.logits[1], alone.logits[0], atol=1e-5)
    assert torch.allclose(batch.emotion_vec[0], emotion_features(enc, [long]).emotion_vec[0], atol=1e-5)
    pred, vec = predict_emotions(enc, [long, short])
    assert torch.allclose(vec[1], alone.emotion_vec[0], atol=1e-5) and pred[1] == alone.logits[0].argmax()
    with torch.no_grad():                                             # the padded batch itself: it would differ
        x = torch.stack([long, torch.cat([short, torch.zeros(8000)])])
        h = enc.backbone(x, attention_mask=torch.tensor([[1] * 16000, [1] * 8000 + [0] * 8000])).last_hidden_state
        one = enc.backbone(short[None]).last_hidden_state
    assert (h[1, :n] - one[0]).abs().max() > 1e-2


def test_an_emotion_checkpoint_that_cannot_name_an_emotion(tmp_path):
    "A head whose classes name none of the six emotions (transformers' default LABEL_0 …) is refused when it loads; a checkpoint with no head gives its vectors, and asking it for an emotion is refused, not answered 'neutral'."
    from emotion_omni_lite.emotion_encoder import classify_emotion, load_pretrained_emotion_encoder, predict_emotions
    with pytest.raises(ConfigError, match=r"emotion_encoder\.pretrained: the classification head of .*labels names its classes "
                                          r"'LABEL_0', 'LABEL_1', .*'LABEL_5', none of which is one of the six emotions "
                                          r"\(neutral, happy, sad, angry, surprised, fearful.*name its classes in the id2label"):
        load_pretrained_emotion_encoder(_tiny_wav2vec2(tmp_path / 'labels', num_labels=6))
    bare = load_pretrained_emotion_encoder(_tiny_wav2vec2(tmp_path / 'bare', head=False))
    wave = torch.randn(16000) * 0.1
    f = emotion_features(bare, [wave])                                # its frames and vector: what later stages read
    assert f.emotion_vec.shape == (1, 32) and torch.isfinite(f.emotion_vec).all()
    for ask in (lambda: classify_emotion(bare, wave), lambda: predict_emotions(bare, [wave]), lambda: bare.frame_logits(f)):
        with pytest.raises(ConfigError, match=r"emotion_encoder\.pretrained: this checkpoint has no classification head.*"
                                              r"emotion_features.*point emotion_encoder\.pretrained at one with a head"):
            ask()
    some = load_pretrained_emotion_encoder(_tiny_wav2vec2(tmp_path / 'some', id2label={0: 'Angry', 1: 'calm'},
                                                          label2id={'Angry': 0, 'calm': 1}))   # one of six named: it classifies
    assert torch.isfinite(classify_emotion(some, wave)[0, EMOTIONS.index('angry')])



def test_emotion_features_refuse_what_the_encoder_cannot_read(tmp_path):
    "A front end the lite encoder was not trained on (128 mels: a raw error; hop 320: 25 frames a second, silently), a lone [82, X] tensor that may be 82 waves, and, for a pretrained encoder, no clip, a log-mel or a clip shorter than its convolutions' field: each refused, named with the fix."
    from emotion_omni_lite.audio import AudioError
    from emotion_omni_lite.emotion_encoder import load_pretrained_emotion_encoder
    cfg, wave = get_config('smoke'), torch.randn(16000) * 0.1
    lite = build_emotion_encoder(cfg).eval()
    for field, v in (('n_mels', 128), ('hop_length', 320)):
        with pytest.raises(ValueError, match=rf"audio_cfg: {field}={v}, but this emotion encoder reads log-mels of {field}="
                                             rf"{getattr(cfg.audio, field)} .*pass its own, encoder\.audio_cfg"):
            emotion_features(lite, [wave], dataclasses.replace(cfg.audio, **{field: v}))
    assert emotion_features(lite, [wave], dataclasses.replace(cfg.audio, max_seconds=30.0)).lengths.tolist() == [50]   # not the mels
    with pytest.raises(AudioError, match=r"a \[82, 16000\] tensor is one log-mel with its pitch rows of 160\.0 s or 82 waves of 1\.00 s"):
        emotion_features(lite, torch.randn(82, 16000) * 0.1, cfg.audio)               # was read as one input of 160 s
    assert emotion_features(lite, torch.randn(82, 300), cfg.audio).lengths.tolist() == [150]   # 3 s: one input, as before
    assert emotion_features(lite, list(torch.randn(82, 16000) * 0.1), cfg.audio).lengths.tolist() == [50] * 82
    for bad in ([], ()):
        with pytest.raises(ValueError, match='no audio'): emotion_features(lite, bad)
    pe = load_pretrained_emotion_encoder(_tiny_wav2vec2(tmp_path / 'emo', head=False))
    assert pe.min_samples == 400 and emotion_features(pe, torch.randn(400) * 0.1).lengths.tolist() == [1]
    for bad, said in (([torch.randn(300)], r'clip 0 has 300 samples \(19 ms\), fewer than the 400 \(25 ms at 16 kHz\)'),
                      ([wave, torch.zeros(0)], r'clip 1 has 0 samples'), ([], 'no audio'), (torch.zeros(0, 16000), 'no audio'),
                      ([torch.randn(80, 100)], r'clip 0 is a tensor of shape \[80, 100\].*pass the waveform \(not a log-mel\)'),
                      (torch.randn(80, 100), r'clip 0 has 100 samples .*not log-mels')):
        with pytest.raises(ValueError, match='emotion_features: ' + said): emotion_features(pe, bad)


def test_voice_baselines_check_what_they_are_given():
    "Rows and inputs of other counts (zip dropped the rest), an input without pitch rows after the first, a baseline not [3] or with no spread (a division by 0): refused, with what to give."
    from emotion_omni_lite.emotion_encoder import against_baseline, voice_baselines
    n, g = 80, torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(n, 60, generator=g), torch.rand(1, 60, generator=g), torch.ones(1, 60)])   # voiced throughout
    rows = [{'voice': 'a', 'user_emotion': e} for e in ('neutral', 'happy', 'sad')]
    base = voice_baselines(rows, [x, x * 1.1, x * 0.9], n)['a']
    assert base.shape == (3,) and base[1] > 0 and against_baseline(x, base, n).shape == x.shape
    with pytest.raises(ValueError, match=r'3 rows and 2 inputs: give each row'): voice_baselines(rows, [x, x], n)
    with pytest.raises(ValueError, match=r'input 2 is \[80, 60\]: a baseline needs the pitch rows, \[n_mels \+ 2 = 82, T100\]'):
        voice_baselines(rows, [x, x, x[:n]], n)
    with pytest.raises(ValueError, match=r'the input is \[82\]'): against_baseline(x[:, 0], base, n)
    for b, said in ((base[:2], r'a baseline of shape \[2\]: give one voice.s \[3\]'), (base[None], r'shape \[1, 3\]'),
                    (torch.tensor([0.1, 0.0, -3.0]), r'pitch spread \(the second\) above 0'),
                    (torch.tensor([float('nan'), 0.5, -3.0]), 'must be finite')):
        with pytest.raises(ValueError, match=said): against_baseline(x, b, n)


def test_a_cross_engine_run_on_one_engines_data_is_refused_before_it_reads_audio(monkeypatch):
    "emotion_encoder.train_engine with every query spoken by that engine would train, then crash scoring an empty other engine: refused up front, naming data.n_piper_voices; scores with no other-engine row are None, not a crash."
    import emotion_omni_lite.emotion_encoder as ee
    cfg = set_field(get_config('smoke'), 'emotion_encoder.train_engine', 'espeak')
    monkeypatch.setattr(ee, 'load_dialogues', lambda c, s: {'voice': ['en-us+m3', 'en+f2'] * 3})
    def never(*a, **k): raise AssertionError('audio was read before the refusal')
    monkeypatch.setattr(ee, 'load_query_emotion_inputs', never)
    with pytest.raises(ConfigError, match=r"emotion_encoder\.train_engine='espeak': every query of this dataset is spoken by espeak.*"
                                          r"data\.n_piper_voices.*or leave train_engine ''"):
        emotion_encoder_job(cfg, None)
    monkeypatch.setattr(ee, 'load_dialogues', lambda c, s: {'voice': ['en-us+m3', 'piper:joe+p0']})
    with pytest.raises(AssertionError, match='audio was read'): emotion_encoder_job(cfg, None)   # two engines: on it goes
    rows = [{'voice': 'en-us+m3', 'user_emotion': e, 'split': 'test_voice', 'heldout_voice': True, 'sentence_kind': k}
            for e in ('happy', 'sad') for k in ('tone', 'explicit')]
    enc = build_emotion_encoder(get_config('smoke')).eval()
    res = ee.cross_engine_scores(enc, rows, [torch.randn(82, 50) for _ in rows], 'espeak')
    assert res['n_other_engine'] == 0 and res['acc_other_engine'] is None and res['acc_other_engine_tone'] is None


def test_a_pretrained_emotion_encoder_of_another_width_is_refused_before_its_weights_load(tmp_path, monkeypatch):
    "emotion_encoder.dim against the checkpoint's hidden_size, from its config alone: no weight is read for a checkpoint that does not fit."
    from transformers import AutoModel, AutoModelForAudioClassification
    d = _tiny_wav2vec2(tmp_path / 'emo', id2label={0: 'neu', 1: 'hap'}, label2id={'neu': 0, 'hap': 1})
    read = []
    for cls in (AutoModel, AutoModelForAudioClassification):
        real = cls.from_pretrained
        monkeypatch.setattr(cls, 'from_pretrained', lambda *a, _r=real, **k: read.append(a) or _r(*a, **k))
    cfg = get_config('smoke', **{'emotion_encoder.pretrained': d, 'emotion_encoder.pitch': False,   # dim 16, the checkpoint's 32
                                 'emotion_encoder.relative_pitch': False})                # a wav2vec2 hears no pitch rows
    with pytest.raises(ConfigError, match=r'set emotion_encoder\.dim=32'): load_emotion_encoder(cfg)
    assert read == []
    fits = set_fields(cfg, **{'emotion_encoder.dim': 32, 'fusion.adaln_cond_dim': 32})
    assert load_emotion_encoder(fits).backbone.config.hidden_size == 32 and len(read) == 1

def test_the_semantic_encoder_loads_only_a_whisper_checkpoint(tmp_path):
    "A folder of another kind (an emotion encoder's) is named before transformers tries to read it as Whisper."
    from emotion_omni_lite.semantic_encoder import load_pretrained_semantic_encoder
    d = _tiny_wav2vec2(tmp_path / 'w2v', head=False)
    with pytest.raises(ConfigError, match=r"semantic_encoder\.pretrained: .*w2v is a 'wav2vec2' checkpoint, not a Whisper one: "
                                          r"point it at a Whisper checkpoint"):
        load_pretrained_semantic_encoder(d)
    (tmp_path / 'odd').mkdir(); (tmp_path / 'odd' / 'config.json').write_text('{"model_type": "nothing-known"}')
    with pytest.raises(ConfigError, match=r"semantic_encoder\.pretrained: .*odd is not a checkpoint transformers can read"):
        load_pretrained_semantic_encoder(tmp_path / 'odd')


def test_transcribe_refuses_what_the_model_cannot_do():
    "A transcript longer than the decoder's positions, or a CTC weight for a model without a CTC head: refused, not an IndexError or a weight silently dropped."
    from emotion_omni_lite.semantic_encoder import MAX_TRANSCRIPT_CHARS, build_asr_model, transcribe
    torch.manual_seed(0)
    cfg = get_config('smoke')
    mel = [torch.randn(cfg.audio.n_mels, 60)]
    plain = build_asr_model(set_field(cfg, 'stages.asr.ctc_weight', 0.0))
    assert plain.ctc_head is None
    with pytest.raises(ValueError, match=r"ctc_weight=0\.5: this model has no CTC head .*pass ctc_weight=0 or None"):
        transcribe(plain, mel, ctc_weight=0.5, beam=1)
    assert len(transcribe(plain, mel, ctc_weight=0.0, max_chars=3, beam=1)) == 1
    for asr in (plain, build_asr_model(cfg)):
        with pytest.raises(ValueError, match=rf"max_chars={MAX_TRANSCRIPT_CHARS}: .*at most {MAX_TRANSCRIPT_CHARS - 1} characters"):
            transcribe(asr, mel, max_chars=MAX_TRANSCRIPT_CHARS, beam=1)
    assert len(transcribe(plain, mel, max_chars=MAX_TRANSCRIPT_CHARS - 1, beam=1)[0]) <= MAX_TRANSCRIPT_CHARS - 1   # the longest


def test_scores_name_a_voice_without_an_engine_by_the_configs_engine():
    "A voice named without its engine belongs to `data.tts`: a plugged-in default engine is scored as itself (on lite, espeak: nothing changes)."
    from emotion_omni_lite.emotion_encoder import cross_engine_scores, score_predictions
    cfg = get_config('smoke')
    rows = [{'voice': v, 'user_emotion': e, 'split': 'test_voice', 'heldout_voice': True, 'sentence_kind': 'tone'}
            for v in ('amy', 'bob', 'piper:joe+p0') for e in ('happy', 'sad')]
    pred = torch.tensor([EMOTIONS.index(r['user_emotion']) for r in rows])
    mine = score_predictions(rows, pred, 'festival')
    assert mine['acc_heldout_voice_festival'] == mine['acc_heldout_voice_piper'] == 1.0 and 'acc_heldout_voice_espeak' not in mine
    pred[0] = EMOTIONS.index('sad')                                      # one of amy's two wrong: her engine's figure tells where she went
    default = score_predictions(rows, pred)                              # no engine given: espeak's, as lite's and smoke's data.tts
    assert cfg.data.tts == get_config('lite').data.tts == 'espeak'
    assert default['acc_heldout_voice_espeak'] == 0.75 and default['acc_heldout_voice_piper'] == 1.0 and 'acc_heldout_voice_festival' not in default
    enc = build_emotion_encoder(cfg).eval()
    ins = [torch.randn(cfg.audio.n_mels + 2, 50) for _ in rows]
    res = cross_engine_scores(enc, rows, ins, 'festival', tts='festival')
    assert res['n_other_engine'] == 2 and res['other_engines'] == ['piper'] and 'acc_heldout_voice_festival' not in res
    assert cross_engine_scores(enc, rows, ins, 'espeak')['other_engines'] == ['piper']

def test_piper_and_espeak_read_in_every_emotion_with_every_training_voice(smoke_settings, monkeypatch):
    "stages.asr.piper_readings: Piper's training pseudo-speakers read the sentences after espeak's, each voice in all six emotions in turn (with as many voices as emotions, a voice once read one emotion only); none without Piper's voices. espeak's voices too when their count shares a factor with six (4 voices read 3 emotions each, 6 voices one); lite's 13 read as they always did."
    import emotion_omni_lite.semantic_encoder as se
    from emotion_omni_lite.dialogues import reading_sentences
    from emotion_omni_lite.tts import piper_voices, query_voices
    heard = []
    monkeypatch.setattr(se, 'speak', lambda text, voice, emotion, *a, **k: heard.append((text, voice, emotion)) or torch.zeros(1))
    for n_voices in (3, 7, 8):                                           # 2, 6 and 7 training pseudo-speakers
        cfg = get_config('smoke', **{'data.n_piper_voices': n_voices, 'data.n_test_piper_voices': 1})
        train = piper_voices(n_voices, 1)[0]
        heard.clear()
        said = list(se.read_aloud(cfg, smoke_settings, n=0, n_piper=6 * len(train)))
        assert [t for _, t in said] == reading_sentences(6 * len(train), smoke_settings.seed)
        assert {(v, e) for _, v, e in heard} == {(v, e) for v in train for e in EMOTIONS}, n_voices   # every pair, once each
    heard.clear()
    said = list(se.read_aloud(get_config('smoke'), smoke_settings, n=3, n_piper=2))
    assert [v.startswith('piper:') for _, v, _ in heard] == [False] * 3 + [True] * 2   # espeak's first, then Piper's
    assert [t for _, t in said] == reading_sentences(5, smoke_settings.seed)
    no_piper = get_config('smoke', **{'data.n_piper_voices': 0, 'data.n_test_piper_voices': 0})
    with pytest.raises(ConfigError, match='data.n_piper_voices = 0'): list(se.read_aloud(no_piper, smoke_settings, n=0, n_piper=2))
    for n_query, n_train in ((6, 4), (8, 6)):                            # espeak's training voices: 4 and 6
        train = query_voices(n_query, 2)[0]
        assert len(train) == n_train
        heard.clear()
        list(se.read_aloud(get_config('smoke', **{'data.n_query_voices': n_query}), smoke_settings, n=6 * n_train, n_piper=0))
        assert {(v, e) for _, v, e in heard} == {(v, e) for v in train for e in EMOTIONS}, n_query   # every pair, once each
    lite = get_config('lite')
    train = query_voices(lite.data.n_query_voices, lite.data.n_test_voices)[0]
    assert len(train) == 13                                              # coprime with six: every pair already
    heard.clear()
    list(se.read_aloud(lite, smoke_settings, n=30, n_piper=0))
    assert [(v, e) for _, v, e in heard] == [(train[i % 13], EMOTIONS[i % 6]) for i in range(30)]   # lite's readings unchanged


def test_read_aloud_reads_with_the_datas_engine(smoke_settings, monkeypatch):
    "The ASR's reading sentences come from the engine that speaks the data's query voices (`data.tts`), not always espeak: the same `open_engine` the cascade and stage 2's cross-emotion replies speak with."
    import numpy as np
    import emotion_omni_lite.semantic_encoder as se
    from emotion_omni_lite.tts import TTS_ENGINES, EspeakTTS, PiperWorldTTS, TTSEngine, open_engine
    class Beep(TTSEngine):
        name = 'beep'
        def synthesize(self, text, voice, emotion, prosody):
            return (0.2 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.float32), 8000
    monkeypatch.setitem(TTS_ENGINES, 'beep', Beep)
    assert isinstance(open_engine('en-us', 'beep'), Beep) and isinstance(open_engine('piper:joe+p0', 'beep'), PiperWorldTTS)
    with open_engine('en-us') as e: assert isinstance(e, EspeakTTS)
    said = list(se.read_aloud(get_config('smoke', **{'data.tts': 'beep'}), smoke_settings, n=2, n_piper=0))
    assert len(said) == 2 and all(len(w) == 16000 and w.abs().max() > 0.19 for w, _ in said)   # Beep's second, at 16 kHz
    espeak = list(se.read_aloud(get_config('smoke'), smoke_settings, n=2, n_piper=0))
    assert [t for _, t in espeak] == [t for _, t in said] and all(len(w) != 16000 for w, _ in espeak)


def test_stage0_smoke_runs_and_reuse(smoke_settings, smoke_cfg, tmp_path):
    build_dataset(smoke_cfg, smoke_settings)
    for name, job in (('asr', asr_job), ('emotion_encoder', emotion_encoder_job)):
        out = run_stage(name, smoke_cfg, job, smoke_settings)
        assert out == smoke_settings.run_path / name
        for f in ('model.safetensors', 'config.json', 'metrics.json', 'history.json'): assert (out / f).exists(), f
        stamp = (out / 'model.safetensors').stat().st_mtime_ns
        assert run_stage(name, smoke_cfg, job, smoke_settings) == out and (out / 'model.safetensors').stat().st_mtime_ns == stamp
        assert 'hash' in json.loads((out / 'config.json').read_text())
    # a changed training config is a different run: loading refuses the old one, training retrains (not resumes)
    cfg2 = set_field(smoke_cfg, 'stages.emotion.steps', 3)
    with pytest.raises(StageMissing, match='another config'): load_emotion_encoder(cfg2, smoke_settings)
    own = dataclasses.replace(smoke_settings, out_dir=tmp_path / 'runs')    # trained apart: the shared smoke run stays the other tests'
    out = run_stage('emotion_encoder', cfg2, emotion_encoder_job, own)
    assert json.loads((out / 'history.json').read_text())[-1]['step'] == 3
    out = run_stage('emotion_encoder', smoke_cfg, emotion_encoder_job, own)   # the first config again: trained again, not reused
    hist = json.loads((out / 'history.json').read_text())
    assert [h['step'] for h in hist] == list(range(1, smoke_cfg.stages.emotion.steps + 1))   # its own history, step by step (log_every 1)
    assert 'resumed_from' not in json.loads((out / 'metrics.json').read_text())   # from step 0, not the 3-step run's checkpoint


def test_a_stage_stopped_midway_goes_on_from_its_checkpoint(smoke_settings, smoke_cfg, tmp_path):
    "A stage stopped after a checkpoint (a kill, a closed laptop) goes on from it when run again; its metrics say from which step."
    from dataclasses import replace
    build_dataset(smoke_cfg, smoke_settings)
    own = replace(smoke_settings, out_dir=tmp_path / 'runs')            # its runs apart: the shared smoke run stays the other tests'
    cfg = set_field(smoke_cfg, 'stages.emotion.steps', 5)                # a run of its own: checkpoints at steps 2 and 4
    tc = cfg.stages.emotion
    micro, calls = tc.grad_accum * tc.length_groups, []
    def stopping(c, s):                                                  # the job, its loss stopped at step 3's first micro-batch
        job = emotion_encoder_job(c, s)
        def loss(model, batch):
            calls.append(1)
            if len(calls) > 2 * micro: raise KeyboardInterrupt
            return job.loss(model, batch)
        return replace(job, loss=loss)
    with pytest.raises(KeyboardInterrupt): run_stage('emotion_encoder', cfg, stopping, own)
    out = run_stage('emotion_encoder', cfg, emotion_encoder_job, own)
    m, h = (json.loads((out / f).read_text()) for f in ('metrics.json', 'history.json'))
    assert m['resumed_from'] == 2 and m['steps'] == 5 and [x['step'] for x in h] == [1, 2, 3, 4, 5]
    cfg7 = set_field(smoke_cfg, 'stages.emotion.steps', 7)               # a fresh run, trained from its start: nothing said
    assert 'resumed_from' not in json.loads((run_stage('emotion_encoder', cfg7, emotion_encoder_job, own) / 'metrics.json').read_text())


def test_smoke_referenced_encoders_are_a_study(smoke_settings):
    "stages.emotion.cross_engine_reference: the two encoders that hear each voice against its own baseline, stage 1 through the first, and the two that hear it against a calibration of calm clips (and stage 1 through the first), stay out of the main job unless switched on, learn from referenced inputs, load by their own run and reach the report."
    from emotion_omni_lite.cli import ensure_stages, plan_tasks
    from emotion_omni_lite.evaluate import engine_figures, eval_stages
    from emotion_omni_lite.emotion_encoder import CALM_CLIPS, REFERENCE_SPREAD, calm_clips, load_query_emotion_inputs
    from emotion_omni_lite.tts import engine_of
    from emotion_omni_lite.stages import STAGES, stage_config, stage_folder, stage_hash
    cfg, on = get_config('smoke'), get_config('smoke', **{'stages.emotion.cross_engine_reference': True})
    names = ['emotion_encoder_espeak_referenced', 'emotion_encoder_piper_referenced', 'stage1_espeak_referenced',
             'emotion_encoder_espeak_calibrated', 'emotion_encoder_piper_calibrated', 'stage1_espeak_calibrated']
    assert not set(names) & {t.name for t in plan_tasks(cfg, smoke_settings)} and not set(names) & set(eval_stages(cfg))
    assert set(names) <= {t.name for t in plan_tasks(on, smoke_settings)} and set(names) <= set(eval_stages(on))
    assert all(stage_hash(n, on, 0) == stage_hash(n, cfg, 0) for n in STAGES if n not in names)   # the switch retrains nothing
    x = stage_config(names[0], cfg)
    assert (x.emotion_encoder.train_engine, x.emotion_encoder.speaker_reference, x.stages.emotion.train_on_replies,
            x.stages.emotion.aug_pitch) == ('espeak', 'voice', 0.0, 0.0)
    assert stage_hash(names[0], cfg, 0) != stage_hash('emotion_encoder_espeak_only', cfg, 0)
    ensure_stages(names + ['stage1', 'emotion_encoder_espeak_only', 'emotion_encoder_piper_only'], on, smoke_settings)
    rows, ins = load_query_emotion_inputs(x, smoke_settings)           # what it learned from: each voice's voiced pitch
    n = x.audio.n_mels                                                 # centred on its mean, spread rescaled
    for v in {r['voice'] for r in rows}:
        f0 = torch.cat([i[n][i[n + 1] > 0].float() for r, i in zip(rows, ins) if r['voice'] == v])
        assert abs(f0.mean()) < 0.01 and abs(f0.std() - REFERENCE_SPREAD) < 0.01, v
    raw = load_query_emotion_inputs(stage_config('emotion_encoder_espeak_only', cfg), smoke_settings)[1]
    assert not torch.equal(raw[0], ins[0])
    m = json.loads((stage_folder(names[1], smoke_settings) / 'metrics.json').read_text())
    figs = engine_figures(on, smoke_settings)
    assert figs['cross_engine_referenced_piper_to_espeak'] == m['acc_other_engine'] > 0
    assert 'cross_engine_referenced_piper_to_espeak' not in engine_figures(cfg, smoke_settings)
    st1 = json.loads((stage_folder(names[2], smoke_settings) / 'metrics.json').read_text())   # stage 1 heard through it
    assert figs['cross_engine_referenced_stage1_style_tone'] == st1['other_engine_tone_style_match']
    assert st1['other_engine_n_eval'] > 0 and st1['n_train'] > 0
    import emotion_omni_lite.emotion_encoder as ee
    def loads(c, run):                                                 # the encoder `c` loads is read from `run`'s folder
        read, real = [], ee.load_weights
        ee.load_weights = lambda model, path, *a, **k: read.append(Path(path).parent) or real(model, path, *a, **k)
        try: load_emotion_encoder(c, smoke_settings)
        finally: ee.load_weights = real
        return read == [stage_folder(run, smoke_settings)]           # (smoke's one step leaves every run at its init: the
                                                                       # weights alone cannot tell the runs apart)
    assert loads(x, names[0])                                          # its own run, not the as-heard one
    with pytest.raises(ConfigError, match='aug_copies=0'):
        emotion_encoder_job(set_field(x, 'stages.emotion.train_on_replies', 0.5), smoke_settings)
    from emotion_omni_lite.stage1 import stage1_features
    with pytest.raises(ConfigError, match='stages.stage1.aug_copies=0'):       # said before any feature is computed
        stage1_features(set_field(stage_config(names[2], cfg), 'stages.stage1.aug_copies', 1), smoke_settings)
    c = stage_config(names[4], cfg)                                    # a calibration: five calm clips of each voice
    assert c.emotion_encoder.speaker_reference == 'calm' and loads(c, names[4])
    cal_rows, cal_ins = load_query_emotion_inputs(c, smoke_settings)
    clips = calm_clips(cal_rows)
    assert all(0 < len(ix) <= CALM_CLIPS and all(cal_rows[i]['user_emotion'] == 'neutral' for i in ix) for ix in clips.values())
    for v, ix in clips.items():                                        # its calm clips' pitch centred, the spread left as it is
        f0 = lambda xs, k: torch.cat([xs[i][k][xs[i][k + 1] > 0].float() for i in range(len(xs)) if cal_rows[i]['voice'] == v])
        assert abs(torch.cat([cal_ins[i][n][cal_ins[i][n + 1] > 0].float() for i in ix]).mean()) < 0.01, v
        assert abs(f0(cal_ins, n).std() - f0(raw, n).std()) < 0.01, v
    mc = json.loads((stage_folder(names[4], smoke_settings) / 'metrics.json').read_text())
    espeak = [i for i, r in enumerate(cal_rows) if engine_of(r['voice']) == 'espeak']
    assert mc['n_other_engine'] == len(set(espeak) - {i for ix in clips.values() for i in ix})   # calm clips not scored
    assert figs['cross_engine_calibrated_piper_to_espeak'] == mc['acc_other_engine']
    st1c = json.loads((stage_folder(names[5], smoke_settings) / 'metrics.json').read_text())   # stage 1 through the calibrated one
    piper = [r for i, r in enumerate(cal_rows) if engine_of(r['voice']) == 'piper']
    assert st1c['other_engine_n_eval'] == len(piper) - sum(len(ix) for v, ix in clips.items() if engine_of(v) == 'piper') > 0
    assert figs['cross_engine_calibrated_stage1_style_tone'] == st1c['other_engine_tone_style_match']


def test_later_stages_cannot_change_encoders(smoke_settings, smoke_cfg):
    "Loaded encoders are frozen: a later stage that trains through them (autograd on) leaves them as they were."
    import copy
    from emotion_omni_lite.audio import load_audio, pad_mels
    from emotion_omni_lite.dataset import audio_path
    from emotion_omni_lite.emotion_encoder import emotion_inputs
    from emotion_omni_lite.cli import ensure_stages
    ensure_stages(['asr', 'emotion_encoder'], smoke_cfg, smoke_settings)   # alone (-k) too, not only after the stage-0 test
    sem, emo = load_semantic_encoder(smoke_cfg, smoke_settings), load_emotion_encoder(smoke_cfg, smoke_settings)
    assert not any(p.requires_grad for m in (sem, emo) for p in m.parameters())
    d = smoke_cfg.semantic_encoder.d_model + smoke_cfg.emotion_encoder.dim

    class Later(nn.Module):          # a later stage: the encoders inside, called as modules, a trainable head on top
        def __init__(self, sem, emo):
            super().__init__(); self.sem, self.emo, self.head = sem, emo, nn.Linear(d, len(EMOTIONS))
        def forward(self, waves):
            h, _ = self.sem(list(waves))                                   # [B, T50, d_sem]: gradients could reach it
            ms = emotion_inputs(list(waves), self.emo, self.emo.audio_cfg)
            e = self.emo(*pad_mels(ms, max(m.shape[-1] for m in ms))).frames   # [B, T50, d_emo]
            n = min(h.shape[1], e.shape[1])
            return self.head(torch.cat([h[:, :n], e[:, :n]], -1).mean(1))

    rows, _ = load_query_mels(smoke_cfg, smoke_settings)
    data = [(load_audio(audio_path(r, smoke_settings)), k % len(EMOTIONS)) for k, r in enumerate(rows[:16])]
    collate = lambda b: ([m for m, _ in b], torch.tensor([y for _, y in b]))
    loss = lambda model, b: nn.functional.cross_entropy(model(b[0]), b[1])
    state = lambda *ms: {f'{i}.{k}': v.clone() for i, m in enumerate(ms) for k, v in m.state_dict().items()}
    before = state(sem, emo)
    fit(Later(sem, emo), data, collate, loss, TrainConfig(steps=3, batch_size=4, lr=1e-1), progress=False, device='cpu')
    after = state(sem, emo)
    assert all(torch.equal(before[k], after[k]) for k in before)
    thawed = [copy.deepcopy(m).requires_grad_(True) for m in (sem, emo)]   # the same, unfrozen: the check above could fail
    fit(Later(*thawed), data, collate, loss, TrainConfig(steps=3, batch_size=4, lr=1e-1), progress=False, device='cpu')
    moved = state(*thawed)
    assert {k.split('.')[0] for k in before if not torch.equal(before[k], moved[k])} == {'0', '1'}
    with pytest.raises(ValueError, match='no trainable'):
        fit(sem, data, collate, loss, TrainConfig(steps=1), progress=False, device='cpu')


@pytest.mark.slow
def test_lite_emotion_accuracy(lite_settings, lite_cfg):
    "The figures the emotion encoder's evaluation wrote for the current run (the same ones README shows)."
    res = json.loads((require_stage('emotion_encoder', lite_cfg, lite_settings) / 'metrics.json').read_text())
    print({k: v for k, v in res.items() if k.startswith('acc')})
    assert res['n_heldout_voice'] >= 300
    # guards and targets: report.QUALITY; the target holds for espeak's voices, Piper's are reported (README says why)
    assert_guard('emotion encoder, held-out espeak voices', res['acc_heldout_voice_espeak'])     # lite has both engines
    assert_guard('emotion encoder, held-out espeak voices, tone-dependent', res['acc_heldout_voice_espeak_tone'])
    assert res['acc_noise_10db'] > 0.5 and res['acc_room_0.6s'] > 0.5   # heard through a microphone: well above chance (17 %)


@pytest.mark.slow
def test_lite_asr_cer(lite_settings, lite_cfg):
    res = json.loads((require_stage('asr', lite_cfg, lite_settings) / 'metrics.json').read_text())
    out = {'test_voice': res['cer_test_voice'], 'test_sentence': res['cer_test_sentence']}
    print('CER', out, {k: res[k] for k in ('n_test_voice', 'n_test_sentence')})
    assert res['n_test_voice'] >= 150
    assert_guard('ASR CER, held-out voices', out['test_voice'])
    assert out['test_sentence'] < 0.5, out       # reported, not a target: 34–36 % over the seeds, 54 % before it read new
                                                 # sentences; 0.5 fails a stand-in that spells new words no better than that


def test_asr_label_smoothing_reaches_the_decoders_loss_and_only_in_training():
    "stages.asr.label_smoothing spreads the decoder's targets while it trains; 0 (lite) keeps the loss and the run's hash as they were; 1 or more is refused."
    from emotion_omni_lite.semantic_encoder import CharTokenizer, _asr_collate, build_asr_model, whisper_encode
    from emotion_omni_lite.stages import stage_hash
    import torch.nn.functional as F
    cfg = set_field(get_config('smoke'), 'stages.asr.ctc_weight', 0.0)
    torch.manual_seed(0)
    plain = build_asr_model(cfg).train()
    smooth = build_asr_model(set_field(cfg, 'stages.asr.label_smoothing', 0.2)).train()
    smooth.load_state_dict(plain.state_dict())
    tok = CharTokenizer()
    b = _asr_collate([(torch.randn(cfg.audio.n_mels, 60), tok.encode('hello there')), (torch.randn(cfg.audio.n_mels, 40), tok.encode('hi'))],
                     2 * cfg.semantic_encoder.max_source_positions, cfg.semantic_encoder.envelope_ceps, True)
    logits = plain.whisper(encoder_outputs=(whisper_encode(plain.whisper.model.encoder, b['x']),), labels=b['labels']).logits
    want = lambda eps: F.cross_entropy(logits.transpose(1, 2), b['labels'], ignore_index=-100, label_smoothing=eps)
    torch.testing.assert_close(plain(b), want(0.0))                          # the plain loss: the decoder's cross-entropy
    torch.testing.assert_close(smooth(b), want(0.2))                         # smoothed while it trains …
    assert not torch.allclose(smooth(b), plain(b))
    torch.testing.assert_close(smooth.eval()(b), plain.eval()(b))            # … and not when it is scored
    assert stage_hash('asr', set_field(get_config('lite'), 'stages.asr.label_smoothing', 0.0), 0) == stage_hash('asr', get_config('lite'), 0)
    assert stage_hash('asr', set_field(get_config('lite'), 'stages.asr.label_smoothing', 0.1), 0) != stage_hash('asr', get_config('lite'), 0)
    with pytest.raises(ConfigError, match=r"stages\.asr\.label_smoothing.*below 1, got 1\.0"):
        set_field(get_config('lite'), 'stages.asr.label_smoothing', 1.0)


def test_the_pretrained_encoders_never_ask_the_hub_for_a_model(online_but_unreachable):
    "Even with offline mode off, an encoder checkpoint named by a hub name not in the local cache is named as such, without a download being tried."
    from emotion_omni_lite.emotion_encoder import load_pretrained_emotion_encoder
    from emotion_omni_lite.semantic_encoder import load_pretrained_semantic_encoder
    for part, load in (('semantic_encoder', load_pretrained_semantic_encoder), ('emotion_encoder', load_pretrained_emotion_encoder)):
        with pytest.raises(ConfigError, match=part + r"\.pretrained: cannot load 'kit-tests/no-such-model' offline .*hf download"):
            load('kit-tests/no-such-model')
    assert online_but_unreachable == []


def test_asr_ctc_weight_is_a_share_from_0_to_1():
    "Above 1 the decoder's cross-entropy would weigh negative: refused when the config is made, not in transcribe after training."
    with pytest.raises(ConfigError, match=r"stages\.asr\.ctc_weight: is the CTC loss's share .* from 0 .* to 1 .*, got 1\.5"):
        set_field(get_config('lite'), 'stages.asr.ctc_weight', 1.5)
    assert [set_field(get_config('lite'), 'stages.asr.ctc_weight', w).stages.asr.ctc_weight for w in (0.0, 1.0)] == [0.0, 1.0]


def test_transcribe_names_a_bad_argument_or_log_mel():
    import numpy as np
    from emotion_omni_lite.semantic_encoder import MAX_TRANSCRIPT_CHARS, build_asr_model, transcribe
    torch.manual_seed(0)
    cfg = get_config('smoke'); n = cfg.audio.n_mels
    asr, mel = build_asr_model(cfg), [torch.randn(n, 60)]
    for kw, msg in ((dict(beam=2.5), r"beam=2\.5: keep a whole number of candidates"), (dict(beam=0), 'beam=0: '),
                    (dict(batch_size=0), 'batch_size=0: transcribe a whole number of utterances'),
                    (dict(max_chars=0), rf"max_chars=0: pass a whole number of characters from 1 to {MAX_TRANSCRIPT_CHARS - 1}")):
        with pytest.raises(ValueError, match=msg): transcribe(asr, mel, **kw)
    for bad in (torch.randn(n, 0), torch.randn(n + 1, 60), torch.randn(60)):    # no frame, other mel bins, a wave
        with pytest.raises(ValueError, match=rf"mels\[1\] has shape \({', '.join(map(str, bad.shape))},?\): transcribe reads log-mels \[{n}, frames\]"):
            transcribe(asr, mel + [bad], beam=1)
    with pytest.raises(ValueError, match=rf"transcribe got one tensor of shape \({n}, 60\), .*pass a list of log-mels \(\[mel\]\)"):
        transcribe(asr, mel[0], beam=1)                                          # one log-mel, not in a list
    assert len(transcribe(asr, torch.stack(mel * 2), beam=1, max_chars=3)) == 2   # a batch [B, n_mels, frames] reads clip by clip
    assert len(transcribe(asr, mel, beam=np.int64(1), batch_size=1, max_chars=3)[0]) <= 3


def test_asr_job_refuses_a_query_longer_than_the_decoder_writes(monkeypatch):
    "Cut to the decoder's positions it would train without its end and could never be written out: refused before anything is read or trained."
    _asr_job_refuses(monkeypatch, {'split': 'test_voice', 'query_text': 'word ' * 30},
                     r"query q2 is 149 characters long \('word word .*more than the 127 the ASR stand-in can write "
                     r"\(1 such queries\): cut those recordings into shorter ones, or leave them out")


def _asr_job_refuses(monkeypatch, second: dict, match: str):
    "asr_job over two queries, the second `second`: refused with `match` before any mel, copy or reading is made."
    import emotion_omni_lite.semantic_encoder as se
    cfg = get_config('smoke')
    rows = [{'id': 'q1', 'split': 'train', 'query_text': 'fine'}, {'id': 'q2', **second}]
    monkeypatch.setattr(se, 'load_query_mels', lambda c, s: (rows, [torch.zeros(cfg.audio.n_mels, 10)] * 2))
    def too_far(*a, **k): raise AssertionError('went on past a query it cannot learn')
    monkeypatch.setattr(se, 'augmented_queries', too_far); monkeypatch.setattr(se, 'reading_examples', too_far)
    with pytest.raises(ConfigError, match=match): asr_job(cfg, None)


def test_asr_scores_cap_the_transcript_and_name_how_many_they_scored(monkeypatch):
    "A long held-out query: its transcript capped at the decoder's 127 characters (not refused after training); the training check's count is its own, beside run_stage's n_train."
    import types
    import emotion_omni_lite.semantic_encoder as se
    asked = []
    monkeypatch.setattr(se, 'transcribe', lambda model, mels, max_chars, beam: asked.append(max_chars) or [''] * len(mels))
    monkeypatch.setattr(se, 'load_audio', lambda p: torch.zeros(1600)); monkeypatch.setattr(se, 'audio_path', lambda r, s: None)
    rows = [{'id': f'q{i}', 'split': sp, 'query_text': 'a long query ' * 10} for i, sp in enumerate(('train', 'train', 'test_voice'))]
    model = types.SimpleNamespace(ctc_head=None, ctc_weight=0.0)
    res = se.evaluate_asr(model, rows, [None] * 3)
    assert res['n_scored_train'] == 2 and 'n_train' not in res and res['n_test_voice'] == 1
    assert se.asr_robustness(model, get_config('smoke'), rows, None, conditions=())['cer_clean'] == 1.0
    assert asked == [se.MAX_TRANSCRIPT_CHARS - 1] * 3


def test_asr_robustness_caps_the_transcript_by_the_queries_it_scores(monkeypatch):
    "evaluate_asr cuts a transcript at `transcript_cap` of all the rows; the robustness figures at that of the few queries they score (10 past their longest, as every figure of them was measured)."
    import types
    import emotion_omni_lite.semantic_encoder as se
    asked = []
    monkeypatch.setattr(se, 'transcribe', lambda model, mels, max_chars, beam: asked.append(max_chars) or [''] * len(mels))
    monkeypatch.setattr(se, 'load_audio', lambda p: torch.zeros(1600)); monkeypatch.setattr(se, 'audio_path', lambda r, s: None)
    rows = [{'id': 'q0', 'split': 'train', 'query_text': 'a rather long training query'}, {'id': 'q1', 'split': 'test_voice', 'query_text': 'hi'}]
    model = types.SimpleNamespace(ctc_head=None, ctc_weight=0.0)
    se.evaluate_asr(model, rows, [None] * 2, splits=('test_voice',)); se.asr_robustness(model, get_config('smoke'), rows, None, conditions=())
    assert asked == [se.transcript_cap(rows), se.transcript_cap(rows[1:])] == [10 + len('a rather long training query'), 10 + len('hi')]


def test_the_asr_reads_a_typographic_apostrophe_and_an_accent_as_the_cer_does():
    "What the stand-in learns to write is what the CER scores: 'Café' is 'cafe' to both (folded, not cut to 'caf')."
    from emotion_omni_lite.metrics import normalize_text
    from emotion_omni_lite.semantic_encoder import CharTokenizer
    assert CharTokenizer.normalize("It’s Anna’s") == normalize_text("It’s Anna’s") == "it's anna's"
    for text, want in (("Café, naïve Zoë’s", "cafe naive zoe's"), ("ÉCOLE Señor", 'ecole senor'), ("Crème brûlée!", 'creme brulee')):
        assert CharTokenizer.normalize(text) == normalize_text(text) == want
    tok = CharTokenizer()
    assert tok.unk_id not in tok.encode('Café') and tok.decode(tok.encode('Café')) == 'cafe'   # no <unk>, no letter lost


def test_asr_job_refuses_a_training_transcript_with_nothing_to_write(monkeypatch):
    "A training query whose transcript normalises to nothing would teach the stand-in to hear nothing: refused, by its id, before anything is read."
    _asr_job_refuses(monkeypatch, {'split': 'train', 'query_text': '… ?!'},
                     r"query q2's transcript '… \?!' normalises to nothing the stand-in writes .*\(1 such "
                     r"training queries\): write out what is said in it, or leave it out of the data")


def test_asr_job_leaves_out_a_microphone_copy_slowed_past_the_window(monkeypatch):
    "augment's tempo can slow a copy past the encoder's window, where it would be heard cut with all its words to write: left out, said; the query as recorded stays."
    import emotion_omni_lite.semantic_encoder as se
    cfg = get_config('smoke'); n, window = cfg.audio.n_mels, 2 * cfg.semantic_encoder.max_source_positions
    assert cfg.stages.asr.aug_copies == 1
    rows = [{'id': f'q{i}', 'split': sp, 'query_text': 'fine'} for i, sp in enumerate(('train', 'train', 'test_voice'))]
    monkeypatch.setattr(se, 'load_query_mels', lambda c, s: (rows, [torch.zeros(n, 10)] * 3))
    monkeypatch.setattr(se, 'augmented_queries', lambda rows, read, copies, s: [torch.zeros(n, window), torch.zeros(n, window + 1)])
    monkeypatch.setattr(se, 'reading_examples', lambda c, s: [])
    with pytest.warns(UserWarning, match=rf"1 microphone copies \(of q1\) were slowed past the semantic encoder's {window} mel frames "
                                         r"and are left out \(their queries as recorded stay in\): .*semantic_encoder\.max_source_positions"):
        job = asr_job(cfg, None)
    assert [m.shape[-1] for m, _ in job.data] == [10, 10, window] and job.lengths == [10, 10, window]


def test_a_fitted_window_runs_on_transformers_4s_encoder_layers():
    "transformers 4.x's encoder layer also wants layer_head_mask and returns a tuple (5.x's neither): a fitted window hears the same through either."
    from emotion_omni_lite.semantic_encoder import whisper_encode
    class Layer4(nn.Module):                                  # 4.x's signature and return, around the installed layer
        def __init__(self, layer): super().__init__(); self.layer = layer
        def forward(self, hidden_states, attention_mask, layer_head_mask, output_attentions=False):
            return (self.layer(hidden_states, attention_mask),)
    torch.manual_seed(0)
    w = build_semantic_encoder(get_config('smoke')).whisper.eval()
    x = torch.randn(2, w.config.num_mel_bins, 40)
    with torch.no_grad():
        want = whisper_encode(w, x)
        w.layers = nn.ModuleList(Layer4(layer) for layer in w.layers)
        assert torch.equal(whisper_encode(w, x), want)


def test_transcribe_runs_on_the_models_device():
    "A model on the (pretend) GPU: the log-mels and every tensor the search makes go to its device, and it writes what it writes on the CPU."
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from fake_accelerator import FakeAccelerator
    from emotion_omni_lite.semantic_encoder import build_asr_model, transcribe
    torch.manual_seed(0)
    cfg = get_config('smoke')
    asr, ms = build_asr_model(cfg).eval(), [torch.randn(cfg.audio.n_mels, k) for k in (60, 90, 40)]
    assert asr.ctc_head is not None                           # the joint search: the CTC prefix scores run there too
    want = [transcribe(asr, ms, max_chars=8, batch_size=2), transcribe(asr, ms, max_chars=8, beam=1, ctc_weight=0.0)]
    with FakeAccelerator() as fa:
        asr.to('cuda')
        assert all(fa.is_on(p) for p in asr.parameters())
        assert [transcribe(asr, ms, max_chars=8, batch_size=2), transcribe(asr, ms, max_chars=8, beam=1, ctc_weight=0.0)] == want


def test_the_encoders_name_an_empty_checkpoint_setting():
    "'', blanks or 'None' as a checkpoint: refused by the config and by both loaders, naming None (unset) as the way to the kit's own encoder (the emotion loader once said `hf download  `)."
    import re
    from emotion_omni_lite.emotion_encoder import load_pretrained_emotion_encoder
    from emotion_omni_lite.semantic_encoder import load_pretrained_semantic_encoder
    for empty in ('', ' ', None, 'None'):
        with pytest.raises(ConfigError, match=r"semantic_encoder\.pretrained is .*: set semantic_encoder\.pretrained to a Whisper folder or leave it unset"):
            load_pretrained_semantic_encoder(empty)
        with pytest.raises(ConfigError, match=r"emotion_encoder\.pretrained is .*: set emotion_encoder\.pretrained to a wav2vec2-like "
                                              r"checkpoint folder .*or leave it unset \(the kit's own encoder"):
            load_pretrained_emotion_encoder(empty)
    for part, stage in (('semantic_encoder', 'asr'), ('emotion_encoder', 'emotion_encoder')):
        for blank in ('', ' ', 'None', ' none '):
            with pytest.raises(ConfigError, match=rf"{part}\.pretrained: {re.escape(repr(blank))} names no checkpoint: set it to a "
                                                  rf"checkpoint folder or hub name, or to None \(unset\) for the kit's own encoder, "
                                                  rf"trained in stage {stage}"):
                get_config('lite', **{f'{part}.pretrained': blank})
        assert getattr(get_config('lite', **{f'{part}.pretrained': None}), part).pretrained is None


def test_the_emotion_stage_learns_from_the_share_of_replies_it_is_given(monkeypatch):
    "stages.emotion.train_on_replies is the share of the training replies learned from (0.4 once took a half, 0.75 all of them); lite's 0.25 still takes every fourth; outside 0 to 1 refused."
    import emotion_omni_lite.emotion_encoder as ee
    cfg = get_config('smoke')
    rows = [{'split': 'train' if i < 20 else 'test_voice', 'user_emotion': 'happy', 'reply_emotion': 'sad', 'voice': 'en-us'}
            for i in range(24)]
    for i, r in enumerate(rows): r['i'] = i
    monkeypatch.setattr(ee, 'load_query_emotion_inputs', lambda c, s: (rows, [torch.zeros(cfg.audio.n_mels + 2, 10)] * len(rows)))
    read = []
    monkeypatch.setattr(ee, 'reply_emotion_inputs', lambda c, rs, s: read.append([r['i'] for r in rs]) or [torch.zeros(1, 10)] * len(rs))
    for f, want in ((0.25, [0, 4, 8, 12, 16]), (0.4, [0, 3, 5, 8, 11, 14, 16, 19]), (0.75, None), (1.0, list(range(20)))):
        read.clear()
        job = emotion_encoder_job(set_fields(cfg, **{'stages.emotion.train_on_replies': f, 'stages.emotion.aug_copies': 0}), None)
        assert len(read[0]) == round(f * 20) and len(set(read[0])) == len(read[0]) and len(job.data) == 20 + len(read[0]), f
        assert read[0] == want if want else (read[0][0], read[0][-1]) == (0, 19), f   # 0.75: spread over the whole split
    for f in (-0.1, 1.5):
        with pytest.raises(ConfigError, match=r"stages\.emotion\.train_on_replies: (is a fraction|must be 0 or more)"):
            set_field(cfg, 'stages.emotion.train_on_replies', f)


def test_the_encoders_name_an_input_of_the_wrong_shape():
    "A 128-bin log-mel, a [1, 1, 16000] wave tensor, an empty list, a log-mel with no frame; a mel with pitch rows for a pitch-less emotion encoder: refused naming the shape each encoder reads and how to make it, not a raw convolution error."
    from emotion_omni_lite.emotion_encoder import mel_and_pitch
    cfg = get_config('smoke'); n, wave = cfg.audio.n_mels, torch.randn(16000) * 0.1
    sem = build_semantic_encoder(cfg).eval()
    for bad, said in (([torch.randn(128, 300)], rf"clip 0 reads as a log-mel of shape \(128, 300\), but the semantic encoder reads "
                                                rf"log-mels \[{n}, frames\] of at least one frame: pass 16 kHz waves"),
                      ([wave, torch.randn(n, 0)], rf"clip 1 reads as a log-mel of shape \({n}, 0\)"),
                      (wave[None, None], rf"a tensor of shape \[1, 1, 16000\] is neither waves \[B, samples\] nor log-mels "
                                         rf"\[B, {n}, frames\]: pass waves of one channel \(\[B, samples\], e\.g\. audio\[:, 0\]\)"),
                      ([], r'the semantic encoder got no audio \(an empty list\)'), (torch.zeros(0, 16000), 'got no audio')):
        with pytest.raises(ValueError, match=said): semantic_features(sem, bad)
    assert semantic_features(sem, wave[None]).shape == semantic_features(sem, torch.randn(1, n, 100)).shape == (1, 50, cfg.semantic_encoder.d_model)
    pitched = build_emotion_encoder(cfg).eval()                          # smoke's, as lite's, tracks pitch
    plain = build_emotion_encoder(set_fields(cfg, **{'emotion_encoder.pitch': False, 'emotion_encoder.relative_pitch': False})).eval()
    mp = mel_and_pitch(wave, cfg.audio); T = mp.shape[1]
    for enc, bad, said in ((plain, [mp], rf"emotion input 0 has shape \({n + 2}, {T}\), but this encoder reads log-mels \[{n}, frames\] "
                                         rf"of at least one frame, without pitch rows .*pass 16 kHz waves .*or drop the pitch rows \(x\[:{n}\]\)"),
                           (plain, [torch.randn(128, T)], rf"emotion input 0 has shape \(128, {T}\), but this encoder reads log-mels \[{n}, frames\]"),
                           (plain, wave[None, None], rf"a \[1, 16000\] item is one wave with a channel axis, not a log-mel of {n} "
                                                     r"mels .*pass the waves as \[B, samples\]"),   # as_mels checks a batch's items
                           (pitched, [wave, torch.randn(128, T)], rf"emotion input 1 has shape \(128, {T}\), but this encoder reads log-mels "
                                                                  rf"with their two pitch rows, \[{n} \+ 2 = {n + 2}, frames\]"),
                           (pitched, wave[None, None], r"emotion input 0 has shape \(1, 16000\)"),
                           (pitched, [mp[:, :0]], rf"emotion input 0 has shape \({n + 2}, 0\)")):
        with pytest.raises(ValueError, match=said): emotion_features(enc, bad)
    assert emotion_features(plain, [wave, mp[:n]]).lengths.tolist() == emotion_features(pitched, [wave, mp]).lengths.tolist() == [50, 50]


def test_a_checkpoint_that_normalises_its_input_hears_each_clip_normalised(tmp_path):
    "do_normalize in preprocessor_config.json: each clip at zero mean and unit variance over its own samples, as transformers' feature extractor makes it, in a batch of one length or of several; no such file, or do_normalize false: the waves as they are; a damaged file: named."
    from transformers import Wav2Vec2FeatureExtractor
    from emotion_omni_lite.emotion_encoder import load_pretrained_emotion_encoder
    g = torch.Generator().manual_seed(2)
    clips = [torch.randn(k, generator=g) * 0.3 + 0.05 for k in (8000, 12000)]
    fx = Wav2Vec2FeatureExtractor(do_normalize=True)
    folders = {'none': None, 'off': False, 'on': True}
    for name, norm in folders.items():
        folders[name] = _tiny_wav2vec2(tmp_path / name, head=False, feat_extract_norm='layer', conv_bias=True)   # as wav2vec2-large-lv60's;
                                                                                # the same seed: the same weights
        if norm is not None: Wav2Vec2FeatureExtractor(do_normalize=norm).save_pretrained(folders[name])
    got = {}
    for name, folder in folders.items():
        enc = load_pretrained_emotion_encoder(folder)
        assert enc.do_normalize is (name == 'on'), name
        f = emotion_features(enc, clips)                                 # two lengths: one padded batch
        for i, c in enumerate(clips):
            x = torch.tensor(fx(c.numpy(), sampling_rate=16000).input_values[0]) if name == 'on' else c
            with torch.no_grad(): want = enc.backbone(x[None]).last_hidden_state[0]
            assert torch.allclose(f.frames[i, :int(f.lengths[i])], want, atol=1e-4), (name, i)
        same = emotion_features(enc, [clips[0], 3 * clips[0] + 0.2])     # louder and offset: the same clip once normalised
        got[name] = same.frames[0]
        assert torch.allclose(same.frames[0], same.frames[1], atol=1e-4) is (name == 'on'), name
    assert torch.allclose(got['none'], got['off']) and not torch.allclose(got['on'], got['off'], atol=1e-3)
    (Path(folders['on']) / 'preprocessor_config.json').write_text('{"do_normalize": tr')
    with pytest.raises(ConfigError, match=r"emotion_encoder\.pretrained: the checkpoint in .*on does not load \(JSONDecodeError.*damaged or incomplete"):
        load_pretrained_emotion_encoder(folders['on'])


def test_a_whisper_checkpoint_of_other_sizes_is_refused_before_its_weights_load(tmp_path, monkeypatch):
    "d_model, n_mels and max_source_positions against the checkpoint's config.json alone: no weight is read for a checkpoint that does not fit."
    import emotion_omni_lite.semantic_encoder as se
    cfg = get_config('smoke', **{'semantic_encoder.fit_window': False, 'semantic_encoder.envelope_ceps': 0})
    whisper_config(cfg).save_pretrained(tmp_path / 'w')                # its config alone: weights would be read only after it
    def never(*a, **k): raise AssertionError('weights read')
    monkeypatch.setattr(se.WhisperModel, 'from_pretrained', never)
    full = set_field(cfg, 'semantic_encoder.pretrained', str(tmp_path / 'w'))
    sc = cfg.semantic_encoder
    for field, v, more in (('d_model', 2 * sc.d_model, {}), ('max_source_positions', sc.max_source_positions + 50, {}),
                           ('n_mels', sc.n_mels + 8, {'audio.n_mels': sc.n_mels + 8})):   # the mels the audio makes move with it
        with pytest.raises(ConfigError, match=rf"semantic_encoder\.pretrained: the checkpoint .* does not fit the config .*set "
                                              rf"semantic_encoder\.{field}={getattr(sc, field)}"):
            load_semantic_encoder(set_fields(full, **{f'semantic_encoder.{field}': v, **more}))
    with pytest.raises(AssertionError, match='weights read'): load_semantic_encoder(full)   # one that fits: on to its weights


def test_emotion_features_read_an_array_as_the_tensor_it_holds(tmp_path):
    "NumPy audio is checked and read as the tensor it holds: an [82, 2000] array was one log-mel of 20 s, silently; a [B, S] array one clip of shape [B, S], refused by a pretrained encoder; arrays in predict_emotions, voice_baselines and against_baseline a raw error."
    import numpy as np
    from emotion_omni_lite.audio import AudioError
    from emotion_omni_lite.emotion_encoder import (against_baseline, load_pretrained_emotion_encoder, mel_and_pitch,
                                                   predict_emotions, voice_baselines)
    cfg = get_config('smoke'); n = cfg.audio.n_mels
    pitched = build_emotion_encoder(cfg).eval()                         # smoke's, as lite's, tracks pitch
    with pytest.raises(AudioError, match=rf"a \[{n + 2}, 2000\] tensor is one log-mel with its pitch rows of 20\.0 s or {n + 2} waves"):
        emotion_features(pitched, np.random.randn(n + 2, 2000))
    waves = torch.randn(2, 16000, generator=torch.Generator().manual_seed(3)) * 0.1
    want = emotion_features(pitched, waves)
    for arr in (waves.numpy(), waves.double().numpy(), list(waves.numpy())):
        got = emotion_features(pitched, arr)
        assert got.lengths.tolist() == [50, 50] and torch.allclose(got.emotion_vec, want.emotion_vec, atol=1e-5)
    assert torch.equal(predict_emotions(pitched, list(waves.numpy()))[0], want.logits.argmax(-1))
    pe = load_pretrained_emotion_encoder(_tiny_wav2vec2(tmp_path / 'emo', head=False))
    want, got = emotion_features(pe, waves), emotion_features(pe, waves.numpy())   # [B, S]: a batch, as the tensor
    assert got.lengths.tolist() == want.lengths.tolist() and torch.allclose(got.emotion_vec, want.emotion_vec, atol=1e-5)
    x = mel_and_pitch(torch.sin(2 * torch.pi * 200 * torch.arange(16000) / 16000) * 0.3, cfg.audio)   # a hum: voiced
    base = voice_baselines([{'voice': 'a', 'user_emotion': 'neutral'}], [x.numpy()], n)['a']
    assert torch.allclose(base, voice_baselines([{'voice': 'a', 'user_emotion': 'neutral'}], [x], n)['a'])
    assert torch.equal(against_baseline(x.numpy(), base, n), against_baseline(x, base, n))


def test_pitch_rows_run_at_the_mels_hop():
    "The pitch rows take one column per log-mel frame of audio.hop_length: at 320 samples a 2-s clip voiced for its first second was voiced in every frame (the 10-ms contour cut to the frame count); at lite's and smoke's 160, the 10-ms contour as before."
    from emotion_omni_lite.audio import pitch_contour
    from emotion_omni_lite.emotion_encoder import mel_and_pitch, pitch_rows
    a = get_config('lite').audio
    assert (a.hop_length, a.sample_rate, get_config('smoke').audio.hop_length) == (160, 16000, 160)
    hum = torch.sin(2 * torch.pi * 200 * torch.arange(16000) / 16000) * 0.3
    clip = torch.cat([hum, torch.zeros(16000)])                          # voiced for 1 s, then 1 s of silence
    voiced = mel_and_pitch(clip, dataclasses.replace(a, hop_length=320))[-1]   # [100]: 20 ms a column
    assert len(voiced) == 100 and voiced[:45].all() and not voiced[55:].any()
    f0 = pitch_contour(clip)                                             # 10 ms a column
    assert torch.equal(pitch_rows(clip, 150, a), pitch_rows(clip, 150)) and torch.equal(pitch_rows(clip, 150, a)[1], (f0[:150] > 0).float())


def test_an_emotion_encoder_of_your_own_reads_waves():
    "A module of your own whose forward(waves, lengths) returns EmotionFeatures (the lesson's way to use emotion2vec) has no input_kind: emotion_features, classify_emotion and predict_emotions give it padded waves [B, S] and their lengths."
    from emotion_omni_lite.emotion_encoder import EmotionFeatures, classify_emotion, predict_emotions
    class Own(nn.Module):
        def __init__(self): super().__init__(); self.head = nn.Linear(1, len(EMOTIONS))
        def forward(self, waves, lengths):
            self.got = (tuple(waves.shape), lengths.tolist())
            vec = torch.stack([w[:l].abs().mean() for w, l in zip(waves, lengths)])[:, None]   # [B, 1]
            n50 = lengths // 320
            return EmotionFeatures(frames=vec[:, None].expand(-1, int(n50.max()), -1), emotion_vec=vec, logits=self.head(vec), lengths=n50)
    own, clips = Own(), [torch.full((16000,), 0.5), torch.full((8000,), -0.25)]
    f = emotion_features(own, clips)
    assert own.got == ((2, 16000), [16000, 8000]) and f.lengths.tolist() == [50, 25]
    assert torch.allclose(f.emotion_vec[:, 0], torch.tensor([0.5, 0.25]))
    assert torch.allclose(classify_emotion(own, clips), f.logits.softmax(-1))
    assert torch.equal(predict_emotions(own, clips)[0], f.logits.argmax(-1))


def test_a_referenced_emotion_encoder_asks_for_each_clips_baseline(smoke_settings, tmp_path, monkeypatch):
    "An encoder trained with emotion_encoder.speaker_reference keeps it when it loads: a wave without its voice's baseline is refused, naming where baselines come from; with them, or given inputs already heard against their voice, it reads as in training."
    import emotion_omni_lite.emotion_encoder as ee
    from emotion_omni_lite.emotion_encoder import against_baseline, classify_emotion, mel_and_pitch, predict_emotions
    from emotion_omni_lite.stages import stage_config
    monkeypatch.setattr(ee, 'require_stage', lambda name, c, s: tmp_path)      # a run's folder, not trained here
    monkeypatch.setattr(ee, 'load_weights', lambda model, path, *a, **k: model)
    cfg, wave, base = get_config('smoke'), torch.randn(16000) * 0.1, torch.tensor([0.5, 0.3, -1.0])
    plain = load_emotion_encoder(stage_config('emotion_encoder_espeak_only', cfg), smoke_settings)
    assert plain.speaker_reference == '' and emotion_features(plain, [wave]).lengths.tolist() == [50]   # as heard: as before
    for name, ref in (('emotion_encoder_espeak_referenced', 'voice'), ('emotion_encoder_espeak_calibrated', 'calm')):
        enc = load_emotion_encoder(stage_config(name, cfg), smoke_settings)
        assert enc.speaker_reference == ref
        for ask in (lambda: emotion_features(enc, [wave]), lambda: emotion_features(enc, wave[None].numpy()),
                    lambda: classify_emotion(enc, wave), lambda: predict_emotions(enc, [wave])):
            with pytest.raises(ValueError, match=rf"trained with emotion_encoder\.speaker_reference='{ref}'.*pass baselines, one \[3\] "
                                                 r"per clip, from voice_baselines.*query_voice_baselines\(cfg\)"):
                ask()
        heard = emotion_features(enc, [wave], baselines=[base])
        x = against_baseline(mel_and_pitch(wave, cfg.audio), base, cfg.audio.n_mels)
        assert torch.allclose(emotion_features(enc, [x]).emotion_vec, heard.emotion_vec, atol=1e-5)   # already heard against its voice
        assert torch.allclose(classify_emotion(enc, [wave], baselines=[base]), heard.probs, atol=1e-5)
        pred, vec = predict_emotions(enc, [wave, wave[:8000]], baselines=[base, base])
        assert pred[0] == heard.logits.argmax() and torch.allclose(vec[0], heard.emotion_vec[0], atol=1e-5)


def test_a_voice_without_a_baseline_names_the_setting(monkeypatch):
    "A dataset voice with no neutral query under speaker_reference='calm', or too few voiced frames: a ConfigError naming emotion_encoder.speaker_reference and its fix, not voice_baselines' reference='voice' argument."
    import emotion_omni_lite.emotion_encoder as ee
    from emotion_omni_lite.emotion_encoder import query_voice_baselines
    from emotion_omni_lite.stages import stage_config
    cfg = get_config('smoke'); n = cfg.audio.n_mels
    voiced = torch.cat([torch.randn(n, 40), torch.rand(1, 40), torch.ones(1, 40)])
    silent = torch.cat([torch.randn(n, 40), torch.zeros(2, 40)])
    rows = [{'voice': 'a', 'user_emotion': 'neutral'}, {'voice': 'b', 'user_emotion': 'sad'}]
    for stage, ins, said in (('emotion_encoder_espeak_calibrated', [voiced, voiced],
                              r"speaker_reference='calm': voice 'b' of this dataset has no neutral query to take as its calm clips: "
                              r"set emotion_encoder\.speaker_reference='voice'"),
                             ('emotion_encoder_espeak_referenced', [voiced, silent],
                              r"speaker_reference='voice': voice 'b' of this dataset has too few voiced frames for a pitch baseline: "
                              r"set emotion_encoder\.speaker_reference=''")):
        monkeypatch.setattr(ee, '_query_inputs', lambda c, s=None, ins=ins: (rows, ins))
        with pytest.raises(ConfigError, match=said): query_voice_baselines(stage_config(stage, cfg))


def test_a_pretrained_encoder_refuses_lengths_outside_its_waves(tmp_path):
    "lengths above the batch's samples (a RecursionError: the group-norm path cut nothing and called itself again) or below 1 (a raw convolution error): refused up front, naming the range."
    from emotion_omni_lite.emotion_encoder import load_pretrained_emotion_encoder
    enc = load_pretrained_emotion_encoder(_tiny_wav2vec2(tmp_path / 'emo', head=False))
    waves = torch.randn(2, 1000) * 0.1
    for bad in ([1000, 2000], [1000, 0], [-1, 1000]):
        with pytest.raises(ValueError, match=rf"PretrainedEmotionEncoder: lengths \[{bad[0]}, {bad[1]}\] must each be from 1 to the "
                                             r"1000 samples of waves \[B, S\]"), torch.no_grad():
            enc(waves, torch.tensor(bad))
    with torch.no_grad(): assert enc(waves, torch.tensor([1000, 600])).lengths.tolist() == [2, 1]


def test_a_notebook_cell_that_makes_the_query_mels_reads_them():
    "load_query_mels makes every query's log-mel (seconds on lite, the first time in a process): a lesson cell that takes rows and mels from it reads the mels later in its notebook; one that wants the rows alone takes them from load_dialogues."
    import ast
    root, seen = Path(__file__).resolve().parents[1], 0
    for nb in sorted((root / 'nbs').glob('*.ipynb')):
        cells = [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
        trees = [ast.parse('\n'.join('' if l.lstrip().startswith(('%', '!')) else l for l in c.split('\n'))) for c in cells]
        loads = lambda t, after=0: {n.id for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                                    and n.lineno > after}
        for i, tree in enumerate(trees):
            for node in ast.walk(tree):
                call = node.value if isinstance(node, ast.Assign) else None
                if not (isinstance(call, ast.Call) and getattr(call.func, 'id', getattr(call.func, 'attr', '')) == 'load_query_mels'):
                    continue
                for t in node.targets:
                    for name in [e.id for e in (t.elts if isinstance(t, ast.Tuple) else [t]) if isinstance(e, ast.Name) and e.id != '_']:
                        seen += 1
                        later = loads(tree, node.lineno).union(*(loads(u) for u in trees[i + 1:]))
                        assert name in later, (f"{nb.name}, code cell {i}: {ast.unparse(node)} binds {name!r} and nothing reads it: "
                                               "take the rows alone from load_dialogues(cfg, s)")
    assert seen                                                                # the scan reached such cells
