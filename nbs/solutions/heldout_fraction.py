"""Exercise 04.2: how many sentences does a held-out fraction hold out? `heldout_sentences(frac, seed)` holds out
⌈frac · n⌉ sentences of each group: the tone-dependent ones, and the explicit ones of each emotion apart. Before you
count: how many of each kind are held out at 0.2 (the presets' value), at 0.5 and at 0.01? Is the set held out at 0.2
inside the set held out at 0.5? And how many of seed 0's held-out sentences does seed 1 hold out too?

Of 132 sentences (84 tone-dependent, 8 explicit per emotion): at 0.2, 17 tone-dependent and 12 explicit (2 per
emotion), 29 in all, 22 % rather than 20 %, because every group rounds up. At 0.5, 42 and 24 (66, exactly half). At
0.01, 1 and 6: 7 sentences, 5.3 %, because each emotion still keeps one explicit sentence for the test; the rounding
up is there so that no emotion is ever missing from the held-out explicit sentences. The sets are nested: each group's
order is one seeded permutation and the fraction only says how far down it to cut, so the 29 held out at 0.2 are all
among the 66 at 0.5, and a larger test set never moves a held-out sentence back into training. A different seed draws
other permutations: seed 1 holds out 29 sentences too, and only 5 of them are also held out by seed 0 (about the 6
that chance would give). Two runs of different seeds are therefore scored on different sentences.
"""
from emotion_omni_lite.dialogues import all_sentences, heldout_sentences


def main(fracs: tuple = (0.01, 0.2, 0.5)) -> dict:
    kind = {s['sentence_id']: s['kind'] for s in all_sentences()}
    out = {'sentences': {k: sum(v == k for v in kind.values()) for k in ('tone', 'explicit')}}
    for f in fracs:
        held = heldout_sentences(f, seed=0)
        out[f] = {'tone': sum(kind[i] == 'tone' for i in held), 'explicit': sum(kind[i] == 'explicit' for i in held),
                  'share': round(len(held) / len(kind), 3)}
    out['nested'] = all(heldout_sentences(a, 0) <= heldout_sentences(b, 0) for a, b in zip(fracs, fracs[1:]))
    a, b = heldout_sentences(0.2, seed=0), heldout_sentences(0.2, seed=1)
    out['seed 0 and 1 share'] = len(a & b)
    out['chance would share'] = round(len(a) * len(b) / len(kind), 1)
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
