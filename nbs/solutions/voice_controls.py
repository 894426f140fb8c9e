"""Exercise 17.1: which cue moves the reading most? Take one neutral held-out query and change it one control at a
time with the panel's own `transform` (pitch +4 semitones, rate ×1.3, loudness +6 dB), then let the trained emotion
encoder read each version. Which control moves its reading, and towards which emotion?

On `lite` (seed 0), the first neutral tone-dependent held-out-voice query reads neutral (p = 0.971). Pitch +4 semitones:
still neutral, though less sure (0.712): the encoder reads pitch relative to the utterance's own mean as well as its
level, and a whole shift moves the level alone. Loudness +6 dB: still neutral (0.931). Rate ×1.3: fearful (0.993). The
rate is what moves it: fearful is the fastest of the kit's prosody presets, and the encoder's augmented training
perturbs the tempo by only ±10 %, while it learns from copies up to 8 dB louder or softer (`audio.augment`): loudness
barely matters to it, and speaking fast does.
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
    row = next(r for r in load_dialogues(cfg, s).remove_columns(['units'])
               if r['split'] == 'test_voice' and r['user_emotion'] == 'neutral' and r['sentence_kind'] == 'tone')
    wave = load_audio(audio_path(row, s))
    out = {}
    for name, c in (('as spoken', Controls()), ('pitch +4 st', Controls(pitch=4)), ('rate x1.3', Controls(rate=1.3)),
                    ('loudness +6 dB', Controls(loudness=6))):
        p = classify_emotion(enc, [transform(wave, c)], cfg.audio)[0]
        out[name] = {'reads': EMOTIONS[int(p.argmax())], 'p_neutral': round(float(p[0]), 3), 'p_top': round(float(p.max()), 3)}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
