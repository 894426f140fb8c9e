"""Property-based tests: the audio reader and the config builder, fed inputs nobody listed, either give a valid result
or the kit's named error, never another exception."""
import dataclasses, io, math, typing

import numpy as np
import soundfile as sf
import torch
from hypothesis import HealthCheck, event, example, given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from emotion_omni_lite.audio import FLOAT_PEAK_LIMIT, MAX_RATE, MIN_RATE, AudioError, check_speech, load_audio
from emotion_omni_lite.config import PRECISIONS, PRESETS, ConfigError, OmniConfig, get_config

DTYPES = st.sampled_from([np.float32, np.float64, np.int16, np.int32, np.uint8, np.int8, np.float16])
SHAPES = st.one_of(st.tuples(st.integers(0, 4000)), st.tuples(st.integers(0, 3000), st.integers(1, 24)),
                   st.tuples(st.integers(1, 24), st.integers(0, 3000)), st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 50)))
RATES = st.one_of(st.sampled_from([8000, 16000, 22050, 44100, 48000]), st.integers(-10, 400_000))
# derandomize: every machine tries the same inputs, so a failure found anywhere reproduces everywhere
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(a=DTYPES.flatmap(lambda d: SHAPES.flatmap(lambda s: arrays(d, s))), sr=RATES)
@example(a=np.full(3000, 0.5, np.float32), sr=191_999)                  # coprime with 16 kHz: once a 12 GB filter
def test_the_reader_gives_mono_finite_audio_or_a_named_error(a, sr):
    try: w = load_audio(a, orig_sr=sr)
    except AudioError as e:
        assert str(e).startswith('<array>: ') and e.problem                 # names the input and the problem
        return
    assert MIN_RATE <= sr <= MAX_RATE and a.size > 0
    assert w.dtype == torch.float32 and w.ndim == 1 and len(w) > 0 and torch.isfinite(w).all()
    assert float(w.abs().max()) <= 1.5 * max(1.0, float(np.abs(a.astype(np.float64)).max()) if a.dtype.kind == 'f' else 1.0) + 1e-3
    try: notes = check_speech(w)
    except AudioError as e: assert e.problem; return
    assert all(isinstance(n, str) for n in notes)


def _sound(suffix, subtype, channels, sr, seconds=0.25):
    "The bytes of a valid little sound file: a 220 Hz tone (a second channel at half its level, so a mix is not silent)."
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    buf = io.BytesIO()
    sf.write(buf, np.stack([tone, 0.5 * tone][:channels], 1), sr, format=suffix[1:].upper(), subtype=subtype)
    return suffix, buf.getvalue()

SOUNDS = [_sound('.wav', 'PCM_16', 2, 8000), _sound('.wav', 'FLOAT', 1, 16000), _sound('.flac', 'PCM_16', 1, 16000)]

def _damaged(sound):
    "A valid file cut short at a drawn byte, or with drawn bytes written over it there (mostly in its first 64: the header)."
    suffix, good = sound
    at = st.one_of(st.integers(0, 64), st.integers(0, len(good)))
    return st.tuples(at, st.binary(max_size=8)).map(
        lambda c: (suffix, good[:c[0]] + c[1] + good[c[0] + len(c[1]):] if c[1] else good[:c[0]]))

# bytes nobody wrote (refused at the format check), and real files damaged: past it, to the header, the samples and the rate
FILES = st.one_of(st.tuples(st.sampled_from(['.wav', '.flac', '.mp3', '.ogg', '.txt']), st.binary(max_size=2000)),
                  st.sampled_from(SOUNDS).flatmap(_damaged))


@FUZZ
@given(file=FILES)
@example(file=SOUNDS[0]).via('an intact file')
@example(file=SOUNDS[1]).via('an intact file')
@example(file=SOUNDS[2]).via('an intact file')
def test_the_reader_names_any_bytes_it_cannot_read(tmp_path_factory, file):
    "Any bytes under an audio name give mono, finite float samples or an `AudioError` naming the file, nothing else."
    suffix, data = file
    p = tmp_path_factory.mktemp('f') / f'x{suffix}'
    p.write_bytes(data)
    try: w = load_audio(p)
    except AudioError as e:
        event('refused')
        assert str(p) in str(e) and file not in SOUNDS, str(e)         # the intact files read: the damaged ones start valid
        return
    event('read')
    assert w.dtype == torch.float32 and w.ndim == 1 and len(w) > 0 and torch.isfinite(w).all()
    assert float(w.abs().max()) <= 1.5 * FLOAT_PEAK_LIMIT              # louder floats: integer PCM stored as floats, refused


def _leaves(c, prefix=''):
    for f in dataclasses.fields(c):
        v = getattr(c, f.name)
        if dataclasses.is_dataclass(v): yield from _leaves(v, f'{prefix}{f.name}.')
        elif f.name != 'preset': yield f'{prefix}{f.name}', v

def _kinds(c, prefix=''):
    "Each field's types as its annotation names them (Optional[str]: str or None)."
    hints = typing.get_type_hints(type(c))
    for f in dataclasses.fields(c):
        v = getattr(c, f.name)
        if dataclasses.is_dataclass(v): yield from _kinds(v, f'{prefix}{f.name}.')
        elif f.name != 'preset': yield f'{prefix}{f.name}', typing.get_args(hints[f.name]) or (hints[f.name],)

LITE = dict(_leaves(PRESETS['lite']()))     # the preset itself: made when the file is collected, before the tests' settings
LITE_FIELDS = sorted(LITE)                  # apply, so a settings.ini section of the student's must not change it
KINDS = dict(_kinds(PRESETS['lite']()))
# every word a preset uses, and the other choices the checks name: a text field mostly gets a word some field takes
WORDS = sorted({v for p in PRESETS.values() for v in dict(_leaves(p())).values() if isinstance(v, str)}
               | {'interleave', 'cosyvoice2', 'external', 'piper', 'voice', 'calm', *PRECISIONS, 'x'})
WRONG = st.sampled_from([None, True, 1, 0.5, '3', [2]])                   # a value of another type than the field's

def near(v):
    "Values for a field whose lite value is `v`: mostly of its type and near it (or 0, -1, NaN), sometimes of another type."
    if isinstance(v, bool): own = st.booleans()
    elif isinstance(v, int): own = st.sampled_from(sorted({v, v + 1, v - 1, 2 * v, v // 2, 0, -1}))
    elif isinstance(v, float): own = st.one_of(st.sampled_from([v, 2 * v, v / 2, 0.0, -1.0, math.nan, math.inf]),
                                               st.floats(0, 2 * abs(v) + 1))
    elif isinstance(v, str): own = st.one_of(st.just(v), st.sampled_from(WORDS))
    else: own = st.one_of(st.none(), st.sampled_from(WORDS))              # an unset optional field: a name, or unset again
    return st.integers(0, 7).flatmap(lambda i: WRONG if i == 0 else own)  # one value in eight of a wrong type

CHANGES = st.lists(st.sampled_from(LITE_FIELDS).flatmap(lambda k: st.tuples(st.just(k), near(LITE[k]))),
                   min_size=1, max_size=3, unique_by=lambda kv: kv[0]).map(dict)   # one to three fields at once


@FUZZ
@given(changes=CHANGES)
@example(changes={k: LITE[k] for k in LITE_FIELDS[:3]}).via("lite's own values")
@example(changes={'fusion.gate': '3'}).via('a word in a bool field')
@example(changes={'adapter.k': True}).via('a bool in an int field')
def test_the_config_builder_accepts_or_names_the_field(changes):
    "Any one to three fields changed give a config that holds them, of their field's type, or a `ConfigError` naming a field."
    own = lambda k, v: type(v) is type(LITE[k]) and v == LITE[k]         # True is 1, yet refused where lite has 1
    try: c = get_config('lite', **changes)
    except ConfigError as e:
        event('refused')
        assert str(e).split(':')[0] in LITE_FIELDS, str(e)                # it begins with the field to fix
        assert not all(own(k, v) for k, v in changes.items()), str(e)     # lite's own values are lite: never refused
        return
    event('accepted')                                                     # --hypothesis-show-statistics shows the split
    assert isinstance(c, OmniConfig)
    leaves = dict(_leaves(c))
    for k, v in changes.items():
        assert leaves[k] == v
        # of lite's type (an int in a float field is stored as a float); an unset field: a type its annotation names
        assert type(leaves[k]) in ((type(LITE[k]),) if LITE[k] is not None else KINDS[k]), (k, v)
        if isinstance(v, (int, float)) and not isinstance(v, bool): assert math.isfinite(v)   # NaN and inf are refused
    assert OmniConfig.from_dict(c.to_dict()) == c                        # what a run writes, it reads back
