"The assembled model's own checks: what `encode`, `respond`, `speak_states`, `load_omni` and the speech figures refuse, empty replies at another vocoder rate, and the rows the new-text figures score."
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from emotion_omni_lite import audio as audio_mod, omni as omni_mod
from emotion_omni_lite.audio import AudioError, save_wav
from emotion_omni_lite.config import ConfigError, get_config, get_settings
from emotion_omni_lite.omni import hearing_seconds, load_omni

from conftest import untrained_omni                                # the assembled model of untrained parts


def speech(seconds, sr=16000):
    return 0.1 * torch.sin(2 * torch.pi * 150 * torch.arange(int(seconds * sr)) / sr)


def test_encode_checks_the_query_as_respond_does(smoke_cfg, monkeypatch):
    "`encode` is public: a query too long, not numbers, integer PCM, stereo or another rate is read as `respond` reads it, not cut or taken raw."
    m, limit = untrained_omni(smoke_cfg), hearing_seconds(smoke_cfg)
    f = m.encode(speech(2))
    assert f['n50'] > 0 and f['sem'].shape[0] == f['n50'] and f['user_emotion_probs'].shape == (6,)
    with pytest.raises(AudioError, match=f'at most {limit:g} s'): m.encode(speech(limit + 5))   # was cut to its first seconds
    with pytest.raises(AudioError, match='NaN or Inf'): m.encode(torch.full((32000,), float('nan')))
    with pytest.raises(AudioError, match='speech needs at least'): m.encode(speech(0.05))
    got = []
    monkeypatch.setattr(m, '_encode', lambda w: got.append(w) or {})
    m.encode((speech(1) * 32767).to(torch.int16))                           # integer PCM: scaled, not 3000 times too loud
    m.encode(torch.stack([speech(1), speech(1)]))                           # [2, T]: one channel of T samples
    m.encode(speech(1, 44100), sr=44100)                                    # resampled to 16 kHz
    assert [w.shape for w in got] == [(16000,)] * 3 and all(0.09 < w.abs().max() < 0.11 for w in got)


def test_respond_takes_the_arrays_rate_and_refuses_a_long_file_unread(smoke_cfg, tmp_path, monkeypatch):
    "`respond(array, sr=…)` resamples what is not 16 kHz; a file longer than the model hears is refused from its header, as `eol chat` does, before it is decoded."
    m, got = untrained_omni(smoke_cfg), []
    real = m._encode
    monkeypatch.setattr(m, '_encode', lambda w: (got.append(len(w)), real(w))[1])
    r = m.respond(speech(1, 44100), sr=44100)
    assert got == [16000] and r['text'] == '' and r['audio_seconds'] == 0
    long = save_wav(tmp_path / 'long.wav', speech(hearing_seconds(smoke_cfg) + 5))
    def never(*a, **k): raise AssertionError('the whole file was decoded')
    monkeypatch.setattr(audio_mod, '_read_whole', never)
    for f in (m.respond, m.encode):
        with pytest.raises(AudioError, match=r'long\.wav: is too long \(.*at most 4\.5 s is heard'): f(long)
    assert got == [16000]


def test_speak_states_names_the_shapes_it_takes(smoke_cfg):
    "Reply states of another shape, width or length, or an AdaLN vector of another size, are refused before anything is decoded, naming the shapes taken."
    m = untrained_omni(smoke_cfg)
    d, de, most = smoke_cfg.decoder.d_model, smoke_cfg.fusion.adaln_cond_dim, smoke_cfg.decoder.max_reply_tokens
    h, e, v = torch.randn(12, d), torch.randn(12, d), torch.randn(de)
    units, wave = m.speak_states(h, e, v)
    assert len(wave) == len(units) * 4 * smoke_cfg.audio.hop_length
    assert m.speak_states(h[:0], e[:0], v)[0] == []                           # an empty reply says nothing
    for args, said in (((h[None], e[None], v), r'h \[1, 12, 32\], e \[1, 12, 32\]: .*both \[N, d\].*a batch of one: h\[0\], e\[0\]'),
                       ((torch.randn(12, d + 1), torch.randn(12, d + 1), v), f'h \\[12, 33\\], e \\[12, 33\\]: .*d = decoder.d_model = {d}'),
                       ((h, e[:5], v), r'h \[12, 32\], e \[5, 32\]'),
                       ((h, e, torch.randn(de + 3)), f'an emotion vector of shape \\[{de + 3}\\]: AdaLN takes one vector \\[fusion.adaln_cond_dim = {de}\\]'),
                       ((h, e, v[None]), r'an emotion vector of shape \[1, 16\]: .*a batch of one: vec\[0\]'),
                       ((torch.randn(most + 1, d), torch.randn(most + 1, d), v), f'a reply of {most + 1} states; .*decoder.max_reply_tokens={most}'),
                       ((h, e, v.numpy()), r'h, e and the emotion vector are torch tensors, not Tensor, Tensor, ndarray')):
        with pytest.raises(ValueError, match='speak_states: ' + said): m.speak_states(*args)
    m.fusion.register_forward_pre_hook(lambda *a: pytest.fail('fused before the bad reply was seen'))   # the first part to run
    with pytest.raises(ValueError, match=r'speak_states_many \(reply 1\): h \[12, 32\], e \[5, 32\]'):
        m.speak_states_many([(h, e, v), (h, e[:5], v)])


def test_an_empty_reply_from_a_24_khz_vocoder_is_judged_silent(smoke_cfg, tmp_path, monkeypatch):
    "A reply the model ended at once is no audio at all: the judges hear it as silence, at any vocoder rate (resampling it failed)."
    from emotion_omni_lite.stage1 import EmotionCentroids
    m, d = untrained_omni(smoke_cfg), smoke_cfg.decoder.d_model
    m.centroids = EmotionCentroids(['happy', 'sad'], torch.randn(2, smoke_cfg.fusion.adaln_cond_dim))
    monkeypatch.setattr(m.vocoder, 'sample_rate', 24000)
    waves = [torch.zeros(0), torch.randn(12000) * 0.1]
    monkeypatch.setattr(m, 'speak_states_many', lambda states, streaming: [([1, 2] if len(w) else [], w) for w, _ in zip(waves * 2, states)])
    rows = [{'reply_emotion': 'happy', 'reply_text': 'hi', 'split': 'test_voice'}] * 2
    f2 = {'rows': rows, 'h': [torch.randn(6, d)] * 2, 'e': [torch.randn(6, d)] * 2}
    assert omni_mod.condition_following(m, f2, [0, 1], smoke_cfg.audio)['n_condition_following'] == 4
    gen = [{'text': t, 'audio': w, 'sample_rate': 24000, 'reply_emotion': None, 'timings': None} for t, w in zip(('', 'hi'), waves)]
    for name, fake in (('stage1_features', lambda cfg, s: {}), ('stage2_features', lambda cfg, s: f2),
                       ('speech_clips', lambda *a: {'generated': (waves, ['', 'hi'], gen)})):
        monkeypatch.setattr(omni_mod, name, fake)                           # no run: only the judging is looked at
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    fig, kept = omni_mod.speech_figures(smoke_cfg, s, 2, m, sets=('generated',), wer_sets=(), n_follow=0, keep=True)
    assert kept['heard']['generated'][0] == '(silent)' and [len(w) for w in kept['clips']['generated'][0]] == [0, 8000]
    assert fig['n_eval'] == 2


def test_condition_following_counts_a_clip_too_short_to_hear_as_a_miss(smoke_cfg, monkeypatch):
    "A clip under 0.1 s is '(silent)' to `hear` and never counted; `condition_following` classified zeros in its place, which could be scored as following the vector or the words. It is a miss for both shares now."
    from emotion_omni_lite.config import EMOTIONS
    from emotion_omni_lite.stage1 import EmotionCentroids
    m, d = untrained_omni(smoke_cfg), smoke_cfg.decoder.d_model
    m.centroids = EmotionCentroids(['happy', 'sad'], torch.randn(2, smoke_cfg.fusion.adaln_cond_dim))
    waves = [torch.zeros(100), torch.randn(8000) * 0.1]                    # per reply: the 'happy' clip too short to hear
    monkeypatch.setattr(m, 'speak_states_many', lambda states, streaming: [([1], w) for w, _ in zip(waves * 2, states)])
    happy = torch.zeros(len(EMOTIONS)); happy[EMOTIONS.index('happy')] = 1
    monkeypatch.setattr(omni_mod, 'classify_emotion', lambda enc, ws, acfg: happy.expand(len(ws), -1))   # hears 'happy' in all
    rows = [{'reply_emotion': 'happy', 'reply_text': 'hi', 'split': 'test_voice'}] * 2
    f2 = {'rows': rows, 'h': [torch.randn(6, d)] * 2, 'e': [torch.randn(6, d)] * 2}
    got = omni_mod.condition_following(m, f2, [0, 1], smoke_cfg.audio)
    assert got == {'follows_condition_acc': 0.0, 'follows_words_acc': 0.5, 'n_condition_following': 4}, got   # 'sad' clips: words


def test_load_omni_refuses_settings_of_another_preset_and_a_stage_1_of_another_config(smoke_cfg, tmp_path, monkeypatch):
    "Another preset's settings would read another preset's runs, a pipeline of another config or run would be used as this one's: both are named with the fix before any run is read."
    from emotion_omni_lite.stages import run_digest, stage_config, stage_folder
    class Reached(Exception): "load_omni took the pipeline and went on to stage 2's run"
    def never(*a, **k): raise AssertionError('stage 1 was loaded from its run, not taken from pipeline=')
    def stage2(cfg, settings=None, name='stage2'): raise Reached(name)
    monkeypatch.setattr(omni_mod, 'load_stage1', never)                 # a refusal comes before either run is read
    monkeypatch.setattr(omni_mod, 'load_stage2_model', stage2)
    folders = dict(data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    with pytest.raises(ConfigError, match=r"config is preset 'smoke''s, the settings preset 'lite''s .*pass get_settings\(preset='smoke'\)"):
        load_omni(smoke_cfg, get_settings(preset='lite', **folders))
    s = get_settings(preset='smoke', **folders)
    here = stage_folder('stage1', s); here.mkdir(parents=True)
    for f in ('metrics.json', 'files.json'): (here / f).write_text('{}')   # a finished run's record: its digest is not None
    here, digest = str(here.resolve()), run_digest('stage1', s)
    own = SimpleNamespace(cfg=stage_config('stage1', smoke_cfg))
    with pytest.raises(ConfigError, match=r"not loaded for run 'stage1_semantic_only' .*pipeline=load_stage1\(cfg, settings, 'stage1_semantic_only'\)"):
        load_omni(smoke_cfg, s, stage1='stage1_semantic_only', pipeline=own)
    with pytest.raises(ConfigError, match="not loaded for run 'stage1' of this config"):
        load_omni(smoke_cfg, s, pipeline=SimpleNamespace(cfg=get_config('smoke', **{'adapter.k': 3})))
    for ok in (own, SimpleNamespace(cfg=own.cfg, run=(here, digest))):  # its own stage 1, built by hand or loaded from this run
        with pytest.raises(Reached, match='^stage2$'): load_omni(smoke_cfg, s, pipeline=ok)   # taken, on to stage 2's run
    for run in ((str(tmp_path / 'elsewhere' / 'smoke' / 'stage1'), digest), (here, 'abc123')):   # each part is compared:
        with pytest.raises(ConfigError, match=rf"loaded from {re.escape(run[0])}, .* as it is now .*"     # another runs folder's,
                                              r"pipeline=load_stage1\(cfg, settings, 'stage1'\)"):  # this run trained again
            load_omni(smoke_cfg, s, pipeline=SimpleNamespace(cfg=own.cfg, run=run))


def test_an_emotion_encoder_with_no_head_names_no_user_emotion(smoke_cfg, tmp_path, monkeypatch, capsys):
    "A pretrained emotion checkpoint with no classification head gives frames and vectors, not an emotion: `respond` and `eol chat` say none was heard (its NaN probabilities read as 'neutral' before)."
    from transformers import Wav2Vec2Config, Wav2Vec2Model
    from emotion_omni_lite.emotion_encoder import load_pretrained_emotion_encoder
    Wav2Vec2Model(Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                 conv_dim=(16,) * 7)).save_pretrained(tmp_path / 'bare')
    m = untrained_omni(smoke_cfg)
    m.emotion_encoder = load_pretrained_emotion_encoder(str(tmp_path / 'bare')).eval()
    f = m.encode(speech(1))
    assert f['user_emotion_probs'] is None and torch.isfinite(f['emotion_vec_user']).all() and f['emo'].shape[-1] == 32
    r = m.respond(speech(1))
    assert r['user_emotion'] is None and torch.isfinite(r['emotion_vec_user']).all()
    monkeypatch.setattr(omni_mod, 'load_omni', lambda cfg, s: m)
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    out = omni_mod.chat_main(save_wav(tmp_path / 'q.wav', speech(1)), cfg=smoke_cfg, settings=s, as_json=False)
    assert out['user_emotion'] is None and 'this emotion encoder has no emotion head' in capsys.readouterr().out


def test_a_clip_too_short_for_the_adapter_is_refused_by_name():
    "At full size wav2vec2 gives 49 frames a second, so 0.1 s (enough for check_speech) makes no adapter token: refused, named; lite's 0.1 s makes one."
    from emotion_omni_lite.audio import AudioError
    from emotion_omni_lite.omni import check_length
    check_length(torch.zeros(1600), get_config('lite'))
    with pytest.raises(AudioError, match=r"is 100 ms long, too short for this model's adapter to make one token of \(5 encoder frames\).*longer clip"):
        check_length(torch.zeros(1600), get_config('full'))
    check_length(torch.zeros(1900), get_config('full'))


def test_new_text_figures_pick_rows_by_the_reference_and_count_the_models_own_words(smoke_cfg, tmp_path, monkeypatch):
    "`generated_emotion_acc_new_text` scores the queries whose reference reply no training reply says, whatever the model says there (mostly a training reply); `n_generated_new_text` counts the model's own replies of new words (case and punctuation aside), and `teacher_text_emotion_acc_new_text` judges the true new replies spoken from their states."
    from emotion_omni_lite.config import EMOTIONS
    train = [{'split': 'train', 'reply_text': t, 'reply_emotion': e} for t, e in (('I am so sorry.', 'sad'), ('What fun!', 'happy'))]
    test = [{'split': 'test_voice', 'reply_text': t, 'reply_emotion': e} for t, e in
            (('I am so sorry.', 'sad'), ('That sounds hard.', 'sad'), ('What a day!', 'happy'), ('What fun!', 'happy'))]
    f2 = {'rows': train + test}
    said = ['I am so sorry.', 'i am so sorry', 'What a day', 'What fun!']   # rows 1 and 2 are new; the model says new words on 2
    clip = lambda labels: [torch.full((1600,), float(EMOTIONS.index(l))) for l in labels]   # each clip carries what it is heard as
    gen = [{'text': t, 'reply_emotion': None, 'audio': torch.zeros(0), 'sample_rate': 16000, 'timings': None} for t in said]
    clips = {'generated': (clip(['sad', 'sad', 'neutral', 'happy']), said, gen),
             'teacher_text': (clip(['neutral', 'sad', 'happy', 'neutral']), [r['reply_text'] for r in test])}
    for name, fake in (('stage1_features', lambda cfg, s: {}), ('stage2_features', lambda cfg, s: f2),
                       ('speech_clips', lambda omni, f1, f2, idx, *a: {k: v for k, v in clips.items()}),
                       ('hear', lambda enc, waves, acfg: [EMOTIONS[int(w[0])] for w in waves])):
        monkeypatch.setattr(omni_mod, name, fake)                           # no run: only the choosing and counting are looked at
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    m = SimpleNamespace(vocoder=SimpleNamespace(sample_rate=16000), emotion_encoder=None)
    fig = omni_mod.speech_figures(smoke_cfg, s, 4, m, sets=('generated', 'teacher_text'), wer_sets=(), n_follow=0)
    assert fig['n_new_text'] == 2 and fig['generated_emotion_acc_new_text'] == 0.5    # rows 1 and 2, by the reference: 1 of 2 heard
    assert fig['n_generated_new_text'] == 1                                          # 'i am so sorry' is a training reply's words
    assert fig['teacher_text_emotion_acc_new_text'] == 1.0 and fig['teacher_text_emotion_acc'] == 0.5


def test_speech_figures_refuse_a_bad_n_eval_before_any_model_loads(smoke_cfg, tmp_path, monkeypatch):
    "n_eval=0 loaded every model and then failed deep inside; a negative one failed in `random.sample`: each is named, with the fix, first."
    def never(*a, **k): raise AssertionError('a model was loaded')
    for name in ('load_omni', 'stage1_features', 'stage2_features'): monkeypatch.setattr(omni_mod, name, never)
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    rows = [{'split': 'test_voice'}] * 3
    for bad in (0, -1, 2.5, True, '4', None):
        msg = rf"n_eval={re.escape(repr(bad))}: .*whole number of at least 1: set n_eval to one"
        with pytest.raises(ConfigError, match='speech_figures: ' + msg): omni_mod.speech_figures(smoke_cfg, s, bad)
        with pytest.raises(ConfigError, match='speech_rows: ' + msg): omni_mod.speech_rows(rows, 0, bad)
    assert omni_mod.speech_rows(rows, 0, 5) == [0, 1, 2]                   # more than there are: every held-out query


def test_speech_stopped_mid_reply_frees_the_vocoders_cache(smoke_cfg):
    "A token-to-wave vocoder (CosyVoice2) keeps a cache per utterance until its final call: `speak` stopped early (a listener's error, Ctrl-C) left it behind, one per reply. It closes the stream whatever happens."
    from emotion_omni_lite.vocoder import TokenToWave
    kept = {}
    def token2wav(tokens, offset, finalize, cache):
        key = cache.setdefault('uuid', len(kept) + 1)
        if finalize: kept.pop(key, None)
        else: kept[key] = 'HiFT cache'
        return torch.ones(4 * (tokens.shape[1] - offset))
    token2wav.release = lambda cache: kept.pop(cache.get('uuid'), None)
    m, d = untrained_omni(smoke_cfg), smoke_cfg.decoder.d_model
    m.vocoder = TokenToWave(token2wav, 16000, hop=2, lookahead=0)
    fused = [m.fusion(torch.randn(1, 12, d), torch.randn(1, 12, d), torch.randn(1, smoke_cfg.fusion.adaln_cond_dim))]
    units, wave = m.speak(fused)
    assert units and len(wave) and kept == {}                           # a whole reply: freed by its last call
    def stop(chunk): raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt): m.speak(fused, on_audio=stop)
    assert kept == {}                                                   # stopped at its first audio: freed too
