"""ASR CER per held-out voice, per seed: which new voices the lite ASR stand-in hears worst.

Reads finished runs (seed 0: the kit's own `data/` and `runs/`; other seeds under `--root`, as `bench_seeds.py`
trains them) and transcribes every held-out voice's queries of known sentences (split `test_voice`: the report's
`cer_test_voice`; their queries of held-out sentences, split `test_both`, belong to the held-out-sentence figure).

    .venv/bin/python benchmarks/bench_asr_voices.py [--seeds 0 1 2] [--root runs/seeds]
"""
import argparse, os
from collections import defaultdict
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.dataset import load_query_mels
from emotion_omni_lite.metrics import cer
from emotion_omni_lite.semantic_encoder import load_asr_model, transcribe

ROOT = Path(__file__).resolve().parents[1]


def per_voice(seed: int, root: Path) -> dict:
    kw = {} if seed == 0 else dict(data_dir=str(root / f's{seed}' / 'data'), out_dir=str(root / f's{seed}' / 'runs'))
    cfg = get_config('lite')
    s = get_settings(preset='lite', seed=seed, device='cpu', **kw)
    rows, mels = load_query_mels(cfg, s)
    asr, by = load_asr_model(cfg, s), defaultdict(list)
    for i, r in enumerate(rows):
        if r['split'] == 'test_voice': by[r['voice']].append(i)
    return {v: (len(ix), cer([rows[i]['query_text'] for i in ix], transcribe(asr, [mels[i] for i in ix])))
            for v, ix in sorted(by.items())}


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--root', default=str(ROOT / 'runs' / 'seeds'), help='where seeds other than 0 trained')
    a = ap.parse_args()
    for seed in a.seeds:
        for v, (n, c) in per_voice(seed, Path(a.root)).items():
            print(f"seed {seed}  {v:22s} {n:4d} queries  CER {c:6.1%}")


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
