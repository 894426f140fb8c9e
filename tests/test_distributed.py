"""Two processes on a CPU (torchrun, gloo) train as one process with the same global batch would, and one of them writes."""
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from ranked import toy_fit                                     # noqa: E402
from emotion_omni_lite.train import batch_indices             # noqa: E402

HERE = Path(__file__).parent


def torchrun(out: Path, *args, **env):
    "tests/ranked.py on two processes; the output of both on failure."
    e = {k: v for k, v in os.environ.items() if not k.startswith('EOL_')}
    e.update(OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', PYTHONPATH=str(HERE.parent), **env)
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                        str(HERE / 'ranked.py'), str(out), *args], env=e, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    return r


def writes(out: Path) -> list:
    return [json.loads(l) for l in (out / 'writes.jsonl').read_text().splitlines()]


@pytest.mark.parametrize('accum', [1, 2])
def test_two_processes_train_as_one(tmp_path, accum):
    torchrun(tmp_path, 'fit', GRAD_ACCUM=str(accum))
    r0, r1 = (json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1))
    assert len(r0['seen']) == len(r1['seen']) == 6 * accum
    for step in range(6):                                      # disjoint shares that make up the global batch
        a = [i for m in r0['seen'][step * accum:(step + 1) * accum] for i in m]
        b = [i for m in r1['seen'][step * accum:(step + 1) * accum] for i in m]
        assert not set(a) & set(b) and sorted(a + b) == sorted(batch_indices(24, 8, step, 0)) and len(a) == len(b) == 4
    assert r0['params'] == r1['params']                        # DDP kept them identical
    assert len(r0['draws']) == len(r1['draws']) and all(a != b for a, b in zip(r0['draws'], r1['draws']))   # their own draws
    model, history, _ = toy_fit()                               # one process, the same global batch of 8
    assert r0['history'] == r1['history'] and len(r0['history']) == len(history) > 0
    for h0, h in zip(r0['history'], history): assert h0['loss'] == pytest.approx(h['loss'], rel=1e-5, abs=1e-6)
    for p0, p in zip(r0['params'], model.parameters()): assert torch.allclose(torch.tensor(p0), p.detach().flatten(), atol=1e-5)
    w = writes(tmp_path)
    assert {x['rank'] for x in w} == {0} and sum(x['what'] == 'save_checkpoint' for x in w) == 2   # steps 3 and 6
    assert json.loads((tmp_path / 'ckpt' / 'checkpoint' / 'state.json').read_text())['step'] == 6


def test_the_main_job_on_two_processes(tmp_path):
    "The smoke preset's main job (`run_pipeline`: every stage, then the evaluation) on two processes: one writer, every run finished once."
    from emotion_omni_lite.config import get_config, get_settings
    from emotion_omni_lite.stages import STAGES, stage_applies, stage_state
    torchrun(tmp_path, 'stage', EOL_PRESET='smoke', EOL_DEVICE='cpu', EOL_DATA_DIR=str(tmp_path / 'data'),
             EOL_OUT_DIR=str(tmp_path / 'runs'))
    w = writes(tmp_path)
    assert {x['rank'] for x in w} == {0}
    cfg = get_config('smoke')
    every = [n for n in STAGES if stage_applies(n, cfg)]                           # the main job's stages
    trained = [n for n in every if STAGES[n].train]
    assert sorted(x['what'] for x in w if x['what'] not in ('save_checkpoint', '_atomic')) == sorted(['_build'] + ['finish_run', 'start_run'] * len(trained))
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    assert all(stage_state(n, cfg, s) == 'done' for n in every)
    atomic = {Path(x['path']) for x in w if x['what'] == '_atomic'}               # every file the kit wrote, each by rank 0
    assert {s.run_path / n / 'metrics.json' for n in trained} | {s.run_path / 'report' / 'report.json'} <= atomic
    hist = json.loads((s.run_path / 'stage2' / 'history.json').read_text())
    assert [h['step'] for h in hist] == [1, 2, 3, 4] and all(h['loss'] > 0 for h in hist)
    assert (s.run_path / 'report' / 'report.json').exists()



def test_the_write_record_takes_every_file_the_kit_writes(tmp_path, monkeypatch):
    "ranked.py's record of writes takes each write through the kit's one writer, `_atomic`, in every module that imported it by name (train, report, architecture), with its rank and path."
    import emotion_omni_lite.cli                                                  # every module of the kit loaded
    from ranked import record_writes
    from emotion_omni_lite import architecture, config, dataset, report, stages, train
    kit = [m for m in list(sys.modules.values()) if getattr(m, '__name__', '').startswith('emotion_omni_lite') and hasattr(m, '_atomic')]
    assert {train, report, architecture, config} <= set(kit)
    for m, name in [(m, '_atomic') for m in kit] + [(train, 'save_checkpoint'), (stages, 'start_run'), (stages, 'finish_run'), (dataset, '_build')]:
        monkeypatch.setattr(m, name, getattr(m, name))                            # put back after the test
    record_writes(tmp_path, 1)
    for m in kit: m._atomic(tmp_path / f'{m.__name__}.txt', lambda p: Path(p).write_text('x'))
    train.save_json({}, tmp_path / 'metrics.json')                                 # through train's own copy of the name
    assert writes(tmp_path) == [{'rank': 1, 'what': '_atomic', 'path': str(p)}
                                for p in [tmp_path / f'{m.__name__}.txt' for m in kit] + [tmp_path / 'metrics.json']]
    assert (tmp_path / 'metrics.json').read_text() == '{}'                        # and the write itself still happens


def test_launch_configs():
    "The kit's accelerate configs, read by accelerate's own launcher into the environment it hands each process, make the plugins meant."
    import emotion_omni_lite
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import DeepSpeedPlugin, DistributedType, FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env
    folder = Path(emotion_omni_lite.__file__).parent / 'configs'
    assert sorted(p.name for p in folder.glob('*.yaml')) == ['ddp.yaml', 'fsdp.yaml', 'zero2.yaml', 'zero3.yaml']
    want = {'ddp': DistributedType.MULTI_GPU, 'fsdp': DistributedType.FSDP, 'zero2': DistributedType.DEEPSPEED,
            'zero3': DistributedType.DEEPSPEED}
    for name, kind in want.items():
        args, defaults, _ = _validate_launch_command(launch_command_parser().parse_args(
            ['--config_file', str(folder / f'{name}.yaml'), '--num_processes', '2', 'train.py']))
        assert defaults.distributed_type == kind and args.num_processes == 2, name
        if kind == DistributedType.DEEPSPEED:
            args.deepspeed_fields_from_accelerate_config = ','.join(defaults.deepspeed_config)   # as launch_command does
            cmd, env = prepare_deepspeed_cmd_env(args)
            old = dict(os.environ); os.environ.update(env)
            try: plugin = DeepSpeedPlugin()                     # as accelerate makes it in each process
            finally: os.environ.clear(); os.environ.update(old)
            z = plugin.deepspeed_config['zero_optimization']
            assert z['stage'] == int(name[-1]) and plugin.deepspeed_config['gradient_clipping'] == 1.0
            if name == 'zero3': assert z['stage3_gather_16bit_weights_on_model_save'] is True   # stage weights can be saved whole
        else:
            env = prepare_multi_gpu_env(args)
            if kind == DistributedType.FSDP:
                assert env['ACCELERATE_USE_FSDP'] == 'true'
                old = dict(os.environ); os.environ.update(env)
                try: plugin = FullyShardedDataParallelPlugin()
                finally: os.environ.clear(); os.environ.update(old)
                assert plugin.fsdp_version == 2 and plugin.transformer_cls_names_to_wrap == ['Qwen2DecoderLayer']
                assert plugin.state_dict_type.name == 'SHARDED_STATE_DICT'   # checkpoints in shards; the weights whole


def test_fsdp_wraps_layers_of_both_stages():
    "The FSDP config wraps Qwen2DecoderLayer: the LLM of stage 1 and both stacks of stage 2's speech decoder are made of it."
    import torch
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.stage2 import Stage2Model
    from emotion_omni_lite.text_llm import build_llm
    cfg = get_config('full')
    with torch.device('meta'):
        for m, n in ((build_llm(cfg), cfg.llm.num_layers), (Stage2Model(cfg), cfg.decoder.pre_layers + cfg.decoder.layers)):
            assert sum(type(x).__name__ == 'Qwen2DecoderLayer' for x in m.modules()) == n


def test_fsdp_on_a_cpu_is_refused(monkeypatch):
    "accelerate shards with FSDP on GPUs only: a CPU launch that asks for it is stopped with the fix, not trained another way."
    from ranked import toy_fit
    monkeypatch.setenv('ACCELERATE_USE_FSDP', 'true')
    with pytest.raises(ValueError, match='FSDP on GPUs only'): toy_fit()


@pytest.mark.parametrize('argv, code', [(['params', '--preset', 'smoke'], 0),
                                         (['params', '--preset', 'smoke', '--memory', '--query-seconds', '-1'], 2)])
def test_eol_leaves_its_process_group(tmp_path, argv, code):
    "`eol` under a launcher destroys the process group before it exits, on success and on a reported error alike."
    (tmp_path / 'leave.py').write_text(
        "import os, sys, torch.distributed as d\n"
        "from emotion_omni_lite import cli\n"
        "d.init_process_group('gloo')\n"
        "try: cli.main(sys.argv[1:]); code = 0\n"
        "except SystemExit as e: code = e.code\n"
        "open(f\"{os.environ['RANK']}.seen\", 'w').write(f'{code} {d.is_initialized()}')\n")
    e = {k: v for k, v in os.environ.items() if not k.startswith('EOL_')}
    e.update(OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', PYTHONPATH=str(HERE.parent))
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                        str(tmp_path / 'leave.py'), *argv], env=e, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert [(tmp_path / f'{rank}.seen').read_text() for rank in (0, 1)] == [f'{code} False'] * 2


def test_a_pretrained_stage_is_skipped_in_every_process(monkeypatch, tmp_path):
    "Under a multi-process launch a stage a pretrained checkpoint replaces is neither trained nor waited on, in any rank."
    from emotion_omni_lite import stages
    from emotion_omni_lite.config import get_config, get_settings
    def never(*a, **k): raise AssertionError('trained, or waited on, a stage that a pretrained checkpoint replaces')
    monkeypatch.setattr(stages, '_train', never); monkeypatch.setattr(stages, 'wait_for_everyone', never)
    cfg, s = get_config('full'), get_settings(preset='full', out_dir=str(tmp_path))
    for rank in ('0', '1'):
        monkeypatch.setenv('WORLD_SIZE', '2'); monkeypatch.setenv('RANK', rank)
        for name in ('asr', 'emotion_encoder', 'text_llm'):
            assert stages.run_stage(name, cfg, never, s) == Path(stages.pretrained_source(name, cfg))


def test_a_launch_fit_would_refuse_and_a_full_run_without_a_gpu_are_refused_before_any_work(tmp_path, monkeypatch):
    "The pretrained preset on a machine with no GPU (device auto), FSDP on a CPU, DeepSpeed with a stage of several micro-batches: each refused by `eol run` before the data or a run folder is made, naming the fix."
    from emotion_omni_lite import cli
    from emotion_omni_lite.config import ConfigError
    for k in ('ACCELERATE_USE_FSDP', 'ACCELERATE_USE_DEEPSPEED'): monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs'))
    monkeypatch.setenv('EOL_DEVICE', 'auto')
    monkeypatch.setattr(cli, 'run_device', lambda s: 'cpu')             # a machine whose torch sees no GPU
    with pytest.raises(ConfigError, match=r"preset 'full': torch sees no GPU here .*set device = cpu .*EOL_DEVICE=cpu"):
        cli.run_pipeline('full', jobs=1)
    monkeypatch.setenv('ACCELERATE_USE_FSDP', 'true')
    with pytest.raises(ConfigError, match=r'asks for FSDP, which accelerate runs on GPUs only.*torchrun'):
        cli.run_pipeline('smoke', jobs=1)
    monkeypatch.delenv('ACCELERATE_USE_FSDP'); monkeypatch.setenv('ACCELERATE_USE_DEEPSPEED', 'true')
    with pytest.raises(ConfigError, match=r'stages\.asr has grad_accum=1, length_groups=4.*Set both to 1'):
        cli.run_pipeline('lite', jobs=1)
    monkeypatch.setattr(cli, 'run_device', lambda s: 'cuda')
    cli.check_launch(cli.get_config('full'), 'cuda')                    # full's stages take one micro-batch a step: it goes on
    assert not (tmp_path / 'data').exists() and not (tmp_path / 'runs').exists()   # nothing made
    monkeypatch.delenv('ACCELERATE_USE_DEEPSPEED'); monkeypatch.setattr(cli, 'run_device', lambda s: 'cpu')
    with pytest.raises(ConfigError) as e: cli.run_pipeline('full', stages=['data'], jobs=1)   # the dataset alone: no GPU needed
    assert 'no GPU' not in str(e.value) and 'units.manifest' in str(e.value)   # it goes on, to the manifest it lacks


def test_a_full_run_names_every_missing_checkpoint_before_any_work(tmp_path, monkeypatch):
    "Checkpoints a full run would load that are not there are named all at once, each with its fix, before the data are built; only those of the stages asked for."
    from emotion_omni_lite import cli
    from emotion_omni_lite.config import ConfigError
    (tmp_path / 'whisper').mkdir()                                      # a folder without a checkpoint in it
    (tmp_path / 'settings.ini').write_text(
        '[emotion_omni_lite]\npreset = full\ndata_dir = data\nout_dir = runs\ndevice = cpu\n\n[emotion_omni_lite.full]\n'
        'semantic_encoder.pretrained = whisper\nemotion_encoder.pretrained = ./nowhere/emotion\nllm.pretrained = ./nowhere/llm\n'
        'vocoder.pretrained = ./nowhere/cosyvoice2\n')
    monkeypatch.setenv('EOL_SETTINGS', str(tmp_path / 'settings.ini'))
    for k in ('EOL_DATA_DIR', 'EOL_OUT_DIR', 'EOL_DEVICE', 'EOL_PRESET', 'ACCELERATE_USE_FSDP', 'ACCELERATE_USE_DEEPSPEED'):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(ConfigError) as e: cli.run_pipeline(jobs=1)
    lines = str(e.value).splitlines()
    assert lines[0] == "preset 'full' loads pretrained checkpoints that are not here (4):"
    assert [l.split(':')[0].strip() for l in lines[1:]] == ['semantic_encoder.pretrained', 'emotion_encoder.pretrained',
                                                           'llm.pretrained', 'vocoder.pretrained']   # the table's order
    assert f"the checkpoint in {tmp_path / 'whisper'} does not load" in lines[1] and f"there is no folder {tmp_path / 'nowhere' / 'emotion'}:" in lines[2]   # ./ : the settings file's folder
    with pytest.raises(ConfigError, match=r'not here \(1\):\n  llm\.pretrained: there is no folder'):
        cli.run_pipeline(stages=['text_llm'], jobs=1)                   # only what the stages asked for load
    assert sorted(p.name for p in tmp_path.iterdir()) == ['settings.ini', 'whisper']   # nothing made
    s = (tmp_path / 'settings.ini').read_text()
    (tmp_path / 'settings.ini').write_text(s.replace('vocoder.pretrained = ./nowhere/cosyvoice2\n', ''))
    with pytest.raises(ConfigError) as e: cli.run_pipeline(jobs=1)     # the preset's own vocoder, CosyVoice2, not given:
    assert 'vocoder.pretrained: not set, and vocoder.kind = cosyvoice2' in str(e.value).splitlines()[-1]   # said now, not at the end
    assert not [p for p in cli.missing_pretrained(cli.get_config('full'), ['data', 'stage1']) if p.startswith('vocoder')]   # a run
    # that never speaks does not need it
    (tmp_path / 'settings.ini').write_text(s + 'stages.stage2.cross_emotion = 0.5\n')   # your own speech tokens, spoken again by
    with pytest.raises(ConfigError, match=r'stages\.stage2\.cross_emotion: 0\.5 speaks replies again .*units\.kind = external'):
        cli.run_pipeline(jobs=1)                                        # the kit's voice: refused before any work, not after stage 1
    with pytest.raises(ConfigError) as e: cli.run_pipeline(stages=['text_llm'], jobs=1)   # a run without stage 2: not that
    assert 'cross_emotion' not in str(e.value)
    from emotion_omni_lite.stage2 import prepare_stage2
    with pytest.raises(ConfigError, match='cross_emotion'): prepare_stage2(cli.get_config('full'), cli.get_settings())   # in a
    # notebook too, before the reply states are computed


def test_readme_launches_every_shipped_config():
    "README's launch block gives one `accelerate launch` line for each config the kit ships (zero2.yaml had none), each the same launch of the full preset."
    import re
    import emotion_omni_lite
    folder = Path(emotion_omni_lite.__file__).parent / 'configs'
    section = (HERE.parent / 'README.md').read_text().split('\n## Scaling out', 1)[1].split('\n## ', 1)[0]
    launches = re.findall(r"^\.venv/bin/accelerate launch --config_file \$CONFIGS/(\w+)\.yaml +--num_processes 8 "
                          r"-m emotion_omni_lite\.cli run --preset full$", section, re.M)
    assert sorted(launches) == sorted(p.stem for p in folder.glob('*.yaml')), launches
