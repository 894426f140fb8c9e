"The benchmarks that CI can run: the shared training step (bench_flops, bench_threads), the speaker-reference study's options, the GPU scripts' CPU parts, the cache memory and sources benchmarks, the missing-run timer, the seed table on toy figures and its training and reading of each seed, the data benchmark's smoke build, the units benchmark and the clipping and guidance studies on the smoke runs, and what the scripts refuse before they train or time anything."
import sys
import pytest
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
        step(0); step(1)
    finally: bench_threads.training_setup = real
    assert len(calls) == 4                                              # two steps, each both groups (it once read the list as one batch)
    prof = bench_flops.stage_profile('stage2', 1, 'smoke', settings=smoke_settings)
    assert prof['length_groups'] == 2 and prof['flops_per_step'] > 0 and prof['step_s'] > 0


def test_the_widget_benchmark_times_the_panel_on_a_finished_run_and_untrained(smoke_settings, smoke_cfg, monkeypatch, capsys):
    "bench_widgets' timing loop itself (its refusals are tested elsewhere): a slider change on every slider, on the finished runs and on the untrained upper bound, with the figures it prints."
    import json, torch
    import bench_widgets
    from emotion_omni_lite.cli import ensure_stages
    ensure_stages(['stage2', 'vocoder'], smoke_cfg, smoke_settings)    # what the panel speaks with
    capsys.readouterr()                                                  # what training said, if it trained
    for k, v in {'EOL_PRESET': 'smoke', 'EOL_DATA_DIR': smoke_settings.data_dir, 'EOL_OUT_DIR': smoke_settings.out_dir,
                 'EOL_SEED': str(smoke_settings.seed)}.items(): monkeypatch.setenv(k, str(v))   # the script reads settings itself
    threads = torch.get_num_threads()
    try:
        for extra in ([], ['--untrained']):
            monkeypatch.setattr(sys, 'argv', ['bench_widgets.py', '--repeats', '1', '--threads', '1', *extra])
            bench_widgets.main()
            out = capsys.readouterr().out
            lines = out.splitlines(); i = lines.index('{')                      # the figures, after what loading said
            res = json.loads('\n'.join(lines[i:lines.index('}', i) + 1]))
            assert res['preset'] == 'smoke' and res['stage2'] and res['untrained'] == bool(extra) and res['updates'] == 4, res
            assert set(res['per_slider_median_s']) == {'pitch', 'range', 'rate', 'loudness'} and res['breakdown_median_s'], res
            assert 'one slider change on smoke' in out and 'over 4 updates' in out
    finally: torch.set_num_threads(threads)


def test_the_flop_count_has_attention_and_the_timed_batches(monkeypatch):
    "bench_flops counts a toy stage's SDPA attention (the counter gave the CPU flash kernel 0 FLOPs) over the very batches it timed, whose lengths vary by step (it once counted batch 0 alone)."
    import types
    import torch, torch.nn.functional as F
    import bench_flops
    E, made = 8, []
    w = torch.nn.Parameter(torch.randn(E, E))
    def batch(step): made.append(step); return [torch.randn(1, 2, 8 + 4 * step, E)]     # 2 heads, a length per step
    loss_of = lambda x: F.scaled_dot_product_attention(*[x @ w] * 3).sum()
    monkeypatch.setattr(bench_flops, 'training_setup', lambda *a, **k: (types.SimpleNamespace(grad_clip=1.0, steps=9, batch_size=1),
                                                                       [w], torch.optim.SGD([w], lr=0.0), batch, loss_of))
    flops = lambda L: 2 * (4 * L * E * E + 12 * L * L * E)            # x @ w and its weight gradient; attention's 2 matmuls and their 4
    assert bench_flops.counted_flops(loss_of, [[torch.randn(1, 2, 8, E)]]) == flops(8) > 2 * 4 * 8 * E * E
    r = bench_flops.stage_profile('toy', 3)
    assert made[:5] == [0, 1, 2, 3, 4]                                   # two warm-up steps, then the three timed
    assert r['flops_per_step'] == sum(flops(8 + 4 * s) for s in (2, 3, 4)) / 3 and r['length_groups'] == 1


def test_the_speech_benchmark_times_the_replies_as_the_evaluation_makes_them(monkeypatch, capsys):
    "bench_eval_speech times the generated replies one at a time, all at once, and as `speech_clips` makes them (the first TIMED_REPLIES alone on the clock, their encoders too, the rest at once): it once timed all at once alone and quoted that as the evaluation's time."
    import types
    import torch
    import bench_eval_speech as bes
    from emotion_omni_lite import omni as om
    n, calls = om.TIMED_REPLIES + 6, []
    made = lambda f: {'text': 'hi', 'reply_ids': [f['n50']], 'reply_emotion': 'happy', 'units': [f['n50']], 'audio': torch.ones(2), 'timings': {'total_ms': 1.0}}
    fake = types.SimpleNamespace(respond_features=lambda f, *a: calls.append('alone') or made(f), _encode=lambda w: calls.append('encoders'),
                                 respond_features_many=lambda fs, *a: calls.append(f'{len(fs)} at once') or [made(f) for f in fs])
    f1 = {'sem': list(range(n)), 'emo': list(range(n)), 'n50': list(range(n))}
    monkeypatch.setattr(bes, 'stage1_features', lambda *a, **k: f1)
    monkeypatch.setattr(bes, 'stage2_features', lambda *a: {'rows': [{'reply_text': 'hi'}] * n})
    monkeypatch.setattr(bes, 'speech_rows', lambda rows, seed, k: list(range(k)))
    monkeypatch.setattr(bes, 'load_omni', lambda *a, **k: fake)
    monkeypatch.setattr(bes, 'SYSTEMS', {'omni': ('stage1', 'stage2')})
    monkeypatch.setattr(om, 'audio_path', lambda *a: 'query.wav'); monkeypatch.setattr(om, 'load_audio', lambda p: torch.zeros(4))
    bes.replies(None, types.SimpleNamespace(seed=0), n)
    assert calls[:n + 2] == ['alone'] * (n + 1) + [f'{n} at once']            # a warm-up, one at a time, all at once
    assert calls[n + 2:] == ['encoders', 'alone'] * om.TIMED_REPLIES + ['6 at once']   # then as the evaluation makes them
    out = capsys.readouterr().out
    assert f'as the evaluation makes them ({om.TIMED_REPLIES} alone on the clock, the rest at once)' in out
    assert f'the same as one at a time: {n} and {n} of {n}' in out


def test_the_speaker_reference_study_reaches_every_seed_and_option(monkeypatch, capsys):
    "study_speaker_reference prints each seed's probe table, then its encoders and stage 1 when asked (a name bound inside its table once replaced the parsed options)."
    import study_speaker_reference as ssr
    from emotion_omni_lite.config import EMOTIONS
    calls = []
    monkeypatch.setattr(ssr, 'query_prosody', lambda cfg, s: (['row'], 'x'))
    monkeypatch.setattr(ssr, 'speaker_normalized', lambda x, rows, *how: x)
    monkeypatch.setattr(ssr, 'not_calm', lambda rows: rows)
    cm = [[0] * 6 for _ in EMOTIONS]; cm[4][1], cm[4][4], cm[2][2] = 111, 91, 7   # surprised heard as happy; sad all right
    def probe(rows, x, eng, scored, tts):                                 # a voice without a prefix: the config's engine
        calls.append(('probe', tts))
        return {'acc_other_engine': 0.5, 'acc_heldout_voice': 0.9, 'confusion_other_engine': cm,
                'acc_other_engine_by_emotion': {e: None if e == 'neutral' else 0.25 for e in EMOTIONS}}
    monkeypatch.setattr(ssr, 'cross_engine_probe', probe)
    monkeypatch.setattr(ssr, 'encoder_rows', lambda s: calls.append(('encoders', s.seed)))
    monkeypatch.setattr(ssr, 'stage1_rows', lambda s: calls.append(('stage1', s.seed)))
    monkeypatch.setattr(ssr, 'require_stage', lambda name, cfg, s: calls.append((name, s.seed)))   # each seed's dataset, first
    monkeypatch.setattr(sys, 'argv', ['study_speaker_reference.py', '--seeds', '0', '1', '--encoders', '--stage1'])
    ssr.main()
    probes = [('probe', 'espeak')] * 6                                   # lite's data.tts: three views, two engines
    assert calls == [('data', 0), ('data', 1), *probes, ('encoders', 0), ('stage1', 0), *probes, ('encoders', 1), ('stage1', 1)]
    out = capsys.readouterr().out
    assert out.count('seed ') == 2 and 'neut —' in out and 'happ 25%' in out
    assert out.count("commonest misreading: neut — happ — sad none of 7 angr — surp→happ 111/202 fear —") == 12


def test_the_gpu_checks_run_their_cpu_parts(tmp_path):
    "The GPU scripts run where CI can: the full path's one-process rehearsal (`rehearse_gpu.py --device cpu`, its dtypes and streamed answer checked) and the memory benchmark's steps on smoke sizes, so neither is found broken only on a GPU."
    import json, os, subprocess
    root = Path(__file__).parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith('EOL_')}
    env.update(OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', PYTHONPATH=str(root))
    run = lambda *a: subprocess.run([sys.executable, *a], env=env, capture_output=True, text=True, timeout=600)
    r = run(str(root / 'benchmarks' / 'rehearse_gpu.py'), 'prepare', str(tmp_path / 'r'))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(str(root / 'benchmarks' / 'rehearse_gpu.py'), 'run', str(tmp_path / 'r'), '--device', 'cpu', '--json', str(tmp_path / 'r.json'))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    checks = {c['check']: c['ok'] for c in json.loads((tmp_path / 'r.json').read_text())}
    assert all(checks.values()) and len(checks) == 4, checks
    r = run(str(root / 'benchmarks' / 'rehearse_gpu.py'), 'run', str(tmp_path / 'r'), '--device', 'cpu')   # its checks would read this run
    assert r.returncode != 0 and 'rehearsed already (runs there)' in r.stderr, r.stdout[-2000:] + r.stderr[-2000:]
    r = run(str(root / 'benchmarks' / 'rehearse_gpu.py'), 'run', str(tmp_path), '--device', 'cpu')
    assert r.returncode != 0 and 'was not made by `prepare`' in r.stderr, r.stderr[-2000:]
    r = run(str(root / 'benchmarks' / 'bench_memory_gpu.py'), '--preset', 'smoke', '--device', 'cpu', '--batches', '2',
            '--json', str(tmp_path / 'm.json'))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = json.loads((tmp_path / 'm.json').read_text())
    assert len(rows) == 4 and all(x['plan_bytes'] > 0 and x['peak_bytes'] is None for x in rows), rows


def test_the_rehearsal_expects_the_launch_a_sharded_checkpoint_records(tmp_path):
    "rehearse_gpu.py's check 'the checkpoint says its launch' against the state.json `fit` writes under fsdp.yaml, its plugin made as accelerate's launcher makes it in each process: the record names the FSDP version and state-dict type (the check once expected 'FSDP on 2 processes' and could never pass)."
    import json, types
    import torch
    import rehearse_gpu
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_multi_gpu_env
    from emotion_omni_lite.train import _save_sharded
    sched = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), lambda s: 1.0)
    for gpus in (2, 4):
        args, _, _ = _validate_launch_command(launch_command_parser().parse_args(
            ['--config_file', str(rehearse_gpu.FSDP_CONFIG), '--num_processes', str(gpus), 'x.py']))
        with pytest.MonkeyPatch.context() as mp:
            for k, v in prepare_multi_gpu_env(args).items(): mp.setenv(k, v)
            plugin = FullyShardedDataParallelPlugin()
        acc = types.SimpleNamespace(distributed_type=DistributedType.FSDP, num_processes=gpus, is_main_process=True,
                                    state=types.SimpleNamespace(deepspeed_plugin=None, fsdp_plugin=plugin),
                                    wait_for_everyone=lambda: None, save_state=lambda f: Path(f).mkdir(parents=True))
        _save_sharded(acc, tmp_path / str(gpus), sched, 40, [])              # as a process of that launch writes it
        st = json.loads((tmp_path / str(gpus) / 'checkpoint' / 'state.json').read_text())
        assert st['launch'] == rehearse_gpu.fsdp_launch(gpus) == f'FSDP 2 (SHARDED_STATE_DICT) on {gpus} processes'


def test_the_fsdp_rehearsal_splits_its_batch_over_every_gpu_it_takes(tmp_path, monkeypatch):
    "rehearse_gpu.py --gpus N: the FSDP launch's settings pass `fit`'s own rule (`fit_problem`, as each of the N processes asks it) in both stages (the batch split over N processes × micro-batches into whole examples, and no fewer training dialogues than the batch) for N up to the 8 training dialogues (a batch of 2 once failed every N > 2); other N are refused before anything runs."
    import json
    import rehearse_gpu
    from test_full_rehearsal import DIALOGUES
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.train import fit_problem
    (tmp_path / 'dialogues.jsonl').write_text(''.join(json.dumps({'split': split}) + '\n' for *_, split in DIALOGUES))
    train = sum(split == 'train' for *_, split in DIALOGUES)
    for k in ('PRESET', 'DATA_DIR', 'OUT_DIR', 'SEED', 'DEVICE'): monkeypatch.delenv(f'EOL_{k}', raising=False)
    monkeypatch.setenv('ACCELERATE_USE_FSDP', 'true'); monkeypatch.delenv('ACCELERATE_USE_DEEPSPEED', raising=False)
    for gpus in (1, 2, 3, 4, 8):
        monkeypatch.setenv('EOL_SETTINGS', str(rehearse_gpu.fsdp_settings(tmp_path, gpus)))
        monkeypatch.setenv('WORLD_SIZE', str(gpus))                          # what each process of the launch sees
        cfg = get_config('full')
        assert cfg.stages.stage1.steps == 400 and cfg.stages.stage1.ckpt_every == 40
        for st in ('stage1', 'stage2'):        # fit's own rule; lengths given, so its length groups count (the device: fp16 only)
            assert fit_problem(getattr(cfg.stages, st), 'cpu', train, [1] * train, name=st, launch='FSDP') == '', gpus
    for gpus in (0, train + 1):
        with pytest.raises(SystemExit, match=rf"--gpus {gpus}: the FSDP launch gives each process one of the {train} "
                                             rf"training dialogues in .* a step: give --gpus from 1 to {train}"):
            rehearse_gpu.fsdp_settings(tmp_path, gpus)


def test_a_time_limit_on_the_rehearsal_stops_its_launches_too():
    "`timeout` signals the rehearsal alone, while each launch runs in a session of its own: its SIGTERM handler stops them all, so none keeps the GPU for the memory benchmark after it."
    import signal, subprocess
    import rehearse_gpu
    p = subprocess.Popen(['sleep', '60'], start_new_session=True)
    rehearse_gpu.LAUNCHED.append(p.pid)
    try:
        with pytest.raises(SystemExit) as e: rehearse_gpu.stop_launches(signal.SIGTERM, None)
        assert e.value.code == 128 + signal.SIGTERM
        assert p.wait(timeout=10) == -signal.SIGKILL                     # the launch's whole group is gone
    finally:
        rehearse_gpu.LAUNCHED.remove(p.pid)
        if p.poll() is None: p.kill()

def test_an_fsdp_launch_that_fails_at_once_gets_its_failed_check_and_log():
    "rehearse_gpu's FSDP check on a launch that ended before any checkpoint (no GPU, a bad config): its whole group is gone, and the check fails with the launch's log instead of the rehearsal dying on a ProcessLookupError with no line and no --json."
    import rehearse_gpu, tempfile
    real, before = rehearse_gpu.eol, list(rehearse_gpu.LAUNCHED)
    failing = ['sh', '-c', 'echo accelerate found no GPU to shard over; exit 3', 'launch']     # the command's arguments go to $@
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr(rehearse_gpu, 'eol', lambda *a, launch=None, **k: real(*a, launch=failing if launch else None, **k))
        ok = rehearse_gpu.fsdp_checks(rehearse_gpu.Checks(), Path(d), 2)
    rehearse_gpu.LAUNCHED[:] = before
    assert [(r['check'], r['ok']) for r in ok.rows] == [('FSDP launch writes a sharded checkpoint', False)]
    assert 'accelerate found no GPU to shard over' in ok.rows[0]['seen']


def test_the_cache_memory_benchmark_builds_both_ways():
    "bench_cache_memory builds its stand-in cache in shards and whole, each in a process of its own, and reads the sharded one back (the figures are the machine's: not asserted)."
    import subprocess
    script = Path(__file__).parents[1] / 'benchmarks' / 'bench_cache_memory.py'
    r = subprocess.run([sys.executable, str(script), '--gb', '0.02', '--shard-mb', '4', '--read', '8'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[3].startswith('| in shards of 4 MB | ') and lines[4].startswith('| whole | 1 | '), r.stdout
    shards = int(lines[3].split('|')[2])
    assert shards >= 5                                                  # 20 MB in 4-MB shards, and the index
    assert 'read back memory-mapped, 8 items read: ' in lines[5], r.stdout


def test_the_sources_benchmark_checks_its_files():
    "bench_sources records and checks its stand-in files and finds none changed (the times are the machine's: not asserted)."
    import subprocess
    script = Path(__file__).parents[1] / 'benchmarks' / 'bench_sources.py'
    r = subprocess.run([sys.executable, str(script), '--files', '1500'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith('1,500 files: recorded in ') and 'checked in ' in r.stdout and 'sources.json' in r.stdout, r.stdout


def test_the_main_job_timer_reads_a_run_without_its_quality_checks():
    "bench_main's table from the job's own lines, as `eol run` formats them: the quality row only when the guards ran (a smoke run once ended in a TypeError after the whole job); a summary it cannot read is refused, not an empty table."
    import bench_main
    from emotion_omni_lite.cli import produced_lines
    summary = produced_lines({'data': ('data/smoke', 0.2, 5.1), 'asr': ('runs/smoke/asr', 5.1, 19.8)}, 21.0)   # as `eol run` prints it
    lines = ['[setup] ...', 'emotion_omni_lite main job: preset smoke', *summary, '--guards: a whole lite run only; this run goes without them']
    stamped = [(float(i), l) for i, l in enumerate(lines)] + [(10.0, None)]
    rows, total = bench_main.phases(iter(stamped))
    assert [r[0] for r in rows] == ['install (scripts/setup.sh)', 'data', 'asr'] and total == 10.0
    assert rows[2][1:] == (1.0 + 5, 1.0 + 20)
    rows, _ = bench_main.phases(iter(stamped[:-1] + [(8.0, '== quality guards (pytest -m slow)'), (10.0, None)]))
    assert rows[-1] == ('quality checks (pytest -m slow)', 8.0, 10.0)
    with pytest.raises(SystemExit, match='did not start'): bench_main.phases(iter([(0.0, '[setup] failed'), (1.0, None)]))
    reworded = [(t, l.replace(' → ', ' to ') if l else l) for t, l in stamped]   # a summary in another format: no empty table
    with pytest.raises(SystemExit, match=r"summary \('produced \(seconds since the job began; 21 s in all\):'\) has no task line"):
        bench_main.phases(iter(reworded))


def test_the_data_benchmark_times_only_a_new_build(tmp_path):
    "bench_data --keep refuses a folder holding a build (it would be reused and its old time printed as measured) and the runs folder."
    import os, subprocess
    root = Path(__file__).parents[1]
    (tmp_path / 'kept' / 'smoke').mkdir(parents=True); (tmp_path / 'kept' / 'smoke' / 'build.json').write_text('{}')
    env = {**{k: v for k, v in os.environ.items() if not k.startswith('EOL_')}, 'OMP_NUM_THREADS': '1',
           'EOL_DATA_DIR': str(tmp_path / 'data'), 'EOL_OUT_DIR': str(tmp_path / 'runs')}
    run = lambda keep: subprocess.run([sys.executable, str(root / 'benchmarks' / 'bench_data.py'), '--preset', 'smoke', '--keep', keep],
                                      env=env, capture_output=True, text=True, timeout=300)
    r = run(str(tmp_path / 'kept'))
    assert r.returncode == 2 and 'holds a build already' in r.stderr, r.stderr[-2000:]
    r = run(str(tmp_path / 'runs' / 'x'))
    assert r.returncode == 2 and "the main job's runs folder" in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / 'runs').exists()


def test_a_recipe_change_that_moves_what_a_stage_reads_is_refused_before_anything_runs(monkeypatch, tmp_path, capsys, smoke_settings):
    "bench_flops --set times a stage's own recipe on the run as it is; a field that changes a run or feature cache the stage reads is refused first (it once asked to retrain the main job's stage, or built a cache in its runs)."
    import bench_flops
    from emotion_omni_lite.config import ConfigError
    why = bench_flops.changed_inputs('stage1', {'stages.asr.steps': 3}, 'smoke', smoke_settings)
    assert why.startswith('--set stages.asr.steps: stage1 would read another asr run and another stage-1 feature cache') and 'eol run' in why
    assert bench_flops.changed_inputs('stage1', {'lora.dropout': 0.05}, 'smoke', smoke_settings) == ''   # its own recipe
    assert bench_flops.changed_inputs('emotion_encoder', {'stages.emotion.length_groups': 1}, 'smoke', smoke_settings) == ''
    assert 'another stage-1 feature cache' in bench_flops.changed_inputs('stage1', {'stages.stage1.aug_copies': 2}, 'smoke', smoke_settings)
    assert 'another stage-2 feature cache' in bench_flops.changed_inputs('stage2', {'decoder.max_units': 100}, 'smoke', smoke_settings)
    assert 'replies in another emotion' in bench_flops.changed_inputs('stage2', {'stages.stage2.cross_emotion': 0.2}, 'smoke', smoke_settings)
    assert 'EOL_DATA_DIR' in bench_flops.changed_inputs('asr', {'data.prosody_jitter': 0.3}, 'smoke', smoke_settings)
    with pytest.raises(ConfigError, match='another asr run'):
        bench_flops.training_setup('stage1', 'smoke', {'stages.asr.steps': 3}, settings=smoke_settings)
    _refused_before_timing(monkeypatch, tmp_path, capsys, 'stages.stage1.lr=0.1', 'stage2 would read another stage1 run')


def _refused_before_timing(monkeypatch, tmp_path, capsys, setting: str, said: str):
    "`bench_flops.py --preset smoke --stages stage2 --set <setting>` exits 2 saying `said`, before any timing, writing nothing."
    import bench_flops
    monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs')); monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data'))
    monkeypatch.setattr(bench_flops, 'matmul_peak', lambda: pytest.fail('timed before refusing'))
    monkeypatch.setattr(sys, 'argv', ['bench_flops.py', '--preset', 'smoke', '--stages', 'stage2', '--set', setting])
    with pytest.raises(SystemExit) as e: bench_flops.main()
    assert e.value.code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'data').exists()


def test_a_timed_step_follows_the_stages_recipe_as_fit_trains_it(monkeypatch, tmp_path, capsys):
    "bench_flops' (and bench_threads') step takes a stage's grad_accum × length_groups micro-batches, gradient checkpointing and mixed precision as `fit` does (it once timed fp32, no checkpointing, length groups alone, whatever --set said); what `fit` refuses on a CPU is refused before any timing."
    import types
    from dataclasses import replace
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    import bench_flops
    from emotion_omni_lite.config import ConfigError, TrainConfig
    torch.manual_seed(0)
    llm = lambda: LlamaForCausalLM(LlamaConfig(vocab_size=5, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                               num_attention_heads=2, num_key_value_heads=2))
    dtypes, made = [], []
    def loss(model, ids): out = model(ids).logits; dtypes.append(out.dtype); return out.float().mean()
    job = types.SimpleNamespace(build=lambda: made.append(llm()) or made[-1], data=[torch.randint(0, 5, (6,)) for _ in range(8)], lengths=[1, 2, 3, 4] * 2,
                                augment=None, collate=torch.stack, loss=loss)
    tc = TrainConfig(batch_size=8, grad_accum=2, length_groups=2, gradient_checkpointing=True, mixed_precision='bf16')
    _, params, _, batch, loss_of = bench_flops.fit_setup(job, tc)
    parts = batch(0)
    assert [len(p) for p in parts] == [2, 2, 2, 2]                      # 2 accumulated × 2 length groups, 2 examples each
    bench_flops.forward_backward(loss_of, parts)
    assert dtypes == [torch.bfloat16] * 4 and all(p.grad is not None for p in params)   # under the stage's autocast
    assert getattr(made[0], 'is_activation_checkpointing', None) or made[0].is_gradient_checkpointing   # recomputed in backward
    with pytest.raises(ConfigError, match="mixed_precision='fp16' trains on a GPU only"):
        bench_flops.fit_setup(job, replace(tc, mixed_precision='fp16'))
    job.build = lambda: torch.nn.Linear(2, 2)                           # no transformers model to checkpoint
    with pytest.raises(ConfigError, match='gradient_checkpointing: this model holds no transformers model'):
        bench_flops.fit_setup(job, tc)
    _refused_before_timing(monkeypatch, tmp_path, capsys, 'stages.stage2.mixed_precision=fp16',
                           "stage2: mixed_precision='fp16' trains on a GPU only")


def test_the_main_job_timer_refuses_a_clone_holding_earlier_work(monkeypatch, tmp_path, capsys):
    "bench_main --repo times a fresh clone only: runs/ or data/ holding an earlier job's work would make every phase about 0 s; --keep has nothing to keep with --repo."
    import subprocess
    import bench_main
    kit = tmp_path / 'kit'; (kit / 'data').mkdir(parents=True); (kit / 'data' / 'README.md').write_text('x')
    subprocess.run(['git', 'init', '-q', str(kit)], check=True); subprocess.run(['git', '-C', str(kit), 'add', 'data/README.md'], check=True)
    assert bench_main.earlier_work(kit) == []                           # what the repository holds is no earlier work
    (kit / 'runs' / 'lite' / 'asr').mkdir(parents=True); (kit / 'runs' / 'lite' / 'asr' / 'metrics.json').write_text('{}')
    assert bench_main.earlier_work(kit) == ['runs/lite/asr/metrics.json']
    monkeypatch.setattr(bench_main, 'timed_lines', lambda *a: pytest.fail('ran the job'))
    for args, said in ((['--repo', str(kit)], "hold an earlier job's work (runs/lite/asr/metrics.json)"),
                       (['--repo', str(tmp_path / 'other'), '--keep'], 'leave --keep out')):
        monkeypatch.setattr(sys, 'argv', ['bench_main.py', *args])
        with pytest.raises(SystemExit) as e: bench_main.main()
        assert e.value.code == 2 and said in capsys.readouterr().err
    with pytest.raises(SystemExit, match='not a git clone'): bench_main.earlier_work(tmp_path / 'absent')


def test_the_seed_table_sums_up_toy_figures_and_keeps_an_earlier_file(monkeypatch, tmp_path, capsys):
    "bench_seeds.summarise: mean, spread, each target's verdict and the guard the seeds support; a --json file that exists is kept unless --replace (it was once written over)."
    import json
    import bench_seeds
    monkeypatch.setattr(bench_seeds, 'QUALITY', {'a': ('>=', 0.8, 0.75), 'b': ('<=', 0.2, 0.2), 'c': ('>=', 0.9, 0.5),
                                                 'reported': None, 'study': None})
    per_seed = {0: {'a': 0.95, 'b': 0.10, 'c': 0.80, 'reported': 0.5}, 'm:1': {'a': 0.90, 'b': 0.19, 'c': 0.85, 'reported': 0.7}}
    rows = {r['figure']: r for r in bench_seeds.summarise(per_seed)}
    assert list(rows) == ['a', 'b', 'c', 'reported'] and 'left out: study' in capsys.readouterr().out   # off in these runs
    assert rows['a']['values'] == [0.95, 0.90] and rows['a']['mean'] == 0.925 and rows['a']['spread'] == 0.05
    assert rows['a']['verdict'] == 'holds with margin' and rows['a']['supported_guard'] == 0.8 and rows['a']['guard_ok']
    assert rows['b']['verdict'] == 'holds, thin margin' and rows['b']['supported_guard'] == 0.28 and not rows['b']['guard_ok']
    assert rows['c']['verdict'] == 'MISSED' and rows['c']['supported_guard'] == 0.75 and rows['c']['guard_ok']
    assert rows['reported']['verdict'] == 'reported' and rows['reported']['target'] is None
    with pytest.raises(SystemExit, match=r"seed\(s\) \['m:1'\] have no figure 'a'"): bench_seeds.summarise({**per_seed, 'm:1': {}})
    other, out = tmp_path / 'other.json', tmp_path / 'figures.json'
    other.write_text(json.dumps({'per_seed': {'0': per_seed[0], '1': per_seed['m:1']}})); out.write_text('earlier table')
    monkeypatch.setattr(sys, 'argv', ['bench_seeds.py', '--seeds', '--with', str(other), '--json', str(out)])
    monkeypatch.chdir(tmp_path)                                          # it goes to the checkout: put back after the test
    with pytest.raises(SystemExit, match='give --replace to write over it'): bench_seeds.main()
    assert out.read_text() == 'earlier table'
    monkeypatch.setattr(sys, 'argv', sys.argv + ['--replace'])
    with pytest.raises(SystemExit) as e: bench_seeds.main()
    assert e.value.code == 1                                            # guard b is stricter than the seeds support
    assert json.loads(out.read_text())['seeds'] == ['other:0', 'other:1'] and not list(tmp_path.glob('*.part'))


def test_the_missing_run_benchmark_says_what_is_missing(monkeypatch, capsys):
    "bench_missing_run times a loader on an empty folder: it names the missing stage and the command, and trains nothing."
    import bench_missing_run
    monkeypatch.setattr(sys, 'argv', ['bench_missing_run.py', '--preset', 'smoke', '--repeats', '2'])
    bench_missing_run.main()
    out = capsys.readouterr().out
    assert "has no run in" in out and 'Nothing was trained' in out and 'eol run --preset smoke --stages' in out
    assert 'load_omni on an empty folder, preset smoke: median ' in out and 'over 2 calls' in out


def test_the_asr_study_refuses_a_folder_or_field_it_would_spoil(monkeypatch, tmp_path, capsys):
    "study_asr_sentences refuses, before training, the main job's folders, a folder holding a finished ASR run, and a field outside the ASR's own settings."
    import study_asr_sentences as sas
    from emotion_omni_lite.config import get_settings
    monkeypatch.setattr(sas, 'run_stage', lambda *a, **k: pytest.fail('trained'))
    (tmp_path / 'done' / 'lite' / 'asr').mkdir(parents=True); (tmp_path / 'done' / 'lite' / 'asr' / 'metrics.json').write_text('{}')
    (tmp_path / 'stopped' / 'lite' / 'asr' / 'checkpoint').mkdir(parents=True)   # a study stopped midway: resumed, timed as whole
    job = get_settings(preset='lite')
    for args, said in ((['--out', str(job.out_dir)], "the main job's runs and data live there"),
                       (['--out', str(job.run_path / 'asr')], "the main job's runs and data live there"),
                       (['--out', str(tmp_path / 'done')], 'it holds a finished ASR run'),
                       (['--out', str(tmp_path / 'stopped')], f"it holds an unfinished ASR run ({tmp_path / 'stopped' / 'lite' / 'asr'}), "
                                                              f"which this study would resume and time as if it had trained it whole: delete"),
                       (['--set', 'data.prosody_jitter=0.3'], "another field would ask for another dataset"),
                       (['--set', 'stages.asr.steps'], 'write FIELD=VALUE'),
                       (['--set', 'stages.asr.steps=many'], 'is not a valid value'),
                       (['--threads', '0'], '--threads 0: give 1 or more')):
        monkeypatch.setattr(sys, 'argv', ['study_asr_sentences.py', *args])
        with pytest.raises(SystemExit) as e: sas.main()
        assert e.value.code == 2 and said in capsys.readouterr().err, args


def test_the_untrained_panel_replies_at_their_longest():
    "bench_widgets --untrained holds every reply to llm.max_new_tokens tokens and decoder.max_units units: the trained text LLM and a fresh decoder end theirs sooner, which made its upper bound none."
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    import bench_widgets
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.decoder import stream_decode
    from emotion_omni_lite.stage2 import Stage2Model
    cfg = get_config('smoke'); torch.manual_seed(0)
    llm = LlamaForCausalLM(LlamaConfig(vocab_size=5, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                       num_attention_heads=2, num_key_value_heads=2)).eval()
    with torch.no_grad(): llm.lm_head.weight[3] += 5                   # token 3, the end, comes first
    dec = Stage2Model(cfg).eval().decoder
    dec.head.register_forward_hook(lambda m, i, out: out + 100 * torch.nn.functional.one_hot(torch.tensor(dec.ids['EOU']), out.shape[-1]))   # the end first
    x = torch.randn(1, 4, 16)
    say = lambda: llm.generate(inputs_embeds=x, attention_mask=torch.ones(1, 4, dtype=torch.long), max_new_tokens=cfg.llm.max_new_tokens,
                               do_sample=False, eos_token_id=3, pad_token_id=0).shape[1]
    speak = lambda: sum(len(c) for c in stream_decode(dec, [torch.randn(1, 12, cfg.decoder.d_model, generator=torch.Generator().manual_seed(0))], False))
    with torch.inference_mode(): before = say(), speak()
    bench_widgets.held_to_longest(cfg, llm, dec)
    with torch.inference_mode(): after = say(), speak()
    assert before[0] < cfg.llm.max_new_tokens and before[1] < cfg.decoder.max_units       # each ends early on its own
    assert after == (cfg.llm.max_new_tokens, cfg.decoder.max_units)


def test_the_threads_benchmark_prints_readmes_table(monkeypatch, capsys):
    "bench_threads' table on a 2-core machine has README's header and rows (situation and threads), so README quotes its output."
    import bench_threads
    monkeypatch.setattr(bench_threads, 'usable_cores', lambda: 2)
    monkeypatch.setattr(bench_threads, 'stepper', lambda name: None)
    monkeypatch.setattr(bench_threads, 'time_steps', lambda step, threads, steps, other=0: 0.1 * threads + 0.2 * other)
    monkeypatch.setattr(sys, 'argv', ['bench_threads.py'])
    bench_threads.main()
    printed = [l for l in capsys.readouterr().out.splitlines() if l.startswith('|')]
    readme = (Path(__file__).parents[1] / 'README.md').read_text().splitlines()
    start = readme.index(printed[0])                                    # the header, word for word
    cols = lambda line: line.split(' | ')[:3]                           # situation and threads (the times are the machine's)
    assert [cols(l) for l in printed] == [cols(l) for l in readme[start:start + 6]]


def test_every_row_of_the_threads_benchmark_times_the_same_batches(monkeypatch):
    "bench_threads' rows each warm up on batches 0 and 1 and time batches 2 onwards (one step counter ran on over the rows, so each row timed other batches, of other lengths); a row beside another process starts timing once that process computes."
    import types
    import torch
    import bench_threads
    seen = []
    w = torch.nn.Parameter(torch.zeros(1))
    monkeypatch.setattr(bench_threads, 'training_setup', lambda *a, **k: (
        types.SimpleNamespace(grad_clip=1.0), [w], torch.optim.SGD([w], lr=0.0), lambda k: seen.append(k) or [k], lambda b: w.sum() * b))
    step, threads = bench_threads.stepper('stage2'), torch.get_num_threads()
    try:
        for other in (0, 1, 0): bench_threads.time_steps(step, 1, 3, other)
    finally: torch.set_num_threads(threads)
    assert seen == [0, 1, 2, 3, 4] * 3


def test_guided_decoding_mixes_the_two_halves_logits():
    "study_guidance: weight 1 decodes as the kit does; weight 0 as from the null vector alone; another weight gives other units (and the head is put back)."
    import contextlib, types
    import torch
    import study_guidance as sg
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.decoder import build_fusion, build_speech_decoder, decode_batch
    torch.manual_seed(0)
    cfg = get_config('smoke', **{'decoder.max_units': 40})
    fusion, dec = build_fusion(cfg).eval(), build_speech_decoder(cfg).eval()
    torch.nn.init.normal_(fusion.adaln.to_scale_shift.weight, std=0.5)   # a vector that moves the states (zero at initialisation)
    omni = types.SimpleNamespace(device=torch.device('cpu'), fusion=fusion, decoder=dec, precision=lambda stage: contextlib.nullcontext())
    d, k = cfg.decoder.d_model, cfg.fusion.adaln_cond_dim
    states = [(torch.randn(n, d), torch.randn(n, d), torch.randn(k)) for n in (7, 12)]
    null = torch.randn(k)
    with torch.no_grad():
        fused = lambda v_of: [fusion(h[None], e[None], v_of(v)[None])[0] for h, e, v in states]
        assert sg.guided_units(omni, states, null, 1.0) == decode_batch(dec, fused(lambda v: v), False)
        assert sg.guided_units(omni, states, null, 0.0) == decode_batch(dec, fused(lambda v: null), False)
        pushed = sg.guided_units(omni, states, null, 4.0)
    assert pushed != decode_batch(dec, fused(lambda v: v), False) and dec.head.__class__ is not sg.Guided   # its head put back


def test_the_benchmarks_read_the_main_jobs_runs_and_make_none(monkeypatch, tmp_path):
    "bench_stage1, bench_widgets, bench_flops (and bench_threads' step) and bench_encoders where the main job's runs are missing: each names them and the one command that makes them before any work, and trains or builds nothing (they once trained the missing runs, or built the dataset, in the main job's folders)."
    import re
    import bench_encoders, bench_flops, bench_stage1, bench_widgets
    from emotion_omni_lite import cli
    from emotion_omni_lite.config import get_settings
    from emotion_omni_lite import dataset
    from emotion_omni_lite.stages import StageMissing
    for k, v in (('EOL_PRESET', 'smoke'), ('EOL_DATA_DIR', str(tmp_path / 'data')), ('EOL_OUT_DIR', str(tmp_path / 'runs'))): monkeypatch.setenv(k, v)
    monkeypatch.setattr(cli, 'train_stage', lambda *a, **k: pytest.fail('trained'))
    monkeypatch.setattr(bench_encoders, 'run_stage', lambda *a, **k: pytest.fail('trained'))   # what bench_encoders trains with
    monkeypatch.setattr(dataset, 'build_dataset', lambda *a, **k: pytest.fail('built the dataset'))
    monkeypatch.setattr(bench_flops, 'matmul_peak', lambda: pytest.fail('timed before the runs were checked'))
    runs = "reads the main job's runs and trains none; {} of them are not finished for preset 'smoke' (seed 0)"
    for mod, args, said, stages in (
            (bench_stage1, ['--preset', 'smoke'], 'bench_stage1 ' + runs.format(4), 'data asr emotion_encoder text_llm'),
            (bench_widgets, [], 'bench_widgets ' + runs.format(7), 'data asr emotion_encoder text_llm stage1 vocoder stage2'),
            (bench_widgets, ['--untrained', '--no-speech'], 'bench_widgets ' + runs.format(3), 'data emotion_encoder text_llm'),
            (bench_flops, ['--preset', 'smoke', '--stages', 'stage2'], 'bench_flops ' + runs.format(5), 'data asr emotion_encoder text_llm stage1'),
            (bench_encoders, ['--preset', 'smoke'], "stage 'data'", 'data')):
        monkeypatch.setattr(sys, 'argv', [f'{mod.__name__}.py', *args])
        with pytest.raises(StageMissing) as e: mod.main()
        assert said in str(e.value) and re.search(rf"eol run --preset smoke --stages {stages}[`\n]", str(e.value)), str(e.value)
    s = get_settings(preset='smoke', device='cpu')
    with pytest.raises(StageMissing, match="timing asr reads the main job's runs and trains none; 1 of them"):
        bench_flops.training_setup('asr', 'smoke', settings=s)             # bench_threads' step
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'data').exists()


def test_numbers_that_would_time_or_build_nothing_are_refused_first(monkeypatch, tmp_path, capsys):
    "A count of 0 (or a size of 0, or an empty list of seeds or weights) is refused by its option's name before any work, as bench_stage2 refuses 0 queries."
    import runpy
    import bench_cache_memory, bench_eval_speech, bench_memory_gpu, bench_missing_run, bench_sources, bench_stage1, bench_threads, bench_units
    import study_guidance
    from emotion_omni_lite import cli
    for k, v in (('EOL_PRESET', 'smoke'), ('EOL_DATA_DIR', str(tmp_path / 'data')), ('EOL_OUT_DIR', str(tmp_path / 'runs'))): monkeypatch.setenv(k, v)
    never = lambda *a, **k: pytest.fail('it began its work')
    for mod, name in ((bench_missing_run, 'load_omni'), (bench_cache_memory.subprocess, 'run'), (bench_threads, 'usable_cores'),
                      (bench_eval_speech, 'check_run'), (cli, 'train_stage'), (bench_sources.tempfile, 'TemporaryDirectory'),
                      (bench_memory_gpu, 'measure'), (bench_units, 'get_config')):
        monkeypatch.setattr(mod, name, never)
    for mod, args, said in ((bench_missing_run, ['--repeats', '0'], '--repeats 0: time at least one call'),
                            (bench_sources, ['--files', '0'], '--files 0: write at least one file'),
                            (bench_cache_memory, ['--gb', '0'], '--gb 0: give the stand-in cache a size above 0'),
                            (bench_cache_memory, ['--read', '0'], '--read 0: read back at least one item'),
                            (bench_threads, ['--steps', '0'], '--steps 0: time at least one step'),
                            (bench_stage1, ['--steps', '0'], '--steps 0: time at least one step'),
                            (bench_eval_speech, ['--clips', '0'], '--clips 0: give 1 or more'),
                            (bench_memory_gpu, ['--batches', '1', '0'], '--batches 0: give micro-batches of 1 or more examples'),
                            (bench_memory_gpu, ['--query-seconds', '0'], '--query-seconds 0.0: give a length above 0'),
                            (bench_memory_gpu, ['--reply-seconds', '-1'], '--reply-seconds -1.0: give a length above 0'),
                            (bench_memory_gpu, ['--reply-tokens', '0'], '--reply-tokens 0: give a length above 0'),
                            (bench_memory_gpu, ['--device', 'cuda:1'], "--device: 'cuda:1': to use one GPU of several, give "
                                                                      "--device cuda and choose the GPU with CUDA_VISIBLE_DEVICES=1"),
                            (bench_memory_gpu, ['--device', 'mps'], "--device: invalid choice: 'mps'"),
                            (bench_units, ['--n', '0'], '--n 0: judge at least one held-out reply'),
                            (bench_units, ['--n', '-5'], '--n -5: judge at least one'),
                            (bench_units, ['--units', '128', '1'], '--units 1: a codebook needs 2 units or more'),
                            (bench_units, ['--run-units', '0'], '--run-units 0: a codebook needs 2 units or more'),
                            (study_guidance, ['--seeds'], 'argument --seeds: expected at least one argument'),   # it printed an empty table
                            (study_guidance, ['--weights'], 'argument --weights: expected at least one argument')):
        monkeypatch.setattr(sys, 'argv', [f'{mod.__name__}.py', *args])
        with pytest.raises(SystemExit) as e: mod.main()
        assert e.value.code == 2 and said in capsys.readouterr().err, (mod.__name__, args)
    monkeypatch.setattr(sys, 'argv', ['bench_stage2.py', '--threads', '0'])   # its options are read under __main__
    with pytest.raises(SystemExit) as e: runpy.run_path(str(Path(__file__).parents[1] / 'benchmarks' / 'bench_stage2.py'), run_name='__main__')
    assert e.value.code == 2 and '--threads 0: give 1 or more' in capsys.readouterr().err
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'data').exists()


def test_the_gpu_scripts_keep_an_earlier_json_file_and_write_a_new_one_whole(monkeypatch, tmp_path, capsys):
    "bench_memory_gpu --json and rehearse_gpu --json refuse a file that exists unless --replace, before any work (an earlier run's figures were written over), and write through a .part file."
    import json
    import bench_memory_gpu, rehearse_gpu
    old = tmp_path / 'old.json'; old.write_text('an earlier run')
    monkeypatch.setattr(bench_memory_gpu, 'measure', lambda cfg, st, b, ck, dev, shapes: {
        'stage': st, 'batch': b, 'checkpointing': ck, 'plan_gib': 1.0, 'measured_gib': None, 'ratio': None, 'seconds_two_steps': 0.1})
    monkeypatch.setattr(rehearse_gpu, 'check_prepared', lambda d: pytest.fail('it began its work'))
    for mod, args, said in ((bench_memory_gpu, ['--preset', 'smoke', '--device', 'cpu'], "the file exists (an earlier run's rows)"),
                            (rehearse_gpu, ['run', str(tmp_path)], "the file exists (an earlier rehearsal's checks)")):
        for extra, why in ((['--json', str(old)], said + ': name another, or give --replace'), (['--json', str(tmp_path)], 'that is a folder')):
            monkeypatch.setattr(sys, 'argv', [f'{mod.__name__}.py', *args, *extra])
            with pytest.raises(SystemExit) as e: mod.main()
            assert e.value.code == 2 and why in capsys.readouterr().err and old.read_text() == 'an earlier run'
    monkeypatch.setattr(sys, 'argv', ['bench_memory_gpu.py', '--preset', 'smoke', '--device', 'cpu', '--batches', '2', '--json', str(old), '--replace'])
    bench_memory_gpu.main()
    assert [r['batch'] for r in json.loads(old.read_text())] == [2] * 4
    checks = rehearse_gpu.Checks(); checks('a check', True, 'seen')
    monkeypatch.setattr(rehearse_gpu, 'check_prepared', lambda d: None)
    monkeypatch.setattr(rehearse_gpu, 'run', lambda d, gpus, device: checks)
    monkeypatch.setattr(rehearse_gpu.signal, 'signal', lambda *a: None)
    monkeypatch.setattr(sys, 'argv', ['rehearse_gpu.py', 'run', str(tmp_path), '--json', str(old), '--replace'])
    with pytest.raises(SystemExit) as e: rehearse_gpu.main()
    assert e.value.code == 0 and json.loads(old.read_text()) == checks.rows and not list(tmp_path.glob('*.part'))


def test_the_seed_table_reads_its_with_files_before_any_seed_trains(monkeypatch, tmp_path):
    "bench_seeds --with: a file that is not a figures table, or two files of one name (their seeds' label), is refused before the first seed trains (it was found only after every seed had trained)."
    import json
    import bench_seeds
    monkeypatch.setattr(bench_seeds, 'train', lambda *a: pytest.fail('a seed trained before --with was read'))
    monkeypatch.chdir(tmp_path)                                          # it goes to the checkout: put back after the test
    for d in ('a', 'b'): (tmp_path / d).mkdir(); (tmp_path / d / 'm.json').write_text(json.dumps({'per_seed': {'0': {'x': 1.0}}}))
    (tmp_path / 'list.json').write_text('[1]'); (tmp_path / 'rows.json').write_text('{"per_seed": [1]}')
    for files, said in (([tmp_path / 'list.json'], 'list.json: not a figures file this script wrote'),
                        ([tmp_path / 'rows.json'], 'rows.json: not a figures file this script wrote'),
                        ([tmp_path / 'a' / 'm.json', tmp_path / 'b' / 'm.json'], "another file has the name 'm'")):
        monkeypatch.setattr(sys, 'argv', ['bench_seeds.py', '--seeds', '0', '--json', str(tmp_path / 'out.json'), '--with', *map(str, files)])
        with pytest.raises(SystemExit, match=said): bench_seeds.main()
    assert not (tmp_path / 'out.json').exists()


def test_the_units_benchmark_names_the_runs_it_reads_first(monkeypatch, tmp_path):
    "bench_units where the main job's runs are missing: the dataset, emotion encoder and vocoder are named with the one command that makes them before any work (the vocoder was found missing last)."
    import re
    import bench_units
    from emotion_omni_lite.stages import StageMissing
    for k, v in (('EOL_DATA_DIR', str(tmp_path / 'data')), ('EOL_OUT_DIR', str(tmp_path / 'runs'))): monkeypatch.setenv(k, v)
    monkeypatch.setattr(bench_units, 'load_dialogues', lambda *a: pytest.fail('read the data before the runs were checked'))
    monkeypatch.setattr(sys, 'argv', ['bench_units.py'])
    with pytest.raises(StageMissing) as e: bench_units.main()
    assert "bench_units reads the main job's runs and trains none; 3 of them are not finished for preset 'lite'" in str(e.value)
    assert re.search(r"eol run --preset lite --stages data emotion_encoder vocoder[`\n]", str(e.value)), str(e.value)
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'data').exists()


def test_the_data_benchmark_builds_with_the_workers_asked_for_zero_too(monkeypatch):
    "bench_data --workers 0 builds in this process (0 is a valid count): it was read as no setting, and the preset's 2 workers built."
    import bench_data
    seen = []
    class Stop(Exception): pass
    def build(cfg, s): seen.append(cfg.data.workers); raise Stop
    monkeypatch.setattr(bench_data, 'build_dataset', build)
    for workers, want in ((['--workers', '0'], 0), (['--workers', '1'], 1), ([], bench_data.get_config('lite').data.workers)):
        monkeypatch.setattr(sys, 'argv', ['bench_data.py', *workers])
        with pytest.raises(Stop): bench_data.main()
        assert seen.pop() == want, workers
    assert bench_data.get_config('lite').data.workers != 0                # the default is not what --workers 0 asks


def test_the_encoder_benchmark_holds_each_encoder_to_its_stage_table_minutes(monkeypatch, tmp_path, capsys):
    "bench_encoders' verdicts: each encoder, with the log-mels, against its lite minutes in the stage table, and stage 0 as the main job runs it (the two side by side: the longer one) against the 3-minute target."
    import json, types
    import bench_encoders
    from emotion_omni_lite.stages import STAGES
    table = {n: 60 * STAGES[n].lite_minutes for n in ('asr', 'emotion_encoder')}
    emo = max(table['emotion_encoder'], 180) + 1                       # over its table, and stage 0 over the 3-minute target
    ticks = iter([0, 5, 5, 15, 15, 15 + emo])                          # log-mels 5 s, the ASR 10 s, the emotion encoder `emo`
    monkeypatch.setattr(bench_encoders, 'time', types.SimpleNamespace(time=lambda: next(ticks)))
    monkeypatch.setattr(bench_encoders, 'require_stage', lambda *a: None)
    monkeypatch.setattr(bench_encoders, 'load_query_mels', lambda cfg, s: (['q'] * 3, None))
    def run(name, cfg, job, s):
        (tmp_path / name).mkdir(exist_ok=True); (tmp_path / name / 'metrics.json').write_text(json.dumps({'train_seconds': 1, 'eval_seconds': 1}))
        return tmp_path / name
    monkeypatch.setattr(bench_encoders, 'run_stage', run)
    monkeypatch.setattr(sys, 'argv', ['bench_encoders.py'])
    bench_encoders.main()
    out = capsys.readouterr().out
    assert f"15 s against the stage table's {table['asr']:.0f}: within" in out
    assert f"{5 + emo:.0f} s against the stage table's {table['emotion_encoder']:.0f}: OVER" in out
    assert f"side by side about {5 + emo:.0f} s (target <= 180 s: MISSED" in out   # the longer of the two, with the log-mels
    monkeypatch.setattr(bench_encoders.torch, 'get_num_threads', lambda: 2)   # timed on two threads: said so
    ticks = iter([0, 5, 5, 15, 15, 35])                                  # the emotion encoder 20 s: stage 0 about 25 s
    bench_encoders.main()
    out = capsys.readouterr().out
    assert "side by side about 25 s (target <= 180 s: met" in out and "on 2 threads, faster than the main job's one-thread workers" in out
    monkeypatch.setattr(bench_encoders, 'load_query_mels', lambda cfg, s: pytest.fail('read the log-mels'))
    monkeypatch.setattr(sys, 'argv', ['bench_encoders.py', '--preset', 'full'])   # pretrained encoders: nothing to time
    with pytest.raises(SystemExit): bench_encoders.main()
    assert "--preset full: its encoders are pretrained checkpoints (asr: " in capsys.readouterr().err


def test_the_scripts_say_their_purpose_and_refuse_unknown_options(monkeypatch, capsys):
    "bench_memory_cpu --help prints its purpose and measures nothing, and an unknown option is refused (it ran the whole measurement); bench_encoders and bench_stage1 open their help with their docstring's first paragraph."
    import bench_encoders, bench_memory_cpu, bench_stage1
    monkeypatch.setattr(bench_memory_cpu, 'measure', lambda mp: pytest.fail('it measured'))
    for mod, said in ((bench_memory_cpu, "The memory plan's estimate (`scale.stage_memory`) against the peak memory"),
                      (bench_encoders, 'Stage 0 for both encoders on `lite` from scratch: time and figures.'),
                      (bench_stage1, 'Stage 1 speed: cached encoder features vs running the frozen encoders at every step')):
        monkeypatch.setattr(sys, 'argv', [f'{mod.__name__}.py', '--help'])
        with pytest.raises(SystemExit) as e: mod.main()
        assert e.value.code == 0 and said in ' '.join(capsys.readouterr().out.split()), mod.__name__
    monkeypatch.setattr(sys, 'argv', ['bench_memory_cpu.py', '--steps', '3'])
    with pytest.raises(SystemExit) as e: bench_memory_cpu.main()
    assert e.value.code == 2 and 'unrecognized arguments: --steps 3' in capsys.readouterr().err


def test_the_multi_seed_scripts_name_every_seeds_missing_runs_first(monkeypatch, tmp_path, capsys):
    "study_guidance, study_speaker_reference and bench_asr_voices on empty folders name what seeds 0 and 1 both lack before any work, and bench_stage2 --figures names the ablation's stage 2 before the latency timing (each was found only after minutes of work)."
    import runpy
    import bench_asr_voices, study_guidance, study_speaker_reference as ssr
    from emotion_omni_lite import omni as om
    from emotion_omni_lite.stages import StageMissing
    for k, v in (('EOL_PRESET', 'lite'), ('EOL_DATA_DIR', str(tmp_path / 'data')), ('EOL_OUT_DIR', str(tmp_path / 'runs'))): monkeypatch.setenv(k, v)
    never = lambda *a, **k: pytest.fail('it began its work')
    for mod, name in ((om, 'load_omni'), (ssr, 'query_prosody'), (bench_asr_voices, 'load_query_mels')): monkeypatch.setattr(mod, name, never)
    seeds = ['--seeds', '0', '1', '--root', str(tmp_path / 'seeds')]
    runs = "{} reads the main job's runs and trains none; {} of them are not finished for preset 'lite' (seed {{}})"
    for mod, said in ((study_guidance, runs.format('study_guidance', 7)), (bench_asr_voices, runs.format('bench_asr_voices', 2)),
                      (ssr, "stage 'data' (the spoken-dialogue dataset and its speech units) has no run in {}")):
        monkeypatch.setattr(sys, 'argv', [f'{mod.__name__}.py', *seeds])
        with pytest.raises(StageMissing) as e: mod.main()
        for seed in (0, 1):
            assert (said.format(seed) if mod is not ssr else f"for this config (preset 'lite', seed {seed})") in str(e.value), str(e.value)
        if mod is ssr: assert str(e.value).count(said.format('')) == 2
        assert f"EOL_SEED=1 EOL_DATA_DIR={tmp_path / 'seeds' / 's1' / 'data'}" in str(e.value)   # seed 1's command, its folders
    script = str(Path(__file__).parents[1] / 'benchmarks' / 'bench_stage2.py')
    for figures in ([], ['--figures']):
        monkeypatch.setattr(sys, 'argv', ['bench_stage2.py', *figures])
        with pytest.raises(SystemExit) as e: runpy.run_path(script, run_name='__main__')
        err = capsys.readouterr().err
        assert e.value.code == 2 and "bench_stage2 reads the main job's runs and trains none" in err
        assert ('stage2_no_adaln' in err) == bool(figures), err
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'data').exists() and not (tmp_path / 'seeds').exists()


def test_bench_main_stopped_stops_the_job_it_started():
    "bench_main stopped while the job runs (Ctrl-C, a time limit) stops the whole job, its workers too, before its clone is removed."
    import bench_main, os, time
    if not Path('/proc/self/status').is_file(): pytest.skip('reads process states from /proc (Linux)')
    def alive(pid):
        try: return Path(f'/proc/{pid}/status').read_text().split('State:')[1].split()[0] != 'Z'   # a zombie is gone
        except (OSError, IndexError): return False
    lines = bench_main.timed_lines(['bash', '-c', 'sleep 60 & echo $!; wait'], '.', dict(os.environ))
    worker = int(next(lines)[1])                                         # a process the job started, as eol's workers
    assert alive(worker)
    lines.close()                                                        # what a KeyboardInterrupt or SIGTERM's exit does
    for _ in range(50):
        if not alive(worker): break
        time.sleep(0.1)
    assert not alive(worker)


def test_the_seed_scripts_find_other_seeds_in_one_folder_wherever_they_run(monkeypatch, tmp_path):
    "Every script that reads another seed's runs looks in the checkout's runs/seeds by default, and reads a relative --root (or --data-dir) from where it is run, as bench_seeds.py trains them (some once took 'runs/seeds' from the settings file's folder, others from the checkout)."
    import torch
    import bench_asr_voices, bench_seeds, bench_units, study_asr_sentences, study_clipping, study_guidance, study_speaker_reference
    from emotion_omni_lite.config import get_settings
    class Seen(Exception): pass
    def settings(*a, **k):                                              # seed 1's data folder, said before any work
        if k.get('seed'): raise Seen(k['data_dir'])
        return get_settings(*a, **k)
    def train(seed, root):                                              # seed 0 trains the checkout's own main job
        assert Path.cwd() == Path(__file__).resolve().parents[1], Path.cwd()
        raise Seen(str(root / f's{seed}' / 'data'))
    monkeypatch.setattr(bench_seeds, 'train', train)
    monkeypatch.chdir(tmp_path)
    default = Path(__file__).resolve().parents[1] / 'runs' / 'seeds' / 's1' / 'data'
    threads = torch.get_num_threads()
    try:
        for mod, seed in ((study_clipping, '--seed'), (study_guidance, '--seeds'), (study_speaker_reference, '--seeds'),
                          (bench_asr_voices, '--seeds'), (bench_units, '--seed'), (bench_seeds, '--seeds'), (study_asr_sentences, '--seed')):
            if mod is not bench_seeds: monkeypatch.setattr(mod, 'get_settings', settings)
            mine = ['--data-dir', 'mine/s1/data'] if mod is study_asr_sentences else ['--root', 'mine']
            table = ['--json', str(tmp_path / 'figures.json')] if mod is bench_seeds else []   # not the checkout's own table
            for extra, want in (([], default), (mine, tmp_path / 'mine' / 's1' / 'data')):
                monkeypatch.chdir(tmp_path)                                # bench_seeds goes to the checkout
                monkeypatch.setattr(sys, 'argv', [f'{mod.__name__}.py', seed, '1', *extra, *table])
                with pytest.raises(Seen) as e: mod.main()
                assert e.value.args[0] == str(want), (mod.__name__, extra)
    finally: torch.set_num_threads(threads)
    assert not (tmp_path / 'mine').exists()


def test_the_figure_scripts_score_the_samples_the_report_scores(monkeypatch, capsys):
    "bench_asr_voices and study_asr_sentences transcribe the very queries evaluate_asr scores for cer_test_voice and cer_test_sentence, held to its length (they read every one, up to 127 characters); bench_stage2 --figures takes the preset's speech sizes (its WER was over all 96 replies, the report's over the first 48)."
    import types
    import torch
    import bench_asr_voices, bench_stage2
    from emotion_omni_lite import omni as om, semantic_encoder as se
    from emotion_omni_lite.evaluate import SPEECH_FIGURE_SIZES
    rows = ([{'split': 'train', 'voice': 'a', 'query_text': 'a much longer training sentence than any held out'}]
            + [{'split': 'test_voice', 'voice': 'bc'[i % 2], 'query_text': 'hi there'} for i in range(700)])
    mels, calls = [torch.tensor([i]) for i in range(len(rows))], []
    def transcribe(model, ms, max_chars=se.MAX_TRANSCRIPT_CHARS - 1, **k): calls.append(([int(m) for m in ms], max_chars)); return ['hi there'] * len(ms)
    for mod in (se, bench_asr_voices): monkeypatch.setattr(mod, 'transcribe', transcribe)
    monkeypatch.setattr(bench_asr_voices, 'load_query_mels', lambda cfg, s: (rows, mels))
    monkeypatch.setattr(bench_asr_voices, 'load_asr_model', lambda cfg, s: None)
    se.evaluate_asr(types.SimpleNamespace(ctc_head=None), rows, mels, splits=('test_voice',))
    by = bench_asr_voices.per_voice(None, None)
    assert calls[0] == calls[1] and len(calls[0][0]) == 234 and calls[0][1] == 10 + len(rows[0]['query_text'])   # 700 → every 3rd
    assert by == {'b': (117, 0.0), 'c': (117, 0.0)}
    import study_asr_sentences as sas                                   # its new sentences by engine: the report's, scored alike
    rows = [{**r, 'split': 'test_sentence', 'voice': ['espeak:en', 'piper:joe'][i % 2]} if r['split'] == 'test_voice' else r
            for i, r in enumerate(rows)]
    calls.clear()
    monkeypatch.setattr(sas, 'transcribe', transcribe)
    monkeypatch.setattr(sas, 'load_query_mels', lambda cfg, s: (rows, mels)); monkeypatch.setattr(sas, 'load_asr_model', lambda cfg, s: None)
    se.evaluate_asr(types.SimpleNamespace(ctc_head=None), rows, mels, splits=('test_sentence',))
    assert sas.by_engine(types.SimpleNamespace(data=types.SimpleNamespace(tts='espeak')), None) == {'espeak': 0.0, 'piper': 0.0}
    assert calls[0] == calls[1] and len(calls[0][0]) == 234 and calls[0][1] == 10 + len(rows[0]['query_text'])
    seen, lite = [], SPEECH_FIGURE_SIZES['lite']
    def figures(cfg, s, n_eval=96, omni=None, streaming=True, n_follow=24, n_wer=None, **k):
        seen.append((n_eval, n_follow, n_wer))
        return {k: 0.5 for k in ('generated_emotion_acc', 'teacher_text_emotion_acc', 'reference_emotion_acc',
                                 'vocoded_reference_units_emotion_acc', 'generated_wer', 'reference_wer')}
    monkeypatch.setattr(om, 'speech_figures', figures); monkeypatch.setattr(bench_stage2, 'load_omni', lambda *a, **k: None)
    monkeypatch.setenv('EOL_PRESET', 'lite')
    bench_stage2.figures()
    assert seen == [(lite['n_eval'], lite['n_follow'], lite['n_wer'])] * 2 and lite['n_wer'] < lite['n_eval']
    assert f"pocketsphinx WER of the first {lite['n_wer']}: generated 0.50" in capsys.readouterr().out


def test_the_threads_benchmark_on_one_core_times_no_row_beside_nothing(monkeypatch, capsys):
    "bench_threads with one usable core leaves out the worker's-share rows (it timed 'beside another process' with no other process) and says why; the oversubscribed row has its other process."
    import bench_threads
    timed = []
    monkeypatch.setattr(bench_threads, 'usable_cores', lambda: 1)
    monkeypatch.setattr(bench_threads, 'stepper', lambda name: None)
    monkeypatch.setattr(bench_threads, 'time_steps', lambda step, threads, steps, other=0: timed.append((threads, other)) or 0.1)
    monkeypatch.setattr(sys, 'argv', ['bench_threads.py'])
    bench_threads.main()
    out = capsys.readouterr().out
    assert timed == [(1, 0), (1, 1)] and "the kit's threads (their sum" not in out and 'One usable core' in out
    assert [l.split(' | ')[:3] for l in out.splitlines() if l.startswith('| beside')] == [['| beside another process, both on every core (oversubscribed)', '1', '1']]


def test_the_noise_study_prints_what_the_audio_notebook_quotes(monkeypatch, capsys):
    "study_noise_color prints, per colour and query length, the noise's power below 50 Hz and in its offset and the SNR heard where speech is, then augment on one torch thread against two (the threads as they were after); a count of 0 is refused before any work."
    import torch
    import study_noise_color as snc
    with monkeypatch.context() as m:
        for name in ('noise_table', 'thread_table'): m.setattr(snc, name, lambda n: pytest.fail('it began its work'))
        for opt in ('--seeds', '--chains'):
            m.setattr(sys, 'argv', ['study_noise_color.py', opt, '0'])
            with pytest.raises(SystemExit) as e: snc.main()
            assert e.value.code == 2 and f'{opt} 0: draw at least one' in capsys.readouterr().err
    threads = torch.get_num_threads()
    monkeypatch.setattr(sys, 'argv', ['study_noise_color.py', '--seeds', '3', '--chains', '4'])
    snc.main()
    out = capsys.readouterr().out
    rows = [r.split() for r in out.splitlines() if r.split()[:1] in (['pink'], ['brown'])]
    assert [r[:2] for r in rows] == [[c, str(s)] for c in ('pink', 'brown') for s in (1, 2, 3, 4)]
    assert all(float(r[2].rstrip('%')) > 90 for r in rows[4:]) and all(30 < float(r[2].rstrip('%')) < 70 for r in rows[:4])
    assert "augment's first 4 chains of" in out and 'chains with a phone line' in out and torch.get_num_threads() == threads


def test_readme_benchmark_commands_run_as_written():
    "Every benchmark command README gives runs in the kit's environment (`.venv/bin/python`; bench_main.py, which needs only the standard library and makes its own clone's .venv, with `python3`), with flags and subcommands its script takes; rehearse_gpu.py's `prepare` and `run` each have one."
    import ast, re
    root = Path(__file__).parents[1]
    readme = (root / 'README.md').read_text()
    calls = re.findall(r"([\w./]*python3?)\s+benchmarks/(\w+)\.py([^`\n#]*)", readme)   # a command may wrap
    assert calls
    for python, name, args in calls:
        assert python == ('python3' if name == 'bench_main' else '.venv/bin/python'), (python, name)
        tree = ast.parse((root / 'benchmarks' / f'{name}.py').read_text())
        adds = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, 'attr', '') == 'add_argument']
        flags = {a.value for c in adds for a in c.args if isinstance(a, ast.Constant) and str(a.value).startswith('-')}
        assert set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", args)) <= flags, (name, args, flags)
        sub = [ast.literal_eval(k.value) for c in adds if c.args and not str(getattr(c.args[0], 'value', '-')).startswith('-')
               for k in c.keywords if k.arg == 'choices' and isinstance(k.value, ast.List)]
        if sub: assert args.split()[0] in sub[0], (name, args)                      # a subcommand, named first
    nodes = list(ast.walk(ast.parse((root / 'benchmarks' / 'bench_main.py').read_text())))
    main_imports = {m.split('.')[0] for m in [a.name for n in nodes if isinstance(n, ast.Import) for a in n.names]
                    + [n.module for n in nodes if isinstance(n, ast.ImportFrom)]}
    assert main_imports <= sys.stdlib_module_names, main_imports - sys.stdlib_module_names   # python3 runs it anywhere
    assert {a.split()[0] for _, n, a in calls if n == 'rehearse_gpu'} == {'prepare', 'run'}


def test_readme_quotes_the_quality_checks_time_of_its_timed_job():
    "How it runs quotes the quality checks' seconds of the timed table (it once gave 10 and 13 s beside the table's 18)."
    import re
    readme = (Path(__file__).parents[1] / 'README.md').read_text()
    row = re.search(r"^\| quality checks \(`pytest -m slow`\) \| (\d+) \| (\d+) \| (\d+) \|$", readme, re.M)
    assert row and int(row[2]) - int(row[1]) == int(row[3])
    bullet = ' '.join(readme.split('- **The quality checks read what the evaluation wrote**', 1)[1].split('\n- ', 1)[0].split())
    assert f"{row[3]} s in the timed job above" in bullet and 'pytest' in bullet, bullet


def test_the_main_job_timer_runs_a_relative_clone_and_names_what_head_lacks(monkeypatch, tmp_path, capsys):
    "bench_main --repo with a relative path: the job and the speed probe both run in the clone (the probe once looked for kit/kit/.venv, and the table was lost after the whole job); a probe that cannot start is left out; a clone's .venv is an earlier install; without --repo, changes not in HEAD are named first."
    import subprocess
    import bench_main
    git = lambda *a: subprocess.run(['git', '-c', 'user.name=k', '-c', 'user.email=k@k', *a], check=True, capture_output=True)
    git('init', '-q', str(tmp_path / 'kit'))
    def job(cmd, cwd, env):                                             # its install makes the clone's .venv, as setup.sh does
        py = Path(cwd) / '.venv' / 'bin' / 'python'; py.parent.mkdir(parents=True); py.write_text('#!/bin/sh\necho 12.5\n'); py.chmod(0o755)
        yield 1.0, 'emotion_omni_lite main job: preset smoke'; yield 2.0, None
    monkeypatch.setattr(bench_main, 'timed_lines', job)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'argv', ['bench_main.py', '--repo', 'kit'])
    bench_main.main()
    out, err = capsys.readouterr()
    assert '| install (scripts/setup.sh) | 0 | 1 | 1 |' in out and 'float32 matmul 12.5 GFLOP/s' in out and 'changes not in HEAD' not in err
    assert bench_main.earlier_work(tmp_path / 'kit') == ['.venv/']      # run again, its install would read about 0 s
    with pytest.raises(SystemExit) as e: bench_main.main()
    assert e.value.code == 2 and "hold an earlier job's work (.venv/)" in capsys.readouterr().err
    assert bench_main.speed_probe(tmp_path / 'absent') == ''
    root = tmp_path / 'root'; git('init', '-q', str(root)); (root / 'a.py').write_text('1')
    git('-C', str(root), 'add', 'a.py'); git('-C', str(root), 'commit', '-qm', 'a'); (root / 'a.py').write_text('2')
    monkeypatch.setattr(bench_main, 'ROOT', root); monkeypatch.setattr(sys, 'argv', ['bench_main.py'])
    bench_main.main()
    assert f"the working tree at {root} has changes not in HEAD (a.py); the clone times HEAD without them" in capsys.readouterr().err


def test_the_rehearsal_leaves_the_shells_settings_out_and_takes_cuda_or_cpu(monkeypatch, tmp_path, capsys):
    "rehearse_gpu: EOL_PRESET, EOL_DATA_DIR, EOL_OUT_DIR, EOL_SEED and EOL_DEVICE from the shell reach neither its launches nor its own get_settings() (they overrode its settings file); --device is cuda or cpu, and --gpus other than 1 needs cuda; each refused before any work."
    import os, types
    import rehearse_gpu
    shell = {'EOL_PRESET': 'lite', 'EOL_DATA_DIR': str(tmp_path / 'other'), 'EOL_OUT_DIR': str(tmp_path / 'other'), 'EOL_SEED': '1', 'EOL_DEVICE': 'cpu'}
    for k, v in shell.items(): monkeypatch.setenv(k, v)
    before = list(rehearse_gpu.LAUNCHED)
    p = rehearse_gpu.eol(tmp_path, 'settings.ini', launch=['sh', '-c', 'env', 'launch'])   # a launch that prints its environment
    rehearse_gpu.LAUNCHED[:] = before
    seen = dict(l.split('=', 1) for l in p.log.read_text().splitlines() if l.startswith('EOL_'))
    assert {k: seen.get(k) for k in [*shell, 'EOL_SETTINGS']} == {**dict.fromkeys(shell), 'EOL_OUT_DIR': str(tmp_path / 'runs'),
                                                                'EOL_SETTINGS': str(tmp_path / 'settings.ini')}, seen
    envs = []
    def launch(d, settings, *a, **k):                                   # the first launch fails: run() stops there
        envs.append({k: os.environ.get(k) for k in shell}); (tmp_path / 'log.txt').write_text('stopped')
        return types.SimpleNamespace(returncode=1, log=tmp_path / 'log.txt')
    monkeypatch.setattr(rehearse_gpu, 'eol', launch)
    ok = rehearse_gpu.run(tmp_path, 1, 'cpu')
    assert envs == [dict.fromkeys(shell)] and [r['ok'] for r in ok.rows] == [False]   # its own get_settings() comes after
    assert f"{', '.join(shell)} from the shell left out" in capsys.readouterr().out
    monkeypatch.setattr(rehearse_gpu, 'check_prepared', lambda d: pytest.fail('it began its work'))
    for args, said in ((['--device', 'mps'], "--device: invalid choice: 'mps'"),
                       (['--device', 'cuda:1'], "to use one GPU of several, give --device cuda and choose the GPU with CUDA_VISIBLE_DEVICES=1"),
                       (['--device', 'cpu', '--gpus', '2'], '--gpus 2 with --device cpu: the CPU runs the one-process checks alone')):
        monkeypatch.setattr(sys, 'argv', ['rehearse_gpu.py', 'run', str(tmp_path), *args])
        with pytest.raises(SystemExit) as e: rehearse_gpu.main()
        assert e.value.code == 2 and said in capsys.readouterr().err, args


def test_the_dnsmos_timing_spreads_its_clips_over_a_small_dataset(monkeypatch, tmp_path, capsys):
    "bench_eval_speech's DNSMOS clips: lite's every other reply and every 40th query from the 1000th, as before; on a smaller dataset spread over what is there (`--clips 1` once scored an empty list and crashed); none at all is refused, naming the folder and the command that builds it."
    import types
    import torch
    import bench_eval_speech as bes
    s = types.SimpleNamespace(data_path=tmp_path, preset='smoke')
    import re
    with pytest.raises(SystemExit, match=rf"{re.escape(str(tmp_path / 'audio'))} holds no query or reply clips .*eol run --preset smoke --stages data"):
        bes.dnsmos_windows(s, 4)
    for kind in ('query', 'reply'):
        (tmp_path / 'audio' / kind).mkdir(parents=True)
        for i in range(6): (tmp_path / 'audio' / kind / f'{i:02d}.wav').write_bytes(b'')
    loaded = []
    monkeypatch.setattr(bes, 'load_audio', lambda f: loaded.append(f.relative_to(tmp_path / 'audio').as_posix()) or torch.zeros(16000))
    monkeypatch.setattr(bes, 'dnsmos', lambda w, every_hop=False: {'ovrl': 3.0})
    bes.dnsmos_windows(s, 1)
    assert loaded == ['query/00.wav'] and 'DNSMOS on 1 clips of the data' in capsys.readouterr().out
    loaded.clear(); bes.dnsmos_windows(s, 4)
    assert loaded == ['reply/00.wav', 'reply/02.wav', 'query/00.wav', 'query/03.wav']
    lite = list(range(3600))                                            # lite's 3,600 of each: the clips it always scored
    assert bes.spread(lite, 20, 0, 2) == lite[:40:2] and bes.spread(lite, 20, 1000, 40) == lite[1000:1800:40]


def test_the_latency_benchmark_says_the_queries_it_timed_and_times_replies_that_speak(monkeypatch, capsys):
    "bench_stage2 prints how many held-out queries it timed (it said the number asked for), bases the real-time factor on the replies with speech (a silent reply's time counted against no audio), and refuses a dataset with no held-out dialogue by name."
    import types
    import torch
    import bench_stage2
    rows = [{'split': 'train', 'id': 0}] + [{'split': 'test_voice', 'id': i} for i in (1, 2, 3)]
    def respond(q, streaming=True):                                     # query 2's reply says nothing
        return {'audio_seconds': 0.0 if q == 2 else 2.0, 'timings': {'first_text_token_ms': 5.0, 'first_audio_ms': None if q == 2 else 9.0,
                                                                     'text_done_ms': 50.0, 'total_ms': 1000.0}}
    monkeypatch.setattr(bench_stage2, 'load_omni', lambda cfg, s: types.SimpleNamespace(respond=respond))
    monkeypatch.setattr(bench_stage2, 'audio_path', lambda r, s, kind: r['id'])
    monkeypatch.setattr(bench_stage2, 'load_dialogues', lambda cfg, s: rows)
    threads = torch.get_num_threads()
    try:
        res = bench_stage2.main(12, 1)
        assert res['streaming']['rtf'] == res['full']['rtf'] == 0.5     # 2 s of work for 4 s of speech
        out = capsys.readouterr().out
        assert ', 3 held-out queries, 1 threads' in out and 'RTF over the 2 of 3 with speech' in out
        monkeypatch.setattr(bench_stage2, 'load_dialogues', lambda cfg, s: rows[:1])
        with pytest.raises(SystemExit, match=r"holds no held-out dialogue to time: build it whole \(`eol run --preset \w+ --stages data`\)"):
            bench_stage2.main(12, 1)
    finally: torch.set_num_threads(threads)


def test_the_stage1_benchmark_steps_as_the_stage_trains(monkeypatch, tmp_path, capsys):
    "bench_stage1 times the stage's own recipe: its examples (aug_copies too), learning rate, gradient clipping and grad_accum micro-batches, both with cached features and with the encoders run every step, and --full-train trains the stage's own job (it once stepped at lr 1e-4, unclipped, in one batch, and left aug_copies out)."
    import types
    import torch
    import bench_flops
    import bench_stage1
    from emotion_omni_lite import audio, config, dataset, emotion_encoder, semantic_encoder, stage1, train
    for k, v in (('EOL_DATA_DIR', str(tmp_path / 'data')), ('EOL_OUT_DIR', str(tmp_path / 'runs'))): monkeypatch.setenv(k, v)
    cfg = config.set_fields(config.get_config('smoke'), **{'stages.stage1.grad_accum': 2, 'stages.stage1.aug_copies': 1})
    monkeypatch.setattr(config, 'get_config', lambda preset: cfg)
    rows = [{'split': 'train' if i < 8 else 'test_voice', 'voice': 'espeak:en'} for i in range(10)]
    ex = lambda: {'sem': torch.randn(3), 'emo': torch.randn(3), 'n50': 3, 'emotion_vec_true': torch.randn(3)}
    sizes, fitted, clipped, made = [], [], [], []
    job = types.SimpleNamespace(data=[ex() for _ in range(8 + 8)], build=lambda: torch.nn.Linear(3, 1), lengths=None, augment=None,
                                collate=lambda b: sizes.append(len(b)) or torch.stack([e['sem'] for e in b]),
                                loss=lambda model, b: model(b).pow(2).mean())
    monkeypatch.setattr(bench_flops, 'require_runs', lambda *a: None)
    real_setup = bench_flops.fit_setup
    monkeypatch.setattr(bench_flops, 'fit_setup', lambda *a: made.append(real_setup(*a)) or made[-1])
    monkeypatch.setattr(stage1, 'stage1_features', lambda cfg, s, progress=True: {'rows': rows, 'seconds': 0})
    monkeypatch.setattr(stage1, 'stage1_job', lambda cfg, s: job)
    monkeypatch.setattr(stage1, 'encode_speech', lambda a, b, waves, c: (torch.randn(len(waves), 4), torch.randn(len(waves), 4),
                                                                          torch.full((len(waves),), 3), torch.randn(len(waves), 3)))
    monkeypatch.setattr(audio, 'load_audio', lambda p: torch.zeros(8)); monkeypatch.setattr(dataset, 'audio_path', lambda *a: 'x.wav')
    monkeypatch.setattr(semantic_encoder, 'load_semantic_encoder', lambda *a: None)
    monkeypatch.setattr(emotion_encoder, 'load_emotion_encoder', lambda *a: None)
    monkeypatch.setattr(train, 'fit', lambda *a, **k: fitted.append(a) or types.SimpleNamespace(seconds=1.0, steps=4, final_loss=0.5))
    monkeypatch.setattr(torch.nn.utils, 'clip_grad_norm_', lambda params, c: clipped.append(c))
    monkeypatch.setattr(sys, 'argv', ['bench_stage1.py', '--preset', 'smoke', '--steps', '2', '--threads', '1', '--full-train'])
    threads = torch.get_num_threads()
    try: bench_stage1.main()
    finally: torch.set_num_threads(threads)
    assert made[0][2].param_groups[0]['lr'] == cfg.stages.stage1.lr != 1e-4
    assert sizes == [2] * 2 * 3 * 2                                     # 2 micro-batches of 2 a step, 3 steps, both ways
    assert clipped == [cfg.stages.stage1.grad_clip] * 6
    assert fitted[0][1] is job.data and fitted[0][4] == cfg.stages.stage1   # the stage's own examples, aug copies too
    assert 'batch 4 in 2 micro-batch(es), lr 0.001' in capsys.readouterr().out


def test_the_scripts_usage_lines_name_the_kits_python():
    "Every benchmark script's usage lines run it as README does: `.venv/bin/python` (bench_main.py, standard library only, `python3`); three once said `python`."
    import ast, re
    for f in sorted((Path(__file__).parents[1] / 'benchmarks').glob('*.py')):
        calls = re.findall(r"([\w./]*python3?) benchmarks/\w+\.py", ast.get_docstring(ast.parse(f.read_text())) or '')
        assert calls and set(calls) == {'python3' if f.stem == 'bench_main' else '.venv/bin/python'}, (f.name, calls)


def _on_smoke(monkeypatch, mod, smoke_settings):
    "A `lite` study script pointed at the test run's finished `smoke` runs (seed 0): its config and settings become smoke's."
    from emotion_omni_lite import config
    monkeypatch.setattr(mod, 'get_config', lambda preset, **kw: config.get_config('smoke', **kw))
    monkeypatch.setattr(mod, 'get_settings', lambda preset, seed, device, **kw: config.get_settings(
        preset='smoke', seed=seed, device=device, data_dir=smoke_settings.data_dir, out_dir=smoke_settings.out_dir))


def _judged(line: str) -> tuple:
    "bench_units' row '<name>  <acc>%   a→b n, …' → (name, accuracy in %, {(a, b): n})."
    import re
    m = re.fullmatch(r'(.+?)\s+(\d+\.\d)%\s*(.*)', line)
    wrong = {tuple(p.rsplit(' ', 1)[0].split('→')): int(p.rsplit(' ', 1)[1]) for p in m[3].split(', ') if p}
    return m[1], float(m[2]), wrong


def test_the_units_benchmark_judges_every_path_on_finished_runs(smoke_settings, smoke_cfg, monkeypatch, capsys):
    "bench_units' measuring itself, on the smoke runs: a row for the reference, Griffin-Lim of the own log-mel, each codebook asked for and the run's vocoder, each row's accuracy and its misreadings adding up to the replies judged (the reference: the emotion encoder's own reading of the reply audio)."
    import bench_units, torch
    from emotion_omni_lite.cli import ensure_stages
    from emotion_omni_lite.config import EMOTIONS
    from emotion_omni_lite.dataset import audio_path, load_dialogues
    from emotion_omni_lite.audio import load_audio
    from emotion_omni_lite.emotion_encoder import classify_emotion, load_emotion_encoder
    ensure_stages(['data', 'emotion_encoder', 'vocoder'], smoke_cfg, smoke_settings)
    capsys.readouterr()
    _on_smoke(monkeypatch, bench_units, smoke_settings)
    monkeypatch.setattr(sys, 'argv', ['bench_units.py', '--units', '4', '8', '--n', '5'])
    bench_units.main()
    lines = capsys.readouterr().out.splitlines()
    rows = list(load_dialogues(smoke_cfg, smoke_settings))
    test = [r for r in rows if r['split'] != 'train'][::3][:5]
    assert lines[0] == f"seed 0: {len(test)} held-out replies, judged by the run's emotion encoder" and len(test) >= 2
    judged = [_judged(l) for l in lines[1:]]
    n_units = smoke_cfg.units.n_units
    assert [j[0] for j in judged] == ['reference', 'own log-mel → Griffin-Lim', '4 units, centroids → GL',
                                      '8 units, centroids → GL', f'{n_units} units, run vocoder'], lines
    want = [r['reply_emotion'] for r in test]
    for name, acc, wrong in judged:                                      # right + misread = every reply judged
        right = round(acc / 100 * len(test))
        assert abs(right - acc / 100 * len(test)) < 0.06 and right + sum(wrong.values()) == len(test), (name, acc, wrong)
        assert all(a in want and b in EMOTIONS and a != b for a, b in wrong), wrong
    enc = load_emotion_encoder(smoke_cfg, smoke_settings)
    pred = classify_emotion(enc, [load_audio(audio_path(r, smoke_settings, 'reply')) for r in test], smoke_cfg.audio).argmax(-1)
    assert judged[0][1] == round(100 * sum(EMOTIONS[p] == w for p, w in zip(pred.tolist(), want)) / len(test), 1)


def test_the_clipping_study_counts_every_query_and_reads_four_views(smoke_settings, smoke_cfg, monkeypatch, capsys):
    "study_clipping's measuring itself, on the smoke runs: its count per emotion and engine covers every query of that engine, and it reads the held-out voices' queries that are not angry under its four views, none read as angry more often than all."
    import re
    import study_clipping, torch
    from emotion_omni_lite.cli import ensure_stages
    from emotion_omni_lite.config import EMOTIONS
    from emotion_omni_lite.dataset import load_dialogues
    from emotion_omni_lite.tts import engine_of
    ensure_stages(['data', 'emotion_encoder'], smoke_cfg, smoke_settings)
    capsys.readouterr()
    _on_smoke(monkeypatch, study_clipping, smoke_settings)
    monkeypatch.setattr(sys, 'argv', ['study_clipping.py'])
    threads = torch.get_num_threads()
    try: study_clipping.main()
    finally: torch.set_num_threads(threads)                              # it runs on one thread
    out = capsys.readouterr().out
    rows = list(load_dialogues(smoke_cfg, smoke_settings))
    for eng in {engine_of(r['voice']) for r in rows}:
        line = re.search(rf"^  {eng}\s*: (.*)$", out, re.M)[1]
        counts = {e: tuple(map(int, c.split('/'))) for e, c in (p.split(' ') for p in line.split(', '))}
        assert set(counts) <= set(EMOTIONS) and all(0 <= k <= n for k, n in counts.values())
        assert {e: n for e, (_, n) in counts.items()} == {e: sum(r['user_emotion'] == e and engine_of(r['voice']) == eng
                                                                 for r in rows) for e in counts}
        assert sum(n for _, n in counts.values()) == sum(engine_of(r['voice']) == eng for r in rows)
    test = [r for r in rows if r['heldout_voice'] and r['user_emotion'] != 'angry']
    assert f"held-out voices' queries that are not angry ({len(test)})" in out and test
    views = re.findall(r"^  (as recorded|louder|louder, clipped|clipped, same loudness)\s+(\d+\.\d)%\s+(\d+\.\d)%$", out, re.M)
    assert [v[0] for v in views] == ['as recorded', 'louder', 'louder, clipped', 'clipped, same loudness'], out
    assert all(float(a) + float(b) <= 100.05 for _, a, b in views)        # right and read as angry never overlap


def test_the_guidance_study_at_weight_one_gives_the_kits_own_figures(smoke_settings, smoke_cfg, monkeypatch, capsys):
    "study_guidance's measuring itself, on the smoke runs: a row per weight with every figure, weight 1's the figures the evaluation's own speech path gives for the same replies (its decoding unguided), and the clock's reply count put back after it. (What guidance does to the units is `test_guided_decoding_mixes_the_two_halves_logits`'s: smoke's decoder barely hears its vector.)"
    import functools, re
    import study_guidance as sg
    from emotion_omni_lite import omni as om
    from emotion_omni_lite.cli import ensure_stages
    from emotion_omni_lite.evaluate import EVAL_PARTS
    ensure_stages(EVAL_PARTS['omni'], smoke_cfg, smoke_settings)
    capsys.readouterr()
    _on_smoke(monkeypatch, sg, smoke_settings)
    timed = om.TIMED_REPLIES
    monkeypatch.setattr(om, 'speech_figures', functools.partial(om.speech_figures, n_eval=8, n_follow=4))   # 96: minutes
    monkeypatch.setattr(sys, 'argv', ['study_guidance.py', '--weights', '1', '2'])
    sg.main()
    out = capsys.readouterr().out
    assert om.TIMED_REPLIES == timed                                      # put back
    rows = re.findall(r"^\s+0\s+([\d.]+)\s+(.*?)\s+(\d+)$", out, re.M)
    assert [w for w, *_ in rows] == ['1', '2'], out
    cells = {w: c.split() for w, c, _ in rows}
    assert all(len(c) == len(sg.FIGURES) for c in cells.values()), cells
    monkeypatch.setattr(om, 'TIMED_REPLIES', 0)                           # every reply through the batch, as the study
    m = om.speech_figures(smoke_cfg, smoke_settings, omni=om.load_omni(smoke_cfg, smoke_settings),
                          sets=('generated', 'teacher_text'), wer_sets=('generated',))
    assert cells['1'] == ['—' if m.get(k) is None else f"{m[k]:.1%}" for k in sg.FIGURES], (cells, m)
    assert m.get('generated_emotion_acc') is not None


def test_the_data_benchmark_prints_its_build_and_removes_it(monkeypatch, tmp_path, capsys):
    "bench_data's measuring itself: a smoke build in a temporary folder, its rows, splits, manifest hash, phases and prosody table printed as the build recorded them, and the folder gone afterwards."
    import json, re, tempfile
    import bench_data
    from emotion_omni_lite.config import EMOTIONS
    from emotion_omni_lite.dataset import load_dialogues
    for k, v in (('EOL_DATA_DIR', str(tmp_path / 'data')), ('EOL_OUT_DIR', str(tmp_path / 'runs'))): monkeypatch.setenv(k, v)
    made, seen = [], {}
    real_mkdtemp, real_info = tempfile.mkdtemp, bench_data.build_info
    def mkdtemp(*a, **kw):                                               # the benchmark's own folder, where the test sees it
        if kw.get('prefix') != 'bench_data_': return real_mkdtemp(*a, **kw)
        made.append(real_mkdtemp(dir=tmp_path, **kw)); return made[-1]
    monkeypatch.setattr(bench_data.tempfile, 'mkdtemp', mkdtemp)
    def info(cfg, s):                                                    # what the build left, read before it is removed
        seen.update(info=real_info(cfg, s), rows=len(load_dialogues(cfg, s)))
        return seen['info']
    monkeypatch.setattr(bench_data, 'build_info', info)
    monkeypatch.setattr(sys, 'argv', ['bench_data.py', '--preset', 'smoke', '--workers', '0'])
    bench_data.main()
    out = capsys.readouterr().out
    st, n = seen['info']['stats'], seen['rows']
    assert f"preset smoke: {n} dialogues ({n} query + {n} reply utterances), 0 workers" in out and n == st['rows'] > 0
    assert re.search(rf"^manifest hash   {seen['info']['manifest_hash']}$", out, re.M)
    assert json.loads(re.search(r"^splits          (.*)$", out, re.M)[1]) == st['split'] and sum(st['split'].values()) == n
    assert json.loads(re.search(r"^phases \(s\)      (.*)$", out, re.M)[1]) == seen['info']['phase_seconds']
    wall = float(re.search(r"^build time      ([\d.]+) s", out, re.M)[1])
    assert wall >= sum(seen['info']['phase_seconds'].values()) - 0.5    # the wall clock holds every phase
    table = re.findall(r"^\| (\w+) \| [\d.]+ \| [\d.]+ \| [\d.]+ \| -?[\d.]+ \| (\d+) \|$", out, re.M)
    assert table and {e for e, _ in table} <= set(EMOTIONS) and len({e for e, _ in table}) == len(table)
    assert len(made) == 1 and not Path(made[0]).exists() and not (tmp_path / 'data').exists()   # nothing left


def test_the_seed_table_trains_each_seed_in_its_folders_and_reads_its_figures(monkeypatch, tmp_path, capsys):
    "bench_seeds.train runs the main job (`eol run --preset lite`) with the seed and, for seeds other than 0, `<root>/sN`'s folders, says a finished run it replaced and ends naming a failed job's error or a kit not installed; figures reads the seed's run through `evaluate.run_figures` from those same folders."
    import os, subprocess
    import bench_seeds
    from emotion_omni_lite import config, evaluate
    calls = []
    def job(cmd, env, **kw):
        calls.append((cmd, env))
        out = 'replacing the finished run of emotion_encoder (another config)\nother lines\n' if env['EOL_SEED'] == '1' else ''
        return subprocess.CompletedProcess(cmd, 3 if env['EOL_SEED'] == '2' else 0, out, 'lost\nTraceback: the job broke')
    monkeypatch.setattr(bench_seeds.subprocess, 'run', job)
    monkeypatch.setenv('EOL_DATA_DIR', '/elsewhere/data')                  # the shell's, kept for seed 0 only
    checkout = tmp_path / 'checkout'; (checkout / '.venv' / 'bin').mkdir(parents=True)
    monkeypatch.setattr(bench_seeds, 'ROOT', checkout)                    # a checkout whose kit is not installed
    with pytest.raises(SystemExit, match=r"\.venv/bin/eol is missing: install the kit first \(bash scripts/setup\.sh run\)"):
        bench_seeds.train(0, tmp_path)
    assert not calls
    (checkout / '.venv' / 'bin' / 'eol').write_text('')                   # installed
    for seed in (0, 1): bench_seeds.train(seed, tmp_path)
    (cmd0, env0), (cmd1, env1) = calls
    assert cmd0 == cmd1 == [str(checkout / '.venv' / 'bin' / 'eol'), 'run', '--preset', 'lite']
    assert env0['EOL_SEED'] == '0' and env0['EOL_PRESET'] == 'lite' and env0['EOL_DATA_DIR'] == '/elsewhere/data'
    assert env0.get('EOL_OUT_DIR') == os.environ.get('EOL_OUT_DIR')
    assert (env1['EOL_SEED'], env1['EOL_DATA_DIR'], env1['EOL_OUT_DIR']) == ('1', str(tmp_path / 's1' / 'data'), str(tmp_path / 's1' / 'runs'))
    assert capsys.readouterr().out == 'seed 1: replacing the finished run of emotion_encoder (another config)\n'
    with pytest.raises(SystemExit, match=r"seed 2: the main job failed:\nlost\nTraceback: the job broke"): bench_seeds.train(2, tmp_path)
    seen = []
    def run_figures(cfg, s):
        seen.append((cfg.preset, s.preset, s.seed, str(s.data_dir), str(s.out_dir))); return {'x': 1.0}
    monkeypatch.setattr(evaluate, 'run_figures', run_figures)
    assert bench_seeds.figures(1, tmp_path) == {'x': 1.0}
    assert seen.pop() == ('lite', 'lite', 1, str(tmp_path / 's1' / 'data'), str(tmp_path / 's1' / 'runs'))
    bench_seeds.figures(0, tmp_path)                                     # seed 0: the folders the settings name
    assert seen.pop()[2:] == (0, '/elsewhere/data', str(config.get_settings(preset='lite').out_dir))
