"The benchmarks that CI can run: the shared training step (bench_flops, bench_threads), the speaker-reference study's options, the GPU scripts' CPU parts and the cache memory benchmark."
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
        step(); step()
    finally: bench_threads.training_setup = real
    assert len(calls) == 4                                              # two steps, each both groups (it once read the list as one batch)
    prof = bench_flops.stage_profile('stage2', 1, 'smoke', settings=smoke_settings)
    assert prof['length_groups'] == 2 and prof['flops_per_step'] > 0 and prof['step_s'] > 0


def test_the_speaker_reference_study_reaches_every_seed_and_option(monkeypatch, capsys):
    "study_speaker_reference prints each seed's probe table, then its encoders and stage 1 when asked (a name bound inside its table once replaced the parsed options)."
    import study_speaker_reference as ssr
    from emotion_omni_lite.config import EMOTIONS
    calls = []
    monkeypatch.setattr(ssr, 'query_prosody', lambda cfg, s: (['row'], 'x'))
    monkeypatch.setattr(ssr, 'speaker_normalized', lambda x, rows, *how: x)
    monkeypatch.setattr(ssr, 'not_calm', lambda rows: rows)
    monkeypatch.setattr(ssr, 'cross_engine_probe', lambda rows, x, eng, scored: {
        'acc_other_engine': 0.5, 'acc_heldout_voice': 0.9,
        'acc_other_engine_by_emotion': {e: None if e == 'neutral' else 0.25 for e in EMOTIONS}})
    monkeypatch.setattr(ssr, 'encoder_rows', lambda s: calls.append(('encoders', s.seed)))
    monkeypatch.setattr(ssr, 'stage1_rows', lambda s: calls.append(('stage1', s.seed)))
    monkeypatch.setattr(sys, 'argv', ['study_speaker_reference.py', '--seeds', '0', '1', '--encoders', '--stage1'])
    ssr.main()
    assert calls == [('encoders', 0), ('stage1', 0), ('encoders', 1), ('stage1', 1)]
    out = capsys.readouterr().out
    assert out.count('seed ') == 2 and 'neut —' in out and 'happ 25%' in out


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
    "bench_main's table from the job's own lines: the quality row only when the guards ran (a smoke run once ended in a TypeError after the whole job)."
    import bench_main
    lines = ['[setup] ...', 'emotion_omni_lite main job: preset smoke', 'produced (seconds since the job began)',
             '  data          0 →    5 s', '  asr           5 →   20 s', '--guards: a whole lite run only; this run goes without them']
    stamped = [(float(i), l) for i, l in enumerate(lines)] + [(10.0, None)]
    rows, total = bench_main.phases(iter(stamped))
    assert [r[0] for r in rows] == ['install (scripts/setup.sh)', 'data', 'asr'] and total == 10.0
    assert rows[2][1:] == (1.0 + 5, 1.0 + 20)
    rows, _ = bench_main.phases(iter(stamped[:-1] + [(8.0, '== quality guards (pytest -m slow)'), (10.0, None)]))
    assert rows[-1] == ('quality checks (pytest -m slow)', 8.0, 10.0)
    with pytest.raises(SystemExit, match='did not start'): bench_main.phases(iter([(0.0, '[setup] failed'), (1.0, None)]))


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
