"""How long one slider change takes to update everything in the probe panel (target on `lite`, 2-core CPU: < 1 s).

A slider change re-synthesises the query, runs the emotion encoder (`hear`), stage 1 (`answer`), stage 2 + vocoder
(`speak`, when stage 2 exists) and redraws the bar chart, the emotion map, the spectrogram and the audio players.
It reads the main job's runs of the preset and trains none: one that is missing is named, with the command that makes
it, before anything runs (`--no-speech` needs neither stage 2 nor the vocoder, `--untrained` neither stage 1 nor the
ASR). Without `--untrained` the emotion map reads stage 1's feature cache from that run's folder
(runs/<preset>/stage1_features, which the main job leaves there), built there first if missing, as stage 1 itself would.

    .venv/bin/python benchmarks/bench_widgets.py              # preset from settings.ini (lite)
    EOL_PRESET=smoke .venv/bin/python benchmarks/bench_widgets.py --repeats 5
"""
import argparse, json, os, statistics, sys, time
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')


def held_to_longest(cfg, llm, decoder=None):
    "`llm` (a reply's text) and `decoder` (its speech units) never end before `llm.max_new_tokens` tokens and `decoder.max_units` units."
    import functools, torch
    llm.generate = functools.partial(llm.generate, min_new_tokens=cfg.llm.max_new_tokens)
    if decoder is not None:                                             # its end unit's logit: never the pick
        eou = decoder.ids['EOU']
        decoder.head.register_forward_hook(lambda m, i, out: out.index_fill(-1, torch.tensor([eou], device=out.device), -float('inf')))


def untrained_parts(cfg, s, with_speech=True):
    "The panel's parts with stages 1 and 2 at the preset's sizes, untrained (the runs they read must be there: `main` names a missing one); every reply runs to `llm.max_new_tokens` tokens and `decoder.max_units` units."
    import numpy as np, torch
    from emotion_omni_lite.config import EMOTIONS
    from emotion_omni_lite.audio import load_audio
    from emotion_omni_lite.emotion_encoder import emotion_features, load_emotion_encoder
    from emotion_omni_lite.semantic_encoder import build_semantic_encoder
    from emotion_omni_lite.stage1 import EmotionCentroids, Stage1Pipeline, build_stage1, speech_features
    from emotion_omni_lite.stage2 import Stage2Model
    from emotion_omni_lite.vocoder import build_vocoder
    from emotion_omni_lite.omni import EmotionOmni, hearing_seconds
    from emotion_omni_lite.widgets import ProbeParts, _sentence_options, _voice_options, fit_emotion_map
    torch.manual_seed(0)
    model, tok = build_stage1(cfg, s)
    emo = load_emotion_encoder(cfg, s)
    sem = build_semantic_encoder(cfg).eval()
    d = cfg.emotion_encoder.dim
    pipe = Stage1Pipeline(model, tok, EmotionCentroids(list(EMOTIONS), torch.randn(6, d)), cfg)
    def hear(w):
        f = emotion_features(emo, w, cfg.audio); return f.probs[0].numpy(), f.emotion_vec[0].numpy()
    def answer(w):
        r = pipe.respond_features([speech_features(sem, emo, load_audio(w), cfg.audio)])[0]
        return {**r, 'emotion_vec_pred': r['emotion_vec_pred'].numpy()}
    speak = None
    if with_speech:
        s2 = Stage2Model(cfg).eval()
        omni = EmotionOmni(cfg, sem, emo, model.adapter, model.llm, model.head, s2.fusion, s2.decoder,
                           build_vocoder(cfg, s), tok, pipe.centroids, model.speech_id, pipe.end_id)
        def speak(reply, vec):
            _, audio = omni.speak_states(reply['hidden'], reply['inputs_embeds'], torch.as_tensor(vec), streaming=True)   # as the panel speaks
            return audio.numpy(), omni.vocoder.sample_rate
    held_to_longest(cfg, model.llm, s2.decoder if with_speech else None)   # the trained text LLM inside would end a reply
    rng = np.random.default_rng(0)                                       # sooner (9–14 tokens on lite), the fresh decoder too
    emap = fit_emotion_map(rng.normal(size=(600, d)), [EMOTIONS[i % 6] for i in range(600)])
    return ProbeParts(hear=hear, answer=answer, speak=speak, sentences=_sentence_options(), voices=_voice_options(cfg),
                      emotion_map=emap, max_seconds=hearing_seconds(cfg), note='untrained stages 1 and 2 (benchmark)')


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--repeats', type=int, default=10, help='slider changes to time per slider')
    ap.add_argument('--threads', type=int, default=2, help='torch threads (the target machine has 2 cores)')
    ap.add_argument('--target', type=float, default=1.0, help='seconds one update may take')
    ap.add_argument('--no-speech', action='store_true', help='leave stage 2 out (text reply only; stage 2 and the vocoder are not read)')
    ap.add_argument('--untrained', action='store_true',
                    help='upper bound before stages 1 and 2 are trained: their modules at the preset\'s sizes with fresh weights, '
                         'every reply held to its longest, llm.max_new_tokens tokens and decoder.max_units speech units (40 and '
                         '200 on lite; the trained text LLM inside and the fresh decoder would end it sooner)')
    a = ap.parse_args()
    if a.repeats < 1: ap.error(f"--repeats {a.repeats}: time at least one change per slider")
    if a.threads < 1: ap.error(f"--threads {a.threads}: give 1 or more")
    import torch
    torch.set_num_threads(a.threads)
    from emotion_omni_lite.config import get_config, get_settings
    from emotion_omni_lite.widgets import ProbePanel, kit_parts
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_flops import require_runs
    s = get_settings(device='cpu'); cfg = get_config(s.preset)
    speech = [] if a.no_speech else ['vocoder'] if a.untrained else ['vocoder', 'stage2']
    require_runs((['emotion_encoder', 'text_llm'] if a.untrained else ['stage1']) + speech, cfg, s, 'bench_widgets')   # only what is read
    t0 = time.perf_counter()
    parts = untrained_parts(cfg, s, not a.no_speech) if a.untrained else kit_parts(cfg, s, with_speech=not a.no_speech)
    setup = time.perf_counter() - t0
    panel = ProbePanel(parts, live=True)
    panel.sentence.value = parts.sentences[0]
    totals, parts_t = {}, {}
    sweeps = {'pitch': [-4.0, 4.0], 'range': [-30.0, 30.0], 'rate': [0.8, 1.25], 'loudness': [-6.0, 6.0]}
    for name, values in sweeps.items():
        slider = getattr(panel, name)
        for i in range(a.repeats):
            t = time.perf_counter()
            slider.value = values[i % 2]                                    # fires one full update
            wall = time.perf_counter() - t
            if panel.message.value: raise SystemExit(f'update failed: {panel.message.value}')
            totals.setdefault(name, []).append(wall)
            for k, v in panel.seconds.items(): parts_t.setdefault(k, []).append(v)
    allt = [x for v in totals.values() for x in v]
    res = {'preset': s.preset, 'threads': a.threads, 'stage2': parts.speak is not None, 'untrained': a.untrained,
           'load_avg': round(os.getloadavg()[0], 2), 'setup_s': round(setup, 2),
           'updates': len(allt), 'median_s': round(statistics.median(allt), 3), 'p90_s': round(sorted(allt)[int(0.9 * (len(allt) - 1))], 3),
           'max_s': round(max(allt), 3), 'per_slider_median_s': {k: round(statistics.median(v), 3) for k, v in totals.items()},
           'breakdown_median_s': {k: round(statistics.median(v), 3) for k, v in parts_t.items()}}
    print(json.dumps(res, indent=1))
    ok = res['median_s'] < a.target
    print(f"one slider change on {s.preset}{' (stages 1-2 untrained: upper bound)' if a.untrained else ''}: median {res['median_s']:.3f} s, p90 {res['p90_s']:.3f} s, max {res['max_s']:.3f} s "
          f"over {len(allt)} updates (target < {a.target:g} s: {'met' if ok else 'NOT met'})")


if __name__ == '__main__':
    from emotion_omni_lite.cli import run_script
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
