"""Oversubscription, measured: one training stage's step time alone, and beside one other CPU-bound process, with the
threads the kit gives each process (their sum never above the cores) and with torch's defaults (each process takes
every core, and their thread pools spin waiting for each other).

Needs a finished lite run (the main job's): a run the stage reads that is missing is named, with the command that
makes it, before anything runs; it trains nothing. Stages 1 and 2 read their cached features from that run's folder
(built there first if missing, as the stage itself would). Run it where nothing else is computing.

    .venv/bin/python benchmarks/bench_threads.py [--stage stage2] [--steps 15]

The other process is a float32 matmul loop (a stand-in for a second stage, a second seed or a student's other job).
With one usable core, which cannot be shared out, the rows of a worker's share and of the kit's threads are left out.
"""
import argparse, os, subprocess, sys, time
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
sys.path.insert(0, str(Path(__file__).parent))
import torch

from bench_flops import TRAINED, forward_backward, training_setup
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.train import usable_cores

OTHER = ("import torch, sys; torch.set_num_threads(int(sys.argv[1])); a = torch.randn(512, 512); a @ a; print('computing', flush=True)"
         "\nwhile True: a @ a")


def stepper(name: str, preset: str = 'lite', settings=None):
    "A function `step(k)` that runs training step `k` of stage `name` (as `fit` does: every micro-batch, clipped) on a trained run's data."
    tcfg, params, opt, batch, loss_of = training_setup(name, preset, settings=settings)
    def step(k: int):
        opt.zero_grad(set_to_none=True); forward_backward(loss_of, batch(k))
        if tcfg.grad_clip: torch.nn.utils.clip_grad_norm_(params, tcfg.grad_clip)
        opt.step()
    return step


def time_steps(step, threads: int, steps: int, other_threads: int = 0) -> float:
    "Median seconds per step with `threads` torch threads, beside another process of `other_threads` (0: none); every row warms up on batches 0 and 1 and times batches 2 onwards, so the rows time the same batches (their lengths vary)."
    torch.set_num_threads(threads)
    other = subprocess.Popen([sys.executable, '-c', OTHER, str(other_threads)], stdout=subprocess.PIPE, text=True) if other_threads else None
    try:
        if other and other.stdout.readline() != 'computing\n':          # timed only once it computes (its import can take seconds)
            raise SystemExit(f"bench_threads: the other process ended before computing (exit {other.wait()}); its error is above")
        for k in range(2): step(k)                                         # warm up at this thread count
        ts = []
        for k in range(2, 2 + steps):
            t0 = time.perf_counter(); step(k); ts.append(time.perf_counter() - t0)
        return sorted(ts)[len(ts) // 2]
    finally:
        if other: other.kill(); other.wait(); other.stdout.close()


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--stage', default='stage2', choices=TRAINED)
    ap.add_argument('--steps', type=int, default=15)
    a = ap.parse_args()
    if a.steps < 1: ap.error(f"--steps {a.steps}: time at least one step")
    cores = usable_cores()
    step = stepper(a.stage)
    half = max(1, cores // 2)
    alone_all = time_steps(step, cores, a.steps)
    every = {1: 'its one core', 2: 'both cores'}.get(cores, f'all {cores} cores')   # README's table: a 2-core machine
    rows = [(f'alone, {every}', cores, 0, alone_all)]
    if cores > 1:                                                       # one core: no share to give a second process
        rows += [(f"alone, {'one core' if half == 1 else f'{half} cores'} (a worker's share)", half, 0, time_steps(step, half, a.steps)),
                 ("beside another process, the kit's threads (their sum = the cores)", half, cores - half, time_steps(step, half, a.steps, cores - half))]
    rows += [('beside another process, both on every core (oversubscribed)', cores, cores, time_steps(step, cores, a.steps, cores))]
    print(f"\n{a.stage}: median step time over {a.steps} steps, {cores} usable cores\n")
    if cores == 1: print("One usable core: it cannot be shared out between two processes, so the rows of a worker's share and "
                         "of the kit's threads beside another process are left out: time them on 2 cores or more.\n")
    print(f"| situation | the stage's threads | the other's threads | ms / step | vs alone on {every} |\n|---|---|---|---|---|")
    for what, t, o, sec in rows:
        print(f"| {what} | {t} | {o or '—'} | {sec * 1e3:.0f} | {sec / alone_all:.2f}× |")


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
