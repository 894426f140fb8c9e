"Stage 2: batches and losses, the cached training data, idempotent training, streaming respond, eol chat, and the lite figures."
import json, math, os
import re
import pytest
import torch

from emotion_omni_lite.config import get_config
from emotion_omni_lite.stages import run_stage
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.stage2 import Stage2Model, collate_stage2, stage2_features, stage2_job
from emotion_omni_lite.omni import chat_main, load_omni
from emotion_omni_lite.report import assert_guard

from conftest import untrained_omni                                # the assembled model of untrained parts


def _examples(c, sizes):
    d, de = c.decoder.d_model, c.fusion.adaln_cond_dim
    return [{'h': torch.randn(n, d), 'e': torch.randn(n, d), 'emotion_vec_true': torch.randn(de), 'emotion_vec_pred': torch.randn(de),
             'units': torch.randint(0, c.units.n_units, (m,))} for n, m in sizes]


def test_collate_and_coin_flips():
    "A batch keeps each example's true and predicted vectors apart; teacher forcing conditions on the true one, and the coin flips fall at stages.stage2's odds."
    from emotion_omni_lite.config import set_fields
    c = get_config('smoke')
    torch.manual_seed(0)
    ex = _examples(c, [(5, 20), (9, 7), (2, 31)])
    b = collate_stage2(ex)
    assert b['h'].shape == (3, 9, c.decoder.d_model) and b['units'].shape == (3, 31)
    assert b['n'].tolist() == [5, 9, 2] and b['m'].tolist() == [20, 7, 31]
    for k in ('emotion_vec_true', 'emotion_vec_pred'): assert torch.equal(b[k], torch.stack([x[k] for x in ex])), k
    m = Stage2Model(c)
    with torch.no_grad(): m.fusion.adaln.to_scale_shift.weight.normal_()
    T, F = torch.ones(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)
    assert not torch.isclose(m(b, T, F), m(b, F, F))                    # the emotion source matters once trained
    true_only = {**b, 'emotion_vec_pred': b['emotion_vec_true']}
    torch.testing.assert_close(m(b, T, F), m(true_only, F, F))          # teacher forced: the true vector, not the predicted
    assert not torch.isclose(m(b, F, T), m(b, F, F))                    # streaming and full masks differ
    def odds(tf, st):                                                    # the same weights, the coin flips left to the config
        o = Stage2Model(set_fields(c, **{'stages.stage2.teacher_force_prob': tf, 'stages.stage2.stream_mask_prob': st}))
        o.load_state_dict(m.state_dict()); return o
    for tf, st in ((1.0, 0.0), (0.0, 0.0), (0.0, 1.0)):                  # a draw in [0, 1) is always below 1, never below 0
        torch.testing.assert_close(odds(tf, st)(b), m(b, T if tf else F, T if st else F), msg=f'{tf=} {st=}')


@pytest.fixture(scope='module')
def smoke_run(smoke_settings, smoke_cfg):
    ensure_stages(['stage1', 'vocoder'], smoke_cfg, smoke_settings)
    return run_stage('stage2', smoke_cfg, stage2_job, smoke_settings)


def test_stage2_trains_once_and_caches_its_data(smoke_run, smoke_settings, smoke_cfg):
    run = smoke_run
    for f in ('model.safetensors', 'config.json', 'metrics.json', 'history.json'): assert (run / f).exists(), f
    m = json.loads((run / 'metrics.json').read_text())
    assert m['heldout_unit_ce_full'] > 0 and m['n_train'] > 0
    t = (run / 'model.safetensors').stat().st_mtime
    assert run_stage('stage2', smoke_cfg, lambda *a: 1 / 0, smoke_settings) == run               # reused: no job asked for
    assert (run / 'model.safetensors').stat().st_mtime == t
    cache = sorted(p.name for p in (smoke_settings.run_path / 'stage2_features').glob('*.pt'))
    shards = [c for c in cache if re.search(r'\.\d{5}\.pt$', c)]          # the features' one shard (a few MB here)
    assert len(shards) == 1 and len(cache) == 2 + (smoke_cfg.stages.stage2.cross_emotion > 0), cache   # its index (+ the cross-emotion replies)
    f = stage2_features(smoke_cfg, smoke_settings)
    assert len(f['h']) == len(f['rows']) == len(f['units']) and f['h'][0].shape[1] == smoke_cfg.decoder.d_model
    assert f['emotion_vec_pred'].shape == f['emotion_vec_true'].shape == (len(f['rows']), smoke_cfg.emotion_encoder.dim)


def test_respond_and_chat(smoke_run, smoke_settings, smoke_cfg, tmp_path):
    from emotion_omni_lite.dataset import load_dialogues, audio_path
    omni = load_omni(smoke_cfg, smoke_settings)
    row = load_dialogues(smoke_cfg, smoke_settings)[0]
    calls = {'semantic': 0, 'emotion': 0}                                # each encoder hears the query once
    omni.semantic_encoder.register_forward_hook(lambda *a: calls.__setitem__('semantic', calls['semantic'] + 1))
    omni.emotion_encoder.register_forward_hook(lambda *a: calls.__setitem__('emotion', calls['emotion'] + 1))
    r = omni.respond(audio_path(row, smoke_settings, 'query'))
    assert calls == {'semantic': 1, 'emotion': 1}, calls
    assert r['emotion_vec_user'].shape == (smoke_cfg.emotion_encoder.dim,)
    assert {'text', 'user_emotion', 'reply_emotion', 'audio', 'sample_rate', 'timings'} <= set(r)
    assert r['sample_rate'] == smoke_cfg.audio.sample_rate and r['audio'].ndim == 1
    assert len(r['audio']) == len(r['units']) * 4 * smoke_cfg.audio.hop_length
    out = chat_main(audio_path(row, smoke_settings, 'query'), tmp_path / 'reply.wav', cfg=smoke_cfg, settings=smoke_settings)
    json.dumps(out)                                                      # JSON-able
    import soundfile as sf
    info = sf.info(out['out_path'])                                      # the reply written: its rate, its length
    assert info.samplerate == out['sample_rate'] and info.frames == out['n_units'] * 4 * smoke_cfg.audio.hop_length
    assert info.frames / info.samplerate == pytest.approx(out['audio_seconds'], abs=0.01)


def test_streaming_speaks_before_the_text_ends(smoke_run, smoke_settings, smoke_cfg):
    "With at least 2 chunks' worth of reply tokens, the first audio comes before the last text token."
    from emotion_omni_lite.stage1 import stage1_features
    omni = load_omni(smoke_cfg, smoke_settings)
    f1 = stage1_features(smoke_cfg, smoke_settings)
    feat = {k: f1[k][0] for k in ('sem', 'emo', 'n50')}
    seen, order = [], []
    omni.end_id = -1                                                     # force a long reply: no token ends it
    r = omni.respond_features(feat, streaming=True, on_token=lambda t: order.append('text'),
                              on_audio=lambda a: (seen.append(a), order.append('audio')))
    t = r['timings']
    assert len(seen) >= 2 and t['first_audio_ms'] < t['text_done_ms'], t
    assert order.index('audio') < len(order) - 1 - order[::-1].index('text'), order   # audio before the last token
    r2 = omni.respond_features(feat, streaming=False)
    assert r2['timings']['first_audio_ms'] > r2['timings']['text_done_ms']


def test_streaming_and_batched_emotion_vectors_agree(smoke_run, smoke_settings, smoke_cfg):
    "The streaming path calls the very emotion head stage 1 trained: the same reply gives the same vector both ways."
    from emotion_omni_lite.stage1 import load_stage1, stage1_features
    omni, pipe = load_omni(smoke_cfg, smoke_settings), load_stage1(smoke_cfg, smoke_settings)
    trained = pipe.model.head.state_dict()                               # load_omni's head is stage 1's, not a fresh one
    assert omni.emotion_head.state_dict().keys() == trained.keys()
    assert all(torch.equal(v, trained[k]) for k, v in omni.emotion_head.state_dict().items())
    with torch.no_grad():                                                # a head whose output is far from zero
        for p in omni.emotion_head.parameters(): p.normal_(0, 0.5)
    pipe.model.head.load_state_dict(omni.emotion_head.state_dict())      # the same weights in both paths
    f1 = stage1_features(smoke_cfg, smoke_settings)
    checked, n_head = 0, omni.emotion_head.n_tokens
    for i in range(len(f1['rows'])):
        feat = {k: f1[k][i] for k in ('sem', 'emo', 'n50')}
        r = omni.respond_features(feat, streaming=True)
        if r['emotion_vec_pred'] is None or len(r['reply_ids']) < n_head: continue   # shorter: the batch's first n_head
                                                                                    # states take in the end token (as nbs/14a)
        batched = pipe.reply_states([feat], [r['reply_ids'] + [omni.end_id]])[0]['emotion_vec_pred']
        torch.testing.assert_close(r['emotion_vec_pred'], batched, atol=1e-4, rtol=1e-4)
        assert batched.abs().max() > 1e-2
        checked += 1
        if checked == 3: break
    assert checked == 3


def test_each_part_answers_in_the_precision_its_stage_trained_it(smoke_run, smoke_settings, smoke_cfg):
    "Under mixed precision the adapter and the emotion head run as stage 1 trained them and the fusion as stage 2 did, each stage's setting alone, streamed or batched, and the vocoder outside stage 2's autocast for every chunk, as for the last (a CPU's autocast stands in for a GPU's)."
    from emotion_omni_lite.config import set_fields
    from emotion_omni_lite.stage1 import stage1_features
    omni = load_omni(smoke_cfg, smoke_settings)
    base = omni.cfg
    seen = {'adapter': [], 'emotion_head': [], 'fusion': [], 'vocoder': []}
    for part in ('adapter', 'emotion_head', 'fusion'):
        getattr(omni, part).register_forward_pre_hook(lambda m, a, part=part: seen[part].append(torch.is_autocast_enabled('cpu')))
    stream = omni.vocoder.stream
    def watched():
        v = stream(); push = v.push
        v.push = lambda chunk: (seen['vocoder'].append(torch.is_autocast_enabled('cpu')), push(chunk))[1]
        return v
    omni.vocoder.stream = watched
    f1 = stage1_features(smoke_cfg, smoke_settings)
    feats = [{k: f1[k][i] for k in ('sem', 'emo', 'n50')} for i in range(3)]
    d, de = smoke_cfg.decoder.d_model, smoke_cfg.fusion.adaln_cond_dim   # given states, spoken alone: stage 2's fusion too
    for s1, s2 in (('bf16', 'bf16'), ('no', 'bf16'), ('bf16', 'no')):    # one stage's setting must not leak into the other's parts
        omni.cfg = set_fields(base, **{'stages.stage1.mixed_precision': s1, 'stages.stage2.mixed_precision': s2})
        for v in seen.values(): v.clear()
        for feat in feats: omni.respond_features(feat, streaming=True)
        n, k = len(seen['emotion_head']), len(seen['fusion'])
        omni.respond_features_many(feats)
        omni.speak_states(torch.randn(6, d), torch.randn(6, d), torch.randn(de))
        assert seen['vocoder'] and not any(seen['vocoder']), (s1, s2)
        assert len(seen['adapter']) == 6 and len(seen['emotion_head']) > n, seen
        assert set(seen['adapter'] + seen['emotion_head']) == {s1 == 'bf16'}, (s1, s2, seen)
        assert len(seen['fusion']) > k + 1, seen['fusion']                  # streamed, batched and `speak_states`
        assert set(seen['fusion']) == {s2 == 'bf16'}, (s1, s2, seen['fusion'])

def test_a_reply_of_no_words_is_said_as_such_not_timed_or_written(smoke_cfg, tmp_path, monkeypatch, capsys):
    "When the LLM writes no reply nothing is spoken: no real-time factor (it was the total time over 1 ms), no wav of 0 frames, and `eol chat` says so instead of 'first audio after None ms'."
    from emotion_omni_lite import omni as omni_mod
    from emotion_omni_lite.audio import save_wav
    from emotion_omni_lite.config import get_settings
    mute, wave = untrained_omni(smoke_cfg), 0.1 * torch.sin(torch.arange(16000) * 0.05)
    r = mute.respond(wave)
    assert r['text'] == '' and r['audio_seconds'] == 0 and r['rtf'] is None and r['timings']['first_audio_ms'] is None
    q = save_wav(tmp_path / 'me.wav', wave)
    monkeypatch.setattr(omni_mod, 'load_omni', lambda cfg, s: mute)
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    out = chat_main(q, tmp_path / 'reply.wav', as_json=False, cfg=smoke_cfg, settings=s)
    said = capsys.readouterr().out
    assert f"the model wrote no reply; nothing was spoken, so nothing was written to {tmp_path / 'reply.wav'}" in said
    assert 'first audio after' not in said and not (tmp_path / 'reply.wav').exists() and 'out_path' not in out and out['rtf'] is None
    out = chat_main(q, tmp_path / 'reply.wav', cfg=smoke_cfg, settings=s)          # --json: one object, the note in it
    assert json.loads(capsys.readouterr().out) == out and 'nothing was spoken' in out['note'] and not (tmp_path / 'reply.wav').exists()

def test_condition_following_hears_a_24_khz_vocoder_at_16_khz(smoke_run, smoke_settings, smoke_cfg, monkeypatch):
    "The judge of how speech follows its emotion vector hears 16 kHz: a vocoder of another rate (CosyVoice2's 24 kHz) is resampled first, as the rest of the speech figures are."
    from emotion_omni_lite import omni as omni_mod
    from emotion_omni_lite.stage2 import stage2_features
    omni, f2 = load_omni(smoke_cfg, smoke_settings), stage2_features(smoke_cfg, smoke_settings)
    monkeypatch.setattr(omni.vocoder, 'sample_rate', 24000)
    monkeypatch.setattr(omni, 'speak_states_many', lambda states, streaming: [([1, 2], torch.randn(12000) * 0.1) for _ in states])
    heard = []
    real = omni_mod.classify_emotion
    monkeypatch.setattr(omni_mod, 'classify_emotion', lambda enc, ws, a: (heard.extend(len(w) for w in ws), real(enc, ws, a))[1])
    m = omni_mod.condition_following(omni, f2, [0, 1], smoke_cfg.audio)
    assert m['n_condition_following'] == len(heard) == 2 * len(omni.centroids.labels) and set(heard) == {8000}   # 0.5 s

def test_the_assembled_model_stays_in_eval_mode(smoke_run, smoke_settings, smoke_cfg):
    omni = load_omni(smoke_cfg, smoke_settings).train()
    assert not any(m.training for m in omni.modules())
    assert [n for n, _ in omni.named_children()] == ['semantic_encoder', 'emotion_encoder', 'adapter', 'llm',
                                                     'emotion_head', 'fusion', 'decoder', 'vocoder']   # the paper's order


@pytest.mark.slow
def test_lite_emotion_figures(lite_settings, lite_cfg):
    "On held-out voices and sentences the generated speech carries the intended reply emotion at its guard, and AdaLN's vector is followed above the ablation's 1 in 4. Where the seeds' guard sits near chance, the guard asserted is the one the report card shows: the higher of it and the run's `chance_floors` (what one emotion spoken every time, or a vector ignored, would score, plus three binomial standard deviations)."
    from emotion_omni_lite.evaluate import evaluate_run, run_figures
    from emotion_omni_lite.report import chance_floors
    out = evaluate_run(settings=lite_settings, progress=False)            # reused when current: figures computed once
    sp = json.loads((out / 'speech_figures.json').read_text())
    on, off = sp['adaln'], sp['no_adaln']
    print(json.dumps({'adaln': on, 'no_adaln': off}))
    assert on['n_eval'] == 96 and off['n_condition_following'] == on['n_condition_following'] > 0
    figs, floors = run_figures(lite_cfg, lite_settings), chance_floors(sp)
    assert len(floors) == 3, floors                                      # each of the three held against chance too
    assert_guard('generated speech emotion, 96 replies', figs['generated speech emotion, 96 replies'], floors['generated speech emotion, 96 replies'])
    # In these dialogues a reply's words already tell its emotion, so without AdaLN the decoder speaks the words'
    # emotion and the figure above does not fall. What AdaLN adds shows when the words and the vector disagree:
    # the same words spoken as each reply emotion's vector asks. Without AdaLN that is chance (1 in 4).
    for name in ('follows the AdaLN vector', 'follows the vector without AdaLN', 'follows: with AdaLN − without'):
        assert_guard(name, figs[name], floors.get(name))


def test_chat_never_overwrites_and_refuses_bad_audio_before_loading(smoke_run, smoke_settings, smoke_cfg, tmp_path,
                                                                   monkeypatch, capsys):
    "The reply never replaces the recording or an existing file (unless asked); a bad recording is named before any model loads."
    import shutil
    from emotion_omni_lite import omni as omni_mod
    from emotion_omni_lite.cli import main
    from emotion_omni_lite.config import ConfigError
    from emotion_omni_lite.dataset import load_dialogues, audio_path
    q = tmp_path / 'me.wav'; shutil.copy(audio_path(load_dialogues(smoke_cfg, smoke_settings)[0], smoke_settings, 'query'), q)
    notes = tmp_path / 'notes.wav'; notes.write_text('keep me')   # a file already there
    before = q.read_bytes()
    with pytest.raises(ConfigError, match='the recording being answered'): chat_main(q, q, cfg=smoke_cfg, settings=smoke_settings)
    same = tmp_path / 'ME.wav'; os.link(q, same)           # another name of the same file (as a case-blind disk sees me.wav)
    with pytest.raises(ConfigError, match='the recording being answered'):
        chat_main(q, same, cfg=smoke_cfg, settings=smoke_settings, overwrite=True)
    same.unlink()
    with pytest.raises(ConfigError, match='--overwrite'): chat_main(q, notes, cfg=smoke_cfg, settings=smoke_settings)
    assert q.read_bytes() == before and notes.read_text() == 'keep me'
    out = chat_main(q, notes, cfg=smoke_cfg, settings=smoke_settings, overwrite=True)       # asked for: replaced, whole
    assert notes.read_bytes()[:4] == b'RIFF' and out['out_path'] == str(notes)
    assert not list(tmp_path.glob('.*.tmp*'))                                                 # no temporary file left
    def no_models(*a, **k): raise AssertionError('the models were loaded for a bad recording')
    monkeypatch.setattr(omni_mod, 'load_omni', no_models)
    bad = tmp_path / 'bad.wav'; bad.write_bytes(b'RIFF not really audio')
    monkeypatch.setenv('EOL_DATA_DIR', str(smoke_settings.data_dir)); monkeypatch.setenv('EOL_OUT_DIR', str(smoke_settings.out_dir))
    with pytest.raises(SystemExit) as ex: main(['chat', '--preset', 'smoke', '--audio', str(bad), '--out', str(tmp_path / 'r.wav')])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and 'bad.wav' in err and 'Traceback' not in err, err


def test_a_query_longer_than_the_model_hears_is_refused(smoke_run, smoke_settings, smoke_cfg):
    "Five minutes of speech would be cropped to the first seconds without a word: it is refused, naming the limit."
    from emotion_omni_lite.audio import AudioError
    from emotion_omni_lite.omni import hearing_seconds
    omni = load_omni(smoke_cfg, smoke_settings)
    limit = hearing_seconds(smoke_cfg)
    long = 0.1 * torch.sin(torch.arange(int((limit + 1) * 16000)) * 0.05)
    with pytest.raises(AudioError, match=f'at most {limit:g} s'): omni.respond(long)
    assert omni.respond(long[:int((limit - 1) * 16000)])['sample_rate'] > 0          # within the limit it answers
    for short in (long[:5], long[:800], torch.full((16000,), 0.2)):     # a click, 50 ms, a constant offset: no speech
        with pytest.raises(AudioError, match='speech needs at least|constant offset'): omni.respond(short)


def test_cross_emotion_takes_the_fraction_it_is_set_to():
    "stages.stage2.cross_emotion is a fraction of the training replies, evenly spread (it was rounded to 1/N: 0.75 took all)."
    from emotion_omni_lite.stage2 import spread
    idx = list(range(100, 300))
    assert spread(idx, 0.5) == idx[::2] and spread(idx, 1.0) == idx and spread(idx, 0.0) == []
    for frac in (0.3, 0.4, 0.6, 0.75, 0.9):
        got = spread(idx, frac)
        assert len(got) == round(frac * len(idx)) and len(set(got)) == len(got) and set(got) <= set(idx)
        assert max(got) - min(got) > 0.9 * len(idx)                        # spread over all of them, not the first ones
        gaps = [b - a for a, b in zip(got, got[1:])]                       # evenly: from the first, one in every 1/frac
        assert got[0] == idx[0] and max(gaps) <= math.ceil(1 / frac), (frac, gaps)


def test_stage2_refuses_another_presets_settings_and_other_runs_before_making_anything(tmp_path):
    "Another preset's settings (its data and runs folders) are refused, naming the fix, before a lock file or a cache is made; load_stage2_model names the runs of stage 2 for any other name."
    from emotion_omni_lite import stage2
    from emotion_omni_lite.config import ConfigError, get_settings
    from emotion_omni_lite.stages import run_stage
    cfg = get_config('smoke')
    lite = get_settings(preset='lite', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    for call in (lambda: stage2.stage2_features(cfg, lite), lambda: stage2.prepare_stage2(cfg, lite),
                 lambda: stage2.stage2_job(cfg, lite), lambda: stage2.load_stage2_model(cfg, lite),
                 lambda: stage2.cross_emotion_examples(cfg, {'rows': []}, [], lite),
                 lambda: run_stage('stage2', cfg, stage2.stage2_job, lite)):      # any stage's run, before its lock
        with pytest.raises(ConfigError, match=r"the config is preset 'smoke''s, the settings preset 'lite''s .*get_settings\(preset='smoke'\)"):
            call()
    assert not list(tmp_path.iterdir())                                  # no lock file, no cache, no folder
    smoke = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    with pytest.raises(ConfigError, match=r"'stage1' is not a run of stage 2: name one of stage2, stage2_no_adaln"):
        stage2.load_stage2_model(cfg, smoke, name='stage1')


def test_features_seconds_count_only_for_the_run_that_built_the_cache(tmp_path, monkeypatch):
    "stage2_job reports the time it spent building stage 2's caches; the ablation, reading the caches stage 2 built, reports 0 and that it reused them, not the builder's seconds again."
    import time
    from types import SimpleNamespace
    from emotion_omni_lite import stage2
    from emotion_omni_lite.config import get_settings, set_fields
    from emotion_omni_lite.stages import stage_config
    cfg = set_fields(get_config('smoke'), **{'stages.stage2.cross_emotion': 0.0})   # no speech synthesised here
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    d, de, N = cfg.decoder.d_model, cfg.emotion_encoder.dim, 6
    rows = [{'id': f'r{i}', 'split': 'train' if i % 3 else 'test', 'reply_text': 'hello'} for i in range(N)]
    f1 = {'rows': rows, 'emotion_vec_true': torch.randn(N, de), **{k: [torch.zeros(1)] * N for k in ('sem', 'emo', 'n50')}}
    def reply_states(feats, texts):                                      # stage 1 stood in for: a fifth of a second's work
        time.sleep(0.2)
        return [{'hidden': torch.randn(5, d), 'inputs_embeds': torch.randn(5, d), 'emotion_vec_pred': torch.randn(de)} for _ in feats]
    monkeypatch.setattr(stage2, 'load_stage1', lambda cfg, s: SimpleNamespace(reply_states=reply_states))
    monkeypatch.setattr(stage2, 'stage1_features', lambda cfg, s: f1)
    monkeypatch.setattr(stage2, 'load_dialogues', lambda cfg, s: {'id': [r['id'] for r in rows], 'units': [[1, 2, 3]] * N})
    built = stage2.stage2_job(cfg, s).info
    reused = stage2.stage2_job(stage_config('stage2_no_adaln', cfg), s).info
    assert built['features_cache_reused'] is False and built['features_seconds'] >= 0.2, built
    assert reused == {'features_seconds': 0.0, 'features_cache_reused': True}, reused


def test_emotion_vector_contrast_names_what_its_input_lacks():
    "Rows that do not line up, a label with no training vectors (a mean of nothing) or no held-out row (nothing to score) are refused by name, not answered with nan."
    from emotion_omni_lite.stage2 import emotion_vector_contrast as contrast
    v, labs, tr = torch.randn(6, 4), ['a', 'a', 'a', 'b', 'b', 'b'], [True, True, False, True, True, False]
    assert contrast(v, labs, tr)['n_heldout'] == 2
    for args, why in (((v, labs[:5], tr), r'vectors of shape \(6, 4\), 5 labels and 6 train flags'),
                      ((v[0], labs, tr), r'vectors of shape \(4,\), 6 labels'),
                      ((v, labs, [True, True, False, False, False, False]), r"no training row \(flag True\) of 'b'"),
                      ((v, labs, [True] * 6), r'no held-out row \(flag False\)')):
        with pytest.raises(ValueError, match=why): contrast(*args)


def _stand_in_stage1(monkeypatch, cfg, rows, units, states):
    "Stage 1 and the dataset stood in for: each reply `states` long (its end token included), with the given units."
    from types import SimpleNamespace
    from emotion_omni_lite import stage2
    d, de, N = cfg.decoder.d_model, cfg.emotion_encoder.dim, len(rows)
    f1 = {'rows': rows, 'emotion_vec_true': torch.randn(N, de), **{k: [torch.zeros(1)] * N for k in ('sem', 'emo', 'n50')}}
    monkeypatch.setattr(stage2, 'load_stage1', lambda cfg, s: SimpleNamespace(reply_states=lambda feats, texts: [
        {'hidden': torch.randn(states, d), 'inputs_embeds': torch.randn(states, d), 'emotion_vec_pred': torch.randn(de)} for _ in feats]))
    monkeypatch.setattr(stage2, 'stage1_features', lambda cfg, s: f1)
    monkeypatch.setattr(stage2, 'load_dialogues', lambda cfg, s: {'id': [r['id'] for r in rows], 'units': units})


def test_a_reply_longer_than_the_decoder_takes_is_refused_not_cut(tmp_path, monkeypatch):
    "A reply of more units than decoder.max_units or more tokens than decoder.max_reply_tokens was cut silently (the decoder learnt to stop mid-word at the cut): refused, naming the reply and the value to set, with no cache written; the longest that fits is kept whole. A decoder.max_units shorter than the longest reply the kit speaks is refused before anything is made."
    from types import SimpleNamespace
    import contextlib
    from emotion_omni_lite import stage2
    from emotion_omni_lite.config import ConfigError, get_settings, set_fields
    from emotion_omni_lite.train import load_cache
    cfg = set_fields(get_config('smoke'), **{'stages.stage2.cross_emotion': 0.0})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    D, rows = cfg.decoder, [{'id': f'r{i}', 'split': 'train', 'reply_text': 'hello', 'reply_emotion': 'sad'} for i in range(4)]
    units = [[1, 2, 3]] * 3 + [[1] * (D.max_units + 5)]
    _stand_in_stage1(monkeypatch, cfg, rows, units, D.max_reply_tokens + 1)
    with pytest.raises(ConfigError, match=rf"decoder\.max_units: replies of the dataset hold more than {D.max_units} units \(1; the "
                                          rf"longest, r3, {D.max_units + 5}\): set decoder\.max_units to at least {D.max_units + 5}"):
        stage2.stage2_features(cfg, s, progress=False)
    units[3] = [1] * D.max_units
    _stand_in_stage1(monkeypatch, cfg, rows, units, D.max_reply_tokens + 2)
    with pytest.raises(ConfigError, match=rf"decoder\.max_reply_tokens: reply r0 is {D.max_reply_tokens + 1} tokens long, .*"
                                          rf"set decoder\.max_reply_tokens to at least {D.max_reply_tokens + 1}"):
        stage2.stage2_features(cfg, s, progress=False)
    path = s.run_path / 'stage2_features' / f"{stage2._cache_name(cfg, s)}.pt"
    assert load_cache(path) is None                                       # nothing a later run would read
    _stand_in_stage1(monkeypatch, cfg, rows, units, D.max_reply_tokens + 1)
    f = stage2.stage2_features(cfg, s, progress=False)                    # the longest that fits: whole
    assert len(f['h'][0]) == D.max_reply_tokens and len(f['units'][3]) == D.max_units
    # a reply spoken again in another emotion: its units past decoder.max_units are refused, nothing saved
    tok = SimpleNamespace(encode=lambda mel: torch.zeros(D.max_units + 1, dtype=torch.long))
    for name, fn in (('load_units_tokenizer', lambda cfg, s: tok), ('load_emotion_encoder', lambda cfg, s: None),
                     ('emotion_features', lambda enc, ws, acfg: SimpleNamespace(emotion_vec=torch.zeros(1, cfg.emotion_encoder.dim))),
                     ('open_engine', lambda voice, tts: contextlib.nullcontext()), ('speak', lambda *a, **k: torch.zeros(16000))):
        monkeypatch.setattr(stage2, name, fn)
    cross = set_fields(cfg, **{'stages.stage2.cross_emotion': 0.5})
    f = {'rows': [{**r, 'reply_emotion': e} for r, e in zip(rows, ('sad', 'happy') * 2)], 'h': [torch.zeros(1)] * 4, 'e': [torch.zeros(1)] * 4}
    with pytest.raises(ConfigError, match=rf"decoder\.max_units: reply r0, spoken again as happy, has {D.max_units + 1} units, more "
                                          rf"than {D.max_units}: set decoder\.max_units to at least {D.max_units + 1}"):
        stage2.cross_emotion_examples(cross, f, range(4), s, progress=False)
    assert not list((s.run_path / 'stage2_features').glob('cross_*'))
    # the kit's own replies are up to audio.max_seconds long: a decoder.max_units shorter than that is refused first
    for preset in ('full', 'lite', 'smoke'): stage2.check_reply_units(get_config(preset))
    full = get_config('full')
    assert full.decoder.max_units >= full.audio.max_seconds * full.units.rate_hz              # 1500 ≥ 30 s × 25 Hz
    A, rate = cfg.audio, cfg.units.rate_hz
    most = math.ceil(A.max_seconds * rate)                                # the units of the longest reply the kit speaks
    short = set_fields(cfg, **{'decoder.max_units': most - 1})
    new = get_settings(preset='smoke', data_dir=str(tmp_path / 'd2'), out_dir=str(tmp_path / 'r2'), device='cpu')
    for call in (lambda: stage2.stage2_features(short, new), lambda: stage2.prepare_stage2(short, new),
                 lambda: stage2.cross_emotion_examples(short, f, range(4), new)):
        with pytest.raises(ConfigError, match=rf"decoder\.max_units: {most - 1} is fewer units than a reply of audio\.max_seconds="
                                              rf"{re.escape(f'{A.max_seconds:g}')} s holds at units\.rate_hz={rate} \({most}\), "
                                              rf".*set decoder\.max_units to at least {most}"):
            call()
    assert not (tmp_path / 'r2').exists() and not (tmp_path / 'd2').exists()


def test_stage1_features_of_another_dataset_build_name_the_files_to_delete(tmp_path, monkeypatch):
    "Stage 1's cached features (or a notebook kernel's memo of them) that list other dialogues than the dataset: the message names the cache file and its shards to delete and the kernel to restart (it once said to pass force=True, which stage2_features does not take), and writes no stage-2 cache."
    from emotion_omni_lite import stage2
    from emotion_omni_lite.config import ConfigError, get_settings, set_fields
    from emotion_omni_lite.stage1 import _features_name
    cfg = set_fields(get_config('smoke'), **{'stages.stage2.cross_emotion': 0.0})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    rows = [{'id': f'r{i}', 'split': 'train', 'reply_text': 'hello'} for i in range(3)]
    _stand_in_stage1(monkeypatch, cfg, rows, [[1, 2, 3]] * 3, 5)
    monkeypatch.setattr(stage2, 'load_dialogues', lambda cfg, s: {'id': ['r0', 'r1', 'r2', 'r3'], 'units': [[1, 2, 3]] * 4})
    p = s.run_path / 'stage1_features' / _features_name(cfg, s)
    with pytest.raises(ConfigError) as e: stage2.stage2_features(cfg, s, progress=False)
    said = str(e.value)
    assert f"stage 1's feature cache {p} holds other dialogues (3) than the dataset in {s.data_path} (4)" in said
    assert f"delete {p} and its shards beside it ({p.stem}.00000.pt, …), restart the notebook's kernel" in said
    assert 'force' not in said
    assert not [q for q in (s.run_path / 'stage2_features').glob('*.pt')]


def test_the_vocoder_refuses_another_presets_settings_and_a_split_it_does_not_know(tmp_path):
    "build_vocoder and vocoder_pairs refuse another preset's settings as load_omni does (it was a StageMissing whose command could not help), and vocoder_pairs takes 'train' or 'test' alone (any other word gave the held-out replies), before the dataset is read."
    from emotion_omni_lite import vocoder
    from emotion_omni_lite.config import ConfigError, get_settings
    cfg = get_config('smoke')
    lite = get_settings(preset='lite', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    for call in (lambda: vocoder.build_vocoder(cfg, lite), lambda: vocoder.build_vocoder(cfg, lite, trained=False),
                 lambda: vocoder.vocoder_pairs(cfg, lite), lambda: vocoder.vocoder_job(cfg, lite)):
        with pytest.raises(ConfigError, match=r"the config is preset 'smoke''s, the settings preset 'lite''s .*get_settings\(preset='smoke'\)"):
            call()
    smoke = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    for split in ('tset', 'heldout', 'Train', 'test_voice'):
        with pytest.raises(ValueError, match=rf"vocoder_pairs: split='{split}': use 'train' \(the training replies\) or 'test'"):
            vocoder.vocoder_pairs(cfg, smoke, split=split)
    assert not list(tmp_path.iterdir())
