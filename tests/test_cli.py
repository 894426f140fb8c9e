"`eol`'s checks of a launch, before any work, and what a stopped run says to do next."
from pathlib import Path

import pytest
from emotion_omni_lite import cli
from emotion_omni_lite.config import ConfigError, get_config


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


def test_the_recipes_said_to_hold_qwen2_layers_do():
    "cli.QWEN2_RECIPES against the model each recipe trains, built as its job builds it, on the meta device."
    import warnings, torch
    from emotion_omni_lite.adapter import build_adapter
    from emotion_omni_lite.emotion_encoder import build_emotion_encoder
    from emotion_omni_lite.semantic_encoder import build_asr_model
    from emotion_omni_lite.stage1 import Stage1Model, build_emotion_head
    from emotion_omni_lite.stage2 import Stage2Model
    from emotion_omni_lite.stages import STAGES
    from emotion_omni_lite.text_llm import add_lora, build_llm
    from emotion_omni_lite.vocoder import UnitToMel
    cfg = get_config('lite')
    with torch.device('meta'), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        models = {'asr': build_asr_model(cfg), 'emotion': build_emotion_encoder(cfg), 'text': build_llm(cfg),
                  'stage1': Stage1Model(build_adapter(cfg), add_lora(build_llm(cfg), cfg), build_emotion_head(cfg), 0, cfg),
                  'vocoder': UnitToMel(cfg.units.n_units, cfg.audio.n_mels, cfg.vocoder.hidden, frame_hidden=cfg.vocoder.frame_hidden),
                  'stage2': Stage2Model(cfg)}
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
