"""Exercise 07.1: where does the emotion encoder go wrong? Read the held-out-voice queries with the trained encoder,
build the confusion matrix, and name the pair of emotions it mixes up most. Which prosodic cues do those two share?

On `lite` (seed 0 of README's second machine, both engines' held-out voices), 773 queries: accuracy 0.912. The pair
mixed up most is neutral ↔ happy, 29 times (20 of them neutral read as happy), then happy ↔ surprised, 26 times (21 of
them happy read as surprised); sad and angry are never missed. Each pair differs in how high and how wide the pitch
goes (and surprised in its final rise), which is also what differs between speakers: a high-voiced speaker's calm sits
where a low-voiced speaker's happy does, and their happy where the other's surprised does. The encoder reads pitch
relative to each utterance's mean for this reason; the remaining confusions are where that is not enough (the held-out
Piper pseudo-speakers are read right 88.7 % of the time, espeak's held-out voices 92.8 %).
"""
import torch
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.emotion_encoder import load_emotion_encoder, load_query_emotion_inputs, predict_emotions


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['emotion_encoder'], cfg, s)
    rows, ins = load_query_emotion_inputs(cfg, s)
    idx = [i for i, r in enumerate(rows) if r['split'] in ('test_voice', 'test_both')]
    pred, _ = predict_emotions(load_emotion_encoder(cfg, s), [ins[i] for i in idx])
    true = torch.tensor([EMOTIONS.index(rows[i]['user_emotion']) for i in idx])
    cm = torch.zeros(len(EMOTIONS), len(EMOTIONS), dtype=torch.long)
    for t, p in zip(true.tolist(), pred.tolist()): cm[t, p] += 1
    off = cm.clone(); off.fill_diagonal_(0)
    pair = off + off.T
    a, b = divmod(int(pair.argmax()), len(EMOTIONS))
    return {'n': len(idx), 'accuracy': round((pred == true).float().mean().item(), 3),
            'most_confused': (EMOTIONS[a], EMOTIONS[b]), 'times': int(pair[a, b]),
            'confusion': {EMOTIONS[i]: {EMOTIONS[j]: int(cm[i, j]) for j in range(len(EMOTIONS)) if cm[i, j]} for i in range(len(EMOTIONS))}}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
