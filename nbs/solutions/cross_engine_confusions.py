"""Exercise 07.2: read the two cross-engine runs. Which emotions does the encoder trained on espeak alone hear in
Piper's speech, and which does the one trained on Piper alone hear in espeak's? Which emotion absorbs the others, and
which cue of the other engine explains it?

On `lite` (seed 0 of README's second machine; its first machine gave 45.2 and 64.8 %), trained on espeak alone the
encoder reads Piper's queries at 45.7 %; trained on Piper alone it reads espeak's at 64.6 % (chance 17 %;
`runs/lite/emotion_encoder_*_only/metrics.json`). See `main()`'s output for the
matrices: the emotion that absorbs the most is the one whose preset the other engine's ordinary voice resembles —
Piper's natural voice is duller (less energy above 2 kHz) than espeak's buzz, as espeak's sad preset is, so an
espeak-trained ear hears much of Piper as sad; tilt and level, cues each engine carries in its own way, do not travel.
Exercise 08.3 shows what hearing each voice against its own calm does to this.
"""
import torch
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.stages import require_stage
import json


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    names = ['emotion_encoder_espeak_only', 'emotion_encoder_piper_only']
    ensure_stages(names, cfg, s)
    out = {}
    for name, heard_on in zip(names, ('piper', 'espeak')):
        m = json.loads((require_stage(name, cfg, s) / 'metrics.json').read_text())
        cm = torch.tensor(m['confusion_other_engine'])                    # rows: said; columns: heard
        out[name] = {'heard_on': heard_on, 'accuracy': m['acc_other_engine'],
                     'absorbs': EMOTIONS[int(cm.sum(0).argmax())],        # the emotion heard most often
                     'per_emotion': {e: round(float(cm[i, i] / cm[i].sum().clamp(min=1)), 3) for i, e in enumerate(EMOTIONS)}}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
