"The main job's schedule: the stage table as tasks, shared caches made once, workers that never outnumber the cores."
import json
from pathlib import Path

import pytest

from emotion_omni_lite.cli import plan_tasks, run_pipeline
from emotion_omni_lite.config import ConfigError, get_config, get_settings
from emotion_omni_lite.evaluate import EVAL_PARTS, JOB_PARTS, TEXT_PART
from emotion_omni_lite.stages import STAGES, StageMissing, stage_applies, stage_folder, stage_hash
from emotion_omni_lite.train import usable_cores


def _settings(tmp_path, monkeypatch):
    "Smoke settings in an empty folder, also seen by the worker processes (they read the environment)."
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs'))
    monkeypatch.setenv('EOL_DEVICE', 'cpu')
    return get_settings(preset='smoke')


def test_plan_is_the_table_with_each_shared_cache_made_once_first(tmp_path, monkeypatch, smoke_cfg):
    tasks = plan_tasks(smoke_cfg, _settings(tmp_path, monkeypatch))
    names, by = [t.name for t in tasks], {t.name: t for t in tasks}
    every = [n for n in STAGES if stage_applies(n, smoke_cfg)]                  # a switched-off study is left out
    assert [n for n in names if n in STAGES] == every and 'stage1_espeak_only' not in every   # every stage, in table order
    assert names[-1] == 'eval' and {f'eval_{p}' for p in EVAL_PARTS} <= set(names)
    for i, t in enumerate(tasks): assert set(t.deps) <= set(names[:i]), t        # what a task reads is planned before it
    shared = {st.prepare.rsplit('.', 1)[-1] for st in STAGES.values() if st.prepare}
    assert shared == {'stage1_features', 'prepare_stage2'} and all(names.count(p) == 1 for p in shared)
    for n, st in STAGES.items():                                                  # both rows of a pair wait for it
        if st.prepare: assert st.prepare.rsplit('.', 1)[-1] in by[n].deps, n
    assert {t.name for t in tasks if t.alone} == {'data', 'eval'}                # these get every core, nothing beside
    assert {t.name for t in tasks if t.alone_if_idle} == shared                  # … these too, when nothing could run beside
    cascade = names.index('eval_cascade')                                         # a part waits only for what it reads
    assert cascade < names.index('stage1') and set(by['eval_cascade'].deps) <= set(names[:cascade])
    assert set(by['eval'].deps) >= {f'eval_{p}' for p in JOB_PARTS} | set(every)
    text = names.index('eval_text')                                               # the text side: after the last run it reads
    assert set(by['eval_text'].deps) == set(TEXT_PART) and max(names.index(n) for n in TEXT_PART) < text < names.index('stage2')


def test_two_workers_train_side_by_side_one_thread_share_each(tmp_path, monkeypatch, capsys):
    s = _settings(tmp_path, monkeypatch)
    done = run_pipeline('smoke', stages=['data', 'asr', 'emotion_encoder', 'text_llm'], jobs=2)
    for n in ('asr', 'emotion_encoder', 'text_llm'):
        env = json.loads((stage_folder(n, s) / 'config.json').read_text())['environment']
        assert env['torch_threads'] == max(1, usable_cores() // 2), (n, env['torch_threads'])   # 2 workers: never more threads than cores
        assert (Path(s.run_path) / 'logs' / f'{n}.log').exists()
    (_, a0, a1), (_, e0, e1) = done['asr'], done['emotion_encoder']   # each start and end: its worker's own clock readings
    assert min(a1, e1) - max(a0, e0) > 1, done     # the two stage-0 encoders trained side by side, for more than a second
    out = capsys.readouterr().out
    assert 'asr started' in out and 'emotion_encoder finished' in out and 'produced' in out


def test_a_failing_worker_is_named_with_its_log(tmp_path, monkeypatch, capsys):
    s = _settings(tmp_path, monkeypatch)
    Path(s.data_path).mkdir(parents=True)                          # a dataset recorded as built, its files gone: each worker fails
    (Path(s.data_path) / 'build.json').write_text(json.dumps({'config_hash': stage_hash('data', get_config('smoke'), s.seed), 'status': 'done'}))
    with pytest.raises(ConfigError) as e: run_pipeline('smoke', stages=['asr', 'emotion_encoder'], jobs=2)
    assert 'eol run --preset smoke --stages data' in str(e.value)   # "... --stages data --force"
    out = capsys.readouterr().out
    assert 'FAILED; the end of' in out and ('asr.log' in out or 'emotion_encoder.log' in out)


def test_an_evaluation_part_reads_only_what_it_waits_for(tmp_path, monkeypatch, smoke_cfg):
    "The cascade's part starts as soon as stage 0 is done, beside stage 1's shared cache: it must not make that cache itself."
    from emotion_omni_lite.cli import ensure_stages
    from emotion_omni_lite.evaluate import evaluate_part
    s = _settings(tmp_path, monkeypatch)
    ensure_stages(EVAL_PARTS['cascade'], smoke_cfg, s)
    part = json.loads(evaluate_part('cascade', smoke_cfg, s, progress=False).read_text())
    assert len(part['generated']) == len(part['reference']) == len(part['rows']) > 0
    assert not (Path(s.run_path) / 'stage1_features').exists()                   # nothing beyond its own inputs was made


@pytest.mark.parametrize('preset', ['lite', 'smoke'])
def test_a_row_reads_the_very_runs_the_table_trains_before_it(preset):
    "A row's overrides (an ablation's switch, a cross-engine recipe) leave what it reads as trained: the hash of each stage it depends on, under the row's config, is that stage's own, so the run it names in its hash is the run there."
    from emotion_omni_lite.stages import stage_config
    cfg = get_config(preset)
    for row, st in STAGES.items():
        for u in st.depends:
            assert stage_hash(u, stage_config(row, cfg), 0) == stage_hash(u, cfg, 0), (row, u)


def test_each_rows_minutes_say_how_they_were_measured():
    "Every row of the stage table carries one note on how its lite_minutes were measured, its own (none that speaks for rows around it)."
    import io, tokenize
    from emotion_omni_lite import stages
    src = Path(stages.__file__).read_text()
    table = src[src.index('STAGES = {'):src.index('\n)}', src.index('STAGES = {')) + 3]
    rows, notes = [], {}
    for tok in tokenize.generate_tokens(io.StringIO(table).readline):
        if tok.type == tokenize.NAME and tok.string == 'Stage': rows.append(None)
        elif tok.type == tokenize.STRING and rows and rows[-1] is None: rows[-1] = eval(tok.string)   # the row's name
        elif tok.type == tokenize.COMMENT and rows and 'minutes' in tok.string: notes.setdefault(rows[-1], []).append(tok.string)
    assert rows == list(STAGES)
    for n in STAGES:
        said = notes.get(n, [])
        assert len(said) == 1 and said[0].count('minutes:') == 1, (n, said)
        assert not any(w in said[0] for w in (' rows', 'this and', 'around it')), (n, said)
