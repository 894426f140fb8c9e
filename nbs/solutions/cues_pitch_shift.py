"""Exercise 08.1: shift the first held-out query of each emotion up and down by 4 semitones and read each version
with the trained emotion encoder. Does the reading move, and towards which emotions?

The encoder reads pitch relative to the utterance's own voiced mean (`relative_pitch`) as well as its level. A
whole-utterance shift moves the level only, so a robust reading would not move; where it moves, it shows a cue the
encoder leans on, and one a real microphone (another speaker's register) will test. On `lite` (seed 0),
`python nbs/solutions/cues_pitch_shift.py` prints each query's top reading at −4, 0 and +4 semitones:
    sad        sad 0.999, sad 0.999, sad 0.999
    angry      angry 0.998, angry 0.998, angry 0.997
    surprised  happy 0.9, surprised 0.998, surprised 0.998
    fearful    neutral 0.625, fearful 0.638, neutral 0.63
    happy      neutral 0.987, happy 0.994, neutral 0.778
    neutral    neutral 0.987, neutral 0.944, neutral 0.991
Sad, angry and neutral do not move: the encoder tells them by more than how high the voice sits. The high emotions
do: happy shifted either way reads neutral (lowered, surely; raised, at 0.78), surprised lowered reads happy, and
fearful, read at only 0.64 as spoken (a held-out sentence, happy its second reading), reads neutral either way. Where
emotions differ mainly in their level, the encoder leans on it, and another speaker's register moves the reading.
"""
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.audio import load_audio
from emotion_omni_lite.dataset import audio_path, load_dialogues
from emotion_omni_lite.emotion_encoder import classify_emotion, load_emotion_encoder
from emotion_omni_lite.widgets import Controls, transform

SHIFTS = (-4, 0, 4)


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['emotion_encoder'], cfg, s)
    enc, first = load_emotion_encoder(cfg, s), {}
    for r in load_dialogues(cfg, s).remove_columns(['units']):     # the first held-out query of each emotion
        if r['split'] != 'train': first.setdefault(r['user_emotion'], r)
    out = {}
    for e, row in first.items():
        wave = load_audio(audio_path(row, s, 'query'))
        ps = classify_emotion(enc, [transform(wave, Controls(pitch=st)) for st in SHIFTS], cfg.audio)
        out[e] = {st: {'reads': EMOTIONS[int(p.argmax())], 'p': round(float(p.max()), 3)} for st, p in zip(SHIFTS, ps)}
    return out


if __name__ == '__main__':
    for e, v in main().items(): print(f"{e:10s}", ', '.join(f"{r['reads']} {r['p']}" for r in v.values()))
