"""Stage 0 for both encoders on `lite` from scratch: time and figures.

Trains the semantic encoder (Whisper ASR stand-in) and the emotion encoder into a temporary run folder and prints
seconds per step and the quality figures. It reads the main job's dataset (the data folder settings.ini names) and
builds none: a missing one is named, with the command that builds it, before anything trains.
Target: both encoders together in at most 3 minutes on a 2-core CPU.

    .venv/bin/python benchmarks/bench_encoders.py [--preset lite] [--threads N]   (N = 0, the default: torch's own count)
"""
import argparse, json, os, tempfile, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.dataset import load_query_mels
from emotion_omni_lite.stages import require_stage, run_stage
from emotion_omni_lite.semantic_encoder import asr_job
from emotion_omni_lite.emotion_encoder import emotion_encoder_job


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preset', default='lite')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    a = ap.parse_args()
    if a.threads < 0: ap.error(f"--threads {a.threads}: give 1 or more, or 0 for torch's own count")
    if a.threads: torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as out:
        s = get_settings(preset=a.preset, out_dir=out, device='cpu')
        cfg = get_config(a.preset)
        require_stage('data', cfg, s)                           # the main job's dataset: read, never built here
        t0 = time.time(); rows, _ = load_query_mels(cfg, s); t_mel = time.time() - t0
        t1 = time.time(); asr = run_stage('asr', cfg, asr_job, s); t_asr = time.time() - t1
        t2 = time.time(); emo = run_stage('emotion_encoder', cfg, emotion_encoder_job, s); t_emo = time.time() - t2
        ma, me = (json.loads((p / 'metrics.json').read_text()) for p in (asr, emo))
    total = t_mel + t_asr + t_emo
    print(f"preset {a.preset}, {len(rows)} queries, torch threads {torch.get_num_threads()}")
    print(f"log-mels          {t_mel:6.1f} s")
    print(f"semantic encoder  {t_asr:6.1f} s  (training {ma['train_seconds']} s for {cfg.stages.asr.steps} steps, "
          f"{1000 * ma['train_seconds'] / max(1, cfg.stages.asr.steps):.0f} ms/step; scoring {ma['eval_seconds']} s)")
    print(f"emotion encoder   {t_emo:6.1f} s  (training {me['train_seconds']} s for {cfg.stages.emotion.steps} steps, "
          f"{1000 * me['train_seconds'] / max(1, cfg.stages.emotion.steps):.0f} ms/step; scoring {me['eval_seconds']} s)")
    print(f"stage 0 total     {total:6.1f} s  (target <= 180 s: {'met' if total <= 180 else 'MISSED'})")
    print('ASR CER:', {k: v for k, v in ma.items() if k.startswith('cer_')})
    print('emotion accuracy:', {k: v for k, v in me.items() if k.startswith('acc_')})


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
