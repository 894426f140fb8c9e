"""Exercise 08.1: shift one held-out query's pitch up and down by 4 semitones and read it with the trained emotion
encoder each time. Does the reading move, and towards which emotions?

The encoder reads pitch relative to the speaker's own mean (`relative_pitch`) as well as its level. A whole-utterance
shift moves the level only, so a robust reading should barely move; where it does move, it moves up towards the
high-pitched emotions (happy, surprised, fearful) and down towards sad. That is a cue it leans on, and one a real
microphone (another speaker's register) will test. On `lite` (seed 0), the first held-out query (said sad)
reads sad at 99.9 % shifted by +4, 0 and −4 semitones alike: the level barely matters to this encoder.
"""
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.audio import load_audio
from emotion_omni_lite.dataset import audio_path, load_dialogues
from emotion_omni_lite.emotion_encoder import classify_emotion, load_emotion_encoder
from emotion_omni_lite.widgets import Controls, transform


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['emotion_encoder'], cfg, s)
    enc = load_emotion_encoder(cfg, s)
    row = next(r for r in load_dialogues(cfg, s).remove_columns(['units']) if r['split'] != 'train')
    wave = load_audio(audio_path(row, s, 'query'))
    out = {'said_as': row['user_emotion']}
    for st in (-4, 0, 4):
        p = classify_emotion(enc, [transform(wave, Controls(pitch=st))], cfg.audio)[0]
        out[st] = {e: round(float(v), 3) for e, v in zip(EMOTIONS, p)}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(k, v)
