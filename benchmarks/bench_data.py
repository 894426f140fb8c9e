"""Build the dialogue dataset from scratch into a temporary folder and print its build time and size.

    .venv/bin/python benchmarks/bench_data.py            # lite (the budget: at most 2 minutes on 2 cores)
    .venv/bin/python benchmarks/bench_data.py --preset smoke --keep /tmp/where
"""
import argparse, json, os, shutil, tempfile, time
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.dataset import build_dataset, build_info, prosody_markdown


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preset', default='lite')
    ap.add_argument('--workers', type=int, default=None, help='default: cfg.data.workers')
    ap.add_argument('--keep', default=None, help='build here and keep it (default: a temporary folder, deleted)')
    a = ap.parse_args()
    over = {'data.workers': a.workers} if a.workers else {}
    cfg = get_config(a.preset, **over)
    root = a.keep or tempfile.mkdtemp(prefix='bench_data_')
    s = get_settings(preset=a.preset, data_dir=root, device='cpu')
    try:
        t0 = time.time()
        build_dataset(cfg, s)
        wall = time.time() - t0
        info = build_info(cfg, s)
        st = info['stats']
        print(f"\npreset {a.preset}: {st['rows']} dialogues ({st['rows']} query + {st['rows']} reply utterances), "
              f"{cfg.data.workers} workers, {os.cpu_count()} CPUs")
        print(f"build time      {wall:.1f} s  (synthesis {info['synth_seconds']} s)")
        print(f"size on disk    {info['bytes'] / 1e6:.1f} MB  ({st['query_hours'] + st['reply_hours']:.2f} h of audio)")
        print(f"manifest hash   {info['manifest_hash']}")
        print(f"splits          {json.dumps(st['split'])}")
        print('measured prosody (query audio, tone-dependent sentences):')
        print(prosody_markdown(info['prosody']))
    finally:
        if not a.keep: shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
