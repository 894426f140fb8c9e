"""Exercise 05.2: bring your own speech tokens. Write a manifest (JSON lines) for three dialogues of the built
dataset, with each reply's units saved as an `.npy` file, and build it as a dataset of its own with
`units.kind = 'external'`. Then break one line each way — a token outside the vocabulary, a file that is not there, a
token file of another rate — and read what the build says.

The three good lines become a dataset whose units are the files' tokens; the audio stays where it is. The
broken manifest is refused whole, each line with its problem, and nothing is written. The rate check reads the
reply's duration: `units.rate_hz` tokens a second within a quarter, so a file of another tokenizer (or of another
reply) shows. Run on `lite`: three lines read in under 0.1 s, their units exactly the files'; the broken manifest
refuses all 3 lines (token 517 outside [0, 512); missing.npy; 393 tokens for 5.26 s, 74.7 a second, which is also
more than the 200 tokens stage 2 learns to speak: every problem of a line is said).
"""
import json, tempfile
from pathlib import Path
import numpy as np
from emotion_omni_lite.config import ConfigError, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.dataset import audio_path, build_dataset, load_dialogues


def manifest(rows, s, folder: Path, n_units: int, broken: bool = False) -> Path:
    lines = []
    for i, r in enumerate(rows):
        u = np.asarray(r['units'], dtype=np.int64)
        if broken and i == 0: u[0] = n_units + 5                       # outside the vocabulary
        if broken and i == 2: u = np.repeat(u, 3)                       # three times the rate
        np.save(folder / f'{r["id"]}.npy', u)
        lines.append({'id': r['id'], 'query_audio': str(audio_path(r, s, 'query')), 'query_text': r['query_text'],
                      'user_emotion': r['user_emotion'], 'reply_audio': str(audio_path(r, s, 'reply')),
                      'reply_text': r['reply_text'], 'reply_emotion': r['reply_emotion'], 'split': 'test' if i == 2 else 'train',
                      'reply_units': 'missing.npy' if broken and i == 1 else f'{r["id"]}.npy'})
    m = folder / ('broken.jsonl' if broken else 'dialogues.jsonl')
    m.write_text(''.join(json.dumps(l) + '\n' for l in lines))
    return m


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['data'], cfg, s)
    rows = load_dialogues(cfg, s).to_list()[:3]
    out = {}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ext = get_config(s.preset, **{'units.kind': 'external', 'units.manifest': str(manifest(rows, s, d, cfg.units.n_units)),
                                      'units.rate_hz': 25})
        s2 = get_settings(preset=s.preset, data_dir=str(d / 'data'), out_dir=str(d / 'runs'))
        build_dataset(ext, s2)
        mine = load_dialogues(ext, s2)
        out['rows'] = len(mine)
        out['units_as_brought'] = mine['units'] == [r['units'] for r in rows]
        bad = get_config(s.preset, **{'units.kind': 'external', 'units.manifest': str(manifest(rows, s, d, cfg.units.n_units, True))})
        try: build_dataset(bad, get_settings(preset=s.preset, data_dir=str(d / 'bad'), out_dir=str(d / 'runs')))
        except ConfigError as e: out['refused'] = str(e)
        out['nothing_written'] = not (d / 'bad' / s.preset / 'dialogues').exists()
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
