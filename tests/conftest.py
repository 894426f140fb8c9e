"Shared fixtures: settings for the smoke preset (a temporary folder) and the lite preset (the kit's own folders)."
import os
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
import pytest
from emotion_omni_lite.config import get_config, get_settings


@pytest.fixture(scope='session')
def smoke_settings(tmp_path_factory):
    "Settings for the `smoke` preset with data and runs in a session-wide temporary folder."
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
