"""Exercise 05a.2: a corpus rate or a mean? `wer`, `cer` and `bleu` pool a whole test set (total edits over total
reference words; n-gram counts summed over every pair); `rouge_l` averages one score per pair. Take four transcripts
of the kit's sentences, three long ones with at most one word wrong and one short one, "Stop wasting my time!", heard
as "what a surprise". Score them pooled and as the mean of per-sentence scores, with and without the short one.
Before you score: which way does the short failure move each figure?

With all four: WER 0.250 pooled against 0.327 as a mean of sentences, CER 0.160 against 0.230, BLEU 0.764 against
0.642. Without the short one the two nearly agree (WER 0.100 and 0.103, BLEU 0.864 and 0.856). The short failure is
4 words of 24: pooled, it weighs by its words; averaged, it is one sentence in four, a quarter of the figure at full
error. BLEU is lower as a mean for the same reason: the short one's sentence BLEU is 0 (not one word matches) and
counts as a quarter of the mean, while pooled its 3 words only add to the n-gram totals. ROUGE-L, a mean over pairs
already, falls from 0.897 to 0.673 when the short one is added. Neither way is wrong, but they answer different
questions (how many words are lost; how many sentences go wrong), and figures averaged differently cannot be
compared. The kit pools WER, CER and BLEU, as ASR papers and sacrebleu do, so a test set is judged word by word, not
by its shortest failures.
"""
import numpy as np
from emotion_omni_lite.metrics import bleu, cer, rouge_l, wer

REFERENCES = ("The printer is on the second floor.", "I am worried something bad will happen.",
              "My grandmother is in the hospital.", "Stop wasting my time!")
TRANSCRIPTS = ("the printer is on the second flour", "i am worried something bad will happen",
               "my grandmother is in the hostel", "what a surprise")          # the last: short, and all wrong


def scores(refs, hyps) -> dict:
    "Each metric pooled over the set and as the mean of its per-sentence values."
    out = {}
    for name, f in (('wer', wer), ('cer', cer), ('bleu', bleu)):
        out[name] = {'pooled': round(f(list(refs), list(hyps)), 3),
                     'mean': round(float(np.mean([f([r], [h]) for r, h in zip(refs, hyps)])), 3)}
    out['rouge_l'] = round(rouge_l(list(refs), list(hyps)), 3)                  # a mean over pairs already
    return out


def main() -> dict:
    return {'all four': scores(REFERENCES, TRANSCRIPTS), 'without the short one': scores(REFERENCES[:3], TRANSCRIPTS[:3])}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
