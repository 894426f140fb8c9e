"""ASR CER per held-out voice, per seed: which new voices the lite ASR stand-in hears worst.

Reads finished runs (seed 0: the kit's own `data/` and `runs/`; other seeds under `--root`, as `bench_seeds.py`
trains them) and transcribes the held-out voices' queries of known sentences that the report's `cer_test_voice` scores
(split `test_voice`, evenly spaced to at most 300, each transcript held to the same length, as `evaluate_asr` does;
their queries of held-out sentences, split `test_both`, belong to the held-out-sentence figure). Every seed's dataset
and ASR run must be there: those missing are named, for every seed, with the command that makes them, before any work.

    .venv/bin/python benchmarks/bench_asr_voices.py [--seeds 0 1 2] [--root runs/seeds]
"""
import argparse, json, os, sys
from collections import defaultdict
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.dataset import load_query_mels
from emotion_omni_lite.metrics import cer
from emotion_omni_lite.semantic_encoder import load_asr_model, scored_queries, transcribe, transcript_cap
from emotion_omni_lite.stages import stage_folder

ROOT = Path(__file__).resolve().parents[1]


def seed_settings(seed: int, root: Path):
    kw = {} if seed == 0 else dict(data_dir=str(root / f's{seed}' / 'data'), out_dir=str(root / f's{seed}' / 'runs'))
    return get_settings(preset='lite', seed=seed, device='cpu', **kw)


def per_voice(cfg, s) -> dict:
    "{voice: (queries, CER)} over the queries `evaluate_asr` scores for `cer_test_voice`, with its cap on a transcript's length."
    rows, mels = load_query_mels(cfg, s)
    idx, longest = scored_queries(rows, 'test_voice'), transcript_cap(rows)   # as evaluate_asr scores them
    hyps = dict(zip(idx, transcribe(load_asr_model(cfg, s), [mels[i] for i in idx], max_chars=longest)))
    by = defaultdict(list)
    for i in idx: by[rows[i]['voice']].append(i)
    return {v: (len(ix), cer([rows[i]['query_text'] for i in ix], [hyps[i] for i in ix])) for v, ix in sorted(by.items())}


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--root', type=Path, default=ROOT / 'runs' / 'seeds', help="where seeds other than 0 trained (default: the checkout's runs/seeds)")
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_flops import every_seed, require_runs
    cfg, seeds = get_config('lite'), {seed: seed_settings(seed, a.root.expanduser().resolve()) for seed in a.seeds}
    every_seed(lambda s: require_runs(['data', 'asr'], cfg, s, 'bench_asr_voices'), seeds.values())   # every seed's, first
    for seed, s in seeds.items():
        for v, (n, c) in per_voice(cfg, s).items():
            print(f"seed {seed}  {v:22s} {n:4d} queries  CER {c:6.1%}")
        report = json.loads((stage_folder('asr', s) / 'metrics.json').read_text()).get('cer_test_voice')
        print(f"seed {seed}  (the run's cer_test_voice, over the same queries: {'—' if report is None else f'{report:.1%}'})")


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
