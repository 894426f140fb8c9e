"The cues study refuses what it cannot measure or fit: clips with no voice, features that do not fit their rows, probes with nothing to learn from."
import math
from types import SimpleNamespace

import pytest
import torch

from emotion_omni_lite import cues
from emotion_omni_lite.audio import AudioError
from emotion_omni_lite.config import EMOTIONS
from emotion_omni_lite.cues import (PROSODIC_FEATURES, cross_engine_probe, fit_linear_probe, not_calm, prosodic_baseline,
                                    prosodic_features, query_prosody, timing_features)

SR = 16000
TONE = 0.3 * torch.sin(2 * math.pi * (150 + 50 * torch.arange(SR) / SR) * torch.arange(SR) / SR)   # a rising tone: voiced
NOISE = 0.1 * torch.randn(SR, generator=torch.Generator().manual_seed(0))                          # white noise: no pitch


def toy(piper_train: bool = True):
    "Two engines of four voices each, the six feelings five times a voice; the last voice of each engine held out."
    g, rows, xs = torch.Generator().manual_seed(0), [], []
    for eng, lift in (('espeak', 0.0), ('piper', 6.0)):
        for v in range(4):
            base = torch.randn(2, generator=g) + lift
            for k, e in enumerate(EMOTIONS):
                for j in range(5):
                    xs.append(base + torch.tensor([1.0 * k, 2.0 * (k % 2)]) + 0.1 * torch.randn(2, generator=g))
                    train = v != 3 and (eng == 'espeak' or piper_train)
                    rows.append(dict(id=f'{eng}{v}{e}{j}', voice=f'piper:joe+p{v}' if eng == 'piper' else f'en-us+m{v}', user_emotion=e,
                                     split='train' if train else 'test_voice', heldout_voice=v == 3, sentence_kind='tone'))
    return rows, torch.stack(xs)


def test_prosodic_features_refuse_a_clip_with_no_voice():
    "Silence, an empty wave and white noise have no pitch to measure: refused with the problem, not a flat 100 Hz voice."
    assert prosodic_features(TONE)[PROSODIC_FEATURES.index('voiced_frac')] > 0.8          # a voiced clip is measured
    with pytest.raises(AudioError, match=r'the clip: is silent .*give a clip of speech'): prosodic_features(torch.zeros(SR))
    with pytest.raises(AudioError, match=r'the clip: is empty'): prosodic_features(torch.zeros(0))
    with pytest.raises(AudioError, match=r'NaN or Inf'): prosodic_features(torch.full((SR,), float('nan')))
    with pytest.raises(AudioError, match=r'noise\.wav: has a pitch in 0 of its 100 10-ms frames.*give a voiced clip'):
        prosodic_features(NOISE, source='noise.wav')


def test_query_prosody_keeps_an_unvoiced_query_and_names_it(monkeypatch):
    "Over the dataset a query with almost no pitch keeps its features as they were measured (pitch ones 0), and a warning names it."
    rows = [{'id': 'd0', 'query': 'tone'}, {'id': 'd1', 'query': 'noise'}]
    monkeypatch.setattr(cues, 'load_dialogues', lambda cfg, s: SimpleNamespace(to_list=lambda: rows))
    monkeypatch.setattr(cues, 'audio_path', lambda r, s: r['query'])
    monkeypatch.setattr(cues, 'load_audio', lambda p: TONE if p == 'tone' else NOISE)
    with pytest.warns(UserWarning, match=r'1 of 2 queries have a pitch in fewer than 3 frames \(d1\): their pitch features are 0'):
        got, x = query_prosody(None, SimpleNamespace())
    assert got is rows and x.shape == (2, len(PROSODIC_FEATURES))
    assert torch.equal(x[0], prosodic_features(TONE)) and (x[1, :7] == 0).all() and x[1, 7] > -100   # pitch 0, the energy measured


def test_timing_features_refuse_silence_and_an_empty_wave():
    "Silence read as all speech, and an empty wave's 'math domain error', become refusals."
    assert 0.45 < timing_features(torch.cat([TONE, torch.zeros(SR)]), 'abcd')[1] < 0.55
    with pytest.raises(AudioError, match=r'is silent'): timing_features(torch.zeros(SR), 'abcd')
    with pytest.raises(AudioError, match=r'is empty'): timing_features(torch.zeros(0), 'abcd')


def test_fit_linear_probe_refuses_what_it_cannot_fit():
    "No rows, one row, a NaN row, labels outside the classes or not whole: each refused with its fix, never a probe that reads neutral."
    x, y = torch.randn(12, 3, generator=torch.Generator().manual_seed(0)), torch.arange(12) % 6
    assert fit_linear_probe(x, y).predict(x).shape == (12,)
    with pytest.raises(ValueError, match=r'features of shape \[0, 3\].*at least 2 rows'): fit_linear_probe(x[:0], y[:0])
    with pytest.raises(ValueError, match=r'at least 2 rows'): fit_linear_probe(x[:1], y[:1])
    bad = x.clone(); bad[4, 1] = float('nan')
    with pytest.raises(ValueError, match=r'1 of the 12 feature rows hold NaN or Inf'): fit_linear_probe(bad, y)
    with pytest.raises(ValueError, match=r'labels \[7\] outside 0 to 5'): fit_linear_probe(x, torch.where(y == 0, 7, y))
    with pytest.raises(ValueError, match=r'labels \[-1\] outside'): fit_linear_probe(x, y - 1)
    with pytest.raises(ValueError, match=r'labels of dtype torch.float32'): fit_linear_probe(x, y.float())
    with pytest.raises(ValueError, match=r'12 feature rows but labels of shape \[11\]'): fit_linear_probe(x, y[:11])


def test_cross_engine_probe_refuses_features_masks_and_engines_that_do_not_fit():
    rows, x = toy()
    assert cross_engine_probe(rows, x, scored=not_calm(rows, 2))['n_other_engine'] == 120 - 4 * 2
    with pytest.raises(ValueError, match=r'240 rows but features of shape \[200, 2\]'): cross_engine_probe(rows, x[:200])
    nan = x.clone(); nan[130, 0] = float('nan')                          # a Piper query: never fitted on, but scored
    with pytest.raises(ValueError, match=r'1 of the 240 feature rows hold NaN or Inf \(piper0sad0\)'): cross_engine_probe(rows, nan)
    with pytest.raises(ValueError, match=r'scored of shape \[10\].*boolean mask of the 240 rows'):
        cross_engine_probe(rows, x, scored=torch.ones(10, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'scored of shape \[3\] \(torch.int64\).*not row indices'): cross_engine_probe(rows, x, scored=[0, 5, 130])
    rows_p, x_p = toy(piper_train=False)                                 # Piper's voices all held out
    with pytest.raises(ValueError, match=r"'piper' speaks 0 training queries .*one of espeak"): cross_engine_probe(rows_p, x_p, 'piper')
    for calm in (0, -1):
        with pytest.raises(ValueError, match=rf'not_calm: calm={calm}: leave out at least one'): not_calm(rows, calm)


def test_prosodic_baseline_scores_with_the_configs_engine():
    "The baseline's per-engine figures name the config's own engine for voices without a prefix, as the encoder's scoring does."
    rows, x = toy()
    _, sc = prosodic_baseline(SimpleNamespace(data=SimpleNamespace(tts='cosyvoice2')), None, (rows, x))
    assert 'acc_heldout_voice_cosyvoice2' in sc and 'acc_heldout_voice_piper' in sc and 'acc_heldout_voice_espeak' not in sc
    with pytest.raises(ValueError, match=r'prosodic_baseline: 240 rows but features of shape \[239, 2\]'):
        prosodic_baseline(SimpleNamespace(data=SimpleNamespace(tts='espeak')), None, (rows, x[:239]))


def test_timing_probe_refuses_an_empty_fit_or_score(monkeypatch):
    "No steps, no hidden units, fewer than two training rows or no held-out tone query: refused before any audio is read."
    monkeypatch.setattr(cues, 'load_audio', lambda p: pytest.fail('read audio'))
    rows, _ = toy()
    for kw, msg in ((dict(hidden=0), r'hidden=0: give a whole number of at least 1 \(the default: 32\)'),
                    (dict(steps=0), r'steps=0: .*\(the default: 2000\)'), (dict(steps=-5), r'steps=-5')):
        with pytest.raises(ValueError, match=msg): cues._timing_probe(rows, None, kw.get('hidden', 4), kw.get('steps', 1), 0)
    with pytest.raises(ValueError, match=r'0 training queries'):
        cues._timing_probe([{**r, 'split': 'test_voice'} for r in rows], None, 4, 1, 0)
    with pytest.raises(ValueError, match=r'no held-out tone-dependent query'):
        cues._timing_probe([{**r, 'sentence_kind': 'explicit'} if r['split'] != 'train' else r for r in rows], None, 4, 1, 0)


def test_the_probes_take_features_of_any_float_dtype():
    "Features in float64 or as a numpy array (as numpy or pandas give them) score as float32 ones do, not a dtype error from the probe's layer."
    rows, x = toy()
    cfg = SimpleNamespace(data=SimpleNamespace(tts='espeak'))
    want, base = cross_engine_probe(rows, x, scored=not_calm(rows, 2)), prosodic_baseline(cfg, None, (rows, x))[1]
    for other in (x.double(), x.numpy(), x.double().numpy()):
        assert cross_engine_probe(rows, other, scored=not_calm(rows, 2)) == want
        assert prosodic_baseline(cfg, None, (rows, other))[1] == base


def test_cross_engine_probe_gives_the_other_engines_confusion():
    "Which feeling the other engine's queries are misread as (rows: the true emotion), counted over the scored rows, agreeing with the per-emotion accuracies."
    rows, x = toy()
    m = cross_engine_probe(rows, x, scored=not_calm(rows, 2))
    cm = m['confusion_other_engine']
    assert sum(map(sum, cm)) == m['n_other_engine'] and sum(cm[i][i] for i in range(6)) == round(m['acc_other_engine'] * m['n_other_engine'])
    assert [round(r[i] / sum(r), 4) for i, r in enumerate(cm)] == list(m['acc_other_engine_by_emotion'].values())


def test_timing_features_time_a_mono_clip_in_either_shape():
    "A [1, T] clip lasts T samples, not 1: its rate is the [T] clip's (log 1 sample per char was -11)."
    w = torch.cat([TONE, torch.zeros(SR)])
    assert torch.equal(timing_features(w[None], 'abcd'), timing_features(w, 'abcd'))
    assert prosodic_features(TONE[None]).equal(prosodic_features(TONE))


def test_a_clip_of_several_channels_is_refused_under_its_own_name():
    "A stereo clip is named by its `source`, as every other refusal of it is, with the one-channel fix."
    stereo = torch.stack([TONE, TONE])
    for f in (prosodic_features, lambda w, source: timing_features(w, 'abcd', source=source)):
        for w in (stereo, stereo.T, stereo.numpy()):
            with pytest.raises(AudioError, match=r"^q\.wav: has shape \[(2, 16000|16000, 2)\], more than one channel.* — pass one channel") as e:
                f(w, source='q.wav')
            assert e.value.source == 'q.wav' and '<array>' not in str(e.value)


def test_cue_features_refuse_integer_pcm():
    "int16 counts read as floats sit ~90 dB above full scale: refused, naming the division, for torch and numpy clips alike."
    pcm = (TONE * 32767).to(torch.int16)
    for f in (prosodic_features, lambda w, source: timing_features(w, 'abcd', source=source)):
        for w in (pcm, pcm.numpy(), pcm.to(torch.int32)):
            with pytest.raises(AudioError, match=r'q\.wav: holds (torch\.)?int(16|32) samples \(PCM counts\?\).*divide by 32768 \(wave / 32768\)'):
                f(w, source='q.wav')
    assert prosodic_features(pcm.numpy() / 32768).shape == (len(PROSODIC_FEATURES),)             # divided: measured


def test_every_scoring_of_the_kits_queries_names_the_configs_engine():
    "A voice without an `engine:` prefix is the config's `data.tts` engine: the notebooks', the solutions' and the benchmarks' calls of score_predictions, evaluate_emotion and cross_engine_probe pass it, as the baseline does (left out, such a voice is filed under espeak); only rows made up in the cell (`toy_rows`, whose plain voices are espeak's by construction) may leave it out."
    import ast, inspect, json
    from pathlib import Path
    from emotion_omni_lite.emotion_encoder import evaluate_emotion, score_predictions
    root, calls, toys = Path(__file__).resolve().parents[1], set(), 0
    sign = {f.__name__: inspect.signature(f) for f in (score_predictions, evaluate_emotion, cross_engine_probe)}
    sources = [(p.name, ''.join(c['source'])) for p in sorted((root / 'nbs').glob('*.ipynb'))
               for c in json.loads(p.read_text())['cells'] if c['cell_type'] == 'code']
    sources += [(p.name, p.read_text()) for p in sorted((root / 'nbs' / 'solutions').glob('*.py'))]
    sources += [(p.name, p.read_text()) for p in sorted((root / 'benchmarks').glob('*.py'))]
    for name, src in sources:
        src = '\n'.join('' if l.lstrip().startswith(('%', '!')) else l for l in src.split('\n'))   # a notebook's magics
        for node in ast.walk(ast.parse(src)):
            f = getattr(node.func, 'id', getattr(node.func, 'attr', '')) if isinstance(node, ast.Call) else ''
            if f not in sign: continue
            calls.add((name, f))
            got = sign[f].bind_partial(*node.args, **{k.arg: k.value for k in node.keywords}).arguments
            rows = got['rows']
            while isinstance(rows, ast.Subscript): rows = rows.value          # toy_rows[:120]: still the made-up rows
            if 'tts' not in got and getattr(rows, 'id', '') == 'toy_rows': toys += 1; continue
            assert 'tts' in got, f"{name}: {ast.unparse(node)} names no engine: pass the config's, cfg.data.tts"
    assert {('08_emotional_cues.ipynb', 'score_predictions'), ('07_emotion_encoder.ipynb', 'evaluate_emotion'),
            ('08_emotional_cues.ipynb', 'cross_engine_probe'), ('calm_reference.py', 'cross_engine_probe'),
            ('prosodic_groups.py', 'score_predictions')} <= calls and toys       # the scan reached each kind of call
