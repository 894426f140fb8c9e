"""Exercise 10.1: make the adapter stack 4 frames instead of 5, and predict the new rate and length.

On `lite` (what `main` runs unless given another preset), a 3-second query: 48,000 samples → 300 log-mel frames
(100 Hz) → 150 encoder frames (50 Hz) → 150 // k adapter frames. With k = 5 that is 30 positions at 10 Hz; with k = 4,
37 positions at 12.5 Hz (the last 2 frames do not fill a group and are dropped). The adapter's first layer shrinks from
5·d to 4·d inputs. (At full size wav2vec2 gives 149 frames for the 3 s, not 150: 29 positions with k = 5.)
"""
import torch
from emotion_omni_lite.config import get_config
from emotion_omni_lite.adapter import build_adapter, sequence_lengths


def main(preset: str = 'lite') -> dict:               # the preset whose numbers the docstring gives, whatever settings.ini says
    out = {}
    for k in (5, 4):
        cfg = get_config(preset, **{'adapter.k': k})
        n = sequence_lengths(3 * cfg.audio.sample_rate, cfg)
        ad = build_adapter(cfg)
        sem = torch.randn(1, n['encoder'], cfg.semantic_encoder.d_model)
        emo = torch.randn(1, n['encoder'], cfg.emotion_encoder.dim)
        x, _ = ad(sem, emo)
        out[k] = {'positions': x.shape[1], 'predicted': n['adapter'], 'rate_hz': 50 / k,
                  'first_layer_inputs': ad.semantic.mlp[0].in_features}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"k={k}: {v}")
