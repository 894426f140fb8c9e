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


def test_piper_pseudo_speaker():
    r = solution('piper_pseudo_speaker').main()
    assert 1.9 < r['f0_ratio'] < 2.2 and r['centroid_ratio'] > 1.15            # an octave up; the formants up too


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


def test_preset_section():
    r = solution('preset_section').main()
    assert (r['full_layers'], r['checkpointing'], r['lite_layers']) == (2, True, 4)
    assert 'is not a config field' in r['llm.num_layerz = 2'] and 'not a valid value' in r['llm.num_layers = two']


def test_train_accum_bf16():
    r = solution('train_accum_bf16').main(steps=60)
    assert r['as is'] == r['grad_accum 4']                              # the same step, in four pieces
    assert r['bf16'] != r['as is'] and r['bf16']['dtype'] == 'torch.float32'
    assert abs(r['bf16']['slope'] - r['as is']['slope']) < 0.05         # close, not equal


def test_external_manifest(smoke_settings):
    r = solution('external_manifest').main(settings=smoke_settings)
    assert r['rows'] == 3 and r['units_as_brought'] and r['nothing_written']
    assert '3 line(s) cannot be used' in r['refused'] and 'outside' in r['refused'] and 'missing' in r['refused'] \
        and 'per second' in r['refused']


def test_memory_longer_replies():
    r = solution('memory_longer_replies').main()
    assert r[16.0]['stage1'] == r[8.0]['stage1']
    assert 1.4 < r[16.0]['stage2'] / r[8.0]['stage2'] < 2.0


@pytest.fixture(scope='module')
def smoke_trained(smoke_settings, smoke_cfg):
    "The smoke runs the remaining solutions read (trained once, or reused)."
    from emotion_omni_lite.cli import ensure_stages
    ensure_stages(['asr', 'emotion_encoder', 'text_llm', 'vocoder', 'stage2'], smoke_cfg, smoke_settings)
    return smoke_settings


def test_asr_unseen_words(smoke_trained):
    r = solution('asr_unseen_words').main(settings=smoke_trained, n=8)
    assert 0 < r['n'] <= 8 and 0 <= r['wrong_and_unseen'] <= r['wrong_words'] and 0 <= r['share_unseen'] <= 1


def test_emotion_confusions(smoke_trained):
    r = solution('emotion_confusions').main(settings=smoke_trained)
    assert sum(sum(v.values()) for v in r['confusion'].values()) == r['n'] > 0 and len(r['most_confused']) == 2


def test_cross_engine_confusions(smoke_trained):
    from emotion_omni_lite.config import EMOTIONS
    r = solution('cross_engine_confusions').main(settings=smoke_trained)
    assert [v['heard_on'] for v in r.values()] == ['piper', 'espeak']
    assert all(0 <= v['accuracy'] <= 1 and v['absorbs'] in EMOTIONS and len(v['per_emotion']) == 6 for v in r.values())


def test_llm_written_emotion(smoke_trained):
    from emotion_omni_lite.config import EMOTIONS
    r = solution('llm_written_emotion').main(settings=smoke_trained)
    assert list(r['replies']) == list(EMOTIONS) and 0 <= r['follows'] <= 6


def test_griffin_lim_iterations(smoke_trained):
    r = solution('griffin_lim_iterations').main(settings=smoke_trained, iters=(2, 8))
    assert set(r) == {2, 8} and all(v['seconds'] > 0 and v['mel_l1'] > 0 for v in r.values())


def test_speak_other_emotions(smoke_trained):
    r = solution('speak_other_emotions').main(settings=smoke_trained)
    assert len(r['heard']) == len(r['seconds']) >= 2 and 0 <= r['follows_condition'] <= len(r['heard'])


def test_stale_runs(smoke_trained):
    r = solution('stale_runs').main(settings=smoke_trained)
    assert r['stage2 lr']['to train'] == ['stage2', 'stage2_no_adaln']
    assert r['emotion steps']['to train'] == ['emotion_encoder', 'stage1', 'stage1_semantic_only', 'emotion_encoder_espeak_only',
                                              'emotion_encoder_piper_only', 'stage2', 'stage2_no_adaln']   # the cross-engine runs: a third of its steps


def test_tone_or_words():
    r = solution('tone_or_words').main()
    assert r['kinds']['tone'] > 0 and r['kinds']['explicit'] > 0 and len(set(r['replies'].values())) == 6
    assert r['best_words_only_style'] == round(1 / 6, 3) and r['best_words_only_reply_emotion'] == round(2 / 6, 3)


def test_streaming_latency(smoke_trained):
    r = solution('streaming_latency').main(settings=smoke_trained, repeats=1)
    for t in r.values(): assert 0 < t['first_text_token_ms'] <= t['first_audio_ms'] <= t['total_ms']


def test_pitch_in_noise():
    r = solution('pitch_in_noise').main()
    assert r['clean']['voiced_share'] > r['0 dB']['voiced_share'] and abs(r['20 dB']['median_f0_hz'] - r['clean']['median_f0_hz']) < 5


def test_which_metric():
    r = solution('which_metric').main()
    assert r['a word misspelt']['cer'] < r['a word dropped']['cer'] < r['words reordered']['cer']
    assert r['a word dropped']['wer'] == r['a word misspelt']['wer'] < r['words reordered']['wer']
    assert r['words reordered']['rouge_l'] < r['a word misspelt']['rouge_l'] < r['a word dropped']['rouge_l']


def test_voice_controls(smoke_trained):
    r = solution('voice_controls').main(settings=smoke_trained)
    assert list(r) == ['as spoken', 'pitch +4 st', 'rate x1.3', 'loudness +6 dB'] and all(0 <= v['p_top'] <= 1 for v in r.values())


def test_what_trains():
    r = solution('what_trains').main()
    assert r['stage1']['trainable'] < 0.02 * r['stage1']['total'] and 1000 < r['stage2']['trainable'] < 1500


def test_critical_path():
    r = solution('critical_path').main()
    assert r['critical_path'] == ['data', 'emotion_encoder', 'stage1', 'stage2'] and r['longest_on_it'] == 'emotion_encoder'
    from emotion_omni_lite.stages import STAGES
    assert r['critical_minutes'] == round(sum(STAGES[n].lite_minutes for n in r['critical_path']), 1)


def test_targets_and_guards():
    r = solution('targets_and_guards').main()
    a, b, c = r.values()
    assert (a['stands'], a['guard'], a['fresh_run_ends']) == ('missed', 0.75, 'green')
    assert (b['stands'], b['guard'], b['fresh_run_ends']) == ('holds with margin', 0.85, 'red')
    assert (c['stands'], c['guard'], c['fresh_run_ends']) == ('missed', 0.18, 'green')


def test_pack_and_damage(smoke_trained):
    from emotion_omni_lite.stages import STAGES
    r = solution('pack_and_damage').main(settings=smoke_trained)
    assert r['current_after_unpack'] == sorted(STAGES) and r['vocoder_after_one_bit'] == 'damaged'
    assert r['stage2_after_one_bit'] == 'done'


def test_read_the_report(smoke_trained):
    r = solution('read_the_report').main(settings=smoke_trained)
    assert set(r['table']) == {'(a) cascade', '(b) semantic only', '(c) Emotion Omni', '(d) no AdaLN'}
    assert -1 <= r['tone_adds_reply_emotion'] <= 1 and -1 <= r['adaln_adds_speech_emotion'] <= 1
