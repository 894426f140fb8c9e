"""A study: guidance on stage 2's emotion vector as it decodes (nothing is trained again).

Each unit's logits are taken twice, from the reply states under the AdaLN vector and under a null vector (by default
the mean of the six reply emotions' centroids), and mixed: l_null + w · (l_vector − l_null). w = 1 is the kit's own
greedy decoding; w > 1 pushes the units further toward what the vector asks for. It prints, per seed and weight, the
spoken replies' emotion as the kit's encoder hears it (generated: stage 1's own words; on the true reply's words; on the
replies whose text training never spoke), how often the speech follows a swapped vector, and pocketsphinx's WER on
the generated speech over all 96 replies (the report's WER is over the first 48, `n_wer`: another sample).
Every reply is decoded in one batch (the kit streams its first 24 on a clock; the units are the same greedy ones).
About 80 s a seed and weight on 2 cores.

    .venv/bin/python benchmarks/study_guidance.py                                # seed 0: the main job's runs
    .venv/bin/python benchmarks/study_guidance.py --seeds 0 1 2 --weights 1 2    # seeds 1, 2: bench_seeds.py's runs

Every seed's runs must be finished (`bash scripts/main.sh` for seed 0, `benchmarks/bench_seeds.py` for the others): those
missing are named, for every seed, with the command that makes them, before any work; it trains nothing. It reads
stage 1's and stage 2's feature caches from that seed's runs folder (for seed 0 the main job's, which leaves them there),
built there first if missing, as the stages would.
"""
import argparse, os, sys, time
from pathlib import Path
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch
from emotion_omni_lite import omni as om
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.decoder import decode_batch
from emotion_omni_lite.evaluate import EVAL_PARTS

SEEDS = Path(__file__).resolve().parents[1] / 'runs' / 'seeds'      # bench_seeds.py's --root: other seeds' data and runs

FIGURES = {'generated_emotion_acc': 'generated', 'teacher_text_emotion_acc': 'true words',
           'generated_emotion_acc_new_text': 'new words', 'follows_condition_acc': 'follows vector',
           'generated_wer': 'WER, all 96'}


class Guided(torch.nn.Module):
    "A decoder head for a batch [states under the vector; the same states under the null vector]: both halves get l_null + w (l_vector − l_null), so both pick the same unit."
    def __init__(self, head, weight: float):
        super().__init__()
        self.head, self.weight = head, weight

    def forward(self, x):
        logits = self.head(x).float()
        cond, null = logits.chunk(2)
        mixed = null + self.weight * (cond - null)
        return torch.cat([mixed, mixed]).to(logits.dtype)


def guided_units(omni, states, null: torch.Tensor, weight: float, streaming: bool = False) -> list:
    "Greedy units of each (h, e, emotion_vec) in `states`, guided by `weight` against the `null` vector (1: the kit's own decoding)."
    dev = omni.device
    fuse = lambda v_of: [omni.fusion(h[None].float().to(dev), e[None].float().to(dev), v_of(v)[None].float().to(dev))[0]
                         for h, e, v in states]
    with omni.precision('stage2'):
        cond = fuse(lambda v: v)
        if weight == 1: return decode_batch(omni.decoder, cond, streaming)
        head, omni.decoder.head = omni.decoder.head, Guided(omni.decoder.head, weight)
        try: return decode_batch(omni.decoder, cond + fuse(lambda v: null), streaming)[:len(cond)]
        finally: omni.decoder.head = head


def null_vector(omni, kind: str) -> torch.Tensor:
    c = omni.centroids
    return {'mean': c.centroids.mean(0), 'neutral': c.centroids[c.labels.index('neutral')],
            'zero': torch.zeros_like(c.centroids[0])}[kind].float()


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--seeds', type=int, nargs='+', default=[0])
    ap.add_argument('--root', type=Path, default=SEEDS, help="where seeds other than 0 keep their data and runs (bench_seeds.py's "
                                                             "--root; default: the checkout's runs/seeds, wherever it is run from)")
    ap.add_argument('--weights', type=float, nargs='+', default=[1.0, 2.0])
    ap.add_argument('--null', choices=('mean', 'neutral', 'zero'), default='mean', help='the vector guidance pushes away from')
    a = ap.parse_args()
    cfg = get_config('lite')
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_flops import every_seed, require_runs
    root = a.root.expanduser().resolve()                                # one folder, whatever the settings file's place
    def settings(seed):                                                 # seed 0: the main job's, wherever settings put them
        kw = {} if seed == 0 else dict(data_dir=str(root / f's{seed}' / 'data'), out_dir=str(root / f's{seed}' / 'runs'))
        return get_settings(preset='lite', seed=seed, device='cpu', **kw)
    seeds = {seed: settings(seed) for seed in a.seeds}
    every_seed(lambda s: require_runs(EVAL_PARTS['omni'], cfg, s, 'study_guidance'), seeds.values())   # every seed's, first
    print(f"{'seed':>4} {'w':>4}  " + '  '.join(f"{v:>14}" for v in FIGURES.values()) + '   seconds')
    for seed, s in seeds.items():
        omni, timed = om.load_omni(cfg, s), om.TIMED_REPLIES
        null = null_vector(omni, a.null).to(omni.device)
        for w in a.weights:
            t0 = time.time()
            def speak_many(states, streaming=False, w=w):                # what `speak_states_many` does, guided
                units = guided_units(omni, states, null, w, streaming)
                return list(zip(units, omni.vocoder.stream_many(units, cfg.decoder.chunk_units)))
            omni.speak_states_many = speak_many
            om.TIMED_REPLIES = 0                                          # every reply through the batch, guided
            try: m = om.speech_figures(cfg, s, omni=omni, sets=('generated', 'teacher_text'), wer_sets=('generated',))
            finally: om.TIMED_REPLIES = timed
            cells = ['—' if m.get(k) is None else f"{m[k]:.1%}" for k in FIGURES]
            print(f"{seed:>4} {w:>4g}  " + '  '.join(f"{c:>14}" for c in cells) + f"   {time.time() - t0:7.0f}", flush=True)


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
