"""Where a reply's emotion is lost on its way through speech units: the kit's emotion encoder judges held-out replies
as they are, through Griffin-Lim of their own log-mel, through k-means codebooks of several sizes (each unit its
centroid), and through the run's trained vocoder.

Reads a finished lite run (seed 0: the kit's own `data/` and `runs/`; other seeds under `--root`) and trains none: the
dataset, emotion encoder or vocoder missing is named, with the command that makes it, before any work. Codebooks are
fitted here on the training replies (every second one), so any size can be compared without rebuilding the data.

    .venv/bin/python benchmarks/bench_units.py [--seed 0] [--root runs/seeds] [--units 128 256 512] [--n 150]
                                               [--run-units N]
"""
import argparse, os, sys
from collections import Counter
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
import torch

from emotion_omni_lite.cli import run_script
from emotion_omni_lite.audio import load_audio, log_mel
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.dataset import UnitTokenizer, audio_path, load_dialogues, load_units_tokenizer
from emotion_omni_lite.emotion_encoder import classify_emotion, load_emotion_encoder
from emotion_omni_lite.vocoder import GriffinLim, build_vocoder

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--root', type=Path, default=ROOT / 'runs' / 'seeds', help="where seeds other than 0 trained (default: the checkout's runs/seeds)")
    ap.add_argument('--units', type=int, nargs='+', default=[128, 256, 512], help='codebook sizes to fit and compare')
    ap.add_argument('--n', type=int, default=150, help='held-out replies judged')
    ap.add_argument('--run-units', type=int, default=None, help="units.n_units of the run read (default: lite's)")
    a = ap.parse_args()
    if a.n < 1: ap.error(f"--n {a.n}: judge at least one held-out reply")
    for opt, ks in (('units', a.units), ('run-units', [] if a.run_units is None else [a.run_units])):
        if bad := [k for k in ks if k < 2]: ap.error(f"--{opt} {bad[0]}: a codebook needs 2 units or more")
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_flops import require_runs
    root = a.root.expanduser().resolve()                                # one folder, whatever the settings file's place
    kw = {} if a.seed == 0 else dict(data_dir=str(root / f's{a.seed}' / 'data'), out_dir=str(root / f's{a.seed}' / 'runs'))
    cfg = get_config('lite', **({'units.n_units': a.run_units} if a.run_units is not None else {}))
    s = get_settings(preset='lite', seed=a.seed, device='cpu', **kw)
    require_runs(['data', 'emotion_encoder', 'vocoder'], cfg, s, 'bench_units')   # what it reads, before any work
    rows = list(load_dialogues(cfg, s).remove_columns('units'))
    test = [r for r in rows if r['split'] != 'train'][::3][:a.n]
    train = [r for r in rows if r['split'] == 'train'][::2]
    judge, gl = load_emotion_encoder(cfg, s), GriffinLim(cfg.audio, cfg.vocoder.griffin_lim_iters)
    want = [r['reply_emotion'] for r in test]
    mel = lambda r: log_mel(load_audio(audio_path(r, s, 'reply')), cfg.audio)
    mels = [mel(r) for r in test]

    def judged(name, waves):
        pr = classify_emotion(judge, waves, cfg.audio).argmax(-1).tolist()
        c = Counter((t, EMOTIONS[p]) for t, p in zip(want, pr))
        acc = sum(n for (x, y), n in c.items() if x == y) / len(test)
        wrong = ', '.join(f'{x}→{y} {n}' for (x, y), n in sorted(c.items(), key=lambda kv: -kv[1]) if x != y)
        print(f"{name:28s} {acc:6.1%}   {wrong}", flush=True)

    print(f"seed {a.seed}: {len(test)} held-out replies, judged by the run's emotion encoder")
    judged('reference', [load_audio(audio_path(r, s, 'reply')) for r in test])
    judged('own log-mel → Griffin-Lim', [gl(m) for m in mels])
    frames = torch.cat([UnitTokenizer(torch.zeros(1, cfg.audio.n_mels)).frames(mel(r)) for r in train])
    for k in a.units:
        tok = UnitTokenizer.fit(frames, k, seed=a.seed)
        judged(f'{k} units, centroids → GL', [gl(tok.decode(tok.encode(m))) for m in mels])
    voc, run_tok = build_vocoder(cfg, s), load_units_tokenizer(cfg, s)
    judged(f'{run_tok.n_units} units, run vocoder', [voc(run_tok.encode(m).tolist()) for m in mels])


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
