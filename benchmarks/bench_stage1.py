"""Stage 1 speed: cached encoder features vs running the frozen encoders at every step, examples per second,
peak memory, and, with `--full-train`, the time of a whole stage 1 training (limit on `lite`: 3 minutes on a 2-core CPU).

    .venv/bin/python benchmarks/bench_stage1.py [--preset lite] [--steps 20] [--threads 2] [--full-train]

It reads the main job's runs (the folders settings.ini names): the dataset, the ASR, the emotion encoder and the text
LLM, and trains none of them: one that is missing is named, with the command that makes it (by the stage table,
9.9 minutes on `lite` when all are missing), before anything runs. Stage 1's feature cache is read from that run's folder
(runs/<preset>/stage1_features, which the main job leaves there), and built there first if missing, as stage 1 itself
would; the stage 1 it times (and, with `--full-train`, trains) is its own and is not saved. Each step follows the stage's
own recipe (`stages.stage1`: its examples, `aug_copies` too, learning rate, gradient clipping, `grad_accum` micro-batches
and mixed precision, as `bench_flops.py` times a stage); the encoders-every-step row runs the same training dialogues'
clean queries and replies through the encoders.
"""
import argparse, os, resource, sys, time
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
    from emotion_omni_lite.train import batch_indices, fit, micro_batches, set_seed
    from emotion_omni_lite.tts import engine_of
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_flops import fit_setup, forward_backward, require_runs
    from emotion_omni_lite.stage1 import encode_speech, stage1_features, stage1_job
    s = get_settings(preset=a.preset, device='cpu')
    cfg = get_config(s.preset)
    require_runs(['asr', 'emotion_encoder', 'text_llm'], cfg, s, 'bench_stage1')   # what it reads (not a stage-1 run: it builds its own)
    t0 = time.time(); feats = stage1_features(cfg, s, progress=False); t_load = time.time() - t0
    rows, only = feats['rows'], cfg.emotion_encoder.train_engine
    train_idx = [i for i, r in enumerate(rows) if r['split'] == 'train' and (not only or engine_of(r['voice'], cfg.data.tts) == only)]
    job = stage1_job(cfg, s)                                    # the stage's own examples (train_idx's, then aug_copies'), model, loss
    set_seed(0)
    tcfg, params, opt, batch, loss_of = fit_setup(job, cfg.stages.stage1, 'bench_stage1')   # its lr, autocast, micro-batches
    bs = tcfg.batch_size
    sem_enc, emo_enc = load_semantic_encoder(cfg, s), load_emotion_encoder(cfg, s)

    def step(parts):                                            # one step as `fit` takes it: micro-batches, clipped
        opt.zero_grad(set_to_none=True); forward_backward(loss_of, parts)
        if tcfg.grad_clip: torch.nn.utils.clip_grad_norm_(params, tcfg.grad_clip)
        opt.step()

    cached = batch                                              # the stage's batches from its cached features

    def recomputed(k):                                          # what a loop without the cache does every step (clean queries)
        idx = batch_indices(len(train_idx), bs, k, 0)
        rows_k = [rows[train_idx[j]] for j in idx]
        sem, emo, n, *_ = encode_speech(sem_enc, emo_enc, [load_audio(audio_path(r, s, 'query')) for r in rows_k], cfg.audio)
        target = encode_speech(sem_enc, emo_enc, [load_audio(audio_path(r, s, 'reply')) for r in rows_k], cfg.audio)[3]
        ex = {j: {**job.data[j], 'sem': sem[m, :n[m]], 'emo': emo[m, :n[m]], 'n50': int(n[m]), 'emotion_vec_true': target[m]}
              for m, j in enumerate(idx)}                       # job.data[j] is train_idx[j]'s example: its prompt, new features
        return [job.collate([ex[j] for j in part]) for part in micro_batches(idx, tcfg.grad_accum)]

    res = {}
    for name, make in (('cached', cached), ('recomputed', recomputed)):
        step(make(0))                                           # warm-up
        t0 = time.time()
        for k in range(1, a.steps + 1): step(make(k))
        res[name] = (time.time() - t0) / a.steps
    print(f"stage 1 benchmark, preset {cfg.preset}, {a.threads} threads, batch {bs} in {tcfg.grad_accum} micro-batch(es), "
          f"lr {tcfg.lr:g}, {a.steps} steps each")
    print(f"  features cache: {len(rows)} dialogues, loaded in {t_load:.1f} s (built once in {feats.get('seconds')} s)")
    print(f"  step with cached features     : {res['cached'] * 1000:7.1f} ms  ({bs / res['cached']:6.1f} examples/s)")
    print(f"  step recomputing the encoders : {res['recomputed'] * 1000:7.1f} ms  ({bs / res['recomputed']:6.1f} examples/s)")
    print(f"  speed-up from the cache       : {res['recomputed'] / res['cached']:.1f}x")
    if a.full_train:
        set_seed(s.seed)                                        # as the stage trains: its job's examples, model and recipe
        r = fit(job.build(), job.data, job.collate, job.loss, cfg.stages.stage1, ckpt_dir=None, seed=s.seed, device='cpu',
                name='stage1 (timed)', progress=False, lengths=job.lengths, augment=job.augment)
        ok = 'within' if r.seconds <= 180 else 'OVER'
        print(f"  whole stage 1 training        : {r.seconds:7.1f} s for {r.steps} steps ({r.steps * bs / r.seconds:.1f} examples/s), "
              f"{ok} the 180 s limit; final loss {r.final_loss:.3f}")
    print(f"  peak memory (max RSS)         : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == '__main__':
    from emotion_omni_lite.cli import run_script
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
