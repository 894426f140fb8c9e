"""How long a loader takes to say that a run is missing (it never trains): `.venv/bin/python benchmarks/bench_missing_run.py`."""
import argparse, os, statistics, tempfile, time

from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.stages import StageMissing
from emotion_omni_lite.omni import load_omni


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--preset', default='lite')
    ap.add_argument('--repeats', type=int, default=20)
    a = ap.parse_args()
    if a.repeats < 1: ap.error(f"--repeats {a.repeats}: time at least one call")
    cfg, times, msg = get_config(a.preset), [], ''
    with tempfile.TemporaryDirectory() as d:                    # an empty folder: every run is missing
        s = get_settings(preset=a.preset, data_dir=f'{d}/data', out_dir=f'{d}/runs')
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            try: load_omni(cfg, s)
            except StageMissing as e: msg = str(e)
            times.append(time.perf_counter() - t0)
    print(msg)
    print(f"load_omni on an empty folder, preset {a.preset}: median {1000 * statistics.median(times):.1f} ms, "
          f"max {1000 * max(times):.1f} ms over {a.repeats} calls (imports not counted)")


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
