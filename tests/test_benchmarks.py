"The benchmarks' shared training step (bench_flops, bench_threads): a stage's step as `fit` runs it, every length group, on the smoke runs."
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parents[1] / 'benchmarks'))


def test_a_benchmark_step_runs_every_length_group(smoke_settings, smoke_cfg):
    import bench_flops, bench_threads
    from emotion_omni_lite.cli import ensure_stages
    ensure_stages(['stage2'], smoke_cfg, smoke_settings)                 # stage 2 cuts each batch into two length groups
    *_, batch, _ = bench_flops.training_setup('stage2', 'smoke', settings=smoke_settings)
    assert len(batch(0)) == 2                                           # a step is a list of micro-batches
    calls = []
    real = bench_flops.training_setup
    def counting(*a, **k):                                              # bench_threads' step, its loss calls counted
        tcfg, params, opt, batch, loss_of = real(*a, **k)
        return tcfg, params, opt, batch, lambda b: calls.append(b) or loss_of(b)
    bench_threads.training_setup = counting
    try:
        step = bench_threads.stepper('stage2', 'smoke', smoke_settings)
        step(); step()
    finally: bench_threads.training_setup = real
    assert len(calls) == 4                                              # two steps, each both groups (it once read the list as one batch)
    prof = bench_flops.stage_profile('stage2', 1, 'smoke', settings=smoke_settings)
    assert prof['length_groups'] == 2 and prof['flops_per_step'] > 0 and prof['step_s'] > 0
