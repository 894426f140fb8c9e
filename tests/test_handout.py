"The lab handout's exercises: every solution in nbs/solutions runs (under smoke) and says what the handout says."
import importlib.util, json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / 'nbs' / 'solutions'


def solution(name):
    spec = importlib.util.spec_from_file_location(f'solution_{name}', SOLUTIONS / f'{name}.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_every_solution_is_an_exercise_of_the_handout():
    handout = (ROOT / 'nbs' / 'handout.md').read_text()
    named = set(re.findall(r'\(`(\w+)\.py`', handout))
    assert named == {p.stem for p in SOLUTIONS.glob('*.py')}


def test_adapter_stack4():
    r = solution('adapter_stack4').main('smoke')
    assert r[5]['positions'] == r[5]['predicted'] == 30 and r[4]['positions'] == r[4]['predicted'] == 37
    assert r[4]['rate_hz'] == 12.5 and r[4]['first_layer_inputs'] * 5 == r[5]['first_layer_inputs'] * 4


def test_adapter_interleave():
    r = solution('adapter_interleave').main('smoke')
    assert r['positions'] == {'concat': 30, 'interleave': 60} and r['attention_cost_ratio'] == 4


def test_tts_six_emotions():
    r = solution('tts_six_emotions').main()
    assert sorted(r['by_pitch']) == sorted(r['rows']) and len(r['rows']) == 6 and len(r['closest']) == 2
    assert all(60 < v['median_f0_hz'] < 500 and v['seconds'] > 0.5 for v in r['rows'].values())


def test_decoder_first_audio():
    r = solution('decoder_first_audio').main()
    assert r[5] == {'unit_20_sees': list(range(1, 11)), 'first_chunk_needs_tokens': 5}
    assert r[3]['first_chunk_needs_tokens'] == 3 and r[3]['unit_20_sees'] == list(range(1, 7))


def test_stage1_without_head(smoke_settings, tmp_path):
    mod = solution('stage1_without_head')
    r = mod.main(settings=smoke_settings, scratch=tmp_path)
    recipe = json.loads((Path(smoke_settings.run_path) / 'stage1' / 'metrics.json').read_text())
    assert set(r['no_emotion_loss']) == set(mod.KEYS) and r['recipe'] == {k: recipe[k] for k in mod.KEYS}   # untouched
    conf = json.loads((tmp_path / 'smoke' / 'stage1' / 'config.json').read_text())
    assert conf['stages']['stage1']['emotion_weight'] == 0.0


def test_units_how_many(smoke_settings):
    r = solution('units_how_many').main(settings=smoke_settings, n_fit=40)
    many, few = sorted(r, reverse=True)
    assert r[many]['mse'] < r[few]['mse']                                  # fewer centres, a coarser rebuild


def test_cues_pitch_shift(smoke_settings):
    r = solution('cues_pitch_shift').main(settings=smoke_settings)
    assert all(abs(sum(r[st].values()) - 1) < 0.01 for st in (-4, 0, 4))   # probabilities (rounded to 3 places)
    assert r[-4] != r[4]                                                   # the shift reached the encoder's input
