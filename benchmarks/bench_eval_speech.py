"""Two shortcuts the evaluation's speech parts take, each timed against the long way on the same inputs, with what it
changes: nothing, or a few hundredths of a MOS point.

1. The generated replies: one at a time, streaming, as a user meets them (`respond_features`), against all at once
   (`respond_features_many`: the same greedy text loop, then their speech decoded in one batch), and as the evaluation
   makes them (`speech_clips`: the first TIMED_REPLIES alone on the clock, their encoders timed too, the rest at once).
   It prints the three times and how many replies came out the same in text, reply emotion, units and audio as one at
   a time, for each trained system.
2. DNSMOS: a short clip's first looped window (`dnsmos`), against the mean over every 1-s hop of the clip doubled
   to 9-18 s, as the scorer's own wrapper does (`dnsmos(..., every_hop=True)`), on query and reply audio of the data.

Needs a finished run (the main job's): a missing run is named, with the command that makes it, before any work; it
trains nothing. The replies read stage 1's and stage 2's feature caches from that run's folder (stage1_features and
stage2_features in runs/<preset>, which the main job leaves there), built there first if missing, as the stages would.
One thread, as the main job's workers run; run it where nothing else computes.

    .venv/bin/python benchmarks/bench_eval_speech.py                   # preset from settings.ini (lite), 96 replies
    .venv/bin/python benchmarks/bench_eval_speech.py --replies 24 --clips 20
"""
import argparse, os, time

os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
import numpy as np
import torch

from emotion_omni_lite.cli import run_script
from emotion_omni_lite.audio import load_audio
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.evaluate import check_run
from emotion_omni_lite.metrics import dnsmos
from emotion_omni_lite.omni import TIMED_REPLIES, load_omni, speech_clips, speech_rows
from emotion_omni_lite.stage1 import stage1_features
from emotion_omni_lite.stage2 import stage2_features

SYSTEMS = {'omni': ('stage1', 'stage2'), 'omni_no_adaln': ('stage1', 'stage2_no_adaln'),
           'semantic_only': ('stage1_semantic_only', 'stage2')}


def same(a: dict, b: dict) -> bool:
    return (a['reply_ids'] == b['reply_ids'] and a['reply_emotion'] == b['reply_emotion']
            and list(a['units']) == list(b['units']) and torch.equal(a['audio'], b['audio']))


def replies(cfg, s, n: int):
    f1, f2 = stage1_features(cfg, s, progress=False), stage2_features(cfg, s)
    idx = speech_rows(f2['rows'], s.seed, n)
    feats = [{k: f1[k][i] for k in ('sem', 'emo', 'n50')} for i in idx]
    for name, (st1, st2) in SYSTEMS.items():
        omni = load_omni(cfg, s, stage1=st1, stage2=st2)
        omni.respond_features(feats[0])                                   # warm up
        t0 = time.perf_counter(); one = [omni.respond_features(f, True) for f in feats]; t_one = time.perf_counter() - t0
        t0 = time.perf_counter(); many = omni.respond_features_many(feats, True); t_many = time.perf_counter() - t0
        t0 = time.perf_counter(); ev = speech_clips(omni, f1, f2, idx, s, True, ('generated',))['generated'][2]
        t_ev = time.perf_counter() - t0                                   # the evaluation's own way
        print(f"{name:14s} {len(feats)} replies: one at a time {t_one:5.1f} s, at once {t_many:5.1f} s, as the evaluation "
              f"makes them ({min(TIMED_REPLIES, len(feats))} alone on the clock, the rest at once) {t_ev:5.1f} s; the same "
              f"as one at a time: {sum(same(a, b) for a, b in zip(one, many))} and {sum(same(a, b) for a, b in zip(one, ev))} "
              f"of {len(feats)}", flush=True)


def spread(files: list, k: int, start: int, step: int) -> list:
    "`k` of `files`: every `step`-th from `start` where there are that many (lite's), else `k` spread evenly over all there are."
    if start + step * (k - 1) < len(files): return files[start:start + step * k:step]
    return [files[i * len(files) // k] for i in range(k)] if len(files) >= k else files


def dnsmos_windows(s, n: int):
    root = s.data_path / 'audio'
    files = (spread(sorted((root / 'reply').rglob('*.wav')), n // 2, 0, 2)
             + spread(sorted((root / 'query').rglob('*.wav')), n - n // 2, 1000, 40))
    if not files: raise SystemExit(f"bench_eval_speech: {root} holds no query or reply clips (*.wav) for DNSMOS to score: "
                                   f"build the dataset (`eol run --preset {s.preset} --stages data`), or point EOL_DATA_DIR at one")
    waves = [load_audio(f) for f in files]
    dnsmos(waves[0])                                                      # the session, loaded once
    t0 = time.perf_counter(); hops = [dnsmos(w, every_hop=True)['ovrl'] for w in waves]; t_hops = time.perf_counter() - t0
    t0 = time.perf_counter(); first = [dnsmos(w)['ovrl'] for w in waves]; t_first = time.perf_counter() - t0
    d = np.array(first) - np.array(hops)
    print(f"DNSMOS on {len(waves)} clips of the data ({min(len(w) for w in waves) / 16000:.1f}-{max(len(w) for w in waves) / 16000:.1f} s): "
          f"every hop {t_hops:.1f} s, first window {t_first:.1f} s; mean OVRL {np.mean(hops):.3f} -> {np.mean(first):.3f} "
          f"(change {d.mean():+.3f}, largest {np.abs(d).max():.3f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--replies', type=int, default=96, help='generated replies per system (the evaluation speaks 96)')
    ap.add_argument('--clips', type=int, default=40, help='clips of the data DNSMOS scores both ways')
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    for name in ('replies', 'clips', 'threads'):
        if getattr(a, name) < 1: ap.error(f"--{name} {getattr(a, name)}: give 1 or more")
    torch.set_num_threads(a.threads)
    s = get_settings(device='cpu'); cfg = get_config(s.preset)            # CPU times, as the job's workers run
    check_run(cfg, s)                                                     # every run it reads, or the command that makes them
    dnsmos_windows(s, a.clips)
    replies(cfg, s, a.replies)


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
