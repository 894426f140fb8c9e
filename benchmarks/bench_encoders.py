"""Stage 0 for both encoders on `lite` from scratch: time and figures.

Trains the semantic encoder (Whisper ASR stand-in) and the emotion encoder into a temporary run folder and prints
seconds per step and the quality figures. It reads the main job's dataset (the data folder settings.ini names) and
builds none: a missing one is named, with the command that builds it, before anything trains.
Target: stage 0 in at most 3 minutes on a 2-core CPU. The main job trains the two side by side, one thread each, so
stage 0 takes about the longer of the two there (each with the log-mels it reads); here they train one after the
other, and `--threads 1` times each as a worker of the main job runs it. On `lite` each is also set against its
minutes in the stage table (`lite_minutes`, measured in the main job).

    .venv/bin/python benchmarks/bench_encoders.py [--preset lite] [--threads N]   (N = 0, the default: torch's own count)
"""
import argparse, json, os, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.dataset import load_query_mels
from emotion_omni_lite.stages import STAGES, pretrained_source, require_stage, run_stage
from emotion_omni_lite.semantic_encoder import asr_job
from emotion_omni_lite.emotion_encoder import emotion_encoder_job


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--preset', default='lite')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    a = ap.parse_args()
    if a.threads < 0: ap.error(f"--threads {a.threads}: give 1 or more, or 0 for torch's own count")
    if a.threads: torch.set_num_threads(a.threads)
    cfg = get_config(a.preset)
    if given := [f"{n}: {p}" for n in ('asr', 'emotion_encoder') if (p := pretrained_source(n, cfg))]:   # before any log-mel
        ap.error(f"--preset {a.preset}: its encoders are pretrained checkpoints ({'; '.join(given)}), loaded, not trained in "
                 "stage 0: time lite or smoke")
    with tempfile.TemporaryDirectory() as out:
        s = get_settings(preset=a.preset, out_dir=out, device='cpu')
        require_stage('data', cfg, s)                           # the main job's dataset: read, never built here
        t0 = time.time(); rows, _ = load_query_mels(cfg, s); t_mel = time.time() - t0
        t1 = time.time(); asr = run_stage('asr', cfg, asr_job, s); t_asr = time.time() - t1
        t2 = time.time(); emo = run_stage('emotion_encoder', cfg, emotion_encoder_job, s); t_emo = time.time() - t2
        ma, me = (json.loads((p / 'metrics.json').read_text()) for p in (asr, emo))
    total = t_mel + t_asr + t_emo
    table = {n: 60 * STAGES[n].lite_minutes for n in ('asr', 'emotion_encoder')}   # the main job's, one thread each
    within = lambda t, n: (f"; with the log-mels, which each reads in the main job, {t_mel + t:.0f} s against the stage "
                           f"table's {table[n]:.0f}: {'within' if t_mel + t <= table[n] else 'OVER'}" if a.preset == 'lite' else '')
    print(f"preset {a.preset}, {len(rows)} queries, torch threads {torch.get_num_threads()}")
    print(f"log-mels          {t_mel:6.1f} s")
    print(f"semantic encoder  {t_asr:6.1f} s  (training {ma['train_seconds']} s for {cfg.stages.asr.steps} steps, "
          f"{1000 * ma['train_seconds'] / max(1, cfg.stages.asr.steps):.0f} ms/step; scoring {ma['eval_seconds']} s"
          f"{within(t_asr, 'asr')})")
    print(f"emotion encoder   {t_emo:6.1f} s  (training {me['train_seconds']} s for {cfg.stages.emotion.steps} steps, "
          f"{1000 * me['train_seconds'] / max(1, cfg.stages.emotion.steps):.0f} ms/step; scoring {me['eval_seconds']} s"
          f"{within(t_emo, 'emotion_encoder')})")
    side = t_mel + max(t_asr, t_emo)                                  # the main job: the two side by side
    threads = torch.get_num_threads()                                 # the main job's workers: one thread each
    print(f"stage 0 total     {total:6.1f} s one after the other; side by side about {side:.0f} s "
          f"(target <= 180 s: {'met' if side <= 180 else 'MISSED'}"
          + (')' if threads == 1 else f"; on {threads} threads, faster than the main job's one-thread workers: "
             "--threads 1 times them as it runs them)"))
    print('ASR CER:', {k: v for k, v in ma.items() if k.startswith('cer_')})
    print('emotion accuracy:', {k: v for k, v in me.items() if k.startswith('acc_')})


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
