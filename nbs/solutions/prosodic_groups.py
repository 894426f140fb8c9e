"""Exercise 08.2: which prosodic cues carry the baseline? Refit the notebook's prosodic baseline (twelve features, a
linear probe) without one group of features at a time — pitch level, pitch movement, loudness, rate — and score each
probe on the training split and on the held-out voices. Before you fit: which group's loss hurts most, and could
dropping one make the held-out voices better?

On `lite` (seed 0), all twelve features: 79.0 % on the training split, 74.5 % on the held-out voices. Without the
loudness features: 60.6 % and 58.0 %, the largest loss: the emotion presets set very different levels (angry is spoken
at volume 200, sad at 55). Without the rate features: 72.5 % and 65.2 %. Without pitch movement: 78.5 % and 73.7 %,
almost nothing: the other groups carry most of what it tells. Without pitch level the training split falls to 73.9 %
but the held-out voices rise to 78.7 % (79.1 % on their tone-dependent sentences, from 74.5 %): a voice's
register is as much the speaker as the emotion, so the level the probe learned from the training voices misleads it on
voices it never heard. That is one split of voices: on the much smaller `smoke` set, whose held-out voices are others,
the same cut costs held-out accuracy instead (79 % → 68 %). A cue that fits the training voices is not always one that
travels, and only held-out voices tell which; and the strongest cue here, loudness, is the one a microphone's distance
moves directly (exercise 17.1).
"""
import torch
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.cues import PROSODIC_FEATURES, fit_linear_probe, query_prosody
from emotion_omni_lite.emotion_encoder import score_predictions

GROUPS = {'pitch level': ('f0_median', 'f0_p10', 'f0_p90'),
          'pitch movement': ('f0_range', 'f0_std', 'f0_delta', 'f0_slope'),
          'loudness': ('energy_mean', 'energy_std', 'energy_range'),
          'rate': ('voiced_frac', 'onsets_per_s')}


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['data'], cfg, s)
    rows, x = query_prosody(cfg, s)                                  # [N, 12]: every query's features
    train = torch.tensor([r['split'] == 'train' for r in rows])
    y = torch.tensor([EMOTIONS.index(r['user_emotion']) for r in rows])
    out = {}
    for name, drop in {'all twelve': (), **{f'without {g}': f for g, f in GROUPS.items()}}.items():
        keep = [i for i, f in enumerate(PROSODIC_FEATURES) if f not in drop]
        probe = fit_linear_probe(x[train][:, keep], y[train])
        sc = score_predictions(rows, probe.predict(x[:, keep]), cfg.data.tts)   # a plain voice: the config's engine
        out[name] = {k: sc[k] for k in ('acc_train', 'acc_heldout_voice', 'acc_heldout_voice_tone')}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
