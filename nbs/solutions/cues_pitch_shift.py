"""Exercise 08.1: shift the first held-out query of each emotion up and down by 4 semitones and read each version
with the trained emotion encoder. Does the reading move, and towards which emotions?

The encoder reads pitch relative to the utterance's own voiced mean (`relative_pitch`) as well as its level. A
whole-utterance shift moves the level only, so a robust reading would not move; where it moves, it shows a cue the
encoder leans on, and one a real microphone (another speaker's register) will test. On `lite` (seed 0),
`python nbs/solutions/cues_pitch_shift.py` prints each query's top reading at −4, 0 and +4 semitones:
    sad        sad 1.0, sad 1.0, sad 1.0
    angry      angry 0.998, angry 0.999, angry 0.998
    surprised  happy 0.903, surprised 0.998, surprised 0.999
    fearful    fearful 0.605, happy 0.84, happy 0.924
    happy      neutral 0.898, happy 0.987, neutral 0.958
    neutral    neutral 0.798, neutral 0.697, neutral 0.992
Sad, angry and neutral keep their reading: the encoder tells them by more than how high the voice sits (neutral's
certainty moves, though, with happy its second reading). The high emotions do move: happy shifted either way reads
neutral, surely (0.90 lowered, 0.96 raised), and surprised lowered reads happy. Fearful (a held-out sentence, "The shop
closed down.") is heard as happy as spoken and more so raised; lowered four semitones it reads fearful, if barely
(0.61). Where emotions differ mainly in their level, the encoder leans on it, and another speaker's register moves the
reading.
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
