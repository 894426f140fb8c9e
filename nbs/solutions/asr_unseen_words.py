"""Exercise 06.1: the ASR stand-in on held-out sentences. Transcribe the held-out-sentence queries, find the words it
gets wrong, and count how many of them never occur in the training queries. Do it twice: with the decoder alone
(greedy, `ctc_weight=0`, `beam=1`) and the way `transcribe` reads by default (the decoder and the CTC head together).
What does each say about what the stand-in learned?

On `lite` (seed 0), 60 held-out-sentence queries. The decoder alone: CER 0.72; 231 words of the references are
missing from the transcripts, 98 of them (42 %) words the training queries never contain. The rest are known words
lost because the sentence around them is new: the decoder answers with a *training* sentence that sounds alike
("the shop closed down" → "the school called about my son", "i have to fly tomorrow" → "i have not slept at
all"). It learned the language of about a hundred sentences as wholes. Together with the CTC head: CER 0.55,
yet still 226 words missing, 98 of them unseen. The transcripts now follow the sound ("the hou capase don", "i have
to taly to mer t"): the CTC head spells what it hears, but from a hundred sentences it has learned too little
English spelling to write a new word right.
"""
import re
from collections import Counter
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.dataset import load_query_mels
from emotion_omni_lite.metrics import cer
from emotion_omni_lite.semantic_encoder import CharTokenizer, load_asr_model, transcribe


def main(preset: str = None, settings=None, n: int = 60) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['asr'], cfg, s)
    rows, mels = load_query_mels(cfg, s)
    seen = {w for r in rows if r['split'] == 'train' for w in CharTokenizer.normalize(r['query_text']).split()}
    idx = [i for i, r in enumerate(rows) if r['split'] == 'test_sentence'][:n]
    refs = [CharTokenizer.normalize(rows[i]['query_text']) for i in idx]
    asr, out = load_asr_model(cfg, s), {'n': len(idx)}
    for way, kw in (('decoder_alone', dict(beam=1, ctc_weight=0.0)), ('together', {})):   # greedy decoder; transcribe's way
        hyps = transcribe(asr, [mels[i] for i in idx], **kw)
        wrong = Counter()
        for ref, hyp in zip(refs, hyps):
            got = set(hyp.split())
            wrong.update(w for w in ref.split() if w not in got)
        unseen = sum(c for w, c in wrong.items() if w not in seen)
        out[way] = {'cer': round(cer(refs, hyps), 3), 'wrong_words': sum(wrong.values()), 'wrong_and_unseen': unseen,
                    'share_unseen': round(unseen / max(sum(wrong.values()), 1), 3),
                    'examples': [{'ref': r, 'hyp': h} for r, h in list(zip(refs, hyps))[:3]]}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
