"`eol`'s checks of a launch, before any work, what a stopped run says to do next, and the main job's workers."
import os, re
from pathlib import Path

import pytest
from emotion_omni_lite import cli
from emotion_omni_lite.config import ConfigError, get_config, get_settings


def _fsdp_env() -> dict:
    "The FSDP settings `accelerate launch --config_file fsdp.yaml` hands each process, from accelerate's own launcher."
    import emotion_omni_lite
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env
    yaml = Path(emotion_omni_lite.__file__).parent / 'configs' / 'fsdp.yaml'
    args, _, _ = _validate_launch_command(launch_command_parser().parse_args(
        ['--config_file', str(yaml), '--num_processes', '2', 'train.py']))
    return {k: v for k, v in prepare_multi_gpu_env(args).items() if k.startswith(('FSDP_', 'ACCELERATE_USE_FSDP'))}


def test_fsdp_yaml_is_refused_for_a_model_without_its_layer(monkeypatch):
    "fsdp.yaml wraps each Qwen2DecoderLayer, and accelerate raises for a model without one: a launch that trains such a model (lite's ASR, emotion encoder, vocoder) is refused before any work, naming ddp.yaml; one that trains Qwen2 models alone goes on."
    env = _fsdp_env()
    assert env['FSDP_TRANSFORMER_CLS_TO_WRAP'] == 'Qwen2DecoderLayer'
    for k, v in env.items(): monkeypatch.setenv(k, v)
    for k in ('WORLD_SIZE', 'RANK', 'ACCELERATE_USE_DEEPSPEED'): monkeypatch.delenv(k, raising=False)
    with pytest.raises(ConfigError, match=r"FSDP wrapping each Qwen2DecoderLayer \(fsdp\.yaml\).*preset 'lite' trains such "
                                          r"models in asr, emotion_encoder, vocoder.*launch with ddp\.yaml"):
        cli.check_launch(get_config('lite'), 'cuda')
    with pytest.raises(ConfigError, match=r'models in asr: launch with ddp\.yaml'):
        cli.check_launch(get_config('lite'), 'cuda', ['asr', 'stage1'])
    cli.check_launch(get_config('lite'), 'cuda', ['text_llm', 'stage1', 'stage2'])   # Qwen2 models alone: it goes on
    cli.check_launch(get_config('full'), 'cuda')                        # full trains stages 1 and 2 (the rest is pretrained)
    monkeypatch.setenv('FSDP_AUTO_WRAP_POLICY', 'SIZE_BASED_WRAP')
    cli.check_launch(get_config('lite'), 'cuda')                        # wrapping by size takes any model


def test_fsdp_yaml_is_refused_for_stage1_on_an_llm_of_another_kind(monkeypatch, tmp_path):
    "At full size stage 1's LLM is llm.pretrained, any causal LM: fsdp.yaml's Qwen2DecoderLayer is refused for a Llama before any work, naming ddp.yaml and a Qwen2 checkpoint; a Qwen2 one goes on."
    from transformers import LlamaConfig, Qwen2Config
    for k, v in _fsdp_env().items(): monkeypatch.setenv(k, v)
    for k in ('WORLD_SIZE', 'RANK', 'ACCELERATE_USE_DEEPSPEED'): monkeypatch.delenv(k, raising=False)
    small = dict(vocab_size=8, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    LlamaConfig(**small).save_pretrained(tmp_path / 'llama'); Qwen2Config(**small).save_pretrained(tmp_path / 'qwen')   # the config
    full = lambda name: get_config('full', **{'llm.pretrained': str(tmp_path / name)})                                 # is all it reads
    with pytest.raises(ConfigError, match=r"FSDP wrapping each Qwen2DecoderLayer \(fsdp\.yaml\), and stage1, stage1_semantic_only train on "
                                          r"llm\.pretrained = .*llama, a 'llama' checkpoint without one.*launch with ddp\.yaml, "
                                          r"or point llm\.pretrained at a Qwen2 checkpoint"):
        cli.check_launch(full('llama'), 'cuda')
    cli.check_launch(full('llama'), 'cuda', ['stage2'])                 # stage 2's decoder is the kit's own Qwen2
    cli.check_launch(full('qwen'), 'cuda')
    cli.check_launch(full('absent'), 'cuda')                            # not here: the pretrained check says so, with the others
    monkeypatch.setenv('FSDP_AUTO_WRAP_POLICY', 'SIZE_BASED_WRAP')
    cli.check_launch(full('llama'), 'cuda')                             # wrapping by size takes any model


def test_fp16_on_a_cpu_is_refused_before_the_data_are_built(monkeypatch):
    "What `fit` refuses on a CPU (fp16) is refused by the launch check, before any work; on a GPU it goes on."
    from emotion_omni_lite import cli
    for k in ('ACCELERATE_USE_FSDP', 'ACCELERATE_USE_DEEPSPEED', 'WORLD_SIZE'): monkeypatch.delenv(k, raising=False)
    cfg = get_config('lite', **{'stages.asr.mixed_precision': 'fp16'})
    with pytest.raises(ConfigError, match=r"stages\.asr: mixed_precision='fp16' trains on a GPU only: use 'bf16' on a CPU"):
        cli.check_launch(cfg, 'cpu')
    cli.check_launch(cfg, 'cuda')                                         # a GPU trains fp16
    cli.check_launch(get_config('lite'), 'cpu')                           # the preset as it is: it goes on


def test_the_recipes_said_to_hold_qwen2_layers_do():
    "cli.QWEN2_RECIPES against the model each recipe trains, built by the builder its job calls, on the meta device."
    import warnings, torch
    from emotion_omni_lite.emotion_encoder import build_emotion_encoder
    from emotion_omni_lite.semantic_encoder import build_asr_model
    from emotion_omni_lite.stage1 import assemble_stage1
    from emotion_omni_lite.stage2 import Stage2Model
    from emotion_omni_lite.stages import STAGES
    from emotion_omni_lite.text_llm import build_llm
    from emotion_omni_lite.vocoder import build_unit_to_mel
    cfg = get_config('lite')
    with torch.device('meta'), warnings.catch_warnings():
        warnings.simplefilter('ignore')                                 # stage 1 around an untrained LLM: its job loads the trained one
        models = {'asr': build_asr_model(cfg), 'emotion': build_emotion_encoder(cfg), 'text': build_llm(cfg),
                  'stage1': assemble_stage1(cfg, build_llm(cfg), 0), 'vocoder': build_unit_to_mel(cfg), 'stage2': Stage2Model(cfg)}
    assert set(models) == {st.train for st in STAGES.values() if st.train}   # every recipe
    holds = {k for k, m in models.items() if any(type(x).__name__ == 'Qwen2DecoderLayer' for x in m.modules())}
    assert holds == set(cli.QWEN2_RECIPES)


@pytest.mark.parametrize('force', [False, True])
def test_a_stopped_run_says_how_to_go_on_with_or_without_force(monkeypatch, capsys, force):
    "Ctrl-C in `eol run` says to run the same command again; in `eol run --force`, to run it again without --force (with it, every stage would be rebuilt and its checkpoints deleted)."
    argv = ['run', '--preset', 'smoke'] + (['--force'] if force else [])
    parsed = cli._parse(argv)
    def stop(a): raise KeyboardInterrupt
    parsed.fn = stop
    monkeypatch.setattr(cli, '_parse', lambda argv=None: parsed)
    with pytest.raises(SystemExit) as e: cli.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 130 and 'stopped (Ctrl-C): finished stages are kept' in err and 'Traceback' not in err
    assert ('run it again without --force to go on' in err) == force, err
    assert ('run the same command again to go on' in err) == (not force), err


def test_a_decoder_shorter_than_the_longest_reply_is_refused_before_the_job_starts(tmp_path, monkeypatch):
    "decoder.max_units below the units of a reply of audio.max_seconds (the kit's own speech) would have stage 2 learn from replies cut mid-word: `eol run` names both fields and the value to set before any work."
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = smoke\ndata_dir = data\nout_dir = runs\ndevice = cpu\n\n'
                   '[emotion_omni_lite.smoke]\ndecoder.max_units = 120\n')
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    for name in ('train_stage', 'evaluate_stage', 'run_tasks'):          # refused before any of them, or the test fails at once
        monkeypatch.setattr(cli, name, lambda *a, **k: pytest.fail('the job started'))
    for stages in (None, ['stage2'], ['stage2_no_adaln']):
        with pytest.raises(ConfigError, match=r"decoder\.max_units: 120 is fewer units than a reply of audio\.max_seconds=6 s holds at "
                                              r"units\.rate_hz=25 \(150\).*at least 150"):
            cli.run_pipeline(stages=stages, jobs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['settings.ini']  # no data, no runs


@pytest.mark.parametrize('where', ['data', 'runs'])
def test_a_file_where_the_data_or_the_runs_go_is_named_before_any_work_whatever_the_stages(tmp_path, monkeypatch, capsys, where):
    "A file at data_dir or out_dir (or a folder above): `eol run` names it and the setting to change before any stage is looked at, in the same words for the whole job and for any --stages (`--stages data asr` used to start the dataset, `--stages asr` to call the data missing)."
    (tmp_path / 'afile').write_text('notes')
    dirs = {'data': tmp_path / 'data', 'runs': tmp_path / 'runs', where: tmp_path / 'afile' / 'sub'}
    monkeypatch.setenv('EOL_DATA_DIR', str(dirs['data'])); monkeypatch.setenv('EOL_OUT_DIR', str(dirs['runs']))
    for name in ('train_stage', 'evaluate_stage', 'run_tasks'):
        monkeypatch.setattr(cli, name, lambda *a, **k: pytest.fail('the job started'))
    said = set()
    for stages in ([], ['--stages', 'data', 'asr'], ['--stages', 'asr'], ['--stages', 'data']):
        for jobs in ('1', '2'):
            with pytest.raises(SystemExit) as e: cli.main(['run', '--preset', 'smoke', '--jobs', jobs, *stages])
            err = capsys.readouterr().err
            assert e.value.code == 2 and f"{tmp_path / 'afile'} is a file, not a folder, where the" in err, err
            said.add(err)
    assert len(said) == 1 and ('data_dir (EOL_DATA_DIR)' if where == 'data' else 'out_dir (EOL_OUT_DIR)') in said.pop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['afile']     # nothing made


def _killed(t, *a):
    "A task whose worker process is killed from outside (SIGKILL, as the out-of-memory killer ends one) once its log has begun."
    import signal
    Path(a[-1]).write_text(f"{t.name}: step 1\n"); os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_worker_ends_the_job_naming_its_task_and_log(tmp_path, monkeypatch, capsys):
    "A worker killed mid-task ends `run_tasks` at once with an error naming the task and its log (a pool that quietly replaced the worker would wait for its result for ever: the alarm fails the test then)."
    import signal
    from concurrent.futures.process import BrokenProcessPool
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    monkeypatch.setattr(cli, '_work', _killed); monkeypatch.setattr(cli, 'usable_cores', lambda: 2)   # a worker on any machine
    def late(*a): raise TimeoutError('run_tasks still waits for a killed worker after 120 s')
    old = signal.signal(signal.SIGALRM, late); signal.alarm(120)         # a spawned worker imports torch: seconds, not minutes
    try:
        with pytest.raises(BrokenProcessPool, match=rf"running then: asr \(output in {re.escape(str(s.run_path / 'logs' / 'asr.log'))}\)"
                                                    r".*killed from outside.*--jobs 1"):
            cli.run_tasks([cli.Task('asr', 'stage', 'asr')], get_config('smoke'), s, jobs=2)
    finally: signal.alarm(0); signal.signal(signal.SIGALRM, old)
    out = capsys.readouterr().out
    assert 'asr STOPPED' in out and 'asr: step 1' in out, out            # the end of its log, printed


def test_workers_train_with_the_config_and_settings_they_are_given(tmp_path, monkeypatch):
    "`run_tasks`'s workers use the caller's settings (folders, seed) and config, not ones rebuilt from settings.ini and EOL_*: a stage whose data are missing names the caller's folder, seed and changed field."
    from emotion_omni_lite.stages import StageMissing
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'other' / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'other' / 'runs'))
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), seed=7)
    cfg = get_config('smoke', **{'data.n_dialogues': get_config('smoke').data.n_dialogues + 1})
    monkeypatch.setattr(cli, 'usable_cores', lambda: 2)                  # a worker process, on any machine
    with pytest.raises(StageMissing, match=rf"(?s)stage 'data' .* no run in {re.escape(str(s.data_path))} for this config "
                                           r"\(preset 'smoke', seed 7\).*this config's data\.n_dialogues"):
        cli.run_tasks([cli.Task('asr', 'stage', 'asr')], cfg, s, jobs=2)
    assert not (tmp_path / 'other').exists() and not s.data_path.exists()
    assert (s.run_path / 'logs' / 'asr.log').is_file()                  # a worker ran it: only `_work` writes a task's log


def test_what_training_takes_is_said_truly_for_one_worker_and_every_preset(tmp_path, monkeypatch, capsys):
    "The job says lite's measured minutes, with 'side by side' only when workers run; a notebook's `ensure_stages` says them for lite alone; another preset gets no estimate, not lite's minutes."
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs'))
    monkeypatch.setattr(cli, 'usable_cores', lambda: 2)
    for name in ('train_stage', 'run_tasks', 'evaluate_stage'):          # said, then stopped before any work
        monkeypatch.setattr(cli, name, lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    said = {}
    for preset, jobs in (('lite', 1), ('lite', 2), ('smoke', 1)):
        with pytest.raises(KeyboardInterrupt): cli.run_pipeline(preset, jobs=jobs)
        said[preset, jobs] = capsys.readouterr().out
    assert re.search(r"to train: data, .*stage2_no_adaln \(the stage table's minutes on a 2-core CPU: [\d.]+ min in all\)\n", said['lite', 1])
    assert re.search(r"\(the stage table's minutes on a 2-core CPU: [\d.]+ min in all; workers run some side by side\)", said['lite', 2])
    assert "to train: data, asr" in said['smoke', 1] and "(no time measured for preset 'smoke')" in said['smoke', 1]
    assert 'min in all' not in said['smoke', 1]
    for preset, want in (('lite', r"one after another \(the stage table's minutes on a 2-core CPU: [\d.]+ min in all\)"),
                         ('smoke', r"one after another \(no time measured for preset 'smoke'\)")):
        with pytest.raises(KeyboardInterrupt): cli.ensure_stages(['asr'], get_config(preset), get_settings(preset=preset))
        out = capsys.readouterr().out
        assert re.search(want, out) and (preset == 'lite') == ('2-core' in out), out
    assert not (tmp_path / 'data').exists() and not (tmp_path / 'runs').exists()
