"""Exercise 14.1: one reply, six voices. Take one held-out reply's stage-1 states and speak them under each reply
emotion's centroid (the AdaLN condition), then let the emotion encoder say what it hears in each. Does the speech
follow the condition or the words?

On `lite` seed 0, the first held-out reply, "Oh no. Do you want to talk about the deadline?" (said sadly in the
data), spoken under each reply emotion's centroid (the replies only ever take four: neutral, happy, sad, surprised):
one run (2026-12-06, through the wider vocoder) printed, after the reply and its emotion,
    heard: {'neutral': 'neutral', 'happy': 'angry', 'sad': 'sad', 'surprised': 'sad'}
    follows_condition: 2
    seconds: {'neutral': 2.48, 'happy': 2.16, 'sad': 5.68, 'surprised': 3.48}
and another machine's run of the same seed heard happy as happy (3 of 4). How many follow changes with the machine and
the seed (README's seed table: following the vector moves by 20 points between seeds), although the words stay the same.
The length moves with the vector on every run (sad speech is slow, as the data's is): the decoder changes its pace with
the vector, but on this reply not always enough else for the judge to hear happy or surprised.
"""
from emotion_omni_lite.config import get_config, get_settings
from emotion_omni_lite.cli import ensure_stages
from emotion_omni_lite.omni import hear, load_omni
from emotion_omni_lite.stage2 import stage2_features


def main(preset: str = None, settings=None) -> dict:
    s = settings or get_settings(preset=preset)
    cfg = get_config(s.preset)
    ensure_stages(['stage2'], cfg, s)
    omni, f2 = load_omni(cfg, s), stage2_features(cfg, s, progress=False)
    i = next(k for k, r in enumerate(f2['rows']) if r['split'] != 'train')
    c = omni.centroids
    waves = [omni.speak_states(f2['h'][i], f2['e'][i], v)[1] for v in c.centroids]
    heard = hear(omni.emotion_encoder, waves, cfg.audio)
    return {'reply': f2['rows'][i]['reply_text'], 'its_emotion': f2['rows'][i]['reply_emotion'],
            'heard': dict(zip(c.labels, heard)), 'follows_condition': sum(h == l for h, l in zip(heard, c.labels)),
            'seconds': {l: round(len(w) / omni.vocoder.sample_rate, 2) for l, w in zip(c.labels, waves)}}


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
