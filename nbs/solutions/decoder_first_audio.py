"""Exercise 12.1: with the streaming mask, which reply states can the speech unit at position 20 (0-based: the 21st
unit) see, and how many reply tokens must the LLM have written before the first chunk of speech can start? Change
`reply_per_chunk` from 5 to 3 and say what a listener gains and what the decoder loses.

Unit t belongs to chunk ⌊t / chunk_units⌋ and sees the first (chunk + 1) · reply_per_chunk reply states. With 15 units
and 5 states per chunk, unit 20 (chunk 1) sees states 1–10, and speech starts once 5 reply tokens exist. With 3 states
per chunk it starts after 3 tokens (sooner first audio) but each chunk is spoken knowing less of the sentence ahead.
"""
from emotion_omni_lite.decoder import decoder_mask


def visible(n_reply: int, unit: int, reply_per_chunk: int, chunk_units: int = 15) -> list:
    "Reply states (1-based) that suffix position `unit` may attend to in the streaming mask."
    m = decoder_mask([n_reply], [40], True, chunk_units, reply_per_chunk)[0]     # [L, L]
    row = m[n_reply + 2 + unit]                                                   # suffix rows come after BOS, reply, EOS
    return [i for i in range(1, n_reply + 1) if row[i]]


def main() -> dict:
    return {k: {'unit_20_sees': visible(12, 20, k), 'first_chunk_needs_tokens': len(visible(12, 0, k))} for k in (5, 3)}


if __name__ == '__main__':
    print(main())
