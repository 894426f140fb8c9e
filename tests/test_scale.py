"The full-size check: the paper's architecture built on the meta device matches the published model sizes."
import json, subprocess, sys
from emotion_omni_lite.config import get_config
from emotion_omni_lite.scale import param_table


def test_full_size_stages_add_up():
    # the LLM and Whisper encoder against the published sizes, and the speech side's ~1.3 B: checked in
    # nbs/90_scale.ipynb (cells 9686901f, c6efe7ed)
    t = param_table(get_config('full'))
    speech = t['parts']['fusion'] + t['parts']['adaln'] + t['parts']['decoder']
    s1 = t['stages']['stage1']
    assert s1['trainable'] == t['parts']['adapter'] + t['parts']['lora'] + t['parts']['emotion_head']
    # stage 1 freezes the two encoders and the LLM and leaves the speech side out; stage 2 uses every part
    assert s1['frozen'] == t['parts']['semantic_encoder'] + t['parts']['emotion_encoder'] + t['parts']['llm']
    assert s1['total'] == t['total'] - speech and t['stages']['stage2']['total'] == t['total']
    assert abs(t['bf16_gib'] - t['total'] * 2 / 2**30) < 1e-9


def test_lite_is_much_smaller():
    assert param_table(get_config('lite'))['total'] * 500 < param_table(get_config('full'))['total']


def test_eol_params_json():
    out = subprocess.run([sys.executable, '-m', 'emotion_omni_lite.cli', 'params', '--preset', 'full', '--json'],
                         capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    for k in ('semantic_encoder', 'emotion_encoder', 'adapter', 'llm', 'lora', 'emotion_head', 'decoder'):
        assert d['parts'][k] > 0
    assert abs(d['parts']['llm'] - 7.62e9) / 7.62e9 < 0.01                  # the full preset, not the default one
    assert set(d['stages']) == {'stage1', 'stage2'}


def test_eol_eval_names_missing_stage(tmp_path):
    env = {'EOL_OUT_DIR': str(tmp_path / 'runs'), 'EOL_DATA_DIR': str(tmp_path / 'data'), 'HF_HUB_OFFLINE': '1',
           'PATH': '/usr/bin:/bin'}
    r = subprocess.run([sys.executable, '-m', 'emotion_omni_lite.cli', 'eval', '--preset', 'smoke'],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert 'stage 1' in r.stderr and 'eol run --preset smoke' in r.stderr
