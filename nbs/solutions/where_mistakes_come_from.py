"""Exercise 16.2: whose mistake is it? From the run's `report/records.jsonl`, take the tone-dependent records and count
each system's reply emotion by the user's emotion. First predict the cascade's row: it reads only the words, so which
user emotions can it get right? Then put each of (c)'s wrong reply emotions beside what the emotion encoder heard in
the query (`input_pred`): are its mistakes the LLM's or the ear's?

On `lite` (seed 0, README's second machine), 149 tone-dependent utterances. The cascade answers with a sad reply 137
times out of 149, a happy one 10 times and a neutral one twice (its replies to the ASR's transcripts are comforting 95
times, reassuring 42, cheerful 10 and calming 2), so it is right almost only for the users whose feeling calls for a
sad reply, sad and fearful (87 % and 95 %), and nearly never for the rest (happy 7 %, angry 4 %, neutral and surprised
0 %): 29.5 % overall, near the chance level of two user emotions in six. (b), which hears the words' timing but no
pitch, is right 71.1 % of the time; (c) 89.3 %, and (d) the same as (c), since it differs in speech only. Of its 16
mistakes, 15 come from a query the emotion encoder misheard (neutral heard as happy 5 times, surprised as neutral 3,
happy as surprised 3, and four others), and all 15 of those replies fit what was heard; when the encoder heard the
query right, (c)'s reply emotion is right 99.2 % of the time. The LLM does what the ear tells it: the benchmark's
reply emotion is, nearly point for point, the emotion encoder's accuracy on these queries, and that is where the next
points are (the figures recomputed from the records agree with report.json).
"""
import collections, json
from emotion_omni_lite.config import EMOTIONS, get_settings
from emotion_omni_lite.dialogues import REPLY_EMOTION
from emotion_omni_lite.evaluate import evaluate_run
from emotion_omni_lite.report import report_folder


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    folder = report_folder(s)
    evaluate_run(settings=s, progress=False)       # at once when the report is current; made again when a run changed since
    recs = [json.loads(line) for line in (folder / 'records.jsonl').read_text().splitlines()]
    tone = [r for r in recs if r['sentence_kind'] == 'tone' and 'emotion' in r['sys']['omni']]   # the text records
    report = json.loads((folder / 'report.json').read_text())
    out = {'n_tone': len(tone)}
    for key, suffix in (('cascade', '_cascade'), ('semantic_only', '_semantic_only'), ('omni', ''), ('omni_no_adaln', '_no_adaln')):
        right = lambda r: r['sys'][key]['emotion'] == r['target_emotion']
        rows = {e: [r for r in tone if r['user_emotion'] == e] for e in EMOTIONS}
        out[key] = {'answers': dict(collections.Counter(r['sys'][key]['emotion'] for r in tone).most_common()),
                    'right_by_user_emotion': {e: round(sum(map(right, v)) / len(v), 2) for e, v in rows.items() if v},
                    'right': round(sum(map(right, tone)) / len(tone), 4), 'report_json': report[f'reply_emotion_acc_tone{suffix}']}
    out['cascade']['styles'] = dict(collections.Counter(r['sys']['cascade']['style'] for r in tone).most_common())
    wrong = [r for r in tone if r['sys']['omni']['emotion'] != r['target_emotion']]
    misheard = [r for r in wrong if r['input_pred'] != r['user_emotion']]
    heard_right = [r for r in tone if r['input_pred'] == r['user_emotion']]
    out['omni_mistakes'] = {'n': len(wrong), 'query_misheard': len(misheard),
                            'reply_fits_what_was_heard': sum(r['sys']['omni']['emotion'] == REPLY_EMOTION[r['input_pred']] for r in misheard),
                            'misheard_as': dict(collections.Counter(f"{r['user_emotion']} as {r['input_pred']}" for r in misheard).most_common(3))}
    out['omni_right_when_heard_right'] = round(sum(r['sys']['omni']['emotion'] == r['target_emotion'] for r in heard_right)
                                               / max(len(heard_right), 1), 3)
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
