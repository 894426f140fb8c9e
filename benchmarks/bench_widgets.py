"""How long one slider change takes to update everything in the probe panel (target on `lite`, 2-core CPU: < 1 s).

A slider change re-synthesises the query, runs the emotion encoder (`hear`), stage 1 (`answer`), stage 2 + vocoder
(`speak`, when stage 2 exists) and redraws the bar chart, the emotion map, the spectrogram and the audio players.
Stages missing for the preset are trained first (that time is not counted).

    .venv/bin/python benchmarks/bench_widgets.py              # preset from settings.ini (lite)
    EOL_PRESET=smoke .venv/bin/python benchmarks/bench_widgets.py --repeats 5
"""
import argparse, json, os, statistics, time

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeats', type=int, default=10, help='slider changes to time per slider')
    ap.add_argument('--threads', type=int, default=2, help='torch threads (the target machine has 2 cores)')
    ap.add_argument('--target', type=float, default=1.0, help='seconds one update may take')
    ap.add_argument('--no-speech', action='store_true', help='leave stage 2 out (text reply only; stage 2 is not trained)')
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    from emotion_omni_lite.config import get_config, get_settings
    from emotion_omni_lite.widgets import ProbePanel, kit_parts
    s = get_settings(device='cpu'); cfg = get_config(s.preset)
    t0 = time.perf_counter()
    parts = kit_parts(cfg, s, with_speech=not a.no_speech)
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
    res = {'preset': s.preset, 'threads': a.threads, 'stage2': parts.speak is not None, 'setup_s': round(setup, 2),
           'updates': len(allt), 'median_s': round(statistics.median(allt), 3), 'p90_s': round(sorted(allt)[int(0.9 * (len(allt) - 1))], 3),
           'max_s': round(max(allt), 3), 'per_slider_median_s': {k: round(statistics.median(v), 3) for k, v in totals.items()},
           'breakdown_median_s': {k: round(statistics.median(v), 3) for k, v in parts_t.items()}}
    print(json.dumps(res, indent=1))
    ok = res['median_s'] < a.target
    print(f"one slider change on {s.preset}: median {res['median_s']:.3f} s, p90 {res['p90_s']:.3f} s, max {res['max_s']:.3f} s "
          f"over {len(allt)} updates (target < {a.target:g} s: {'met' if ok else 'NOT met'})")


if __name__ == '__main__':
    main()
