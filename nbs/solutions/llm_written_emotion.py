"""Exercise 09.1: the text LLM reads the emotion when it is written out. Take one held-out tone-dependent sentence,
write it with each of the six emotions in front ("(sad) …") and let the trained text LLM reply. Does the reply's style
follow the written emotion? What does stage 1 then have to learn from the voice instead?

On `lite` (seed 0), "The shop closed down." with the six emotions written in front gets the styles friendly,
cheerful, comforting, calming, curious, reassuring: 6 of 6 follow the emotion, because this run's text LLM learned
the written label (an earlier run followed 3 of 6, consoling every emotion). The topic is wrong wherever a reply
names one: the neutral, happy, angry and fearful ones say "the bridge", and the sad one ("I am sorry. Take all the
time you need.") and the surprised one name none. The sentence is held out, and the small LLM completes with a topic it
memorised. Stage 1 has to take the emotion from the voice and the words from the semantic stream; it gets 92 % of the
replies' emotions right on held-out tone-dependent queries: the written label, when it is there, is the easier cue.
"""
from emotion_omni_lite.config import EMOTIONS, get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.dataset import load_dialogues
from emotion_omni_lite.dialogues import REPLY_STYLE
from emotion_omni_lite.stage1 import ReplyStyleClassifier
from emotion_omni_lite.text_llm import generate_text, load_text_llm, user_text


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['text_llm'], cfg, s)
    rows = load_dialogues(cfg, s).remove_columns(['units']).to_list()
    train = [r for r in rows if r['split'] == 'train']
    clf = ReplyStyleClassifier().fit([r['reply_text'] for r in train], [r['reply_style'] for r in train])
    row = next(r for r in rows if r['split'] == 'test_sentence' and r['sentence_kind'] == 'tone')
    model, tok = load_text_llm(cfg, s)
    prompts = {e: user_text({**row, 'user_emotion': e}, with_emotion=True) for e in EMOTIONS}   # "(sad) the shop closed down"
    replies = {e: generate_text(model, tok, p) for e, p in prompts.items()}
    styles = dict(zip(replies, clf.predict(list(replies.values()))))
    return {'sentence': row['query_text'], 'prompts': prompts, 'replies': replies, 'styles': styles,
            'follows': sum(styles[e] == REPLY_STYLE[e] for e in EMOTIONS)}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
