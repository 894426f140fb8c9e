"""Every heavy path on the settings' device, checked on a CPU: with a pretend GPU (tests/fake_accelerator.py) a tensor
left on the CPU in a device computation fails as it would on a real one."""
import contextlib, shutil, sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fake_accelerator import DeviceMixed, FakeAccelerator, fake_generator   # noqa: E402
from emotion_omni_lite.cli import train_stage                                # noqa: E402
from emotion_omni_lite.config import get_settings                            # noqa: E402


@pytest.fixture
def on_cuda(smoke_settings, smoke_cfg, tmp_path, monkeypatch):
    "The smoke runs (trained on the CPU), copied without their caches, and settings that put the heavy paths on `cuda`."
    for n in ('data', 'asr', 'emotion_encoder', 'text_llm', 'stage1', 'vocoder', 'stage2'): train_stage(n, smoke_cfg, smoke_settings)
    runs = tmp_path / 'runs'
    shutil.copytree(smoke_settings.out_dir, runs, ignore=shutil.ignore_patterns('stage1_features', 'stage2_features', 'report'))
    monkeypatch.setattr(torch, 'Generator', lambda device='cpu': fake_generator(device))
    from emotion_omni_lite import config
    monkeypatch.setattr(config, 'device_available', lambda d: True)   # the pretend GPU is there
    return get_settings(preset='smoke', data_dir=str(smoke_settings.data_dir), out_dir=str(runs), device='cuda')


@contextlib.contextmanager
def reaching(fa: FakeAccelerator, what: str, least: int = 10):
    "Fail unless more than `least` tensors are moved to or computed on the pretend device within: the work ran there (a model left on the CPU computes on CPU inputs, and nothing there is the device's)."
    moved = []; fa._tag = lambda t: (moved.append(t.shape), FakeAccelerator._tag(fa, t))[1]
    try: yield moved
    finally: del fa._tag
    assert len(moved) > least, f'{what} never reached the device ({len(moved)} tensors there)'


def test_the_pretend_gpu_catches_a_tensor_left_on_the_cpu():
    m = torch.nn.Linear(3, 2)
    with FakeAccelerator() as fa:
        with pytest.raises(AssertionError, match='the layer never reached the device'):
            with reaching(fa, 'the layer', least=0): m(torch.randn(4, 3))   # on the CPU: nothing counted
        with reaching(fa, 'the layer', least=2): m.to('cuda'); m(torch.randn(4, 3).to('cuda'))   # its weight, bias, input, output
        with pytest.raises(DeviceMixed, match='same device'): m(torch.randn(4, 3))
        assert m(torch.randn(4, 3).to(next(m.parameters()).device)).device.type == 'cuda'


def test_caching_reply_states_respond_and_evaluation_run_on_the_device(on_cuda, smoke_cfg, monkeypatch):
    from emotion_omni_lite import stage2
    from emotion_omni_lite.audio import load_audio
    from emotion_omni_lite.dataset import audio_path
    from emotion_omni_lite.omni import load_omni, speech_figures
    from emotion_omni_lite.stage1 import evaluate_stage1, load_stage1, stage1_features
    from emotion_omni_lite.stage2 import collate_stage2, prepare_stage2, stage2_example, stage2_features
    s = on_cuda
    batch = lambda f, cross: collate_stage2([stage2_example(f, 0)] + [{k: v for k, v in x.items() if k not in ('emotion', 'row')}
                                                                      for x in cross[:3]])   # as stage2_job's data mixes them
    with FakeAccelerator() as fa:
        with reaching(fa, 'the encoders'): f1 = stage1_features(smoke_cfg, s, progress=False)   # the encoders ran on the device …
        assert not any(fa.is_on(t) for k in ('sem', 'emo') for t in f1[k]) and not fa.is_on(f1['emotion_vec_true'])   # … cached on the CPU
        with reaching(fa, "stage 1's LLM"): f2 = stage2_features(smoke_cfg, s, progress=False)   # stage 1's reply states, made there
        assert not any(fa.is_on(t) for k in ('h', 'e') for t in f2[k])
        with reaching(fa, 'the emotion encoder'): f2, cross = prepare_stage2(smoke_cfg, s)   # replies spoken again, heard on the device: their
        assert cross and not any(fa.is_on(x['emotion_vec_true']) for x in cross)   # vectors come back to the CPU, and
        assert batch(f2, cross)['emotion_vec_true'].shape[0] == 1 + len(cross[:3])   # batch with the cached examples (a mixed stack failed)
        real = stage2.load_cache                                           # a cache written on a GPU loads back onto it
        monkeypatch.setattr(stage2, 'load_cache', lambda p: [{k: v.to('cuda') if torch.is_tensor(v) else v for k, v in x.items()}
                                                             for x in real(p)] if p.name.startswith('cross_') else real(p))
        f2, cross = prepare_stage2(smoke_cfg, s)
        assert cross and not any(fa.is_on(x[k]) for x in cross for k in ('emotion_vec_true', 'emotion_vec_pred'))
        batch(f2, cross)
        pipe = load_stage1(smoke_cfg, s)
        assert pipe.device.type == 'cuda'
        assert evaluate_stage1(pipe, f1, max_rows=4)['n_eval'] == 4
        omni = load_omni(smoke_cfg, s)
        assert omni.device.type == 'cuda' and all(p.device.type == 'cuda' for p in omni.parameters())
        r = omni.respond(load_audio(audio_path(f1['rows'][0], s)))
        assert r['audio'].device.type == 'cpu' and not fa.is_on(r['audio']) and len(r['units']) > 0
        back = [k for k, v in r.items() if isinstance(v, torch.Tensor) and (v.device.type != 'cpu' or fa.is_on(v))]
        assert not back, f'respond left {back} on the device'                  # a lesson subtracts them from CPU tensors
        m = speech_figures(smoke_cfg, s, 2, omni, n_follow=1)
        assert m['n_eval'] == 2
        with pytest.raises(DeviceMixed):                                   # and the check is live: a CPU input fails
            omni.adapter(torch.randn(1, 10, smoke_cfg.semantic_encoder.d_model), torch.randn(1, 10, smoke_cfg.emotion_encoder.dim),
                         torch.tensor([10]))


def test_the_probe_panel_hears_answers_and_speaks_on_the_device(on_cuda, smoke_cfg):
    "The probe panel's parts with the kit on the device: what they hear, answer and say comes back as numbers on the CPU (the emotion encoder's output, left on the GPU, failed at `.numpy()`)."
    from emotion_omni_lite.config import EMOTIONS
    from emotion_omni_lite.widgets import kit_parts
    wave = torch.randn(16000) * 0.1
    with FakeAccelerator() as fa:
        parts = kit_parts(smoke_cfg, on_cuda, n_points=50)
        with reaching(fa, "the panel's emotion encoder"): probs, vec = parts.hear(wave)
        with reaching(fa, "the panel's encoders and stage 1"): r = parts.answer(wave)
        audio, sr = parts.speak(r, r['emotion_vec_pred'])
    assert probs.shape == (len(EMOTIONS),) and abs(probs.sum() - 1) < 1e-4 and vec.shape == (smoke_cfg.emotion_encoder.dim,)
    assert r['emotion_vec_pred'].shape == vec.shape and len(audio) > 0 and sr > 0

def test_the_pretrained_encoders_hear_on_the_device(tmp_path, monkeypatch):
    "The full preset's encoders (a Whisper checkpoint, a wav2vec2 emotion classifier) on the settings' device: the emotion encoder's mask, made on the CPU, failed on a real GPU."
    from test_full_rehearsal import write_checkpoints, write_settings
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.emotion_encoder import load_emotion_encoder
    from emotion_omni_lite.semantic_encoder import load_semantic_encoder
    from emotion_omni_lite.stage1 import encode_speech
    write_checkpoints(tmp_path)
    for k in ('PRESET', 'DATA_DIR', 'OUT_DIR', 'SEED', 'DEVICE'): monkeypatch.delenv(f'EOL_{k}', raising=False)
    monkeypatch.setenv('EOL_SETTINGS', str(write_settings(tmp_path)))
    cfg, s = get_config('full'), get_settings()
    sem, emo = load_semantic_encoder(cfg, s), load_emotion_encoder(cfg, s)        # loaded on the CPU, then moved
    waves = [torch.randn(16000) * 0.1, torch.randn(12000) * 0.1]
    want = encode_speech(sem, emo, waves, cfg.audio)
    with FakeAccelerator() as fa:
        sem, emo = sem.to('cuda'), emo.to('cuda')
        assert all(fa.is_on(p) for m in (sem, emo) for p in m.parameters())
        got = encode_speech(sem, emo, waves, cfg.audio)                         # the waves go to the device inside
    assert [t.shape for t in got] == [t.shape for t in want] and torch.equal(got[2], want[2])   # (autocast is off on the pretend GPU)
    assert all(not fa.is_on(t) for t in got)                                     # handed back on the CPU
