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
