"""How much memory a feature cache takes to build and to read: sharded (`train.ShardedCache`) against saved whole.

A feature cache at the paper's scale is hundreds of gigabytes (README, "Feature caches at the paper's scale"). This
script writes a stand-in of `--gb` gigabytes, items of fp16 frames the size of a 5-second query's stage-1 features,
each way in a process of its own, and prints each process's peak resident memory above what it held before it began;
then, for the sharded one, the memory that loading its index and reading `--read` items adds. Run on a disk with `--gb`
free (a little more); each build's files go to a temporary folder, deleted before the next:

    .venv/bin/python benchmarks/bench_cache_memory.py --gb 2 --shard-mb 256
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path


def rss_mb() -> float:
    "This process's resident memory now (MB)."
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def peak_mb() -> float:
    "This process's peak resident memory so far (MB; Linux reports it in KB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(mode: str, folder: Path, gb: float, shard_mb: int, n_read: int) -> dict:
    "Build the stand-in cache one way in this process: the memory it took (and, sharded, what reading it back takes)."
    import torch
    from emotion_omni_lite.train import ShardedCache, load_cache, save_cache
    frames, width = 250, 96 + 64                                       # 5 s at 50 frames/s; lite's two encoders' widths
    item = frames * width * 2                                          # bytes of one item's fp16 frames
    n = max(2, int(gb * 2**30 / item))
    g = torch.Generator().manual_seed(0)
    base, t0 = rss_mb(), time.time()
    path = folder / 'features.pt'
    if mode == 'sharded':
        cache = ShardedCache(path, keys=('frames',), shard_bytes=shard_mb * 2**20)
        for i in range(n): cache.put('frames', i, torch.randn(frames, width, generator=g).half())
        cache.close({'n': n})
    else:
        save_cache({'n': n, 'frames': [torch.randn(frames, width, generator=g).half() for _ in range(n)]}, path)
    out = {'mode': mode, 'items': n, 'gb': round(n * item / 2**30, 2), 'build_seconds': round(time.time() - t0, 1),
           'build_peak_mb': round(peak_mb() - base, 0), 'files': len(list(folder.glob('features*.pt')))}
    if mode == 'sharded':
        before = rss_mb()
        f = load_cache(path)
        idx = list(range(0, n, max(1, n // n_read)))[:n_read]          # spread over the cache
        total = sum(float(f['frames'][i].float().sum()) for i in idx)   # every byte of those items read
        out['read_items'] = len(idx)
        out['read_mb'] = round(rss_mb() - before, 0)
        assert total == total                                          # a number, not NaN: the items read back
    return out


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--gb', type=float, default=2.0, help='the stand-in cache\'s size (default 2 GB)')
    ap.add_argument('--shard-mb', type=int, default=256, help='the shard size (the kit: 1024)')
    ap.add_argument('--read', type=int, default=96, help='items read back from the sharded cache (the evaluation: 96)')
    ap.add_argument('--one', choices=('sharded', 'whole'), help=argparse.SUPPRESS)   # a single build, in this process
    ap.add_argument('--dir', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not 0 < a.gb < float('inf'): ap.error(f"--gb {a.gb:g}: give the stand-in cache a size above 0, e.g. --gb 0.5")
    if a.shard_mb < 1: ap.error(f"--shard-mb {a.shard_mb}: give shards of 1 MB or more (the kit: 1024)")
    if a.read < 1: ap.error(f"--read {a.read}: read back at least one item")
    if a.one:
        print(json.dumps(one(a.one, Path(a.dir), a.gb, a.shard_mb, a.read))); return
    rows = []
    for mode in ('sharded', 'whole'):                                  # each in a fresh process: its own peak
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run([sys.executable, __file__, '--one', mode, '--dir', tmp, '--gb', str(a.gb), '--shard-mb',
                                str(a.shard_mb), '--read', str(a.read)], capture_output=True, text=True)
            if r.returncode: sys.exit(f"the {mode} build failed:\n{r.stderr[-2000:]}")
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"a stand-in feature cache of {rows[0]['gb']} GB ({rows[0]['items']} items of 250 fp16 frames 160 wide):")
    print('| built | files | peak memory above the start | time |')
    print('|---|---|---|---|')
    for r in rows:
        how = f"in shards of {a.shard_mb} MB" if r['mode'] == 'sharded' else 'whole'
        print(f"| {how} | {r['files']} | {r['build_peak_mb']:.0f} MB | {r['build_seconds']} s |")
    s = rows[0]
    print(f"the sharded cache read back memory-mapped, {s['read_items']} items read: {s['read_mb']:+.0f} MB resident")


if __name__ == '__main__':
    from emotion_omni_lite.cli import run_script
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # a time limit or `kill` too: its build and folder go
