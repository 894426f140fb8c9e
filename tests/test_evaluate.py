"The evaluation: a missing run is named (no traceback), scoring and the report on hand-made records, the smoke run end to end, and the lite report."
import json, re, shutil
import torch

import pytest

from emotion_omni_lite.config import ConfigError, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.evaluate import (EVAL_SIZES, EVAL_STAGES, IncompleteRun, check_run, eval_stages, evaluate_part,
                                        evaluate_run, evaluate_text, run_figures)
from emotion_omni_lite.stages import STAGES, stage_folder, stage_hash
from emotion_omni_lite.report import SYSTEMS, assert_guard, benchmark_table, score, write_report

REQUIRED = ('input_emotion_acc', 'reply_emotion_acc_tone', 'reply_emotion_acc_tone_semantic_only',
            'reply_emotion_acc_tone_cascade', 'speech_emotion_acc', 'asr_cer', 'pocketsphinx_wer_generated',
            'pocketsphinx_wer_reference', 'dnsmos_ovrl', 'first_audio_ms', 'rtf', 'bleu', 'rouge_l', 'style_acc',
            'style_acc_tone', 'emotion_cos_sim', 'peak_memory_mb', 'first_text_ms', 'speech_emotion_acc_no_adaln',
            'dnsmos_ovrl_cascade', 'empathy_proxy', 'empathy_judge_status', 'asr_wer_generated',
            'prosodic_baseline_acc_heldout_voice')


def test_missing_run_is_named_not_a_traceback(tmp_path, capsys, monkeypatch):
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    with pytest.raises(IncompleteRun) as e: evaluate_run(settings=s)
    msg, cfg = str(e.value), get_config('smoke')
    names = eval_stages(cfg)                          # smoke's data has two engines: the cross-engine encoders count too
    assert set(names) - set(EVAL_STAGES) == {'emotion_encoder_espeak_only', 'emotion_encoder_piper_only'}
    for name in names: assert STAGES[name].what in msg, name
    assert f"eol run --preset smoke --stages {' '.join(n for n in STAGES if n in names)}" in msg   # in the table's order
    # an incomplete run: only the stage-2 ablation missing → only it is named, and only it is to be run
    for name in names:
        if name == 'stage2_no_adaln': continue
        d = stage_folder(name, s); d.mkdir(parents=True)
        if name == 'data': (d / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': stage_hash(name, cfg, s.seed)}))
        else:
            (d / 'metrics.json').write_text('{}'); (d / 'files.json').write_text('{}')
            (d / 'config.json').write_text(json.dumps({'hash': stage_hash(name, cfg, s.seed)}))
    with pytest.raises(IncompleteRun, match='1 run') as e: check_run(cfg, s)
    assert 'without AdaLN' in str(e.value) and 'stage 1:' not in str(e.value)
    assert 'eol run --preset smoke --stages stage2_no_adaln`' in str(e.value)
    # a run of another config does not count: it is named as such
    (stage_folder('stage1', s) / 'config.json').write_text(json.dumps({'hash': 'someoneelse'}))
    with pytest.raises(IncompleteRun, match='2 run') as e: check_run(cfg, s)
    assert 'stage1 (stage 1' in str(e.value) and 'other' in str(e.value)
    assert "a run of other settings ('other') is replaced: copy its folder first to keep it" in str(e.value)   # said first
    # the console command prints the message and exits 2
    from emotion_omni_lite.cli import main
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'none' / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'none' / 'runs'))
    with pytest.raises(SystemExit) as ex: main(['eval', '--preset', 'smoke'])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and 'nothing was evaluated' in err and 'Traceback' not in err
    (tmp_path / 'afile').write_text('notes')                            # a file where the runs should be: said as such
    with pytest.raises(ConfigError, match=rf"{re.escape(str(tmp_path / 'afile'))} is a file, not a folder, where the runs should be"):
        check_run(cfg, get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'afile')))


def _rec(kind, emo, tgt, style, omni_emo, speech=None):
    base = {'text': 'i am so sorry about the exam', 'emotion': omni_emo, 'style': style}
    if speech: base.update(speech_emotion=speech, dnsmos=3.0, ps_text='i am so sorry about the', asr_text='i am so sorry about the exam', emo_cos=0.8)
    return {'id': 'x', 'sentence_kind': kind, 'user_emotion': emo, 'target_emotion': tgt, 'target_style': style,
            'ref_text': 'i am so sorry about the exam', 'query_text': 'the exam is next week', 'input_pred': emo,
            'asr_text': 'the exam is next week',
            'sys': {'omni': base, 'omni_no_adaln': dict(base, speech_emotion='neutral') if speech else dict(base),
                    'semantic_only': dict(base, emotion='neutral'),
                    'cascade': {'text': 'thanks for telling me', 'emotion': 'neutral', 'style': 'friendly'}},
            'ref_speech': {'speech_emotion': tgt, 'dnsmos': 3.5, 'ps_text': 'i am so sorry about the exam'}}


def test_score_and_report_from_records(tmp_path):
    recs = [_rec('tone', 'sad', 'sad', 'comforting', 'sad', 'sad'), _rec('tone', 'happy', 'happy', 'cheerful', 'happy', 'happy'),
            _rec('tone', 'angry', 'neutral', 'calming', 'neutral'), _rec('explicit', 'fearful', 'sad', 'reassuring', 'sad')]
    flat, details = score(recs, {'first_audio_ms': 120.0, 'rtf': 0.2})
    assert flat['reply_emotion_acc_tone'] == 1.0 and flat['reply_emotion_acc_tone_semantic_only'] == pytest.approx(1 / 3, abs=1e-3)
    assert flat['reply_emotion_acc_tone_cascade'] == pytest.approx(1 / 3, abs=1e-3)
    assert flat['speech_emotion_acc'] == 1.0 and flat['speech_emotion_acc_no_adaln'] == 0.0
    # pocketsphinx WER of generated and reference speech: checked in nbs/15_report.ipynb (cell 059ccd34)
    assert flat['input_emotion_acc'] == 1.0 and flat['asr_cer'] == 0 and flat['emotion_cos_sim'] == pytest.approx(0.8)
    out = write_report(flat, details, tmp_path / 'report')
    rep = json.loads((out / 'report.json').read_text())
    assert all(isinstance(v, (int, float, str)) for v in rep.values())       # a flat map
    assert (out / 'figures' / 'benchmark.html').exists() and (out / 'figures' / 'confusion.html').exists()
    t = benchmark_table(rep)
    assert all(label in t for _, label in SYSTEMS.values()) and '100.0 %' in t and '33.3 %' in t
    # records without a tone-dependent sentence: those accuracies are undefined, written as null (NaN is not JSON)
    flat, details = score([r for r in recs if r['sentence_kind'] != 'tone'])
    rep = json.loads((write_report(flat, details, tmp_path / 'explicit') / 'report.json').read_text(), parse_constant=lambda c: 1 / 0)
    assert rep['input_emotion_acc_tone'] is None and '| `input_emotion_acc_tone` | — |' in (tmp_path / 'explicit' / 'report.md').read_text()


def test_a_reply_style_is_scored_only_where_the_training_rows_pair_one():
    "Where the training rows pair no style with the user's emotion (a manifest without reply styles), two missing styles are not a match: the style figure leaves those records out, and with none left there is no figure."
    recs = [_rec('tone', 'sad', 'sad', 'comforting', 'sad'), _rec('tone', 'happy', 'happy', 'cheerful', 'happy')]
    recs[1]['target_style'] = None
    for o in recs[1]['sys'].values(): o['style'] = None                # a reply with no word the classifier knows
    flat, _ = score(recs)
    assert flat['style_acc'] == 1.0 and flat['style_acc_cascade'] == 0.0  # the first record alone
    for r in recs: r['target_style'] = None
    assert 'style_acc' not in score(recs)[0]                             # no figure (None values are left out of the report)


def test_report_figure_written_whole(tmp_path, monkeypatch):
    "A figure that fails half-way (a full disk) leaves the earlier figure as it was and no partial file."
    import plotly.graph_objects as go
    recs = [_rec('tone', 'sad', 'sad', 'comforting', 'sad', 'sad'), _rec('tone', 'angry', 'neutral', 'calming', 'neutral')]
    flat, details = score(recs)
    out = write_report(flat, details, tmp_path / 'report')
    before = (out / 'figures' / 'benchmark.html').read_bytes()
    def half(self, file, **kw):
        open(file, 'w').write('<html><body>half'); raise OSError(28, 'No space left on device')
    monkeypatch.setattr(go.Figure, 'write_html', half)
    with pytest.raises(OSError, match='No space'): write_report(flat, details, out)
    assert (out / 'figures' / 'benchmark.html').read_bytes() == before
    assert sorted(p.name for p in (out / 'figures').iterdir() if '.tmp' in p.name) == []


def test_smoke_run_end_to_end(smoke_settings, smoke_cfg, tmp_path):
    ensure_stages(eval_stages(smoke_cfg), smoke_cfg, smoke_settings)
    out = evaluate_run(settings=smoke_settings, progress=False)
    shutil.copytree(out, tmp_path / 'report')                         # the shared run's report, put back below: the checks rewrite it
    try: _smoke_report_checks(out, smoke_settings, smoke_cfg)
    finally: shutil.rmtree(out); shutil.move(tmp_path / 'report', out)


def _smoke_report_checks(out, smoke_settings, smoke_cfg):
    rep = json.loads((out / 'report.json').read_text())
    undefined = ('pocketsphinx_wer_generated', 'asr_wer_generated')   # smoke's untrained LLM may reply with no words: WER undefined
    missing = [k for k in REQUIRED if k not in rep and k not in undefined]
    assert not missing, missing
    assert rep['empathy_judge_status'] == 'off' and rep['n_speech_items'] >= 1 and 1 <= rep['dnsmos_ovrl'] <= 5
    md = (out / 'report.md').read_text()
    assert 'Same words, different feelings' in md and 'a proxy, not an LLM judgement' in md
    assert (out / 'figures' / 'timeline.html').exists()
    # two engines: each heard apart, and each cross-engine encoder on the engine it never heard (report.json and .md)
    for k in ('input_emotion_acc_heldout_voice_espeak', 'input_emotion_acc_heldout_voice_piper',
              'cross_engine_espeak_to_piper', 'cross_engine_piper_to_espeak', 'cross_engine_espeak_to_piper_tone'):
        assert 0 <= rep[k] <= 1, k
    from emotion_omni_lite.stages import stage_folder                 # each from its run's own record, not recomputed
    for a, b in (('espeak', 'piper'), ('piper', 'espeak')):
        m = json.loads((stage_folder(f'emotion_encoder_{a}_only', smoke_settings) / 'metrics.json').read_text())
        assert (rep[f'cross_engine_{a}_to_{b}'], rep[f'cross_engine_{a}_to_{b}_tone']) == (m['acc_other_engine'], m['acc_other_engine_tone'])
    assert '## Heard from another engine' in md and '| piper alone |' in md
    # one figure, one source: the benchmark's speech column of (c) and (d) is stage 2's speech figure, same replies
    sp = json.loads((out / 'speech_figures.json').read_text())
    assert rep['speech_emotion_acc'] == sp['adaln']['generated_emotion_acc'] and rep['n_speech_items'] == sp['adaln']['n_eval']
    assert rep['speech_emotion_acc_no_adaln'] == sp['no_adaln']['generated_emotion_acc']
    a = sp['adaln']
    assert a['median_encoders_ms'] > 0 and rep['first_text_ms'] == a['median_first_text_token_ms']
    parts = {p: json.loads((out / 'speech' / f'{p}.json').read_text()) for p in ('omni', 'omni_no_adaln', 'semantic_only', 'cascade')}
    tl = parts['omni']['timeline']                                    # latency from the query's arrival: the encoders count, reply
    assert tl['token_ms'] and 0 < tl['encoders_ms'] <= tl['token_ms'][0]   # by reply (a reply with no words has no first token,
                                                                      # so the two medians may be over different replies)
    assert len({tuple(p['rows']) for p in parts.values()}) == 1                 # every system spoke the same rows
    # the text side, computed once in its own part: the report's records and timing probe are the ones it kept
    text = json.loads((out / 'text.json').read_text())
    assert text['sizes'] == EVAL_SIZES['smoke'] and rep['timing_only_reply_emotion_acc_tone'] == text['extra']['timing_only_reply_emotion_acc_tone']
    # … and the prosodic baseline, so the report card's row is computed by the main job, not left empty
    assert rep['prosodic_baseline_acc_heldout_voice'] == text['extra']['prosodic_baseline_acc_heldout_voice']
    assert run_figures(smoke_cfg, smoke_settings)['prosodic baseline (12 features + linear), held-out voices'] == rep['prosodic_baseline_acc_heldout_voice']
    was = (out / 'speech_figures.json').read_text()                  # an evaluation stopped between its two files
    try:
        (out / 'speech_figures.json').write_text(json.dumps({**sp, 'run_stamp': 'another'}))
        with pytest.raises(ConfigError, match='come from different evaluations.*run `eol eval --preset smoke`'): run_figures(smoke_cfg, smoke_settings)
    finally: (out / 'speech_figures.json').write_text(was)
    kept = [json.loads(l) for l in (out / 'records.jsonl').read_text().splitlines()][:len(text['records'])]
    assert [r['id'] for r in kept] == [r['id'] for r in text['records']] and kept[0]['sys']['omni']['text'] == text['records'][0]['sys']['omni']['text']
    stamp, made = rep['run_stamp'], (out / 'text.json').stat().st_mtime_ns
    assert evaluate_text(smoke_cfg, smoke_settings, progress=False) == out / 'text.json' and (out / 'text.json').stat().st_mtime_ns == made
    evaluate_run(settings=smoke_settings, progress=False)                     # nothing changed: reused
    assert json.loads((out / 'report.json').read_text())['run_stamp'] == stamp
    evaluate_text(smoke_cfg, smoke_settings, progress=False, max_items=2)     # other sizes: made again, for those
    assert len(json.loads((out / 'text.json').read_text())['records']) == 2
    # report.json is written last, and the report counts as current only with the speech figures of the same run:
    # a report.json cut short is made again (no traceback), and so is one beside another run's speech figures
    (out / 'report.json').write_text((out / 'report.json').read_text()[:50])
    evaluate_run(settings=smoke_settings, progress=False)
    assert json.loads((out / 'report.json').read_text())['run_stamp'] == stamp
    sp['run_stamp'] = 'another run'; (out / 'speech_figures.json').write_text(json.dumps(sp))
    (out / 'report.json').write_text(json.dumps({**json.loads((out / 'report.json').read_text()), 'left': 'from before'}))
    evaluate_run(settings=smoke_settings, progress=False)
    assert json.loads((out / 'speech_figures.json').read_text())['run_stamp'] == stamp
    assert 'left' not in json.loads((out / 'report.json').read_text())        # made again, not reused
    # a report.md gone, or the pages' plotly.min.js cut short (a full disk): written again, whole
    js = (out / 'figures' / 'plotly.min.js').read_bytes()
    (out / 'report.md').unlink(); (out / 'figures' / 'plotly.min.js').write_bytes(js[:1000])
    evaluate_run(settings=smoke_settings, progress=False)
    assert (out / 'report.md').exists() and (out / 'figures' / 'plotly.min.js').read_bytes() == js


def test_the_judge_hears_each_system_in_the_voice_it_speaks(smoke_settings, smoke_cfg, monkeypatch):
    "The cascade speaks espeak's neutral preset: the judge is told so, not the emotion its words imply."
    from emotion_omni_lite import evaluate
    ensure_stages(eval_stages(smoke_cfg), smoke_cfg, smoke_settings)
    told = []
    monkeypatch.setattr(evaluate, 'judge_endpoint', lambda s: ('http://judge.invalid/v1/chat/completions', 'a judge'))
    monkeypatch.setattr(evaluate, 'empathy_judge', lambda q, ue, text, voice, **kw: told.append((text, voice)) or 3)
    comfort = 'I am so sorry about that. I am here for you.'                # the cascade's words: plainly comforting
    monkeypatch.setattr(evaluate, 'generate_text', lambda llm, tok, q, max_new_tokens: comfort)
    recs, extra = evaluate.collect(smoke_cfg, smoke_settings, max_items=2, progress=False)
    assert extra['empathy_judge_status'] == 'on (a judge at http://judge.invalid/v1/chat/completions)'
    assert {r['sys']['cascade']['emotion'] for r in recs} == {'sad'}     # its words comfort: the voice told differs from them
    voices = [v for r in recs for v in ({k: o['emotion'] for k, o in r['sys'].items()} | {'cascade': 'neutral'}).values()]
    assert [v for _, v in told] == voices and all(o['judge'] == 3 for r in recs for o in r['sys'].values())


@pytest.mark.slow
def test_lite_report_is_whole_and_its_benchmark_rows_hold_their_guards(lite_settings, lite_cfg):
    "The report has every figure it promises, and its benchmark rows hold their guards (the gap over semantic-only itself is asserted with margin by test_stage1)."
    ensure_stages(eval_stages(lite_cfg), lite_cfg, lite_settings)
    out = evaluate_run(settings=lite_settings, progress=False)
    rep = json.loads((out / 'report.json').read_text())
    missing = [k for k in REQUIRED if k not in rep]
    assert not missing, missing
    # The benchmark's rows, each at its guard in QUALITY. Its Omni − semantic only gap is measured on the report's
    # subset and its guard (−4 points, from the seeds' spread) allows no gap at all; the paper's claim itself, hearing
    # the tone beats the words alone, is asserted with margin on every held-out tone-dependent query by test_stage1
    # ('full − semantic only' ≥ 15 points).
    figs = run_figures(lite_cfg, lite_settings)
    for name in ('benchmark: Omni reply emotion (tone)', 'benchmark: Omni − cascade, reply emotion',
                 'benchmark: Omni − semantic only, reply emotion'):
        assert_guard(name, figs[name])
    print(benchmark_table(rep))


def test_every_figure_the_card_can_read_is_in_quality():
    "run_figures names each figure by its QUALITY row: a name missing there (a study row behind a switch) would stop the report card."
    import ast, inspect, textwrap
    from emotion_omni_lite.evaluate import run_figures
    from emotion_omni_lite.report import QUALITY
    tree = ast.parse(textwrap.dedent(inspect.getsource(run_figures)))
    names = {k.value for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    assert len(names) > 30 and names == set(QUALITY), (names - set(QUALITY), set(QUALITY) - names)


def test_report_shows_the_referenced_study_only_when_it_ran():
    "report.md's 'Heard from another engine': the rows heard against each voice's baseline or a calibration, and stage 1 through them, appear with their own figures when those runs exist, and not otherwise."
    from emotion_omni_lite.report import report_markdown
    flat = {'cross_engine_espeak_to_piper': 0.45, 'cross_engine_piper_to_espeak': 0.64, 'cross_engine_espeak_own_heldout_voice': 0.95}
    md = report_markdown(flat, {})
    assert '| espeak alone | 0.95 | 0.45 (piper)' in md and 'against its own baseline' not in md
    ref = {**flat, 'cross_engine_referenced_espeak_to_piper': 0.592, 'cross_engine_referenced_piper_to_espeak': 0.807,
           'cross_engine_referenced_stage1_reply_emotion_tone': 0.67, 'cross_engine_referenced_stage1_style_tone': 0.625}
    md = report_markdown(ref, {})
    assert "| espeak alone, each voice against its own baseline | — | 0.592 (piper)" in md
    assert "| piper alone, each voice against its own baseline | — | 0.807 (espeak)" in md
    assert '| reply style | — | 0.625 |' in md and 'cross_engine_reference = true' in md
    assert 'calm clips' not in md
    cal = {**ref, 'cross_engine_calibrated_espeak_to_piper': 0.497, 'cross_engine_calibrated_piper_to_espeak': 0.753,
           'cross_engine_calibrated_stage1_reply_emotion_tone': 0.567, 'cross_engine_calibrated_stage1_style_tone': 0.458}
    md = report_markdown(cal, {})
    assert 'against five of its calm clips (`stages.emotion.cross_engine_reference = true`)' in md and '| reply style | — | 0.458 |' in md
    assert "| espeak alone, each voice against five of its calm clips | — | 0.497 (piper)" in md and 'leave out the five calm clips' in md
    assert "| piper alone, each voice against five of its calm clips | — | 0.753 (espeak)" in md


def test_readme_seed_table_shows_the_guards_the_main_job_asserts():
    "README's seed table gives every figure of report.QUALITY with its target and guard as the slow tests assert them: where `chance_floors` raises the guard, the row says the chance floor is asserted (¶), and the note quotes the floors `chance_floors` gives for the benchmark's run README shows."
    from pathlib import Path
    from emotion_omni_lite.dialogues import REPLY_EMOTION
    from emotion_omni_lite.evaluate import SPEECH_FIGURE_SIZES
    from emotion_omni_lite.report import QUALITY, chance_floors
    readme, rows = (Path(__file__).resolve().parents[1] / 'README.md').read_text(), {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 10 and cells[0] in QUALITY: rows[cells[0]] = cells       # three machines' columns
    missing = [n for n, q in QUALITY.items() if q is not None and n not in rows]
    assert not missing, f"README's seed table lacks {missing}"
    # the benchmark's run: its 96 replies, n_follow of them re-spoken under each reply emotion, and its cascade's speech score
    n = SPEECH_FIGURE_SIZES['lite']
    cascade = float(re.search(r"^\(a\) cascade[^|]*\|[^|]*\|[^|]*\|\s*([\d.]+) %", readme, re.M)[1])
    floors = chance_floors({'adaln': {'n_eval': n['n_eval'], 'n_condition_following': n['n_follow'] * len(set(REPLY_EMOTION.values()))},
                            'cascade': {'generated_emotion_acc': cascade / 100}})
    assert len(floors) == 3 and all(QUALITY[f][2] < v for f, v in floors.items())    # on lite's sample the floor is the one asserted
    for name, cells in rows.items():
        q, target, guard = QUALITY[name], cells[7], cells[9]
        if q is None:
            assert (target, guard) == ('reported', '—'), (name, target, guard)
            continue
        op, t, g = q
        unit = target.split()[-1]
        sym = '≥' if op == '>=' else '≤'
        assert target == f"{sym} {100 * t:.0f} {unit}", (name, target)
        want = f"{sym} {100 * g:.0f} {unit}"
        if name in floors: assert guard == f"**chance floor ¶** (seeds' {want})", (name, guard, want)   # what is asserted
        else: assert guard == (want if g == t else f"**{want}**"), (name, guard, want)
    note = ' '.join(readme.split('\n¶ ', 1)[1].split('\n\n', 1)[0].split())
    gen, fol, gap = (100 * floors[k] for k in ('generated speech emotion, 96 replies', 'follows the AdaLN vector', 'follows: with AdaLN − without'))
    assert f"heard in its emotion {cascade} % of the time), the floors are ≥ {gen:.1f} %, ≥ {fol:.1f} % and ≥ {gap:.1f} points" in note, note


def test_the_full_sample_scores_text_and_speech_on_the_same_rows(monkeypatch, tmp_path):
    "evaluate_full's two halves read one seeded sample: stage 1 drew its own with seed 0 (6 of 96 rows in common on seed 1). The real `speech_figures` picks its rows; only the speaking and the judging are stand-ins."
    from types import SimpleNamespace
    from emotion_omni_lite import evaluate, omni as omni_mod
    rows = [{'id': f'r{i}', 'split': 'train' if i % 3 == 0 else 'test_voice', 'reply_emotion': 'sad', 'reply_text': f'reply {i % 7}'}
            for i in range(300)]
    seen = {}
    def stage1(pipe, feats, *a, select=None, max_rows=None, **k):
        seen['text'] = sorted(r['id'] for r in feats['rows'] if r['split'] != 'train' and (select is None or select(r)))
        if max_rows is not None: seen['text'] = 'its own sample'
        return {'n_eval': 0, 'reply_emotion_acc': 0, 'style_match': 0}
    def clips(omni, f1, f2, idx, s, streaming, sets):                 # what speech_figures speaks: its rows, recorded
        seen['speech'] = sorted(f2['rows'][i]['id'] for i in idx)
        gen = [{'audio': torch.zeros(1600), 'sample_rate': 16000, 'text': 'x', 'reply_emotion': 'sad', 'timings': None} for _ in idx]
        return {'generated': ([g['audio'] for g in gen], ['x'] * len(idx), gen)}
    feats = lambda cfg, s, **k: {'rows': rows}
    for mod, name, fn in ((evaluate, 'require_stage', lambda *a: None), (evaluate, 'stage1_features', feats),
                          (evaluate, 'load_stage1', lambda *a: None), (evaluate, 'evaluate_stage1', stage1),
                          (evaluate, 'load_omni', lambda *a, **k: SimpleNamespace(vocoder=SimpleNamespace(sample_rate=16000), emotion_encoder=None)),
                          (evaluate, 'stage_hash', lambda *a: 'h'), (evaluate, 'save_json', lambda *a: None),
                          (omni_mod, 'stage1_features', feats), (omni_mod, 'stage2_features', feats), (omni_mod, 'speech_clips', clips),
                          (omni_mod, 'hear', lambda enc, waves, audio_cfg: ['sad'] * len(waves))):
        monkeypatch.setattr(mod, name, fn)
    s = get_settings(preset='full', seed=1, data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    evaluate.evaluate_full(get_config('full'), s, n_eval=12, progress=False)
    assert len(seen['speech']) == 12 and seen['text'] == seen['speech']


def test_the_full_sample_loads_stage_1_once(monkeypatch, tmp_path):
    "evaluate_full loaded stage 1 (a 7-billion-parameter LLM at full size) twice, for its text half and again inside `load_omni`: now once, shared with the whole model; and its `progress` reaches the features' reader."
    from types import SimpleNamespace
    from emotion_omni_lite import evaluate
    rows = [{'id': f'r{i}', 'split': 'train' if i % 3 == 0 else 'test_voice'} for i in range(30)]
    seen, pipe = {'stage 1 loads': 0}, SimpleNamespace(name='stage 1')
    def load1(*a, **k): seen['stage 1 loads'] += 1; return pipe
    def feats(cfg, s, progress=True): seen['progress'] = progress; return {'rows': rows}
    def omni(cfg, s, *a, pipeline=None, **k): seen['pipeline'] = pipeline; return 'omni'
    def speech(cfg, s, n_eval, omni, **k): seen['omni'] = omni; return {'n_eval': n_eval, 'generated_emotion_acc': 0.5,
                                                                        'median_first_audio_ms': 1.0}
    for name, fn in (('require_stage', lambda *a: None), ('stage1_features', feats), ('load_stage1', load1), ('load_omni', omni),
                     ('evaluate_stage1', lambda p, f, **k: {'n_eval': 4, 'reply_emotion_acc': 1.0, 'style_match': 1.0}),
                     ('speech_figures', speech), ('stage_hash', lambda *a: 'h'), ('save_json', lambda *a: None)):
        monkeypatch.setattr(evaluate, name, fn)
    s = get_settings(preset='full', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    evaluate.evaluate_full(get_config('full'), s, n_eval=4, progress=False)
    assert seen == {'stage 1 loads': 1, 'progress': False, 'pipeline': pipe, 'omni': 'omni'}, seen


def test_a_reply_with_no_words_is_left_out_of_both_wers_alike():
    "pocketsphinx's WER of generated speech is one figure in report.json and in speech_figures.json: a reply with no words (nothing to score) is left out of both, not counted as insertions."
    from emotion_omni_lite.omni import speech_metrics
    texts, heard = ['i am so sorry about the exam', '…'], ['i am so sorry about the', 'uh']
    m = speech_metrics({'generated': ['sad', 'sad']}, ['sad', 'sad'], {'generated': heard}, {'generated': texts})
    recs = [_rec('tone', 'sad', 'sad', 'comforting', 'sad', 'sad') for _ in texts]
    for r, t, h in zip(recs, texts, heard): r['sys']['omni'].update(text=t, speech_text=t, ps_text=h)
    flat, _ = score(recs)
    assert m['generated_wer'] == flat['pocketsphinx_wer_generated'] == round(1 / 7, 4)   # the one reply with words: 1 of 7 missed
    assert flat['n_wer_items'] == 1                                      # … and it says so: one reply heard
    assert 'generated_wer' not in speech_metrics({'generated': ['sad']}, ['sad'], {'generated': ['uh']}, {'generated': ['…']})
    timed = lambda n: {'reply_emotion': 'sad', 'audio': [0.0] * n, 'sample_rate': 16000, 'timings': {'total_ms': 500.0}}
    assert speech_metrics({}, ['sad'], {}, {}, [timed(8000)])['rtf'] == 1.0                  # 0.5 s to say 0.5 s
    assert speech_metrics({}, ['sad'], {}, {}, [timed(0)])['rtf'] is None                    # nothing said: no factor (not 500)


def _toy_rows(splits=('train', 'train', 'test_both', 'test_voice', 'test_sentence')) -> list:
    from emotion_omni_lite.config import EMOTIONS
    from emotion_omni_lite.dialogues import REPLY_EMOTION, REPLY_STYLE, make_reply
    return [{'id': f'r{i}', 'split': splits[i % len(splits)], 'sentence_kind': 'tone' if i % 4 else 'explicit', 'sentence_id': i % 7,
             'user_emotion': EMOTIONS[i % 6], 'voice': f'v{i % 3}', 'query_text': f'the exam is next week {i}',
             'reply_text': make_reply('the exam', EMOTIONS[i % 6], i)['text'], 'reply_emotion': REPLY_EMOTION[EMOTIONS[i % 6]],
             'reply_style': REPLY_STYLE[EMOTIONS[i % 6]]} for i in range(36)]


@pytest.fixture
def toy_eval(tmp_path, monkeypatch):
    "`evaluate_run` of a toy run, trained nowhere: the models, judges and speech parts are stand-ins; the code that names, gathers and writes the report's figures (collect, the timing probe, engine_figures, score, write_report) is the real one, with every study switched on."
    from types import SimpleNamespace
    from emotion_omni_lite import cues, evaluate
    from emotion_omni_lite.audio import CONDITIONS
    from emotion_omni_lite.omni import speech_metrics, speech_rows
    cfg = get_config('smoke', **{'stages.stage1.cross_engine': True, 'stages.emotion.cross_engine_reference': True})
    s = get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'), device='cpu')
    rows = _toy_rows()
    f1 = {'rows': rows, 'sem': [torch.zeros(10, 4)] * len(rows), 'emo': [torch.zeros(10, 4)] * len(rows), 'n50': [10] * len(rows)}
    conds = ('clean', *CONDITIONS)
    own_other = [f'{p}{k}' for p in ('', 'tone_', 'other_engine_', 'other_engine_tone_') for k in ('reply_emotion_acc', 'style_match')]
    metrics = {**{f'acc_{c}': 0.8 for c in conds}, **{f'cer_{c}': 0.2 for c in conds}, 'cer_test_voice': 0.1, 'n_robustness': 9,
               'cer_test_sentence': 0.3, **{f'{c}_tone_{k}': 0.7 for c in conds for k in ('reply_emotion_acc', 'style_match')},
               **{k: 0.51 + 0.01 * n for n, k in enumerate(own_other)},          # each its own value: a key read for another shows
               'tone_test_voice_reply_emotion_acc': 0.9, 'tone_test_voice_style_match': 0.91, 'acc_heldout_voice': 0.92,
               'acc_heldout_voice_espeak': 0.93, 'acc_heldout_voice_piper': 0.8, 'acc_other_engine': 0.5, 'acc_other_engine_tone': 0.4}
    for j, name in enumerate(STAGES):                                    # what each stage's run wrote, each run's figures its own
        (stage_folder(name, s)).mkdir(parents=True, exist_ok=True)
        (stage_folder(name, s) / 'metrics.json').write_text(json.dumps(
            {k: round(v + j / 1000, 4) if isinstance(v, float) else v for k, v in metrics.items()}))
    def part(system, cfg, s, force=False, progress=True):               # one system's judged speech
        idx = speech_rows(rows, s.seed, 4)
        gen = [{'text': 'i am so sorry', 'speech_emotion': 'sad', 'dnsmos': 3.0 if k < 2 else None, 'asr_text': 'i am so sorry',
                'ps_text': 'i am sorry' if system == 'omni' else None, 'emotion_vec_reply': [1.0, 0.0]} for k in range(len(idx))]
        timed = [{'reply_emotion': 'sad', 'audio': torch.zeros(8000), 'sample_rate': 16000, 'timings': dict(
            encoders_ms=5.0, first_text_token_ms=10.0, first_audio_ms=50.0, total_ms=200.0)} for _ in idx]
        fig = {**speech_metrics({'generated': ['sad'] * len(idx)}, [rows[i]['reply_emotion'] for i in idx], {}, {}, timed),
               'generated_emotion_acc_new_text': 0.5, 'n_new_text': 2, 'n_generated_new_text': 1,
               'teacher_text_emotion_acc_new_text': 1.0, 'follows_condition_acc': 0.5}   # as speech_figures adds them
        p = {'stamp': 'toy', 'system': system, 'rows': idx, 'generated': gen, 'figures': fig, 'seconds': 1.0}
        if system == 'cascade':
            p['reference'] = [{'speech_emotion': 'sad', 'dnsmos': 3.5, 'ps_text': 'i am so sorry', 'emotion_vec_reply': [1.0, 0.0]} for _ in idx]
            p['reference_figures'] = {'reference_emotion_acc': 1.0}
        path = evaluate._part_file(s, system); path.parent.mkdir(parents=True, exist_ok=True); path.write_text(json.dumps(p))
        return path
    for name, fn in (('get_config', lambda *a, **k: cfg), ('check_run', lambda *a, **k: None), ('evaluate_part', part),
                     ('stage1_features', lambda *a, **k: f1), ('load_emotion_encoder', lambda *a: None), ('load_asr_model', lambda *a: None),
                     ('load_audio', lambda *a, **k: torch.zeros(1600)), ('audio_path', lambda *a, **k: 'query.wav'),
                     ('predict_emotions', lambda enc, waves: (torch.arange(len(waves)) % 6, None)),
                     ('transcribe', lambda model, mels, **k: ['the exam is next week'] * len(mels)),
                     ('load_text_llm', lambda *a: (None, None)), ('generate_text', lambda llm, tok, q, max_new_tokens: 'thanks for telling me'),
                     ('load_stage1', lambda *a: SimpleNamespace(respond_features=lambda feats: [
                         {'text': 'i am so sorry about the exam', 'reply_emotion': 'sad'} for _ in feats])),
                     ('judge_endpoint', lambda s: None), ('peak_memory_mb', lambda *a: 1.0), ('reset_peak_memory', lambda *a: None),
                     ('timing_probe', lambda cfg, s: cues._timing_probe(rows, s, 4, 1, 0)),   # the probe itself, one step
                     ('prosodic_baseline', lambda cfg, s: (None, {'acc_heldout_voice': 0.5}))):
        monkeypatch.setattr(evaluate, name, fn)
    g = torch.Generator().manual_seed(0)
    monkeypatch.setattr(cues, 'load_audio', lambda *a, **k: 0.1 * torch.randn(8000, generator=g))
    monkeypatch.setattr(cues, 'audio_path', lambda *a, **k: 'query.wav')
    return cfg, s, rows


def test_every_figure_of_the_report_says_what_it_means(toy_eval):
    "report.md's table gives each key of report.json with its meaning: none is left without one (the conditions the encoders hear through, the timing probe, the sizes)."
    from emotion_omni_lite.report import metric_note
    cfg, s, _ = toy_eval
    out = evaluate_run(settings=s, progress=False)
    rep = json.loads((out / 'report.json').read_text())
    for k in ('input_emotion_acc_clean', 'input_emotion_acc_phone', 'n_timing_probe', 'timing_only_user_emotion_acc_tone',
              'n_speech_items', 'n_dnsmos_items', 'generated_emotion_acc_new_text', 'cross_engine_calibrated_stage1_style_tone',
              'n_generated_new_text', 'teacher_text_emotion_acc_new_text',
              'prosodic_baseline_acc_heldout_voice', 'eval_set', 'run_stamp'):
        assert k in rep, k                                               # what the code wrote, not a list of hand-made keys
    assert len(rep) > 100 and not [k for k in rep if not metric_note(k)], [k for k in rep if not metric_note(k)]
    assert not re.search(r'^\| `[^`]+` \| [^|]+ \|  \|$', (out / 'report.md').read_text(), re.M)   # no row without a meaning


def test_the_report_names_the_sets_it_was_scored_on(toy_eval, monkeypatch):
    "The text side's set (test_both, a sample of that cross; or every held-out split where the data has none) is recorded in report.json and said in report.md's header and the table, beside the speech rows' own set."
    from emotion_omni_lite import evaluate
    from emotion_omni_lite.report import EVAL_SETS, report_markdown
    cfg, s, rows = toy_eval
    out = evaluate_run(settings=s, progress=False)
    rep, md = json.loads((out / 'report.json').read_text()), (out / 'report.md').read_text()
    assert rep['eval_set'] == 'test_both' and rep['n_items'] == sum(r['split'] == 'test_both' for r in rows)
    head = md.split('## Same words')[0]
    assert EVAL_SETS['test_both'][1] in head and 'not the full cross' in head and 'Held-out voices and held-out sentences' not in head
    assert f"Speech: a seeded {rep['n_speech_items']} of the held-out queries (voice, sentence or both held out; both sentence kinds" in head
    assert ("on the 2 whose reference reply no training reply says, the generated speech's emotion is heard right 50.0 % of "
            f"the time (not speech of new words: the model may still speak a training reply there; 1 of the {rep['n_speech_items']} "
            "spoken replies say words no training reply has)") in head
    assert 'tone-dependent dialogues (test_both: held-out voice and held-out sentence, a sample of that cross)' in benchmark_table(rep)
    from emotion_omni_lite.config import EMOTIONS
    from emotion_omni_lite.dialogues import REPLY_STYLE                # the timing probe's style is its user-emotion accuracy:
    assert "its style column the probe's six-class user-emotion accuracy" in benchmark_table(rep)   # said, and exact on the
    assert sorted(REPLY_STYLE) == sorted(EMOTIONS) and len(set(REPLY_STYLE.values())) == len(EMOTIONS)   # kit's data: 1 to 1
    none = [dict(r, split='test_voice') if r['split'] == 'test_both' else r for r in rows]   # data without test_both
    assert {none[i]['split'] for i in evaluate.eval_indices(none)} == {'test_voice', 'test_sentence'}   # every held-out split
    monkeypatch.setattr(evaluate, 'stage1_features', lambda *a, **k: {'rows': none, 'n50': [10] * len(none),
                                                                      **{k: [torch.zeros(10, 4)] * len(none) for k in ('sem', 'emo')}})
    _, extra = evaluate.collect(cfg, s, progress=False)
    assert extra['eval_set'] == 'heldout'
    head = report_markdown({**rep, 'eval_set': extra['eval_set']}, {}).split('## Same words')[0]
    assert 'this data has no dialogue whose voice and sentence were both held out' in head


def test_the_cascade_replies_as_long_as_llm_max_new_tokens(toy_eval, monkeypatch):
    "The cascade's text LLM wrote at most 40 tokens whatever llm.max_new_tokens said, in the text figures and in its speech part; stage 1 and the whole model follow the setting."
    from types import SimpleNamespace
    from emotion_omni_lite import evaluate
    from emotion_omni_lite.config import set_field
    cfg, s, rows = toy_eval
    cfg, asked = set_field(cfg, 'llm.max_new_tokens', 7), []
    monkeypatch.setattr(evaluate, 'generate_text', lambda llm, tok, q, max_new_tokens=40: asked.append(max_new_tokens) or 'thanks')
    evaluate.collect(cfg, s, progress=False)                             # the text side
    assert asked and set(asked) == {7}
    class Spoken(Exception): pass
    monkeypatch.setattr(evaluate, 'load_dialogues', lambda *a, **k: SimpleNamespace(remove_columns=lambda c: SimpleNamespace(to_list=lambda: rows)))
    monkeypatch.setattr(evaluate, 'open_engine', lambda *a, **k: (_ for _ in ()).throw(Spoken()))   # stop before the speech
    asked.clear()
    with pytest.raises(Spoken): evaluate_part('cascade', cfg, s, progress=False)   # the speech part's replies
    assert asked and set(asked) == {7}
    # stage 1's greedy replies (its untrained model: only the length asked of the LLM is looked at) …
    from torch import nn
    from emotion_omni_lite import omni as omni_mod
    from emotion_omni_lite.adapter import build_adapter
    from emotion_omni_lite.stage1 import Stage1Model, Stage1Pipeline, build_emotion_head
    from emotion_omni_lite.text_llm import build_llm, speech_token_id, train_tokenizer
    tok = train_tokenizer(['thanks for telling me'] * 10, 300)
    m = Stage1Model(build_adapter(cfg), build_llm(cfg), build_emotion_head(cfg), speech_token_id(tok), cfg)
    monkeypatch.setattr(m.llm, 'generate', lambda **k: asked.append(k['max_new_tokens']) or torch.zeros(1, 1, dtype=torch.long))
    asked.clear()
    Stage1Pipeline(m, tok, None, cfg).generate([{'sem': torch.zeros(10, cfg.semantic_encoder.d_model), 'n50': 10,
                                                 'emo': torch.zeros(10, cfg.emotion_encoder.dim)}])
    assert asked == [7]
    # … and the whole model as load_omni assembles it from the runs (its parts stand-ins: no run needed)
    part = lambda *a, **k: nn.Linear(1, 1)
    pipe = SimpleNamespace(model=SimpleNamespace(adapter=part(), llm=part(), head=part(), speech_id=0), tok=None, centroids=None, end_id=0)
    for name, fn in (('load_stage1', lambda *a: pipe), ('load_stage2_model', lambda *a: SimpleNamespace(fusion=part(), decoder=part())),
                     ('load_semantic_encoder', part), ('load_emotion_encoder', part), ('build_vocoder', part)):
        monkeypatch.setattr(omni_mod, name, fn)
    assert omni_mod.load_omni(cfg, s).max_new_tokens == 7


def test_a_report_whose_figures_are_gone_is_written_again_and_keeps_no_stale_one(toy_eval, tmp_path):
    "report.md links its figures: with figures/ deleted the report is not current, and is written again; a figure the new report no longer draws is removed, a file of one's own beside them stays."
    import shutil
    cfg, s, _ = toy_eval
    out = evaluate_run(settings=s, progress=False)
    made = (out / 'report.json').stat().st_mtime_ns
    evaluate_run(settings=s, progress=False)                             # nothing gone: reused
    assert (out / 'report.json').stat().st_mtime_ns == made
    shutil.rmtree(out / 'figures')
    evaluate_run(settings=s, progress=False)
    md = (out / 'report.md').read_text()
    assert (out / 'report.json').stat().st_mtime_ns != made and '(figures/benchmark.html)' in md
    assert (out / 'figures' / 'benchmark.html').exists() and (out / 'figures' / 'plotly.min.js').exists()
    recs = [_rec('tone', 'sad', 'sad', 'comforting', 'sad', 'sad'), _rec('tone', 'angry', 'neutral', 'calming', 'neutral')]
    flat, details = score(recs)
    tl = {'token_ms': [40, 60], 'tokens': ['I', ' am'], 'chunk_ms': [150], 'chunk_audio_ms': [600], 'text': 'I am'}
    folder = write_report(flat, {**details, 'timeline': tl}, tmp_path / 'report')
    (folder / 'figures' / 'mine.html').write_text('my notes')
    assert (folder / 'figures' / 'timeline.html').exists() and '(figures/timeline.html)' in (folder / 'report.md').read_text()
    write_report(flat, details, folder)                                  # no timeline now: its page goes, with its link
    assert not (folder / 'figures' / 'timeline.html').exists() and 'timeline' not in (folder / 'report.md').read_text()
    assert (folder / 'figures' / 'benchmark.html').exists() and (folder / 'figures' / 'mine.html').read_text() == 'my notes'


def test_a_report_stopped_half_way_leaves_no_old_report_json(tmp_path, monkeypatch):
    "report.json says the report is whole: the old one goes before anything new is written, so a write stopped half-way (a full disk) never leaves the old report.json beside new files; the next write makes it whole again."
    from emotion_omni_lite import report
    out = write_report(*score([_rec('tone', 'sad', 'sad', 'comforting', 'sad', 'sad')], {'run_stamp': 'OLD'}), tmp_path / 'report')
    flat, details = score([_rec('tone', 'sad', 'sad', 'comforting', 'happy', 'happy')], {'run_stamp': 'NEW'})
    save_text = report.save_text
    def full(text, path):
        if path.name == 'report.md': raise OSError(28, 'No space left on device')
        return save_text(text, path)
    monkeypatch.setattr(report, 'save_text', full)
    with pytest.raises(OSError, match='No space'): write_report(flat, details, out)
    assert not (out / 'report.json').exists() and json.loads((out / 'details.json').read_text()) == details   # new files, no old mark
    monkeypatch.setattr(report, 'save_text', save_text)
    assert json.loads((write_report(flat, details, out) / 'report.json').read_text())['run_stamp'] == 'NEW'


def test_an_evaluation_stopped_while_writing_leaves_no_old_report_json(toy_eval, monkeypatch):
    "evaluate_run writes records.jsonl and speech_figures.json before the report's own files: the old report.json is gone before the first of them, and the next run writes the report whole."
    from emotion_omni_lite import evaluate
    cfg, s, _ = toy_eval
    out = evaluate_run(settings=s, progress=False)
    (out / 'records.jsonl').write_text('old\n')
    save_json = evaluate.save_json
    def full(obj, path):
        if path.name == 'speech_figures.json': raise OSError(28, 'No space left on device')
        return save_json(obj, path)
    monkeypatch.setattr(evaluate, 'save_json', full)
    with pytest.raises(OSError, match='No space'): evaluate_run(settings=s, force=True, progress=False)
    assert not (out / 'report.json').exists() and (out / 'records.jsonl').read_text() != 'old\n'
    with pytest.raises(ConfigError, match='no whole report.*eol eval --preset smoke'): run_figures(cfg, s)
    monkeypatch.setattr(evaluate, 'save_json', save_json)
    evaluate_run(settings=s, progress=False)                             # not current without report.json: written again
    assert json.loads((out / 'report.json').read_text())['run_stamp'] == json.loads((out / 'speech_figures.json').read_text())['run_stamp']


def test_the_main_job_makes_each_evaluation_part_once_with_force(toy_eval, monkeypatch):
    "`eol run --force`: each part is made by its own task, and the final report reuses them (not made a second time); `eol eval --force`, and the one-process job, make each part once too."
    from emotion_omni_lite import cli, evaluate
    from emotion_omni_lite.evaluate import JOB_PARTS
    cfg, s, _ = toy_eval
    forced, part, text = [], evaluate.evaluate_part, evaluate.evaluate_text
    def part_(system, cfg, s=None, force=False, progress=True):
        forced.extend([system] * force); return part(system, cfg, s, force, progress)
    def text_(cfg, s=None, force=False, progress=True, max_items=None):
        forced.extend(['text'] * force); return text(cfg, s, force, progress, max_items)
    monkeypatch.setattr(evaluate, 'evaluate_part', part_); monkeypatch.setattr(evaluate, 'evaluate_text', text_)
    for t in [cli.Task(f'eval_{p}', 'eval_part', p) for p in JOB_PARTS] + [cli.Task('eval', 'eval', 'eval')]:
        cli._do(t, cfg, s, force=True)                                   # as run_tasks does: the parts, then the report
    assert sorted(forced) == sorted(JOB_PARTS) and (s.run_path / 'report' / 'report.json').exists()
    for again in (lambda: evaluate_run(settings=s, force=True, progress=False), lambda: cli.evaluate_stage(cfg, s, force=True)):
        forced.clear(); again()
        assert sorted(forced) == sorted(JOB_PARTS)


def test_the_report_says_the_sample_of_each_slow_judge(toy_eval):
    "report.json and report.md give how many replies pocketsphinx heard (with words) and how many were timed, beside the figures."
    from emotion_omni_lite.report import metric_note
    _, s, _ = toy_eval
    out = evaluate_run(settings=s, progress=False)
    rep, md = json.loads((out / 'report.json').read_text()), (out / 'report.md').read_text()
    assert (rep['n_timed_items'], rep['n_wer_items'], rep['n_wer_items_reference']) == (4, 4, 4)
    assert '| `n_timed_items` | 4 |' in md and '| `n_wer_items` | 4 |' in md
    assert 'the first `n_timed_items`' in metric_note('first_text_ms') and 'the first `n_wer_items`' in metric_note('pocketsphinx_wer_generated')


def test_max_items_none_is_the_preset_s_own_size_and_the_stamp_records_it(toy_eval):
    "max_items=None asks for the preset's own size (smoke's 8 rows), as the message says: the text side and the report's stamp record that size, so the next plain `eol eval` keeps the report; another size is recorded as itself."
    from emotion_omni_lite.evaluate import eval_indices, report_current, report_stamp
    cfg, s, rows = toy_eval
    out = evaluate_run(settings=s, progress=False, max_items=None)
    assert json.loads((out / 'text.json').read_text())['sizes'] == EVAL_SIZES['smoke'] == {'max_items': 8}
    assert json.loads((out / 'report.json').read_text())['run_stamp'] == report_stamp(cfg, s) == report_stamp(cfg, s, {'max_items': None})
    made = (out / 'report.json').stat().st_mtime_ns
    assert report_current(cfg, s) and evaluate_run(settings=s, progress=False) and (out / 'report.json').stat().st_mtime_ns == made
    evaluate_run(settings=s, progress=False, max_items=3)               # another size: scored, and recorded, as itself
    assert json.loads((out / 'text.json').read_text())['sizes'] == {'max_items': 3} and json.loads((out / 'report.json').read_text())['n_items'] == 3
    assert report_current(cfg, s, {'max_items': 3}) and not report_current(cfg, s)
    own = r"max_items=0: .*set max_items to one, or leave it None for the preset's own size \(EVAL_SIZES: smoke 8, lite every one, full 600\)"
    for call in (lambda: evaluate_run(settings=s, max_items=0), lambda: evaluate_text(cfg, s, progress=False, max_items=0)):
        with pytest.raises(ConfigError, match=own): call()
    with pytest.raises(ConfigError, match="max_items=0: .*or leave it None to score every one"): eval_indices(rows, 0)   # there: every row


def test_each_cross_engine_figure_is_read_from_its_own_run_and_key(toy_eval):
    "engine_figures (report.json) and run_figures (the card) take each figure from its run's metrics.json under its own key: every toy run and key holds a value of its own, so a swap of two would show. The calibrated stage 1's reply emotion has its card row, reported, as the other cross-engine stage 1 runs' do."
    from emotion_omni_lite.evaluate import quality_card
    cfg, s, _ = toy_eval
    out = evaluate_run(settings=s, progress=False)
    rep, figs = json.loads((out / 'report.json').read_text()), run_figures(cfg, s)
    m = lambda stage: json.loads((stage_folder(stage, s) / 'metrics.json').read_text())
    keys = {'reply_emotion': 'other_engine_reply_emotion_acc', 'reply_emotion_tone': 'other_engine_tone_reply_emotion_acc',
            'style': 'other_engine_style_match', 'style_tone': 'other_engine_tone_style_match',
            'own_reply_emotion': 'reply_emotion_acc', 'own_reply_emotion_tone': 'tone_reply_emotion_acc',
            'own_style': 'style_match', 'own_style_tone': 'tone_style_match'}
    assert len({v for k, v in m('stage1_espeak_only').items() if k in keys.values()}) == len(keys)   # the toy's values differ
    for stage, pre in (('stage1_espeak_only', 'cross_engine_stage1'), ('stage1_espeak_referenced', 'cross_engine_referenced_stage1'),
                       ('stage1_espeak_calibrated', 'cross_engine_calibrated_stage1')):
        assert {k: rep[f'{pre}_{k}'] for k in keys} == {k: m(stage)[v] for k, v in keys.items()}, stage
    for kind, run in (('', 'only'), ('referenced_', 'referenced'), ('calibrated_', 'calibrated')):
        for a, b in (('espeak', 'piper'), ('piper', 'espeak')):
            x = m(f'emotion_encoder_{a}_{run}')
            assert (rep[f'cross_engine_{kind}{a}_to_{b}'], rep[f'cross_engine_{kind}{a}_to_{b}_tone'],
                    rep[f'cross_engine_{kind}{a}_own_heldout_voice']) == (x['acc_other_engine'], x['acc_other_engine_tone'], x['acc_heldout_voice'])
    card = {'stage 1 trained on espeak alone, on Piper: reply emotion (tone)': 'cross_engine_stage1_reply_emotion_tone',
            'stage 1 trained on espeak alone, on Piper: reply style (tone)': 'cross_engine_stage1_style_tone',
            "stage 1 trained on espeak alone, on Piper against each voice's baseline: reply emotion (tone)": 'cross_engine_referenced_stage1_reply_emotion_tone',
            "stage 1 trained on espeak alone, on Piper against each voice's baseline: reply style (tone)": 'cross_engine_referenced_stage1_style_tone',
            'stage 1 trained on espeak alone, on Piper against five calm clips: reply emotion (tone)': 'cross_engine_calibrated_stage1_reply_emotion_tone',
            'stage 1 trained on espeak alone, on Piper against five calm clips: reply style (tone)': 'cross_engine_calibrated_stage1_style_tone',
            'trained on espeak alone, heard on Piper': 'cross_engine_espeak_to_piper', 'trained on Piper alone, heard on espeak': 'cross_engine_piper_to_espeak',
            "trained on espeak alone, heard on Piper against each voice's baseline": 'cross_engine_referenced_espeak_to_piper',
            'trained on Piper alone, heard on espeak against five calm clips of each voice': 'cross_engine_calibrated_piper_to_espeak'}
    assert {n: figs[n] for n in card} == {n: rep[k] for n, k in card.items()}
    st1, sem = m('stage1'), m('stage1_semantic_only')
    assert (figs['stage 1 reply emotion (tone)'], figs['semantic only: reply style (tone)'], figs['full − semantic only, style']) == \
        (st1['tone_reply_emotion_acc'], sem['tone_style_match'], round(st1['tone_style_match'] - sem['tone_style_match'], 4))
    assert figs['emotion encoder, held-out voices of both engines'] == m('emotion_encoder')['acc_heldout_voice']
    row = next(l for l in quality_card(figs).splitlines() if l.startswith('stage 1 trained on espeak alone, on Piper against five calm clips: reply emotion'))
    assert row.endswith('| reported')


def test_figures_scored_under_earlier_conditions_are_left_out_and_said(toy_eval):
    "A run's figures through a microphone scored under earlier conditions (pink noise from 0 Hz: no clean row, or an older `conditions_version`) are left out of report.json, report.md and the card, which say which runs and how to score them again; today's stay."
    cfg, s, _ = toy_eval
    from emotion_omni_lite.audio import CONDITIONS_VERSION
    path = lambda stage: stage_folder(stage, s) / 'metrics.json'
    old = {k: v for k, v in json.loads(path('asr').read_text()).items() if 'clean' not in k}   # before the clean row
    path('asr').write_text(json.dumps(old))
    st1 = json.loads(path('stage1').read_text()) | {'conditions_version': CONDITIONS_VERSION - 1}            # recorded, and older
    path('stage1').write_text(json.dumps(st1))
    emo = json.loads(path('emotion_encoder').read_text()) | {'conditions_version': CONDITIONS_VERSION}       # recorded, today's
    path('emotion_encoder').write_text(json.dumps(emo))
    out = evaluate_run(settings=s, progress=False)
    rep, md, figs = json.loads((out / 'report.json').read_text()), (out / 'report.md').read_text(), run_figures(cfg, s)
    assert rep['microphone_figures_left_out'] == 'asr stage1'
    assert not [k for k in rep if k.startswith(('asr_cer_', 'stage1_clean', 'stage1_noise', 'stage1_room'))], rep.keys()
    assert rep['input_emotion_acc_noise_10db'] == emo['acc_noise_10db'] and rep['input_emotion_acc_clean'] == emo['acc_clean']
    assert "Left out: the figures through a microphone of asr, stage1" in md
    assert "eol run --preset smoke --stages asr stage1 --force" in md
    assert figs['ASR CER, held-out voices, pink noise at 10 dB SNR'] is None and figs['ASR CER, held-out sentences'] == old['cer_test_sentence']
    assert figs['stage 1 reply style (tone), held-out voices, a room (rt60 0.6 s)'] is None
    assert figs['emotion encoder, pink noise at 10 dB SNR'] == emo['acc_noise_10db']


def test_a_stage_trained_again_makes_stale_only_what_reads_it(toy_eval):
    "Stage 1 trained again under the same settings is another run (`run_digest`, from its files.json): the report, the text side and the speech parts that read stage 1 are not current and are made again; the parts that do not read it keep their stamps."
    from emotion_omni_lite.evaluate import EVAL_PARTS, part_stamp, report_current
    cfg, s, _ = toy_eval
    files = stage_folder('stage1', s) / 'files.json'
    files.write_text(json.dumps({'model.safetensors': 'sha256 of the first run'}))
    out = evaluate_run(settings=s, progress=False)
    parts, text = {p: part_stamp(p, cfg, s) for p in EVAL_PARTS}, out / 'text.json'
    stamp, made = json.loads(text.read_text())['stamp'], text.stat().st_mtime_ns
    assert report_current(cfg, s) and evaluate_text(cfg, s, progress=False) and text.stat().st_mtime_ns == made   # kept as it is
    files.write_text(json.dumps({'model.safetensors': 'sha256 of the run trained again'}))
    assert not report_current(cfg, s)
    assert {p for p in EVAL_PARTS if part_stamp(p, cfg, s) != parts[p]} == {p for p, runs in EVAL_PARTS.items() if 'stage1' in runs} \
        == {'omni', 'omni_no_adaln'}                                    # the cascade and semantic-only parts read no stage 1
    evaluate_text(cfg, s, progress=False)
    assert json.loads(text.read_text())['stamp'] not in (None, stamp)   # made again, for the run trained again
    evaluate_run(settings=s, progress=False)
    assert report_current(cfg, s)


def test_the_timing_and_prosody_figures_are_made_again_when_their_definitions_change(toy_eval, monkeypatch):
    "The text side's stamp and the report's hold the timing features' version and the probes' settings (timing_probe's hidden, steps, seed; fit_linear_probe's l2, iters), as they held the prosodic features' version: a change in any makes text.json again."
    from emotion_omni_lite import cues
    from emotion_omni_lite.evaluate import report_stamp
    cfg, s, _ = toy_eval
    text = evaluate_text(cfg, s, progress=False)
    stamp, report = json.loads(text.read_text())['stamp'], report_stamp(cfg, s)
    for obj, name, value in ((cues, 'TIMING_VERSION', cues.TIMING_VERSION + 1), (cues, 'PROSODY_VERSION', cues.PROSODY_VERSION + 1),
                             (cues.timing_probe, '__defaults__', (None, 64, 2000, 0)), (cues.fit_linear_probe, '__defaults__', (6, 1e-2, 100))):
        with monkeypatch.context() as m:
            m.setattr(obj, name, value)
            assert report_stamp(cfg, s) != report, name
            evaluate_text(cfg, s, progress=False)
            assert json.loads(text.read_text())['stamp'] not in (None, stamp), name   # made again
    evaluate_text(cfg, s, progress=False)
    assert json.loads(text.read_text())['stamp'] == stamp and report_stamp(cfg, s) == report   # as they were: as before


def test_the_card_reads_a_figure_the_run_could_not_compute_as_not_computed(toy_eval):
    "A run on data without a held-out-voice split or without reply styles writes no ASR CER on held-out voices or sentences, or no benchmark reply emotion: run_figures gives None for those and for every difference with a side missing (not a traceback after the report is written), and the card says 'not computed'."
    from emotion_omni_lite.evaluate import quality_card
    cfg, s, _ = toy_eval
    out = evaluate_run(settings=s, progress=False)
    asr, rep = stage_folder('asr', s) / 'metrics.json', out / 'report.json'
    asr.write_text(json.dumps({k: v for k, v in json.loads(asr.read_text()).items() if k not in ('cer_test_voice', 'cer_test_sentence')}))
    r = json.loads(rep.read_text()); del r['reply_emotion_acc_tone']; r['timing_only_user_emotion_acc_tone'] = None
    rep.write_text(json.dumps(r))
    figs = run_figures(cfg, s)
    gone = ('ASR CER, held-out voices', 'ASR CER, held-out sentences', 'benchmark: Omni reply emotion (tone)',
            'benchmark: Omni − cascade, reply emotion', 'benchmark: Omni − semantic only, reply emotion', 'semantic only − timing alone, style')
    assert [n for n in gone if figs[n] is not None] == [] and figs['semantic only − timing alone, reply emotion'] is not None
    card = {l.split(' | ')[0].strip(): l for l in quality_card(figs).splitlines()}
    assert all(card[n].endswith('| not computed') for n in gone)
    with pytest.raises(AssertionError, match=r"ASR CER, held-out voices: not computed by this run .*guard <= 0.15 cannot be checked"):
        assert_guard('ASR CER, held-out voices', figs['ASR CER, held-out voices'])   # a slow test's guard: said, not a TypeError
    assert assert_guard('ASR CER, held-out sentences', None)['target'] is None       # reported only: nothing to hold


def test_a_damaged_report_json_is_named_with_the_fix(tmp_path):
    s = get_settings(preset='smoke', out_dir=str(tmp_path / 'runs'))
    f = s.run_path / 'report' / 'report.json'; f.parent.mkdir(parents=True)
    for damaged in ('{"n_items": 12, "reply_emo', '[1, 2]'):             # cut short; not a map
        f.write_text(damaged)
        with pytest.raises(ConfigError, match=rf"{re.escape(str(f))} is damaged .*`eol eval --preset smoke`"): benchmark_table(settings=s)


def test_a_file_where_the_report_goes_is_named_before_any_work(tmp_path, monkeypatch):
    "A file where report/, report/speech/ or report/figures/ should be: named up front, not found minutes in."
    cfg, s = get_config('smoke'), get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    rep = s.run_path / 'report'
    for block, what in ((rep, 'the report'), (rep / 'speech', "the report's speech parts"), (rep / 'figures', "the report's figures")):
        block.parent.mkdir(parents=True, exist_ok=True); block.write_text('notes')
        with pytest.raises(ConfigError, match=rf"{re.escape(str(block))} is a file, not a folder, where {what} should be.*move or rename it"):
            check_run(cfg, s)
        block.unlink()
    with pytest.raises(IncompleteRun): check_run(cfg, s)                 # folders, no runs: the missing runs are named
    from emotion_omni_lite.cli import run_pipeline
    rep.mkdir(parents=True, exist_ok=True); (rep / 'speech').write_text('notes')
    monkeypatch.setenv('EOL_DATA_DIR', str(tmp_path / 'data')); monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'runs'))
    with pytest.raises(ConfigError, match="is a file, not a folder, where the report's speech parts should be"):
        run_pipeline('smoke', jobs=1)                                  # the whole job: said before the data are built
    assert not (tmp_path / 'data').exists()


def test_evaluation_sizes_are_checked():
    "max_items is None or a whole number of at least 1; a size the evaluation does not know is refused; so is data with nothing held out."
    from emotion_omni_lite.evaluate import eval_indices
    rows = _toy_rows()
    assert len(eval_indices(rows)) == 7 and len(eval_indices(rows, 3)) == 3
    for bad in (0, -1, 2.5, True, '5'):
        with pytest.raises(ConfigError, match=rf"max_items={re.escape(repr(bad))}: .*set max_items"): eval_indices(rows, bad)
    with pytest.raises(ConfigError, match='no held-out dialogue to score.*data.n_test_voices'):
        eval_indices([r for r in rows if r['split'] == 'train'])
    s = get_settings(preset='smoke', data_dir='/nonexistent/data', out_dir='/nonexistent/runs')
    with pytest.raises(ConfigError, match='max_item is not an evaluation size; the sizes are max_items'): evaluate_run(settings=s, max_item=5)
    with pytest.raises(ConfigError, match='max_items=0'): evaluate_run(settings=s, max_items=0)   # before any work


def test_the_speech_confusion_counts_the_speech_accuracy_sample():
    "Without a separate speech set, the generated-speech confusion matrix counts every spoken record, of both sentence kinds, as speech_emotion_acc does."
    recs = [_rec('tone', 'sad', 'sad', 'comforting', 'sad', 'sad'), _rec('explicit', 'fearful', 'sad', 'reassuring', 'sad', 'happy')]
    flat, details = score(recs)
    cm = details['confusion']['generated-speech emotion (c)']
    assert flat['n_speech'] == sum(map(sum, cm)) == 2 and flat['speech_emotion_acc'] == 0.5
    assert sum(map(sum, score(recs[:1], speech=recs)[1]['confusion']['generated-speech emotion (c)'])) == 2   # a speech set: its records


def test_the_card_and_the_slow_tests_hold_one_guard_on_the_speech_figures():
    "Where the seeds' guard sits near chance (generated speech emotion, following the AdaLN vector, with − without), the guard the card shows and the one asserted are one number: the higher of it and chance beaten by three binomial sd on the run's own sample."
    from emotion_omni_lite.evaluate import quality_card
    from emotion_omni_lite.report import chance_floors, quality_check
    fl = chance_floors({'adaln': {'n_eval': 96, 'n_condition_following': 96}, 'cascade': {'generated_emotion_acc': 0.354}})
    assert fl == {'generated speech emotion, 96 replies': 0.501, 'follows the AdaLN vector': 0.383, 'follows: with AdaLN − without': 0.188}
    name = 'generated speech emotion, 96 replies'
    assert quality_check(name, 0.45)['meets_guard'] and not quality_check(name, 0.45, fl[name])['meets_guard']   # 36 % alone: met
    with pytest.raises(AssertionError, match=r'0.4500 fails its guard >= 0.501 \(chance \+ 3 binomial'): assert_guard(name, 0.45, fl[name])
    figs = {name: 0.45, 'follows the AdaLN vector': 0.70, 'follows: with AdaLN − without': 0.10, 'stage 1 reply emotion (tone)': 0.90}
    rows = lambda card: {l.split(' | ')[0].strip(): l for l in card.splitlines()}
    card = rows(quality_card(figs, fl))
    assert card[name].endswith('| 0.501* | FAILS GUARD') and card['follows: with AdaLN − without'].endswith('| 0.188* | FAILS GUARD')
    assert card['follows the AdaLN vector'].endswith('| 0.383* | meets target') and card['stage 1 reply emotion (tone)'].endswith('| 0.85   | meets target')
    assert any(k.startswith('* chance beaten by three binomial standard deviations') for k in card)
    assert rows(quality_card(figs))[name].endswith('| 0.36   | below target, meets guard')        # without the run's sample


def test_a_note_changed_makes_the_report_again_not_its_parts(toy_eval, monkeypatch):
    "The report's stamp holds the words report.md is written from: a note edited makes the report not current, and the next `eol eval` writes it with that note from the parts it kept (their stamps, and the text side's, hold no words)."
    from emotion_omni_lite import report
    from emotion_omni_lite.evaluate import EVAL_PARTS, part_stamp, report_current
    cfg, s, _ = toy_eval
    out = evaluate_run(settings=s, progress=False)
    parts, text = {p: part_stamp(p, cfg, s) for p in EVAL_PARTS}, (out / 'text.json').stat().st_mtime_ns
    assert report_current(cfg, s)
    monkeypatch.setitem(report.METRIC_NOTES, 'asr_cer', "the kit's ASR on the text side's queries: CER, said anew")
    assert not report_current(cfg, s) and {p: part_stamp(p, cfg, s) for p in EVAL_PARTS} == parts
    evaluate_run(settings=s, progress=False)
    assert report_current(cfg, s)
    assert re.search(r"^\| `asr_cer` \| [^|]+ \| the kit's ASR on the text side's queries: CER, said anew \|$", (out / 'report.md').read_text(), re.M)
    assert (out / 'text.json').stat().st_mtime_ns == text                # the text side kept, not computed again


def test_a_run_time_setting_changed_makes_the_evaluation_again(toy_eval, monkeypatch):
    "The settings no run's hash holds but the evaluation's replies depend on (their length, sampling, Griffin-Lim's iterations) are in every part's stamp and the report's where they differ from the preset's: a kept evaluation made under others is not current; the preset's own values keep the stamps as they were."
    from emotion_omni_lite.config import set_field, set_fields
    from emotion_omni_lite.evaluate import EVAL_PARTS, EVAL_RUNTIME, part_stamp, report_current, runtime_settings
    cfg, s, _ = toy_eval
    evaluate_run(settings=s, progress=False)
    stamps = {p: part_stamp(p, cfg, s) for p in EVAL_PARTS}             # the toy's parts are stand-ins: their stamps, then
    assert runtime_settings(cfg) == {} and report_current(cfg, s)
    assert {p: part_stamp(p, set_field(cfg, 'decoder.temperature', 0.0), s) for p in EVAL_PARTS} == stamps   # the preset's
    for key, value in zip(EVAL_RUNTIME, (3, 0.7, 5, 2), strict=True):    # strict: a setting added there is tried here too
        changed = {key: value, **({'decoder.temperature': 0.7} if key == 'decoder.top_k' else {})}   # top-k samples: a temperature
        other = set_fields(cfg, **changed)
        assert runtime_settings(other) == changed
        assert not report_current(other, s) and all(part_stamp(p, other, s) != stamps[p] for p in EVAL_PARTS), key
    ini = toy_eval[1].data_path.parent.parent / 'settings.ini'                # the route README teaches: settings.ini
    ini.write_text('[emotion_omni_lite]\n[emotion_omni_lite.smoke]\ndecoder.temperature = 0.7\n')
    with monkeypatch.context() as m:
        m.setenv('EOL_SETTINGS', str(ini))
        from_file = get_config('smoke', **{'stages.stage1.cross_engine': True, 'stages.emotion.cross_engine_reference': True})
    assert from_file.decoder.temperature == 0.7 and runtime_settings(from_file) == {'decoder.temperature': 0.7}
    assert not report_current(from_file, s)


def test_the_full_size_evaluation_checks_its_folder_and_sizes_before_any_work(tmp_path, monkeypatch):
    "At full size a file where the report goes is named before the sample is scored (not when it is saved, the work lost); max_items, the text side's size of a run trained here, is refused naming evaluate_full's n_eval; a bad n_eval is named."
    from emotion_omni_lite import evaluate
    cfg, s = get_config('full'), get_settings(preset='full', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    worked = []
    def work(*a, **k): worked.append(a); raise RuntimeError('the sample was scored')
    for name in ('require_stage', 'stage1_features'): monkeypatch.setattr(evaluate, name, work)
    with pytest.raises(ConfigError, match=r"max_items=5 sizes the text side.*evaluate_full\(cfg, settings, n_eval=…\)"):
        evaluate_run(settings=s, max_items=5)
    for bad in (0, -1, 2.5, True, '96'):
        with pytest.raises(ConfigError, match=rf"n_eval={re.escape(repr(bad))}: .*set n_eval to one"): evaluate.evaluate_full(cfg, s, n_eval=bad)
    rep = s.run_path / 'report'; rep.parent.mkdir(parents=True); rep.write_text('notes')
    with pytest.raises(ConfigError, match=rf"{re.escape(str(rep))} is a file, not a folder, where the report should be"):
        evaluate_run(settings=s)
    assert worked == [] and rep.read_text() == 'notes'
    rep.unlink()
    with pytest.raises(RuntimeError, match='the sample was scored'): evaluate_run(settings=s)   # folders fine: the work starts


def test_an_unknown_part_is_named_with_the_parts_there_are(tmp_path):
    "A part name the evaluation does not have (a typo) is refused naming the parts, not a bare KeyError."
    from emotion_omni_lite.evaluate import EVAL_PARTS, JOB_PARTS, evaluate_job_part, evaluate_part, part_current
    cfg, s = get_config('smoke'), get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
    for call in (lambda: evaluate_part('omnii', cfg, s, progress=False), lambda: part_current('omnii', cfg, s)):
        with pytest.raises(ConfigError, match=f"no evaluation part is named 'omnii': the parts are {', '.join(EVAL_PARTS)}; name one"): call()
    with pytest.raises(ConfigError, match=f"no evaluation part is named 'txt': the parts are {', '.join(JOB_PARTS)}; name one"):
        evaluate_job_part('txt', cfg, s, progress=False)
    assert 'text' in JOB_PARTS and not (tmp_path / 'runs').exists()     # nothing made


def test_the_card_names_a_missing_or_damaged_file_with_the_command_that_writes_it(toy_eval):
    "run_figures reads the stages' metrics.json, report.json and speech_figures.json: one cut short, not a map, or missing is named with the `eol` command (its preset given) that writes it again, not a traceback."
    cfg, s, _ = toy_eval
    out = evaluate_run(settings=s, progress=False)
    for f, fix in ((out / 'report.json', 'eol eval --preset smoke'), (out / 'speech_figures.json', 'eol eval --preset smoke'),
                   (stage_folder('emotion_encoder', s) / 'metrics.json', 'eol run --preset smoke --stages emotion_encoder')):
        was = f.read_text()
        for damaged in (was[:20], '[1, 2]'):
            f.write_text(damaged)
            with pytest.raises(ConfigError, match=rf"{re.escape(str(f))} is damaged .*{re.escape(fix)}` to "): run_figures(cfg, s)
        f.unlink()
        if f.name != 'report.json':                                      # report.json gone: "no whole report", as before
            with pytest.raises(ConfigError, match=rf"{re.escape(str(f))} is missing: .*{re.escape(fix)}` to "): run_figures(cfg, s)
        f.write_text(was)
    sp = out / 'speech_figures.json'; sp.write_text(json.dumps({**json.loads(sp.read_text()), 'run_stamp': 'another'}))
    with pytest.raises(ConfigError, match='different evaluations.*run `eol eval --preset smoke` to write both again'): run_figures(cfg, s)


def test_missing_runs_are_timed_only_where_they_were_measured(tmp_path):
    "The evaluation's list of missing runs gives lite's measured minutes for lite, and for another preset says none was measured (it quoted lite's CPU minutes for a full-size training)."
    from emotion_omni_lite.evaluate import IncompleteRun, check_run
    said = {}
    for p in ('full', 'lite'):
        s = get_settings(preset=p, data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))
        with pytest.raises(IncompleteRun) as e: check_run(get_config(p), s)
        said[p] = str(e.value)
    assert "(no time measured for preset 'full')" in said['full'] and 'min' not in said['full'].split('runs them')[1]
    assert re.search(r"runs them \(the stage table's minutes on a 2-core CPU: [\d.]+ min in all\)", said['lite'])
