"""Exercise 15.2: what does the empathy proxy reward? The report's offline proxy scores a reply 1 + 2·(style right) +
1·(reply emotion right) + ROUGE-L against the reference reply. A user says "I just got the results back." sadly; the
reference reply is "I am so sorry about the results." (comforting, spoken sad). Before computing, rank five answers:
the reference spoken sadly, another comforting reply spoken sadly, the reference spoken cheerfully, a cheerful reply
spoken sadly, a cheerful reply spoken cheerfully. Which one is unfairly far from the top?

The style is named by the report's classifier (naive Bayes on the reply corpus's words). The reference spoken
sadly scores the maximum, 5.0; spoken cheerfully, 4.0: the voice is worth one point. "Oh no. Do you want to talk
about the results?", as comforting and as fitting, scores 4.35: it shares little wording with the reference (ROUGE-L
0.35), so a reply just as good loses 0.65 for its words alone, two thirds of what the wrong voice costs. The cheerful
reply "That is wonderful news about the results!" gets 2.43 spoken sadly and 1.43 cheerfully: the wrong style takes
two points, yet ROUGE-L finds it closer to the reference (0.43) than the comforting one, because it ends the same way
("about the results"). So the proxy ranks a copy of the reference above every other right answer, and its ROUGE-L
part can prefer a wrong reply to a right one; read it beside style and reply emotion, never alone, and prefer the LLM
judge where there is one.
"""
from emotion_omni_lite.config import EMOTIONS
from emotion_omni_lite.dialogues import REPLY_EMOTION, REPLY_STYLE, TONE_SENTENCES, make_reply
from emotion_omni_lite.metrics import empathy_proxy, rouge_l
from emotion_omni_lite.stage1 import ReplyStyleClassifier


def main() -> dict:
    query, topic = TONE_SENTENCES[0]                                 # "I just got the results back.", said sadly
    corpus = [make_reply(t, e, k) for _, t in TONE_SENTENCES for e in EMOTIONS for k in range(4)]
    clf = ReplyStyleClassifier().fit([r['text'] for r in corpus], [r['reply_style'] for r in corpus])
    ref = make_reply(topic, 'sad', 0)['text']
    want_style, want_emotion = REPLY_STYLE['sad'], REPLY_EMOTION['sad']
    comforting, cheerful = make_reply(topic, 'sad', 2)['text'], make_reply(topic, 'happy', 0)['text']
    answers = {'the reference, spoken sadly': (ref, 'sad'), 'another comforting reply, spoken sadly': (comforting, 'sad'),
               'the reference, spoken cheerfully': (ref, 'happy'), 'a cheerful reply, spoken sadly': (cheerful, 'sad'),
               'a cheerful reply, spoken cheerfully': (cheerful, 'happy')}
    out = {'query': query, 'reference': ref}
    for name, (text, emotion) in answers.items():
        style = clf.predict([text])[0]
        out[name] = {'text': text, 'style': style, 'rouge_l': round(rouge_l(ref, text), 2),
                     'proxy': round(empathy_proxy([style == want_style], [emotion == want_emotion], [ref], [text]), 2)}
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
