"""Exercise 03.1: speak one sentence in the six emotions with one voice. Rank them by median pitch and by duration.
Which two are hardest to tell apart by these two numbers alone?

The presets move pitch level, range, rate and loudness. On the kit's first query voice and this sentence, pitch
orders them sad < angry < neutral < fearful < happy < surprised, and sad is by far the slowest. The closest pair on
these two numbers is happy and fearful. What separates them is the rest: pitch range and contour, loudness, spectral
tilt. That is what the emotion encoder has to learn beyond level and duration.
"""
import itertools
import torch
from emotion_omni_lite.config import EMOTIONS
from emotion_omni_lite.tts import fresh_espeak, speak, query_voices
from emotion_omni_lite.audio import SAMPLE_RATE, pitch_contour


def main(sentence: str = 'I just heard the news about the house.') -> dict:
    voice = query_voices(4, 1)[0][0]
    rows = {}
    with fresh_espeak() as engine:                                  # a fresh library: the same waves on every run
        waves = {e: speak(sentence, voice, e, engine=engine, seed=0) for e in EMOTIONS}
    for e, w in waves.items():
        f0 = pitch_contour(w)
        rows[e] = {'median_f0_hz': round(float(f0[f0 > 0].median()), 1), 'seconds': round(len(w) / SAMPLE_RATE, 2)}
    # the closest pair on (log pitch, duration), each scaled by its spread over the six
    p = torch.tensor([[torch.log2(torch.tensor(r['median_f0_hz'])).item(), r['seconds']] for r in rows.values()])
    z = (p - p.mean(0)) / p.std(0)
    pair = min(itertools.combinations(range(len(EMOTIONS)), 2), key=lambda ij: float((z[ij[0]] - z[ij[1]]).norm()))
    return {'by_pitch': sorted(rows, key=lambda e: rows[e]['median_f0_hz']), 'by_duration': sorted(rows, key=lambda e: rows[e]['seconds']),
            'closest': [EMOTIONS[i] for i in pair], 'rows': rows}


if __name__ == '__main__':
    r = main()
    for e, v in r['rows'].items(): print(f"{e:10s} {v}")
    print('by pitch:', r['by_pitch'], '\nby duration:', r['by_duration'], '\nclosest:', r['closest'])
