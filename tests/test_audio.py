"Audio basics and emotional speech synthesis: every bad input raises AudioError naming file and problem."
import json
import numpy as np
import pytest
import soundfile as sf
import torch

from emotion_omni_lite.audio import AudioError, load_audio, save_wav, log_mel, pitch_contour, energy_contour
from emotion_omni_lite.config import AudioConfig, EMOTIONS
from emotion_omni_lite.tts import speak, query_voices, get_tts, register_tts, TTSEngine

SR = 16000
TONE = (0.3 * np.sin(2 * np.pi * 220 * np.arange(SR) / SR)).astype(np.float32)


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / 'empty.wav').write_bytes(b'')
    (tmp_path / 'corrupt.wav').write_bytes(b'RIFF\x00\x00garbage' * 10)
    sf.write(str(tmp_path / 'silent.wav'), np.zeros(SR, np.float32), SR)
    sf.write(str(tmp_path / 'rate4k.wav'), TONE[:4000], 4000)
    sf.write(str(tmp_path / 'zero.wav'), np.zeros(0, np.float32), SR)
    nan = TONE.copy(); nan[100:200] = np.nan
    sf.write(str(tmp_path / 'nan.wav'), nan, SR, subtype='FLOAT')
    inf = TONE.copy(); inf[5] = np.inf
    sf.write(str(tmp_path / 'inf.wav'), inf, SR, subtype='FLOAT')
    return tmp_path


@pytest.mark.parametrize('name,problem', [('empty.wav', 'empty file'), ('corrupt.wav', 'cannot be decoded'),
                                          ('silent.wav', 'is silent'), ('rate4k.wav', 'unsupported sample rate'),
                                          ('zero.wav', 'zero length'), ('nan.wav', 'NaN or Inf'), ('inf.wav', 'NaN or Inf'),
                                          ('missing.wav', 'not found')])
def test_each_bad_file_raises_audio_error(bad_files, name, problem):
    with pytest.raises(AudioError) as e:
        load_audio(bad_files / name)
    assert problem in e.value.problem and e.value.source.endswith(name)   # the problem itself: not a word of the file's name
    assert str(e.value).startswith(e.value.source + ': ')


def test_bad_arrays():
    with pytest.raises(AudioError, match='NaN or Inf'): load_audio(np.array([0.1, np.nan, 0.2], np.float32))
    with pytest.raises(AudioError, match='zero length'): load_audio(np.zeros(0, np.float32))
    with pytest.raises(AudioError, match='silent'): load_audio(np.zeros(100, np.float32))
    with pytest.raises(AudioError, match='unsupported sample rate'): load_audio(TONE, orig_sr=1000)


def test_a_cut_short_mp3_an_unfinished_header_and_wide_integers_are_named(tmp_path):
    "An MP3 cut short decodes to less than its header names; a WAV whose writer never finished its header says it holds nothing; 16-bit samples in a wider integer type read as silence: each is refused with its own cause."
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(3 * SR) / SR)).astype(np.float32)
    sf.write(str(tmp_path / 'whole.mp3'), tone, SR, format='MP3')
    b = (tmp_path / 'whole.mp3').read_bytes(); (tmp_path / 'cut.mp3').write_bytes(b[:len(b) * 2 // 5])
    assert abs(len(load_audio(tmp_path / 'whole.mp3')) - 3 * SR) < SR // 10          # the whole file reads whole
    with pytest.raises(AudioError, match=r'is cut short: its header names 3\.0 s of sound and only 0\.\d s decode'):
        load_audio(tmp_path / 'cut.mp3')
    save_wav(tmp_path / 'ok.wav', torch.from_numpy(tone))
    b = bytearray((tmp_path / 'ok.wav').read_bytes())
    b[40:44] = (0).to_bytes(4, 'little')                                  # the data chunk's size: never written
    (tmp_path / 'unfinished.wav').write_bytes(bytes(b))
    with pytest.raises(AudioError, match=r'header that says it holds no sound, yet the file is 96,044 bytes long') as e:
        load_audio(tmp_path / 'unfinished.wav')
    assert 'sox --ignore-length' in e.value.fix
    pcm = np.round(tone * 32767)
    for dtype in (np.int32, np.int64):
        with pytest.raises(AudioError, match=r'integers no larger than 16-bit samples \(peak 9830\)') as e:
            load_audio(pcm.astype(dtype))
        assert '.astype(np.int16)' in e.value.fix
    assert torch.allclose(load_audio(pcm.astype(np.int16)), torch.from_numpy(tone), atol=1e-4)      # as 16-bit: the tone

def test_downmix_and_resample(tmp_path):
    st = np.stack([np.tile(TONE, 3)[:44100], np.zeros(44100, np.float32)], 1)  # stereo, 44.1 kHz
    sf.write(str(tmp_path / 's.wav'), st, 44100)
    w = load_audio(tmp_path / 's.wav')
    assert w.dtype == torch.float32 and w.shape == (SR,)
    assert abs(w.abs().max().item() - 0.15) < 0.02                     # mean of the two channels
    save_wav(tmp_path / 'r.wav', w)
    assert torch.allclose(load_audio(tmp_path / 'r.wav'), w, atol=1e-4)


def test_log_mel_keeps_level_and_takes_128_mels():
    # 80 mels at 100 Hz and the 8-decade clamp (range ≤ 2) are checked in nbs/02_audio.ipynb (cell 45b08428)
    assert log_mel(torch.from_numpy(TONE), AudioConfig(n_mels=128)).shape == (128, 100)
    loud, quiet = log_mel(torch.from_numpy(TONE)), log_mel(torch.from_numpy(TONE * 0.1))
    assert loud.max() > quiet.max() + 0.4                              # absolute level is kept (−20 dB = −0.5)


def test_energy_contour_of_a_quiet_part():
    # pitch of pure tones and the loud part's level are checked in nbs/02_audio.ipynb (cell 55045c30)
    e = energy_contour(torch.cat([torch.full((8000,), 1e-3), torch.full((8000,), 0.5)]))
    assert e[:40].mean() < -50


def test_presets_change_rate_pitch_and_loudness():
    sent, v = "I just got the results back.", query_voices(16, 3)[0][0]
    w = {e: speak(sent, v, e) for e in EMOTIONS}
    dur = {e: len(x) / SR for e, x in w.items()}
    f0 = {e: pitch_contour(x)[pitch_contour(x) > 0].median().item() for e, x in w.items()}
    en = {e: energy_contour(x)[energy_contour(x) > energy_contour(x).max() - 30].mean().item() for e, x in w.items()}
    assert dur['sad'] > 1.4 * dur['neutral'] and dur['fearful'] < 0.85 * dur['neutral']
    assert f0['surprised'] > f0['happy'] > f0['neutral'] > f0['sad']
    assert en['sad'] < en['neutral'] - 3 and en['angry'] > en['neutral'] + 2


def test_speak_fits_max_seconds_and_names_a_missing_voice():
    text = "I just got the results back from the doctor this morning."
    assert len(speak(text, 'en-us+m1', 'sad')) > 2.0 * SR                # so the limit below has work to do
    assert len(speak(text, 'en-us+m1', 'sad', max_seconds=2.0)) <= 2.0 * SR
    # the train/test voice split is checked in nbs/03_tts.ipynb (cell f2b19b63)
    with pytest.raises(ValueError, match='no voice'): speak("Hi.", 'xx-none', 'happy')


def test_tts_plugin_interface(monkeypatch):
    from emotion_omni_lite.tts import TTS_ENGINES
    class Beep(TTSEngine):
        def synthesize(self, text, voice, emotion, prosody):
            return (0.2 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.float32), 8000
    monkeypatch.setitem(TTS_ENGINES, 'beep', None)                      # taken out of the registry again afterwards
    register_tts('beep', Beep)
    assert TTS_ENGINES['beep'] is Beep
    w = speak("anything", 'any', 'happy', engine=get_tts('beep'))
    assert w.shape == (SR,)                                             # resampled to 16 kHz
    with pytest.raises(ValueError, match='register_tts'): get_tts('nope')


def test_audio_error_crosses_processes_intact():
    "Worker processes send errors back pickled: the kit's audio error must survive that, message and all."
    import pickle
    from emotion_omni_lite.audio import AudioError
    e = pickle.loads(pickle.dumps(AudioError('x.wav', 'is empty', 'record again')))
    assert isinstance(e, AudioError) and str(e) == 'x.wav: is empty — record again' and e.fix == 'record again'


def test_integer_pcm_is_scaled_and_channels_are_found(tmp_path):
    "int16/uint8 arrays are PCM, not floats; a file with many channels is averaged over channels, never over time."
    import soundfile as sf
    t = np.arange(16000) / 16000; x = 0.5 * np.sin(2 * np.pi * 200 * t)
    assert abs(float(load_audio((x * 32767).astype(np.int16)).abs().max()) - 0.5) < 1e-3
    assert abs(float(load_audio(((x + 1) * 127.5).astype(np.uint8)).abs().max()) - 0.5) < 1e-2
    sf.write(tmp_path / 'many.wav', np.tile(x[:, None], (1, 20)).astype(np.float32), 16000)
    w = load_audio(tmp_path / 'many.wav')
    assert len(w) == 16000 and abs(float(w.abs().max()) - 0.5) < 1e-3
    assert len(load_audio(np.stack([x, x]))) == len(load_audio(np.stack([x, x], 1))) == 16000   # [C, T] and [T, C]


def test_a_pitch_shift_is_recorded_as_made():
    "shift_pitch moves by steps of a 100-Hz resampling rate: augment records the shift it made, not the one it drew."
    from emotion_omni_lite.audio import pitch_step
    assert pitch_step(0.0) == 0.0 and pitch_step(0.04) == 0.0 and pitch_step(-0.04) == 0.0   # below half a step: nothing
    assert pitch_step(0.5) == pytest.approx(0.55, abs=1e-3) and pitch_step(-1.0) == pytest.approx(-1.05, abs=1e-3)
    for st in np.linspace(-2, 2, 41):                                  # never more than half a step (0.055 st) away
        assert abs(pitch_step(st) - st) <= 0.056
    from dataclasses import replace
    from emotion_omni_lite.audio import AUGMENT, augment
    tone = 0.3 * torch.sin(2 * torch.pi * 150 * torch.arange(8000) / 16000)
    made = [augment(tone, seed, replace(AUGMENT, p_pitch=1.0))[1]['semitones'] for seed in range(20)]
    assert all(m == pitch_step(m) for m in made) and len(set(made)) > 5    # each on the resampler's grid
    from emotion_omni_lite.audio import shift_pitch
    t = torch.arange(32000) / 16000                                    # two seconds: FFT bins of 0.5 Hz
    for st in (1.0, -1.5, 2.0):                                        # the tone moves by the step recorded, in the samples
        y = shift_pitch(0.3 * torch.sin(2 * torch.pi * 200 * t), st)
        peak = float(torch.fft.rfft(y * torch.hann_window(len(y))).abs().argmax()) * 16000 / len(y)
        assert len(y) == len(t) and abs(peak - 200 * 2 ** (pitch_step(st) / 12)) < 1.0


def test_save_wav_writes_one_channel_and_refuses_before_making_folders(tmp_path):
    "[1, T] and [T, 1] are one channel; stereo, NaN and a folder as the path are refused before any folder is made."
    import os
    from emotion_omni_lite.audio import load_audio
    w = torch.from_numpy(TONE)
    save_wav(tmp_path / 'flat.wav', w)
    for name, x in (('row.wav', w[None]), ('column.wav', w[:, None])):
        assert save_wav(tmp_path / name, x).read_bytes() == (tmp_path / 'flat.wav').read_bytes()
    for x in (torch.stack([w, w]), torch.stack([w, w], 1)):               # stereo: once a mono file twice as long
        with pytest.raises(ValueError, match=r"shape \[(2, 16000|16000, 2)\], more than one channel: nothing was written.*wave\.mean\(0\)"):
            save_wav(tmp_path / 'new' / 'deeper' / 's.wav', x)
    with pytest.raises(ValueError, match='NaN or Inf'): save_wav(tmp_path / 'new' / 'n.wav', torch.tensor([0.1, float('nan')]))
    assert not (tmp_path / 'new').exists()                                # a refused write leaves no folder behind
    (tmp_path / 'taken').mkdir()
    with pytest.raises(IsADirectoryError, match=r"taken: is a folder: nothing was written; give a file's path, e\.g\. .*taken/clip\.wav"):
        save_wav(tmp_path / 'taken', w)
    assert sorted(os.listdir(tmp_path)) == ['column.wav', 'flat.wav', 'row.wav', 'taken'] and not os.listdir(tmp_path / 'taken')
    assert len(load_audio(tmp_path / 'row.wav')) == SR


def test_as_mels_tells_a_log_mel_from_a_batch_of_waves():
    "A lone [n_mels, X] tensor: a log-mel when X is shorter than any speech wave, else refused; lists say which they hold."
    from emotion_omni_lite.audio import as_mels
    cfg = AudioConfig(n_mels=80)
    mel = log_mel(torch.from_numpy(TONE), cfg)                          # [80, 100]: a real log-mel
    for given in (mel, [mel], mel[None]): assert torch.equal(as_mels(given, cfg)[0], mel) and len(as_mels(given, cfg)) == 1
    waves = torch.from_numpy(TONE)[None].repeat(80, 1) * torch.linspace(0.1, 1, 80)[:, None]   # 80 waves of one second
    with pytest.raises(AudioError, match=r"a \[80, 16000\] tensor is one log-mel of 160\.0 s or 80 waves of 1\.00 s.*as a list"):
        as_mels(waves, cfg)                                               # once read as one 160 s log-mel
    got = as_mels(list(waves), cfg)
    assert len(got) == 80 and got[5].shape == (80, 100) and torch.equal(got[5], log_mel(waves[5], cfg))
    assert len(as_mels(waves[:79], cfg)) == 79                           # any other count of waves: a batch, as before


def test_analyses_and_effects_take_one_channel():
    "Two channels are refused by name (once joined end to end, or a bare broadcast error); one channel in any layout is [T]."
    from emotion_omni_lite.audio import add_noise, augment, change_rate, shift_pitch
    w = torch.from_numpy(TONE)
    for f, name in ((pitch_contour, 'pitch_contour'), (energy_contour, 'energy_contour'), (lambda x: add_noise(x, 10), 'add_noise'),
                    (lambda x: augment(x, 0), 'augment'), (lambda x: shift_pitch(x, 1.0), 'shift_pitch'), (lambda x: change_rate(x, 1.1), 'change_rate')):
        with pytest.raises(AudioError, match=rf"shape \[2, 16000\], more than one channel: {name} takes one \[samples\] — pass one channel"):
            f(torch.stack([w, w]))
    for f in (pitch_contour, energy_contour, lambda x: add_noise(x, 10, 'pink', 3), lambda x: augment(x, 4)[0], lambda x: shift_pitch(x, 1.0)):
        assert torch.equal(f(w[None]), f(w)) and torch.equal(f(w[:, None]), f(w))
    from emotion_omni_lite.audio import band_limit, check_speech, gain_clip, reverberate, room_impulse, tilt_eq
    effects = {'tilt_eq': lambda x: tilt_eq(x, 1.0), 'reverberate': lambda x: reverberate(x, room_impulse(0.3)),
               'gain_clip': lambda x: gain_clip(x, 6.0), 'band_limit': band_limit, 'check_speech': check_speech}
    for name, f in effects.items():                                   # once [T, T] from tilt_eq (1 GB a second), or a stereo
        for x in (torch.stack([w, w]), torch.stack([w, w], 1)):        # pair filtered as two, or "0 ms long"
            with pytest.raises(AudioError, match=rf"shape \[(2, 16000|16000, 2)\], more than one channel: {name} takes one \[samples\]"):
                f(x)
        if name == 'check_speech': assert f(w[None]) == f(w[:, None]) == f(w) == []
        else: assert torch.equal(f(w[None]), f(w)) and torch.equal(f(w[:, None]), f(w))


def test_clips_too_short_for_a_window_name_the_minimum():
    "log_mel, shift_pitch and change_rate need a clip longer than half their window: shorter ones are named, not torch's padding error."
    from dataclasses import replace
    from emotion_omni_lite.audio import AUGMENT, augment, change_rate, shift_pitch
    x = torch.from_numpy(TONE)
    for n in (0, 200):
        with pytest.raises(AudioError, match=rf"is {n} samples long; a log-mel needs at least 201"): log_mel(x[:n])
    with pytest.raises(AudioError, match='is 200 samples long'): log_mel(torch.stack([x[:200], x[:200]]))
    assert log_mel(x[:201]).shape == (128, 1)
    with pytest.raises(AudioError, match=r"is 271 samples long; shift_pitch by 1 semitones needs at least 272"): shift_pitch(x[:271], 1.0)
    with pytest.raises(AudioError, match=r"is 512 samples long; shift_pitch by 12 semitones needs at least 513"): shift_pitch(x[:512], 12)
    assert len(shift_pitch(x[:272], 1.0)) == 272 and len(shift_pitch(x[:513], 12)) == 513 and len(shift_pitch(x[:129], -12)) == 129
    with pytest.raises(AudioError, match=r"is 256 samples long; change_rate needs at least 257"): change_rate(x[:256], 1.1)
    assert len(change_rate(x[:257], 0.5)) == 514
    with pytest.raises(AudioError, match='needs at least'): augment(x[:200], 0, replace(AUGMENT, p_pitch=1.0))


def test_unknown_emotions_are_named():
    from emotion_omni_lite.tts import EspeakTTS, PiperWorldTTS
    said = r"unknown emotion '{}': use one of neutral, happy, sad, angry, surprised, fearful"
    for e in ('excited', 'Happy'):
        with pytest.raises(ValueError, match=said.format(e)): speak("Hi.", 'en-us+m1', e)
        with pytest.raises(ValueError, match=said.format(e)): EspeakTTS().synthesize("Hi.", 'en-us+m1', e)
        with pytest.raises(ValueError, match=said.format(e)): PiperWorldTTS().synthesize("Hi.", 'piper:joe+p0', e)


def test_load_audio_refuses_target_rates_it_cannot_resample_to():
    "A target rate is a whole number in range whose filter is small; the kit's own rates (16, 22.05, 24 kHz) resample as before."
    from emotion_omni_lite.audio import resample
    for sr in (0.5, 16000.5, 4000, 400_000):
        with pytest.raises(ValueError, match=rf"load_audio: sr={sr!r} must be a whole number of samples per second from 8000 to 192000"):
            load_audio(TONE, sr=sr, orig_sr=SR)
    for sr, orig in ((22051, 44100), (16001, 16000)):                    # once a filter of 972 M and 256 M entries
        with pytest.raises(ValueError, match=rf"resampling {orig} Hz to {sr} Hz needs a filter of [\d,]+ entries .*e\.g\. 16000, 22050"):
            load_audio(TONE, sr=sr, orig_sr=orig)
    with pytest.raises(ValueError, match='needs a filter of'): speak("Hi.", 'en-us+m1', 'happy', sr=22051)
    for sr in (16000, 22050, 24000, 16000.0):
        assert len(load_audio(TONE, sr=sr)) == SR and abs(len(load_audio(TONE, sr=sr, orig_sr=22050)) - sr / 22050 * SR) <= 1
    assert torch.equal(load_audio(TONE, orig_sr=22050), resample(torch.from_numpy(TONE), 22050, SR))


def test_load_audio_refuses_an_arrays_rate_beside_a_file(tmp_path):
    "A file is read at the rate its header gives: orig_sr beside a path was ignored without a word; refused, naming the fix. An array still takes it."
    sf.write(str(tmp_path / 'tone.wav'), TONE, SR)
    for p in (tmp_path / 'tone.wav', str(tmp_path / 'tone.wav')):
        with pytest.raises(ValueError, match=r"load_audio: orig_sr=8000 is the rate of an array's samples, but .*tone\.wav is a file, "
                                             r"read at the rate its header gives: drop orig_sr \(to resample the file, pass the rate you want as sr\)"):
            load_audio(p, orig_sr=8000)
    assert len(load_audio(tmp_path / 'tone.wav')) == SR and len(load_audio(tmp_path / 'tone.wav', sr=8000)) == SR // 2
    assert len(load_audio(TONE, orig_sr=8000)) == 2 * SR


def test_jitter_needs_its_generator_and_augment_its_seed():
    from emotion_omni_lite.audio import augment
    with pytest.raises(ValueError, match=r"speak: jitter=0\.1 needs rng, the generator it is drawn from"):
        speak("Hi.", 'en-us+m1', 'happy', jitter=0.1)
    w = torch.from_numpy(TONE)
    for seed in (None, -1, 1.5, True, '3'):
        with pytest.raises(ValueError, match=rf"augment: seed={seed!r} must be a whole number ≥ 0"): augment(w, seed)
    a, b = augment(w, np.int64(3)), augment(w, 3)
    assert torch.equal(a[0], b[0]) and a[1] == b[1]


def test_speak_reads_a_piper_sentence_once(monkeypatch):
    "Without an engine, speak keeps one Piper engine: a sentence's reading serves its next emotions, with the samples a new engine gives."
    from emotion_omni_lite.tts import PiperWorldTTS
    read, neutral = [], PiperWorldTTS.neutral
    monkeypatch.setattr(PiperWorldTTS, 'neutral', lambda self, *a, **k: read.append(a) or neutral(self, *a, **k))
    text = "The kettle is on, come in."
    first, angry = speak(text, 'piper:joe+p2', 'happy'), speak(text, 'piper:joe+p2', 'angry')
    assert len(read) == 1 and not torch.equal(first[:len(angry)], angry)   # Piper read it once, for both emotions
    assert torch.equal(speak(text, 'piper:joe+p2', 'happy', engine=PiperWorldTTS()), first) and len(read) == 2   # read afresh: the same samples


def test_effect_settings_out_of_range_are_named():
    "An effect's setting outside what it can do is refused by name with its range (once torch's 'step must be nonzero', NaN samples or a 2-sample room); the kit's own settings pass."
    from emotion_omni_lite.audio import (CONDITIONS, add_noise, band_limit, change_rate, pitch_step, room_impulse, shift_pitch)
    w, nan = torch.from_numpy(TONE), float('nan')
    for f, said in ((lambda: change_rate(w, 0), r"change_rate: factor=0 must be from 0\.25 to 4"),
                    (lambda: change_rate(w, -1), r"factor=-1 must be"), (lambda: change_rate(w, nan), r"factor=nan must be"),
                    (lambda: shift_pitch(w, 200), r"shift_pitch: semitones=200 must be from -24 to 24"),
                    (lambda: shift_pitch(w, nan), r"semitones=nan must be"), (lambda: pitch_step(-60), r"semitones=-60 must be"),
                    (lambda: add_noise(w, nan), r"add_noise: snr_db=nan must be a finite number of decibels"),
                    (lambda: add_noise(w, -float('inf')), r"snr_db=-inf must be"),
                    (lambda: room_impulse(-1), r"room_impulse: rt60=-1 must be above 0 and at most 10 seconds"),
                    (lambda: band_limit(w, high=8000), r"band_limit: high=8000 must be above low=300 Hz and below half the sample rate \(8000 Hz\)"),
                    (lambda: band_limit(w, low=4000, high=300), r"high=300 must be above low=4000"),
                    (lambda: energy_contour(w, hop_ms=0), r"energy_contour: hop_ms=0 must be a finite number of ms, at least one sample \(0\.0625 ms at 16000 Hz\)"),
                    (lambda: pitch_contour(w, fmin=600, fmax=100), r"pitch_contour: fmax=100 must be above fmin=600 Hz"),
                    (lambda: pitch_contour(w, fmin=20), r"pitch_contour: fmin=20 must be above 25 Hz")):
        with pytest.raises(ValueError, match=said): f()
    assert torch.isfinite(band_limit(w, high=7900)).all() and len(room_impulse(1e-3)) == 16
    for st in (-24, -12, 6, 24): assert len(shift_pitch(w, st)) == SR        # the widgets' and cues' sweeps, and the ends
    for rate in (0.25, 0.5, 0.7, 1.5, 2, 4): assert abs(len(change_rate(w, rate)) - SR / rate) <= 1
    for name, cond in CONDITIONS.items(): assert cond(w, 3).shape == w.shape
    assert pitch_contour(w[:8000], 8000).shape == (100,) and len(band_limit(w[:8000], 8000)) == 8000   # augment at 8 kHz


def test_save_wav_writes_only_rates_load_audio_reads_and_any_float_tensor(tmp_path):
    "A sample rate load_audio refuses (or one a wav file cannot hold) is refused before anything is written; bfloat16 and float16 tensors are read and written as floats."
    w = torch.from_numpy(TONE)
    for sr in (4000, 1e9, 16000.7, 0, True, '16000'):
        with pytest.raises(ValueError, match=rf"save_wav .*s\.wav: sr={sr!r} must be a whole number of samples per second from 8000 to "
                                             r"192000 .*: nothing was written"):
            save_wav(tmp_path / 'new' / 's.wav', w, sr)
    assert not (tmp_path / 'new').exists()
    assert len(load_audio(save_wav(tmp_path / 'f.wav', w, 16000.0))) == SR
    for dtype in (torch.bfloat16, torch.float16):
        x = w.to(dtype)
        assert torch.allclose(load_audio(x), w, atol=2e-3) and load_audio(x).dtype == torch.float32
        assert torch.allclose(load_audio(save_wav(tmp_path / f'{dtype}.wav', x)), w, atol=2e-3)


def test_unreadable_files_and_folders_are_named(tmp_path, monkeypatch):
    "A file this process may not read, or one in a folder it may not open, is named so with the permission to check, not as undecodable nor as a bare PermissionError."
    import os
    from pathlib import Path
    from emotion_omni_lite.audio import undecodable
    f, shut = tmp_path / 'locked.wav', tmp_path / 'shut'
    sf.write(str(f), TONE, SR); shut.mkdir(); sf.write(str(shut / 'in.wav'), TONE, SR)
    if os.geteuid() != 0:                                               # the real thing (root reads whatever the modes say)
        f.chmod(0); shut.chmod(0o600)
        try:
            with pytest.raises(AudioError, match=r"locked\.wav: cannot be read \(permission denied\) — check its permissions"): load_audio(f)
            with pytest.raises(AudioError, match=r"in\.wav: cannot be read \(permission denied on its folder .*shut\)"): load_audio(shut / 'in.wav')
        finally: f.chmod(0o644); shut.chmod(0o755)
    access, stat = os.access, Path.stat                                 # as root: the system's answers, as a user would get them
    monkeypatch.setattr(os, 'access', lambda p, mode, **k: not (Path(p) == f or Path(p) == shut and mode == os.X_OK) and access(p, mode, **k))
    def no_entry(self, **k):
        if self.parent == shut: raise PermissionError(13, 'Permission denied', str(self))
        return stat(self, **k)
    monkeypatch.setattr(Path, 'stat', no_entry)
    with pytest.raises(AudioError, match=r"locked\.wav: cannot be read \(permission denied\) — check its permissions, e\.g\. chmod a\+r"):
        load_audio(f)
    with pytest.raises(AudioError, match=rf"in\.wav: cannot be read \(permission denied on its folder {shut}\) — .*chmod a\+x {shut}"):
        load_audio(shut / 'in.wav')
    assert undecodable(f, RuntimeError('Error opening: System error.')).problem == 'cannot be read (permission denied)'
    monkeypatch.setattr(os, 'access', access)
    assert 'permission denied' in undecodable(tmp_path / 'x.wav', PermissionError(13, 'Permission denied')).problem
    assert 'cannot be decoded' in undecodable(f, RuntimeError('Error opening: Format not recognised.')).problem


def test_speech_settings_out_of_range_are_named():
    "A text too long for max_seconds ends in the same refusal on Piper as on espeak (Piper once read it at any speed, where espeak stops at 450 words a minute); a jitter of 1 or more, or no held-out voice, is refused."
    text = "I just got the results back from the doctor this morning."
    for voice in ('en-us+m1', 'piper:joe+p0'):
        with pytest.raises(ValueError, match=r"does not fit in 0\.8 s even when read fast: shorten it"):
            speak(text, voice, 'sad', max_seconds=0.8)
        assert len(speak(text, voice, 'sad', max_seconds=3.0)) <= 3 * SR
    for j in (1.0, 1.5, -0.1, float('nan')):
        with pytest.raises(ValueError, match=rf"speak: jitter={j} must be from 0 to below 1"): speak("Hi.", 'en-us+m1', 'sad', np.random.default_rng(0), j)
    for n, n_test in ((16, 0), (6, 6), (6, -1)):
        with pytest.raises(ValueError, match=rf"n_test_voices={n_test} must be between 1 and n_query_voices-1={n - 1}"): query_voices(n, n_test)


def test_samples_of_any_float_type_are_spoken_and_resampled():
    "A plugin engine's float64 samples at 8 kHz are spoken in every emotion (once only sad and angry, whose tilt made them float32, and the others hit the resampler's float32 filter); resample takes float16 and float64 too."
    from emotion_omni_lite.audio import resample
    class Beep64(TTSEngine):
        def synthesize(self, text, voice, emotion, prosody):
            return 0.2 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000), 8000   # float64
    for e in EMOTIONS:
        w = speak("anything", 'any', e, engine=Beep64())
        assert w.dtype == torch.float32 and w.shape == (SR,), e
    x = torch.from_numpy(TONE[:8000])
    for dtype in (torch.float16, torch.float64, torch.bfloat16):
        y = resample(x.to(dtype), 8000, SR)
        assert y.dtype == torch.float32 and torch.allclose(y, resample(x, 8000, SR), atol=1e-2), dtype
    assert resample(x.double(), SR, SR).dtype == torch.float32 and resample(x, SR, SR) is x   # float32 at its rate: as given


def test_espeak_speaks_a_voice_named_with_its_engine():
    "engine_of('espeak:en-us+m1') is espeak, and espeak speaks it: the same samples as 'en-us+m1' (once 'no voice')."
    from emotion_omni_lite.tts import EspeakTTS, engine_of, fresh_espeak
    assert engine_of('espeak:en-us+m1') == 'espeak' and EspeakTTS().voice_problem('espeak:en-us+m1') == ''
    assert 'no voice variant' in EspeakTTS().voice_problem('espeak:en+m99')
    said = {}
    for v in ('espeak:en-us+m1', 'en-us+m1'):
        with fresh_espeak() as e: said[v] = speak("Hi there.", v, 'happy', engine=e, seed=0)
    assert len(said['en-us+m1']) > 0 and torch.equal(said['espeak:en-us+m1'], said['en-us+m1'])
    assert speak("Hi there.", 'espeak:en-us+m1', 'happy').abs().max() > 0.01        # with the engine speak picks itself too
    with pytest.raises(ValueError, match="espeak-ng has no voice 'xx-none'"): speak("Hi.", 'espeak:xx-none', 'happy')


def test_as_mels_reads_an_array_as_it_reads_a_tensor():
    "A [B, samples] array is B waves (once one 'log-mel' of B rows); an [n_mels, samples] array is refused as the tensor is; an array log-mel is one log-mel."
    from emotion_omni_lite.audio import as_mels
    cfg = AudioConfig(n_mels=80)
    batch = np.stack([TONE, 0.5 * TONE, 0.2 * TONE, 0.1 * TONE])          # [4, 16000]
    got, want = as_mels(batch, cfg), as_mels(list(torch.from_numpy(batch)), cfg)
    assert len(got) == 4 and all(torch.equal(g, w) for g, w in zip(got, want)) and got[0].shape == (80, 100)
    assert len(as_mels(batch.astype(np.float64), cfg)) == 4
    with pytest.raises(AudioError, match=r"a \[80, 16000\] tensor is one log-mel of 160\.0 s or 80 waves"):
        as_mels(np.tile(TONE, (80, 1)), cfg)
    mel = log_mel(torch.from_numpy(TONE), cfg)
    assert [m.shape for m in as_mels(mel.numpy(), cfg)] == [(80, 100)] and torch.equal(as_mels(mel.numpy()[None], cfg)[0], mel)


def test_shared_variants_read_numbered_variants_as_espeak_does():
    "'+15' is f5 and '+5' m5 (as voice_problem reads them): a held-out 'en+15' beside a training 'en-us+f5' shares its variant (once compared as text)."
    from emotion_omni_lite.tts import QUERY_VOICES, shared_variants
    assert shared_variants(['en-us+f5'], ['en+15', 'en+5', 'en-gb+f4']) == ['en+15']
    assert shared_variants(['en-gb+5'], ['en-us+m5', 'en+15']) == ['en-us+m5']
    assert shared_variants(['en'], ['en+0', 'en-us', 'espeak:en']) == ['en+0', 'espeak:en']   # '+0' is the plain language
    assert shared_variants(['espeak:en-us+f2'], ['en-gb+f2']) == ['en-gb+f2']
    assert shared_variants(QUERY_VOICES[:13], QUERY_VOICES[13:]) == [] and query_voices(16, 3)[1] == QUERY_VOICES[13:]


def test_gain_and_tilt_settings_out_of_range_are_named():
    "A NaN gain once made every sample NaN, a clip level of 0 or below a silent or constant clip, a NaN tilt NaN samples: each is refused by name with its range; the kit's own settings pass."
    from emotion_omni_lite.audio import gain_clip, tilt_eq
    w, nan, inf = torch.from_numpy(TONE), float('nan'), float('inf')
    for f, said in ((lambda: gain_clip(w, nan), r"gain_clip: gain_db=nan must be a finite number of decibels from -200 to 200"),
                    (lambda: gain_clip(w, inf), r"gain_db=inf must be"), (lambda: gain_clip(w, 1e4), r"gain_db=10000\.0 must be"),
                    (lambda: gain_clip(w, 6, clip=0), r"gain_clip: clip=0 must be above 0: the level it clips at"),
                    (lambda: gain_clip(w, 6, clip=-1), r"clip=-1 must be above 0"), (lambda: gain_clip(w, 6, clip=nan), r"clip=nan must be"),
                    (lambda: tilt_eq(w, nan), r"tilt_eq: db_per_octave=nan must be a finite number of decibels per octave from -20 to 20"),
                    (lambda: tilt_eq(w, -inf), r"db_per_octave=-inf must be"), (lambda: tilt_eq(w, '1'), r"db_per_octave='1' must be")):
        with pytest.raises(ValueError, match=said): f()
    for g in (-10, 0, 10, 138):                                          # the conditions', and augment's clipping at a 1e-6 peak
        assert torch.isfinite(gain_clip(w * 1e-6, g)).all() and gain_clip(w, g).abs().max() <= 1
    assert torch.equal(gain_clip(w, 6, clip=float('inf')), w * 10 ** (6 / 20))
    for t in (-20, -1, 1, 20): assert torch.isfinite(tilt_eq(w, t)).all()


def test_add_noise_measures_the_speech_over_10_ms_at_any_rate():
    "The speech level is the RMS of the louder half of 10 ms frames at `sr` (once 160-sample frames whatever the rate: 20 ms at 8 kHz, 3.3 ms at 48 kHz); 16 kHz is as before."
    from emotion_omni_lite.audio import add_noise
    g = torch.Generator().manual_seed(0)
    for sr in (8000, 16000, 48000):
        env = torch.rand(sr // 40 + 1, generator=g).repeat_interleave(40)[:sr]     # a level that moves every 40 samples
        w = 0.3 * env * torch.sin(2 * torch.pi * 180 * torch.arange(sr) / sr)
        level = (add_noise(w, 10, 'pink', 1, sr) - w).pow(2).mean().sqrt() * 10 ** 0.5   # the noise: level × 10^(−10/20)
        centred = lambda n: torch.cat([torch.zeros(n // 2), w])[:len(w)]   # frames centred on each step: half a frame of zeros first
        loud = lambda n: (e := centred(n).reshape(-1, n).pow(2).mean(-1))[e >= e.median()].mean().sqrt()   # not add_noise's own framing
        assert torch.isclose(level, loud(sr // 100), rtol=1e-4), sr
        if sr != 16000: assert not torch.isclose(level, loud(160), rtol=1e-2), sr


def test_the_piper_engine_loads_its_model_per_thread_count(monkeypatch):
    "PiperWorldTTS(threads=2) after PiperWorldTTS() runs on 2 threads (it once ran on the first one's, the setting silently ignored); the same count shares one model."
    from emotion_omni_lite import tts
    monkeypatch.setattr(tts, '_PIPER', dict(tts._PIPER))                  # the process's cache as it was, afterwards
    one, two = tts.PiperWorldTTS(), tts.PiperWorldTTS(threads=2)
    threads = lambda e: e.voice.session.get_session_options().intra_op_num_threads
    assert two.voice is not one.voice and (threads(one), threads(two)) == (1, 2)
    assert tts.PiperWorldTTS().voice is one.voice and tts.PiperWorldTTS(threads=2).voice is two.voice


def test_pitch_and_rate_give_float32_samples_and_refuse_integers():
    "At 0 semitones or factor 1, shift_pitch and change_rate give float32 [T] as the other effects do (once the input itself: NumPy stays NumPy, float64 float64); integer PCM is refused with the fix (once torch's bare TypeError)."
    from emotion_omni_lite.audio import change_rate, shift_pitch
    x = TONE.astype(np.float64)
    for f in (lambda w: shift_pitch(w, 0), lambda w: change_rate(w, 1)):
        for given in (x, x[None], torch.from_numpy(x)[:, None], torch.from_numpy(TONE).half()):
            y = f(given)
            assert torch.is_tensor(y) and y.dtype == torch.float32 and y.shape == (SR,) and torch.allclose(y, torch.from_numpy(TONE), atol=1e-3)
    assert shift_pitch(x, 1.0).dtype == change_rate(x, 1.2).dtype == torch.float32
    pcm = (TONE * 32767).astype(np.int16)
    for f, name in ((lambda w: shift_pitch(w, 0), 'shift_pitch'), (lambda w: shift_pitch(w, 1.0), 'shift_pitch'),
                    (lambda w: change_rate(w, 1), 'change_rate'), (lambda w: change_rate(w, 1.1), 'change_rate')):
        for given in (pcm, torch.from_numpy(pcm)):
            with pytest.raises(AudioError, match=rf"holds torch\.int16 samples \(PCM counts\?\), not floats in \[-1, 1\]: {name} takes "
                                                 r"floats — divide 16-bit samples by 32768 first"):
                f(given)
    assert shift_pitch(pcm / 32768, 1.0).shape == (SR,) and torch.allclose(change_rate(pcm / 32768, 1), torch.from_numpy(TONE), atol=1e-4)   # the fix it names


def test_the_pitch_steps_are_as_pitch_step_says():
    "A step of the 100-Hz resampling grid at 16 kHz: about 0.11 semitone near 0, 0.05 at −12, 0.22 at +12, 0.43 at +24 (its docstring's figures)."
    from emotion_omni_lite.audio import pitch_step
    near = lambda st: (pitch_step(min(24, max(-24, st + d))) for d in np.linspace(-0.6, 0.6, 121))
    step = lambda st: min(abs(v - pitch_step(st)) for v in near(st) if v != pitch_step(st))   # to the nearest other shift it makes
    for st, size in ((0.2, 0.11), (-12, 0.05), (12, 0.22), (23.8, 0.43)):
        assert step(st) == pytest.approx(size, abs=0.01), st


def test_each_scoring_condition_does_what_its_name_says():
    "The eight CONDITIONS change the clip as named: pink noise at its SNR over the speech's louder half, a room that moves the samples at the same RMS, a phone line's band, 10 dB up (clipped) and down."
    from emotion_omni_lite.audio import CONDITIONS
    n = torch.arange(SR)
    tone = lambda hz, a: a * torch.sin(2 * torch.pi * hz * n / SR)
    w = tone(180, 0.3) * (n % 4000 < 2500) + tone(1000, 0.1) + tone(5000, 0.05)   # below, inside and above a phone's band
    loud = (e := w.reshape(-1, 160).pow(2).mean(-1))[e >= e.median()].mean()
    assert set(CONDITIONS) == {'noise_20db', 'noise_10db', 'noise_0db', 'room_0.3s', 'room_0.6s', 'phone', 'louder_10db', 'softer_10db'}
    got = {name: cond(w, 3) for name, cond in CONDITIONS.items()}
    for name, y in got.items(): assert y.shape == w.shape and not torch.equal(y, w), name
    for snr in (20, 10, 0):
        y = got[f'noise_{snr}db']
        assert float(10 * torch.log10(loud / (y - w).pow(2).mean())) == pytest.approx(snr, abs=0.1)
        assert not torch.equal(y, CONDITIONS[f'noise_{snr}db'](w, 4))    # its seed draws the noise
    for name in ('room_0.3s', 'room_0.6s'):
        y = got[name]
        assert float(y.pow(2).mean()) == pytest.approx(float(w.pow(2).mean()), rel=1e-3) and (y - w).pow(2).mean() > 0.1 * w.pow(2).mean()
    assert not torch.equal(got['room_0.3s'], got['room_0.6s'])
    band = lambda y, lo, hi: torch.fft.rfft(y).abs().pow(2)[lo:hi].sum()      # 1 s: bins of 1 Hz
    assert band(got['phone'], 4500, 8001) < 0.01 * band(w, 4500, 8001) and band(got['phone'], 150, 210) < 0.05 * band(w, 150, 210)
    assert band(got['phone'], 990, 1010) > 0.5 * band(w, 990, 1010)
    assert torch.equal(got['softer_10db'], w * 10 ** (-10 / 20))
    assert got['louder_10db'].abs().max() == 1.0 and torch.equal(got['louder_10db'], (w * 10 ** 0.5).clamp(-1, 1))


def test_speak_reads_any_layout_of_one_channel_and_refuses_what_is_not_samples():
    "A plugin's [1, T] or [T, 1] is T samples (once one sample: no tilt, no max_seconds, and a crash after leading silence); stereo, integer PCM and no samples are refused naming the engine (once resampled along the channels, a square wave, a crash)."
    from emotion_omni_lite.audio import resample
    beep = (0.2 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.float32)
    class Given(TTSEngine):
        def __init__(self, w): self.w = w
        def synthesize(self, text, voice, emotion, prosody): return self.w, 8000
    for e in ('sad', 'angry', 'neutral'):                               # sad and angry tilt
        want = speak("anything", 'any', e, engine=Given(beep))
        for w in (beep[None], beep[:, None], torch.from_numpy(beep)[None]):
            assert torch.equal(speak("anything", 'any', e, engine=Given(w)), want), (e, w.shape)
    quiet = np.concatenate([np.zeros(800, np.float32), beep])[None]     # leading silence, trimmed
    assert torch.equal(speak("anything", 'any', 'happy', engine=Given(quiet)), speak("anything", 'any', 'happy', engine=Given(quiet[0])))
    with pytest.raises(ValueError, match=r"does not fit in 0\.5 s even when read fast"):
        speak("anything", 'any', 'happy', engine=Given(beep[None]), max_seconds=0.5)
    for w, said in ((np.stack([beep, beep], 1), r"Given\.synthesize returned samples of shape \[8000, 2\], not one channel: return mono"),
                    ((beep * 32767).astype(np.int16), r"Given\.synthesize returned int16 samples, not floats in \[-1, 1\]: .*int16 by 32768"),
                    (np.zeros(0, np.float32), r"Given\.synthesize returned no samples for 'anything': return a short silence")):
        with pytest.raises(ValueError, match=said): speak("anything", 'any', 'happy', engine=Given(w))
    assert resample(torch.zeros(0), 8000, SR).shape == (0,) and resample(torch.zeros(3, 0), 22050, SR).shape == (3, 0)


def test_effects_and_conditions_refuse_integer_pcm():
    "Integer samples into an effect, augment or a scoring condition are refused with the fix (once read as floats 32768 times full scale, silently); the fix they name works."
    from emotion_omni_lite.audio import CONDITIONS, add_noise, augment, band_limit, gain_clip, reverberate, room_impulse, tilt_eq
    pcm = (TONE * 32767).astype(np.int16)
    effects = {'add_noise': lambda x: add_noise(x, 10), 'reverberate': lambda x: reverberate(x, room_impulse(0.3)),
               'gain_clip': lambda x: gain_clip(x, 0), 'tilt_eq': lambda x: tilt_eq(x, 1.0), 'band_limit': band_limit,
               'augment': lambda x: augment(x, 0)[0], **{c: (lambda x, c=c: CONDITIONS[c](x, 0)) for c in CONDITIONS}}
    for name, f in effects.items():
        for given in (pcm, torch.from_numpy(pcm)):
            with pytest.raises(AudioError, match=r"holds torch\.int16 samples \(PCM counts\?\), not floats in \[-1, 1\]: .* takes floats "
                                                 r"— divide 16-bit samples by 32768 first"):
                f(given)
        assert f(pcm / 32768).shape == (SR,), name


def test_check_speech_counts_the_clip_at_its_own_rate(tmp_path):
    "150 ms at 8 kHz is speech (once counted as 16 kHz samples: '75 ms'), 80 ms at 8 kHz is not; a manifest's 8 kHz query passes the check."
    from emotion_omni_lite.audio import check_speech
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.dataset import external_rows
    at8 = lambda s: (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(8000 * s)) / 8000)).astype(np.float32)
    assert check_speech(torch.from_numpy(at8(0.15)), sr=8000) == []
    with pytest.raises(AudioError, match=r"is 80 ms long; speech needs at least 100 ms"): check_speech(torch.from_numpy(at8(0.08)), sr=8000)
    with pytest.raises(ValueError, match=r"check_speech: sr=4000 must be the clip's rate in Hz"): check_speech(torch.from_numpy(at8(0.15)), sr=4000)
    sf.write(str(tmp_path / 'q8.wav'), at8(0.15), 8000); sf.write(str(tmp_path / 'q.wav'), TONE, SR)
    sf.write(str(tmp_path / 'r.wav'), np.tile(TONE, 2), SR)
    (tmp_path / 'u.json').write_text(json.dumps([i % 20 for i in range(50)]))
    f = tmp_path / 'm.csv'
    f.write_text('query_audio,query_text,user_emotion,reply_audio,reply_text,reply_emotion,reply_units,split\n'
                 'q8.wav,Hi.,happy,r.wav,Oh!,happy,u.json,train\nq.wav,Bye.,sad,r.wav,Oh.,sad,u.json,test\n')
    rows = external_rows(get_config('smoke'), f)
    assert [r['query_seconds'] for r in rows] == [0.15, 1.0]


def test_contours_check_hop_ms_before_using_it():
    "A NaN, infinite or text hop_ms is named (once int()'s bare ValueError, OverflowError or TypeError)."
    w = torch.from_numpy(TONE)
    for f in (pitch_contour, energy_contour):
        for bad in (float('nan'), float('inf'), '10'):
            with pytest.raises(ValueError, match=rf"{f.__name__}: hop_ms={bad!r} must be a finite number of ms"): f(w, hop_ms=bad)


def test_reverberate_takes_a_room_in_any_layout_and_type():
    "A NumPy, [1, L], [L, 1] or float64 room impulse hears as the float32 [L] one (once a TypeError, a dimension error, float64 out); two channels are refused."
    from emotion_omni_lite.audio import reverberate, room_impulse
    w, rir = torch.from_numpy(TONE), room_impulse(0.3)
    want = reverberate(w, rir)
    for given in (rir.numpy(), rir[None], rir[:, None], rir.double(), rir.numpy().astype(np.float64)[None]):
        y = reverberate(w, given)
        assert y.dtype == torch.float32 and torch.equal(y, want), getattr(given, 'shape', None)
    with pytest.raises(AudioError, match=r"more than one channel: reverberate's rir takes one"): reverberate(w, torch.stack([rir, rir]))


def test_as_mels_refuses_a_wave_item_with_a_channel_axis():
    "A [1, T] (or [T, 1]) item of a list is a wave, refused by name (once read as a 1-bin log-mel); with n_mels 1 it is a log-mel, as before."
    from emotion_omni_lite.audio import as_mels
    cfg, w = AudioConfig(n_mels=80), torch.from_numpy(TONE)
    for item in (w[None], w[:, None], TONE[None]):
        with pytest.raises(AudioError, match=r"a \[(1, 16000|16000, 1)\] item is one wave with a channel axis, not a log-mel of 80 mels — pass the wave"):
            as_mels([item], cfg)
    assert torch.equal(as_mels([w], cfg)[0], log_mel(w, cfg)) and torch.equal(as_mels([w[None]], AudioConfig(n_mels=1))[0], w[None])
    mel1 = log_mel(w[:400], cfg)                                         # [80, 2], and a one-frame [80, 1] log-mel stays one
    assert torch.equal(as_mels([mel1[:, :1]], cfg)[0], mel1[:, :1])
    for batch in (w[None, None], torch.stack([w, w])[:, None], torch.stack([w, w])[:, :, None], TONE[None, None]):   # 3-D: so is each item
        with pytest.raises(AudioError, match=r"a \[(1, 16000|16000, 1)\] item is one wave with a channel axis, not a log-mel of 80 mels — "
                                             r"pass the waves as \[B, samples\]"):
            as_mels(batch, cfg)
    mel = log_mel(w, cfg)
    got = as_mels(torch.stack([mel, mel]).half(), cfg)                  # a [B, n_mels, T] batch: its log-mels, as they are
    assert len(got) == 2 and got[0].dtype == torch.float16 and torch.equal(got[1], mel.half())
    assert torch.equal(as_mels(w[None, None], AudioConfig(n_mels=1))[0], w[None])   # one mel: a log-mel, as before


def test_a_hop_given_in_ms_is_its_samples_again():
    "A mel's hop passed on as milliseconds (1000·13/22050 ms) comes back as 13 samples, not 12: the contours keep step with the mel's frames at any rate."
    from emotion_omni_lite.audio import energy_contour, pitch_contour
    sr, hop = 22050, 13
    w = torch.sin(torch.arange(sr) * 2 * torch.pi * 200 / sr) * 0.3
    ms = 1000 * hop / sr
    assert 1000 * hop / sr * sr / 1000 < hop                            # the float falls just short: int() would give 12
    assert abs(len(pitch_contour(w, sr, hop_ms=ms)) - sr / hop) <= 2 and abs(len(energy_contour(w, sr, hop_ms=ms)) - sr / hop) <= 2
