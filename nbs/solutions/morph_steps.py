"""Exercise 17.2: a slide or a switch? In the emotion morph, AdaLN gets v = (1 − α)·v_sad + α·v_happy, and γ, β are
linear in v, so the condition itself moves evenly with α. Answer one sentence said neutrally, as the morph does, then
speak that reply at α = 0, 1/8, …, 1 and let the emotion encoder hear each version. Predict: does the voice glide
from sad to happy, step by step, or does it switch somewhere? Where, and does it ever reach happy?

On `lite` (seed 0, the wider vocoder; measured 2026-12-07), "I just got the results back." said neutrally by en-us+m1
gets the reply "Got it. Tell me more about the test." Under the sad prototype it lasts 5.6 s and is heard sad
(p = 1.0); it stays sad, 4.5 and 4.4 s long, at α = 1/8 and 1/4, then switches at α = 3/8 to 2.3 s (57 units instead
of 111: each unit is 40 ms), heard neutral (0.98), and stays neutral to α = 1, 2.0 to 2.4 s long, less sure towards the end
(0.93 at 3/4, 0.59 at 7/8, 0.46 at 1): one switch in pace, no halfway voice, and never happy. The condition moves evenly,
but the decoder picks each unit by argmax, and what it picks (above all how long it keeps speaking, sad's slow pace or
not) flips once the vector crosses a boundary between what it learned for sad and for the rest. Past the switch the
vector still moves the reading, only towards doubt: on this reply the happy end is heard neutral, while in 14.1 the
happy centroid, over another reply, is heard happy: sad's slow pace comes through on any reply, the rest depends on the
reply the units are written for (following a vector moves by 20 points between seeds, README's seed table). The reply
is spoken as the morph speaks it: the states `eol chat` speaks (`EmotionOmni.reply_states`), streamed.
"""
import torch
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.audio import MIN_SAMPLES, SAMPLE_RATE, resample
from emotion_omni_lite.emotion_encoder import emotion_features
from emotion_omni_lite.stage1 import speech_features, stage1_features
from emotion_omni_lite.omni import load_omni
from emotion_omni_lite.widgets import Controls, dataset_map_and_prototypes, morph_vector, resynthesize


def main(preset: str = None, settings=None, steps: int = 8, a: str = 'sad', b: str = 'happy',
         sentence: str = "I just got the results back.", voice: str = 'en-us+m1') -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['stage1', 'vocoder', 'stage2'], cfg, s)
    omni = load_omni(cfg, s)
    _, protos = dataset_map_and_prototypes(stage1_features(cfg, s, progress=False), seed=s.seed)   # the morph's prototypes
    wave = resynthesize(sentence, voice, 'neutral', Controls())       # the morph answers the sentence said neutrally, once
    reply = omni.reply_states(speech_features(omni.semantic_encoder, omni.emotion_encoder, wave, cfg.audio))   # what chat speaks
    out = {'reply': reply['text'], 'from': a, 'to': b}
    for k in range(steps + 1):                                        # what the morph's `speak(reply, vec)` does, units kept
        vec = torch.as_tensor(morph_vector(protos, a, b, k / steps))
        units, w = (omni.speak_states(reply['hidden'], reply['inputs_embeds'], vec, streaming=True) if len(reply['hidden'])
                    else ([], torch.zeros(0)))                        # a reply the model ended at once says nothing
        sr = omni.vocoder.sample_rate
        w16 = resample(w, sr, SAMPLE_RATE)
        p = emotion_features(omni.emotion_encoder, w16, cfg.audio).probs[0] if len(w16) >= MIN_SAMPLES else None
        out[k / steps] = {'heard': EMOTIONS[int(p.argmax())] if p is not None else '(silent)',
                          'p': round(float(p.max()), 2) if p is not None else None, 'units': len(units),
                          'seconds': round(len(w) / sr, 2)}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
