"Audio basics and emotional speech synthesis: every bad input raises AudioError naming file and problem."
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


def test_tts_plugin_interface():
    class Beep(TTSEngine):
        def synthesize(self, text, voice, emotion, prosody):
            return (0.2 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.float32), 8000
    register_tts('beep', Beep)
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
