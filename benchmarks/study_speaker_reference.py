"""A study: how far the prosodic cues carry from one TTS engine to the other, as measured and heard against each voice.

The linear probe of notebook 08 (twelve pitch, energy and rate numbers per query) is fitted on one engine's training
queries alone and scored on its own held-out voices and on every query of the other engine, three ways: on the
features as measured, with each voice's mean and spread taken out (`cues.speaker_normalized`), and with the mean of
five calm (neutral) clips of each voice alone as its reference; every way is scored without those clips
(`cues.not_calm`); on the other engine, each emotion's accuracy and its commonest misreading (the probe's confusion
matrix, `confusion_other_engine`). No training beyond the probe: about 20 s a seed for the features.

With --encoders it also prints the cross-engine emotion encoders, as heard (emotion_encoder_*_only, notebook 07),
against a calibration, the pitch level and loudness of five calm clips of each voice (emotion_encoder_*_calibrated,
notebook 08), and against each voice's full baseline (emotion_encoder_*_referenced, notebook 08), training those a
seed lacks: about 4 minutes a seed on 2 cores. With --stage1, stage 1 trained on espeak alone through each of the
three espeak encoders (stage1_espeak_only, stage1_espeak_calibrated, stage1_espeak_referenced), scored on Piper's
tone-dependent dialogues: about 8 minutes a seed, and 5 more where the seed has no ASR and text LLM yet. What it trains
it writes into the seed's runs folder: for seed 0 the main job's own (runs/<preset> of the folders settings.ini names),
for the others runs/seeds/s<N>/runs. The rows it trains are rows of the stage table the main job leaves out (their
switches are off there), so the main job's report does not change; with --stage1, a seed that lacks the ASR, the text
LLM or the espeak-only emotion encoder gets them trained there too (for seed 0, into the main job's runs).

    .venv/bin/python benchmarks/study_speaker_reference.py                 # seed 0: the main job's data/
    .venv/bin/python benchmarks/study_speaker_reference.py --seeds 0 1 2   # seeds 1, 2: bench_seeds.py's runs/seeds/s<N>/data
    .venv/bin/python benchmarks/study_speaker_reference.py --seeds 0 1 2 --encoders --stage1

Every seed's lite dataset must exist (`eol run --stages data` with EOL_SEED, EOL_DATA_DIR set as bench_seeds.py sets
them): those missing are named, for every seed, with the command that builds them, before any work.
"""
import argparse, contextlib, io, json, os, sys
from pathlib import Path
os.environ.setdefault('HF_HUB_OFFLINE', '1')

from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.cues import cross_engine_probe, not_calm, query_prosody, speaker_normalized
from emotion_omni_lite.cli import ensure_stages, run_script
from emotion_omni_lite.stages import lite_minutes, require_stage, stage_folder, stages_needed

SEEDS = Path(__file__).resolve().parents[1] / 'runs' / 'seeds'      # bench_seeds.py's --root: other seeds' data and runs

ENCODERS = {'as heard': 'emotion_encoder_{}_only', 'against five calm clips': 'emotion_encoder_{}_calibrated',
            "against the voice's baseline": 'emotion_encoder_{}_referenced'}
STAGE1 = {'as heard': 'stage1_espeak_only', 'against five calm clips': 'stage1_espeak_calibrated',
          "against the voice's baseline": 'stage1_espeak_referenced'}


def train_quietly(names, cfg, s):
    "Train what `names` lack, saying first which runs and about how long; their own output is kept out of the table."
    if need := stages_needed(names, cfg, s):
        print(f"  training {', '.join(need)} (about {lite_minutes(need)} min on a 2-core CPU) ...", flush=True)
    with contextlib.redirect_stdout(out := io.StringIO()): ensure_stages(names, cfg, s)
    for line in out.getvalue().splitlines():                          # but a finished run replaced is said
        if 'replacing the finished run' in line: print(' ', line.strip(), flush=True)


def misread(cm) -> str:
    "Each true emotion's commonest wrong reading in a confusion matrix (rows: true), as 'surp→happ 111/202'."
    out = []
    for i, (e, r) in enumerate(zip(EMOTIONS, cm)):
        j = max((k for k in range(len(r)) if k != i), key=lambda k: r[k])
        out.append(f"{e[:4]} —" if not sum(r) else f"{e[:4]}→{EMOTIONS[j][:4]} {r[j]}/{sum(r)}" if r[j] else f"{e[:4]} none of {sum(r)}")   # —: none scored
    return ' '.join(out)


def encoder_rows(s) -> None:
    "Train the cross-engine encoders this seed lacks, then print each one's figures."
    cfg = get_config('lite', **{'stages.emotion.cross_engine_reference': True})
    names = [n.format(e) for n in ENCODERS.values() for e in ('espeak', 'piper')]
    train_quietly(names, cfg, s)
    for name, pattern in ENCODERS.items():
        for eng in ('espeak', 'piper'):
            m = json.loads((stage_folder(pattern.format(eng), s) / 'metrics.json').read_text())
            per = ' '.join(f"{e[:4]} {r[i] / max(1, sum(r)):.0%}" for i, (e, r) in enumerate(zip(EMOTIONS, m['confusion_other_engine'])))
            print(f"  {'encoder, ' + name:40s} {eng:6s} → other: {m['acc_other_engine']:6.1%}   own held-out voices "
                  f"{m['acc_heldout_voice']:6.1%}   other, by emotion: {per}")


def stage1_rows(s) -> None:
    "Train stage 1 on espeak alone through each espeak encoder where this seed lacks it, then print its replies' figures."
    cfg = get_config('lite', **{'stages.emotion.cross_engine_reference': True, 'stages.stage1.cross_engine': True})
    train_quietly(list(STAGE1.values()), cfg, s)
    for name, stage in STAGE1.items():
        m = json.loads((stage_folder(stage, s) / 'metrics.json').read_text())
        print(f"  {'stage 1, ' + name:40s} espeak → Piper, tone-dependent: reply style {m['other_engine_tone_style_match']:6.1%}, "
              f"reply emotion {m['other_engine_tone_reply_emotion_acc']:6.1%}   espeak's held-out: style {m['tone_style_match']:6.1%}")


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--seeds', type=int, nargs='+', default=[0])
    ap.add_argument('--root', type=Path, default=SEEDS, help="where seeds other than 0 keep their data (bench_seeds.py's --root; "
                                                             "default: the checkout's runs/seeds, wherever it is run from)")
    ap.add_argument('--encoders', action='store_true', help="also the cross-engine emotion encoders (trains those missing, "
                                                             "into the seed's runs: for seed 0, the main job's)")
    ap.add_argument('--stage1', action='store_true', help="also stage 1 through each espeak encoder (trains those missing, "
                                                           "into the seed's runs: for seed 0, the main job's)")
    a = ap.parse_args()
    cfg = get_config('lite')
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_flops import every_seed
    root = a.root.expanduser().resolve()                                # one folder, whatever the settings file's place
    def settings(seed):                                                 # seed 0: the main job's, wherever settings put them
        kw = {} if seed == 0 else dict(data_dir=str(root / f's{seed}' / 'data'), out_dir=str(root / f's{seed}' / 'runs'))
        return get_settings(preset='lite', seed=seed, device='cpu', **kw)
    seeds = {seed: settings(seed) for seed in a.seeds}
    every_seed(lambda s: require_stage('data', cfg, s), seeds.values())   # every seed's dataset, before any work
    for seed, s in seeds.items():
        rows, x = query_prosody(cfg, s)
        views = {'as measured': x, 'against the voice': speaker_normalized(x, rows),
                 'against five calm clips': speaker_normalized(x, rows, 'calm')}
        scored = not_calm(rows)                          # every view scored without the clips the third was measured on
        print(f"seed {seed} ({s.data_path}, {len(rows)} queries)")
        for name, xv in views.items():
            for eng in ('espeak', 'piper'):
                m = cross_engine_probe(rows, xv, eng, scored, cfg.data.tts)     # a voice without a prefix: the config's engine
                per = ' '.join(f"{e[:4]} {'—' if (v := m['acc_other_engine_by_emotion'][e]) is None else f'{v:.0%}'}" for e in EMOTIONS)
                print(f"  {'probe, ' + name:40s} {eng:6s} → other: {m['acc_other_engine']:6.1%}   own held-out voices "
                      f"{m['acc_heldout_voice']:6.1%}   other, by emotion: {per}")
                print(f"  {'':40s} {'':6s}   other, each emotion's commonest misreading: {misread(m['confusion_other_engine'])}")
        if a.encoders: encoder_rows(s)
        if a.stage1: stage1_rows(s)


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
