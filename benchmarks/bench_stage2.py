"""Stage 2 latency on CPU: time to first text token, time to first audio and real-time factor of `respond`.

Run: EOL_PRESET=lite .venv/bin/python benchmarks/bench_stage2.py [n_queries] [--threads 2] [--figures]
Reads a finished lite run (`bash scripts/main.sh`; nothing trains here: every run it reads, with `--figures` the
ablation's too, is checked before the timing, and those missing are named with the command that makes them); the timed
part is only `respond` on held-out queries. `--figures` also prints the emotion accuracy and pocketsphinx WER of
generated speech, with AdaLN and without (the ablation's own stage 2 run, `stage2_no_adaln`), on the report's samples
(the preset's `evaluate.SPEECH_FIGURE_SIZES`: on `lite` 96 replies, the WER over the first 48); it
reads stage 1's and stage 2's feature caches from the run's folder (runs/<preset>/stage1_features, stage2_features, which
the main job leaves there), built there first if missing, as the stages would.
"""
import argparse, json, statistics, sys
from pathlib import Path
import torch
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.dataset import load_dialogues, audio_path
from emotion_omni_lite.evaluate import EVAL_PARTS, SPEECH_FIGURE_SIZES
from emotion_omni_lite.omni import load_omni


def main(n: int = 12, threads: int = 2):
    torch.set_num_threads(threads)
    s = get_settings(device='cpu'); cfg = get_config(s.preset)           # a CPU figure, even where a GPU is
    omni = load_omni(cfg, s)
    rows = [r for r in load_dialogues(cfg, s) if r['split'] != 'train'][:n]
    if not rows: raise SystemExit(f"bench_stage2: the dataset in {s.data_path} holds no held-out dialogue to time: build it "
                                  f"whole (`eol run --preset {s.preset} --stages data`)")
    omni.respond(audio_path(rows[0], s, 'query'))                       # warm-up
    res = {}
    for streaming in (True, False):
        rs = [omni.respond(audio_path(r, s, 'query'), streaming) for r in rows]
        def med(k):                                                     # a reply that says nothing has no first audio
            v = [x['timings'][k] for x in rs if x['timings'][k] is not None]
            return statistics.median(v) if v else None
        spoke = [x for x in rs if x['audio_seconds']]                   # a reply with no speech has no real-time factor
        secs = sum(x['audio_seconds'] for x in spoke)
        if not secs: raise SystemExit(f"bench_stage2: none of the {len(rs)} replies has speech, so there is no real-time "
                                      f"factor to measure: is stage 2 trained (eol run --stages stage2)?")
        res['streaming' if streaming else 'full'] = {
            'first_text_token_ms': med('first_text_token_ms'), 'first_audio_ms': med('first_audio_ms'),
            'text_done_ms': med('text_done_ms'), 'total_ms': med('total_ms'),
            'rtf': round(sum(x['timings']['total_ms'] for x in spoke) / 1000 / secs, 3), 'audio_seconds_mean': round(secs / len(rs), 2),
            'replies_with_speech': len(spoke)}
    print(f"stage 2 respond on {s.preset}, {len(rows)} held-out queries, {threads} threads (medians):")
    ms = lambda v: '     -' if v is None else f"{v:6.1f}"
    for k, v in res.items():
        print(f"  {k:9s} first text token {ms(v['first_text_token_ms'])} ms | first audio {ms(v['first_audio_ms'])} ms | "
              f"text done {ms(v['text_done_ms'])} ms | total {ms(v['total_ms'])} ms | RTF {v['rtf']:.3f} "
              f"(mean reply {v['audio_seconds_mean']} s; RTF over the {v['replies_with_speech']} of {len(rows)} with speech)")
    print(json.dumps(res))
    return res


def figures():
    from emotion_omni_lite.omni import speech_figures
    s = get_settings(device='cpu'); cfg = get_config(s.preset)
    wer = lambda v: '—' if v is None else f'{v:.2f}'
    sz = SPEECH_FIGURE_SIZES.get(cfg.preset, SPEECH_FIGURE_SIZES['lite'])   # the report's samples
    for adaln in (True, False):
        m = speech_figures(cfg, s, sz['n_eval'], load_omni(cfg, s, stage2='stage2' if adaln else 'stage2_no_adaln'),
                           n_follow=sz['n_follow'], n_wer=sz['n_wer'])
        print(f"AdaLN {'on ' if adaln else 'off'}: emotion acc of {sz['n_eval']}: generated {m['generated_emotion_acc']:.0%} | true text "
              f"{m['teacher_text_emotion_acc']:.0%} | reference {m['reference_emotion_acc']:.0%} | vocoded ref units "
              f"{m['vocoded_reference_units_emotion_acc']:.0%};  pocketsphinx WER of the first {sz['n_wer']}: generated "
              f"{wer(m.get('generated_wer'))} | reference {wer(m.get('reference_wer'))}")   # no WER: no reply had words to score
        print(json.dumps(m))


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('n_queries', type=int, nargs='?', default=12, help='held-out queries to time')
    ap.add_argument('--threads', type=int, default=2, help='torch threads')
    ap.add_argument('--figures', action='store_true', help='also the speech figures, with AdaLN and without')
    a = ap.parse_args()
    if a.n_queries < 1: ap.error(f"n_queries {a.n_queries}: time at least one query")
    if a.threads < 1: ap.error(f"--threads {a.threads}: give 1 or more")
    def both():
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_flops import require_runs
        s = get_settings(device='cpu')                                  # every run it reads, before the timing
        require_runs(EVAL_PARTS['omni'] + (('stage2_no_adaln',) if a.figures else ()), get_config(s.preset), s, 'bench_stage2')
        main(a.n_queries, a.threads)
        if a.figures: figures()
    run_script(both, 'benchmarks/bench_stage2.py')                      # the kit's errors said as eol says them
