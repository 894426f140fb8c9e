"""How long it takes to check that the recordings and token files a dataset was built from are unchanged.

A dataset of recordings you bring (`units.kind = 'external'`) records each file's size and modification time
(`sources.json`), and every later use compares them with the disk (`stages.check_sources`), about three files a
dialogue. This script writes `--files` small files into a temporary folder (a thousand a subfolder), records them as a
build does, then times the record (`file_stats`) and a full check (`check_sources`, never a reused one), and prints
the size of the record:

    .venv/bin/python benchmarks/bench_sources.py --files 100000

The figures are for the disk the temporary folder is on (`TMPDIR`), with the files just written, so the system's cache
holds their details: a network file system, or a cold cache, takes longer.
"""
import argparse, os, tempfile, time
from pathlib import Path

from emotion_omni_lite.stages import check_sources, file_stats
from emotion_omni_lite.train import save_json


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--files', type=int, default=100_000, help='how many files (the paper-sized set: about 600,000)')
    a = ap.parse_args()
    if a.files < 1: ap.error(f"--files {a.files}: write at least one file")
    with tempfile.TemporaryDirectory() as d:
        d, paths = Path(d), []
        for i in range(a.files):
            p = d / f'{i // 1000:04d}' / f'{i}.wav'
            if i % 1000 == 0: p.parent.mkdir()
            p.write_bytes(b'x' * (i % 64)); paths.append(str(p))
        t = time.perf_counter(); files = file_stats(paths); t_rec = time.perf_counter() - t
        save_json({'files': files}, d / 'sources.json')
        save_json({'status': 'done', 'sources_hash': 'stand-in'}, d / 'build.json')   # a build that records its files
        t = time.perf_counter(); state, changes = check_sources(d, fresh=True); t_check = time.perf_counter() - t
        assert state == 'done' and changes == [], (state, changes[:3])
        size = os.path.getsize(d / 'sources.json')
    print(f"{a.files:,} files: recorded in {t_rec:.2f} s, checked in {t_check:.2f} s "
          f"({t_check / a.files * 1e6:.1f} µs a file); sources.json {size / 1e6:.1f} MB")


if __name__ == '__main__':
    main()
