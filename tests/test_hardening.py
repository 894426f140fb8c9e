"""The hardening battery: bad inputs and faults a hostile but fair user tries, each answered by the kit's named error
(or the correct result). Many cases also compare a fresh folder's files (path → sha256) before and after, apart from the
files the case may write (`snapshot`; README counts them); others check only the files a step leaves or removes, and
the rest, checks of values and messages in memory, look at no folder."""
import functools, hashlib, json, math, os, re, stat, time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from emotion_omni_lite import cli
from emotion_omni_lite.audio import AudioError, check_speech, load_audio
from emotion_omni_lite.config import ConfigError, get_config, get_settings
from emotion_omni_lite.dataset import build_dataset, external_rows, load_folder, read_units
from emotion_omni_lite.stages import StageMissing, finish_run, require_stage, stage_folder, stage_hash, stage_state, start_run
from emotion_omni_lite.stage1 import _features_name
from emotion_omni_lite.train import (CheckpointError, TrainConfig, fit, load_cache, load_checkpoint, save_cache,
                                     save_weights, set_seed)

SR = 16000
T = np.arange(SR) / SR
SPEECHY = (0.3 * np.sin(2 * np.pi * 180 * T) * (1 + 0.5 * np.sin(2 * np.pi * 3 * T))).astype(np.float32)


def snapshot(root: Path) -> dict:
    "Every file under `root` (symlinks and pipes by name only) → its sha256."
    out = {}
    for p in sorted(root.rglob('*')):
        if p.is_symlink() or not p.exists() or not p.is_file(): out[str(p.relative_to(root))] = 'special'; continue
        out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def wav(path: Path, x=SPEECHY, sr=SR, subtype=None):
    sf.write(str(path), x, sr, subtype=subtype); return path


def chat(tmp: Path, audio, *extra) -> tuple:
    "`eol chat` in-process on an empty smoke run folder: (exit code, stderr). Models would fail to load (no runs)."
    import contextlib, io
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try: cli.main(['chat', '--preset', 'smoke', '--audio', str(audio), '--out', str(tmp / 'reply.wav'), *extra]); code = 0
        except SystemExit as e: code = e.code
    return code, err.getvalue()


@pytest.fixture
def env(tmp_path, monkeypatch):
    "A fresh folder as data_dir and out_dir for the smoke preset."
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs'))
    monkeypatch.setenv('EOL_PRESET', 'smoke'); monkeypatch.delenv('EOL_SEED', raising=False)
    return tmp_path


# ---- eol chat: every recording the reader refuses is a message (exit 2, no traceback), before any model loads ----
def _fifo(p):
    os.mkfifo(p); return p
def _loop(p):
    os.symlink(p, p); return p
def _truncated(p):
    wav(p); p.write_bytes(p.read_bytes()[:44]); return p                  # the header, no samples
def _half(p):
    wav(p); p.write_bytes(p.read_bytes()[:SR]); return p                  # an interrupted copy: half the samples
def _nan(p):
    x = SPEECHY.copy(); x[10:20] = np.nan; return wav(p, x, subtype='FLOAT')

CHAT_REFUSALS = {
    'empty file': (lambda p: (p.write_bytes(b''), p)[1], 'empty file'),
    'truncated wav': (_truncated, 'is cut short'),
    'wav cut in half': (_half, 'is cut short'),
    'channels that cancel': (lambda p: wav(p, np.stack([SPEECHY, -SPEECHY], 1)), 'channels that cancel out'),
    'random bytes': (lambda p: (p.write_bytes(np.random.default_rng(0).bytes(5000)), p)[1], 'cannot be decoded'),
    'text file': (lambda p: (p.write_text('hello, this is not audio\n' * 20), p)[1], 'cannot be decoded'),
    'NaN samples': (_nan, 'NaN or Inf'),
    'silence': (lambda p: wav(p, np.zeros(SR, np.float32)), 'silent'),
    'missing path': (lambda p: p.with_name('nowhere.wav'), 'not found'),
    'symlink loop': (_loop, 'symbolic link'),
    'FIFO': (_fifo, 'not a regular file'),
    'a folder': (lambda p: (p.mkdir(), p)[1], 'is a folder'),
    'sample rate 1 MHz': (lambda p: wav(p, np.tile(SPEECHY, 4), 1_000_000), 'unsupported sample rate'),
    'sample rate 2 kHz': (lambda p: wav(p, SPEECHY[:4000], 2000), 'unsupported sample rate'),
    'too short (50 ms)': (lambda p: wav(p, SPEECHY[:800]), 'at least 100 ms'),
    'DC offset only': (lambda p: wav(p, np.full(SR, 0.4, np.float32)), 'constant offset'),
    'five minutes': (lambda p: wav(p, np.tile(SPEECHY, 300)), 'at most'),
}


@pytest.mark.parametrize('case', list(CHAT_REFUSALS))
def test_chat_refuses_a_bad_recording_by_name_before_loading(env, case):
    make, problem = CHAT_REFUSALS[case]
    audio = make(env / 'query.wav')
    before = snapshot(env)
    code, err = chat(env, audio)
    assert code == 2 and problem in err and 'Traceback' not in err, err
    assert 'no run' not in err                                           # refused before any model was looked for
    assert snapshot(env) == before                                        # no reply.wav, the recording untouched


@pytest.mark.parametrize('size', [0xFFFFFFFF, 0x7FFFFF00, 0x7FFFF000, 2 * SR + 36])
def test_a_wav_streamed_with_an_unknown_length_is_read_whole(tmp_path, size):
    "Recorders that write the header before they know the length (2³²−1, arecord's, sox's), or count the header in: not cut short."
    p = wav(tmp_path / 'live.wav'); b = bytearray(p.read_bytes()); i = b.find(b'data')
    b[i + 4:i + 8] = size.to_bytes(4, 'little'); p.write_bytes(bytes(b))
    assert len(load_audio(p)) == SR


@pytest.mark.parametrize('case,x,note', [('clipped', np.clip(SPEECHY * 8, -1, 1), 'clipped'),
                                         ('very quiet', SPEECHY * 0.01, 'very low level')])
def test_chat_warns_about_a_doubtful_recording_then_goes_on(env, case, x, note):
    audio = wav(env / 'query.wav', x)
    before = snapshot(env)
    code, err = chat(env, audio)
    assert f'warning: {audio}: ' in err and note in err                 # the warning, then the models are looked for:
    assert code == 2 and 'eol run --preset smoke' in err and 'Traceback' not in err   # none is trained in this folder
    assert snapshot(env) == before


def test_chat_never_writes_over_the_recording_or_an_existing_file(env):
    audio = wav(env / 'reply.wav')                                        # the default --out name
    (env / 'notes.txt').write_text('mine')
    before = snapshot(env)
    code, err = chat(env, audio)
    assert code == 2 and 'is the recording being answered' in err
    import contextlib, io
    with contextlib.redirect_stderr(e := io.StringIO()):
        with pytest.raises(SystemExit):
            cli.main(['chat', '--preset', 'smoke', '--audio', str(wav(env / 'q.wav')), '--out', str(env / 'notes.txt')])
    assert 'already exists' in e.getvalue() and '--overwrite' in e.getvalue()
    assert {k: v for k, v in snapshot(env).items() if k != 'q.wav'} == before


@pytest.mark.parametrize('out,said', [('folder', 'is a folder'), ('reply.mp3', 'written as WAV'), ('afile/reply.wav', 'is a file, not a folder'),
                                      ('afile/sub/reply.wav', 'is a file, not a folder')])
def test_chat_refuses_an_out_it_cannot_write_before_loading(env, out, said):
    import contextlib, io
    audio = wav(env / 'query.wav'); (env / 'folder').mkdir(); (env / 'afile').write_text('x')
    before, err = snapshot(env), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as e:
        cli.main(['chat', '--preset', 'smoke', '--audio', str(audio), '--out', str(env / out), '--overwrite'])
    assert e.value.code == 2 and said in err.getvalue() and 'no run' not in err.getvalue(), err.getvalue()
    assert snapshot(env) == before


def test_an_unwritable_folder_is_named_with_the_fix(env, monkeypatch):
    (env / 'afile').write_text('x')
    monkeypatch.setenv('EOL_DATA_DIR', str(env / 'afile' / 'data'))
    before = snapshot(env)
    import contextlib, io
    with contextlib.redirect_stderr(e := io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(SystemExit) as x: cli.main(['run', '--preset', 'smoke', '--stages', 'data'])
    assert x.value.code == 2 and f"{env / 'afile'} is a file, not a folder" in e.getvalue() and 'EOL_DATA_DIR' in e.getvalue(), e.getvalue()
    assert snapshot(env) == before



@pytest.mark.parametrize('args, env_device, said', [
    (['--jobs', '0'], None, 'jobs=0: run at least one worker'),
    (['--jobs', '-2'], None, 'jobs=-2: run at least one worker'),
    ([], 'cuda', "device 'cuda'"),                  # asked for outright, not there: not a silent CPU run
])
def test_eol_run_refuses_a_bad_job_setting_before_it_builds_anything(env, monkeypatch, args, env_device, said):
    import contextlib, io
    from emotion_omni_lite import config
    if env_device:
        monkeypatch.setenv('EOL_DEVICE', env_device)
        monkeypatch.setattr(config, 'device_available', lambda d: False)   # as on a machine without it
    with contextlib.redirect_stderr(e := io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(SystemExit) as x: cli.main(['run', '--preset', 'smoke', '--stages', 'data', *args])
    assert x.value.code == 2 and said in e.getvalue(), e.getvalue()
    assert not (env / 'data').exists() and not (env / 'runs').exists()

# ---- the audio reader: arrays and files it must read right ----
def test_many_channels_are_averaged_over_channels_not_time(tmp_path):
    sf.write(str(tmp_path / 'c20.wav'), np.tile(SPEECHY[:, None], (1, 20)), SR)
    w = load_audio(tmp_path / 'c20.wav')
    assert len(w) == SR and torch.allclose(w, torch.from_numpy(SPEECHY), atol=1e-4)


@pytest.mark.parametrize('dtype', ['int16', 'int32', 'uint8'])
def test_integer_pcm_arrays_are_scaled(dtype):
    info = np.iinfo(dtype)
    x = SPEECHY * ((int(info.max) - int(info.min)) // 4) + (0 if info.min < 0 else info.max // 2 + 1)   # half of full scale
    w = load_audio(x.astype(dtype))
    assert abs(float(w.abs().max()) - float(np.abs(SPEECHY).max()) / 2) < 0.02


def test_any_rate_resamples_with_a_small_filter():
    from emotion_omni_lite.audio import KERNEL_LIMIT, MAX_RATE, MIN_RATE, _kernel_size, _working_rate
    worst = max(_kernel_size(_working_rate(r, SR), SR) for r in range(MIN_RATE, MAX_RATE + 1))
    assert worst <= KERNEL_LIMIT and _kernel_size(191_999, SR) > 1000 * KERNEL_LIMIT   # the exact filter would be 12 GB


@pytest.mark.parametrize('rate', [191_999, 44_101, 8_001])
def test_an_odd_rate_keeps_length_and_pitch(rate):
    t = np.arange(rate) / rate                                          # one second of 220 Hz
    w = load_audio((0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), orig_sr=rate)
    assert abs(len(w) - SR) <= SR * 0.004
    peak_hz = np.argmax(np.abs(np.fft.rfft(w.numpy()))) * SR / len(w)
    assert abs(peak_hz - 220) < 2


@pytest.mark.parametrize('a', [np.array(['a'] * SR), np.tile([True, False], SR // 2), SPEECHY.astype(complex)])
def test_values_that_are_not_samples_are_named(a):
    with pytest.raises(AudioError, match='not audio samples'): load_audio(a)


def test_samples_that_are_not_finite_are_not_saved(tmp_path):
    from emotion_omni_lite.audio import save_wav
    with pytest.raises(ValueError, match=r"save_wav .*x\.wav: 1 of the samples are NaN or Inf: nothing was written"):
        save_wav(tmp_path / 'x.wav', torch.tensor([0.1, float('nan'), 0.2]))
    assert not list(tmp_path.iterdir())


def test_the_callers_own_numbers_are_checked(tmp_path):
    with pytest.raises(ValueError, match='sr=0 must be a positive, finite number'): load_audio(SPEECHY, sr=0)
    with pytest.raises(ValueError, match='max_seconds=-1'): load_audio(SPEECHY, max_seconds=-1)
    with pytest.raises(AudioError, match='unsupported sample rate 0'): load_audio(SPEECHY, orig_sr=0)   # not 16 kHz in silence
    for odd in (float('nan'), float('inf')):                                        # a traceback from int() before
        with pytest.raises(AudioError, match=f'unsupported sample rate {odd}'): load_audio(SPEECHY, orig_sr=odd)
    with pytest.raises(ValueError, match='sr=inf must be a positive, finite number'): load_audio(SPEECHY, sr=float('inf'))
    with pytest.raises(AudioError, match=r'float samples up to 9830, where full scale is 1\.0 .*divide them by 32768'):
        load_audio((SPEECHY / np.abs(SPEECHY).max() * 0.3 * 32767).astype(np.float32))   # integer PCM in floats
    assert load_audio(SPEECHY * 5).abs().max() > 1                                  # a float file with overs: kept
    with pytest.raises(AudioError, match=r'divide them by 8388608 if they are 24-bit PCM, as their peak suggests'):
        load_audio((SPEECHY / np.abs(SPEECHY).max() * 0.3 * 2 ** 23).astype(np.float32))
    assert len(load_audio(SPEECHY, orig_sr=np.array(16000))) == len(load_audio(SPEECHY, orig_sr=torch.tensor(16000))) == len(SPEECHY)
    with pytest.raises(AudioError, match=r"sample rate \[16000\] that is not a number"): load_audio(SPEECHY, orig_sr=[16000])
    for odd in ('16000', b'16000', True):                                            # not a number, though float() takes them
        with pytest.raises(AudioError, match='that is not a number'): load_audio(SPEECHY, orig_sr=odd)
    f = tmp_path / 'floats.wav'; sf.write(f, SPEECHY * 32767, SR, subtype='FLOAT')          # a file of floats at integer scale
    with pytest.raises(AudioError, match=r'floats\.wav: holds float samples .*export it again as integer PCM, or as floats divided by 32768'):
        load_audio(f)
    with pytest.raises(TypeError, match='read_upload'): load_audio(b'RIFF....')
    from emotion_omni_lite.widgets import read_upload
    with pytest.raises(AudioError, match='not as a file'): read_upload(None, 'me.wav')


def test_a_three_dimensional_array_is_refused():
    with pytest.raises(AudioError, match=r'has shape \(2, 2, 100\).*pass a 1-D or 2-D array'): load_audio(np.ones((2, 2, 100), np.float32))


def test_doubtful_but_usable_speech_warns():
    assert check_speech(torch.from_numpy(SPEECHY)) == []
    assert any('clipped' in n for n in check_speech(torch.from_numpy(np.clip(SPEECHY * 8, -1, 1))))


# ---- configs and settings: refused when built, naming the field ----
CONFIG_REFUSALS = {
    'zero width': ({'llm.hidden_size': 0}, 'llm.hidden_size: must be above 0'),
    'negative steps': ({'stages.stage1.steps': -5}, 'stages.stage1.steps: must be 0 or more'),
    'zero batch': ({'stages.asr.batch_size': 0}, 'stages.asr.batch_size: must be above 0'),
    'text for a size': ({'decoder.layers': 'four'}, 'decoder.layers: expected int'),
    'float for a count': ({'stages.text.steps': 2.5}, 'stages.text.steps: expected int'),
    'number for a switch': ({'fusion.adaln': 1}, 'fusion.adaln: expected bool'),
    'NaN learning rate': ({'stages.stage2.lr': math.nan}, 'stages.stage2.lr: must be a finite number'),
    'zero learning rate': ({'stages.stage2.lr': 0.0}, 'stages.stage2.lr: must be above 0'),
    'probability above 1': ({'stages.stage2.cross_emotion': 1.5}, 'stages.stage2.cross_emotion: is a probability'),
    'one of two matched sizes': ({'emotion_encoder.dim': 32}, 'fusion.adaln_cond_dim: 64 differs from the emotion vector size emotion_encoder.dim=32'),
    'a whole group': ({'llm': 7}, 'llm is a group of settings'),
    'unknown field': ({'llm.width': 3}, "llm.width: LLMConfig has no field 'width'"),
    'a batch that does not split': ({'stages.stage1.grad_accum': 3}, 'stages.stage1.batch_size: 16 does not split'),
    'warm-up longer than training': ({'stages.stage2.warmup_frac': 5.0}, 'stages.stage2.warmup_frac: is the share of the steps'),
    'top-k over the units': ({'decoder.top_k': 10 ** 6}, 'decoder.top_k: 1000000 is more than the 512 units'),
}


@pytest.mark.parametrize('case', list(CONFIG_REFUSALS))
def test_a_bad_config_is_refused_naming_the_field(case):
    overrides, message = CONFIG_REFUSALS[case]
    with pytest.raises(ConfigError, match=message.replace('.', r'\.')): get_config('lite', **overrides)


def test_sizes_that_must_match_change_together():
    c = get_config('lite', **{'emotion_encoder.dim': 32, 'fusion.adaln_cond_dim': 32})
    assert c.emotion_encoder.dim == c.fusion.adaln_cond_dim == 32


@pytest.mark.parametrize('text,message', [('seed = -1', 'seed must be 0 or more'), ('seed = 1.5', 'seed must be an integer'),
                                          ('device = tpu', 'use auto, cpu, cuda or mps'), ('preset = huge', 'use one of full, lite, smoke'),
                                          ('offline = maybe', 'offline must be true or false'), ('colour = blue', r"unknown setting\(s\) \['colour'\]; known: preset")])
def test_bad_settings_are_named(tmp_path, monkeypatch, text, message):
    for k in ('EOL_PRESET', 'EOL_SEED', 'EOL_DEVICE', 'EOL_OFFLINE'): monkeypatch.delenv(k, raising=False)
    ini = tmp_path / 'settings.ini'; ini.write_text(f'[emotion_omni_lite]\n{text}\n')
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError, match=message): get_settings(ini)
    assert snapshot(tmp_path) == before


def test_settings_files_as_editors_write_them(tmp_path, monkeypatch):
    "A '%' in a path is a character, a byte-order mark is skipped; another encoding and an empty folder are named."
    for k in ('EOL_PRESET', 'EOL_SEED', 'EOL_DEVICE', 'EOL_OFFLINE', 'EOL_DATA_DIR', 'EOL_OUT_DIR', 'EOL_SETTINGS'):
        monkeypatch.delenv(k, raising=False)
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\nout_dir = /tmp/100%runs\n'); assert str(get_settings(ini).out_dir) == '/tmp/100%runs'
    ini.write_bytes('\ufeff[emotion_omni_lite]\npreset = smoke\n'.encode('utf-8')); assert get_settings(ini).preset == 'smoke'
    ini.write_text('[emotion_omni_lite]\npreset = smoke\n', encoding='utf-16'); assert get_settings(ini).preset == 'smoke'
    monkeypatch.chdir(tmp_path); assert get_settings().preset == 'smoke'   # found by walking up, too
    ini.write_bytes('[emotion_omni_lite]\n# réglages\npreset = smoke\n'.encode('cp1252'))
    with pytest.raises(ConfigError, match='is not UTF-8 text'): get_settings(ini)
    with pytest.raises(ConfigError, match='is not UTF-8 text'): get_settings()
    ini.write_text('[emotion_omni_lite]\ndata_dir =\n')
    with pytest.raises(ConfigError, match='data_dir is empty'): get_settings(ini)


def test_environment_settings_misspelt_or_empty_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path); monkeypatch.delenv('EOL_SETTINGS', raising=False)
    monkeypatch.setenv('EOL_PRESSET', 'full')
    with pytest.raises(ConfigError, match='EOL_PRESSET is not a setting: did you mean EOL_PRESET'): get_settings()
    monkeypatch.delenv('EOL_PRESSET'); monkeypatch.setenv('EOL_OUT_DIR', '')
    with pytest.raises(ConfigError, match='out_dir is empty'): get_settings()
    monkeypatch.delenv('EOL_OUT_DIR'); monkeypatch.setenv('EOL_INSTALLER', 'pip')   # the setup script's own variable: not a setting
    monkeypatch.setenv('EOL_DEVICE', 'cuda:1')                         # one GPU of several: the way that works with accelerate
    with pytest.raises(ConfigError, match='device = cuda and choose the GPU with CUDA_VISIBLE_DEVICES=1'): get_settings()


def test_a_config_from_another_version_is_named():
    from emotion_omni_lite.config import OmniConfig
    d = get_config('smoke').to_dict(); d['llm']['colour'] = 'blue'
    with pytest.raises(ConfigError, match='llm.*another version'): OmniConfig.from_dict(d)


# ---- checkpoints, runs and caches that are damaged: named with the path and the fix, never half-loaded ----
DATA = [(torch.randn(1), torch.randn(1)) for _ in range(16)]
def _collate(b): return torch.stack([x for x, _ in b]), torch.stack([y for _, y in b])
def _loss(m, b): return ((m(b[0]) - b[1]) ** 2).mean()
TCFG = TrainConfig(steps=6, batch_size=4, lr=0.1, ckpt_every=3, log_every=3)


def _checkpoint(tmp_path):
    set_seed(0); fit(nn.Linear(1, 1), DATA, _collate, _loss, TrainConfig(steps=3, batch_size=4, lr=0.1, ckpt_every=3, log_every=3),
                     ckpt_dir=tmp_path, progress=False)
    return tmp_path / 'checkpoint'

CHECKPOINT_DAMAGE = {
    'state.json garbage': (lambda d: (d / 'state.json').write_text('{"step": 3,'), 'not readable JSON'),
    'state.json a list': (lambda d: (d / 'state.json').write_text('[1, 2]'), 'lacks'),
    'state.json without checksums': (lambda d: (d / 'state.json').write_text(json.dumps(
        {k: v for k, v in json.loads((d / 'state.json').read_text()).items() if k != 'sha256'})), 'lacks sha256'),
    'weights zeroed': (lambda d: (d / 'model-3.safetensors').write_bytes(b'\0' * (d / 'model-3.safetensors').stat().st_size), 'checksum'),
    'optimizer missing': (lambda d: (d / 'optimizer-3.safetensors').unlink(), 'checksum'),
    'a weight file named outside the folder': (lambda d: (d / 'state.json').write_text(json.dumps(
        {**json.loads((d / 'state.json').read_text()), 'files': {'model': '../model-3.safetensors', 'optimizer': 'optimizer-3.safetensors'}})),
        'does not name its weight files'),
    'a weight file without its checksum': (lambda d: (d / 'state.json').write_text(json.dumps(
        {**json.loads((d / 'state.json').read_text()), 'sha256': {}})), 'does not name its weight files'),
    'crafted RNG state': (lambda d: (d / 'state.json').write_text(json.dumps(
        {**json.loads((d / 'state.json').read_text()), 'rng': {'python': f"__import__('os').system('touch {d.parent}/HACKED')"}})),
        'does not fit this model or is damaged'),
    'torch RNG state cut short': (lambda d: (d / 'state.json').write_text(json.dumps(
        {**json.loads((d / 'state.json').read_text()), 'rng': {**json.loads((d / 'state.json').read_text())['rng'], 'torch': 'AAAA'}})),
        'does not fit this model or is damaged'),
    'scheduler state emptied': (lambda d: (d / 'state.json').write_text(json.dumps(
        {**json.loads((d / 'state.json').read_text()), 'scheduler': {}})), 'holds a learning-rate schedule this training cannot take'),
}


@pytest.mark.parametrize('case', list(CHECKPOINT_DAMAGE))
def test_a_damaged_checkpoint_is_refused_with_the_fix(tmp_path, case):
    d = _checkpoint(tmp_path)
    damage, message = CHECKPOINT_DAMAGE[case]
    damage(d)
    before = snapshot(tmp_path)
    m = nn.Linear(1, 1); w0 = m.weight.detach().clone()
    opt = torch.optim.AdamW(m.parameters()); sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    with pytest.raises(CheckpointError, match=message) as e: load_checkpoint(tmp_path, m, opt, sched)
    assert str(d) in str(e.value) and 'to train this stage from its start' in str(e.value)
    assert snapshot(tmp_path) == before and not (tmp_path / 'HACKED').exists()   # the payload would write it there
    assert torch.equal(m.weight, w0) and not opt.state                  # nothing half-loaded before the refusal


def test_a_checkpoint_for_another_model_is_refused(tmp_path):
    _checkpoint(tmp_path)
    m = nn.Linear(2, 1); opt = torch.optim.AdamW(m.parameters()); sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    with pytest.raises(CheckpointError, match='does not fit this model'): load_checkpoint(tmp_path, m, opt, sched)


def _finished_vocoder(tmp_path):
    s = get_settings(preset='smoke', out_dir=str(tmp_path / 'runs'), data_dir=str(tmp_path / 'data'))
    c = get_config('smoke')
    for u in ('data',):                                                  # pretend the dataset is built
        stage_folder(u, s).mkdir(parents=True, exist_ok=True)
        (stage_folder(u, s) / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': stage_hash(u, c, s.seed)}))
    f = start_run(stage_folder('vocoder', s), c, stage_hash('vocoder', c, s.seed))
    save_weights({'w': torch.ones(4)}, f / 'model.safetensors')
    finish_run(f, {'loss': 0.1})
    return c, s, f

RUN_DAMAGE = {
    'final weights truncated': (lambda f: (f / 'model.safetensors').write_bytes((f / 'model.safetensors').read_bytes()[:20]), 'damaged'),
    'final weights deleted': (lambda f: (f / 'model.safetensors').unlink(), 'damaged'),
    'files.json deleted': (lambda f: (f / 'files.json').unlink(), 'damaged'),
    'metrics.json deleted (killed before the end)': (lambda f: (f / 'metrics.json').unlink(), 'did not finish'),
    'metrics.json cut short (an interrupted copy)': (lambda f: (f / 'metrics.json').write_text((f / 'metrics.json').read_text()[:8]), 'damaged'),
    'config.json garbage': (lambda f: (f / 'config.json').write_text('not json'), 'damaged'),   # its record unread: not "no run"
    'config.json a list': (lambda f: (f / 'config.json').write_text('[]'), 'damaged'),
}


@pytest.mark.parametrize('case', list(RUN_DAMAGE))
def test_a_damaged_finished_run_is_not_counted_as_done(tmp_path, case):
    c, s, f = _finished_vocoder(tmp_path)
    assert stage_state('vocoder', c, s) == 'done'
    damage, message = RUN_DAMAGE[case]
    damage(f)
    before = snapshot(tmp_path)
    assert stage_state('vocoder', c, s) != 'done'
    with pytest.raises(StageMissing, match=message) as e: require_stage('vocoder', c, s)
    assert 'eol run --preset smoke --stages vocoder' in str(e.value)
    assert snapshot(tmp_path) == before


def test_a_finished_run_of_other_settings_is_said_before_it_is_replaced(tmp_path, capsys):
    "A setting changed since a stage finished: the command that trains it again says it replaces that run, and training says so when it does."
    c, s, f = _finished_vocoder(tmp_path)
    other = get_config('smoke', **{'vocoder.hidden': c.vocoder.hidden + 8})
    with pytest.raises(StageMissing, match=r"(?s)another config.*replaces the run of other settings there: copy that folder first"):
        require_stage('vocoder', other, s)
    start_run(f, other, stage_hash('vocoder', other, s.seed))
    assert f"replacing the finished run in {f}: it was trained with other settings" in capsys.readouterr().out
    start_run(f, other, stage_hash('vocoder', other, s.seed), force=True)   # its own unfinished run: nothing to say
    assert 'replacing' not in capsys.readouterr().out

def test_a_damaged_cache_is_computed_again(tmp_path):
    save_cache({'x': torch.ones(3)}, tmp_path / 'c.pt')
    assert torch.equal(load_cache(tmp_path / 'c.pt')['x'], torch.ones(3))
    (tmp_path / 'c.pt').write_bytes(b'PK\x03\x04 broken zip')
    with pytest.warns(UserWarning, match='c.pt is damaged'): assert load_cache(tmp_path / 'c.pt') is None
    assert load_cache(tmp_path / 'missing.pt') is None


def test_a_cache_that_cannot_be_mapped_is_read_whole(tmp_path, monkeypatch):
    "A file system that cannot memory-map a file: the cache is read whole, not called damaged and computed again."
    save_cache({'x': torch.ones(3)}, tmp_path / 'c.pt')
    real = torch.load
    def no_mmap(*a, **k):
        if k.get('mmap'): raise OSError('mmap is not supported here')
        return real(*a, **k)
    monkeypatch.setattr(torch, 'load', no_mmap)
    import warnings
    with warnings.catch_warnings(): warnings.simplefilter('error'); assert torch.equal(load_cache(tmp_path / 'c.pt')['x'], torch.ones(3))
    (tmp_path / 'c.pt').write_bytes(b'cut')                             # read whole, and damaged: computed again
    with pytest.warns(UserWarning, match=r'c\.pt is damaged'): assert load_cache(tmp_path / 'c.pt') is None


def test_a_sharded_cache_holds_one_shard_while_built_and_reads_back_every_item(tmp_path):
    "A feature cache at the paper's scale does not fit in memory: it goes to disk in shards as it is computed, and comes back whole, memory-mapped."
    from emotion_omni_lite.train import ShardedCache
    path, items = tmp_path / 'f.pt', {i: torch.arange(i + 3, dtype=torch.float16) for i in range(12)}   # 6 to 28 bytes each
    c, held = ShardedCache(path, keys=('a', 'unused'), shard_bytes=40), []
    for i in [5, 0, 11, 3, 1, 2, 4, 6, 7, 8, 9, 10]:                   # any order
        c.put('a', i, items[i]); held.append(len(list(tmp_path.glob('f.*.pt'))))
        if i % 3 == 0: c.put('aug/b', i // 3, -items[i])
    assert held[0] == 0 and held[-1] >= 4 and held == sorted(held)      # on disk as they come, before any index
    assert not path.exists()
    out = c.close({'rows': list(range(12)), 'x': torch.ones(2)})
    shards = sorted(p.name for p in tmp_path.glob('f.*.pt'))
    assert len(shards) >= 4 and shards[0] == 'f.00000.pt'
    for got in (out, load_cache(path)):                                 # as built, and as a later process reads it
        assert set(got) == {'rows', 'x', 'a', 'unused', 'aug'} and got['rows'] == list(range(12)) and got['unused'] == []
        assert all(torch.equal(got['a'][i], items[i]) and got['a'][i].dtype == torch.float16 for i in range(12))
        assert [t.tolist() for t in got['aug']['b']] == [(-items[3 * k]).tolist() for k in range(4)]
    # a shard missing, or one of another build: the cache is damaged, computed again, never read half
    other = ShardedCache(tmp_path / 'o' / 'f.pt', keys=('a',), shard_bytes=40)
    for i in range(12): other.put('a', i, items[i] + 1)
    other.close({})
    (tmp_path / 'f.00001.pt').write_bytes((tmp_path / 'o' / 'f.00001.pt').read_bytes())
    with pytest.warns(UserWarning, match=r'f\.pt is damaged \(ShardError: its shard f\.00001\.pt belongs to another build'):
        assert load_cache(path) is None
    (tmp_path / 'f.00001.pt').unlink()
    with pytest.warns(UserWarning, match=r'f\.pt is damaged \(ShardError: its shard f\.00001\.pt is missing'):
        assert load_cache(path) is None
    # built again, smaller: the shards of the build before that it does not name are gone
    again = ShardedCache(path, keys=('a',))                             # the default shard size: one shard
    for i in range(12): again.put('a', i, items[i])
    assert all(torch.equal(a, items[i]) for i, a in enumerate(again.close({})['a']))
    assert sorted(p.name for p in tmp_path.glob('f.*.pt')) == ['f.00000.pt']
    # items missing, or meta where a list goes: refused before an index names them (the cache as it was)
    gap = ShardedCache(tmp_path / 'g.pt', keys=('a',)); gap.put('a', 0, items[0]); gap.put('a', 2, items[2])
    with pytest.raises(ValueError, match=r"items of a are not 0, 1, … without a gap"): gap.close({})
    twice = ShardedCache(tmp_path / 'g.pt', keys=('a',)); twice.put('a', 0, items[0])
    with pytest.raises(ValueError, match='item 0 of a was put twice'): twice.put('a', 0, items[0])
    clash = ShardedCache(tmp_path / 'g.pt', keys=('aug/sem',)); clash.put('aug/sem', 0, items[0])
    with pytest.raises(ValueError, match='meta has keys the lists aug/sem take'): clash.close({'aug': {'sem': [1]}})
    assert not (tmp_path / 'g.pt').exists()


def test_a_cache_that_would_run_code_is_not_unpickled(tmp_path):
    class Boom:
        def __reduce__(self): return (os.system, (f'touch {tmp_path}/HACKED',))   # in the test's folder, never the checkout
    torch.save({'x': Boom()}, tmp_path / 'evil.pt')
    with pytest.warns(UserWarning, match='damaged'): assert load_cache(tmp_path / 'evil.pt') is None
    assert not (tmp_path / 'HACKED').exists()


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    import errno
    from emotion_omni_lite import train
    train.save_json({'a': 1}, tmp_path / 'x.json')
    before, seen = snapshot(tmp_path), []
    def full(fd):                                      # the new bytes are written, then the disk fills as they are flushed
        seen.extend(p.name for p in tmp_path.iterdir()); raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(train.os, 'fsync', full)
    with pytest.raises(OSError, match='No space'): train.save_json({'a': 2}, tmp_path / 'x.json')
    assert any(n.startswith('.x.json.tmp') for n in seen)                    # it failed half-way: a partial file existed
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ['x.json']


def test_run_files_are_readable_by_the_group_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try: c, s, f = _finished_vocoder(tmp_path)
    finally: os.umask(old)
    for p in [f, *f.rglob('*'), f.parent, f.parent.parent]:
        mode = p.stat().st_mode
        assert mode & stat.S_IRGRP and (not p.is_dir() or mode & stat.S_IXGRP), (p, oct(mode))


# ---- bring-your-own CSVs: odd encodings, short rows, empty paths, duplicates: skipped and reported ----
def _byo(tmp_path, text: bytes):
    wav(tmp_path / 'a.wav'); wav(tmp_path / 'b.wav'); wav(tmp_path / 'c.wav')
    (tmp_path / 'metadata.csv').write_bytes(text)
    return tmp_path


@pytest.mark.parametrize('encoding', ['utf-8-sig', 'utf-16', 'cp1252'])
def test_csv_in_another_encoding_is_read_and_said(tmp_path, encoding):
    csv = 'path,text,emotion\na.wav,Café au lait.,happy\nb.wav,Très bien.,sad\n'.encode(encoding)
    d = _byo(tmp_path, csv)
    before = snapshot(d)
    with pytest.warns(UserWarning, match='byte-order mark|UTF-16|not UTF-8'): ds = load_folder(d)
    assert ds['query_text'] == ['Café au lait.', 'Très bien.'] and ds['user_emotion'] == ['happy', 'sad']
    assert snapshot(d) == before


def test_bad_rows_are_skipped_and_reported(tmp_path):
    d = _byo(tmp_path, b'path,text,emotion\n'
                       b'a.wav,Hello.,happy\n'
                       b'b.wav,Short row\n'                 # line 3: no emotion
                       b',Nothing.,sad\n'                   # line 4: empty path
                       b'c.wav,Once.,sad\n'                 # line 5: conflicts with line 6
                       b'c.wav,Once.,angry\n'               # line 6
                       b'a.wav,Hello.,happy\n')             # line 7: a plain duplicate of line 2
    skipped = []
    with pytest.warns(UserWarning, match='skipped 5 bad row'): ds = load_folder(d, skipped=skipped)
    assert ds['query_text'] == ['Hello.'] and ds['user_emotion'] == ['happy']
    why = {b['line']: b['reason'] for b in skipped}
    assert 'short row' in why[3] and 'empty path' in why[4] and 'another label' in why[5] and 'another label' in why[6]
    assert 'duplicate of line 2' in why[7]


def test_a_folder_row_that_is_no_speech_or_too_long_is_skipped(tmp_path):
    "load_folder hears each file as the probe would: a click, a constant offset and a clip longer than `max_seconds` are skipped, each with its reason."
    d = _byo(tmp_path, b'path,text,emotion\na.wav,Hello.,happy\nclick.wav,Hi.,sad\ndc.wav,Hi.,sad\nlong.wav,Hi.,sad\n')
    sf.write(str(d / 'click.wav'), 0.3 * np.ones(160, np.float32) * np.sin(np.arange(160)), 16000)
    sf.write(str(d / 'dc.wav'), np.full(16000, 0.2, np.float32), 16000)
    sf.write(str(d / 'long.wav'), 0.3 * np.sin(np.arange(16000 * 9) * 0.05).astype(np.float32), 16000)
    skipped = []
    with pytest.warns(UserWarning, match='skipped 3 bad row'): ds = load_folder(d, skipped=skipped, max_seconds=6)
    assert ds['query_text'] == ['Hello.']
    why = {b['line']: b['reason'] for b in skipped}
    assert '10 ms long' in why[3] and 'constant offset' in why[4] and 'too long (9.0 s' in why[5]

def test_a_csv_without_the_columns_is_named(tmp_path):
    d = _byo(tmp_path, b'file,words\na.wav,Hello.\n')
    with pytest.raises(ValueError, match='path, text, emotion'): load_folder(d)


MANIFEST_COLUMNS = 'query_audio,query_text,user_emotion,reply_audio,reply_text,reply_emotion,reply_units'


@pytest.mark.parametrize('encoding', ['utf-8-sig', 'utf-16'])
def test_a_manifest_as_a_spreadsheet_saves_it_is_read(tmp_path, encoding):
    "A byte-order mark, UTF-16 and spaces around header cells still name the columns; the line's own problem is said."
    f = tmp_path / 'm.csv'
    f.write_text(' ' + MANIFEST_COLUMNS.replace(',', ' , ') + '\nq.wav,Hi.,happy,r.wav,Oh!,happy,r.json\n', encoding=encoding)
    with pytest.raises(ConfigError, match=r'line 2: query_audio .* is missing \(looked for'):
        external_rows(get_config('smoke'), f)


def test_a_manifest_in_a_legacy_encoding_is_read_and_said(tmp_path):
    f = tmp_path / 'm.csv'; f.write_bytes((MANIFEST_COLUMNS + '\nq.wav,Café ?,happy,r.wav,Oh!,happy,r.json\n').encode('cp1252'))
    with pytest.warns(UserWarning, match='not UTF-8'), pytest.raises(ConfigError, match='line 2: query_audio'):
        external_rows(get_config('smoke'), f)


def test_a_shortened_flag_is_not_taken_for_another(capsys):
    "`eol run --stage asr` is not `--stages asr`: refused by the subcommand, which names the option it has; so is an empty `--stages`."
    for args, said in ((['run', '--stage', 'asr'], 'eol run: error: unrecognized arguments: --stage asr (did you mean --stages?)'),
                       (['run', '--pre', 'smoke'], 'eol run: error: unrecognized arguments: --pre smoke (did you mean --preset?)'),
                       (['headers', '--preset', 'smoke'], 'eol headers: error: unrecognized arguments: --preset smoke'),
                       (['run', '--stages'], 'argument --stages: expected at least one argument'),
                       (['course', '--only'], 'argument --only: expected at least one argument')):
        with pytest.raises(SystemExit) as e: cli.main(args)
        assert e.value.code == 2 and said in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r'stages=\[\]: name at least one of data, asr'): cli.run_pipeline('smoke', stages=[])


def test_a_manifest_line_without_a_value_is_named(tmp_path):
    full = dict(zip(MANIFEST_COLUMNS.split(','), ['q.wav', 'Hi.', 'happy', 'r.wav', 'Oh!', 'happy', 'r.json']))
    f = tmp_path / 'm.jsonl'
    f.write_text('\n'.join(json.dumps(d) for d in (full, {**full, 'reply_audio': None}, {k: v for k, v in full.items() if k != 'reply_units'})))
    with pytest.raises(ConfigError) as e: external_rows(get_config('smoke'), f)
    assert 'line 2: has no reply_audio' in str(e.value) and 'line 3: has no reply_units' in str(e.value)
    with pytest.raises(ConfigError, match='is a folder'): external_rows(get_config('smoke'), tmp_path)


@pytest.mark.parametrize('tokens', ['[0.5, 1.5, 2.5]', '[true, false]', '{"a": 1}'])
def test_units_that_are_not_integer_tokens_are_refused(tmp_path, tokens):
    f = tmp_path / 'u.json'; f.write_text(tokens)
    with pytest.raises(ValueError, match='not .*integer tokens'): read_units(f)


def _pack(path: Path, meta) -> Path:
    import io, tarfile
    data = json.dumps(meta).encode()
    with tarfile.open(path, 'w') as tar:
        info = tarfile.TarInfo('pack.json'); info.size = len(data); tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo('runs/x.bin'); info.size = 4096; tar.addfile(info, io.BytesIO(b'\0' * 4096))
    return path


@pytest.mark.parametrize('meta', [[1, 2], {'format': 1}, {'format': 1, 'preset': 'smoke', 'seed': '0', 'stages': {}, 'files': {}},
                                  {'format': 1, 'preset': 'smoke', 'seed': 0, 'stages': {}, 'files': ['runs/x.bin']}])
def test_a_damaged_pack_description_is_named_before_anything_is_written(env, meta):
    from emotion_omni_lite.course import unpack_run
    archive = _pack(env / 'lab.tar', meta); before = snapshot(env)
    with pytest.raises(ConfigError, match='pack.json is damaged'): unpack_run(archive)
    assert snapshot(env) == before


def test_a_pack_cut_short_says_to_copy_it_again(env):
    from emotion_omni_lite.course import unpack_run
    archive = _pack(env / 'lab.tar', {'format': 1}); archive.write_bytes(archive.read_bytes()[:700])
    with pytest.raises(ConfigError, match='ends early'): unpack_run(archive)


# ---- safe by default ----
def test_torch_load_never_unpickles_code():
    "Every torch.load in the package reads tensors and plain data only."
    import ast, re
    def loads(source: str) -> list:
        "Each call in `source` that reaches torch's unpickler, however imported, with whether it passes weights_only=True."
        tree, names = ast.parse(source), {'torch.load', 'torch.serialization.load'}
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and n.module in ('torch', 'torch.serialization'):
                names |= {a.asname or a.name for a in n.names if a.name == 'load'}
                names |= {f'{a.asname or a.name}.load' for a in n.names if a.name == 'serialization'}
            elif isinstance(n, ast.Import):                               # import torch as th; import torch.serialization as ts
                names |= {f'{a.asname}.load' for a in n.names if a.asname and a.name == 'torch.serialization'}
                names |= {f'{a.asname}.{m}' for a in n.names if a.asname and a.name == 'torch' for m in ('load', 'serialization.load')}
        return [(ast.unparse(n), any(k.arg == 'weights_only' and isinstance(k.value, ast.Constant) and k.value.value is True
                                     for k in n.keywords))
                for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) in names]
    pkg = Path(__file__).resolve().parents[1] / 'emotion_omni_lite'
    calls = [(p.name, c) for p in pkg.glob('*.py') for c in loads(p.read_text())]
    assert calls and all(safe for _, (_, safe) in calls), calls
    assert [safe for _, safe in loads('from torch import load as ld\nld(p)\nimport torch\ntorch.serialization.load(p, weights_only=True)')] == [False, True]
    assert [safe for _, safe in loads('import torch as th\nth.load(p)\nfrom torch import serialization\nserialization.load(p)')] == [False, False]
    assert not any(re.search(r'(?<![\w.])eval\(', p.read_text()) for p in pkg.glob('*.py'))


def test_an_upload_is_checked_like_a_recording():
    "The probe panel's uploads pass the same checks as `eol chat`: refusals name the upload, warnings come back."
    import io
    from emotion_omni_lite.widgets import read_upload
    def as_bytes(x, sr=SR):
        b = io.BytesIO(); sf.write(b, x, sr, format='WAV'); return b.getvalue()
    with pytest.raises(AudioError, match='mic.wav: holds only a constant offset'):
        read_upload(as_bytes(np.full(SR, 0.4, np.float32)), 'mic.wav')
    with pytest.raises(AudioError, match='too long'):
        read_upload(as_bytes(np.tile(SPEECHY, 60)), 'talk.wav', max_seconds=6)
    w, notes = read_upload(as_bytes(np.clip(SPEECHY * 8, -1, 1)), 'loud.wav', return_notes=True)
    assert len(w) == SR and any('clipped' in n for n in notes)


def test_a_full_disk_is_named_with_the_fix_and_a_closed_pipe_is_no_full_disk(env, monkeypatch):
    "ENOSPC raised from inside the job (as a stage's save would raise it): the command names the file and the fix, with no traceback (that a failed save leaves no half-written file is the atomic writes' own test). A reader that stops early (`eol params | head`) ends the command quietly, status 141, as it ends other programs."
    import contextlib, errno, io
    def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device', str(env / 'runs' / 'smoke' / 'asr' / 'model.safetensors'))
    monkeypatch.setattr(cli, 'run_pipeline', full)
    with contextlib.redirect_stderr(e := io.StringIO()):
        with pytest.raises(SystemExit) as x: cli.main(['run', '--preset', 'smoke'])
    msg = e.getvalue()
    assert x.value.code == 2 and 'model.safetensors: No space left on device' in msg and 'free some space' in msg
    import subprocess, sys                                              # its output buffered, as in a terminal's pipe
    p = subprocess.Popen([sys.executable, '-m', 'emotion_omni_lite.cli', 'params', '--preset', 'lite'], cwd=Path(__file__).parents[1],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={k: v for k, v in os.environ.items() if k != 'PYTHONUNBUFFERED'})
    p.stdout.close()                                                   # the reader is gone before the first line
    err = p.stderr.read()
    assert p.wait() == 141 and err == '', err                          # not "Broken pipe — free some space …"


def test_a_save_cut_short_leaves_the_earlier_file_whole(tmp_path, monkeypatch):
    "A run's weights and records are written under a temporary name and renamed: a save that fails half-way (a full disk) leaves the file before it as it was, and no partial file beside it."
    import errno
    from emotion_omni_lite import train
    from safetensors.torch import load_file
    w, j = tmp_path / 'model.safetensors', tmp_path / 'metrics.json'
    train.save_weights({'a': torch.ones(3)}, w); train.save_json({'acc': 0.5}, j)
    def cut(t, path, metadata=None):
        Path(path).write_bytes(b'\x00' * 10); raise OSError(errno.ENOSPC, 'No space left on device', str(path))
    monkeypatch.setattr(train, 'save_file', cut)
    with pytest.raises(OSError, match='No space'): train.save_weights({'a': torch.zeros(3)}, w)
    monkeypatch.setattr(Path, 'write_text', lambda self, text, *a, **k: (Path.write_bytes(self, text[:3].encode()),
                                                                       (_ for _ in ()).throw(OSError(errno.ENOSPC, 'No space left on device'))))
    with pytest.raises(OSError, match='No space'): train.save_json({'acc': 0.9}, j)
    monkeypatch.undo()
    assert torch.equal(load_file(str(w))['a'], torch.ones(3)) and json.loads(j.read_text()) == {'acc': 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ['metrics.json', 'model.safetensors']


def test_a_preset_section_that_sets_a_bad_value_is_named_with_its_file(tmp_path, monkeypatch):
    "A field the settings file's [emotion_omni_lite.<preset>] section sets wrong: the error names the file and section."
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = lite\n[emotion_omni_lite.lite]\nadapter.k = 0\n')
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    at = re.escape(f"{ini} [emotion_omni_lite.lite]: ")
    with pytest.raises(ConfigError, match=rf"^{at}adapter\.k: must be above 0"): get_config('lite')
    assert get_config('lite', **{'adapter.k': 2}).adapter.k == 2          # an argument overrides the file
    with pytest.raises(ConfigError, match=r"^adapter\.k: must be above 0, got -1$"): get_config('lite', **{'adapter.k': -1})
    ini.write_text('[emotion_omni_lite]\npreset = lite\n[emotion_omni_lite.lite]\nstages.stage1.grad_accum = 3\n')
    with pytest.raises(ConfigError, match=rf"^{at}stages\.stage1\.batch_size: 16 does not split"): get_config('lite')
    ini.write_text('[emotion_omni_lite]\npreset = lite\n[emotion_omni_lite.lite]\nfusion.adaln_cond_dim = 64\n')
    with pytest.raises(ConfigError, match=r"^llm\.width: LLMConfig has no field 'width'; fields: [^(]*$"):
        get_config('lite', **{'llm.width': 3})                           # the argument's own mistake: the file is not named
    with pytest.raises(ConfigError, match=r"^fusion\.adaln_cond_dim: 64 differs from .*emotion_encoder\.dim=32[^(]*$"):
        get_config('lite', **{'emotion_encoder.dim': 32})                # the file's value is fine alone: the argument moved
    ini.write_text('[emotion_omni_lite]\npreset = lite\n[emotion_omni_lite.lite]\nemotion_encoder.dim = 48\n')
    with pytest.raises(ConfigError, match=rf"fusion\.adaln_cond_dim: 32 differs .*\(with what the settings file "
                                          rf"{re.escape(str(ini))} sets for lite: emotion_encoder\.dim\)$"):
        get_config('lite', **{'fusion.adaln_cond_dim': 32})              # each wrong alone: both are named
    assert get_config('smoke').preset == 'smoke'                          # another preset's section is not read


def test_a_build_that_names_no_tts_engine_is_refused_before_anything_is_written(tmp_path):
    s = get_settings(preset='smoke', data_dir=str(tmp_path), device='cpu')
    for overrides, said in [({'data.tts': 'bogus'}, "data.tts: 'bogus' is no TTS engine"),
                            ({'data.assistant_voice': 'nope:m3'}, "data.assistant_voice: 'nope:m3' names no TTS engine")]:
        with pytest.raises(ConfigError, match=said + r'.*espeak, piper.*register_tts'): build_dataset(get_config('smoke', **overrides), s)
    assert not (tmp_path / 'smoke').exists()


def test_a_plan_with_no_training_dialogue_is_named():
    from emotion_omni_lite.dataset import _check_plan, plan_dialogues
    cfg = get_config('smoke')
    plan = [{**r, 'split': 'test_voice' if r['split'] == 'train' else r['split']} for r in plan_dialogues(cfg)]
    with pytest.raises(ConfigError, match=r'no training dialogue.*Lower data\.n_test_voices \(now 2\) or '
                                          r'data\.heldout_sentence_frac \(now 0\.2\), or raise data\.n_dialogues'):
        _check_plan(cfg, plan)
    _check_plan(cfg, plan_dialogues(cfg))                                # the plan as made has some


def test_too_few_dialogues_for_the_units_is_named_and_a_failed_start_does_not_block_the_next_build(tmp_path):
    s = get_settings(preset='smoke', data_dir=str(tmp_path), device='cpu')
    with pytest.raises(ConfigError, match=r'data\.n_dialogues=6 is too few: its 2 training replies give at most 300 frames, '
                                          r'fewer than the units\.n_units=4096'):   # known from the plan: nothing is spoken
        build_dataset(get_config('smoke', **{'data.n_dialogues': 6, 'units.n_units': 4096}), s)
    assert not (tmp_path / 'smoke').exists()
    with pytest.raises(ConfigError, match=r'data\.n_dialogues=12 is too few: its 4 training replies give \d+ frames, fewer '
                                          r'than the units\.n_units=500.*`EOL_DATA_DIR=' + re.escape(str(tmp_path)) + ' eol run --preset smoke --stages data --force`'):   # this folder, not settings.ini's
        build_dataset(get_config('smoke', **{'data.n_dialogues': 12, 'units.n_units': 500}), s)   # known once spoken
    root = tmp_path / 'smoke'
    assert json.loads((root / 'build.json').read_text())['status'] == 'building'   # its speech is kept, not called done
    with pytest.raises(ConfigError, match='already holds an unfinished build of a dataset with another config'):
        build_dataset(get_config('smoke', **{'data.n_dialogues': 12}), s)
    (root / 'manifest.jsonl').write_text('')                              # as a build that stopped before any speech
    stray = root / 'audio' / 'spoken_but_never_listed.wav'; stray.write_bytes(b'RIFF')
    build_dataset(get_config('smoke', **{'data.n_dialogues': 12}), s)
    assert json.loads((root / 'build.json').read_text())['n_rows'] == 12
    assert not stray.exists()                                            # what the stopped build spoke went with it
    before = snapshot(tmp_path)                                          # a finished build, then a forced rebuild with a typo:
    with pytest.raises(ConfigError, match="data.tts: 'espaek' is no TTS engine"):   # refused before anything is deleted
        build_dataset(get_config('smoke', **{'data.n_dialogues': 12, 'data.tts': 'espaek'}), s, force=True)
    assert snapshot(tmp_path) == before


def test_a_reply_never_replaces_a_file_that_appeared_while_it_was_made(tmp_path, monkeypatch):
    "`eol chat --out` checks before the models load; a file made at that path meanwhile is still left as it is."
    from emotion_omni_lite import omni
    from emotion_omni_lite.audio import save_wav
    query, out = wav(tmp_path / 'query.wav'), tmp_path / 'reply.wav'

    class Answering:                                                   # the models, answering while another program writes `out`
        def respond(self, wave, streaming, checked=False):
            out.write_bytes(b'their file')
            return {'text': 'hi', 'user_emotion': 'neutral', 'reply_emotion': 'neutral', 'audio_seconds': 0.5,
                    'sample_rate': SR, 'units': [1, 2], 'timings': {}, 'rtf': 0.1, 'audio': torch.zeros(SR // 2)}
    monkeypatch.setattr(omni, 'load_omni', lambda cfg, s: Answering())
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    with pytest.raises(ConfigError, match='reply.wav appeared while the reply was made: it was left as it is'):
        omni.chat_main(query, out, settings=s)
    assert out.read_bytes() == b'their file' and sorted(p.name for p in tmp_path.iterdir()) == ['query.wav', 'reply.wav']
    assert omni.chat_main(query, out, settings=s, overwrite=True)['out_path'] == str(out)   # asked for: replaced
    assert sf.info(str(out)).frames == SR // 2
    with pytest.raises(FileExistsError): save_wav(out, torch.zeros(10), replace=False)
    assert sf.info(str(out)).frames == SR // 2 and sorted(p.name for p in tmp_path.iterdir()) == ['query.wav', 'reply.wav']
    (tmp_path / 'link.wav').symlink_to(tmp_path / 'nowhere.wav')          # a link to nowhere is there from the start
    with pytest.raises(ConfigError, match='link.wav already exists'): omni.chat_main(query, tmp_path / 'link.wav', settings=s)


def test_a_damaged_build_record_is_named_and_force_rebuilds(tmp_path):
    from emotion_omni_lite.stages import stage_state
    s = get_settings(preset='smoke', data_dir=str(tmp_path), device='cpu')
    cfg = get_config('smoke', **{'data.n_dialogues': 12})
    root = build_dataset(cfg, s)
    (root / 'build.json').write_text((root / 'build.json').read_text()[:40])   # cut short (a copy interrupted)
    before = snapshot(tmp_path)
    assert stage_state('data', cfg, s) == 'damaged'
    with pytest.raises(StageMissing, match=r'(?s)holds a damaged run.*eol run --preset smoke --stages data --force'):
        require_stage('data', cfg, s)
    with pytest.raises(ConfigError, match=r"build\.json is damaged \(not a build's record\).*`EOL_DATA_DIR=" + re.escape(str(tmp_path)) + " eol run --preset smoke --stages data --force`"): build_dataset(cfg, s)
    assert snapshot(tmp_path) == before
    (root / 'build.json').write_text('[]')                               # JSON, but no build's record
    with pytest.raises(ConfigError, match="is damaged"): build_dataset(cfg, s)
    build_dataset(cfg, s, force=True)
    assert json.loads((root / 'build.json').read_text())['status'] == 'done' and stage_state('data', cfg, s) == 'done'


# ---- the command line: each wrong argument or archive named by what is wrong with it, before anything is made ----
def _pack_tar(path: Path, meta: dict, extra=()) -> Path:
    import io, tarfile
    with tarfile.open(path, 'w') as t:
        for name, data in [('pack.json', json.dumps(meta).encode()), *extra]:
            info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
    return path


def test_a_packed_run_is_refused_for_what_is_wrong_with_it_and_nothing_is_made(tmp_path):
    from emotion_omni_lite.course import PACK_FORMAT, pack_run, unpack_run
    meta = {'format': PACK_FORMAT, 'preset': 'smoke', 'seed': 0, 'stages': {}, 'files': {}}
    where = dict(data_dir=str(tmp_path / 'deep' / 'data'), out_dir=str(tmp_path / 'deep' / 'runs'), device='cpu')
    smoke, lite, seed5 = (get_settings(preset='smoke', **where), get_settings(preset='lite', **where),
                          get_settings(preset='smoke', seed=5, **where))
    (tmp_path / 'a folder').mkdir()
    cases = [(tmp_path / 'nope.tar', smoke, r"nope\.tar': no such file: check the path"),
             (tmp_path / 'a folder', smoke, "a folder is a folder: name the .tar that `eol pack` wrote"),
             (_pack_tar(tmp_path / 'p.tar', meta), lite, r"holds preset 'smoke', seed 0; the settings ask for preset 'lite', seed 0: "
              r"unpack it as preset 'smoke' \(`eol unpack --preset smoke`, or without --preset"),
             (tmp_path / 'p.tar', seed5, r"unpack it with seed 0 \(EOL_SEED=0, or seed = 0 in settings\.ini\)$"),
             (_pack_tar(tmp_path / 'f.tar', {**meta, 'format': 999}), smoke, 'pack format 999; this kit reads 1: pack the run again'),
             (_pack_tar(tmp_path / 'u.tar', {**meta, 'preset': 'bogus'}), smoke, 'its pack.json is damaged'),
             (_pack_tar(tmp_path / 'l.tar', {**meta, 'preset': ['smoke']}), smoke, 'its pack.json is damaged'),
             (_pack_tar(tmp_path / 'x.tar', meta, [('data/x', b'1')]), smoke, "holds 'data/x', which its own list does not name")]
    before = snapshot(tmp_path)
    for archive, s, said in cases:
        with pytest.raises(ConfigError, match=said): unpack_run(archive, s)
    assert snapshot(tmp_path) == before and not (tmp_path / 'deep').exists()        # not even an empty folder
    with pytest.raises(ConfigError, match=r"no finished dataset in .*: run `eol run --preset smoke`"):
        pack_run(tmp_path / 'out.tar', settings=smoke)


def test_wrong_command_line_values_are_named_before_any_work(tmp_path, monkeypatch, capsys):
    from emotion_omni_lite.course import CourseError, render_course
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs'))
    (tmp_path / 'a file').write_text('mine')
    before = snapshot(tmp_path)
    for args, said in ((['params', '--memory', '--reply-seconds', 'inf'], 'reply_seconds=inf: the shapes the memory plan sizes must be positive'),
                       (['params', '--memory', '--reply-tokens', '100000000000'], "reply_tokens=100000000000: preset 'lite' takes at most 128 tokens (decoder.max_reply_tokens"),
                       (['params', '--memory', '--query-seconds', '100'], "query_seconds=100.0: preset 'lite' takes at most 4.5 s (dataset.hearing_seconds"),
                       (['params', '--memory', '--reply-seconds', '7200'], "reply_seconds=7200.0: preset 'lite' takes at most 8 s (decoder.max_units=200 units at 25 Hz"),
                       (['params', '--reply-seconds', '3'], '--reply-seconds size the memory plan: add --memory'),
                       (['chat', '--audio', '', '--preset', 'smoke'], '--audio is empty: name the recording'),
                       (['chat', '--audio', 'q.wav', '--out', ' '], '--out is empty: name a .wav file'),
                       (['course', '--preset', 'smoke', '--out', str(tmp_path / 'a file' / 'sub'), '--only', '00_config'],
                        'a file is a file, not a folder: choose another folder for the course'),
                       (['course', '--preset', 'smoke', '--record', '--only', '00_config'],
                        "(--record, record=True) times the notebooks on a trained run, and preset 'smoke' still needs data, asr"),
                       (['run', '--preset', 'smoke', '--stages', 'vocoder', 'eval'],   # every missing run, before any work
                        "cannot evaluate preset 'smoke': 10 run(s) missing")):
        with pytest.raises(SystemExit) as e: cli.main(args)
        err = capsys.readouterr().err
        assert e.value.code == 2 and said in err, (args, err)
    assert snapshot(tmp_path) == before                                # no logs, no runs folder, nothing
    def failing(*a, **k): raise CourseError('the course was written to x, but these notebooks failed: {...}')
    monkeypatch.setattr(cli, 'render_course', failing)
    with pytest.raises(SystemExit) as e: cli.main(['course', '--preset', 'smoke'])
    assert e.value.code == 1 and 'eol course: the course was written to x, but these notebooks failed' in capsys.readouterr().err


def test_the_guards_follow_a_whole_lite_run_and_their_failure_ends_the_job(monkeypatch, capsys):
    "`eol run --guards` (the end of scripts/main.sh): pytest -m slow after a whole lite run only; a failed guard is the job's status."
    import subprocess
    calls = []
    class Done:
        def __init__(self, rc): self.returncode = rc
    monkeypatch.setattr(subprocess, 'run', lambda cmd, cwd, env=None: calls.append((cmd, cwd)) or Done(len(calls) - 1))
    cli._guards('lite', whole=True)                                     # passed: the job goes on
    assert calls[0][0][-4:] == ['-p', 'no:cacheprovider', '-m', 'slow'] and (Path(calls[0][1]) / 'tests').is_dir()
    with pytest.raises(SystemExit) as e: cli._guards('lite', whole=True)
    assert e.value.code == 1
    cli._guards('lite', whole=False); cli._guards('smoke', whole=True)
    assert len(calls) == 2 and 'without --stages asserts them' in capsys.readouterr().out


def test_what_guards_and_course_need_is_named_before_any_work(tmp_path, monkeypatch, capsys):
    "A lean install (a pip or Colab one without the test tools; the main job's lacks JupyterLab): `eol run --guards` without pytest, `eol course` without a Jupyter kernel: refused before training or writing anything, with the install that adds them."
    import importlib.util
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs'))
    spec = importlib.util.find_spec
    lacking = set()
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None if name in lacking else spec(name, *a))
    monkeypatch.setattr(cli, 'run_pipeline', lambda *a, **k: pytest.fail('the run started'))
    lacking.update({'pytest'})
    with pytest.raises(SystemExit) as e: cli.main(['run', '--preset', 'lite', '--guards'])
    assert e.value.code == 2 and '-m pip install pytest hypothesis`, or `bash scripts/setup.sh run`' in capsys.readouterr().err
    lacking.clear(); lacking.update({'nbclient', 'ipykernel'})
    with pytest.raises(SystemExit) as e: cli.main(['course', '--preset', 'smoke', '--only', '00_config'])
    assert e.value.code == 2 and 'nbclient, ipykernel are not installed' in capsys.readouterr().err
    assert not (tmp_path / 'runs').exists()                             # no course folder begun
    lacking.clear()
    ran = []
    monkeypatch.setattr(cli, 'run_pipeline', lambda *a, **k: ran.append(a))
    cli.main(['run', '--preset', 'smoke', '--guards'])                 # another preset: said, and the run goes on
    assert ran and "the quality guards' targets are lite's; preset 'smoke' runs without them" in capsys.readouterr().out


def test_the_rebuild_command_rebuilds_that_folder_and_seed_only(tmp_path):
    "The command a damaged build names rebuilds that folder with its own seed, and nothing else: a seed's folder of bench_seeds, a Drive folder with a space."
    from emotion_omni_lite.dataset import _rebuild
    assert _rebuild(tmp_path / 'My Drive' / 'lite', get_settings(preset='lite', seed=2)) == \
        f"`EOL_SEED=2 EOL_DATA_DIR='{tmp_path / 'My Drive'}' eol run --preset lite --stages data --force`"
    assert _rebuild(tmp_path / 'mine', get_settings(preset='lite')).startswith('build_dataset(cfg, settings, force=True)')   # no preset's folder


def test_speech_tokens_you_bring_have_no_unit_tokenizer_to_load(tmp_path):
    "With units.kind='external' the dataset holds no unit tokenizer: asked for one, the loader says why, not 'rebuild it'."
    from emotion_omni_lite.dataset import load_units_tokenizer
    ext = get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(tmp_path / 'm.jsonl'), 'units.rate_hz': 25})
    with pytest.raises(ConfigError, match=r"units\.kind='external' reads the speech tokens your manifest lists, so the dataset "
                                          r"has no unit tokenizer"):
        load_units_tokenizer(ext, get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), device='cpu'))


@pytest.mark.parametrize('damage', ['weights cut short', 'weights missing', 'record missing', 'record garbage'])
def test_a_damaged_unit_tokenizer_is_named_with_the_rebuild(tmp_path, damage):
    from emotion_omni_lite.dataset import UnitTokenizer
    d = UnitTokenizer(torch.randn(8, 4)).save(tmp_path / 'smoke' / 'units')
    w = d / 'units.safetensors'
    {'weights cut short': lambda: w.write_bytes(w.read_bytes()[:40]), 'weights missing': lambda: w.unlink(),
     'record missing': lambda: (d / 'units.json').unlink(),
     'record garbage': lambda: (d / 'units.json').write_text('{"pool": ')}[damage]()
    with pytest.raises(ConfigError, match=r"unit tokenizer in .*units is damaged .*`EOL_DATA_DIR=" + re.escape(str(tmp_path)) + " eol run --preset smoke --stages data --force`"):
        UnitTokenizer.load(d)


def test_the_command_that_makes_a_missing_run_names_the_seed_and_folders_it_is_for(tmp_path, monkeypatch):
    "A run of another seed or folder (the seed studies') is made by a command that says so: `eol run` alone would use settings.ini's."
    from emotion_omni_lite.stages import train_command
    for k in ('EOL_SEED', 'EOL_DATA_DIR', 'EOL_OUT_DIR', 'EOL_SETTINGS'): monkeypatch.delenv(k, raising=False)
    s = get_settings(preset='smoke', seed=3, data_dir=str(tmp_path / 'd'), out_dir=str(tmp_path / 'r'))
    with pytest.raises(StageMissing) as e: require_stage('asr', get_config('smoke'), s)
    assert f"\n    EOL_SEED=3 EOL_DATA_DIR={tmp_path / 'd'} EOL_OUT_DIR={tmp_path / 'r'} eol run --preset smoke --stages data asr\n" in str(e.value)
    plain = get_settings(preset='smoke')
    assert train_command(['data'], 'smoke', plain) == 'eol run --preset smoke --stages data'     # what eol reads anyway


def test_a_benchmark_says_the_kits_errors_as_eol_does(capsys):
    "The scripts in benchmarks/ end a missing run or a bad setting with its message and status 2, not a traceback."
    def needs_a_run(): raise StageMissing("stage 'asr' has no run: To make it, run\n    eol run --preset lite --stages data asr")
    with pytest.raises(SystemExit) as e: cli.run_script(needs_a_run, 'benchmarks/bench_x.py')
    assert e.value.code == 2 and capsys.readouterr().err.startswith("benchmarks/bench_x.py: stage 'asr' has no run")
    assert cli.run_script(lambda: 7, 'benchmarks/bench_x.py') == 7
    import signal, subprocess, sys                                    # stopped by a time limit (SIGTERM): its cleanups run
    script = ("import shutil, sys, tempfile, time\nfrom emotion_omni_lite.cli import run_script\n"
              "def work():\n    d = tempfile.mkdtemp(prefix='eol_term_')\n    print(d, flush=True)\n"
              "    try: time.sleep(60)\n    finally: shutil.rmtree(d)\nrun_script(work, 'benchmarks/bench_x.py')\n")
    p = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE, text=True)
    made = Path(p.stdout.readline().strip()); assert made.is_dir()
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 128 + signal.SIGTERM and not made.exists()


def test_the_memory_plan_counts_both_streams_of_an_interleaved_adapter():
    from emotion_omni_lite.scale import memory_plan
    longer = {'audio.max_seconds': 30, 'semantic_encoder.max_source_positions': 1500}   # a 30-s window: lite hears 4.5 s
    cfg = get_config('lite', **{'adapter.mode': 'interleave'}, **longer)
    memory_plan(cfg, query_seconds=15)                                   # 2 × 150 + 32 + 64 = 396 positions: it fits
    with pytest.raises(ConfigError, match=r'stage 1 would read 696 positions \(1500 query frames / adapter\.k=5 in each of two '
                                          r'interleaved streams'):
        memory_plan(cfg, query_seconds=30)                               # 2 × 300 + 96: beyond lite's 512
    memory_plan(get_config('lite', **longer), query_seconds=30)          # 396 in one stream: it fits
    with pytest.raises(ConfigError, match=r"query_seconds=30: preset 'lite' takes at most 4\.5 s \(dataset\.hearing_seconds"):
        memory_plan(get_config('lite'), query_seconds=30)                # longer than the preset trains on: not planned


def test_a_config_without_settings_reads_its_own_presets_runs(tmp_path, monkeypatch):
    "A loader given a config and no settings looks in that config's preset's folders, not settings.ini's preset's."
    from emotion_omni_lite.stage1 import load_stage1
    from emotion_omni_lite.stage2 import stage2_features
    from emotion_omni_lite.omni import speech_figures
    monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs')); monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data'))
    monkeypatch.setenv('EOL_PRESET', 'lite')
    for load in (load_stage1, stage2_features, speech_figures):
        with pytest.raises(StageMissing, match=rf"no run in {re.escape(str(tmp_path / 'runs' / 'smoke'))}/.*preset 'smoke'"):
            load(get_config('smoke'))


def test_every_problem_of_every_manifest_line_is_said(tmp_path):
    "A line's problems are all named (not only the first); a recording cut short, too short or longer than the encoders hear, and a reply of more tokens than stage 2 speaks are refused; a quoted line break or U+2028 in a CSV cell keeps its row whole and the line numbers right."
    from emotion_omni_lite.audio import save_wav
    cfg = get_config('smoke')
    tone = lambda s: 0.3 * np.sin(np.arange(int(16000 * s)) * 0.05)
    save_wav(tmp_path / 'q.wav', tone(1.0)); save_wav(tmp_path / 'r.wav', tone(2.0))
    save_wav(tmp_path / 'click.wav', tone(0.05)); save_wav(tmp_path / 'long.wav', tone(cfg.audio.max_seconds + 2))
    cut = (tmp_path / 'r.wav').read_bytes(); (tmp_path / 'cut.wav').write_bytes(cut[:len(cut) // 3])   # an interrupted copy
    (tmp_path / 'ok.json').write_text(json.dumps([i % 20 for i in range(50)]))
    (tmp_path / 'far.json').write_text(json.dumps([cfg.units.n_units + 5] * 50))
    (tmp_path / 'many.json').write_text(json.dumps([1] * (cfg.decoder.max_units + 1)))
    line = lambda q='q.wav', e='happy', r='r.wav', u='ok.json', text='Hi.': f'{q},"{text}",{e},{r},Oh!,happy,{u}\n'
    f = tmp_path / 'm.csv'
    f.write_text(MANIFEST_COLUMNS + '\n' + line(text='Hi,\nthere.') + line(text='Hi\u2028there.') + line(e='bored', u='far.json')
                 + line(r='cut.wav') + line(q='click.wav') + line(q='long.wav') + line(r='long.wav', u='many.json'))
    with pytest.raises(ConfigError) as e: external_rows(cfg, f)
    said = str(e.value)
    assert 'line 2:' not in said and 'line 4:' not in said                # two whole rows, the first over two lines
    assert "line 5: user_emotion 'bored' is not one of" in said and f'line 5: reply_units {tmp_path / "far.json"}: token' in said
    assert 'line 6: reply_audio' in said and 'is cut short' in said
    assert 'line 7: query_audio' in said and 'is 50 ms long; speech needs at least 100 ms' in said
    assert f'line 8: query_audio {tmp_path / "long.wav"} is {cfg.audio.max_seconds + 2:.1f} s long, more than' in said
    assert f'line 9: reply_units {tmp_path / "many.json"}: {cfg.decoder.max_units + 1} tokens, more than the' in said
    assert '5 line(s) cannot be used (6 problems), nothing was written' in said


def test_a_manifest_recording_a_stage_would_refuse_is_said_before_the_build(tmp_path):
    "Every recording of a manifest is read as the stages will read it: silence, NaN, an unsupported rate, channels that cancel and a constant offset are each named with their line, nothing is built, and nothing is said twice."
    cfg = get_config('smoke')
    tone = (0.3 * np.sin(np.arange(32000) * 0.05)).astype(np.float32)
    sf.write(str(tmp_path / 'q.wav'), tone[:16000], 16000); sf.write(str(tmp_path / 'r.wav'), tone, 16000)
    sf.write(str(tmp_path / 'silent.wav'), np.zeros(16000, np.float32), 16000)
    nan = tone.copy(); nan[5] = np.nan; sf.write(str(tmp_path / 'nan.wav'), nan, 16000, subtype='FLOAT')
    sf.write(str(tmp_path / '4k.wav'), tone[:8000], 4000)
    sf.write(str(tmp_path / 'cancel.wav'), np.stack([tone, -tone], 1), 16000)
    sf.write(str(tmp_path / 'dc.wav'), np.full(16000, 0.2, np.float32), 16000)
    (tmp_path / 'u.json').write_text(json.dumps([i % 20 for i in range(50)]))
    line = lambda q='q.wav', r='r.wav': f'{q},Hi.,happy,{r},Oh!,happy,u.json\n'
    f = tmp_path / 'm.csv'
    f.write_text(MANIFEST_COLUMNS + '\n' + line() + line(q='silent.wav') + line(r='nan.wav') + line(q='4k.wav')
                 + line(r='cancel.wav') + line(q='dc.wav'))
    with pytest.raises(ConfigError) as e: external_rows(cfg, f)
    said = str(e.value)
    assert 'line 2:' not in said
    assert 'line 3: query_audio' in said and 'is silent' in said and 'line 4: reply_audio' in said and 'NaN or Inf' in said
    assert 'line 5: query_audio' in said and 'unsupported sample rate 4000 Hz' in said
    assert 'line 6: reply_audio' in said and 'cancel out' in said and 'line 7: query_audio' in said and 'constant offset' in said
    assert '5 line(s) cannot be used, nothing was written' in said


def test_a_manifest_text_holding_a_chat_control_token_is_refused_with_its_line(tmp_path):
    "A query or reply text holding <|im_end|>, <speech> or another special token of the LLM's tokenizer was refused only when the text stage built its prompts, without the manifest's line."
    from emotion_omni_lite import dataset
    from emotion_omni_lite.audio import save_wav
    from emotion_omni_lite.text_llm import SPECIAL_TOKENS, train_tokenizer
    assert set(dataset._CHAT_MARKS) == set(SPECIAL_TOKENS)              # the chat's own marks, one list in two notebooks
    tone = lambda s: 0.3 * np.sin(np.arange(int(16000 * s)) * 0.05)
    save_wav(tmp_path / 'q.wav', tone(1.0)); save_wav(tmp_path / 'r.wav', tone(2.0))
    (tmp_path / 'ok.json').write_text(json.dumps([i % 20 for i in range(50)]))
    line = lambda query='Hi.', reply='Oh!': f'q.wav,"{query}",happy,r.wav,"{reply}",happy,ok.json\n'
    f = tmp_path / 'm.csv'
    f.write_text(MANIFEST_COLUMNS + '\n' + line() + line(reply='Sure.<|im_end|>') + line(query='say <speech> twice')
                 + line(reply='look <|box_start|> here') + line(reply='a < b | c > d, im_end is a word'))
    tok = train_tokenizer(['Hi there.', 'Oh, look here.'] * 20, 300, speech=False)
    tok.add_special_tokens({'additional_special_tokens': ['<|box_start|>']}); tok.save_pretrained(tmp_path / 'llm')
    marks = lambda m: rf"{m}, which the LLM's tokenizer reads as one special token .*not as words: remove it or write it another way"
    for cfg, box in ((get_config('smoke'), False), (get_config('smoke', **{'llm.pretrained': str(tmp_path / 'llm')}), True)):
        with pytest.raises(ConfigError) as e: external_rows(cfg, f)
        said = str(e.value).splitlines()
        assert any(re.match(r"  line 3: reply_text 'Sure\.<\|im_end\|>' holds " + marks(r'<\|im_end\|>'), l) for l in said), said
        assert any(re.match(r"  line 4: query_text 'say <speech> twice' holds " + marks('<speech>'), l) for l in said), said
        assert any(l.startswith('  line 5: reply_text') for l in said) == box   # the checkpoint's own marks, where it has one
        assert not any(l.startswith(('  line 2:', '  line 6:')) for l in said), said


@pytest.mark.parametrize('damage', ['table cut short', 'table record garbage', 'a recording gone'])
def test_a_damaged_dialogue_table_or_a_lost_recording_names_the_rebuild(tmp_path, damage):
    "A built dataset whose table was cut short or lost a recording (an interrupted copy) is named with the command that rebuilds it, not a traceback or a path to check."
    from emotion_omni_lite.dataset import load_query_mels
    s = get_settings(preset='smoke', data_dir=str(tmp_path), device='cpu')
    cfg = get_config('smoke', **{'data.n_dialogues': 12})
    root = build_dataset(cfg, s)
    arrow = next((root / 'dialogues').glob('*.arrow'))
    {'table cut short': lambda: arrow.write_bytes(arrow.read_bytes()[:len(arrow.read_bytes()) // 2]),
     'table record garbage': lambda: (root / 'dialogues' / 'state.json').write_text('{"_data_files": '),
     'a recording gone': lambda: next((root / 'audio' / 'query').rglob('*.wav')).unlink()}[damage]()
    rebuild = re.escape(f"`EOL_DATA_DIR={tmp_path} eol run --preset smoke --stages data --force`")
    what = 'lacks one of its recordings' if damage == 'a recording gone' else r'dialogue table in .*dialogues is damaged'
    with pytest.raises(ConfigError, match=rf'(?s){what}.*{rebuild}'): load_query_mels(cfg, s)

def test_a_manifest_says_each_broken_json_line_and_a_wrong_separator(tmp_path):
    f = tmp_path / 'm.jsonl'
    good = json.dumps(dict(zip(MANIFEST_COLUMNS.split(','), ['q.wav', 'Hi\u2028there.', 'happy', 'r.wav', 'Oh!', 'happy', 'r.json'])),
                      ensure_ascii=False)
    f.write_text('\n'.join([good, '{"query_audio": ', good, '[1, 2]']), encoding='utf-8')
    with pytest.raises(ConfigError) as e: external_rows(get_config('smoke'), f)
    assert '2 line(s) are not JSON objects' in str(e.value) and 'line 2: not JSON' in str(e.value)
    assert 'line 4: a JSON object per line, got list' in str(e.value)    # both, and the U+2028 inside a string is no break
    f = tmp_path / 'b.csv'; f.write_text(MANIFEST_COLUMNS + '\n\nq.wav,Hi.,bored,r.wav,Oh!,happy,r.json\n')   # a blank line first
    with pytest.raises(ConfigError, match="line 3: user_emotion 'bored'"): external_rows(get_config('smoke'), f)
    f = tmp_path / 's.csv'; f.write_text(MANIFEST_COLUMNS.replace(',', ';') + '\nq.wav;Hi.;happy;r.wav;Oh!;happy;r.json\n')
    with pytest.raises(ConfigError, match=r"separated by ';': a CSV manifest is separated by commas"): external_rows(get_config('smoke'), f)


@pytest.mark.parametrize('name, content, said', [
    ('u.json', '', 'is empty'), ('u.txt', '   ', 'is empty'), ('u.json', '[1.0, 2.0]', 'decimal point'),
    ('u.json', '[1, 2', 'is not JSON'), ('u.npy', np.zeros((2, 25), np.int64), r'shape \[2, 25\], not one stream')])
def test_token_files_that_are_not_one_stream_of_integers_are_named(tmp_path, name, content, said):
    f = tmp_path / name
    if isinstance(content, np.ndarray): np.save(f, content)
    else: f.write_text(content)
    with pytest.raises(ValueError, match=said): read_units(f)
    if name == 'u.npy':                                                  # one stream, whichever way round
        np.save(f, np.arange(25).reshape(1, 25)); assert read_units(f) == list(range(25))


def test_a_reply_that_cannot_be_written_is_said_with_the_fix(tmp_path, monkeypatch):
    "A disk that fills (or a folder that refuses files) while the reply is written: a message naming --out and the fix, no traceback, no temporary file left."
    import builtins, errno
    from emotion_omni_lite import omni
    query, out = wav(tmp_path / 'query.wav'), tmp_path / 'reply.wav'
    class Answering:
        def respond(self, wave, streaming, checked=False):
            return {'text': 'hi', 'user_emotion': 'neutral', 'reply_emotion': 'neutral', 'audio_seconds': 0.5,
                    'sample_rate': SR, 'units': [1, 2], 'timings': {}, 'rtf': 0.1, 'audio': torch.zeros(SR // 2)}
    monkeypatch.setattr(omni, 'load_omni', lambda cfg, s: Answering())
    real_open = builtins.open
    def full_disk(file, mode='r', *a, **k):                             # the reply's file cannot be made
        if 'w' in mode and str(file).startswith(str(tmp_path / '.reply.wav')): raise OSError(errno.ENOSPC, 'No space left on device')
        return real_open(file, mode, *a, **k)
    monkeypatch.setattr(builtins, 'open', full_disk)
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    with pytest.raises(ConfigError, match=r'reply\.wav: the reply could not be written \(No space left on device\); nothing was '
                                          r'left there: choose another folder'):
        omni.chat_main(query, out, settings=s)
    monkeypatch.setattr(builtins, 'open', real_open)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['query.wav']


def _tones(d: Path, n: int = 3) -> Path:
    "A manifest of `n` dialogues (tones) with 25 Hz token files in `d`."
    lines = []
    for i in range(n):
        wav(d / f'q{i}.wav', 0.3 * np.sin(2 * np.pi * (150 + 20 * i) * T)); wav(d / f'r{i}.wav', 0.3 * np.sin(2 * np.pi * 220 * T))
        np.save(d / f'r{i}.npy', np.arange(25) + i)
        lines.append({'query_audio': f'q{i}.wav', 'query_text': f'it is raining again {i}', 'user_emotion': 'sad',
                      'reply_audio': f'r{i}.wav', 'reply_text': 'i am sorry to hear that', 'reply_emotion': 'sad',
                      'reply_units': f'r{i}.npy', 'split': 'train' if i else 'test'})
    (d / 'm.jsonl').write_text(''.join(json.dumps(l) + '\n' for l in lines))
    return d / 'm.jsonl'


def test_a_dataset_of_your_manifest_built_under_the_earlier_split_rules_says_so(tmp_path, monkeypatch):
    "The rules that split and read a manifest's lines are part of its dataset's hash: a build made under the earlier rules "
    "is another dataset, and the refusal says why (the same manifest, other rules) and how to build it again; nothing changes."
    from emotion_omni_lite import dataset, stages
    src = tmp_path / 'mine'; src.mkdir()
    cfg = get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(_tones(src)), 'units.rate_hz': 25})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), device='cpu')
    with monkeypatch.context() as m:
        m.setattr(stages, 'SPLIT_RULES', 1); m.setattr(dataset, 'SPLIT_RULES', 1)   # built by a kit of the earlier rules
        build_dataset(cfg, s)
    before = snapshot(tmp_path)
    for call in (lambda: build_dataset(cfg, s), lambda: require_stage('data', cfg, s)):
        with pytest.raises((ConfigError, StageMissing), match=r"built from the same manifest under the kit's earlier rules for "
                                                              r"splitting and reading its lines .*build it again with .*--force"):
            call()
    assert snapshot(tmp_path) == before


def test_a_recording_replaced_after_the_build_is_named_and_its_runs_train_again(tmp_path):
    "Recordings and token files you bring are not copied: one replaced under its name (same size), or gone, is named "
    "with the fix; nothing is rebuilt or deleted unasked; after the rebuild the runs trained on the old build train again."
    from emotion_omni_lite.stages import STAGES, run_stage, StageJob, stages_needed
    ups = lambda n: set(STAGES[n].depends) | {x for u in STAGES[n].depends for x in ups(u)}
    assert all('data' in ups(n) for n, st in STAGES.items() if st.train)   # every trained run learns from (and records) a build
    src = tmp_path / 'mine'; src.mkdir()
    cfg = get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(_tones(src)), 'units.rate_hz': 25})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    root = build_dataset(cfg, s)
    assert stage_state('data', cfg, s) == 'done' and len(json.loads((root / 'sources.json').read_text())['files']) == 9
    toy = lambda c, st: StageJob(data=[(torch.ones(1), torch.ones(1))] * 8, build=lambda: nn.Linear(1, 1),
                                 collate=lambda b: (torch.stack([x for x, _ in b]), torch.stack([y for _, y in b])),
                                 loss=lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]))
    run = run_stage('vocoder', cfg, toy, s)                            # a run that learned from this build
    assert stage_state('vocoder', cfg, s) == 'done'
    before = snapshot(tmp_path)
    x, _ = sf.read(str(src / 'q1.wav')); t = os.stat(src / 'q1.wav').st_mtime_ns
    wav(src / 'q1.wav', x[::-1].copy()); os.utime(src / 'q1.wav', ns=(t + 10**9, t + 10**9))   # re-recorded: the same length
    (src / 'r2.npy').unlink()
    with pytest.raises(ConfigError) as e: build_dataset(cfg, s)        # it always looks; the loaders, which reuse a look
                                                                       # of the last 10 s (SOURCES_CHECK_SECONDS), see it then
    assert stage_state('data', cfg, s) == 'changed'
    said = str(e.value)
    assert f"{src / 'q1.wav'} (rewritten)" in said and f"{src / 'r2.npy'} (gone)" in said and '--force' in said
    assert 'q0.wav' not in said
    with pytest.raises(StageMissing, match=r"changed afterwards in .* These changed:\n  .*q1\.wav \(rewritten\)(.|\n)*--stages data --force"):
        require_stage('data', cfg, s)
    assert run_stage('vocoder', cfg, lambda *a: 1 / 0, s) == run       # a finished run is what it learned: kept as it is
    with pytest.raises(ConfigError, match=r'q1\.wav \(rewritten\)'): cli.train_stage('data', cfg, s)   # what `eol run` does first
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith('mine')} == {k: v for k, v in before.items() if not k.startswith('mine')}
    np.save(src / 'r2.npy', np.arange(25) + 2)                         # the token file back; the new recording kept
    with pytest.raises(ConfigError, match=r'r2\.npy \(rewritten\)'): build_dataset(cfg, s)   # its time says it is another file
    cache = _features_name(cfg, s)
    build_dataset(cfg, s, force=True)
    assert stage_state('data', cfg, s) == 'done' and _features_name(cfg, s) != cache   # its features are encoded again
    assert stage_state('vocoder', cfg, s) == 'stale' and stages_needed(['vocoder'], cfg, s) == ['vocoder']
    with pytest.raises(StageMissing, match='another build of the dataset'): require_stage('vocoder', cfg, s)
    assert run_stage('vocoder', cfg, toy, s) == run and stage_state('vocoder', cfg, s) == 'done'   # trained again …
    m = json.loads((run / 'metrics.json').read_text())
    assert 'resumed_from' not in m                                     # … from scratch, not from the old checkpoint
    assert run_stage('vocoder', cfg, lambda *a: 1 / 0, s) == run       # … and now reused
    (root / 'build.json').rename(root / 'b.json')                      # no dataset there: the run is not called stale
    assert stage_state('vocoder', cfg, s) == 'done'
    (root / 'b.json').rename(root / 'build.json'); (root / 'sources.json').unlink()
    assert stage_state('data', cfg, s) == 'damaged'                    # its record of the files gone: not taken as none
    with pytest.raises(ConfigError, match=r'sources\.json, the record .* is gone or damaged'): build_dataset(cfg, s)


def test_the_kits_own_datasets_record_no_sources(tmp_path):
    "A dataset the kit speaks from its config records no files: its runs and caches are named as before."
    from emotion_omni_lite.stages import data_build
    cfg = get_config('smoke', **{'data.n_dialogues': 24})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    root = build_dataset(cfg, s)
    assert not (root / 'sources.json').exists() and data_build(s) is None and stage_state('data', cfg, s) == 'done'
    assert _features_name(cfg, s) == f"v2_{stage_hash('asr', cfg, s.seed)}_{stage_hash('emotion_encoder', cfg, s.seed)}.pt"
    (root / 'sources.json').write_text(json.dumps({'files': {str(tmp_path / 'gone.wav'): [1, 1]}}))   # left by another build
    assert stage_state('data', cfg, s) == 'done' and build_dataset(cfg, s) == root   # … not this one's: not read


def _dialogues(d: Path, specs: list, name: str = 'm.jsonl') -> Path:
    "A manifest in `d`, a line for each dict of `specs` over a sad dialogue 'sentence <i>' (`q`: the index of its query "
    "recording, by default its own), each reply 1 s of 25 tokens."
    d.mkdir(parents=True, exist_ok=True); lines = []
    for i, sp in enumerate(specs):
        q = sp.get('q', i)
        if not (d / f'q{q}.wav').exists(): wav(d / f'q{q}.wav', 0.3 * np.sin(2 * np.pi * (150 + 20 * q) * T))
        wav(d / f'r{i}.wav', 0.3 * np.sin(2 * np.pi * 220 * T)); np.save(d / f'r{i}.npy', np.full(25, i % 30))
        lines.append({'query_audio': f'q{q}.wav', 'query_text': f'sentence {i}', 'user_emotion': 'sad', 'reply_audio': f'r{i}.wav',
                      'reply_text': 'i am sorry to hear that', 'reply_emotion': 'sad', 'reply_units': f'r{i}.npy',
                      **{k: v for k, v in sp.items() if k != 'q'}})
    (d / name).write_text(''.join(json.dumps(l) + '\n' for l in lines))
    return d / name


def test_a_manifest_that_trains_on_what_it_holds_out_is_refused(tmp_path):
    "The splits a manifest names are checked against each other: a sentence (its words, whatever their case) or a voice "
    "that one line holds out and another trains on, and one query recording in two splits or with two labels, are "
    "refused with both lines; one recording listed alike with two replies is one query."
    cfg = get_config('smoke', **{'units.rate_hz': 25})
    m = _dialogues(tmp_path, [
        {'split': 'test_sentence', 'query_text': 'Sentence zero.'},             # line 1
        {'split': 'train'},                                                     # line 2
        {'split': 'test_voice', 'voice': 'v0', 'query_text': 'sentence 1'},     # line 3: a new voice of line 2's sentence
        {'split': 'train', 'query_text': 'sentence ZERO'},                      # line 4: line 1's held-out sentence, trained on
        {'split': 'train', 'voice': 'v0 '},                                     # line 5: line 3's held-out voice (a space after), trained on
        {'split': 'train', 'q': 1, 'query_text': 'sentence 1'},                 # line 6: line 2's recording, alike: another reply
        {'split': 'test_voice', 'voice': 'v9', 'q': 1, 'user_emotion': 'happy', 'query_text': 'sentence 4'}])   # line 7: line 2's
        # recording, held out, happy, saying line 5's sentence
    with pytest.raises(ConfigError) as e: external_rows(cfg, m)
    said = str(e.value)
    assert '3 line(s) cannot be used, nothing was written' in said
    assert "line 4: its query_text 'sentence ZERO' is held out on line 1, and this line trains on it: if only line 1's " \
           "speaker is new, name line 1 test_voice" in said
    assert "line 5: its voice 'v0' is held out on line 3, and this line trains on it" in said
    assert f"line 7: query_audio {tmp_path / 'q1.wav'} is also on line 2, with another split and query_text and user_emotion" in said
    assert said.index('line 4:') < said.index('line 5:') < said.index('line 7:')
    assert not any(f'line {n}:' in said for n in (1, 2, 3, 6))
    keep = [json.loads(l) for n, l in enumerate(m.read_text().splitlines(), 1) if n not in (4, 5, 7)]
    m.write_text(''.join(json.dumps(l) + '\n' for l in keep))
    rows = external_rows(cfg, m)
    assert [r['split'] for r in rows] == ['test_sentence', 'train', 'test_voice', 'train']


def test_a_manifest_with_nothing_held_out_is_refused(tmp_path):
    "A manifest whose every line trains (named so, or one sentence and no voice to hold out) is refused before the build, "
    "naming the split column and data.heldout_sentence_frac; two sentences without a split hold one of them out."
    cfg = get_config('smoke', **{'units.rate_hz': 25})
    with pytest.raises(ConfigError, match=r"no line is held out for testing \(all 2 are in the training split\), so no stage "
                                          r"could be scored: name a held-out split in the split column of some lines \(test_voice: "
                                          r"a speaker training never hears"):
        external_rows(cfg, _dialogues(tmp_path / 'named', [{'split': 'train'}] * 2))
    with pytest.warns(UserWarning, match='names no voice'), pytest.raises(ConfigError, match=r'heldout_sentence_frac \(now 0\.2\)'):
        external_rows(cfg, _dialogues(tmp_path / 'one', [{'query_text': 'the same words'}] * 3))
    with pytest.warns(UserWarning, match='names no voice'):
        rows = external_rows(cfg, _dialogues(tmp_path / 'two', [{'query_text': t} for t in ('some words', 'Some words!', 'others')]))
    assert rows[0]['split'] == rows[1]['split'] and {r['split'] for r in rows} == {'train', 'test_sentence'}


def test_a_manifest_row_with_more_cells_than_its_header_is_named(tmp_path):
    "An unquoted comma in a CSV cell is named as what it is (not cut away, leaving shifted cells to be refused for other "
    "reasons); empty cells past the header, as spreadsheets add, are no problem."
    f = tmp_path / 'm.csv'
    f.write_text(MANIFEST_COLUMNS + '\nq.wav,Hi.,happy,r.wav,Oh!,happy,r.json\nq.wav,Well, no.,sad,r.wav,Oh!,sad,r.json\n'
                 'q.wav,Hi.,happy,r.wav,Oh!,happy,r.json,,\n')
    with pytest.raises(ConfigError) as e: external_rows(get_config('smoke'), f)
    said = str(e.value)
    assert '1 line(s) have more cells than the header, nothing was written:\n  line 3 has 8 cells, the header has 7' in said
    assert 'Quote a text that contains a comma' in said and 'line 2' not in said and 'line 4' not in said


def test_manifest_ids_and_sentence_ids(tmp_path):
    "An id 0 is an id; a line without one never takes another line's; two lines of one id are both named. Each distinct "
    "sentence (its words, whatever their case and punctuation) gets its own sentence_id, and the statistics count them."
    from datasets import Dataset
    from emotion_omni_lite.dataset import dataset_stats
    cfg = get_config('smoke', **{'units.rate_hz': 25})
    m = _dialogues(tmp_path, [{'id': 0, 'query_text': 'Other one.', 'split': 'train'}, {'query_text': 'other one', 'split': 'train'},
                              {'id': 'x000001', 'query_text': 'A third one', 'split': 'test'},
                              {'id': '', 'query_text': "It's another!", 'split': 'train'}])
    rows = external_rows(cfg, m)
    assert [r['id'] for r in rows] == ['0', 'x000001_', 'x000001', 'x000003'] and [r['sentence_id'] for r in rows] == [0, 0, 1, 2]
    assert dataset_stats(Dataset.from_list(rows))['sentences'] == 3
    m = _dialogues(tmp_path / 'twice', [{'id': 'a', 'split': 'train'}, {'id': 'b', 'split': 'test'}, {'id': 'a', 'split': 'train'}])
    with pytest.raises(ConfigError, match=r"line 3: id 'a' is also line 1's: give each line its own id \(or none\)"): external_rows(cfg, m)


def test_an_external_datasets_hash_covers_the_data_fields_it_reads(tmp_path):
    "units.kind='external': the dataset hashes the data fields that split its lines, not those that make the kit's own "
    "speech; those count in the stages after it, which may read them; data.n_dialogues counts nowhere. The kit's own "
    "dataset hashes them all, as before."
    from emotion_omni_lite.config import set_field
    from emotion_omni_lite.stages import STAGES
    x = get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(_tones(tmp_path)), 'units.rate_hz': 25})
    h = lambda c: {n: stage_hash(n, c, 0) for n in STAGES}
    base = h(x)
    assert h(set_field(x, 'data.n_dialogues', 7)) == base
    for k, v in (('data.assistant_voice', 'en-us+f4'), ('data.prosody_jitter', 0.1)):
        got = h(set_field(x, k, v))
        assert got['data'] == base['data'] and all(got[n] != base[n] for n in STAGES if n != 'data'), k
    for k, v in (('data.heldout_sentence_frac', 0.3), ('data.n_test_voices', 1), ('audio.max_seconds', 5.0)):
        assert all(a != b for a, b in zip(h(set_field(x, k, v)).values(), base.values())), k
    kit = get_config('smoke')
    assert stage_hash('data', set_field(kit, 'data.n_dialogues', 7), 0) != stage_hash('data', kit, 0)


def test_an_external_dataset_follows_its_manifest_lines(tmp_path, monkeypatch):
    "A dataset of a manifest hashes its lines and the folder it lies in (its relative paths name files there): saved again with "
    "CRLF line ends it stays current; the same relative manifest in another folder (other recordings) is not taken for it; "
    "edited, it is named as changed, with the command that builds it again; moved away, as gone, with no --force to run; "
    "built by an earlier kit, as such. Nothing is deleted until asked."
    take1, take2 = tmp_path / 'take1', tmp_path / 'take2'
    m = _tones(take1.mkdir() or take1); _tones(take2.mkdir() or take2)
    wav(take2 / 'q1.wav', 0.3 * np.sin(2 * np.pi * 400 * T))                # another take of one query
    monkeypatch.chdir(take1)
    cfg = get_config('smoke', **{'units.kind': 'external', 'units.manifest': 'm.jsonl', 'units.rate_hz': 25})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    root = build_dataset(cfg, s)
    assert json.loads((root / 'build.json').read_text())['manifest_lines'] and stage_state('data', cfg, s) == 'done'
    m.write_bytes(m.read_bytes().replace(b'\n', b'\r\n'))                    # saved again by another editor
    (take2 / 'm.jsonl').write_bytes(m.read_bytes())                          # the very same bytes in take2
    assert stage_state('data', cfg, s) == 'done' and build_dataset(cfg, s) == root
    before = snapshot(tmp_path / 'data')
    monkeypatch.chdir(take2)
    assert stage_state('data', cfg, s) == 'other'
    with pytest.raises(StageMissing, match=rf"does not match this config .*: units\.manifest m\.jsonl changed since the build "
                                           rf"\(its lines, or the files its relative paths name; it was read at "
                                           rf"{re.escape(str(m.resolve()))}, it is {re.escape(str((take2 / 'm.jsonl').resolve()))} "
                                           r"now\): build it again with `.*eol run --preset smoke --stages data --force`"):
        require_stage('data', cfg, s)
    monkeypatch.chdir(take1)
    m.write_text(m.read_text().replace('raining again 1', 'snowing again 1'))   # a line edited
    with pytest.raises(StageMissing, match=r"units\.manifest m\.jsonl changed since the build \(its lines, or the files its "
                                           r"relative paths name\): build it again with `.*--force` \(it reads your manifest"):
        require_stage('data', cfg, s)
    with pytest.raises(ConfigError, match=r'already holds a dataset that does not match this config: units\.manifest m\.jsonl '
                                          r'changed since the build .*--stages data --force`'):
        build_dataset(cfg, s)
    m.rename(tmp_path / 'elsewhere.jsonl')
    with pytest.raises(StageMissing) as e: require_stage('data', cfg, s)
    assert f"units.manifest m.jsonl is gone (the dataset was built from {m.resolve()}): put it back, or point units.manifest to " \
           "where it is now. Nothing was trained." in str(e.value) and '--force' not in str(e.value)
    assert snapshot(tmp_path / 'data') == before                             # nothing rebuilt or deleted unasked
    (tmp_path / 'elsewhere.jsonl').rename(m); m.write_text(m.read_text().replace('snowing', 'raining'))   # as it was built
    assert stage_state('data', cfg, s) == 'done'
    info = json.loads((root / 'build.json').read_text())                   # as an earlier kit recorded it
    del info['manifest_lines']; info['config_hash'] = 'a1b2c3d4e5f6'; (root / 'build.json').write_text(json.dumps(info))
    with pytest.raises(StageMissing, match=r'built by an earlier version of the kit, which hashed the manifest.*--force'):
        require_stage('data', cfg, s)
    with pytest.raises(ConfigError, match=r'built by an earlier version of the kit'): build_dataset(cfg, s)
    build_dataset(cfg, s, force=True)
    assert stage_state('data', cfg, s) == 'done' and (take1 / 'q1.wav').exists()



def test_a_kit_build_never_deletes_recordings_you_bring(tmp_path, capsys):
    "The kit's own build with force=True over a dataset of your manifest deletes what the kit made there (its table and "
    "records) and says so; where files it was made from lie in the folder's audio/ (which the kit's build writes), it is "
    "refused and nothing is deleted, as is a plain build over such a dataset left unfinished."
    import shutil
    kit = get_config('smoke', **{'data.n_dialogues': 12})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), device='cpu')
    root = s.data_path; src = root / 'audio'; src.mkdir(parents=True)   # your recordings, kept in the dataset's folder
    build_dataset(get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(_tones(src)), 'units.rate_hz': 25}), s)
    said = (rf"holds a dataset of recordings you bring \(from {re.escape(str((src / 'm.jsonl').resolve()))}\), and the kit's own "
            rf"build would delete or write over its audio there, which hold files it was made from \(e\.g\. "
            rf"{re.escape(str((src / 'q0.wav').resolve()))}\)\. Move your files out of .*EOL_DATA_DIR=<folder>\. Nothing was deleted\.")
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError, match=said): build_dataset(kit, s, force=True)
    assert snapshot(tmp_path) == before
    info = json.loads((root / 'build.json').read_text())               # the same build, stopped before its table was saved
    (root / 'build.json').write_text(json.dumps({'status': 'building', 'config_hash': info['config_hash'], 'external': info['source']}))
    shutil.rmtree(root / 'dialogues')
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError, match=said.replace('a dataset', 'an unfinished build')): build_dataset(kit, s)
    assert snapshot(tmp_path) == before
    mine = tmp_path / 'mine'; mine.mkdir()                              # your recordings elsewhere: the kit's build goes on
    s2 = get_settings(preset='smoke', data_dir=str(tmp_path / 'data2'), device='cpu')
    build_dataset(get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(_tones(mine)), 'units.rate_hz': 25}), s2)
    yours = snapshot(mine); capsys.readouterr()
    build_dataset(kit, s2, force=True)
    assert f"force=True: deleted the dataset of {(mine / 'm.jsonl').resolve()} in {s2.data_path} (its table and records); the " \
           "recordings and token files it was made from are yours, and none was deleted" in capsys.readouterr().out
    assert snapshot(mine) == yours and stage_state('data', kit, s2) == 'done' and not (s2.data_path / 'sources.json').exists()


def test_recordings_kept_in_the_tables_folder_are_never_deleted_by_a_rebuild(tmp_path):
    "dialogues/ is the folder of the dataset's table, which a rebuild deletes whole: recordings you keep there are named "
    "and nothing is deleted, whether the rebuild is of your manifest (the fix the 'unknown build' refusal gives) or the kit's."
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), device='cpu')
    src = s.data_path / 'dialogues'; src.mkdir(parents=True)            # your recordings, where the table would go
    ext = get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(_tones(src)), 'units.rate_hz': 25})
    with pytest.raises(ConfigError, match='unknown'): build_dataset(ext, s)   # no record: refused, naming force=True
    before = snapshot(tmp_path)
    said = (rf"{re.escape(str(s.data_path))}/dialogues is where the kit keeps the dataset's table, and a rebuild deletes it, "
            rf"but it holds 9 of your files \(e\.g\. {re.escape(str((src / 'q0.wav').resolve()))}\)\. Move them out .*Nothing was deleted\.")
    with pytest.raises(ConfigError, match=said): build_dataset(ext, s, force=True)
    assert snapshot(tmp_path) == before


def test_a_dataset_of_your_manifest_over_the_kits_own_takes_the_kits_speech_away(tmp_path):
    "units.kind='external' with force=True over the kit's own build deletes the kit's speech, units and manifest.jsonl "
    "too (left, they would be counted in the dataset's size, and stale), but not a folder that holds files of the manifest."
    def kit_build(root):                                                # a finished build of the kit's own, as force finds it
        for n in ('audio/query/000/d000000.wav', 'units/units.json', 'manifest.jsonl', 'dialogues/state.json'):
            (root / n).parent.mkdir(parents=True, exist_ok=True); (root / n).write_text('made by the kit')
        (root / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': 'old', 'preset': 'smoke', 'seed': 0}))
    external = lambda m: get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(m), 'units.rate_hz': 25})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), device='cpu')
    kit_build(s.data_path); mine = tmp_path / 'mine'; mine.mkdir()
    build_dataset(external(_tones(mine)), s, force=True)
    assert sorted(p.name for p in s.data_path.iterdir()) == ['build.json', 'dialogues', 'sources.json']
    s2 = get_settings(preset='smoke', data_dir=str(tmp_path / 'data2'), device='cpu')
    kit_build(s2.data_path); inside = s2.data_path / 'audio' / 'mine'; inside.mkdir()   # your files among the kit's speech
    build_dataset(x := external(_tones(inside)), s2, force=True)
    assert sorted(p.name for p in s2.data_path.iterdir()) == ['audio', 'build.json', 'dialogues', 'sources.json']
    assert (s2.data_path / 'audio' / 'query' / '000' / 'd000000.wav').exists() and stage_state('data', x, s2) == 'done'


def test_a_reused_dataset_of_your_manifest_is_checked_against_the_window_the_encoders_hear(tmp_path):
    "The semantic encoder's window is no part of the data's hash: a dataset of your manifest reused under a narrower one "
    "is refused, naming its recordings and the fixes; nothing is changed."
    src = tmp_path / 'mine'; src.mkdir()
    kw = {'units.kind': 'external', 'units.manifest': str(_tones(src)), 'units.rate_hz': 25}
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), device='cpu')
    build_dataset(get_config('smoke', **kw), s)
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError, match=r"holds a finished dataset whose queries the encoders would not hear whole: 3 spoken "
                                          r"queries are longer than the 0\.5 s the encoders hear .*hear them cut: "
                                          rf"{re.escape(str((src / 'q0.wav').resolve()))} \(1\.00 s\).*Widen "
                                          r"semantic_encoder\.max_source_positions again .*cut those recordings at a pause"):
        build_dataset(get_config('smoke', **kw, **{'semantic_encoder.max_source_positions': 25}), s)
    assert snapshot(tmp_path) == before


def test_a_build_of_another_config_is_refused_from_its_record_alone(tmp_path, monkeypatch):
    "Not forcing, a folder that holds another config's build is refused before the plan is made: no TTS engine started, "
    "no recording of a manifest read."
    from emotion_omni_lite import dataset
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), device='cpu')
    s.data_path.mkdir(parents=True); (s.data_path / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': 'old'}))
    src = tmp_path / 'mine'; src.mkdir()
    x = get_config('smoke', **{'units.kind': 'external', 'units.manifest': str(_tones(src)), 'units.rate_hz': 25})
    def planned(*a, **k): raise AssertionError('planned before the record was read')
    monkeypatch.setattr(dataset, 'plan_dialogues', planned); monkeypatch.setattr(dataset, 'external_rows', planned)
    for cfg in (get_config('smoke'), x):
        with pytest.raises(ConfigError, match='already holds a dataset built with another config'): build_dataset(cfg, s)


def test_a_voice_held_out_on_a_line_of_a_new_sentence_is_told_to_hold_out_that_sentence(tmp_path):
    "A manifest split per line (test: a held-out voice and sentence) whose held-out line's speaker trains elsewhere is told "
    "it may name that line test_sentence, as a sentence held out is told of test_voice; so named, it is read."
    cfg = get_config('smoke', **{'units.rate_hz': 25})
    lines = lambda first: [{'split': first, 'voice': 'v0'}, {'split': 'train', 'voice': 'v0'}, {'split': 'train', 'voice': 'v1'}]
    with pytest.raises(ConfigError, match=r"line 2: its voice 'v0' is held out on line 1, and this line trains on it: if only "
                                          r"line 1's sentence is new, name line 1 test_sentence; else give every line"):
        external_rows(cfg, _dialogues(tmp_path, lines('test')))
    assert [r['split'] for r in external_rows(cfg, _dialogues(tmp_path, lines('test_sentence')))] == ['test_sentence', 'train', 'train']


def test_rows_of_blank_cells_a_spreadsheet_adds_are_no_lines(tmp_path):
    "',,,,,,' rows at the end of a spreadsheet's export are skipped, as blank JSON lines are, not refused as dialogues."
    from emotion_omni_lite.dataset import read_manifest
    f = tmp_path / 'm.csv'
    f.write_text(MANIFEST_COLUMNS + '\nq.wav,Hi.,happy,r.wav,Oh!,happy,r.json\n,,,,,,\n , ,,,,,\n\n,,,\n')
    assert [r['_line'] for r in read_manifest(f)] == [2]
    f.write_text(MANIFEST_COLUMNS + '\n,,,,,,\n')
    with pytest.raises(ConfigError, match='lists no dialogues'): read_manifest(f)


def test_the_setup_and_test_scripts_name_what_stops_them(tmp_path):
    "scripts/setup.sh before it installs anything: a .venv whose Python was removed is made again, and kept until a Python can make it: a missing or older Python and a read-only copy are named with the fix; a .venv whose `python -m venv` was stopped (marked while it is made) is made again, not refused as one without pip; while it installs, only a pinned version with no release goes unpinned (no index reached, a full disk: named, with pip's last lines). scripts/test.sh without git in a checkout fails, named; one git refuses to read says so, in git's words, and runs the tests (a CI's checkout of another owner); a repository with no commit yet skips that check."
    import shutil, subprocess
    root = Path(__file__).parents[1]
    kit = tmp_path / 'kit with spaces'; (kit / 'scripts').mkdir(parents=True)
    shutil.copy(root / 'scripts' / 'setup.sh', kit / 'scripts')
    (kit / '.venv' / 'bin').mkdir(parents=True); (kit / '.venv' / 'bin' / 'python').symlink_to('/nonexistent/python3.9')
    old = tmp_path / 'python3.9'
    old.write_text('#!/bin/sh\nif [ "$1" = --version ]; then echo "Python 3.9.6"; exit 0; fi\nexit 1\n'); old.chmod(0o755)
    run = lambda py: subprocess.run(['bash', str(kit / 'scripts' / 'setup.sh'), 'run'], env={**os.environ, 'PYTHON': py},
                                    capture_output=True, text=True, timeout=60)
    r = run(str(tmp_path / 'nowhere'))
    assert r.returncode == 1 and "is gone: .venv is to be made again, and is kept" in r.stderr and 'making' not in r.stdout, r
    assert f"no Python found at '{tmp_path / 'nowhere'}'" in r.stderr and (kit / '.venv' / 'bin' / 'python').is_symlink(), r
    r = run(str(old))
    assert r.returncode == 1 and 'is Python 3.9.6; the kit needs Python 3.11 or newer' in r.stderr and 'PYTHON=' in r.stderr, r
    assert os.listdir(kit / '.venv' / 'bin') == ['python']                # kept, nothing made with it
    shutil.rmtree(kit / '.venv'); (kit / '.venv' / 'bin').mkdir(parents=True)   # a .venv whose making was stopped: no pip, no record,
    fake = kit / '.venv' / 'bin' / 'python'                              # no packages (a Python that starts, but holds no pip)
    fake.write_text('#!/bin/sh\ncase "$*" in "-m pip --version") exit 1;; *python%d.%d*) echo python3.11;; esac\nexit 0\n')
    fake.chmod(0o755); (kit / '.venv' / 'lib' / 'python3.11' / 'site-packages').mkdir(parents=True)
    r = run(str(tmp_path / 'nowhere'))                                   # no Python to make it again with: kept, refused
    assert r.returncode == 1 and 'no pip' in r.stderr and (kit / '.venv').exists(), r
    new = tmp_path / 'python3.11'                                        # one that runs but cannot make a venv here
    new.write_text('#!/bin/sh\ncase "$*" in *ensurepip*) exit 1;; --version) echo Python 3.11.0;; esac\nexit 0\n'); new.chmod(0o755)
    r = run(str(new))                                                    # empty, but made again only by a Python that can
    assert r.returncode == 1 and 'holds no packages and no pip' in r.stderr and 'cannot make a virtual environment' in r.stderr, r
    assert fake.exists() and 'making' not in r.stdout, r
    fake.write_text(fake_text := '#!/bin/sh\ncase "$*" in "-m pip --version") exit 1;; '
                                                                 '*python%d.%d*) echo python3.11;; esac\nexit 0\n')
    fake.chmod(0o755); (kit / '.venv' / 'lib' / 'python3.11' / 'site-packages' / 'mine').mkdir(parents=True)
    r = run(str(new))                                                    # packages in it (made by uv or --without-pip): kept
    assert r.returncode == 1 and 'no pip' in r.stderr and (kit / '.venv' / 'lib' / 'python3.11' / 'site-packages' / 'mine').exists(), r
    fake.write_text(fake_text.replace('echo python3.11', 'echo python3.12'))   # its Python upgraded in place
    r = run(str(new))
    assert r.returncode == 1 and 'upgraded in place' in r.stderr and (kit / '.venv').exists(), r
    shutil.rmtree(kit / '.venv'); able = tmp_path / 'able' / 'python3.11'; able.parent.mkdir()   # a Python that makes .venv
    able.write_text('#!/bin/sh\ncase "$*" in *ensurepip*|*sys.version_info*) exit 0;; --version) echo Python 3.11.0; exit 0;;\n'
                    '  "-m venv"*) mkdir -p .venv/bin .venv/lib/python3.11/site-packages/setuptools\n'   # setuptools in, then
                    '    cp "$(dirname "$0")/made" .venv/bin/python; [ ! -f "$(dirname "$0")/stop" ] || exit 130; exit 0;; esac\nexit 1\n')   # stopped
    able.chmod(0o755); (able.parent / 'made').write_text(fake_text.replace('esac', '*platform.system*) exit 0;; esac'))
    (able.parent / 'made').chmod(0o755); (able.parent / 'stop').touch()   # what it made says Intel Mac: the run stops there
    r = run(str(able))                                                   # stopped with setuptools in, pip not yet: marked
    assert r.returncode == 130 and (kit / '.venv' / '.eol-making').exists() and not (kit / '.venv' / '.eol-home').exists(), r
    r = run(str(new))                                                    # no Python to make it again with: kept, named
    assert r.returncode == 1 and 'was stopped before it finished: .venv is to be made again, and is kept' in r.stderr, r
    assert 'cannot make a virtual environment' in r.stderr and 'no pip' not in r.stderr, r
    assert (kit / '.venv' / '.eol-making').exists() and (kit / '.venv' / 'lib' / 'python3.11' / 'site-packages' / 'setuptools').exists(), r
    (able.parent / 'stop').unlink(); r = run(str(able))                  # made again, not refused for its missing pip
    assert f"was stopped before it finished: making .venv again with {able}" in r.stdout and 'no pip' not in r.stderr, r
    assert r.returncode == 1 and 'Intel (x86_64)' in r.stderr and not (kit / '.venv' / '.eol-making').exists(), r
    assert (kit / '.venv' / '.eol-home').exists(), r

    import tempfile                                                      # a read-only copy (root writes anywhere: run as nobody,
    ro = Path(tempfile.mkdtemp(dir='/tmp')).resolve(); ro.chmod(0o755)  # outside tmp_path, which is its owner's alone)
    try:
        shutil.copytree(kit / 'scripts', ro / 'read only' / 'scripts'); (ro / 'read only').chmod(0o555)
        r = subprocess.run(['bash', str(ro / 'read only' / 'scripts' / 'setup.sh'), 'run'], capture_output=True, text=True,
                           timeout=60, **({'user': 65534, 'group': 65534, 'extra_groups': []} if os.geteuid() == 0 else {}))
        assert r.returncode == 1 and f"[setup] {ro / 'read only'} cannot be written: copy the kit to a folder you can write" in r.stderr, r
        assert [p.name for p in (ro / 'read only').iterdir()] == ['scripts']
    finally: (ro / 'read only').chmod(0o755); shutil.rmtree(ro)

    shutil.rmtree(kit / '.venv'); shutil.copy(root / 'constraints.txt', kit)   # a .venv without torch yet, whose pip fails
    (kit / '.venv' / 'bin').mkdir(parents=True); (kit / '.venv' / 'lib' / 'python3.11').mkdir(parents=True)
    (kit / '.venv' / '.eol-home').write_text(str(kit.resolve()))         # saying what `pip-says` holds
    fake.write_text('#!/bin/sh\ncase "$*" in *platform.system*|*"import torch, torchaudio"*) exit 1;; *"pip install"*) cat '
                    '"$(dirname "$0")/pip-says" >&2; exit 1;; *python%d.%d*) echo python3.11;; *tomllib*) echo "{}";; esac\nexit 0\n')
    fake.chmod(0o755); (tmp := tmp_path / 'tmp').mkdir()
    env = {**{k: v for k, v in os.environ.items() if k != 'PYTHON'}, 'PIP_INDEX_URL': 'http://127.0.0.1:9/simple', 'TMPDIR': str(tmp)}
    def install(says):
        (kit / '.venv' / 'bin' / 'pip-says').write_text(says); (kit / '.venv' / '.eol-loose').unlink(missing_ok=True)
        return subprocess.run(['bash', str(kit / 'scripts' / 'setup.sh'), 'run'], env=env, capture_output=True, text=True, timeout=60)
    refused = ("WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by "
               "'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f5ee7034890>: Failed to establish "
               "a new connection: [Errno 111] Connection refused')': /simple/torch/\n")
    missing = "ERROR: Cannot install torch==2.11.0 because these package versions have conflicting dependencies.\nERROR: ResolutionImpossible\n"
    r = install(refused + missing)                                       # no index reached (a cold cache, offline): that
    assert r.returncode == 1 and 'uv did not install' in r.stdout and 'Connection refused' in r.stdout, r   # is said, not a
    assert 'pip could not reach the package index' in r.stderr and 'ERROR: ResolutionImpossible' in r.stderr, r   # missing release
    assert 'PIP_INDEX_URL, now http://127.0.0.1:9/simple' in r.stderr and 'newest compatible' not in r.stdout, r
    assert not (kit / '.venv' / '.eol-loose').exists() and not list(tmp.glob('eol-setup.??????')), r
    r = install('ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n')   # a full disk
    assert r.returncode == 1 and 'No space left on device' in r.stderr.split("pip's last lines:")[1] and 'newest' not in r.stdout, r
    assert not (kit / '.venv' / '.eol-loose').exists(), r
    r = install(missing)                                                 # the index answers without the pinned version
    assert 'no release for' in r.stdout and 'newest compatible versions instead' in r.stdout, r
    assert (kit / '.venv' / '.eol-loose').exists() and r.returncode == 1 and 'the install failed (pip' in r.stderr, r   # (fails too)

    t = tmp_path / 'tests'; (t / 'scripts').mkdir(parents=True); (t / 'nbs').mkdir(); (t / '.venv' / 'bin').mkdir(parents=True)
    shutil.copy(root / 'scripts' / 'test.sh', t / 'scripts'); (t / 'scripts' / 'setup.sh').write_text('exit 0\n')
    for n in ('python', 'nbdev-test'): (t / '.venv' / 'bin' / n).write_text('#!/bin/sh\nexit 0\n'); (t / '.venv' / 'bin' / n).chmod(0o755)
    (b := tmp_path / 'bin').mkdir()                                      # scripts/test.sh on a machine without git: a PATH
    for f in (f for d in os.environ['PATH'].split(os.pathsep) if os.path.isdir(d) for f in Path(d).iterdir()):   # of every
        if f.name != 'git' and not (b / f.name).exists(): (b / f.name).symlink_to(f)                       # command but git
    test = lambda: subprocess.run([shutil.which('bash'), str(t / 'scripts' / 'test.sh')], env={**os.environ, 'PATH': str(b)},
                                  capture_output=True, text=True, timeout=60)
    (t / '.git').mkdir()                                                 # a checkout: its check cannot run, and that fails
    r = test()
    assert r.returncode == 1 and 'FAILED: git is not installed' in r.stdout and 'skipped' not in r.stdout, r
    (g := tmp_path / 'refusing').mkdir(); (g / 'git').write_text(       # git refusing the checkout (owned by another user)
        '#!/bin/sh\necho "fatal: detected dubious ownership in repository at \'$PWD\'" >&2\n'
        'printf "To add an exception for this directory, call:\\n\\n\\tgit config --global --add safe.directory %s\\n" "$PWD" >&2\n'
        'exit 128\n'); (g / 'git').chmod(0o755)
    r = subprocess.run([shutil.which('bash'), str(t / 'scripts' / 'test.sh')], env={**os.environ, 'PATH': f'{g}{os.pathsep}{b}'},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and 'NOT COMPARED: git cannot read this checkout' in r.stdout and 'skipped' not in r.stdout, r
    assert f'git config --global --add safe.directory {t}' in r.stdout, r
    (t / '.git').rmdir()                                                 # a download without .git: skipped, as it should be
    r = test()
    assert r.returncode == 0 and 'skipped: not a git checkout' in r.stdout, r
    if shutil.which('git'):                                              # a repository with no commit yet: skipped too
        subprocess.run(['git', 'init', '-q', str(t)], check=True)
        r = subprocess.run([shutil.which('bash'), str(t / 'scripts' / 'test.sh')], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and 'skipped: not a git checkout with a commit' in r.stdout and 'FAILED' not in r.stdout, r


def _ready_venv(kit, cases=''):
    "A .venv in `kit` that answers setup.sh as a finished install does: its Python a shell script that logs each call to .venv/calls and, as a real one, does not start under another install's PYTHONHOME or PYTHONPATH (`cases` answer first)."
    (kit / '.venv' / 'lib' / 'python3.11').mkdir(parents=True); (kit / '.venv' / '.eol-home').write_text(str(kit.resolve()) + '\n')
    py = kit / '.venv' / 'bin' / 'python'; py.parent.mkdir()
    py.write_text('#!/bin/sh\necho "$*" >> "$(dirname "$0")/../calls"\n[ -z "$PYTHONHOME$PYTHONPATH" ] || exit 1\ncase "$*" in\n'
                  f'{cases}\n  *platform.system*) exit 1;;\n  *python%d.%d*) echo python3.11;;\n  *tomllib*) echo "{{}}";;\n'
                  "  *transformers.__version__*) echo 'torch 2.11.0 | transformers 5 | emotion_omni_lite 0';;\nesac\nexit 0\n")
    py.chmod(0o755)


def _ready_kit(tmp_path, cases=''):
    "A kit with its scripts and a ready .venv (`_ready_venv`); python3 on PATH refuses, so nothing real is ever made. → (kit, env)."
    import shutil
    root = Path(__file__).parents[1]
    kit = tmp_path / 'kit'; (kit / 'scripts').mkdir(parents=True); shutil.copy(root / 'constraints.txt', kit)
    for f in ('setup.sh', 'main.sh'): shutil.copy(root / 'scripts' / f, kit / 'scripts')
    _ready_venv(kit, cases)
    (b := tmp_path / 'bin').mkdir(); (b / 'python3').write_text('#!/bin/sh\nexit 1\n'); (b / 'python3').chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHON', 'PYTHONHOME', 'PYTHONPATH', 'CXX', 'EOL_INSTALLER')}
    return kit, {**env, 'PATH': f"{b}{os.pathsep}{os.environ['PATH']}", 'TMPDIR': str(tmp_path)}


def test_the_setup_reads_no_python_settings_from_the_shell_and_fetches_nothing_when_all_is_installed(tmp_path):
    "A PYTHONHOME or PYTHONPATH in the shell (another install's) is set aside by setup.sh and main.sh: a ready .venv stays, and is used; a run with nothing to install does not fetch uv (offline, that would wait on the network)."
    import subprocess
    kit, env = _ready_kit(tmp_path)
    setup = lambda **e: subprocess.run(['bash', str(kit / 'scripts' / 'setup.sh'), 'run'], env={**env, **e}, capture_output=True,
                                       text=True, timeout=60)
    r = setup(EOL_INSTALLER='pip')                                       # installed by pip: no uv in .venv
    assert r.returncode == 0 and (kit / '.venv' / '.eol-installed-check').exists() and not (kit / '.venv' / 'bin' / 'uv').exists(), r
    (calls := kit / '.venv' / 'calls').unlink()
    r = setup()                                                          # all there: uv (the default installer) not fetched
    assert r.returncode == 0 and '[setup] ready: torch 2.11.0' in r.stdout and 'pip install' not in calls.read_text(), r
    import shutil                                                        # the lock two set-ups share is the checkout's own
    assert not shutil.which('flock') or ((kit / '.eol-setup.lock').exists() and not list(tmp_path.glob('*.lock')))
    assert '/.eol-setup.lock' in (Path(__file__).parents[1] / '.gitignore').read_text().splitlines()
    other = {'PYTHONHOME': str(tmp_path / 'another'), 'PYTHONPATH': str(tmp_path / 'another')}
    r = setup(**other)
    assert r.returncode == 0 and '[setup] ready' in r.stdout and 'making' not in r.stdout + r.stderr, r
    assert 'UNPINNED' not in r.stdout, r                                 # every pin as installed: nothing to say
    drifted, denv = _ready_kit(tmp_path / 'drifted', "  *importlib.metadata*) echo 'torch 2.12.0 (pinned 2.11.0)';;")
    for _ in range(2):                                                   # installed (pinned), then a pin changed by hand since:
        r = subprocess.run(['bash', str(drifted / 'scripts' / 'setup.sh'), 'run'], env={**denv, 'EOL_INSTALLER': 'pip'},
                           capture_output=True, text=True, timeout=60)   # ready, and said
    assert r.returncode == 0 and '[setup] ready' in r.stdout, r
    assert 'UNPINNED: changed since the pinned install' in r.stdout and 'torch 2.12.0 (pinned 2.11.0)' in r.stdout, r
    assert 'rm .venv/.eol-installed-*; bash' in r.stdout, r
    assert (kit / '.venv' / '.eol-installed-check').exists()
    eol = kit / '.venv' / 'bin' / 'eol'                                  # main.sh's own calls too
    eol.write_text('#!/bin/sh\n[ -z "$PYTHONHOME$PYTHONPATH" ] || exit 1\necho "eol $*" >> "$(dirname "$0")/../calls"\n'); eol.chmod(0o755)
    r = subprocess.run(['bash', str(kit / 'scripts' / 'main.sh'), '--preset', 'smoke'], env={**env, **other}, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and 'eol run --guards --preset smoke' in calls.read_text(), r


def test_the_setup_makes_venv_again_with_the_python_it_was_made_with_and_keeps_it_until_a_python_can(tmp_path):
    "A moved checkout's .venv is made again with the Python its pyvenv.cfg names (venv's `executable`, or uv's `home` and `version_info`) when PYTHON is not set and that Python is there, not with whatever python3 is; with no Python able to make it, .venv is kept, with the fix."
    import shutil, subprocess
    kit, env = _ready_kit(tmp_path)
    mine = kit / '.venv' / 'lib' / 'python3.11' / 'site-packages' / 'mine'; mine.mkdir(parents=True)
    (kit / '.venv' / '.eol-home').write_text('/where/it/was\n')         # a moved checkout
    its = tmp_path / 'its python' / 'python3.11'; its.parent.mkdir()
    its.write_text('#!/bin/sh\necho "$0 $*" >> "$(dirname "$0")/calls"\ncase "$*" in *platform.system*) exit 1;; "-m venv"*) exit 3;; '
                   '--version) echo Python 3.11.7;; esac\nexit 0\n'); its.chmod(0o755)
    setup = lambda **e: subprocess.run(['bash', str(kit / 'scripts' / 'setup.sh'), 'run'], env={**env, **e}, capture_output=True,
                                       text=True, timeout=60)
    (kit / '.venv' / 'pyvenv.cfg').write_text(f'home = {tmp_path}/gone\nversion = 3.11.7\nexecutable = {tmp_path}/gone/python3.11\n')
    r = setup()                                                          # the Python it was made with is gone, python3 refuses
    assert r.returncode == 1 and 'was made in /where/it/was' in r.stderr and 'is kept as it is until a Python can make it' in r.stderr, r
    assert 'python3 is' in r.stderr and 'making' not in r.stdout and mine.exists(), r
    r = setup(PYTHON=str(tmp_path / 'nowhere'))                          # one named that is not there: kept
    assert r.returncode == 1 and f"no Python found at '{tmp_path / 'nowhere'}'" in r.stderr and mine.exists(), r
    for cfg in (f'home = /usr/bin\nversion = 3.11.7\nexecutable = {its}\n', f'home = {its.parent}\nversion_info = 3.11.7\n'):
        if not (kit / '.venv' / 'bin').exists():
            shutil.rmtree(kit / '.venv'); _ready_venv(kit); (kit / '.venv' / '.eol-home').write_text('/where/it/was\n')
        (kit / '.venv' / 'pyvenv.cfg').write_text(cfg); (its.parent / 'calls').unlink(missing_ok=True)
        r = setup()                                                      # its own Python, found able: made again with it
        assert r.returncode == 3 and f'its programs point there: making .venv again with {its}' in r.stdout, r
        assert f'{its} -m venv .venv' in (its.parent / 'calls').read_text(), r   # the old one removed; the new one, stopped,
        assert os.listdir(kit / '.venv') == ['.eol-making'], r                  # marked as such


def test_the_setup_runs_a_compiler_named_with_its_options(tmp_path):
    "CXX holding a command and its words (`ccache g++`, `g++ -O2`) is run word by word, as setuptools runs it, not taken for a missing compiler: what is missing is named alone."
    import subprocess
    kit, env = _ready_kit(tmp_path, cases='  *pyworld*|*Python.h*) exit 1;;')
    cc = tmp_path / 'bin' / 'mycc'; cc.write_text('#!/bin/sh\n[ "$1" = -O2 ] && [ "$2" = -x ] || exit 1\ncat > /dev/null\n'); cc.chmod(0o755)
    r = subprocess.run(['bash', str(kit / 'scripts' / 'setup.sh'), 'run'], env={**env, 'CXX': 'mycc -O2'}, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "needs Python's headers (Python.h):" in r.stderr and 'compiler' not in r.stderr, r
    r = subprocess.run(['bash', str(kit / 'scripts' / 'setup.sh'), 'run'], env={**env, 'CXX': 'mycc -O3'}, capture_output=True,
                       text=True, timeout=60)                           # one that does not compile: named
    assert r.returncode == 1 and "needs a C++ compiler and Python's headers (Python.h):" in r.stderr, r


def test_the_test_script_in_a_folder_of_a_larger_repository_keeps_a_hand_edit_and_names_what_the_tools_changed(tmp_path):
    "scripts/test.sh with the kit in a folder of a larger git repository: a package file edited by hand is copied aside and put back, named, though git names it from the repository's top, and what the tools changed beside it is named too; a notebook saved after running it (execution counts that nbdev-clean removes) fails the run, named from the kit's folder, and the next run passes. A PYTHONHOME or PYTHONPATH in the shell is set aside."
    import shutil, subprocess
    if shutil.which('git') is None: pytest.skip('git is not installed')
    top = tmp_path / 'larger'; kit = top / 'kit'; root = Path(__file__).parents[1]
    for d in ('scripts', 'nbs', 'emotion_omni_lite', '.venv/bin'): (kit / d).mkdir(parents=True)
    shutil.copy(root / 'scripts' / 'test.sh', kit / 'scripts'); (kit / 'scripts' / 'setup.sh').write_text('exit 0\n')
    off = '#!/bin/sh\n[ -z "$PYTHONHOME$PYTHONPATH" ] || exit 1\n'          # as a real .venv program would not start
    tools = {'python': '', 'nbdev-test': '', 'nbdev-export': "printf 'exported\\n' > emotion_omni_lite/core.py\n",
             'nbdev-clean': "sed 's/\"execution_count\": 1/\"execution_count\": null/' nbs/a.ipynb > a.tmp && mv a.tmp nbs/a.ipynb\n"}
    for n, body in tools.items(): (kit / '.venv' / 'bin' / n).write_text(off + body); (kit / '.venv' / 'bin' / n).chmod(0o755)
    (kit / 'emotion_omni_lite' / 'core.py').write_text('exported\n'); (kit / 'nbs' / 'a.ipynb').write_text('{"execution_count": null}\n')
    (top / '.gitignore').write_text('.venv/\n')
    git = lambda *a: subprocess.run(['git', '-C', str(top), '-c', 'user.name=k', '-c', 'user.email=k@k', *a], check=True,
                                    capture_output=True)
    git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'kit')
    env = {**os.environ, 'PYTHONHOME': str(tmp_path / 'another'), 'PYTHONPATH': str(tmp_path / 'another')}
    test = lambda: subprocess.run(['bash', str(kit / 'scripts' / 'test.sh')], env=env, capture_output=True, text=True, timeout=60)
    r = test()
    assert r.returncode == 0 and 'ok' in r.stdout.splitlines(), r
    (kit / 'emotion_omni_lite' / 'core.py').write_text('mine\n')         # an edit made to the package file alone
    r = test()
    assert r.returncode == 1 and 'FAILED: emotion_omni_lite/core.py changed here' in r.stdout, r
    assert (kit / 'emotion_omni_lite' / 'core.py').read_text() == 'mine\n'
    git('checkout', '--', '.'); (kit / 'nbs' / 'a.ipynb').write_text('{"execution_count": 1}\n')   # saved after running it
    r = test()
    assert r.returncode == 1 and 'changed what these held before this run: nbs/a.ipynb\n' in r.stdout, r
    assert 'kit/nbs' not in r.stdout and (kit / 'nbs' / 'a.ipynb').read_text() == '{"execution_count": null}\n', r
    r = test()                                                           # what they wrote stands: the next run passes
    assert r.returncode == 0 and 'ok' in r.stdout.splitlines(), r
    (kit / 'emotion_omni_lite' / 'core.py').write_text('mine\n'); (kit / 'nbs' / 'a.ipynb').write_text('{"execution_count": 1}\n')
    r = test()                                                           # both in one run: each named
    assert r.returncode == 1 and 'FAILED: emotion_omni_lite/core.py changed here' in r.stdout, r
    assert 'changed what these held before this run: nbs/a.ipynb\n' in r.stdout and 'ok' not in r.stdout.splitlines(), r
    assert (kit / 'emotion_omni_lite' / 'core.py').read_text() == 'mine\n', r
    assert (kit / 'nbs' / 'a.ipynb').read_text() == '{"execution_count": null}\n', r


def test_the_test_script_puts_a_hand_edit_back_when_stopped_while_the_tools_run(tmp_path):
    "scripts/test.sh stopped (Ctrl-C, kill) while nbdev-export runs: the package file edited by hand is put back as it was, named, and its copy in the temporary folder removed, not left there as its only copy."
    import shutil, subprocess
    if shutil.which('git') is None: pytest.skip('git is not installed')
    kit = tmp_path / 'kit'; root = Path(__file__).parents[1]
    for d in ('scripts', 'nbs', 'emotion_omni_lite', '.venv/bin'): (kit / d).mkdir(parents=True)
    shutil.copy(root / 'scripts' / 'test.sh', kit / 'scripts'); (kit / 'scripts' / 'setup.sh').write_text('exit 0\n')
    for n in ('python', 'nbdev-test', 'nbdev-clean'): (kit / '.venv' / 'bin' / n).write_text('#!/bin/sh\nexit 0\n')
    core = kit / 'emotion_omni_lite' / 'core.py'; core.write_text('exported\n'); (kit / '.gitignore').write_text('.venv/\n')
    git = lambda *a: subprocess.run(['git', '-C', str(kit), '-c', 'user.name=k', '-c', 'user.email=k@k', *a], check=True,
                                    capture_output=True)
    git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'kit')
    (tmp := tmp_path / 'tmp').mkdir()
    for how, code in (('kill -INT 0', 130), ('kill -TERM $PPID', 143)):   # Ctrl-C reaches the whole group; kill the script
        (kit / '.venv' / 'bin' / 'nbdev-export').write_text(f"#!/bin/sh\nprintf 'exported\\n' > emotion_omni_lite/core.py\n{how}\n")
        for n in os.listdir(kit / '.venv' / 'bin'): (kit / '.venv' / 'bin' / n).chmod(0o755)
        core.write_text('mine\n')                                       # an edit made to the package file alone
        r = subprocess.run(['bash', str(kit / 'scripts' / 'test.sh')], env={**os.environ, 'TMPDIR': str(tmp)}, capture_output=True,
                           text=True, timeout=60, process_group=0)   # its own group, as a terminal's job
        assert r.returncode == code and core.read_text() == 'mine\n' and not os.listdir(tmp), (how, r)
        assert 'stopped: put back as you left them, package files edited by hand: emotion_omni_lite/core.py' in r.stderr, r


def test_ci_says_why_the_browser_and_resampler_tests_may_skip(tmp_path):
    "`.ci/run` where it cannot install Debian's chromium, nodejs or a missing compiler (not root, or no apt-get) says so, and goes on to the tests."
    import shutil, subprocess
    kit = tmp_path / 'kit'; (kit / '.ci').mkdir(parents=True); (kit / 'scripts').mkdir()
    shutil.copy(Path(__file__).parents[1] / '.ci' / 'run', kit / '.ci'); (kit / 'scripts' / 'test.sh').write_text('echo tested\n')
    (b := tmp_path / 'bin').mkdir()                                      # a PATH of every command but apt-get, chromium, node, c++
    for f in (f for d in os.environ['PATH'].split(os.pathsep) if os.path.isdir(d) for f in Path(d).iterdir()):
        if f.name not in ('apt-get', 'chromium', 'node', 'c++') and not (b / f.name).exists(): (b / f.name).symlink_to(f)
    r = subprocess.run([shutil.which('bash'), str(kit / '.ci' / 'run')], capture_output=True, text=True, timeout=60,
                       env={**os.environ, 'PATH': str(b), 'EOL_CHROMIUM': str(tmp_path / 'no-chromium')})   # the browser tests'
    why = 'there is no apt-get' if os.geteuid() == 0 else 'this runs as '
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == 'tested', r
    assert f'[ci] chromium is not installed, and this installs it only as root with apt-get ({why}' in r.stdout, r
    assert 'browser tests will be skipped' in r.stdout and "[ci] nodejs is not installed" in r.stdout, r
    assert f'[ci] missing build-essential, and this installs them only as root with apt-get ({why}' in r.stdout, r


def _fake_run(name, c, s, weight=1.0):
    "A finished run of stage `name`, as `run_stage` would leave it, learning from the finished runs before it."
    from emotion_omni_lite.stages import upstream_runs
    f = start_run(stage_folder(name, s), c, stage_hash(name, c, s.seed), upstream=upstream_runs(name, c, s))
    save_weights({'w': torch.full((4,), weight)}, f / 'model.safetensors')
    return finish_run(f, {'loss': 0.1})


def test_a_run_that_learned_from_a_run_trained_again_since_is_not_current(tmp_path, capsys):
    "The ASR trained again (here: new weights under the same settings): stage 1 and stage 2, which learned from the old one, are named as such, with the command, their caches are renamed, and the training that replaces them says so."
    from emotion_omni_lite.stages import retrained_upstream, run_digest, stages_needed
    from emotion_omni_lite.stage2 import _cache_name
    c, s, _ = _finished_vocoder(tmp_path)
    for n in ('asr', 'emotion_encoder', 'text_llm', 'stage1', 'stage2'): _fake_run(n, c, s)
    assert {n: stage_state(n, c, s) for n in ('stage1', 'stage2')} == {'stage1': 'done', 'stage2': 'done'}
    names, digest = (_features_name(c, s), _cache_name(c, s)), run_digest('asr', s)
    assert run_digest('asr', s) in names[0]
    _fake_run('asr', c, s, weight=2.0)                                  # trained again: the same settings, other weights
    assert run_digest('asr', s) != digest and stage_state('asr', c, s) == 'done'
    assert stage_state('stage1', c, s) == 'retrained' and retrained_upstream('stage1', s) == ['asr']
    assert stage_state('stage2', c, s) == 'retrained' and retrained_upstream('stage2', s) == ['asr']   # further up
    assert stages_needed(['stage2'], c, s) == ['stage1', 'stage2']
    assert _features_name(c, s) != names[0]                           # the features are encoded again
    before = snapshot(tmp_path)
    with pytest.raises(StageMissing, match=r"(?s)stage 'stage1' .* learned from the stages before it as they were then "
                                           r"\(asr trained again since\).*--stages stage1 .*replaces the run that learned from the old runs"):
        require_stage('stage1', c, s)
    assert snapshot(tmp_path) == before                                # … and touched nothing
    _fake_run('stage1', c, s, weight=4.0)                              # trained again on the new ASR
    assert 'replacing the finished run in' in (said := capsys.readouterr().out) and 'trained again since' in said
    assert stage_state('stage1', c, s) == 'done' and _cache_name(c, s) != names[1]
    assert stage_state('stage2', c, s) == 'retrained' and retrained_upstream('stage2', s) == ['stage1']
    (stage_folder('stage1', s) / 'config.json').write_text(json.dumps({**json.loads((stage_folder('stage1', s) / 'config.json').read_text()),
                                                                       'upstream_runs': None}))
    assert stage_state('stage1', c, s) == 'done'                       # a run that records none (an older kit's): kept


def _built_data(c, s):
    "The dataset's record of a finished build of `c` (nothing else of it): what the stages after it check."
    stage_folder('data', s).mkdir(parents=True, exist_ok=True)
    (stage_folder('data', s) / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': stage_hash('data', c, s.seed)}))


def test_a_run_that_learned_from_a_checkpoint_replaced_since_is_not_current(tmp_path, capsys):
    "A local checkpoint folder a stage learned from (here the text LLM's) replaced under its path: the runs after it are 'retrained', naming the checkpoint, and the training that replaces them says so; without a checkpoint a run records what it did before."
    from emotion_omni_lite.stages import pretrained_fingerprint, retrained_upstream, run_digest, upstream_runs
    from emotion_omni_lite.text_llm import build_llm
    ckpt = tmp_path / 'qwen'
    build_llm(get_config('smoke')).save_pretrained(ckpt)               # a tiny Qwen2 standing in for Qwen2.5-7B
    c = get_config('smoke', **{'llm.pretrained': str(ckpt)})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    _built_data(c, s)
    for n in ('asr', 'emotion_encoder', 'stage1', 'stage2'): _fake_run(n, c, s)
    rec = json.loads((stage_folder('stage1', s) / 'config.json').read_text())['upstream_runs']
    assert rec == {'asr': run_digest('asr', s), 'emotion_encoder': run_digest('emotion_encoder', s),
                   'text_llm': {'pretrained': str(ckpt), 'fingerprint': pretrained_fingerprint(str(ckpt))}}
    assert stage_state('text_llm', c, s) == 'pretrained' and stage_state('stage1', c, s) == stage_state('stage2', c, s) == 'done'
    weights = next(ckpt.glob('*.safetensors'))
    weights.write_bytes(weights.read_bytes() + b'\0')                   # another checkpoint copied over it, same path
    assert stage_state('stage1', c, s) == 'retrained' and retrained_upstream('stage1', s) == ['text_llm']
    assert stage_state('stage2', c, s) == 'retrained' and retrained_upstream('stage2', s) == ['text_llm']   # further up
    before = snapshot(tmp_path)
    with pytest.raises(StageMissing, match=rf"(?s)stage 'stage1' .* learned from the stages before it as they were then \(the "
                                           rf"checkpoint of text_llm, {re.escape(str(ckpt))}, changed since\).*--stages stage1 .*"
                                           r"replaces the run that learned from the old runs or checkpoints"):
        require_stage('stage1', c, s)
    assert snapshot(tmp_path) == before                                # … and touched nothing
    _fake_run('stage1', c, s, weight=4.0)                              # trained again on the new checkpoint
    assert 'or from checkpoints that changed' in capsys.readouterr().out and stage_state('stage1', c, s) == 'done'
    f = stage_folder('stage1', s); conf = json.loads((f / 'config.json').read_text()); del conf['upstream_runs']['text_llm']
    (f / 'config.json').write_text(json.dumps(conf))                   # recorded before checkpoints were: kept, resumed
    start_run(f, c, stage_hash('stage1', c, s.seed), upstream=upstream_runs('stage1', c, s))
    assert 'replacing' not in capsys.readouterr().out and (f / 'model.safetensors').exists()
    plain = get_config('smoke')                                        # no checkpoint: the record as before, digests alone
    _built_data(plain, s)
    for n in ('text_llm', 'stage1'): _fake_run(n, plain, s)
    assert upstream_runs('stage1', plain, s) == {u: run_digest(u, s) for u in ('asr', 'emotion_encoder', 'text_llm')}


def test_a_hub_checkpoint_is_told_by_its_cached_commit(tmp_path, monkeypatch):
    "A hub name's fingerprint is the commit of the snapshot its loader reads offline (a new download moves it), an alias's that of the checkpoint it names (a run an earlier kit recorded by the alias's name is kept); a name not cached is itself; a local folder, its files' names and contents (large ones by blocks spread over them), so a copy with other times is the same checkpoint and other weights of the same size are not."
    from huggingface_hub import constants
    from emotion_omni_lite.stages import pretrained_fingerprint
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(tmp_path / 'hub'))
    repo = tmp_path / 'hub' / 'models--kit-tests--tiny'
    for commit in ('a1b2c3', 'd4e5f6'):
        (repo / 'snapshots' / commit).mkdir(parents=True); (repo / 'snapshots' / commit / 'config.json').write_text('{}')
        (repo / 'refs').mkdir(exist_ok=True); (repo / 'refs' / 'main').write_text(commit)
        assert pretrained_fingerprint('kit-tests/tiny') == f'commit:{commit}'
    assert pretrained_fingerprint('kit-tests/not-here') == 'kit-tests/not-here'
    from emotion_omni_lite.config import PRETRAINED_ALIASES                 # an alias: the checkpoint it names, by its commit
    from emotion_omni_lite.stages import _alias_by_name, _same_upstream, retrained_upstream
    named = PRETRAINED_ALIASES['emotion2vec-compatible']
    assert pretrained_fingerprint('emotion2vec-compatible') == named    # not cached
    snap = tmp_path / 'hub' / f"models--{named.replace('/', '--')}" / 'snapshots' / 'c0ffee'
    snap.mkdir(parents=True); (snap / 'config.json').write_text('{}'); (snap.parents[1] / 'refs').mkdir()
    (snap.parents[1] / 'refs' / 'main').write_text('c0ffee')
    assert pretrained_fingerprint('emotion2vec-compatible') == pretrained_fingerprint(named) == 'commit:c0ffee'
    rec = lambda fp: {'emotion_encoder': {'pretrained': 'emotion2vec-compatible', 'fingerprint': fp}}
    now = rec('commit:c0ffee')
    assert _same_upstream(rec('emotion2vec-compatible'), now)          # an earlier kit's record, by the alias's name: kept
    assert _same_upstream(now, now) and not _same_upstream(rec('commit:0ld'), now)   # another download since: not
    assert not _alias_by_name({'pretrained': ['emotion2vec-compatible'], 'fingerprint': ['emotion2vec-compatible']})   # a
    assert not _alias_by_name(['emotion2vec-compatible'])             # hand-edited record: no alias, and no TypeError
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    conf = stage_folder('stage1', s) / 'config.json'; conf.parent.mkdir(parents=True)
    for fp, moved in (('emotion2vec-compatible', []), ('commit:c0ffee', []), ('commit:0ld', ['emotion_encoder'])):
        conf.write_text(json.dumps({'upstream_runs': rec(fp)}))
        assert retrained_upstream('stage1', s) == moved, fp
    one = tmp_path / 'one.bin'; one.write_bytes(b'w'); was = pretrained_fingerprint(str(one))
    one.write_bytes(b'ww'); assert pretrained_fingerprint(str(one)) not in (was, str(one))
    import os, shutil
    from emotion_omni_lite import stages
    monkeypatch.setattr(stages, 'FINGERPRINT_WHOLE', 1 << 17)          # a "large" weight file without writing gigabytes
    ck = tmp_path / 'ck'; ck.mkdir(); (ck / 'config.json').write_text('{}')
    (ck / 'model.safetensors').write_bytes(bytes(range(256)) * 4096)   # 1 MiB: read by blocks
    was = pretrained_fingerprint(str(ck))
    copy = tmp_path / 'copy'; shutil.copytree(ck, copy, copy_function=shutil.copy)   # other times: the same checkpoint
    os.utime(copy / 'model.safetensors', (1e9, 1e9)); (copy / '.cache').mkdir(); (copy / '.cache' / 'x.lock').write_text('')
    assert pretrained_fingerprint(str(copy)) == was                    # unpacked beside another copy: not "retrained"
    w = bytearray((ck / 'model.safetensors').read_bytes()); w[-1] ^= 1; (ck / 'model.safetensors').write_bytes(bytes(w))
    assert pretrained_fingerprint(str(ck)) != was                       # other weights, same size: told apart


def test_run_stage_records_the_runs_it_learned_from(tmp_path):
    "run_stage itself (not a copy of its steps) records in the run's config.json the run_digest of each finished run the stage reads, and the run it finished is current."
    from emotion_omni_lite.stages import StageJob, run_digest, run_stage
    c = get_config('smoke', **{'stages.stage2.steps': 2, 'stages.stage2.length_groups': 1})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    _built_data(c, s)
    for n in ('asr', 'emotion_encoder', 'text_llm', 'stage1'): _fake_run(n, c, s)
    toy = lambda cfg, st: StageJob(data=[(torch.ones(1), torch.ones(1))] * 8, build=lambda: nn.Linear(1, 1),
                                   collate=lambda b: (torch.stack([x for x, _ in b]), torch.stack([y for _, y in b])),
                                   loss=lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]))
    run = run_stage('stage2', c, toy, s)
    rec = json.loads((run / 'config.json').read_text())['upstream_runs']
    assert rec == {'emotion_encoder': run_digest('emotion_encoder', s), 'stage1': run_digest('stage1', s)} and all(rec.values())
    assert stage_state('stage2', c, s) == 'done'
    _fake_run('stage1', c, s, weight=2.0)                              # stage 1 trained again: the run it recorded is gone
    assert stage_state('stage2', c, s) == 'retrained'


def test_a_config_unlike_its_preset_names_the_fields_that_make_it_so():
    "The fields `eol run` would need in settings.ini to train this config: one set back to the value it is left out of the hash at (HASHED_ONCE_SET) is named too, and a stage whose own fields match names those of the stages before it; the dataset names no stages before it."
    from emotion_omni_lite.stages import unlike_preset
    one = get_config('lite', **{'data.n_piper_voices': 0, 'data.n_test_piper_voices': 0})   # one engine: lite's default is two
    for n in ('data', 'asr', 'stage2'): assert unlike_preset(n, one, 0) == ['data.n_piper_voices', 'data.n_test_piper_voices'], n
    full = get_config('full', **{'stages.stage1.mixed_precision': 'no'})   # full's default is bf16
    assert unlike_preset('stage1', full, 0) == unlike_preset('stage2', full, 0) == ['stages.stage1.mixed_precision']
    assert unlike_preset('stage2', get_config('full'), 0) == [] and unlike_preset('vocoder', full, 0) == []
    assert unlike_preset('stage1', get_config('lite', **{'emotion_encoder.layers': 3}), 0) == ['emotion_encoder.layers']


def test_the_time_a_missing_run_takes_is_said_only_where_it_was_measured(tmp_path):
    "A missing run's message gives the stage table's minutes for `lite` only (measured there); another preset's says none was measured, as `eol run` does."
    from emotion_omni_lite.stages import lite_minutes, measured_time
    for preset, said in (('lite', "(it runs data, vocoder; the stage table's minutes on a 2-core CPU: "
                                  f"{lite_minutes(['data', 'vocoder'])} min in all)"),
                         ('smoke', "(it runs data, vocoder; no time measured for preset 'smoke')"),
                         ('full', "(it runs data, stage1; no time measured for preset 'full')")):
        s = get_settings(preset=preset, data_dir=str(tmp_path / preset / 'data'), out_dir=str(tmp_path / preset / 'runs'))
        with pytest.raises(StageMissing) as e: require_stage('stage1' if preset == 'full' else 'vocoder', get_config(preset), s)
        assert said in str(e.value) and 'with `lite`' not in str(e.value), str(e.value)   # lite's minutes given as full's before
    assert cli._took is measured_time                                  # `eol run` says it the same way


@pytest.mark.parametrize('files', [['a.wav'], 'a.wav', {'a.wav': 5}, {'a.wav': ['big', 1]}, {'a.wav': [1]}, 7])
def test_a_malformed_record_of_a_datasets_sources_is_damaged(tmp_path, files):
    "sources.json whose files are not {path: [size, modification time]}: the dataset is 'damaged' (not a TypeError), and the message names the rebuild; nothing is touched."
    from emotion_omni_lite.stages import check_sources
    c = get_config('smoke')
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    root = stage_folder('data', s); root.mkdir(parents=True)
    (root / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': stage_hash('data', c, s.seed), 'sources_hash': 'x'}))
    (root / 'sources.json').write_text(json.dumps({'files': files}))
    before = snapshot(tmp_path)
    assert check_sources(root, fresh=True) == ('damaged', []) and stage_state('data', c, s) == 'damaged'
    with pytest.raises(StageMissing, match=r"(?s)holds a damaged run .*--stages data --force"): require_stage('data', c, s)
    assert snapshot(tmp_path) == before


def test_a_runs_files_are_read_once_a_process_while_unchanged(tmp_path, monkeypatch):
    "files_as_recorded reads each recorded file once per process while its size and modification time stay as they were; one changed since is read again and found changed (changed in the last 2 s: read every time, its time could stay); files.json is as before."
    from emotion_omni_lite import stages
    (tmp_path / 'a.bin').write_bytes(b'a' * 100); (tmp_path / 'b.bin').write_bytes(b'b' * 10)
    old = time.time_ns() - 60 * 10**9
    for n in ('a.bin', 'b.bin'): os.utime(tmp_path / n, ns=(old, old))   # written a minute ago
    stages.save_json(stages.run_files(tmp_path), tmp_path / 'files.json')
    assert json.loads((tmp_path / 'files.json').read_text()) == {'a.bin': hashlib.sha256(b'a' * 100).hexdigest(),
                                                                  'b.bin': hashlib.sha256(b'b' * 10).hexdigest()}
    read, real = [], stages.sha256
    monkeypatch.setattr(stages, 'sha256', lambda p: read.append(Path(p).name) or real(p))
    assert all(stages.files_as_recorded(tmp_path) for _ in range(3)) and sorted(read) == ['a.bin', 'b.bin']
    (tmp_path / 'a.bin').write_bytes(b'x' * 100)                       # the same size, written now
    assert not stages.files_as_recorded(tmp_path) and not stages.files_as_recorded(tmp_path)
    assert read.count('a.bin') == 3 and read.count('b.bin') == 1


def test_an_unfinished_runs_checkpoint_is_said_before_other_settings_replace_it(tmp_path, capsys):
    "A stopped run holds a checkpoint: a changed setting that changes what it learns replaces it, said; how often it saves or logs does not."
    c, s, f = _finished_vocoder(tmp_path)
    (f / 'metrics.json').unlink(); (f / 'checkpoint').mkdir(); (f / 'checkpoint' / 'state.json').write_text('{}')
    for field, v in (('ckpt_every', 7), ('log_every', 3)):
        other = get_config('smoke', **{f'stages.vocoder.{field}': v})
        assert stage_hash('vocoder', other, s.seed) == stage_hash('vocoder', c, s.seed)   # resumes under the new one
    other = get_config('smoke', **{'vocoder.hidden': c.vocoder.hidden + 8})
    start_run(f, other, stage_hash('vocoder', other, s.seed))
    assert f"replacing the unfinished run and its checkpoint in {f}: it was trained with other settings" in capsys.readouterr().out
    assert not (f / 'checkpoint').exists()


def test_an_evaluation_of_runs_trained_again_is_not_current(tmp_path):
    "A part of the evaluation is named by the very runs it read: the same settings trained again give another stamp; the judge counts where replies are judged only."
    from emotion_omni_lite.evaluate import EVAL_PARTS, _stamp
    c, s, _ = _finished_vocoder(tmp_path)
    for n in ('asr', 'emotion_encoder', 'text_llm'): _fake_run(n, c, s)
    part, text = _stamp(c, s, {}, EVAL_PARTS['cascade'], judged=False), _stamp(c, s, {}, EVAL_PARTS['cascade'])
    judged = get_settings(preset='smoke', out_dir=s.out_dir, data_dir=s.data_dir, judge_url='http://127.0.0.1:9/v1')
    assert _stamp(c, judged, {}, EVAL_PARTS['cascade'], judged=False) == part and _stamp(c, judged, {}, EVAL_PARTS['cascade']) != text
    _fake_run('emotion_encoder', c, s, weight=3.0)
    assert _stamp(c, s, {}, EVAL_PARTS['cascade'], judged=False) != part


def test_the_report_names_a_failed_judge_and_each_figure_narrowed_by_its_suffix():
    from emotion_omni_lite.report import metric_note, report_markdown
    md = report_markdown({'empathy_judge_status': 'failed: http://127.0.0.1:9/v1 is unreachable'}, {})
    assert 'judge **failed** (http://127.0.0.1:9/v1 is unreachable)' in md and 'is **off**' not in md
    assert 'is **off**' in report_markdown({'empathy_judge_status': 'off'}, {})
    assert 'reference reply speech' in metric_note('speech_emotion_acc_reference')
    assert 'generated' not in metric_note('dnsmos_ovrl_reference')
    assert 'tone-dependent' in metric_note('cross_engine_espeak_to_piper_tone')
    assert metric_note('reply_emotion_acc_tone_cascade').endswith('(on the tone-dependent utterances only; system (a) cascade)')


def test_a_whole_number_in_a_float_field_is_that_number():
    "`aug_pitch=10` is the preset's 10.0: the same runs, the same hash; `lora.dropout=0` is allowed as 0.0 is."
    from emotion_omni_lite.config import set_field
    c = get_config('lite')
    for field, v in (('stages.emotion.aug_pitch', 10), ('lora.dropout', 0), ('stages.stage1.weight_decay', 0)):
        x = set_field(c, field, v)
        assert type(functools.reduce(getattr, field.split('.'), x)) is float
        assert all(stage_hash(n, x, 0) == stage_hash(n, set_field(c, field, float(v)), 0) for n in ('emotion_encoder', 'stage1'))
    assert stage_hash('emotion_encoder', set_field(c, 'stages.emotion.aug_pitch', 10), 0) == stage_hash('emotion_encoder', c, 0)


def test_a_stage_set_to_train_no_steps_is_refused(tmp_path):
    "A stage with nothing pretrained and 0 steps (full's vocoder turned to griffin_lim) would keep random weights as a finished run."
    from emotion_omni_lite.stages import run_stage
    c, s, _ = _finished_vocoder(tmp_path)
    c0 = get_config('smoke', **{'stages.vocoder.steps': 0})
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError, match=r"stages\.vocoder\.steps = 0: stage 'vocoder' .* set stages\.vocoder\.steps \(lite: 300\)"):
        run_stage('vocoder', c0, lambda *a: 1 / 0, s)
    assert snapshot(tmp_path) == before


def test_a_named_cross_engine_stage_without_a_second_engine_is_refused(tmp_path, monkeypatch, capsys):
    "`eol run --stages emotion_encoder_espeak_only` on one engine's data: said, exit 2, not an empty job that ends well."
    monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs')); monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data'))
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = smoke\n[emotion_omni_lite.smoke]\ndata.n_piper_voices = 0\ndata.n_test_piper_voices = 0\n')
    monkeypatch.chdir(tmp_path); monkeypatch.delenv('EOL_SETTINGS', raising=False)   # found from where eol starts
    with pytest.raises(SystemExit) as e: cli.main(['run', '--stages', 'emotion_encoder_espeak_only', '--jobs', '1'])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert 'emotion_encoder_espeak_only' in err and 'data.n_piper_voices (lite: 8)' in err
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'data').exists()


def test_too_few_examples_for_a_batch_name_the_data(tmp_path):
    "Three examples, batch_size 4 in two length groups: the message names the data, not a batch size that already splits."
    with pytest.raises(ConfigError, match=r"only 3 training examples, fewer than batch_size=4.*more training data"):
        fit(nn.Linear(1, 1), DATA[:3], _collate, _loss, TrainConfig(steps=1, batch_size=4, lr=0.1, length_groups=2),
            progress=False, device='cpu', lengths=[1, 2, 3])


def test_command_line_values_are_read_as_the_settings_file_reads_them():
    from emotion_omni_lite.config import parse_field
    assert parse_field('llm.pretrained', 'none') is None and parse_field('adapter.emotion_stream', 'false') is False
    assert parse_field('emotion_encoder.train_engine', "''") == '' and parse_field('lora.dropout', '0.05') == 0.05
    with pytest.raises(ConfigError, match=r"stages\.asr\.steps = 'x' .* write a whole number \(the preset has 1800\)"):
        parse_field('stages.asr.steps', 'x')
    with pytest.raises(ConfigError, match='llm.hiden_size is not a config field'): parse_field('llm.hiden_size', '3')


def test_a_manifest_recording_of_a_whole_session_is_refused_unread(tmp_path, monkeypatch):
    "A recording longer than `LONGEST_RECORDING` by its header is named as a session to cut, and never read into memory (here the limit is lowered to 5 s); running out of memory is said as that, not as a damaged file."
    from emotion_omni_lite import dataset
    from emotion_omni_lite.audio import save_wav
    cfg = get_config('smoke')
    tone = lambda s: 0.3 * np.sin(np.arange(int(16000 * s)) * 0.05)
    save_wav(tmp_path / 'q.wav', tone(1.0)); save_wav(tmp_path / 'r.wav', tone(2.0)); save_wav(tmp_path / 'long.wav', tone(8.0))
    (tmp_path / 'u.json').write_text(json.dumps([i % 20 for i in range(50)]))
    line = lambda q='q.wav', r='r.wav': f'{q},Hi.,happy,{r},Oh!,happy,u.json\n'
    (tmp_path / 'm.csv').write_text(MANIFEST_COLUMNS + '\n' + line() + line(r='long.wav'))
    monkeypatch.setattr(dataset, 'LONGEST_RECORDING', 5.0)
    real, read = dataset._read_whole, []
    monkeypatch.setattr(dataset, '_read_whole', lambda p, fh: read.append(Path(p).name) or real(p, fh))
    with pytest.raises(ConfigError) as e: external_rows(cfg, tmp_path / 'm.csv')
    assert f"line 3: reply_audio {tmp_path / 'long.wav'} is 0 minutes long (its header): a session" in str(e.value)
    assert 'long.wav' not in read and 'q.wav' in read
    monkeypatch.setattr(dataset, '_read_whole', lambda p, fh: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(ConfigError, match='ran out of memory reading it'): external_rows(cfg, tmp_path / 'm.csv')


def test_save_wav_refuses_pcm_counts_and_says_what_it_clips(tmp_path):
    from emotion_omni_lite.audio import save_wav
    pcm = (np.sin(np.arange(16000) * 0.05) * 8000).astype(np.int16)
    for x in (pcm, torch.from_numpy(pcm)):
        with pytest.raises(ValueError, match=r'int16 \(PCM counts\?\).*divide 16-bit samples by 32768'): save_wav(tmp_path / 'a.wav', x)
    assert not list(tmp_path.iterdir())
    with pytest.warns(UserWarning, match=r'beyond ±1 and are clipped .*its peak is 3\.00'):
        save_wav(tmp_path / 'loud.wav', 3.0 * np.sin(np.arange(16000) * 0.05))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        save_wav(tmp_path / 'ok.wav', np.clip(1.2 * np.sin(np.arange(16000) * 0.05), -1, 1))   # at full scale: not beyond


def test_another_sample_rate_is_refused_when_the_config_is_built():
    with pytest.raises(ConfigError, match=r'audio\.sample_rate: 24000 Hz: the kit hears and writes speech at 16 kHz.*keep 16000'):
        get_config('smoke', **{'audio.sample_rate': 24000, 'audio.hop_length': 240})


def test_a_dataset_built_in_this_process_gives_the_threads_back(tmp_path):
    "With one worker the build runs in the caller's process: its one thread per job is the caller's again afterwards."
    before = torch.get_num_threads()                                   # the tests that follow get it back
    torch.set_num_threads(2)
    try:
        build_dataset(get_config('smoke', **{'data.n_dialogues': 12, 'data.workers': 1}),
                      get_settings(preset='smoke', data_dir=str(tmp_path), device='cpu'))
        assert torch.get_num_threads() == 2
    finally: torch.set_num_threads(before)


def test_an_assistant_voice_a_held_out_voice_resembles_is_refused(tmp_path):
    "The emotion encoder learns from the assistant's replies: a held-out query voice (or its espeak variant) as the assistant would be heard in training."
    s = get_settings(preset='smoke', data_dir=str(tmp_path), device='cpu')
    from emotion_omni_lite.tts import query_voices
    c = get_config('smoke')
    _, held = query_voices(c.data.n_query_voices, c.data.n_test_voices)
    for voice in (held[0], 'en-gb' + held[0][held[0].index('+'):]):  # the voice itself, and its variant in another accent
        with pytest.raises(ConfigError, match=rf"data\.assistant_voice: {re.escape(voice)} is, or shares .*{re.escape(held[0])}"):
            build_dataset(get_config('smoke', **{'data.assistant_voice': voice}), s)
    assert not (tmp_path / 'smoke').exists()                           # refused before anything is spoken


def test_ctrl_c_ends_eol_with_what_is_kept_and_no_traceback(monkeypatch, capsys):
    "A stopped `eol run` says that finished stages stay and how to go on, and ends with the shell's status for Ctrl-C."
    from emotion_omni_lite import cli
    def stop(a): raise KeyboardInterrupt
    parsed = cli._parse(['run', '--preset', 'smoke'])
    monkeypatch.setattr(cli, '_parse', lambda argv=None: (setattr(parsed, 'fn', stop), parsed)[1])
    with pytest.raises(SystemExit) as e: cli.main(['run', '--preset', 'smoke'])
    err = capsys.readouterr().err
    assert e.value.code == 130 and 'stopped (Ctrl-C): finished stages are kept' in err and 'Traceback' not in err


def test_the_main_job_says_what_it_will_train_and_what_it_keeps(tmp_path, monkeypatch, capsys):
    "Before any work: the stages left to train (with their measured minutes on lite) and the finished ones it keeps."
    from emotion_omni_lite import cli
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs'))
    monkeypatch.setattr(cli, 'usable_cores', lambda: 2)                  # two workers on any machine: run_tasks is reached
    monkeypatch.setattr(cli, 'run_tasks', lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    for name in ('train_stage', 'evaluate_stage'): monkeypatch.setattr(cli, name, lambda *a, **k: pytest.fail('the job trained'))
    with pytest.raises(KeyboardInterrupt): cli.run_pipeline('lite', jobs=2)
    said = capsys.readouterr().out
    assert re.search(r"to train: data, asr, .*stage2_no_adaln \(the stage table's minutes on a 2-core CPU: [\d.]+ min in all", said), said
    assert 'finished, kept' not in said and not (tmp_path / 'runs').exists()


def _empty_smoke_folders(tmp_path, monkeypatch):
    "The smoke preset with its dataset and runs in empty folders, whatever settings file and launch this shell has."
    for k in ('EOL_SETTINGS', 'EOL_PRESET', 'EOL_SEED', 'ACCELERATE_USE_FSDP', 'ACCELERATE_USE_DEEPSPEED', 'WORLD_SIZE', 'RANK'):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs'))
    monkeypatch.setenv('EOL_DEVICE', 'cpu')


@pytest.mark.parametrize('jobs', ['1', '2'])
def test_eol_run_of_some_stages_names_every_unfinished_run_they_read_before_any_work(tmp_path, monkeypatch, capsys, jobs):
    "`eol run --stages stage2` on empty folders: every run stage 2 reads, directly or further up, is named at once with one command that trains them and it; nothing is made (no lock file, no logs folder), with one worker or two."
    _empty_smoke_folders(tmp_path, monkeypatch)
    with pytest.raises(SystemExit) as e: cli.main(['run', '--preset', 'smoke', '--stages', 'stage2', '--jobs', jobs])
    said = capsys.readouterr()
    assert e.value.code == 2 and 'to train' not in said.out and '==' not in said.out, said.out
    assert [l.split(' (')[0].strip() for l in said.err.splitlines() if l.startswith('  - ')] == \
        ['- data', '- asr', '- emotion_encoder', '- text_llm', '- stage1'], said.err
    assert '`eol run --preset smoke --stages data asr emotion_encoder text_llm stage1 stage2` trains them first' in said.err
    assert list(tmp_path.iterdir()) == []                               # no data, runs, lock or logs folder


def test_the_unfinished_runs_named_are_those_the_stages_that_train_read(tmp_path, monkeypatch):
    "Only what is not finished (a run of other settings: said that it is replaced), only for the stages that will train, and none of those asked for."
    _empty_smoke_folders(tmp_path, monkeypatch)
    cfg, s = get_config('smoke'), get_settings(preset='smoke')
    states = {'data': 'done', 'asr': 'done', 'emotion_encoder': 'done', 'text_llm': 'pretrained', 'stage1': 'other'}
    monkeypatch.setattr(cli, 'stage_state', lambda n, c, st: states.get(n, 'missing'))
    with pytest.raises(StageMissing) as e: cli.check_upstream(['stage2', 'eval'], ['stage2'], cfg, s)
    lines = str(e.value).splitlines()
    assert lines[0] == "--stages stage2 eval: stage2 reads 1 run(s) not finished for preset 'smoke' (seed 0); nothing was trained."
    assert lines[1].startswith('  - stage1 (') and ': other in ' in lines[1] and len(lines) == 3
    assert '--stages stage1 stage2 eval` trains them first' in lines[2] and "('other') is replaced: copy its folder" in lines[2]
    cli.check_upstream(['stage2'], [], cfg, s)                          # stage 2 finished: it trains nothing, reads nothing
    cli.check_upstream(['stage1', 'stage2'], ['stage1', 'stage2'], cfg, s)   # stage 1 asked for: trained first, not named
    states['stage1'] = 'done'; cli.check_upstream(['stage2'], ['stage2'], cfg, s)
    assert list(tmp_path.iterdir()) == []


def test_a_cross_engine_stage_on_one_engines_data_names_that_engine(tmp_path, monkeypatch, capsys):
    "Data spoken by Piper alone: the refusal names Piper as the one engine, not espeak."
    _empty_smoke_folders(tmp_path, monkeypatch)
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = smoke\n[emotion_omni_lite.smoke]\ndata.tts = piper\ndata.n_piper_voices = 0\n'
                   'data.n_test_piper_voices = 0\n')
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    with pytest.raises(SystemExit) as e: cli.main(['run', '--stages', 'emotion_encoder_piper_only', '--jobs', '1'])
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'one engine alone speaks these data (data.tts = piper, data.n_piper_voices = 0)' in err, err
    assert 'espeak' not in err and sorted(p.name for p in tmp_path.iterdir()) == ['settings.ini']


def test_a_repeated_stages_or_only_option_adds_to_the_first():
    "`--stages data asr --stages eval` runs all three, as `--only` renders every notebook named, not only the last option's."
    assert cli._parse(['run', '--stages', 'data', 'asr', '--stages', 'eval']).stages == ['data', 'asr', 'eval']
    assert cli._parse(['course', '--only', '00_config', '--only', '14_stage2']).only == ['00_config', '14_stage2']
    assert cli._parse(['run']).stages is None and cli._parse(['course']).only is None
    with pytest.raises(SystemExit): cli._parse(['run', '--stages', 'data', '--stages', 'nothing'])   # each one checked


def test_the_guards_read_the_run_made_with_the_settings_eol_found(tmp_path, monkeypatch):
    "`eol run --guards` started in a folder with its own settings.ini (its own folders and seed): the slow tests, started in the checkout, read that run (as conftest's lite_settings reads settings), not the checkout's runs/lite; the variables are set for them only."
    import subprocess
    root = cli.repo_root()
    lab = tmp_path / 'lab'; lab.mkdir()
    (lab / 'settings.ini').write_text('[emotion_omni_lite]\npreset = lite\ndata_dir = mydata\nout_dir = myruns\nseed = 3\n')
    for k in ('EOL_SETTINGS', 'EOL_PRESET', 'EOL_DATA_DIR', 'EOL_OUT_DIR', 'EOL_SEED', 'EOL_DEVICE'): monkeypatch.delenv(k, raising=False)
    monkeypatch.chdir(lab); monkeypatch.setattr(cli, 'repo_root', lambda: root)
    monkeypatch.setattr(cli, 'run_pipeline', lambda *a, **k: None)     # the run itself: not here
    seen = []
    class Done: returncode = 0
    monkeypatch.setattr(subprocess, 'run', lambda cmd, cwd, env: seen.append((cwd, {k: v for k, v in env.items() if k.startswith('EOL_')})) or Done())
    cli.main(['run', '--guards'])
    cwd, env = seen[0]
    assert Path(cwd) == root and not [k for k in env if k in os.environ]   # given to the tests' process only
    for k, v in env.items(): monkeypatch.setenv(k, v)
    monkeypatch.chdir(root)
    s = get_settings(preset='lite', device='cpu')                       # what the tests' lite_settings reads, in the checkout
    assert (Path(s.out_dir), Path(s.data_dir), s.seed) == ((lab / 'myruns').resolve(), (lab / 'mydata').resolve(), 3)


def test_a_launch_whose_batch_does_not_split_over_its_processes_is_refused_before_any_work(tmp_path, monkeypatch):
    "Six processes for full's batch of 16: refused by `eol run` before the data or a run folder is made (not once every rank has loaded the LLM), each stage's recipe named once, in fit's own words."
    from dataclasses import replace
    _empty_smoke_folders(tmp_path, monkeypatch)
    monkeypatch.setenv('WORLD_SIZE', '6'); monkeypatch.setenv('RANK', '0')
    with pytest.raises(ConfigError) as e: cli.check_launch(get_config('full'), 'cuda')
    assert str(e.value).splitlines() == [f"stages.{k}: batch_size=16 does not split evenly over 6 process(es) × grad_accum=1 × "
                                         "length_groups=1: make it a multiple of 6, change grad_accum or length_groups, or launch a number of processes it splits over"
                                         for k in ('stage1', 'stage2')]   # the ablations share these; the vocoder (0 steps) trains none
    cli.check_launch(get_config('full'), 'cuda', ['data'])              # the dataset alone trains nothing
    monkeypatch.setenv('WORLD_SIZE', '3')
    with pytest.raises(ConfigError, match=r"stages\.asr: batch_size=4 does not split evenly over 3 process\(es\) × grad_accum=1 × "
                                          r"length_groups=2: make it a multiple of 6"):
        cli.run_pipeline('smoke', jobs=1)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv('WORLD_SIZE', '2'); cli.check_launch(get_config('full'), 'cuda'); cli.check_launch(get_config('smoke'), 'cpu')
    monkeypatch.delenv('WORLD_SIZE'); monkeypatch.delenv('RANK')        # one process: what fit says, word for word
    cfg = get_config('smoke')
    cfg.stages.stage1 = replace(cfg.stages.stage1, batch_size=3, grad_accum=2)   # set past get_config's own check
    with pytest.raises(ConfigError) as launch: cli.check_launch(cfg, 'cpu', ['stage1'])
    with pytest.raises(ConfigError) as fitted:
        fit(nn.Linear(1, 1), DATA, _collate, _loss, cfg.stages.stage1, progress=False, device='cpu', name='stages.stage1')
    assert str(launch.value) == str(fitted.value)


def test_a_manifests_hash_is_its_lines_and_folder_not_their_bytes(tmp_path):
    "Line ends, trailing spaces, blank lines and a byte-order mark (UTF-8 or UTF-16) leave a manifest's hash as it was; a changed line or another folder does not."
    from emotion_omni_lite.stages import manifest_lines
    text = '{"id": "a", "query_audio": "q.wav"}\n{"id": "b", "query_audio": "r.wav"}\n'
    (tmp_path / 'one').mkdir(); (tmp_path / 'two').mkdir()
    m = tmp_path / 'one' / 'm.jsonl'; m.write_text(text)
    h = manifest_lines(m)
    for same in (text.replace('\n', '\r\n').encode(), b'\xef\xbb\xbf' + text.replace('\n', '  \n\n').encode(), text.encode('utf-16')):
        m.write_bytes(same); assert manifest_lines(m) == h
    m.write_text(text.replace('r.wav', 's.wav')); assert manifest_lines(m) != h
    (tmp_path / 'two' / 'm.jsonl').write_text(text); assert manifest_lines(tmp_path / 'two' / 'm.jsonl') != h
    assert manifest_lines(tmp_path / 'none.jsonl') is None and manifest_lines('') is None


def test_eol_run_of_a_stage_over_a_dataset_of_other_settings_is_the_datasets_own_refusal(tmp_path, monkeypatch):
    "`eol run --stages asr` over a dataset of other settings: the dataset's own refusal (rebuilt only with --force, never 'replaced'), before any work."
    _empty_smoke_folders(tmp_path, monkeypatch)
    s = get_settings(preset='smoke')
    Path(s.data_path).mkdir(parents=True)
    (Path(s.data_path) / 'build.json').write_text(json.dumps({'config_hash': 'a1b2c3d4e5f6', 'status': 'done'}))
    with pytest.raises(StageMissing) as e: cli.run_pipeline('smoke', stages=['asr'], jobs=1)
    assert '--stages data --force' in str(e.value) and 'replaced' not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['data'] and os.listdir(s.data_path) == ['build.json']


def test_a_launch_is_asked_only_about_the_stages_it_will_train(tmp_path, monkeypatch):
    "A relaunch on three processes after the stages whose batches do not split over three have finished: not refused for them (`--force`, which trains them again, is)."
    _empty_smoke_folders(tmp_path, monkeypatch)
    s, cfg = get_settings(preset='smoke'), get_config('smoke')
    monkeypatch.setenv('WORLD_SIZE', '3'); monkeypatch.setenv('RANK', '0')
    with pytest.raises(ConfigError, match=r'stages\.asr: batch_size=4 .*or launch a number of processes'): cli.check_launch(cfg, 'cpu', ['asr'], s)
    monkeypatch.setattr(cli, 'stage_state', lambda n, c, st: 'done')   # every run finished
    cli.check_launch(cfg, 'cpu', ['asr'], s)
    with pytest.raises(ConfigError, match=r'stages\.asr'): cli.check_launch(cfg, 'cpu', ['asr'])


def test_a_causal_lm_of_another_kind_is_named_before_any_work_and_only_the_cache_counts(tmp_path, online_but_unreachable):
    "missing_pretrained on a GPT-2 folder as llm.pretrained: its loader's words, not an AttributeError; a hub name whose weights are not in the local cache is named even with offline mode off, and no connection is tried (the loaders read local files only)."
    from transformers import GPT2Config
    GPT2Config(n_layer=1, n_embd=16, n_head=2).save_pretrained(tmp_path / 'gpt2'); (tmp_path / 'gpt2' / 'model.safetensors').write_bytes(b'')
    said = cli._checkpoint_problems('llm.pretrained', str(tmp_path / 'gpt2'), get_config('full', **{'llm.pretrained': str(tmp_path / 'gpt2')}))
    assert any("is a 'gpt2' checkpoint, whose config gives no" in p for p in said), said
    name = 'kit-tests/no-such-model'
    said = cli._checkpoint_problems('llm.pretrained', name, get_config('full', **{'llm.pretrained': name}))
    assert len(said) == 1 and re.search(r"llm\.pretrained: cannot load 'kit-tests/no-such-model' offline .*hf download", said[0]), said
    assert online_but_unreachable == []                                 # said from the local cache alone


def test_a_runs_checksums_cover_its_models_own_config_and_ignore_files_added_beside(tmp_path):
    "run_files leaves out only the run's own bookkeeping at its top (a saved model's config.json inside is checked); a file added beside the recorded ones does not make a finished run damaged, a recorded one changed does."
    from emotion_omni_lite.stages import files_as_recorded, run_files
    (tmp_path / 'model').mkdir(); (tmp_path / 'checkpoint').mkdir()
    for p, t in {'model/config.json': '{"num_hidden_layers": 2}', 'model.safetensors': 'w', 'config.json': '{}',
                 'metrics.json': '{}', 'checkpoint/model-5.safetensors': 'c', '.hidden': 'h'}.items(): (tmp_path / p).write_text(t)
    assert sorted(run_files(tmp_path)) == ['model.safetensors', 'model/config.json']
    (tmp_path / 'files.json').write_text(json.dumps(run_files(tmp_path)))
    (tmp_path / 'notes.txt').write_text('mine'); assert files_as_recorded(tmp_path)
    (tmp_path / 'model' / 'config.json').write_text('{"num_hidden_layers": 5}'); assert not files_as_recorded(tmp_path)


def test_a_run_whose_record_cannot_be_read_is_damaged_and_said_before_it_is_replaced(tmp_path, capsys):
    "A finished run's config.json cut short: 'damaged' (not 'missing'), and the next training says it replaces those files."
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    cfg, folder = get_config('smoke'), stage_folder('vocoder', s)
    folder.mkdir(parents=True); (folder / 'config.json').write_text('{"hash": "ab'); (folder / 'model.safetensors').write_text('w')
    assert stage_state('vocoder', cfg, s) == 'damaged'
    start_run(folder, cfg, stage_hash('vocoder', cfg, s.seed))
    out = capsys.readouterr().out
    assert 'replacing the files in' in out and 'cannot be read' in out and not (folder / 'model.safetensors').exists()


def test_a_lock_that_cannot_be_taken_is_named_not_waited_for(tmp_path, monkeypatch):
    "A lock path that is a folder, or a drive without file locks: a ConfigError naming the lock file and the fix, not 'waiting for another process'."
    import errno, fcntl
    from emotion_omni_lite.stages import StageLock
    (tmp_path / '.stage1.lock').mkdir()
    with pytest.raises(ConfigError, match=r"cannot lock .*\.stage1\.lock .*keeps two processes from writing"):
        with StageLock(tmp_path / 'stage1'): pass
    def nolocks(f, op): raise OSError(errno.ENOLCK, 'No locks available')
    monkeypatch.setattr(fcntl, 'flock', nolocks)
    with pytest.raises(ConfigError, match=r"\(No locks available\).*a disk with file locks"):
        with StageLock(tmp_path / 'stage2'): pass


def test_a_missing_run_of_a_config_off_its_preset_says_where_its_fields_go(tmp_path):
    "require_stage for a config whose fields differ from its preset's: the command `eol run` would run trains the preset, so the message names those fields and the settings section they go in."
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    from emotion_omni_lite.config import set_field
    with pytest.raises(StageMissing, match=r"after putting this config's emotion_encoder\.layers in a \[emotion_omni_lite\.smoke\] section"):
        require_stage('emotion_encoder', set_field(get_config('smoke'), 'emotion_encoder.layers', 2), s)
    with pytest.raises(StageMissing) as e: require_stage('emotion_encoder', get_config('smoke'), s)
    assert 'after putting' not in str(e.value)


def test_the_readme_counts_this_battery():
    "README's count of these tests, and of those that compare the files on disk before and after (`snapshot`), is this file's."
    import ast, subprocess, sys
    root = Path(__file__).resolve().parents[1]
    got = subprocess.run([sys.executable, '-m', 'pytest', __file__, '-q', '-p', 'no:cacheprovider', '--collect-only'],
                         cwd=root, capture_output=True, text=True, timeout=300)
    names = [l.split('::')[1].split('[')[0] for l in got.stdout.splitlines() if l.startswith('tests/test_hardening.py::')]
    assert got.returncode == 0 and names, got.stdout[-2000:] + got.stderr[-2000:]
    src = Path(__file__).read_text()                                        # the cases that call snapshot()
    compare = {f.name for f in ast.parse(src).body if isinstance(f, ast.FunctionDef)
               and any(isinstance(c, ast.Call) and getattr(c.func, 'id', '') == 'snapshot' for c in ast.walk(f))}
    counts = (len(names), sum(n in compare for n in names))
    readme = ' '.join((root / 'README.md').read_text().split())
    m = re.search(r"`tests/test_hardening\.py` holds the battery \((\d+) tests\b[^)]*?\b(\d+) of them compare", readme)
    assert m and (int(m[1]), int(m[2])) == counts, f"README should say {counts[0]} tests, {counts[1]} of them comparing the files on disk"


# ---- a manifest's splits follow what training hears; its cells read as a person writes them ----
SPLIT_CODE = {'train': '.', 'test_voice': 'v', 'test_sentence': 's', 'test_both': 'b'}


def test_a_manifest_whose_speakers_read_their_own_sentences_holds_out_what_training_never_hears():
    "Speakers who read only sentences of their own: a held-out speaker's lines are test_both (no training line says "
    "their sentences), not test_voice; a speaker whose every sentence is held out is held out too. A line named "
    "test_voice keeps its sentence heard in training, one named test_sentence its voice."
    from emotion_omni_lite.dataset import manifest_splits
    cfg = get_config('smoke')
    own = [{'query_text': f'Speaker {v} sentence {t}.', 'voice': f'v{v}'} for v in range(6) for t in range(5)]
    one = [{'query_text': f'Sentence {t}.', 'voice': 'v9' if t == 9 else f'v{t % 3}'} for t in range(10) for _ in range(2)]
    for lines in (own, one):                                            # `one`: v9 reads one sentence alone
        for seed in range(6):
            sp = manifest_splits(cfg, lines, seed)
            train = [l for l, s in zip(lines, sp) if s == 'train']
            for l, s in zip(lines, sp):                                 # held out exactly where training never hears it
                assert (l['voice'] not in {t['voice'] for t in train}) == (s in ('test_voice', 'test_both')), (seed, l, s)
                assert (l['query_text'] not in {t['query_text'] for t in train}) == (s in ('test_sentence', 'test_both')), (seed, l, s)
    assert 'test_voice' not in {s for seed in range(6) for s in manifest_splits(cfg, own, seed)}
    grid = [{'query_text': f'Sentence number {t}.', 'voice': f'v{v}'} for t in range(10) for v in range(6)]
    first = {f'Sentence number {t}.' for t in range(5)}
    for seed in range(10):
        named = [dict(l, split='test_voice') for l in grid if l['voice'] == 'v5' and l['query_text'] in first]
        rest = [l for l in grid if not (l['voice'] == 'v5' and l['query_text'] in first)]
        for l, s in zip(rest, manifest_splits(cfg, named + rest, seed)[len(named):]):   # their sentences: trained on
            assert not (l['query_text'] in first and s in ('test_sentence', 'test_both')), (seed, l, s)
        named = [dict(l, split='test_sentence') for l in grid if l['voice'] == 'v0' and l['query_text'] == 'Sentence number 9.']
        rest = [l for l in grid if not (l['voice'] == 'v0' and l['query_text'] == 'Sentence number 9.')]
        for l, s in zip(rest, manifest_splits(cfg, named + rest, seed)[len(named):]):   # its voice: trained on
            assert not (l['voice'] == 'v0' and s in ('test_voice', 'test_both')), (seed, l, s)


def test_a_manifest_where_every_voice_reads_every_sentence_splits_as_it_did():
    "Where every voice reads every sentence, every held-out line is a whole sentence or voice already: the seeds' splits "
    "stay these (and lines named train change nothing of it)."
    from emotion_omni_lite.dataset import manifest_splits
    grid = [{'query_text': f'Sentence number {t}.', 'voice': f'v{v}'} for t in range(10) for v in range(6)]
    got = [''.join(SPLIT_CODE[s] for s in manifest_splits(get_config('smoke'), grid, seed)) for seed in range(3)]
    assert got == ['..vv....vv....vv....vv..ssbbss..vv..ssbbss..vv....vv....vv..',
                   '.v...v.v...v.v...v.v...vsbsssb.v...v.v...v.v...vsbsssb.v...v',
                   'sbsssb.v...vsbsssb.v...v.v...v.v...v.v...v.v...v.v...v.v...v']
    named = [dict(l, split='train') if i % 29 == 0 else l for i, l in enumerate(grid)]   # three lines named train
    assert [''.join(SPLIT_CODE[s] for s in manifest_splits(get_config('smoke'), named, seed)) for seed in range(2)] == [
        '..v.....v.....v...ssbsss..v.....v...ssbsss..v.....v.....v...', '...v..sssbss...v.....v.....v.....v.....v..sssbss...v.....v..']


def test_a_held_out_line_that_says_training_hears_what_it_never_hears_is_refused(tmp_path):
    "A line named test_voice is scored as a new speaker of a sentence training hears, one named test_sentence as a new "
    "sentence in a voice it hears: one whose sentence (voice) no training line has is named with the split that fits, "
    "and nothing is written; so named, the manifest is read."
    cfg = get_config('smoke', **{'units.rate_hz': 25})
    specs = [{'split': 'train', 'voice': 'v0'},                                      # line 1: sentence 0
             {'split': 'test_voice', 'voice': 'v1', 'query_text': 'sentence 0'},     # line 2: a new voice of line 1's sentence
             {'split': 'test_voice', 'voice': 'v1'},                                 # line 3: sentence 2, which no line trains on
             {'split': 'test_sentence', 'voice': 'v0'},                              # line 4: a new sentence in line 1's voice
             {'split': 'test_sentence', 'voice': 'v2'},                              # line 5: v2, which no line trains on
             {'split': 'test_sentence'}]                                             # line 6: no voice named: nothing to check
    m = _dialogues(tmp_path, specs)
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError) as e: external_rows(cfg, m)
    said = str(e.value)
    assert '2 line(s) cannot be used, nothing was written' in said and not any(f'line {n}:' in said for n in (1, 2, 4, 6))
    assert ("line 3: its split is test_voice (a new speaker of a sentence training hears), but no training line says its "
            "query_text 'sentence 2': name it test (a new speaker and a new sentence), or add a training line of that sentence") in said
    assert ("line 5: its split is test_sentence (a new sentence in a voice training hears), but no training line is in its "
            "voice 'v2': name it test (a new sentence and a new speaker), or add a training line in that voice") in said
    assert snapshot(tmp_path) == before
    specs[2]['split'] = specs[4]['split'] = 'test'
    rows = external_rows(cfg, _dialogues(tmp_path / 'fixed', specs))
    assert [r['split'] for r in rows] == ['train', 'test_voice', 'test_both', 'test_sentence', 'test_both', 'test_sentence']


def test_a_manifests_sentence_kind_is_read_loosely_and_a_split_cell_of_spaces_is_empty(tmp_path):
    "sentence_kind ' Tone ' is 'tone' and 'EXPLICIT' 'explicit' (the statistics count kinds); another kind is refused "
    "with its line and nothing written. A split cell of spaces is an empty one: the kit splits the line."
    cfg = get_config('smoke', **{'units.rate_hz': 25})
    specs = [{'split': '  ', 'sentence_kind': ' Tone '}, {'split': '', 'sentence_kind': 'EXPLICIT'}, {'split': ' \t', 'sentence_kind': ''}]
    with pytest.warns(UserWarning, match='names no voice'): rows = external_rows(cfg, _dialogues(tmp_path / 'blank', specs))
    assert [r['sentence_kind'] for r in rows] == ['tone', 'explicit', '']
    with pytest.warns(UserWarning, match='names no voice'):
        none = external_rows(cfg, _dialogues(tmp_path / 'none', [{'sentence_kind': sp['sentence_kind']} for sp in specs]))
    assert [r['split'] for r in rows] == [r['split'] for r in none] and sorted(r['split'] for r in rows) == ['test_sentence', 'train', 'train']
    m = _dialogues(tmp_path / 'odd', [{'split': 'train', 'sentence_kind': 'sarcastic'}, {'split': 'test'}])
    before = snapshot(tmp_path / 'odd')
    with pytest.raises(ConfigError, match=r"line 1: sentence_kind 'sarcastic' is not 'tone' \(.*\) or 'explicit' \(.*\): use "
                                          r"one of them, or leave it empty"):
        external_rows(cfg, m)
    assert snapshot(tmp_path / 'odd') == before


def test_token_files_are_read_by_a_suffix_the_kit_knows_and_as_one_stream(tmp_path):
    "A token file of another suffix is refused with the ones read (not split as text); '0012' is the token 12; a JSON "
    "[[…]] of one codebook is one stream, as a .npy [1, T] is; two codebooks, or digits int() takes but no one writes, are refused."
    for name in ('u.pt', 'u.csv', 'u'):
        (tmp_path / name).write_text('1 2 3')
        with pytest.raises(ValueError, match=r"has the suffix .*: token files are read by their suffix, one of \.npy \(an integer "
                                             r"array\), \.json \(a list\) or \.txt"):
            read_units(tmp_path / name)
    f = tmp_path / 'u.txt'; f.write_text('0012 0453,7\n'); assert read_units(f) == [12, 453, 7]
    for bad in ('1_000 2', '12 ٣'):
        f.write_text(bad)
        with pytest.raises(ValueError, match='which is not an integer token'): read_units(f)
    f = tmp_path / 'u.json'
    for text, want in (('[[1, 2, 3]]', [1, 2, 3]), ('[[4], [5], [6]]', [4, 5, 6]), ('["0012", 3]', [12, 3])):
        f.write_text(text); assert read_units(f) == want
    f.write_text('[[1, 2], [3, 4]]')
    with pytest.raises(ValueError, match=r'holds 2 lists of tokens, not one stream'): read_units(f)


def test_load_folder_names_the_line_a_row_begins_on(tmp_path):
    "A quoted text with a line break, and a blank line, do not shift the lines load_folder names: a row is named by "
    "the line it begins on, as a manifest's are; the rows' ids stay those of their row."
    d = _byo(tmp_path, b'path,text,emotion\n'
                       b'a.wav,"Hello,\nthere.",happy\n'    # lines 2-3
                       b'\n'                               # line 4: blank
                       b'gone.wav,Where?,sad\n'            # line 5
                       b'b.wav,Fine.,bored\n'              # line 6
                       b'c.wav,Once.,sad\n')               # line 7
    skipped = []
    with pytest.warns(UserWarning, match=r'skipped 2 bad row\(s\):\n  line 5 \(gone\.wav\)'): ds = load_folder(d, skipped=skipped)
    assert [b['line'] for b in skipped] == [5, 6] and 'bored' in skipped[1]['reason']
    assert ds['query_text'] == ['Hello,\nthere.', 'Once.'] and ds['id'] == [f'{d.name}-2', f'{d.name}-5']
