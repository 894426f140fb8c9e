"""Exercise 14a.2: how long may a question be? A student asks a 5-second question. `audio.max_seconds` is 6 in `lite`:
predict what `respond` does with it, and why. Then widen the semantic encoder's window
(`semantic_encoder.max_source_positions`) from 225 to 300, then to 400: what does the model hear now, what is the
limit at full size, and what would the change cost on the stage table?

The model hears the shorter of two limits: the audio limit (6 s) and the semantic encoder's window, which takes
exactly 2 × 225 = 450 mel frames, 4.5 s in `lite`. So `hearing_seconds` is 4.5 and the 5-second question is refused
with a message that says so and how to fix it (cut it at a pause); without that check the encoder would silently
keep its first 4.5 s. The kit's own queries last at most 4.1 s, which is why 4.5 s was enough for the data. A
window of 300 positions is 6 s, so the model hears 6 s and the question passes; 400 positions is 8 s, but the
audio limit keeps it at 6. At full size both limits are 30 s (Whisper's 1,500 positions). The window is part of the
ASR's config, so the change leaves five runs of the main job out of date: the ASR, both stage-1 runs and both stage-2
runs (14.9 minutes of training by the stage table), everything that learned from the ASR's features (and the
stage-1 studies, where they are switched on). The dataset, the emotion
encoders, the text LLM and the vocoder never read them and stay current.
"""
import torch
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.audio import AudioError
from emotion_omni_lite.dataset import load_dialogues
from emotion_omni_lite.omni import check_length, hearing_seconds
from emotion_omni_lite.stages import job_stages, lite_minutes, stage_state, stages_needed
from emotion_omni_lite.tts import fresh_espeak, speak


def refused(wave, cfg):
    "None when the model hears the whole wave, else the message it refuses it with."
    try: check_length(wave, cfg); return None
    except AudioError as e: return str(e)


def main(preset: str = None, settings=None, seconds: float = 5.0) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    sr = cfg.audio.sample_rate
    with fresh_espeak() as engine:                   # a fresh library: the same waves every run
        said = [speak(t, 'en-us+m1', 'sad', engine=engine, seed=0) for t in ("I just got the results back.", "The train left without us.")]
    wave = torch.cat(said * 3)[:int(seconds * sr)]                   # a question of `seconds`
    assert len(wave) == int(seconds * sr)
    out = {'audio_max_seconds': cfg.audio.max_seconds,
           'window_seconds': 2 * cfg.semantic_encoder.max_source_positions * cfg.audio.hop_length / sr,
           'hears_seconds': hearing_seconds(cfg), f'{seconds:g} s question': refused(wave, cfg) or 'heard'}
    if stage_state('data', cfg, s) == 'done':                        # the data's longest query
        out['longest_query_in_data'] = round(max(load_dialogues(cfg, s)['query_seconds']), 1)
    for p in (300, 400):
        c = get_config(s.preset, **{'semantic_encoder.max_source_positions': p})
        out[f'window {p}'] = {'hears_seconds': hearing_seconds(c), f'{seconds:g} s question': refused(wave, c) or 'heard'}
    out['full_hears_seconds'] = hearing_seconds(get_config('full'))
    c = get_config(s.preset, **{'semantic_encoder.max_source_positions': 300})
    out['to train after the change'] = stages_needed(job_stages(c), c, s)
    out['lite_minutes'] = lite_minutes(out['to train after the change'])
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
