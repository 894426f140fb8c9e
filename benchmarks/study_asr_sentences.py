"""A study: what the ASR stand-in's reading sentences buy, and what they cost.

`lite`'s stand-in learns the training queries (a hundred-odd sentences, each in many voices), one microphone-augmented
copy of each, and `stages.asr.reading_sentences` generated sentences of common English words read once each by espeak
(`dialogues.reading_sentences`, `semantic_encoder.read_aloud`; `stages.asr.piper_readings` more, read by Piper's
pseudo-speakers, is off in `lite`). This script trains stage `asr` with the `lite` config
changed by `--set`, in a folder of its own (the repo's runs are not touched), and prints the time it took and its
character error rates: held-out voices of known sentences, new sentences, and held-out voices through noise and a
room: the figures of notebook 06's table (which come from the main job's runs), for settings the job does not use, e.g.

    .venv/bin/python benchmarks/study_asr_sentences.py --set stages.asr.reading_sentences=6000
    .venv/bin/python benchmarks/study_asr_sentences.py --set stages.asr.reading_sentences=0 stages.asr.steps=900
    .venv/bin/python benchmarks/study_asr_sentences.py --set stages.asr.piper_readings=500

Needs the seed's lite dataset (`eol run --stages data` for seed 0; `bench_seeds.py` makes the others', which
`--seed N` reads from <checkout>/runs/seeds/sN/data). `--set` changes the ASR's own settings only (`stages.asr.*`,
`semantic_encoder.*`): the dataset stays the one built. `--out F` keeps the run in F/lite/asr, outside the main job's
runs and data; a folder that holds an ASR run already is refused (a finished one of other settings would be replaced,
one of the same reused without being timed; an unfinished one resumed and timed as if whole): give each study a folder
of its own. Without `--out` the run goes to a temporary folder. The CERs by engine are scored as `evaluate_asr` scores
the report's: the same queries, each transcript held to the same length.
"""
import argparse, json, os, tempfile, time
from pathlib import Path
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch
from emotion_omni_lite.cli import run_script
from emotion_omni_lite.config import ConfigError, get_config, get_settings, parse_field
from emotion_omni_lite.dataset import load_query_mels
from emotion_omni_lite.metrics import cer
from emotion_omni_lite.semantic_encoder import asr_job, load_asr_model, scored_queries, transcribe, transcript_cap
from emotion_omni_lite.tts import engine_of
from emotion_omni_lite.stages import run_stage

SEEDS = Path(__file__).resolve().parents[1] / 'runs' / 'seeds'      # bench_seeds.py's --root: other seeds' data and runs


def by_engine(cfg, s) -> dict:
    "CER on new sentences by TTS engine: the queries `evaluate_asr` scores for `cer_test_sentence` (evenly spaced to at most 300), each transcript held to its length."
    rows, mels = load_query_mels(cfg, s)
    idx, longest = scored_queries(rows, 'test_sentence'), transcript_cap(rows)   # as evaluate_asr scores them
    hyps = transcribe(load_asr_model(cfg, s), [mels[i] for i in idx], max_chars=longest)
    return {e: round(cer([rows[i]['query_text'] for i, h in js], [h for i, h in js]), 4)
            for e in ('espeak', 'piper') if (js := [(i, h) for i, h in zip(idx, hyps) if engine_of(rows[i]['voice'], cfg.data.tts) == e])}


def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()))
    ap.add_argument('--set', nargs='*', default=[], metavar='FIELD=VALUE',
                    help="config changes, e.g. stages.asr.reading_sentences=6000 stages.asr.steps=1800")
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--data-dir', default=None, help="the seed's lite dataset (default: the main job's for seed 0, bench_seeds.py's "
                                                     "<checkout>/runs/seeds/s<N>/data for seed N)")
    ap.add_argument('--out', default='', help='where to keep the run: it goes to <out>/lite/asr (default: a temporary folder)')
    a = ap.parse_args()
    if a.threads < 1: ap.error(f"--threads {a.threads}: give 1 or more")
    if a.data_dir: a.data_dir = str(Path(a.data_dir).expanduser().resolve())   # from here, whatever the settings file's place
    else: a.data_dir = None if a.seed == 0 else str(SEEDS / f's{a.seed}' / 'data')   # None: settings' data_dir
    job = get_settings(preset='lite')                                  # the main job's folders: never this study's
    out = Path(a.out).expanduser().resolve() if a.out else None
    job_out, job_run, job_data = (Path(x).resolve() for x in (job.out_dir, job.run_path, job.data_dir))
    if out is not None and (out == job_out or any(d == out or d in out.parents for d in (job_run, job_data))):
        ap.error(f"--out {a.out}: the main job's runs and data live there, and a run of other settings would replace its "
                 "ASR: keep the study elsewhere, e.g. --out studies/asr")
    run = None if out is None else out / 'lite' / 'asr'
    if run is not None and (run / 'metrics.json').exists():
        ap.error(f"--out {a.out}: it holds a finished ASR run ({run}), which a study of other settings would "
                 "replace and one of the same would reuse without timing it: give each study a folder of its own")
    if run is not None and run.is_dir() and any(run.iterdir()):        # a stopped study: resumed, its time would read as whole
        ap.error(f"--out {a.out}: it holds an unfinished ASR run ({run}), which this study would resume and time as if it "
                 f"had trained it whole: delete {run} to train it again from the start, or give another --out")
    changes = {}
    for item in a.set:
        key, eq, value = item.partition('=')
        if not eq: ap.error(f"--set {item!r}: write FIELD=VALUE, e.g. stages.asr.steps=1800")
        if not key.startswith(('stages.asr.', 'semantic_encoder.')):
            ap.error(f"--set {key}: the study changes the ASR's own settings (stages.asr.*, semantic_encoder.*); "
                     "another field would ask for another dataset")
        try: changes[key] = parse_field(key, value, 'lite')            # read as settings.ini reads it: none, true, 0.003
        except ConfigError as e: ap.error(f"--set {item}: {e}")
    torch.set_num_threads(a.threads)
    cfg = get_config('lite', **changes)
    with tempfile.TemporaryDirectory() as tmp:
        s = get_settings(preset='lite', out_dir=str(out or tmp), data_dir=a.data_dir, seed=a.seed, device='cpu')   # the folder checked
        t0 = time.time(); folder = run_stage('asr', cfg, asr_job, s); total = time.time() - t0
        m = json.loads((folder / 'metrics.json').read_text())
        engines = by_engine(cfg, s)
    tc = cfg.stages.asr
    print(f"asr, seed {a.seed}, {a.threads} threads, {tc.steps} steps, {tc.reading_sentences} sentences read by espeak and "
          f"{tc.piper_readings} by Piper, "
          f"{tc.aug_copies} augmented copies: {total:.0f} s (training {m['train_seconds']} s, "
          f"reading {m.get('reading_seconds')} s)")
    print('CER:', {k[4:]: v for k, v in m.items() if k.startswith('cer_')})
    print('CER on new sentences, by engine:', engines)


if __name__ == '__main__':
    run_script(main, 'benchmarks/' + os.path.basename(__file__))   # the kit's errors said as eol says them
