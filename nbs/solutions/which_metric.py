"""Exercise 05a.1: which metric punishes what? Score three wrong replies against one reference with WER, CER, BLEU
and ROUGE-L: one drops a word, one misspells a word, one says the same words in another order. Which metric is
harsh on which mistake, and which would you use to judge a reply's words, its sound-alike spelling, its fluency?

A dropped word: WER 0.143, CER 0.097, BLEU 0.512, ROUGE-L 0.923. A misspelt word: WER 0.143, CER 0.065, BLEU 0.809,
ROUGE-L 0.857. The same words reordered: WER 0.857, CER 0.871, BLEU 0.595, ROUGE-L 0.571. WER charges the first two
one word in seven each and the reordering almost every word; CER forgives a misspelling most (two letters). BLEU is
harshest on the dropped word, which breaks every longer n-gram across the gap, and keeps most n-grams of the reordered
sentence. ROUGE-L (the longest common subsequence) forgives the dropped word most and the reordering least. Words:
WER; sound-alike spellings: CER; fluent order: ROUGE-L more than BLEU.
"""
from emotion_omni_lite.metrics import bleu, cer, rouge_l, wer

REFERENCE = "i am so sorry about the results"
HYPOTHESES = {'a word dropped': "i am sorry about the results", 'a word misspelt': "i am so sorry about the resluts",
              'words reordered': "about the results i am so sorry"}


def main() -> dict:
    return {name: {'wer': round(wer(REFERENCE, h), 3), 'cer': round(cer(REFERENCE, h), 3),
                   'bleu': round(bleu([REFERENCE], [h]), 3), 'rouge_l': round(rouge_l(REFERENCE, h), 3)}
            for name, h in HYPOTHESES.items()}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
