"""Shared fixtures: settings for the smoke preset (a temporary folder) and the lite preset (the kit's own folders); the tests
not marked slow run on the default settings, whatever settings.ini and the EOL_* variables say (`pytest_runtest_protocol`)."""
import os
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
import tempfile
from pathlib import Path
import huggingface_hub.constants as hub
import pytest
from emotion_omni_lite.config import get_config, get_settings

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get('EOL_CHROMIUM', '/usr/bin/chromium'))   # the browser the real-browser tests drive
TEST_KNOBS = ('EOL_CHROMIUM', 'EOL_SCREENSHOT_DIR', 'EOL_BROWSER_NOTEBOOK', 'EOL_BROWSER_BUDGET_S')   # the tests' own, not the kit's


def pytest_configure(config):
    "A settings file of the defaults (the checkout's data/ and runs/): what the tests not marked slow read."
    config._eol_defaults = tempfile.TemporaryDirectory(prefix='eol-defaults-')
    f = Path(config._eol_defaults.name) / 'settings.ini'
    f.write_text(f'[emotion_omni_lite]\ndata_dir = {ROOT / "data"}\nout_dir = {ROOT / "runs"}\n')
    config._eol_settings = f


def pytest_unconfigure(config):
    if hasattr(config, '_eol_defaults'): config._eol_defaults.cleanup()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A test not marked slow, with its fixtures of every scope, runs on the default settings: EOL_SETTINGS names the file
    above, no other EOL_* variable is set (a settings.ini section of the student's, or EOL_SEED=1, changes nothing) and the
    hub is offline. Tests marked slow keep the environment as given: `eol run --guards` passes its run's settings in it.
    (A hook, not an autouse fixture: fixtures shared by a whole test run or module are set up before a function's autouse one.)"""
    if item.get_closest_marker('slow'): return (yield)
    with pytest.MonkeyPatch.context() as mp:
        for k in [k for k in os.environ if k.startswith('EOL_') and k not in TEST_KNOBS]: mp.delenv(k)
        mp.setenv('EOL_SETTINGS', str(item.config._eol_settings))
        for k in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'): mp.setenv(k, '1')
        mp.setattr(hub, 'HF_HUB_OFFLINE', True)                          # the hub library read the variable when imported
        return (yield)


@pytest.fixture(scope='session')
def smoke_settings(tmp_path_factory):
    "Settings for the `smoke` preset with data and runs in one temporary folder for the whole test run."
    root = tmp_path_factory.mktemp('smoke')
    return get_settings(preset='smoke', data_dir=str(root / 'data'), out_dir=str(root / 'runs'), device='cpu')


@pytest.fixture(scope='session')
def smoke_cfg():
    return get_config('smoke')


@pytest.fixture(scope='session')
def lite_settings():
    "Settings for the `lite` preset in the kit's own data/ and runs/ folders, so trained lite stages are reused."
    return get_settings(preset='lite', device='cpu')


@pytest.fixture(scope='session')
def lite_cfg():
    return get_config('lite')


@pytest.fixture
def online_but_unreachable(monkeypatch):
    "Offline mode off and every connection refused: the list of connections tried (a loader that reads local files only tries none)."
    import socket
    import huggingface_hub.constants as hub
    from huggingface_hub.utils import _detect_agent
    tried = []
    def refuse(*a, **k): tried.append(a); raise OSError('no network here')
    monkeypatch.setattr(hub, 'HF_HUB_OFFLINE', False)
    monkeypatch.setattr(_detect_agent, '_registry', _detect_agent._EMPTY_REGISTRY)   # the hub library's own once-a-day
                                                                                       # look-up for its request headers: not the model's
    for k in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'): monkeypatch.setenv(k, '0')
    monkeypatch.setattr(socket, 'getaddrinfo', refuse); monkeypatch.setattr(socket.socket, 'connect', refuse)
    return tried


def untrained_omni(cfg):
    """The assembled model, built by `EmotionOmni`'s own constructor (its checks run) from untrained parts, so no run is
    needed; its LLM writes no reply (the first token ends it), and its tokenizer decodes nothing."""
    from types import SimpleNamespace
    import torch
    from torch import nn
    from emotion_omni_lite.adapter import build_adapter
    from emotion_omni_lite.emotion_encoder import build_emotion_encoder
    from emotion_omni_lite.omni import EmotionOmni
    from emotion_omni_lite.semantic_encoder import build_semantic_encoder
    from emotion_omni_lite.stage1 import build_emotion_head
    from emotion_omni_lite.stage2 import Stage2Model
    from emotion_omni_lite.vocoder import build_vocoder
    torch.manual_seed(0)
    s2 = Stage2Model(cfg)
    m = EmotionOmni(cfg, build_semantic_encoder(cfg), build_emotion_encoder(cfg), build_adapter(cfg), nn.Linear(1, 1),   # the LLM:
                    build_emotion_head(cfg), s2.fusion, s2.decoder, build_vocoder(cfg, trained=False),             # never run
                    SimpleNamespace(decode=lambda ids, **k: ''), None, speech_id=0, end_id=0)
    m.reply_tokens = lambda feat, on_token=None: iter(())               # what the tests stub: the reply the LLM writes
    return m.eval()
