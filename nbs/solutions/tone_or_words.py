"""Exercise 04.1: why the voice matters. Count the tone-dependent sentences (words that fit any emotion) and the
explicit ones (the words say the feeling). Take one tone-dependent sentence and write out the reply the kit's data
gives it for each of the six user emotions. Could any system that reads only the words choose the right one? What
share of the right replies could it get at best?

The kit's sentences: 84 tone-dependent, 48 explicit. "I just got the results back." gets six different replies, one
per user emotion ("That is wonderful news about the results!", "I am so sorry about the results.", "It is okay. You
are safe, and I am here." …). A system that reads only these words gives the same reply whatever the voice, so it
picks the right style at best once in six (16.7 %); the reply emotion (sad and neutral each answer two user emotions)
at best twice in six (33.3 %), the chance level the benchmark states. The 70 % the semantic-only stage 1 reaches on
held-out voices' tone-dependent queries (seed 0) comes from the prosody that leaks into the semantic stream (timing,
and the slope of the spectrum), not from the words.
"""
from collections import Counter
from emotion_omni_lite.config import EMOTIONS
from emotion_omni_lite.dialogues import REPLY_EMOTION, REPLY_STYLE, all_sentences, make_reply


def main() -> dict:
    sents = all_sentences()
    kinds = Counter(s['kind'] for s in sents)
    tone = next(s for s in sents if s['kind'] == 'tone')
    replies = {e: make_reply(tone['topic'], e)['text'] for e in EMOTIONS}
    styles = Counter(REPLY_STYLE[e] for e in EMOTIONS)
    emotions = Counter(REPLY_EMOTION[e] for e in EMOTIONS)
    return {'kinds': dict(kinds), 'sentence': tone['text'], 'replies': replies,
            'best_words_only_style': round(max(styles.values()) / len(EMOTIONS), 3),
            'best_words_only_reply_emotion': round(max(emotions.values()) / len(EMOTIONS), 3)}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
