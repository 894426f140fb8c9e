"Stage 1: splicing and masking, the emotion head, freezing, LoRA save/merge, batched generation, and (lite) the figures."
import json
from functools import partial
import pytest
import torch
from emotion_omni_lite.report import assert_guard
from emotion_omni_lite.config import TrainConfig, get_config
from emotion_omni_lite.train import fit, freeze
from emotion_omni_lite.text_llm import add_lora, build_llm, build_prompt, speech_token_id, train_tokenizer
from emotion_omni_lite.adapter import build_adapter
from emotion_omni_lite.stage1 import (EmotionCentroids, ReplyStyleClassifier, Stage1Model,
                                      Stage1Pipeline, build_emotion_head, collate_stage1, emotion_loss, splice_speech,
                                      stage1_loss)

REPLIES = ["That is wonderful news!", "I am so sorry about the exam.", "Really? Tell me more!", "Let us take a breath."]


@pytest.fixture(scope='module')
def tok():
    return train_tokenizer(REPLIES * 10 + ["We won the match!"] * 5, 400)


def _model(cfg, tok, seed=0):
    torch.manual_seed(seed)
    llm = add_lora(freeze(build_llm(cfg)), cfg)
    return Stage1Model(build_adapter(cfg), llm, build_emotion_head(cfg), speech_token_id(tok), cfg)


def _examples(cfg, tok, n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        T = int(torch.randint(10, 40, (1,), generator=g))
        out.append(dict(build_prompt(tok, reply=REPLIES[i % 4]), n50=T,
                        sem=torch.randn(T, cfg.semantic_encoder.d_model, generator=g),
                        emo=torch.randn(T, cfg.emotion_encoder.dim, generator=g) + (i % 4),
                        emotion_vec_true=torch.randn(cfg.emotion_encoder.dim, generator=g) + (i % 4)))
    return out


def test_splice_replaces_placeholder_and_masks_all_but_reply(tok):
    emb = torch.nn.Embedding(400, 6).requires_grad_(False)
    ex = [build_prompt(tok, reply=r) for r in REPLIES[:3]]
    b = collate_stage1([{**e, 'n50': 5, 'sem': torch.zeros(5, 1)} for e in ex])
    sp = torch.randn(3, 7, 6); n = torch.tensor([7, 2, 0]); sid = speech_token_id(tok)
    for left in (False, True):
        x, att, y = splice_speech(emb, b['input_ids'], b['attention_mask'], b['labels'], sp, n, sid, left)
        assert att.sum(1).tolist() == (b['attention_mask'].sum(1) - 1 + n).tolist()
        assert not att.all() and att[:, -1 if left else 0].all()            # rows of unlike lengths, padded on the side asked for
        for i, e in enumerate(ex):
            ids, j = torch.tensor(e['input_ids']), e['input_ids'].index(sid)
            want = torch.cat([emb(ids[:j]), sp[i, :n[i]], emb(ids[j + 1:])])  # the prompt's tokens, its valid speech in <speech>'s place
            assert torch.equal(x[i][att[i].bool()], want)
            lab = y[i][att[i].bool()]
            reply = torch.tensor(e['labels'][e['n_prompt']:])
            assert torch.equal(lab[lab != -100], reply)                   # labels: the reply and its end token only
            assert (lab[:len(lab) - len(reply)] == -100).all()             # nothing before the reply is a target
        assert (y[att == 0] == -100).all()
    with pytest.raises(ValueError, match='<speech>'):
        splice_speech(emb, b['input_ids'][:, :2], b['attention_mask'][:, :2], b['labels'][:, :2], sp, n, speech_token_id(tok))


def test_emotion_loss_formula_and_full_head_size(tok):
    # pooling only the first n_tokens reply tokens: checked in nbs/11_stage1.ipynb (cell ec0ff27c)
    v = torch.tensor([[1., 2, 2], [0, 0, 3]])                               # mean square 3: MSE(v, -v) = 4·3, MSE(v, 2v) = 3
    assert torch.allclose(emotion_loss(v, v), torch.tensor(0.), atol=1e-6)
    assert torch.allclose(emotion_loss(v, -v), torch.tensor(0.6 * 12 + 0.4 * 2))   # opposite rows: 1 − cos = 2 each
    assert torch.allclose(emotion_loss(v, 2 * v), torch.tensor(0.6 * 3))           # same directions: the MSE term alone
    cfg = get_config('smoke', **{'stages.stage1.mse_weight': 1.0, 'stages.stage1.cos_weight': 0.0, 'stages.stage1.emotion_weight': 2.0})
    ex = _examples(cfg, tok, 3)
    with torch.no_grad(): r = _model(cfg, tok)(collate_stage1(ex))       # the stage's weights reach its loss, not the defaults
    true = torch.stack([e['emotion_vec_true'] for e in ex])
    assert torch.allclose(r['emotion_loss'], torch.nn.functional.mse_loss(r['emotion_vec_pred'], true))
    assert torch.allclose(r['loss'], r['text_loss'] + 2.0 * r['emotion_loss'])
    with torch.device('meta'):
        full = build_emotion_head(get_config('full'))
    assert [l.weight.shape for l in full.mlp if hasattr(l, 'weight')] == [(1792, 3584), (768, 1792)]


@pytest.mark.parametrize('mode', ['concat', 'interleave'])
def test_forward_shapes_and_trainable_parts(tok, mode):
    cfg = get_config('smoke', **{'adapter.mode': mode})
    m = _model(cfg, tok)
    ex = _examples(cfg, tok, 3)
    r = m(collate_stage1(ex))
    per = 1 if mode == 'concat' else 2
    L = max(len(e['input_ids']) - 1 + per * (e['n50'] // 5) for e in ex)
    assert r['hidden'].shape == (3, L, cfg.llm.hidden_size) and r['emotion_vec_pred'].shape == (3, cfg.emotion_encoder.dim)
    assert r['reply_mask'].sum(1).tolist() == [len(e['input_ids']) - e['n_prompt'] for e in ex]
    names = [n for n, p in m.named_parameters() if p.requires_grad]
    assert {n.split('.')[0] for n in names} == {'adapter', 'llm', 'head'}
    assert all('lora_' in n for n in names if n.startswith('llm.'))


def test_frozen_tensors_bit_identical_after_training(tok):
    cfg = get_config('smoke')
    m = _model(cfg, tok)
    frozen = {n: p.detach().clone() for n, p in m.named_parameters() if not p.requires_grad}
    moving = {n: p.detach().clone() for n, p in m.named_parameters() if p.requires_grad}
    assert len(frozen) > 5 and any('embed_tokens' in n for n in frozen)
    res = fit(m, _examples(cfg, tok, 16), partial(collate_stage1, pad_id=tok.pad_token_id), stage1_loss,
              TrainConfig(steps=30, batch_size=8, lr=3e-3, log_every=5, ckpt_every=100), progress=False, device='cpu')
    assert res.history[-1]['loss'] < res.history[0]['loss']
    for n, p in m.named_parameters():
        if n in frozen: assert torch.equal(p, frozen[n]), n                  # bit-identical
    assert sum(not torch.equal(p, moving[n]) for n, p in m.named_parameters() if n in moving) == len(moving)


def test_lora_saves_alone_and_merge_matches(tok, tmp_path):
    cfg = get_config('smoke')
    m = _model(cfg, tok).eval()
    with torch.no_grad():
        for n, p in m.llm.named_parameters():
            if 'lora_B' in n: p.normal_(0, 0.1)
    b = collate_stage1(_examples(cfg, tok, 3))
    with torch.no_grad():
        x, att, y = m.splice(b)
        unmerged = m.llm(inputs_embeds=x, attention_mask=att).logits
        with m.llm.disable_adapter(): base = m.llm(inputs_embeds=x, attention_mask=att).logits
        assert not torch.allclose(unmerged, base, atol=1e-4)                # the adapters act, so the merge check below has work to do
        m.llm.save_pretrained(tmp_path / 'lora')
        files = {p.name for p in (tmp_path / 'lora').iterdir()}
        assert 'adapter_model.safetensors' in files and 'model.safetensors' not in files
        from safetensors.torch import load_file
        saved = load_file(str(tmp_path / 'lora' / 'adapter_model.safetensors'))
        assert saved and all('lora_' in k for k in saved)
        merged = m.llm.merge_and_unload()
        assert not any('lora' in n for n, _ in merged.named_parameters())
        assert torch.allclose(merged(inputs_embeds=x, attention_mask=att).logits, unmerged, atol=1e-5)


def test_batched_generation_equals_one_by_one_and_respond_outputs(tok):
    cfg = get_config('smoke')
    m = _model(cfg, tok).eval()
    with torch.no_grad():
        for n, p in m.llm.named_parameters():
            if 'lora_B' in n: p.normal_(0, 0.3)
    pipe = Stage1Pipeline(m, tok, EmotionCentroids(['happy', 'sad'], torch.randn(2, cfg.emotion_encoder.dim)), cfg)
    feats = [{k: e[k] for k in ('sem', 'emo', 'n50')} for e in _examples(cfg, tok, 4)]
    assert pipe.generate(feats, 6) == [pipe.generate([f], 6)[0] for f in feats]
    out = pipe.respond_features(feats, 6, batch_size=3)                    # two batches, 3 and 1
    assert [o['reply_ids'] for o in out] == pipe.generate(feats, 6)            # the reply it writes, in the queries' order
    for o in out:
        n = len(o['reply_ids'])
        assert o['text'] == tok.decode(o['reply_ids'], skip_special_tokens=True).strip()
        assert o['hidden'].shape == o['inputs_embeds'].shape == (n, cfg.llm.hidden_size)
        assert o['emotion_vec_pred'].shape == (cfg.emotion_encoder.dim,)
        assert o['reply_emotion'] == pipe.centroids.predict(o['emotion_vec_pred'][None])[0]   # the centroid nearest its own vector
        assert torch.equal(o['inputs_embeds'], m.llm.get_input_embeddings()(torch.tensor(o['reply_ids'])))


def test_style_classifier_and_centroids():
    clf = ReplyStyleClassifier().fit(REPLIES, ['cheerful', 'comforting', 'curious', 'calming'])
    assert clf.predict(["so sorry about the game", "tell me more!"]) == ['comforting', 'curious']
    c = EmotionCentroids.fit(torch.tensor([[1., 0], [0, 1], [1, .1]]), ['sad', 'happy', 'sad'])
    assert c.labels == ['happy', 'sad'] and c.predict(torch.tensor([[3., 1], [.7, .9]])) == ['sad', 'sad']
    # the classes spread along y alone, so a step along x counts far more: [.7, .9] is 'sad', though nearer 'happy' in plain distance
    assert EmotionCentroids(c.labels, c.centroids).predict(torch.tensor([[.7, .9]])) == ['happy']


def test_smoke_stage_end_to_end(smoke_settings):
    "The whole chain on smoke: run folder contents, reuse, replies to a spoken query."
    from emotion_omni_lite.cli import ensure_stages
    from emotion_omni_lite.stages import run_stage
    from emotion_omni_lite.stage1 import load_stage1, speech_features, stage1_features, stage1_job
    from emotion_omni_lite.semantic_encoder import load_semantic_encoder
    from emotion_omni_lite.emotion_encoder import load_emotion_encoder
    from emotion_omni_lite.audio import load_audio
    from emotion_omni_lite.dataset import audio_path
    cfg = get_config('smoke')
    ensure_stages(['asr', 'emotion_encoder', 'text_llm'], cfg, smoke_settings)
    # stage 1 learns from the encoders' cached features and never writes their files (a hash of them could not change):
    # frozen encoders are test_encoders.py's test_later_stages_cannot_change_encoders, the stage's frozen LLM
    # test_frozen_tensors_bit_identical_after_training
    run = run_stage('stage1', cfg, stage1_job, smoke_settings)
    names = {p.name for p in run.iterdir()}
    assert {'model.safetensors', 'lora', 'centroids.json', 'config.json', 'metrics.json', 'history.json'} <= names
    from safetensors.torch import load_file
    saved = load_file(str(run / 'model.safetensors'))
    assert {k.split('.')[0] for k in saved} == {'adapter', 'head', 'llm'}
    assert all('lora_' in k for k in saved if k.startswith('llm.'))           # no frozen LLM weight is saved
    lora = {p.name for p in (run / 'lora').iterdir()}                         # LoRA on its own, in peft's format:
    assert 'adapter_model.safetensors' in lora and not lora & {'model.safetensors', 'pytorch_model.bin'}
    ad = load_file(str(run / 'lora' / 'adapter_model.safetensors'))          # peft drops the adapter's name from its keys
    assert ad and all('lora_' in k for k in ad)
    assert all(torch.equal(v, saved['llm.' + k.replace('.weight', '.default.weight')]) for k, v in ad.items())   # the trained LoRA
    m = json.loads((run / 'metrics.json').read_text())
    assert m['n_eval'] > 0 and 0 <= m['tone_style_match'] <= 1
    stamp = (run / 'model.safetensors').stat().st_mtime_ns
    assert run_stage('stage1', cfg, lambda *a: 1 / 0, smoke_settings) == run                    # reused: no job asked for
    assert (run / 'model.safetensors').stat().st_mtime_ns == stamp
    feats = stage1_features(cfg, smoke_settings)
    assert len(feats['sem']) == len(feats['rows']) and feats['emotion_vec_true'].shape == (len(feats['rows']), cfg.emotion_encoder.dim)
    pipe = load_stage1(cfg, smoke_settings)
    params = dict(pipe.model.named_parameters())
    assert all(torch.equal(params[k].cpu(), v) for k, v in saved.items())    # the trained weights, not a fresh build's
    wave = load_audio(audio_path(feats['rows'][0], smoke_settings, 'query'))
    f = speech_features(load_semantic_encoder(cfg, smoke_settings), load_emotion_encoder(cfg, smoke_settings), wave, cfg.audio)
    head = []                                                       # the LM head's outputs while the replies are read:
    hook = pipe.model.llm.get_output_embeddings().register_forward_hook(lambda m, a, o: head.append(tuple(o.shape)))
    pipe.reply_states([f, f], ['fine, thank you', 'oh no'])               # one position each, not every position's logits
    hook.remove()
    assert head == [(2, 1, cfg.llm.vocab_size)], head
    out = pipe.respond_features([f], max_new_tokens=5)[0]
    assert isinstance(out['text'], str) and out['reply_emotion'] == pipe.centroids.predict(out['emotion_vec_pred'][None])[0]
    assert out['hidden'].shape == out['inputs_embeds'].shape == (len(out['reply_ids']), cfg.llm.hidden_size)
    assert out['emotion_vec_pred'].shape == (cfg.emotion_encoder.dim,)
    abl = run_stage('stage1_semantic_only', cfg, stage1_job, smoke_settings)
    assert abl.name == 'stage1_semantic_only' and (abl / 'metrics.json').exists()



def _shard_files(path):
    return sorted(path.parent.glob(f"{path.stem}.[0-9][0-9][0-9][0-9][0-9].pt"))


def _same(a, b):
    "Two caches as loaded: the same keys, lists item for item (tensors bit for bit, dtypes too), the rest equal."
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], dict): _same(a[k], b[k])
        elif torch.is_tensor(a[k]): assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
        elif isinstance(a[k], list) and a[k] and torch.is_tensor(a[k][0]):
            assert len(a[k]) == len(b[k]) and all(x.dtype == y.dtype and torch.equal(x, y) for x, y in zip(a[k], b[k])), k
        elif k != 'seconds': assert a[k] == b[k], k


def test_smoke_feature_caches_in_many_shards_hold_what_one_shard_holds(smoke_settings, tmp_path, monkeypatch):
    "Stage 1's and stage 2's feature caches, built in shards of a few kilobytes (the paper's scale needs many; lite's are one each), read back item for item as the one-shard build."
    from emotion_omni_lite import stage1, stage2, train
    from emotion_omni_lite.cli import ensure_stages
    cfg, s = get_config('smoke'), smoke_settings
    ensure_stages(['asr', 'emotion_encoder', 'text_llm', 'stage1'], cfg, s)
    aug = get_config('smoke', **{'stages.stage1.aug_copies': 1})                # the augmented copies' frames too
    builds = [(lambda: stage1.stage1_features(aug, s, progress=False), s.run_path / 'stage1_features' / stage1._features_name(aug, s)),
              (lambda: stage2.stage2_features(cfg, s, progress=False), s.run_path / 'stage2_features' / f"{stage2._cache_name(cfg, s)}.pt")]
    for build, path in builds:
        stage1._FEATURES.clear()
        one = build()
        assert len(_shard_files(path)) == 1
        keep = tmp_path / path.parent.name; keep.mkdir()
        for f in [path, *_shard_files(path)]: f.rename(keep / f.name)        # put by: built again below
        try:
            with monkeypatch.context() as m:
                m.setattr(train, 'CACHE_SHARD_BYTES', 4096)
                stage1._FEATURES.clear()
                many = build()
            assert len(_shard_files(path)) > 3
            stage1._FEATURES.clear()
            _same(one, many); _same(one, train.load_cache(path))            # as built, and as a later process reads it
        finally:                                                            # the shared run's one-shard build back, pass or fail
            stage1._FEATURES.clear()
            for f in [path, *_shard_files(path)]: f.unlink(missing_ok=True)
            for f in keep.iterdir(): f.rename(path.parent / f.name)
        lists = ('sem', 'emo') if path.parent.name == 'stage1_features' else ('h', 'e', 'units')
        assert all(len(many[k]) == len(many['rows']) for k in lists)
        if path.parent.name == 'stage1_features': assert len(many['aug']['sem']) == len(many['aug']['row']) > 0


def test_a_cache_built_by_another_process_while_this_one_waited_is_read_not_built_again(smoke_settings, monkeypatch):
    "Two processes that need the same feature cache (evaluation parts side by side) take turns: the second, once the lock is its, reads what the first built."
    from emotion_omni_lite import stage1, stage2
    held, looked = [False], []
    class Lock:                                                         # the lock, as its holder sees it
        def __init__(self, path): assert path.name.endswith('.pt')
        def __enter__(self): held[0] = True
        def __exit__(self, *exc): held[0] = False
    for mod, build, get in ((stage1, '_encode_dialogues', stage1.stage1_features), (stage2, '_reply_states', stage2.stage2_features)):
        looks, looked[:] = iter([None, {'rows': ['built by the other process']}]), []   # missing, then there once the lock is held
        monkeypatch.setattr(mod, 'StageLock', Lock)
        monkeypatch.setattr(mod, 'load_cache', lambda path: looked.append(held[0]) or next(looks))
        monkeypatch.setattr(mod, build, lambda *a: 1 / 0)                 # never built here
        stage1._FEATURES.clear()
        assert get(get_config('smoke'), smoke_settings)['rows'] == ['built by the other process']
        assert looked == [False, True]                                  # looked again with the lock held
    stage1._FEATURES.clear()


def test_smoke_stage1_on_one_engine_scored_on_the_other(smoke_settings):
    "stages.stage1.cross_engine: left out of the main job unless switched on (or named); trained on espeak's queries through the espeak-only encoder, scored on every Piper dialogue."
    from emotion_omni_lite.cli import ensure_stages, plan_tasks
    from emotion_omni_lite.evaluate import engine_figures, eval_stages
    from emotion_omni_lite.stages import stage_config, stage_folder, stage_hash
    from emotion_omni_lite.stage1 import _features_name, stage1_features
    from emotion_omni_lite.tts import engine_of
    cfg, on = get_config('smoke'), get_config('smoke', **{'stages.stage1.cross_engine': True})
    name = 'stage1_espeak_only'
    assert name not in [t.name for t in plan_tasks(cfg, smoke_settings)] and name not in eval_stages(cfg)
    assert name in [t.name for t in plan_tasks(on, smoke_settings)] and name in eval_stages(on)
    assert [t.name for t in plan_tasks(cfg, smoke_settings, [name])] == [name]            # named: it runs, switch or not
    assert all(stage_hash(n, on, 0) == stage_hash(n, cfg, 0) for n in ('stage1', 'stage2'))   # the switch retrains nothing
    x = stage_config(name, cfg)
    assert x.emotion_encoder.train_engine == 'espeak' and _features_name(x, smoke_settings) != _features_name(cfg, smoke_settings)
    ensure_stages(['emotion_encoder', 'emotion_encoder_piper_only', name], on, smoke_settings)
    m = json.loads((stage_folder(name, smoke_settings) / 'metrics.json').read_text())
    rows = stage1_features(x, smoke_settings)['rows']
    espeak = [engine_of(r['voice'], x.data.tts) == 'espeak' for r in rows]
    assert m['n_train'] == sum(e and r['split'] == 'train' for e, r in zip(espeak, rows))       # espeak's queries only
    assert m['n_eval'] == sum(e and r['split'] != 'train' for e, r in zip(espeak, rows))
    assert m['other_engine_n_eval'] == len(rows) - sum(espeak) > 0                            # every Piper dialogue
    figs = engine_figures(on, smoke_settings)
    assert figs['cross_engine_stage1_reply_emotion_tone'] == m['other_engine_tone_reply_emotion_acc']
    assert figs['cross_engine_stage1_own_style'] == m['style_match'] and 'cross_engine_stage1_style' not in engine_figures(cfg, smoke_settings)

@pytest.fixture(scope='module')
def lite_figures(lite_settings):
    "Held-out figures of the lite model and of its semantic-only ablation, as each run's evaluation wrote them (one source)."
    from emotion_omni_lite.stages import require_stage
    cfg = get_config('lite')
    full, sem = (json.loads((require_stage(n, cfg, lite_settings) / 'metrics.json').read_text())   # current runs only
                 for n in ('stage1', 'stage1_semantic_only'))
    print({k: (full[k], sem[k]) for k in full if k.endswith(('_acc', '_match'))})
    return full, sem


@pytest.mark.slow
def test_lite_reply_style_matches_user_emotion(lite_figures):
    full, _ = lite_figures
    assert full['style_classifier_on_true_replies'] >= 0.98              # the judge itself is reliable
    assert_guard('stage 1 reply style (tone)', full['tone_style_match'])


@pytest.mark.slow
def test_lite_reply_emotion_accuracy(lite_figures):
    assert_guard('stage 1 reply emotion (tone)', lite_figures[0]['tone_reply_emotion_acc'])


@pytest.mark.slow
def test_lite_semantic_only_falls_to_what_timing_alone_tells(lite_settings):
    # The semantic stream (envelope front end) hears neither pitch nor loudness, but a 50 Hz stream always shows how
    # long the words took. So without the emotion stream the model should know no more than speaking rate and pauses
    # tell (a probe on three timing numbers, run once by the evaluation), far below the full model.
    # Chance: 1/3 (reply emotion), 1/6 (style).
    from emotion_omni_lite.evaluate import evaluate_run, run_figures
    evaluate_run(settings=lite_settings, progress=False)                 # reused when current
    figs = run_figures(get_config('lite'), lite_settings)
    for name in ('semantic only − timing alone, reply emotion', 'semantic only − timing alone, style',
                 'full − semantic only, reply emotion', 'full − semantic only, style'):
        assert_guard(name, figs[name])


@pytest.mark.parametrize('saved, mp', [(torch.float16, 'bf16'), (torch.bfloat16, 'fp16')])
def test_a_16bit_llm_of_the_other_type_than_the_stage_computes_in_trains(tmp_path, saved, mp):
    "An fp16 checkpoint under bf16 mixed precision (and the reverse) loads in the type the stage computes in, rather than failing in autocast."
    from emotion_omni_lite.stage1 import build_stage1
    from emotion_omni_lite.train import COMPUTE_DTYPES
    build_llm(get_config('smoke')).to(saved).save_pretrained(tmp_path)
    train_tokenizer(REPLIES * 10, 400, speech=False).save_pretrained(tmp_path)
    cfg = get_config('smoke', **{'llm.pretrained': str(tmp_path), 'stages.stage1.mixed_precision': mp})
    m, t = build_stage1(cfg)
    assert {p.dtype for p in m.llm.parameters() if not p.requires_grad} == {COMPUTE_DTYPES[mp]}
    r = m(collate_stage1(_examples(cfg, t, 2), t.pad_token_id))
    r['loss'].backward()
    assert torch.isfinite(r['loss']) and all(p.grad is not None for p in m.head.parameters())


def test_features_of_pretrained_encoders_are_named_by_the_dataset_and_seed(tmp_path):
    "A pretrained encoder's hash is its checkpoint's name alone: the cache adds the dataset's hash, the seed and the settings the encoders run under; the kit's own encoders' names stay as they were."
    from emotion_omni_lite.config import get_settings
    from emotion_omni_lite.stages import stage_hash
    from emotion_omni_lite.stage1 import _features_name
    s = lambda seed, preset='full': get_settings(preset=preset, out_dir=str(tmp_path / 'runs'), data_dir=str(tmp_path / 'data'), seed=seed)
    full = lambda **kw: get_config('full', **{'units.kind': 'kmeans_mel', 'vocoder.kind': 'griffin_lim', 'vocoder.sample_rate': 16000, **kw})
    names = {_features_name(full(**{'data.n_dialogues': n}), s(seed)) for n in (5000, 200000) for seed in (0, 1)}
    assert len(names) == 4                                               # two datasets, two seeds: four caches
    assert _features_name(full(), s(0)) == _features_name(full(), s(0)) != _features_name(full(**{'stages.stage1.mixed_precision': 'no'}), s(0))
    smoke = get_config('smoke')
    assert _features_name(smoke, s(0, 'smoke')) == f"v2_{stage_hash('asr', smoke, 0)}_{stage_hash('emotion_encoder', smoke, 0)}.pt"


def test_features_of_a_pretrained_encoder_replaced_in_place_are_encoded_again(tmp_path):
    "A pretrained encoder's checkpoint replaced under the same path (other files, sizes or contents) names another feature cache: the features are encoded again rather than read from the old checkpoint's; the same files with other times (a copy, an unpacked archive) keep theirs."
    import os
    from emotion_omni_lite.config import get_settings
    from emotion_omni_lite.stage1 import _features_name
    ck = tmp_path / 'whisper'; ck.mkdir(); (ck / 'config.json').write_text('{}'); (ck / 'model.safetensors').write_bytes(b'1' * 8)
    s = get_settings(preset='full', out_dir=str(tmp_path / 'runs'), data_dir=str(tmp_path / 'data'))
    cfg = get_config('full', **{'units.kind': 'kmeans_mel', 'vocoder.kind': 'griffin_lim', 'vocoder.sample_rate': 16000,
                                'semantic_encoder.pretrained': str(ck)})
    before = _features_name(cfg, s)
    assert _features_name(cfg, s) == before                            # unchanged: the same cache
    (ck / 'model.safetensors').write_bytes(b'2' * 9)                     # other weights under the same path
    assert (bigger := _features_name(cfg, s)) != before
    (ck / 'model.safetensors').write_bytes(b'3' * 9)                     # others again, of the same size
    assert (same_size := _features_name(cfg, s)) not in (before, bigger)
    os.utime(ck / 'model.safetensors', (1, 1)); os.utime(ck / 'config.json', (1, 1))   # only the times: the same checkpoint
    assert _features_name(cfg, s) == same_size


class _FakePipe:
    "Stands in for a trained stage 1: replies `texts[i]` with reply emotion 'neutral' to the i-th query it is asked."
    def __init__(self, texts): self.texts = list(texts)
    def respond_features(self, feats):
        out, self.texts = self.texts[:len(feats)], self.texts[len(feats):]
        return [{'text': t, 'reply_emotion': 'neutral'} for t in out]


def _toy_rows(styles):
    "Four training and three held-out dialogues whose replies have the styles `styles[user_emotion]`."
    said = {'happy': "How lovely, I am so glad!", 'sad': "Oh dear, I am here with you.", 'neutral': "Okay, tell me more."}
    row = lambda sp, u, k: dict(split=sp, user_emotion=u, reply_emotion='neutral', reply_style=styles[u], reply_text=said[u],
                                sentence_kind=k, query_text='q', id=f'{sp}{u}')
    rows = [row('train', u, 'tone') for u in said] + [row('train', 'happy', 'explicit')]
    return rows + [row('test_voice', u, 'tone') for u in said]


def test_style_match_compares_with_the_style_the_training_rows_pair_with_each_user_emotion():
    "A manifest may name its reply styles its own way ('warm', 'soothing'): the replies it trained on are a perfect match, not 0; a reply with no word the classifier knows (an empty one) is never a match. On the kit's own data the pairing is its table."
    from emotion_omni_lite.stage1 import evaluate_stage1, paired_styles
    from emotion_omni_lite.dataset import plan_dialogues
    from emotion_omni_lite.dialogues import REPLY_STYLE
    rows = _toy_rows({'happy': 'warm', 'sad': 'soothing', 'neutral': 'plain'})
    rows.append({**rows[0], 'reply_style': 'odd'})                        # a stray label: the most common one is the pairing
    assert paired_styles(rows) == {'happy': 'warm', 'sad': 'soothing', 'neutral': 'plain'}
    held = [r for r in rows if r['split'] != 'train']
    feats = {'rows': rows, **{k: [None] * len(rows) for k in ('sem', 'emo', 'n50')}}
    m = evaluate_stage1(_FakePipe([r['reply_text'] for r in held]), feats)
    assert m['style_match'] == m['tone_style_match'] == m['style_classifier_on_true_replies'] == 1.0
    m = evaluate_stage1(_FakePipe(['', '...', held[2]['reply_text']]), feats)   # nothing said: a miss, whatever is most common
    assert m['style_match'] == round(1 / 3, 4)
    for preset in ('smoke', 'lite'): assert paired_styles(plan_dialogues(get_config(preset), 0)) == REPLY_STYLE


def test_a_text_only_reply_is_given_the_emotion_the_training_rows_pair_with_its_style():
    "The cascade predicts no emotion: its reply is taken to say the one its style carries in the training rows, so a manifest's own style names ('warm') are read, not taken as neutral; on the kit's own data that is its tables' pairing."
    from emotion_omni_lite.evaluate import style_emotions
    from emotion_omni_lite.dataset import plan_dialogues
    from emotion_omni_lite.dialogues import REPLY_EMOTION, REPLY_STYLE
    rows = [{**r, 'reply_emotion': {'happy': 'happy', 'sad': 'sad', 'neutral': 'neutral'}[r['user_emotion']]}
            for r in _toy_rows({'happy': 'warm', 'sad': 'soothing', 'neutral': 'plain'})]
    rows += [{**rows[0], 'reply_emotion': 'sad'}, {**rows[0], 'split': 'test_voice', 'reply_style': 'odd'}]
    assert style_emotions(rows) == {'warm': 'happy', 'soothing': 'sad', 'plain': 'neutral'}   # the most common; held-out rows unread
    for preset in ('smoke', 'lite'):
        assert style_emotions(plan_dialogues(get_config(preset), 0)) == {REPLY_STYLE[u]: REPLY_EMOTION[u] for u in REPLY_STYLE}


def test_the_style_classifier_names_no_style_for_a_text_with_no_word_it_knows():
    clf = ReplyStyleClassifier().fit(REPLIES, ['cheerful', 'comforting', 'curious', 'calming'])
    assert clf.predict(['', '!?', 'zebra quokka', 'so sorry']) == [None, None, None, 'comforting']


def test_the_style_classifier_reads_words_of_any_script_and_the_kits_own_replies_as_before():
    "Words were [a-z']+ alone: 'félicitations' read as 'f' and 'licitations', a Cyrillic reply as no word at all; the kit's own replies (ASCII) must read as they did."
    import re
    from emotion_omni_lite.dataset import plan_dialogues
    from emotion_omni_lite.dialogues import REPLY_TEMPLATES
    f = ReplyStyleClassifier.features
    assert f("Félicitations, l'équipe!") == ['félicitations', "l'équipe", "félicitations_l'équipe"]
    assert f('Мне так жаль.')[:3] == ['мне', 'так', 'жаль'] and f('बहुत अच्छा')[:2] == ['बहुत', 'अच्छा']   # a vowel sign is no break
    old = lambda t: (w := re.findall(r"[a-z']+", t.lower())) + [a + '_' + b for a, b in zip(w, w[1:])]
    texts = [t for ts in REPLY_TEMPLATES.values() for t in ts] + [r['reply_text'] for p in ('smoke', 'lite') for r in plan_dialogues(get_config(p), 0)]
    assert all(f(t) == old(t) for t in texts + ["It's 5 o'clock_now, OK?! 'quoted'"])


@pytest.mark.parametrize('replies, want', [
    ({'happy': 'Как чудесно, я так рада!', 'sad': 'Ох, я с тобой.', 'neutral': 'Хорошо, расскажи ещё.'}, 1.0),
    ({'happy': '🎉 100', 'sad': '🫂 :(', 'neutral': '👍 42'}, None)])
def test_style_figures_of_replies_in_another_script_or_of_no_words(replies, want):
    "A manifest in Cyrillic scored every style 0 (no word read); replies the classifier finds no word in have no style figure (None), not 0."
    from emotion_omni_lite.stage1 import evaluate_stage1
    rows = [{**r, 'reply_text': replies[r['user_emotion']]} for r in _toy_rows({'happy': 'warm', 'sad': 'soothing', 'neutral': 'plain'})]
    held = [r for r in rows if r['split'] != 'train']
    feats = {'rows': rows, **{k: [None] * len(rows) for k in ('sem', 'emo', 'n50')}}
    m = evaluate_stage1(_FakePipe([r['reply_text'] for r in held]), feats)
    assert m['style_match'] == m['tone_style_match'] == m['style_classifier_on_true_replies'] == want
    assert m['reply_emotion_acc'] == 1.0                                     # the emotion figures stay


def test_stage1_refuses_another_presets_settings_before_anything_is_made(tmp_path):
    "Another preset's settings: named with the fix, before a lock file or a folder is made in that preset's runs folder."
    from emotion_omni_lite.config import ConfigError, get_settings
    from emotion_omni_lite.stage1 import load_stage1, stage1_features
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    for f in (lambda: stage1_features(get_config('lite'), s), lambda: load_stage1(get_config('lite'), s)):
        with pytest.raises(ConfigError, match=r"the config is preset 'lite'.*settings preset 'smoke'.*get_settings\(preset='lite'\)"): f()
    assert not any(tmp_path.rglob('*'))


def test_load_stage1_names_the_stage1_runs_for_a_run_that_is_not_one(tmp_path):
    from emotion_omni_lite.config import ConfigError, get_settings
    from emotion_omni_lite.stage1 import load_stage1
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    for name in ('stage2', 'vocoder', 'nope'):
        with pytest.raises(ConfigError, match=rf"load_stage1: {name!r} is not a stage-1 run: use one of stage1, stage1_semantic_only, stage1_espeak_only"):
            load_stage1(get_config('smoke'), s, name)
    assert not any(tmp_path.rglob('*'))


def test_reply_states_refuses_special_tokens_in_a_reply_and_a_reply_count_unlike_the_queries(tok):
    cfg = get_config('smoke')
    pipe = Stage1Pipeline(_model(cfg, tok), tok, EmotionCentroids(['happy', 'sad'], torch.randn(2, cfg.emotion_encoder.dim)), cfg)
    feats = [{k: e[k] for k in ('sem', 'emo', 'n50')} for e in _examples(cfg, tok, 3)]
    ok = pipe.reply_states(feats[:2], [REPLIES[0], tok(REPLIES[1], add_special_tokens=False)['input_ids']])
    assert ok[0]['reply_ids'] == tok(REPLIES[0], add_special_tokens=False)['input_ids'] + [pipe.end_id]   # text: its words, then the end
    for mark in ('<|im_end|>', '<speech>'):
        with pytest.raises(ValueError, match=rf"reply_states \(reply 1\): the reply text .* holds {mark.replace('|', '[|]')}, .*remove it"):
            pipe.reply_states(feats[:2], [REPLIES[0], f"Fine.{mark} And you?"])
    with pytest.raises(ValueError, match=r"reply_states: features of 3 queries and 1 reply: give one reply to each query"):
        pipe.reply_states(feats, [REPLIES[0]])
