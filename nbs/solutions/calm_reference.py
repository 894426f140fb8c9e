"""Exercise 08.3: how much calm does a reference need? Hear every voice against the mean of only its first `n`
neutral queries (`speaker_normalized(x, rows, 'calm', calm=n)`; the spread still from all of that voice's queries,
which needs no labels), fit the linear probe on espeak's training queries and score every Piper query, for n = 1, 2,
4, 8 and every neutral query. Before you run: how many calm sentences would you ask a student to read before the
probe panel listens to them?

On `lite` (seed 0): as measured the probe reads Piper at 43.6 %; against the voice's first neutral query alone at
68.0 %, two at 68.1 %, four at 69.8 %, eight at 70.2 %, and every neutral query (20 to 35 a voice) at 69.9 %. One calm
sentence carries most of what a reference brings (24 of the 26 points), and a few more add the rest: each query's
numbers wobble with its words, so one sentence sets the voice's calm with that sentence's noise. Every query of the
voice as its reference, no labels at all, reaches 73.8 %.
"""
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cues import cross_engine_probe, query_prosody, speaker_normalized

SIZES = (1, 2, 4, 8)


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    rows, x = query_prosody(get_config(s.preset), s)
    acc = lambda xv: cross_engine_probe(rows, xv, 'espeak')['acc_other_engine']
    out = {'as measured': acc(x)}
    out.update({f'first {n} neutral': acc(speaker_normalized(x, rows, 'calm', calm=n)) for n in SIZES})
    out['every neutral query'] = acc(speaker_normalized(x, rows, 'neutral'))
    out['every query'] = acc(speaker_normalized(x, rows))
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k:22s} espeak → Piper {v:.1%}")
