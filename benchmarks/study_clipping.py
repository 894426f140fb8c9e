"""A study: does the emotion encoder read clipping as anger?

espeak's angry preset brightens the voice (a spectral tilt) at an unchanged RMS, and its peaks then reach full scale:
in the lite dataset most angry queries have samples clipped at ±1, and nearly no other query does. Clipping is then a
cue of the synthesiser, not of anger, that an encoder could learn. The kit's augmentation drives one copy in ten of
every training query 6–18 dB into clipping, whatever its emotion, which should teach the encoder to ignore it. This
script measures both: how often each emotion's queries clip, and what clipping does to the trained encoder's reading of
held-out voices' queries that are not angry:

- *louder*: each query made as loud as it would be driven into clipping, but not clipped (floats beyond ±1 are kept);
- *louder, clipped*: the same gain, then clipped at ±1, as a recorder driven too hot;
- *clipped, same loudness*: clipped at the level that 1 % of its samples exceed, then brought back to its RMS.

The difference between the first two is what clipping alone does at the same loudness. It reads the finished lite run
(`bash scripts/main.sh`; `--seed N` for a seed `bench_seeds.py` trained in the checkout's runs/seeds, `--root` for
another folder) and takes about 25 s.

    .venv/bin/python benchmarks/study_clipping.py [--seed N] [--root runs/seeds] [--fraction 0.01]
"""
import argparse, os
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
import torch
from emotion_omni_lite.audio import CLIP_LEVEL, load_audio
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.dataset import audio_path, load_dialogues
from emotion_omni_lite.emotion_encoder import _read_fn, load_emotion_encoder, predict_emotions
from emotion_omni_lite.tts import engine_of

SEEDS = Path(__file__).resolve().parents[1] / 'runs' / 'seeds'      # bench_seeds.py's --root: other seeds' data and runs

def clipped_share(w: torch.Tensor) -> float:
    return (w.abs() >= CLIP_LEVEL).float().mean().item()     # the level the kit's own upload check calls clipped


def level_for(w: torch.Tensor, fraction: float) -> float:
    "The amplitude that `fraction` of the samples of `w` reach."
    return torch.quantile(w.abs().float(), 1 - fraction).clamp(min=1e-6).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--root', type=Path, default=SEEDS, help="other seeds' data and runs (bench_seeds.py): <root>/sN/{data,runs} "
                                                             "(default: the checkout's runs/seeds, wherever it is run from)")
    ap.add_argument('--fraction', type=float, default=0.01, help='the share of samples driven past the clipping level')
    a = ap.parse_args()
    if not 0 < a.fraction < 0.5: ap.error(f"--fraction {a.fraction}: use a share between 0 and 0.5, e.g. 0.01")
    torch.set_num_threads(1)
    root = a.root.expanduser().resolve()                                # one folder, whatever the settings file's place
    kw = {} if a.seed == 0 else dict(data_dir=str(root / f's{a.seed}' / 'data'), out_dir=str(root / f's{a.seed}' / 'runs'))
    cfg, s = get_config('lite'), get_settings(preset='lite', seed=a.seed, device='cpu', **kw)
    ds = load_dialogues(cfg, s)
    rows = ds.remove_columns([c for c in ('units',) if c in ds.column_names]).to_list()
    enc, read = load_emotion_encoder(cfg, s), _read_fn(cfg)

    print(f"seed {a.seed}: queries with over 0.1 % of their samples at full scale, by emotion and engine (every split)")
    share = {}
    for r in rows:
        share[r['id']] = clipped_share(load_audio(audio_path(r, s, 'query')))
    for eng in ('espeak', 'piper'):
        line = []
        for e in EMOTIONS:
            ids = [r['id'] for r in rows if r['user_emotion'] == e and engine_of(r['voice']) == eng]
            if ids: line.append(f"{e} {sum(share[i] > 0.001 for i in ids)}/{len(ids)}")
        print(f"  {eng:6s}: " + ', '.join(line))

    test = [r for r in rows if r['heldout_voice'] and r['user_emotion'] != 'angry']
    waves = [load_audio(audio_path(r, s, 'query')) for r in test]
    y = torch.tensor([EMOTIONS.index(r['user_emotion']) for r in test])
    gains = [1 / level_for(w, a.fraction) for w in waves]                 # the gain that puts `fraction` past ±1
    views = {'as recorded': waves,
             'louder': [w * g for w, g in zip(waves, gains)],
             'louder, clipped': [(w * g).clamp(-1, 1) for w, g in zip(waves, gains)],
             'clipped, same loudness': [_same_rms((w * g).clamp(-1, 1), w) for w, g in zip(waves, gains)]}
    print(f"\nheld-out voices' queries that are not angry ({len(test)}), each view driven so that {a.fraction:.1%} of "
          "the samples pass full scale:")
    print(f"  {'view':24s} accuracy  read as angry")
    angry = EMOTIONS.index('angry')
    for name, ws in views.items():
        pred = predict_emotions(enc, [read(w) for w in ws])[0]
        print(f"  {name:24s} {(pred == y).float().mean().item():7.1%}  {(pred == angry).float().mean().item():7.1%}")


def _same_rms(y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return y * (like.pow(2).mean().sqrt() / y.pow(2).mean().sqrt().clamp(min=1e-9))


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))
