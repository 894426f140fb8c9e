"""Exercise 07.2: read the two cross-engine runs. Which emotions does the encoder trained on espeak alone hear in
Piper's speech, and which does the one trained on Piper alone hear in espeak's? Which emotion absorbs the others, and
which cue of the other engine explains it?

On `lite` (seed 0 of README's second machine; its first machine gave 45.2 and 64.8 %), trained on espeak alone the
encoder reads Piper's queries at 45.7 %; trained on Piper alone it reads espeak's at 64.6 % (chance 17 %;
`runs/lite/emotion_encoder_*_only/metrics.json`). `main()` returns both confusion matrices (rows: the emotion said,
columns: the one heard). Espeak to Piper: sad absorbs the most (250 of its 641 mistakes: Piper's neutral, happy and
surprised heard as sad), the emotion whose preset the other engine's ordinary voice resembles — Piper's natural voice
is duller (less energy above 2 kHz) than espeak's buzz, as espeak's sad preset is; tilt and level, cues each engine
carries in its own way, do not travel. Piper to espeak the other way round: neutral absorbs 522 of its 857 mistakes
(espeak's happy, surprised and fearful heard as calm; surprised is heard right 13 times in 398): what moves Piper's
renderings of those feelings away from its calm is weaker, or carried by other cues, in espeak's. Exercise 08.3 shows
what hearing each voice against its own calm does to this.
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
        wrong = cm.sum(0) - cm.diagonal()                                 # each emotion heard where another was said
        k = int(wrong.argmax())
        out[name] = {'heard_on': heard_on, 'accuracy': m['acc_other_engine'], 'confusion': cm.tolist(),
                     'absorbs': EMOTIONS[k], 'absorbs_mistakes': int(wrong[k]), 'mistakes': int(wrong.sum()),
                     'per_emotion': {e: round(float(cm[i, i] / cm[i].sum().clamp(min=1)), 3) for i, e in enumerate(EMOTIONS)}}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
