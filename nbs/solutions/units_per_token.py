"""Exercise 12.2: is the streaming mask's pace right for the data? Unit chunk k (15 units, 0.6 s of speech) may see
the first 5·(k+1) reply tokens, so the mask takes for granted that a token takes at least 15 / 5 = 3 units to say. Count,
over the dataset's replies, how many units each reply token really takes. How far ahead of its speech is the decoder's
text, from which chunk on does the typical reply lie wholly in view, and what is the smallest `reply_per_chunk` under
which no reply would make the decoder say words it cannot see yet?

On `lite` (3,600 replies, the LLM's tokenizer): a reply token takes 7.4 units (0.3 s) at the median, 5.5 at the 10th
percentile and never fewer than 4.0, against the mask's 3; the slow sad replies take the most (10.5 at the median,
happy 5.9). So the text is always ahead of the speech: chunk 0 says about 2 tokens' worth and sees 5. The median
reply (10 tokens, 73 units, 5 chunks) has all its words in view from chunk 1 and its end (EOS) from chunk 2: only its
first chunk is spoken from part of the reply. Said at an even pace, the fastest reply needs 15 / 4.0 = 3.75 tokens a
chunk, so `reply_per_chunk` = 4 would do for every reply: speech would start one token sooner and still never run
ahead of its text (12.1's 3 would be too few for the fastest replies).
"""
import math, statistics
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.dataset import load_dialogues
from emotion_omni_lite.text_llm import load_tokenizer


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['data', 'text_llm'], cfg, s)
    tok, D = load_tokenizer(cfg, s), cfg.decoder
    rows = load_dialogues(cfg, s).select_columns(['reply_text', 'reply_emotion', 'reply_seconds', 'units']).to_list()
    tokens = [len(tok(r['reply_text'], add_special_tokens=False)['input_ids']) for r in rows]   # the reply states stage 2 reads
    units = [min(len(r['units']), D.max_units) for r in rows]                                   # 25 a second
    pace = sorted(u / t for u, t in zip(units, tokens))                                         # units per reply token
    med_t, med_u, med_p = statistics.median(tokens), statistics.median(units), statistics.median(pace)
    by_emotion = {e: round(statistics.median(u / t for u, t, r in zip(units, tokens, rows) if r['reply_emotion'] == e), 1)
                  for e in sorted({r['reply_emotion'] for r in rows})}
    return {'replies': len(rows), 'units_per_second': round(statistics.median(len(r['units']) / r['reply_seconds'] for r in rows), 1),
            'mask_assumes_units_per_token': D.chunk_units / D.reply_per_chunk,
            'units_per_token': {'median': round(med_p, 1), 'p10': round(pace[len(pace) // 10], 1), 'min': round(pace[0], 1),
                                'max': round(pace[-1], 1)},
            'median_by_reply_emotion': by_emotion,
            'chunk0_says_tokens': round(D.chunk_units / med_p, 1), 'chunk0_sees_tokens': D.reply_per_chunk,
            'median_reply': {'tokens': med_t, 'units': med_u, 'chunks': math.ceil(med_u / D.chunk_units),
                             'all_words_in_view_from_chunk': math.ceil(med_t / D.reply_per_chunk) - 1,
                             'its_end_in_view_from_chunk': math.ceil((med_t + 1) / D.reply_per_chunk) - 1},   # EOS: N + 1
            'reply_per_chunk_needed': math.ceil(D.chunk_units / pace[0])}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
