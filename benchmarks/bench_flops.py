"""How close each lite training stage runs to what this machine can do: the machine's matmul throughput, each
stage's FLOPs per step (counted by torch's FlopCounterMode from the ops' shapes, forward + backward, of the micro-batches
the timed steps really ran: a stage with length groups pads each group to its own longest; attention is counted
through SDPA's math kernel, as the counter has no formula for the CPU flash kernel the steps run), its achieved
FLOP/s and the ratio, and where a step's time goes (making the batch, forward, backward, optimizer), and how much of
it torch's own ops take (torch.profiler's self time of every aten op, over 5 profiled steps; the rest is Python, the
dispatcher and small allocations — and the profiler's own cost, so it reads low).

Needs a finished lite run (the main job's): the runs a timed stage reads must be there, or it names them and the command
that makes them before anything runs; it trains nothing. Stages 1 and 2 read their feature caches from that run's folder
(runs/<preset>/stage1_features, stage2_features), which the main job leaves there; one that is missing (a study's
stage 1 reads its own encoder's) is built there first, as the stage itself would. Same threads for the matmul and the
stages; each stage steps as `fit` trains it (its `grad_accum` × `length_groups` micro-batches, `gradient_checkpointing`,
forward passes under its `mixed_precision`: float32 in `lite`, like the matmul); run it where nothing else is computing.
As it trains nothing, `--set` may change a timed stage's own recipe only: a field that changes a run or a cache the
stage reads (the ASR's steps for stage 1, `decoder.max_units` for stage 2) is refused before anything runs; time that
on a run trained with it.

    .venv/bin/python benchmarks/bench_flops.py [--threads N] [--steps 20] [--stages asr emotion_encoder ...]   # N = 0: torch's own count
    .venv/bin/python benchmarks/bench_flops.py --stages stage1 --set lora.dropout=0.05    # a recipe change, side by side

Without `--stages` it times every row the main job trains for the preset (a study behind a switch needs the runs it
reads: name it with `--stages` once they exist).
"""
import argparse, importlib, os, time

os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import ConfigError, get_config, get_settings, parse_field, set_fields
from emotion_omni_lite.stages import (STAGES, StageMissing, job_stages, lite_minutes, require_stage, stage_config, stage_folder,
                                      stage_hash, stage_state, stages_needed, train_command)
from emotion_omni_lite.train import autocast, batch_indices, enable_checkpointing, fit_problem, micro_batches, set_seed

TRAINED = [n for n, st in STAGES.items() if st.train]


def require_runs(names, cfg, s, script: str = 'this benchmark'):
    "Every run of `names` finished (and the runs they read), or `StageMissing` naming those that are not and the one command that makes them: a benchmark reads the main job's runs and trains none."
    if not (need := stages_needed(names, cfg, s)): return
    state = {n: stage_state(n, cfg, s) for n in need}
    if state.get('data') in ('other', 'damaged', 'changed'): require_stage('data', cfg, s)   # never rebuilt unasked: its own words
    raise StageMissing('\n'.join(
        [f"{script} reads the main job's runs and trains none; {len(need)} of them are not finished for preset "
         f"'{cfg.preset}' (seed {s.seed}), so nothing was timed:"]
        + [f"  - {n} ({STAGES[n].what}): {state[n]} in {stage_folder(n, s)}" for n in need]
        + [f"  `{train_command(need, cfg.preset, s)}` makes them (about {lite_minutes(need)} min on a 2-core CPU with "
           "`lite`) and reuses what is finished" + ("; a run of other settings ('other') is replaced: copy its folder first "
           "to keep it" if 'other' in state.values() else '') + "; then run this again"]))


def every_seed(check, settings) -> None:
    "`check(s)` for every seed's settings before any work: what each seed lacks is said at once (`StageMissing`), not found after an earlier seed's minutes of work."
    said = []
    for s in settings:
        try: check(s)
        except StageMissing as e: said.append(str(e))
    if said: raise StageMissing('\n'.join(said))


def matmul_peak(seconds: float = 2.0) -> float:
    "Best FLOP/s of a square float32 matmul over a few sizes (the machine's practical limit at these threads)."
    best = 0.0
    for n in (256, 512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        for _ in range(3): a @ b                                          # warm up
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 4: a @ b; reps += 1
        best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t0))
    return best


def changed_inputs(name: str, changes: dict, preset: str = 'lite', settings=None) -> str:
    "Why `changes` cannot be timed on the run as it is ('' when they can): a field that changes a run stage `name` learns from, or a feature cache its job reads (which it would build in the run's folder)."
    from emotion_omni_lite.stage1 import _features_name
    from emotion_omni_lite.stage2 import _cache_name
    if not changes: return ''
    s, base, st = settings or get_settings(preset=preset, device='cpu'), get_config(preset), STAGES[name]
    def reads(cfg):
        cfg = stage_config(name, cfg)
        r = {'dataset' if u == 'data' else f'{u} run': stage_hash(u, cfg, s.seed) for u in st.depends}
        if st.runner == 'stage1.stage1_job': r['stage-1 feature cache'] = _features_name(cfg, s)
        if st.runner == 'stage2.stage2_job':
            r['stage-2 feature cache'], r['cache of replies in another emotion'] = _cache_name(cfg, s), cfg.stages.stage2.cross_emotion
        return r
    was = reads(base)
    def moved(**fields):
        try: now = reads(set_fields(base, **fields))
        except ConfigError: return []                                   # sizes that must move together: tried together below
        return [w for w in was if now[w] != was[w]]
    for key in [*changes, None]:
        if what := moved(**({key: changes[key]} if key else changes)):
            data = ' EOL_DATA_DIR=<another new folder>' if 'dataset' in what else ''
            return (f"--set {key or ' '.join(changes)}: {name} would read another {' and another '.join(what)}, which this "
                    f"script does not make (it trains nothing): time it on a run trained with that setting: put "
                    f"the field in the [emotion_omni_lite.{preset}] section of a copy of settings.ini beside it, run "
                    f"`EOL_SETTINGS=<the copy> EOL_OUT_DIR=<a new folder>{data} eol run --preset {preset}`, then this script "
                    f"with those variables and without this --set")
    return ''


def training_setup(name: str, preset: str = 'lite', changes: dict = None, settings=None) -> tuple:
    "Stage `name`'s training config, trainable parameters, optimizer, `batch(step)` (its micro-batches) and `loss_of(micro-batch)`, as `fit` sets them up."
    if why := changed_inputs(name, changes, preset, settings): raise ConfigError(why)
    cfg0, s = set_fields(get_config(preset), **(changes or {})), settings or get_settings(preset=preset, device='cpu')
    require_runs(STAGES[name].depends, cfg0, s, f'timing {name}')       # what its job reads: never trained here
    st, cfg = STAGES[name], stage_config(name, cfg0)
    mod, fn = st.runner.rsplit('.', 1)
    job = getattr(importlib.import_module(f'emotion_omni_lite.{mod}'), fn)(cfg, s)
    set_seed(0)
    return fit_setup(job, getattr(cfg.stages, st.train), f'timing {name}')


def fit_setup(job, tcfg, name: str = 'timing') -> tuple:
    "`training_setup` for a built stage job: its recipe as `fit` trains it on this CPU (what `fit` refuses, refused; gradient checkpointing; grad_accum × length_groups micro-batches a step; the forward passes under the stage's mixed_precision)."
    model = job.build().train()
    if why := fit_problem(tcfg, 'cpu', len(job.data), job.lengths, model, name): raise ConfigError(why)
    if tcfg.gradient_checkpointing: enable_checkpointing(model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=tcfg.lr)
    micro = tcfg.grad_accum * (getattr(tcfg, 'length_groups', 1) if job.lengths is not None else 1)   # as `fit` cuts a batch
    def batch(step):                                                    # random views drawn for the whole batch, then cut
        idx = batch_indices(len(job.data), tcfg.batch_size, step, 0)
        views = dict(zip(idx, job.augment([job.data[i] for i in idx]))) if job.augment else {i: job.data[i] for i in idx}
        return [job.collate([views[i] for i in part]) for part in micro_batches(idx, micro, job.lengths)]
    def loss_of(b):                                                     # backward outside autocast, as accelerate's
        with autocast(tcfg.mixed_precision, 'cpu'): o = job.loss(model, b)
        return o[0] if isinstance(o, tuple) else o
    return tcfg, params, opt, batch, loss_of


def forward_backward(loss_of, parts, clock=None) -> None:
    "One step's micro-batches (grad_accum × length groups), forward and backward each, as `fit` runs them; `clock` adds up the seconds."
    for b in parts:
        t0 = time.perf_counter(); loss = loss_of(b) / len(parts)
        t1 = time.perf_counter(); loss.backward()
        if clock is not None: clock['forward'] += t1 - t0; clock['backward'] += time.perf_counter() - t1


def counted_flops(loss_of, steps: list) -> float:
    "FLOPs a step, forward + backward, counted over `steps` (each a list of micro-batches); attention through SDPA's math kernel: the counter has no formula for the CPU flash kernel and would count it as 0."
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        for parts in steps: forward_backward(loss_of, parts)
    return fc.get_total_flops() / len(steps)


def stage_profile(name: str, steps: int, preset: str = 'lite', changes: dict = None, settings=None) -> dict:
    "FLOPs per step and seconds per phase of `steps` training steps of stage `name` (plain loop, as `fit` runs it)."
    tcfg, params, opt, batch, loss_of = training_setup(name, preset, changes, settings)
    for step in range(2):                                               # warm up
        forward_backward(loss_of, batch(step)); opt.step(); opt.zero_grad(set_to_none=True)
    t, timed = dict(batch=0.0, forward=0.0, backward=0.0, optimizer=0.0), []
    t_all = time.perf_counter()
    for step in range(steps):
        t0 = time.perf_counter(); parts = batch(step + 2); timed.append(parts)
        t['batch'] += time.perf_counter() - t0
        opt.zero_grad(set_to_none=True); forward_backward(loss_of, parts, t)
        t3 = time.perf_counter()
        if tcfg.grad_clip: torch.nn.utils.clip_grad_norm_(params, tcfg.grad_clip)
        opt.step(); t['optimizer'] += time.perf_counter() - t3
    total = time.perf_counter() - t_all
    opt.zero_grad(set_to_none=True)
    flops = counted_flops(loss_of, timed)                               # the very micro-batches timed (length groups vary by batch)
    from torch.profiler import ProfilerActivity, profile                  # how much of a step is torch's own ops
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for step in range(5):
            opt.zero_grad(set_to_none=True); forward_backward(loss_of, batch(step + 2 + steps)); opt.step()
        wall = time.perf_counter() - t0
    ops = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key.startswith('aten::')) / 1e6
    return {'flops_per_step': flops, 'step_s': total / steps, 'phases': {k: v / steps for k, v in t.items()},
            'ops_share': min(1.0, ops / wall), 'steps_in_stage': tcfg.steps, 'batch_size': tcfg.batch_size,
            'length_groups': max(map(len, timed)) // getattr(tcfg, 'grad_accum', 1), 'micro_batches': max(map(len, timed))}


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    ap.add_argument('--steps', type=int, default=20, help='timed steps per stage')
    ap.add_argument('--stages', nargs='+', choices=TRAINED,
                    help="stages to time (default: those the main job trains for the preset; a study's row needs the runs it reads)")
    ap.add_argument('--preset', default='lite', help='a preset with a finished run (smoke: a quick check of the script)')
    ap.add_argument('--set', nargs='+', default=[], metavar='FIELD=VALUE',
                    help="config fields changed for the timing, e.g. stages.emotion.length_groups=1: a timed stage's own recipe only "
                         "(one that changes a run or feature cache the stage reads is refused: time it on a run trained with it)")
    a = ap.parse_args()
    changes = {}
    for kv in a.set:
        k, sep, v = kv.partition('=')
        if not sep: ap.error(f"--set {kv}: write it as FIELD=VALUE, e.g. lora.dropout=0.05")
        try: changes[k] = parse_field(k, v, a.preset)                # read as settings.ini reads it: none, true, 0.05
        except ConfigError as e: ap.error(f"--set {kv}: {e}")
    if a.steps < 1: ap.error(f"--steps {a.steps}: time at least one step")
    if a.threads < 0: ap.error(f"--threads {a.threads}: give 1 or more, or 0 for torch's own count")
    a.stages = a.stages or [n for n in job_stages(get_config(a.preset)) if STAGES[n].train]
    s = get_settings(preset=a.preset, device='cpu')
    cfg = set_fields(get_config(a.preset), **changes)
    for name in a.stages:                                               # before anything runs or is built
        if why := changed_inputs(name, changes, a.preset, s): ap.error(why)
        if why := fit_problem(getattr(stage_config(name, cfg).stages, STAGES[name].train), 'cpu', name=name): ap.error(why)   # fp16 on a CPU
    require_runs([u for n in a.stages for u in STAGES[n].depends], cfg, s, 'bench_flops')
    if a.threads: torch.set_num_threads(a.threads)
    peak = matmul_peak()
    print(f"threads {torch.get_num_threads()}; float32 matmul peak {peak / 1e9:.1f} GFLOP/s\n")
    print(f"{'stage':22s} | GFLOP/step | ms/step | GFLOP/s | of peak | batch  fwd  bwd  opt (share of a step) | in torch ops")
    for name in a.stages:
        r = stage_profile(name, a.steps, a.preset, changes, s)
        rate = r['flops_per_step'] / r['step_s']
        sh = ' '.join(f"{r['phases'][k] / r['step_s']:4.0%}" for k in ('batch', 'forward', 'backward', 'optimizer'))
        print(f"{name:22s} | {r['flops_per_step'] / 1e9:10.2f} | {r['step_s'] * 1e3:7.0f} | {rate / 1e9:7.2f} | "
              f"{rate / peak:7.1%} | {sh} | {r['ops_share']:.0%}"
              + (f" ({r['length_groups']} length groups a step)" if r['length_groups'] > 1 else '')
              + (f" ({r['micro_batches']} micro-batches a step)" if r['micro_batches'] > r['length_groups'] else ''), flush=True)


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
