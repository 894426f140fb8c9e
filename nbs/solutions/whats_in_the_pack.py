"""Exercise 90a.2: what fills a lab's archive? Before you run `eol pack`, guess: is the archive mostly trained weights,
or something else? List what `pack_run` would take from the trained run (nothing is written), sort it into the
dataset's audio, the dataset's tables, the caches the stages share, the trained weights, the report and (once `eol
course` has written it) the rendered course, and add up what it leaves out. Then predict the archive of a `lite` run
with twice the dialogues.

On `lite` (seed 0, the wider vocoder; the main job's runs alone, with no rendered course and no study encoder) the data
and runs folders hold 812 MB, and the archive would take 729 MB of it in 7,290 files (with `pack.json` and tar's
headers, a 743.0 MB archive).
The audio of the 3,600 dialogues is 560 MB of those (77 %), and the two caches the stages share (stage 1's encoder
features, stage 2's reply states) 130 MB (18 %). Every trained weight of all ten trained runs together is 28 MB
(4 %); the report is 6 MB and the dataset's tables and units 4 MB. What stays behind is the resume checkpoints,
83 MB, which only an interrupted training needs, and the logs and lock files (under 0.1 MB); a run folder that trained a
stage again would also leave out the feature caches no current run reads, and any `.tar` left in the folders, each
counted apart (`left_kind`: `_pack_files`' own rules). So a lab's archive is
its data: with twice the dialogues, the audio, the tables and the caches double and the weights do not (their sizes
come from the config, not the data), about 1.4 GB. Packing the caches costs a fifth of the archive and spares every
student making them again (the encoder features alone took 64 s on the machine that trained, the reply states 17 s
more).
"""
from collections import defaultdict
from pathlib import Path
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.course import _current_caches, _old_cache, _pack_files
from emotion_omni_lite.stages import STAGES, job_stages, stage_state


def kind(name: str) -> str:
    "What an archive member is, by its path (`data/…` or `runs/…`)."
    parts = name.split('/')
    if parts[0] == 'data': return 'dataset audio' if parts[1] == 'audio' else 'dataset tables and units'
    if parts[1] in ('stage1_features', 'stage2_features'): return 'shared caches'
    if parts[1] == 'report': return 'report'
    if parts[1] == 'course': return 'rendered course'                # `eol course`'s pages: <out_dir>/<preset>/course
    if name.endswith('.safetensors') or '/lora/' in name or '/model/' in name: return 'trained weights'
    return 'run records (config, metrics, history, checksums)'


def left_kind(top: str, rel: Path, unfinished, current: dict) -> str:
    "Why `_pack_files` leaves out file `rel` of the `top` folder ('data' or 'runs'), by its own rules (`current`: `_current_caches`)."
    if 'checkpoint' in rel.parts: return 'resume checkpoints'
    if rel.parts[0] == 'logs': return 'logs'
    if top == 'runs' and rel.parts[0] in unfinished: return 'runs not finished (or of other settings)'
    if top == 'runs' and _old_cache(rel, current): return 'feature caches no current run reads'   # a retrain leaves one
    if rel.suffix == '.tar': return 'archives left in the folders (.tar)'    # packed, they would nest
    return 'locks' if rel.name.endswith('.lock') else 'other hidden files'   # what is left: names starting with '.'


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(job_stages(cfg), cfg, s)                          # the main job's runs: no study behind a switch
    mb = lambda b: round(b / 1e6, 1)
    packed = defaultdict(int)
    unfinished = [n for n in STAGES if stage_state(n, cfg, s) != 'done']   # as `eol pack` does: their folders stay out
    files = _pack_files(s, unfinished)                               # (archive name, path): what `eol pack` writes
    for name, p in files: packed[kind(name)] += p.stat().st_size
    taken = {p.resolve() for _, p in files}
    left, current = defaultdict(int), _current_caches(s)
    for top, folder in (('data', Path(s.data_path)), ('runs', Path(s.run_path))):
        for p in folder.rglob('*'):
            if p.is_file() and not p.is_symlink() and p.resolve() not in taken:
                left[left_kind(top, p.relative_to(folder), unfinished, current)] += p.stat().st_size
    total = sum(packed.values())
    return {'folders_mb': mb(total + sum(left.values())), 'packed_mb': mb(total), 'files': len(files),
            'packed': {k: {'mb': mb(v), 'share': round(v / total, 2)} for k, v in sorted(packed.items(), key=lambda kv: -kv[1])},
            'left_out_mb': {k: mb(v) for k, v in left.items()}}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
