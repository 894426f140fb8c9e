"""Exercise 11.2: does the emotion head hear the voice or read the reply? The head reads the LLM's states at the first
five reply tokens, and those states come after the speech in the sequence. Take held-out tone-dependent queries and
give stage 1 a reply to write out (teacher-forced, as stage 2's features are made): first the reply the data gives,
then one meant for another user emotion, with another reply emotion ("Thanks for telling me about the deadline."
after a sad voice). Predict: does the head's reply emotion follow the voice or the written words? Then check the replies
the model writes itself: how often does the head's label agree with the emotion its own words imply?

On `lite` (seed 0), 96 held-out tone-dependent queries: with the data's own reply the head names the right reply
emotion for all 96. With another emotion's reply written in, its label follows the written words 95 times in 96 and
the voice once. The head hardly hears the voice on its own: by the fifth reply token the LLM has committed to a
reply, and the states there say which reply it is. So the voice decides the reply emotion through the LLM's choice
of words, and nowhere else. When the model writes its own replies, the head's label is right 90.6 % of the time and
agrees with the emotion its words imply (the style classifier's reading of the text) 100 % of the time: a wrong
reply emotion is a wrong choice of words, and stage 2 is then asked to speak those words in the emotion they imply.
"""
import torch
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.dialogues import REPLY_EMOTION, REPLY_STYLE, all_sentences, make_reply
from emotion_omni_lite.stage1 import ReplyStyleClassifier, load_stage1, stage1_features


def main(preset: str = None, settings=None, n: int = 96) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['stage1'], cfg, s)
    f1, pipe, topics = stage1_features(cfg, s, progress=False), load_stage1(cfg, s), all_sentences()
    rows = f1['rows']
    idx = [i for i, r in enumerate(rows) if r['split'] != 'train' and r['sentence_kind'] == 'tone'][:n]
    feats = [{k: f1[k][i] for k in ('sem', 'emo', 'n50')} for i in idx]
    voice = [rows[i]['reply_emotion'] for i in idx]                 # what the voice calls for
    swapped = []
    for k, i in enumerate(idx):                                    # a reply meant for a user emotion whose reply emotion differs
        others = [e for e in EMOTIONS if REPLY_EMOTION[e] != rows[i]['reply_emotion']]
        swapped.append(make_reply(topics[rows[i]['sentence_id']]['topic'], others[k % len(others)]))
    def head(texts):                                               # the head's reply emotion after these written replies
        return pipe.centroids.predict(torch.stack([d['emotion_vec_pred'] for d in pipe.reply_states(feats, texts)]))
    own = head([rows[i]['reply_text'] for i in idx])
    other = head([r['text'] for r in swapped])
    share = lambda a, b: round(sum(x == y for x, y in zip(a, b)) / len(idx), 3)
    train = [r for r in rows if r['split'] == 'train']              # the model's own replies: what do its words imply?
    clf = ReplyStyleClassifier().fit([r['reply_text'] for r in train], [r['reply_style'] for r in train])
    style_emotion = {REPLY_STYLE[u]: REPLY_EMOTION[u] for u in REPLY_STYLE}
    gen = pipe.respond_features(feats)
    words = [style_emotion.get(st) for st in clf.predict([g['text'] for g in gen])]   # no known word: no style, no agreement
    heard = [g['reply_emotion'] for g in gen]
    return {'n': len(idx), 'own_reply_right': share(own, voice),
            'swapped': {'follows_words': share(other, [r['reply_emotion'] for r in swapped]), 'follows_voice': share(other, voice)},
            'generated': {'reply_emotion_right': share(heard, voice), 'agrees_with_its_words': share(heard, words)},
            'example': {'query': rows[idx[0]]['query_text'], 'said': rows[idx[0]]['user_emotion'],
                        'written': swapped[0]['text'], 'head_says': other[0]}}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
