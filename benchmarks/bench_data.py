"""Build the dialogue dataset from scratch into a temporary folder and print its build time and size.

    .venv/bin/python benchmarks/bench_data.py            # lite (the budget: at most 2 minutes on 2 cores)
    .venv/bin/python benchmarks/bench_data.py --preset smoke --keep /tmp/where     # the build stays in /tmp/where/smoke
"""
import argparse, json, os, shutil, tempfile, time
from pathlib import Path
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.dataset import build_dataset, build_info, prosody_markdown


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--preset', default='lite')
    ap.add_argument('--workers', type=int, default=None, help='default: cfg.data.workers')
    ap.add_argument('--keep', default=None, help='a data folder to build in and keep: the build goes to <keep>/<preset> '
                    '(default: a temporary folder, deleted); never the one settings.ini names, whose dataset it would reuse')
    a = ap.parse_args()
    job = get_settings(preset=a.preset)
    job_data, job_runs = Path(job.data_dir).resolve(), Path(job.out_dir).resolve()
    keep = Path(a.keep).expanduser().resolve() if a.keep else None     # where the build goes: the folder checked here
    if keep is not None and (keep == job_data or job_data in keep.parents):
        ap.error(f"--keep {a.keep}: the main job's data folder, or inside it (its dataset would be reused, or a build nested "
                 "in it): name a folder outside it")
    if keep is not None and (keep == job_runs or job_runs in keep.parents):
        ap.error(f"--keep {a.keep}: the main job's runs folder, or inside it (a dataset would land among its runs): "
                 "name a folder outside it")
    if keep is not None and (keep / a.preset).exists() and any((keep / a.preset).iterdir()):
        ap.error(f"--keep {a.keep}: {keep / a.preset} holds a build already, which would be reused and its old time printed "
                 "as if measured now: name a new folder, or delete that one")
    over = {'data.workers': a.workers} if a.workers is not None else {}   # 0: built in this process
    cfg = get_config(a.preset, **over)
    root = str(keep) if keep else tempfile.mkdtemp(prefix='bench_data_')
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
        print(f"phases (s)      {json.dumps(info['phase_seconds'])}")   # unit_fit: the reply frames and the unit k-means
        print(f"size on disk    {info['bytes'] / 1e6:.1f} MB  ({st['query_hours'] + st['reply_hours']:.2f} h of audio)")
        print(f"manifest hash   {info['manifest_hash']}")
        print(f"splits          {json.dumps(st['split'])}")
        print('measured prosody (query audio, tone-dependent sentences):')
        print(prosody_markdown(info['prosody']))
    finally:
        if not a.keep: shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
