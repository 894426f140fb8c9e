"""Stage 1 speed: cached encoder features vs running the frozen encoders at every step, examples per second,
peak memory, and, with `--full-train`, the time of a whole stage 1 training (limit on `lite`: 3 minutes on a 2-core CPU).

    .venv/bin/python benchmarks/bench_stage1.py [--preset lite] [--steps 20] [--threads 2] [--full-train]

It reads the main job's runs (the folders settings.ini names): the dataset, the ASR, the emotion encoder and the text
LLM, and trains none of them: one that is missing is named, with the command that makes it (by the stage table,
9.9 minutes on `lite` when all are missing), before anything runs. Stage 1's feature cache is read from that run's folder
(runs/<preset>/stage1_features, which the main job leaves there), and built there first if missing, as stage 1 itself
would; the stage 1 it times (and, with `--full-train`, trains) is its own and is not saved.
"""
import argparse, os, resource, sys, time
from functools import partial
from pathlib import Path

import torch


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--preset', default='lite')
    ap.add_argument('--steps', type=int, default=20, help='steps timed for each way of getting features')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--full-train', action='store_true', help='also time a whole stage 1 training (not saved)')
    a = ap.parse_args()
    if a.steps < 1: ap.error(f"--steps {a.steps}: time at least one step")
    if a.threads < 1: ap.error(f"--threads {a.threads}: give 1 or more")
    torch.set_num_threads(a.threads)
    from emotion_omni_lite.config import get_config, get_settings
    from emotion_omni_lite.audio import load_audio
    from emotion_omni_lite.dataset import audio_path
    from emotion_omni_lite.semantic_encoder import load_semantic_encoder
    from emotion_omni_lite.emotion_encoder import load_emotion_encoder
    from emotion_omni_lite.train import batch_indices, fit, set_seed
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_flops import require_runs
    from emotion_omni_lite.stage1 import (build_stage1, collate_stage1, encode_speech, stage1_example, stage1_features,
                                          stage1_loss)
    s = get_settings(preset=a.preset, device='cpu')
    cfg = get_config(s.preset)
    require_runs(['asr', 'emotion_encoder', 'text_llm'], cfg, s, 'bench_stage1')   # what it reads (not a stage-1 run: it builds its own)
    t0 = time.time(); feats = stage1_features(cfg, s, progress=False); t_load = time.time() - t0
    rows = feats['rows']
    train_idx = [i for i, r in enumerate(rows) if r['split'] == 'train']
    set_seed(0)
    model, tok = build_stage1(cfg, s)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    bs = cfg.stages.stage1.batch_size
    sem_enc, emo_enc = load_semantic_encoder(cfg, s), load_emotion_encoder(cfg, s)

    def step(batch):
        loss, _ = stage1_loss(model, batch)
        opt.zero_grad(); loss.backward(); opt.step()

    def cached(k):
        idx = [train_idx[j] for j in batch_indices(len(train_idx), bs, k, 0)]
        return collate_stage1([stage1_example(feats, i, tok, rows[i]['reply_text']) for i in idx], tok.pad_token_id)

    def recomputed(k):                                          # what a loop without the cache does every step
        idx = [train_idx[j] for j in batch_indices(len(train_idx), bs, k, 0)]
        waves = [load_audio(audio_path(rows[i], s, 'query')) for i in idx]
        sem, emo, n, *_ = encode_speech(sem_enc, emo_enc, waves, cfg.audio)
        target = encode_speech(sem_enc, emo_enc, [load_audio(audio_path(rows[i], s, 'reply')) for i in idx], cfg.audio)[3]
        ex = [{**build, 'sem': sem[j, :n[j]], 'emo': emo[j, :n[j]], 'n50': int(n[j]), 'emotion_vec_true': target[j]}
              for j, build in enumerate(stage1_example(feats, i, tok, rows[i]['reply_text']) for i in idx)]
        return collate_stage1(ex, tok.pad_token_id)

    res = {}
    for name, make in (('cached', cached), ('recomputed', recomputed)):
        step(make(0))                                           # warm-up
        t0 = time.time()
        for k in range(1, a.steps + 1): step(make(k))
        res[name] = (time.time() - t0) / a.steps
    print(f"stage 1 benchmark, preset {cfg.preset}, {a.threads} threads, batch {bs}, {a.steps} steps each")
    print(f"  features cache: {len(rows)} dialogues, loaded in {t_load:.1f} s (built once in {feats.get('seconds')} s)")
    print(f"  step with cached features     : {res['cached'] * 1000:7.1f} ms  ({bs / res['cached']:6.1f} examples/s)")
    print(f"  step recomputing the encoders : {res['recomputed'] * 1000:7.1f} ms  ({bs / res['recomputed']:6.1f} examples/s)")
    print(f"  speed-up from the cache       : {res['recomputed'] / res['cached']:.1f}x")
    if a.full_train:
        set_seed(s.seed)
        m2, tok2 = build_stage1(cfg, s)
        data = [stage1_example(feats, i, tok2, rows[i]['reply_text']) for i in train_idx]
        r = fit(m2, data, partial(collate_stage1, pad_id=tok2.pad_token_id), stage1_loss, cfg.stages.stage1,
                ckpt_dir=None, seed=s.seed, device='cpu', name='stage1 (timed)', progress=False)
        ok = 'within' if r.seconds <= 180 else 'OVER'
        print(f"  whole stage 1 training        : {r.seconds:7.1f} s for {r.steps} steps ({r.steps * bs / r.seconds:.1f} examples/s), "
              f"{ok} the 180 s limit; final loss {r.final_loss:.3f}")
    print(f"  peak memory (max RSS)         : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == '__main__':
    from emotion_omni_lite.cli import run_script
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
