"Plain-Python tests of the probing widgets: set values, click buttons, upload files; the figures and labels must change."
import datetime, functools, io, shutil
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

from emotion_omni_lite.config import EMOTIONS
from emotion_omni_lite.audio import AudioError, pitch_contour
from emotion_omni_lite.widgets import (Controls, EmotionComparator, EmotionMorph, LiveFigure, ProbePanel, audible, clamp_note, cue_parts,
                                       fit_emotion_map, morph_vector, read_upload, resynthesize, transform, wav_bytes)


def median_f0(w):
    f = pitch_contour(torch.as_tensor(w, dtype=torch.float32)); return f[f > 0].median().item()


def wav_file(wave, sr=16000, fmt='WAV'):
    buf = io.BytesIO(); sf.write(buf, np.asarray(wave, np.float32), sr, format=fmt); return buf.getvalue()


def browser_upload(panel, name, content):
    "Set the FileUpload value the way a browser upload does."
    panel.upload.value = ({'name': name, 'type': '', 'size': len(content), 'content': memoryview(content),
                           'last_modified': datetime.datetime.now()},)


def tone_speak(reply, vec):
    "A stand-in speech decoder whose pitch follows the emotion vector."
    f0 = 120 + 40 * float(np.argmax(np.abs(vec)))
    return (0.3 * np.sin(2 * np.pi * f0 * np.arange(16000) / 16000)).astype(np.float32), 16000


@pytest.fixture
def panel():
    return ProbePanel(cue_parts(), live=True)


def test_transform_shifts_pitch_down_and_slows_at_the_same_pitch():
    # an octave up, faster and quieter: checked in nbs/17_widgets.ipynb (cell 87d09b64)
    tone = 0.3 * torch.sin(2 * torch.pi * 150 * torch.arange(32000) / 16000)
    assert abs(median_f0(transform(tone, Controls(pitch=-12))) - 75) < 5
    assert len(transform(tone, Controls(rate=0.5))) == 64000
    assert abs(median_f0(transform(tone, Controls(rate=0.5))) - 150) < 5     # slower, same pitch


def f0_spread(w):
    "The voiced pitch's spread between its 10th and 90th percentiles, in octaves."
    f = pitch_contour(torch.as_tensor(w, dtype=torch.float32)); lo, hi = torch.quantile(f[f > 0].log2(), torch.tensor([0.1, 0.9]))
    return (hi - lo).item()


@pytest.mark.parametrize('voice', ['en-us+m1', 'piper:joe+p1'])
def test_resynthesis_repeats_itself_so_that_a_control_is_what_moves_the_sound(voice):
    "The same call twice gives the same samples (espeak's library would not, called again): a change is the control's."
    a, b = (resynthesize('My phone just rang.', voice, 'sad', Controls(pitch=2)) for _ in range(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, resynthesize('My phone just rang.', voice, 'sad', Controls(pitch=2.5)))


def test_pitch_range_widens_the_pitch_and_a_flat_piper_range_is_said():
    spread = [f0_spread(resynthesize('My phone just rang.', 'en-us+m1', 'neutral', Controls(range=r))) for r in (-30, 0, 40)]
    assert spread[0] < 0.6 * spread[1] and spread[2] > 1.3 * spread[1], spread
    assert clamp_note('piper:joe+p0', 'neutral', Controls(range=0)) == ''
    assert 'changes nothing' in clamp_note('piper:joe+p0', 'neutral', Controls(range=-50)) and '“pitch range” further down' in (
        clamp_note('piper:joe+p0', 'neutral', Controls(range=-50)))


def test_resynthesize_follows_controls():
    base = resynthesize('My phone just rang.', 'en-us+m1', 'neutral')
    assert median_f0(resynthesize('My phone just rang.', 'en-us+m1', 'neutral', Controls(pitch=5))) > 1.15 * median_f0(base)
    assert len(resynthesize('My phone just rang.', 'en-us+m1', 'neutral', Controls(rate=0.6))) > 1.4 * len(base)
    quiet = resynthesize('My phone just rang.', 'en-us+m1', 'neutral', Controls(loudness=-12))
    assert quiet.pow(2).mean() < 0.1 * base.pow(2).mean()


def test_emotion_map_axes_are_the_top_principal_components():
    # the points' shape and project() landing on them: checked in nbs/17_widgets.ipynb (cell a549d38d)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)) + np.repeat(np.eye(6, 8) * 5, 10, axis=0)
    m = fit_emotion_map(x, [e for e in EMOTIONS for _ in range(10)])
    # the two axes are the top principal components: their variances are the covariance's two largest eigenvalues
    top = np.linalg.eigvalsh(np.cov(x.T, bias=True))[::-1][:2]
    np.testing.assert_allclose(np.var(m.points, 0), top, rtol=1e-3)
    assert np.var(m.points[:, 0]) >= np.var(m.points[:, 1])             # first axis carries the most variance


EFFECT = {'pitch (st)': lambda a, b: median_f0(b) > 1.15 * median_f0(a), 'pitch range': lambda a, b: f0_spread(b) > 1.3 * f0_spread(a),
          'rate (×)': lambda a, b: len(b) < 0.8 * len(a), 'loudness (dB)': lambda a, b: b.pow(2).mean() < 0.2 * a.pow(2).mean()}


def test_every_slider_updates_the_panel(panel):
    assert panel.message.value == '', panel.message.value
    assert '<b>neutral</b>' in panel.reply_emotion.value, panel.reply_emotion.value  # the neutral default query
    for slider, value in ((panel.pitch, 5.0), (panel.range, 40.0), (panel.rate, 1.5), (panel.loudness, -10.0)):
        before = dict(bars=list(panel.bars.fig.data[0].y), spec=np.array(panel.spec.fig.data[0].z),
                      audio=panel.query_audio.value, wave=panel.wave)
        old, slider.value = slider.value, value
        assert panel.message.value == '', panel.message.value
        assert panel.query_audio.value != before['audio'], slider.description
        assert EFFECT[slider.description](before['wave'], panel.wave), slider.description   # the control's own effect
        slider.value = old
        assert panel.query_audio.value == before['audio'], slider.description    # back where it was: the same sound
        slider.value = value
        assert list(panel.bars.fig.data[0].y) != before['bars'], slider.description     # what the encoder hears moved
        spec = np.array(panel.spec.fig.data[0].z)
        assert spec.shape != before['spec'].shape or not np.allclose(spec, before['spec']), slider.description
        assert not torch.equal(panel.wave, before['wave']), slider.description
    # pitch up moves the bars and the spectrogram's pitch contour
    panel.pitch.value, panel.loudness.value, panel.rate.value, panel.range.value = 0.0, 0.0, 1.0, 0.0
    y0, f0 = list(panel.bars.fig.data[0].y), np.median(panel.spec.fig.data[1].y)
    panel.pitch.value = 6.0
    assert list(panel.bars.fig.data[0].y) != y0
    assert np.median(panel.spec.fig.data[1].y) > 1.2 * f0
    assert abs(sum(panel.bars.fig.data[0].y) - 1) < 1e-4
    assert set(panel.seconds) >= {'voice', 'hear', 'answer', 'speak', 'draw', 'total'}


def test_choices_update_the_panel(panel):
    y0, text0 = list(panel.bars.fig.data[0].y), panel.reply_text.value
    panel.emotion.value = 'angry'
    assert list(panel.bars.fig.data[0].y) != y0
    assert panel.reply_text.value != text0 and 'angry' in panel.reply_text.value
    a0 = panel.query_audio.value
    panel.sentence.value = panel.sentence.options[1]
    assert panel.query_audio.value != a0
    a1 = panel.query_audio.value
    panel.voice.value = panel.voice.options[1]
    assert panel.query_audio.value != a1


def test_map_marks_the_utterance():
    rng = np.random.default_rng(1)
    parts = cue_parts()
    d = len(parts.prototypes['happy'])                                     # the stand-in's emotion vector size
    parts.emotion_map = fit_emotion_map(rng.normal(size=(30, d)), [EMOTIONS[i % 6] for i in range(30)])
    p = ProbePanel(parts, live=True)
    assert len(p.map.fig.data) == 7                                       # six emotion clouds + this utterance
    xy0 = (p.map.fig.data[-1].x, p.map.fig.data[-1].y)
    p.pitch.value = 6
    assert (p.map.fig.data[-1].x, p.map.fig.data[-1].y) != xy0


def test_bad_uploads_are_messages_and_the_panel_stays_usable(panel):
    t = np.arange(16000 * 8) / 16000
    cases = {'notes.txt': (b'this is not audio', 'cannot be decoded'),
             'silent.wav': (wav_file(np.zeros(16000)), 'is silent'),          # the problem, not a word of the name
             'long.wav': (wav_file(0.3 * np.sin(2 * np.pi * 200 * t)), 'too long'),
             'empty.wav': (b'', 'is an empty file')}
    for name, (content, problem) in cases.items():
        panel.upload_status.value = ''
        browser_upload(panel, name, content)                              # must not raise
        msg = panel.upload_status.value
        assert 'Upload refused' in msg and problem in msg and name in msg
        assert panel.source.value == 'sentence'
    y0 = list(panel.bars.fig.data[0].y)
    panel.pitch.value = 6                                                  # still works
    assert panel.message.value == '' and list(panel.bars.fig.data[0].y) != y0


def test_good_upload_becomes_the_query(panel):
    t = np.arange(int(44100 * 1.5)) / 44100
    browser_upload(panel, 'hum.flac', wav_file(0.3 * np.sin(2 * np.pi * 180 * t), 44100, 'FLAC'))
    assert panel.message.value == '', panel.message.value
    assert panel.source.value == 'upload' and panel.range.disabled and 'using hum.flac (1.5 s)' in panel.upload_status.value
    assert len(panel.wave) == 24000                                       # 1.5 s resampled to 16 kHz
    assert abs(median_f0(panel.wave) - 180) < 8
    panel.pitch.value = 6                                                  # transformed, not re-synthesised
    assert abs(median_f0(panel.wave) - 180 * 2 ** 0.5) < 10
    panel.source.value = 'sentence'
    assert not panel.range.disabled and panel.message.value == ''


def test_a_failing_model_is_a_message_not_a_traceback():
    parts = cue_parts(); ok = parts.answer; state = {'fail': False}
    def answer(w):
        if state['fail']: raise RuntimeError('the model is tired')
        return ok(w)
    p = ProbePanel(replace(parts, answer=answer), live=True)
    state['fail'] = True; p.pitch.value = 3
    assert 'RuntimeError: the model is tired' in p.message.value
    state['fail'] = False; p.pitch.value = 4
    assert p.message.value == ''


def test_reply_audio_needs_speak():
    p = ProbePanel(cue_parts(), live=True)
    assert p.reply_wave is None and p.reply_audio.layout.display == 'none' and 'no trained model' in p.note.value
    p2 = ProbePanel(replace(cue_parts(), speak=tone_speak, note=''), live=True)
    assert p2.reply_audio.layout.display is None and len(p2.reply_audio.value) > 1000
    parts = replace(cue_parts(), note='')
    assert 'stage 2' in ProbePanel(parts, live=True).note.value


def test_comparator_button():
    c = EmotionComparator(cue_parts(), live=True)
    assert np.asarray(c.heat.fig.data[0].z).sum() == 0 and c.rows == []
    c.button.click()
    z = np.asarray(c.heat.fig.data[0].z)
    assert z.shape == (6, 6) and np.allclose(z.sum(1), 1, atol=1e-4)
    assert not np.allclose(z[EMOTIONS.index('happy')], z[EMOTIONS.index('sad')])
    assert all(f'<td>{e}</td>' in c.table.value for e in EMOTIONS)
    assert len(c.players.children) == 6 and f'spoken and heard: &quot;{c.sentence.value}&quot;' in c.message.value
    z0 = z.copy(); c.voice.value = c.voice.options[1]; c.button.click()
    assert not np.allclose(np.asarray(c.heat.fig.data[0].z), z0)
    assert all(len(p.children) == 2 for p in c.players.children)          # query players only: no stage 2
    c2 = EmotionComparator(replace(cue_parts(), speak=tone_speak), live=True); c2.compare()
    assert len(c2.players.children) == 6 and 'spoken and heard' in c2.message.value, c2.message.value
    assert all(len(p.children) == 4 for p in c2.players.children)         # and the spoken replies


def test_morph_slider_changes_the_reply_speech():
    protos = {'neutral': np.eye(4)[0], 'happy': np.eye(4)[3]}
    np.testing.assert_allclose(morph_vector(protos, 'neutral', 'happy', 0.0), protos['neutral'])
    np.testing.assert_allclose(morph_vector(protos, 'neutral', 'happy', 0.3), 0.7 * protos['neutral'] + 0.3 * protos['happy'])
    m = EmotionMorph(replace(cue_parts(), speak=tone_speak, prototypes=protos), live=True)
    assert m.reply is not None and 'reply:' in m.reply_text.value and m.message.value == ''
    a0, f0 = m.audio.value, np.median(m.spec.fig.data[1].y)
    m.alpha.value = 1.0
    assert m.audio.value != a0 and np.median(m.spec.fig.data[1].y) > f0 + 80
    assert 'hears the reply as' in m.heard.value
    m.b.value = 'neutral'
    assert np.median(m.spec.fig.data[1].y) < f0 + 10


def test_morph_without_stage2_says_so():
    m = EmotionMorph(replace(cue_parts(), note=''), live=True)
    assert 'stage 2' in m.message.value and m.wave is None
    m.alpha.value = 0.5                                                    # no error either
    assert 'stage 2' in m.message.value


def test_static_fallback(monkeypatch):
    monkeypatch.setenv('EOL_STATIC_FIGURES', '1')
    p = ProbePanel(cue_parts())
    assert not p.bars.live and type(p.bars.fig).__name__ == 'Figure'
    y0 = list(p.bars.fig.data[0].y); p.pitch.value = 6
    assert list(p.bars.fig.data[0].y) != y0
    monkeypatch.setenv('EOL_STATIC_FIGURES', '0')
    assert LiveFigure(p.bars.fig).live                                     # anywidget is installed here


def test_read_upload_and_wav_bytes():
    w = 0.2 * np.sin(np.arange(8000) / 5)
    back, sr = sf.read(io.BytesIO(wav_bytes(w, 8000)))
    assert sr == 8000 and np.abs(back - w).max() < 1e-3
    assert len(read_upload(wav_file(w, 8000), 'x.wav')) == 16000
    with pytest.raises(AudioError, match='too long'): read_upload(wav_file(w, 8000), 'x.wav', max_seconds=0.5)


def test_kit_parts_reads_the_configs_preset(tmp_path, monkeypatch):
    "A config with no settings reads its own preset's runs; settings of another preset are refused before any run is read (not a missing run that 'replaces' the other preset's)."
    from emotion_omni_lite import widgets as widgets_mod
    from emotion_omni_lite.config import ConfigError, get_config, get_settings
    class Read(Exception): pass
    def read(cfg, s): raise Read(s.preset)
    monkeypatch.setattr(widgets_mod, 'load_stage1', read)
    with pytest.raises(ConfigError, match=r"kit_parts: the config is preset 'smoke''s, the settings preset 'lite''s .*get_settings\(preset='smoke'\)"):
        widgets_mod.kit_parts(get_config('smoke'), get_settings(preset='lite', out_dir=str(tmp_path)))
    with pytest.raises(Read, match='^smoke$'): widgets_mod.kit_parts(get_config('smoke'))


def test_kit_parts_on_smoke(smoke_cfg, smoke_settings, monkeypatch):
    "The panel wired to the real (smoke-trained) kit: sliders change what the model hears; stage 1 (its LLM) is loaded once."
    from emotion_omni_lite import omni as omni_mod, widgets as widgets_mod
    from emotion_omni_lite.cli import ensure_stages
    from emotion_omni_lite.widgets import kit_parts
    ensure_stages(['stage1', 'vocoder', 'stage2'], smoke_cfg, smoke_settings)   # loaders never train
    loads = []
    for mod in (omni_mod, widgets_mod):
        monkeypatch.setattr(mod, 'load_stage1', lambda *a, _f=mod.load_stage1, **k: loads.append(1) or _f(*a, **k))
    parts = kit_parts(smoke_cfg, smoke_settings)
    assert len(loads) == 1, f'stage 1 loaded {len(loads)} times'
    assert len(parts.sentences) > 10 and any('held out' in label for label, _ in parts.voices)
    assert parts.emotion_map is not None and parts.emotion_map.points.shape[1] == 2
    assert set(parts.prototypes) <= set(EMOTIONS) and len(parts.prototypes) >= 2
    p = ProbePanel(parts, live=True)
    assert p.message.value == '', p.message.value
    assert isinstance(p.reply.get('text'), str) and p.reply['reply_emotion'] in EMOTIONS
    probs0, star0 = p.probs.copy(), (p.map.fig.data[-1].x, p.map.fig.data[-1].y)
    p.pitch.value = 5; p.rate.value = 1.4
    assert p.message.value == '', p.message.value
    assert not np.allclose(p.probs, probs0) and (p.map.fig.data[-1].x, p.map.fig.data[-1].y) != star0
    # stage2_speaker turns a missing stage 2 into a note; here stage 2 is trained, so a note would hide a failure
    assert parts.speak is not None, parts.note
    said = parts.speak(p.reply, p.reply['emotion_vec_pred'])             # smoke's 4-step LLM may reply with no words:
    if audible(said): assert p.reply_audio.layout.display is None and len(p.reply_audio.value) > 1000   # then it is said
    else: assert p.reply_audio.layout.display == 'none' and 'stopped almost at once' in p.note.value



def test_the_panel_speaks_what_eol_chat_says(smoke_cfg, smoke_settings, monkeypatch):
    "The panel answers through the whole model's own path: the words, units and audio `respond` gives for the same query (no end token's state spoken, streamed as chat streams); a reply the LLM ends at once says nothing."
    from emotion_omni_lite import widgets as widgets_mod
    from emotion_omni_lite.audio import load_audio
    from emotion_omni_lite.cli import ensure_stages
    from emotion_omni_lite.dataset import audio_path, load_dialogues
    ensure_stages(['stage1', 'vocoder', 'stage2'], smoke_cfg, smoke_settings)   # loaders never train
    made = []
    monkeypatch.setattr(widgets_mod, 'load_omni', lambda *a, _f=widgets_mod.load_omni, **k: made.append(_f(*a, **k)) or made[-1])
    parts = widgets_mod.kit_parts(smoke_cfg, smoke_settings, n_points=50)
    omni, spoken = made[0], []
    monkeypatch.setattr(omni, 'speak', lambda *a, _f=omni.speak, **k: spoken.append(_f(*a, **k)) or spoken[-1])
    end = {'logit': -1e4}                                                  # the end token's logit: never picked, then always
    omni.llm.get_output_embeddings().register_forward_hook(
        lambda m, i, out: out.index_fill(-1, torch.tensor([omni.end_id], device=out.device), end['logit']))
    row = next(r for r in load_dialogues(smoke_cfg, smoke_settings) if r['split'] != 'train')
    wave = load_audio(audio_path(row, smoke_settings, 'query'))
    reply = parts.answer(wave)
    said, panel_units = parts.speak(reply, reply['emotion_vec_pred']), spoken[-1][0]
    r = omni.respond(wave)                                                 # what `eol chat` says
    assert len(reply['reply_ids']) == omni.max_new_tokens == len(reply['hidden']) and reply['reply_ids'] == r['reply_ids']
    assert reply['text'] == r['text'] and np.array_equal(reply['emotion_vec_pred'], r['emotion_vec_pred'].numpy())
    assert len(panel_units) > 0 and panel_units == r['units'] and np.array_equal(said[0], r['audio'].numpy())
    end['logit'] = 1e4                                                     # every reply now ends at its first token
    reply = parts.answer(wave)
    assert reply['reply_ids'] == [] and len(reply['hidden']) == 0 and reply['emotion_vec_pred'] is None
    assert len(parts.speak(reply, reply['emotion_vec_pred'])[0]) == 0 and omni.respond(wave)['units'] == []
    p = ProbePanel(parts, live=True)
    assert p.message.value == '' and p.reply_audio.layout.display == 'none' and 'ended its reply at once' in p.note.value, p.note.value

def test_a_reply_too_short_to_hear_is_said_not_played():
    "A speech decoder that ends at once: the panel and the comparator say so in place of an empty player."
    parts = cue_parts(speak=lambda reply, vec: (np.zeros(100, np.float32), 24000))
    p = ProbePanel(parts, live=True)
    assert p.reply_audio.layout.display == 'none' and 'stopped almost at once' in p.note.value, p.note.value
    parts.speak = tone_speak                                              # a reply to hear: the player is back, the note gone
    p.pitch.value = 2
    assert p.reply_audio.layout.display is None and len(p.reply_audio.value) > 1000 and 'stopped' not in p.note.value
    parts.speak = lambda reply, vec: (np.zeros(0, np.float32), 24000)
    c = EmotionComparator(parts, live=True); c.compare()
    assert all(len(box.children) == 3 and 'stopped almost at once' in box.children[2].value for box in c.players.children)


def test_display_carries_a_static_copy():
    "Viewers without widget support get the figures as static HTML; JupyterLab renders the widget (browser test)."
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    InteractiveShell.instance()                                           # display() needs a shell to publish to
    p = ProbePanel(cue_parts(), live=True)
    with capture_output() as c: p._ipython_display_()
    data = c.outputs[0].data
    assert 'application/vnd.jupyter.widget-view+json' in data and 'plotly' in data['text/html']
    assert 'What the emotion encoder hears' in data['text/html']


@pytest.mark.parametrize('name', ['x' * 600 + '.wav', '../../settings.ini', 'a\x00b.wav', '..', '<b>loud</b>.wav', '<b>loud.wav'])
def test_upload_names_are_text_not_paths(name, tmp_path, monkeypatch):
    "A hostile file name never becomes a path or markup: a good upload is used, a bad one refused, the panel says so."
    import pathlib, tempfile
    from emotion_omni_lite.widgets import read_upload, upload_label, _html
    import io, soundfile as sf
    buf = io.BytesIO(); sf.write(buf, 0.3 * np.sin(np.arange(16000) * 0.05).astype(np.float32), 16000, format='WAV')
    written, write = [], pathlib.Path.write_bytes                                      # every file it writes, noted
    monkeypatch.setattr(pathlib.Path, 'write_bytes', lambda p, data: (written.append(p), write(p, data))[1])
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))                             # its temporary folders: in tmp_path
    assert len(read_upload(buf.getvalue(), name)) == 16000                              # used, whatever it was called
    with pytest.raises(AudioError) as e: read_upload(b'not audio', name)
    assert len(written) == 2 and not list(tmp_path.iterdir())                           # both written, both deleted
    for p in written:                                                                   # each directly in a temporary folder
        assert p.resolve().parent.parent == tmp_path.resolve() and p.name.startswith('upload') and '..' not in p.parts, p
    monkeypatch.undo()
    label = upload_label(name)
    assert str(e.value).startswith(label) and len(label) <= 60 and '/' not in label and '\x00' not in label
    assert 'cannot be decoded' in str(e.value)                                         # the problem, whatever the name
    shown = _html(f'Upload refused: {e.value}', 'error')
    assert '<b>' not in shown and ('&lt;b&gt;' in shown or '<' not in label)              # shown as text
    panel = ProbePanel(cue_parts(), live=True)                                          # … and so in the panel itself
    browser_upload(panel, name, b'not audio')
    assert 'cannot be decoded' in panel.upload_status.value and '<b>' not in panel.upload_status.value
    browser_upload(panel, name, buf.getvalue())
    assert 'using ' in panel.upload_status.value and '<b>' not in panel.upload_status.value and panel.message.value == ''


def test_a_failure_keeps_the_previous_result_and_says_so():
    "A model, a computation or a drawing that fails leaves every chart, the audio and the reply as they were, and the message says whose they are."
    parts = cue_parts(); ok = parts.answer; state = {'fail': None}
    def answer(w):
        if state['fail'] == 'model': raise RuntimeError('the model is tired')
        r = ok(w)
        return {**r, 'text': '<b>bold</b> & more'} if state['fail'] == 'markup' else r
    rng = np.random.default_rng(1)
    d = len(parts.prototypes['happy'])
    emap = fit_emotion_map(rng.normal(size=(30, d)), [EMOTIONS[i % 6] for i in range(30)])
    real = emap.project
    def project(v):
        if state['fail'] == 'map': raise ValueError('a vector of another size')
        return real(v)
    emap.project = project
    p = ProbePanel(replace(parts, answer=answer, emotion_map=emap), live=True)
    seen = lambda: (list(p.bars.fig.data[0].y), p.bars.fig.data[0].marker.color, p.map.fig.data[-1].x, p.spec.fig.data[0].z,
                    p.spec.fig.data[1].y, p.query_audio.value, p.reply_text.value, p.reply_emotion.value, p.note.value)
    before = seen()
    for fail, said in (('model', 'RuntimeError: the model is tired'), ('map', 'ValueError: a vector of another size')):
        state['fail'] = fail; p.pitch.value += 2                         # fails while computing: nothing drawn yet
        assert said in p.message.value and 'still those of &quot;' in p.message.value, p.message.value
        assert seen() == before and p.timing.value.endswith('not updated</span>'), fail   # nothing half-drawn
    state['fail'] = 'markup'; p.pitch.value += 2
    assert p.message.value == '' and '&lt;b&gt;bold&lt;/b&gt; &amp; more' in p.reply_text.value and seen() != before
    state['fail'] = None; draw, before, wave = p._draw, seen(), p.wave   # computed, then the drawing itself fails half way:
    def broken(view):
        p.bars.fig.data[0].y = view['probs']; p.query_audio.value = view['query']; raise RuntimeError('the plot went away')
    p._draw = broken; p.pitch.value = -2.0                               # said, never a traceback (pitch is at its top, 6)
    assert 'drawing the result failed (RuntimeError: the plot went away)' in p.message.value, p.message.value
    assert 'still those of &quot;' in p.message.value and 'move a slider to draw again' in p.message.value
    assert seen() == before and p.wave is wave and p.timing.value.endswith('not updated</span>')   # what it drew, undone
    p._restore = lambda drawn: (_ for _ in ()).throw(RuntimeError('gone too'))   # … and where even that fails, it says so
    p.pitch.value = -3.0
    assert 'some charts may show part of this result' in p.message.value and 'still those of' not in p.message.value
    p._draw = draw; p.pitch.value = -4.0                                 # and the next move draws it all
    assert p.message.value == '' and 'updated in' in p.timing.value and seen() != before


def test_a_rate_that_makes_the_query_too_long_is_refused_with_its_fix():
    "An upload slowed past what the model hears (4 s at rate ×0.5 is 8 s, over 4.5 s) is refused, naming the slider; the charts stay."
    p = ProbePanel(replace(cue_parts(), max_seconds=4.5), live=True)
    t = np.arange(4 * 16000) / 16000
    browser_upload(p, 'hum.wav', wav_file(0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))))
    assert p.message.value == '' and len(p.wave) == 4 * 16000, p.message.value
    seen = lambda: (list(p.bars.fig.data[0].y), p.spec.fig.data[0].z, p.query_audio.value, p.reply_text.value)
    before, wave = seen(), p.wave
    p.rate.value = 0.5
    assert 'query: is 8.0 s long; the model takes at most 4.5 s' in p.message.value, p.message.value
    assert 'raise &quot;rate (×)&quot;' in p.message.value and 'pick a shorter sentence' not in p.message.value   # an upload's own fix
    assert 'still those of hum.wav' in p.message.value and seen() == before and p.wave is wave
    p.rate.value = 1.0                                                   # back within reach: heard again
    assert p.message.value == '' and len(p.wave) == 4 * 16000


def test_an_upload_says_what_the_panel_uses(panel):
    "In upload mode the sentence controls are off; back on a sentence the upload waits; a refused second file keeps the first."
    t = np.arange(24000) / 16000
    browser_upload(panel, 'hum.wav', wav_file(0.3 * np.sin(2 * np.pi * 180 * t)))
    assert panel.sentence.disabled and panel.voice.disabled and panel.emotion.disabled
    browser_upload(panel, 'notes.txt', b'this is not audio')
    assert 'cannot be decoded' in panel.upload_status.value and 'the panel still uses hum.wav' in panel.upload_status.value
    assert len(panel.wave) == 24000                                      # still the hum
    panel.source.value = 'sentence'
    assert not panel.sentence.disabled and 'hum.wav is uploaded: switch source to upload to hear it' in panel.upload_status.value
    panel.source.value = 'upload'
    assert 'using hum.wav (1.5 s)' in panel.upload_status.value and len(panel.wave) == 24000
    browser_upload(panel, 'loud.wav', wav_file(np.clip(2 * np.sin(2 * np.pi * 180 * t), -1, 1)))   # clipped: a warning
    assert 'clipped' in panel.upload_status.value
    panel.pitch.value = 2                                                # the warning stays beside the file's name
    assert 'using loud.wav (1.5 s)' in panel.upload_status.value and 'clipped' in panel.upload_status.value
    panel.load_upload(wav_file(0.3 * np.sin(2 * np.pi * 200 * t)), 'microphone.wav', 'Recording')
    panel.load_upload(wav_file(0.3 * np.sin(2 * np.pi * 220 * t)), 'microphone.wav', 'Recording')
    assert 'using microphone.wav (take 2)' in panel.upload_status.value   # two takes told apart


def test_ipywidgets_7_uploads_and_display():
    "Colab's ipywidgets 7: an upload's value is {name: {'metadata', 'content'}}, and a widget has no _repr_mimebundle_."
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from emotion_omni_lite.widgets import show_with_fallback
    p = ProbePanel(cue_parts(), live=True)
    content = wav_file(0.3 * np.sin(2 * np.pi * 180 * np.arange(16000) / 16000))
    p._on_upload({'new': {'hum.wav': {'metadata': {'name': 'hum.wav', 'type': 'audio/wav', 'size': len(content)}, 'content': content}}})
    assert 'using hum.wav (1.0 s)' in p.upload_status.value and p.source.value == 'upload'
    class Seven:                                                          # displays itself, as ipywidgets 7 widgets do
        def _ipython_display_(self): print('shown by itself')
    InteractiveShell.instance()
    with capture_output() as c: show_with_fallback(Seven(), [p.bars.fig])
    assert 'shown by itself' in c.stdout


def test_a_recording_arrives_in_pieces_and_each_refusal_is_said():
    import base64
    from emotion_omni_lite.widgets import mic_advice, mic_recorder
    takes, errors = [], []
    mic = mic_recorder(6.0, on_take=takes.append, on_error=errors.append)
    assert mic is not None                                                # anywidget is a dependency: the recorder is there
    assert mic.rate == 16000 and mic.piece_chars == 2 ** 18               # what the page resamples to, and its message size
    state = mic.get_state()
    text = base64.b64encode(b'RIFF' + bytes(range(256)) * 40).decode()
    send = lambda take, i, n, part: mic._handle_custom_msg(dict(take=take, part=i, parts=n, wav_b64=part), [])
    pieces = [text[i:i + 4000] for i in range(0, len(text), 4000)]
    for i, part in enumerate(pieces): send('a', i, len(pieces), part)
    assert takes == [base64.b64decode(text)] and not errors               # put back together in order, handed over once
    assert mic.get_state() == state                                      # the recording is not kept in the (saved) widget state
    for i in (0, 2, 3, 4): send('b', i, 5, pieces[0])                      # piece 2 lost on the way: said once, the rest ignored
    assert len(takes) == 1 and len(errors) == 1 and 'piece 3 of 5 came after 1' in errors[0]
    assert 'press ● record again' in mic_advice(errors[0])
    send('c', 0, 2, pieces[0]); send('d', 0, 1, text)                     # its last piece lost: said when the next arrives,
    assert len(errors) == 2 and 'before this one arrived incomplete (1 of 2 pieces)' in errors[1]   # which is heard
    assert takes[-1] == base64.b64decode(text) and len(takes) == 2
    send('c', 1, 2, pieces[1])                                            # a late piece of a refused take: ignored
    assert len(takes) == 2 and len(errors) == 2
    mic._handle_custom_msg({'something': 'else'}, [])                     # not a piece: ignored
    mic.error = 'the browser was not allowed to use it'; mic.error = 'the browser was not allowed to use it'
    assert errors[2:] == ['the browser was not allowed to use it'] * 2 and mic.error == ''


def test_a_damaged_recording_is_refused_and_the_next_one_heard():
    "A take whose bytes are not base64, a piece count that cannot end or that changes mid-take: each refused and said, the next take heard without a false complaint; bad recorder settings refused with the range."
    import base64
    from emotion_omni_lite.widgets import mic_advice, mic_recorder
    takes, errors = [], []
    mic = mic_recorder(4.5, on_take=takes.append, on_error=errors.append)
    send = lambda take, i, n, part: mic._handle_custom_msg(dict(take=take, part=i, parts=n, wav_b64=part), [])
    good = base64.b64encode(b'RIFF' + bytes(range(200))).decode()
    send('a', 0, 1, 'UklGRiQ')                                            # cut short: not whole base64
    assert not takes and len(errors) == 1 and 'arrived damaged' in errors[0] and 'record again' in mic_advice(errors[0])
    send('b', 0, 1, good)                                                 # heard, with nothing said of the one before
    assert takes == [base64.b64decode(good)] and len(errors) == 1
    send('c', 0, 0, good)                                                 # no piece count can end at 0
    assert len(takes) == 1 and len(errors) == 2 and 'said 0 pieces' in errors[1]
    send('d', 0, 3, good[:8]); send('d', 1, 2, good[8:])                  # the count changed mid-take
    assert len(takes) == 1 and len(errors) == 3 and 'damaged' in errors[2]
    send('e', 0, 1, good)
    assert len(takes) == 2 and len(errors) == 3                           # nothing of d left pending
    for bad in (-1.0, 0.0, float('nan'), float('inf'), 'long'):
        with pytest.raises(ValueError, match='max_seconds'): mic_recorder(bad)
    for bad in (0, -8, 2.5, True):
        with pytest.raises(ValueError, match='piece_chars'): mic_recorder(4.5, piece_chars=bad)


@pytest.mark.skipif(shutil.which('node') is None, reason='the page-side helpers run under node (Debian: apt install nodejs)')
def test_the_page_resamples_a_recording_to_16_khz_without_folding_high_sounds_down(tmp_path):
    "The recorder's JavaScript (its resampler and WAV writer, run by node): tones up to 7 kHz pass unchanged at any browser rate, tones above the new Nyquist are gone, and the WAV reads back at 16 kHz."
    import base64, json, subprocess
    from emotion_omni_lite.widgets import MIC_ESM
    helpers = MIC_ESM.split('export default')[0]
    cases = [(48000, 1000), (48000, 7000), (48000, 9000), (44100, 3000), (44100, 12000), (16000, 1000), (8000, 1000)]
    script = helpers + """
const tone = (f, rate) => Float32Array.from({length: rate}, (_, i) => 0.5 * Math.sin(2 * Math.PI * f * i / rate));
const out = {};
for (const [from, f] of %s) out[from + '/' + f] = Array.from(resample(tone(f, from), from, 16000));
out.wav = base64(wav([resample(tone(1000, 48000), 48000, 16000)], 16000));
console.log(JSON.stringify(out));
""" % json.dumps(cases)
    (tmp_path / 'mic.js').write_text(script)
    out = json.loads(subprocess.run(['node', str(tmp_path / 'mic.js')], capture_output=True, text=True, check=True, timeout=120).stdout)
    i = np.arange(16000)
    for from_, f in cases:
        y = np.asarray(out[f'{from_}/{f}'])
        assert len(y) == 16000                                            # one second at 16 kHz, whatever the browser's rate
        mid = slice(400, -400)                                            # away from the edges, where the kernel runs out
        if f <= 7000:                                                     # heard: the same tone, at the same time
            assert np.abs(y[mid] - 0.5 * np.sin(2 * np.pi * f * i / 16000)[mid]).max() < 0.005, (from_, f)
        else:                                                             # above 8 kHz: filtered out, not folded to 16000 − f
            assert np.sqrt(np.mean(y[mid] ** 2)) < 0.5 / np.sqrt(2) * 1e-3, (from_, f)
    w, sr = sf.read(io.BytesIO(base64.b64decode(out['wav'])))
    assert sr == 16000 and len(w) == 16000 and abs(np.abs(w[400:-400]).max() - 0.5) < 0.01


PAGE = r"""
// a pretend page for the record button's render(): its DOM, widget model, microphone and audio context
const opts = JSON.parse(process.argv[2]);
const elem = () => ({ textContent: '', className: '', disabled: false, onclick: null, classList: { add() {} }, append() {} });
globalThis.document = { createElement: elem };
const traits = { max_seconds: 0.5, rate: 16000, piece_chars: 4096, error: '' }, sent = [], errors = [], events = [];
const model = { get: k => traits[k], set: (k, v) => { traits[k] = v; if (k === 'error') errors.push(v); },
                save_changes() {}, send: m => sent.push(m) };
Object.defineProperty(globalThis, 'window', { value: { isSecureContext: opts.secure !== false } });
let asked = 0, answer = null;
const fail = name => { const e = new Error(name + ' (pretend)'); e.name = name; return e; };
Object.defineProperty(globalThis, 'navigator', { configurable: true, value: { mediaDevices: { getUserMedia: () => {
  asked++;
  const stream = { getTracks: () => [{ stop() { events.push('track stopped'); } }] };
  if (opts.refuse) return Promise.reject(fail(opts.refuse));
  return new Promise(ok => { answer = () => ok(stream); if (!opts.slow) ok(stream); }); } } } });
globalThis.AudioContext = class {
  constructor() { this.sampleRate = 48000; this.state = opts.suspended ? 'suspended' : 'running'; this.destination = {}; }
  resume() { return new Promise(() => {}); }                        // a context that never starts
  close() { events.push('context closed'); return Promise.resolve(); }
  createMediaStreamSource() { return { connect() {} }; }
  createScriptProcessor(n) {                                        // blocks of n samples, at twice the browser's pace
    const node = { connect() {}, disconnect() { clearInterval(feed); events.push('node off'); }, onaudioprocess: null };
    const feed = setInterval(() => node.onaudioprocess && node.onaudioprocess(
      { inputBuffer: { getChannelData: () => new Float32Array(n).fill(0.25) } }), 500 * n / 48000);   // more than a take holds
    return node; } };
const { default: widget } = await import(process.argv[3]);
const el = { classList: { add() {} }, kids: [], append(...xs) { this.kids.push(...xs); } };
const leave = widget.render({ model, el });
const [button, status] = el.kids, sleep = ms => new Promise(r => setTimeout(r, ms)), seen = {};
const look = tag => { seen[tag] = { button: button.textContent, disabled: button.disabled, status: status.textContent,
                                    asked, errors: [...errors], events: [...events], sent: sent.map(m => [m.part, m.parts, m.wav_b64]) }; };
const click = button.onclick;
if (opts.slow) { const first = click(); await sleep(50); look('asking'); click(); answer(); await first; }
else await click();
look('started');
if (opts.leave) { leave(); await sleep(700); look('left'); }
else if (opts.suspended) { await sleep(5300); look('never started'); }
else { await sleep(50); click(); await sleep(900); look('done'); }
console.log(JSON.stringify(seen)); process.exit(0);
"""

@pytest.mark.skipif(shutil.which('node') is None, reason='the page runs under node (Debian: apt install nodejs)')
def test_the_record_button_on_a_pretend_page(tmp_path):
    "The record button's render() on a pretend page (node): each way a microphone is refused names its cause; the button says it is asking, a double click starts one take, the timer cuts a take to max_seconds and sends it in pieces of piece_chars; a view removed mid-take turns the microphone off and sends nothing; an audio context that never starts is refused."
    import base64, json, subprocess
    from emotion_omni_lite.widgets import MIC_ESM, mic_advice
    (tmp_path / 'mic.mjs').write_text(MIC_ESM); (tmp_path / 'page.mjs').write_text(PAGE)
    def page(**opts):
        run = subprocess.run(['node', str(tmp_path / 'page.mjs'), json.dumps(opts), (tmp_path / 'mic.mjs').as_uri()],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)
    for opts, cause, fix in ((dict(refuse='NotAllowedError'), 'was not allowed to use it', 'site settings'),
                             (dict(refuse='NotAllowedError', secure=False), 'not served from https or localhost', 'ssh -L'),
                             (dict(refuse='NotFoundError'), 'no microphone was found', 'connect a microphone'),
                             (dict(refuse='NotReadableError'), 'could not be started', 'close what else')):
        s = page(**opts)['started']
        assert len(s['errors']) == 1 and cause in s['errors'][0] and fix in mic_advice(s['errors'][0]), (opts, s)
        assert s['status'].startswith(' no recording: ') and not s['disabled'] and s['button'] == '● record' and not s['sent']
    s = page(slow=True)
    assert 'asking the browser' in s['asking']['status'] and s['asking']['disabled']
    assert s['started']['asked'] == 1 and s['started']['button'] == '■ stop'   # the click while it asked started nothing
    done = s['done']
    assert not done['errors'] and done['button'] == '● record' and 'track stopped' in done['events']
    parts = [p for p in done['sent']]
    assert [p[0] for p in parts] == list(range(len(parts))) and {p[1] for p in parts} == {len(parts)} and len(parts) > 1
    assert all(len(p[2]) == 4096 for p in parts[:-1]) and 0 < len(parts[-1][2]) <= 4096
    w, sr = sf.read(io.BytesIO(base64.b64decode(''.join(p[2] for p in parts))))
    assert sr == 16000 and len(w) == 8000 and abs(np.median(w) - 0.25) < 0.01   # cut to 0.5 s, though it ran for longer
    left = page(leave=True)['left']
    assert {'track stopped', 'context closed', 'node off'} <= set(left['events']) and not left['sent'] and not left['errors']
    late = page(suspended=True)['never started']
    assert len(late['errors']) == 1 and 'did not start within 5 s' in late['errors'][0] and not late['sent']
    assert 'track stopped' in late['events'] and late['button'] == '● record'


def test_a_comparison_that_fails_keeps_the_last_table_and_says_whose():
    parts = cue_parts(); ok = parts.answer; state = {'fail': False}
    def answer(w):
        if state['fail']: raise RuntimeError('the model is tired')
        return ok(w)
    c = EmotionComparator(replace(parts, answer=answer), live=True); c.compare()
    table, first = c.table.value, c.sentence.value
    state['fail'] = True; c.sentence.value = c.sentence.options[1]; c.compare()
    assert 'RuntimeError: the model is tired' in c.message.value and f'still those of &quot;{first}&quot;' in c.message.value
    assert c.table.value == table and not c.button.disabled                 # the button is back for the next try


def test_a_morph_needs_two_reply_emotions():
    m = EmotionMorph(replace(cue_parts(), speak=tone_speak, prototypes={'neutral': np.eye(4)[0]}), live=True)
    assert 'two reply emotions' in m.message.value and 'hold 1' in m.message.value and m.wave is None


def test_a_morph_whose_new_reply_fails_speaks_no_old_one():
    parts = cue_parts(); ok = parts.answer; state = {'fail': False}
    def answer(w):
        if state['fail']: raise RuntimeError('the model is tired')
        return ok(w)
    protos = {'neutral': np.eye(4)[0], 'happy': np.eye(4)[3]}
    m = EmotionMorph(replace(parts, answer=answer, speak=tone_speak, prototypes=protos), live=True)
    assert m.reply is not None and m.audio.value
    state['fail'] = True; m.sentence.value = m.sentence.options[1]
    assert m.reply is None and m.reply_text.value == '' and m.audio.value == b'' and 'the model is tired' in m.message.value
    assert m.wave is None and m.heard.value == '' and len(m.spec.fig.data[1].y) == 0   # nothing of the old reply's speech
    m.alpha.value = 1.0                                                    # nothing to speak: the error stays
    assert m.audio.value == b'' and 'the model is tired' in m.message.value


def test_a_morph_whose_decoder_stops_at_once_says_so_and_shows_no_old_speech():
    "Speech of a few samples (the decoder ended at once) is refused with its fix; the last α's audio and chart do not stay."
    protos = {'neutral': np.eye(4)[0], 'happy': np.eye(4)[3]}
    state = {'empty': False}
    def speak(reply, vec): return (np.zeros(0, np.float32), 24000) if state['empty'] else tone_speak(reply, vec)
    m = EmotionMorph(replace(cue_parts(), speak=speak, prototypes=protos), live=True)
    assert m.audio.value and m.message.value == ''
    state['empty'] = True; m.alpha.value = 0.5
    assert 'the spoken reply: is 0 ms long at α = 0.5' in m.message.value and 'move α' in m.message.value, m.message.value
    assert m.audio.value == b'' and m.wave is None and m.heard.value == '' and len(m.spec.fig.data[1].y) == 0
    state['empty'] = False; m.alpha.value = 1.0
    assert m.audio.value and m.message.value == '' and 'hears the reply as' in m.heard.value


def test_a_quiet_upload_turned_down_to_silence_names_the_slider(panel):
    "An upload accepted as very quiet, then turned down by the loudness slider below silence: the fix is the slider, not a new take."
    t = np.arange(24000) / 16000
    browser_upload(panel, 'whisper.wav', wav_file(4e-4 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))))
    assert 'whisper.wav' in panel.upload_status.value and panel.source.value == 'upload', panel.upload_status.value
    panel.loudness.value = -20.0
    assert "whisper.wav: is silent at loudness -20 dB" in panel.message.value and "raise &#x27;loudness (dB)&#x27;" in panel.message.value, panel.message.value
    panel.loudness.value = 0.0
    assert 'is silent' not in panel.message.value
    panel.source.value = 'sentence'


def test_a_slider_espeak_cannot_follow_says_so(panel):
    "espeak-ng takes pitch and range 0–100 and rate 80–450: past that a slider changes nothing, and the panel says which."
    panel.emotion.value = 'surprised'                                   # pitch 95 and range 100 in its preset
    assert panel.message.value == '', panel.message.value
    panel.pitch.value = 3.0                                             # 95 + 3 × 6.5 → 114.5, spoken at 100
    said = panel.message.value
    assert 'espeak-ng speaks pitch 100 at most (114 asked): moving “pitch (st)” further up changes nothing for surprised' in said, said
    f0 = median_f0(panel.wave)
    panel.pitch.value = 6.0                                             # flat indeed: the same pitch
    assert abs(median_f0(panel.wave) / f0 - 1) < 0.02 and '(134 asked)' in panel.message.value
    panel.range.value = 10.0
    assert 'pitch range' in panel.message.value and 'pitch (st)' in panel.message.value
    panel.pitch.value, panel.range.value = 0.0, 0.0
    assert panel.message.value == ''
    panel.emotion.value, panel.rate.value = 'sad', 0.5                  # 115 × 0.5 → 57.5, spoken at 80
    assert 'espeak-ng speaks rate 80 at least (58 asked): moving “rate (×)” further down' in panel.message.value


def test_the_same_file_again_a_phones_format_and_an_empty_take_are_each_said(panel):
    "An upload is emptied once read, so the same file after a recording is used again; an M4A, an empty take and a clip sped up below 100 ms are refused with their fixes, and each refusal says what the panel still uses."
    import wave
    t = np.arange(24000) / 16000
    hum = wav_file(0.3 * np.sin(2 * np.pi * 180 * t))
    browser_upload(panel, 'hum.wav', hum)
    assert panel.upload.value == () and 'using hum.wav (1.5 s)' in panel.upload_status.value   # its bytes not kept
    panel.load_upload(wav_file(0.3 * np.sin(2 * np.pi * 220 * t[:16000])), 'microphone.wav', 'Recording')
    assert 'using microphone.wav (take 1) (1.0 s)' in panel.upload_status.value
    browser_upload(panel, 'hum.wav', hum)                                # the same file again: heard again
    assert 'using hum.wav (1.5 s)' in panel.upload_status.value and len(panel.wave) == 24000
    browser_upload(panel, 'memo.m4a', b'\x00\x00\x00\x20ftypM4A ' + bytes(500))   # a phone's voice memo
    msg = panel.upload_status.value
    assert 'MP4 / M4A file' in msg and 'ffmpeg' in msg and 'the panel still uses hum.wav' in msg and len(panel.wave) == 24000
    buf = io.BytesIO()
    with wave.open(buf, 'wb') as w: w.setnchannels(1); w.setsampwidth(2); w.setframerate(48000); w.writeframes(b'')
    panel._on_take(buf.getvalue())                                       # stopped before any sound arrived: a bare header
    assert 'the browser sent no sound' in panel.upload_status.value and 'still uses hum.wav' in panel.upload_status.value
    panel.source.value = 'sentence'
    browser_upload(panel, 'notes.txt', b'this is not audio')
    assert 'the panel still uses the sentence (hum.wav stays uploaded)' in panel.upload_status.value
    browser_upload(panel, 'click.wav', wav_file(0.3 * np.sin(2 * np.pi * 180 * t[:1920])))   # 120 ms: heard as it is
    assert panel.message.value == '' and panel.source.value == 'upload'
    panel.rate.value = 2.0                                               # 60 ms: below speech, refused with its fix
    assert 'is 60 ms long at rate ×2' in panel.message.value and 'lower &#x27;rate (×)&#x27;' in panel.message.value


def test_a_refused_recording_names_the_fix_for_its_cause():
    "The page's words for each cause (MIC_ESM) are the ones mic_advice reads: insecure page, no microphone, no permission, a busy or blocked device, a view without the API."
    from emotion_omni_lite.widgets import MIC_ESM, mic_advice
    causes = (('the page is not served from https or localhost, where browsers allow a microphone', 'ssh -L'),
              ('no microphone was found (Requested device not found)', 'connect a microphone'),
              ('the browser was not allowed to use it (Permission denied)', 'site settings'),
              ('the microphone could not be started (Could not start audio source)', 'privacy settings'),
              ('no microphone API on this page', 'a browser tab of its own'),
              ('the microphone was allowed, but the browser could not capture its sound (NotSupportedError)', 'another browser'))
    for said, fix in causes:
        assert said.split(' (')[0] in MIC_ESM                            # what the page sends
        advice = mic_advice(said)
        assert advice.startswith(f'No recording: {said}.') and fix in advice and 'upload a file' in advice
        assert sum(f in advice for _, f in causes) == 1, advice         # one cause, one fix


def test_an_upload_on_ipywidgets_7_is_read_and_emptied():
    "Colab's ipywidgets 7: the upload's value is a read-only dict (set by the widget itself) with the bytes in synced lists; the file is heard, then all of it emptied."
    import traitlets
    class Seven(traitlets.HasTraits):                                   # FileUpload's traits in ipywidgets 7
        value = traitlets.Dict(read_only=True)
        data, metadata = traitlets.List(), traitlets.List()
    p = ProbePanel(cue_parts(), live=True)
    up = p.upload = Seven(); up.observe(p._on_upload, 'value')
    content = wav_file(0.3 * np.sin(2 * np.pi * 180 * np.arange(16000) / 16000))
    up.data, up.metadata = [content], [{'name': 'hum.wav'}]
    up.set_trait('value', {'hum.wav': {'metadata': {'name': 'hum.wav'}, 'content': content}})   # as the widget does
    assert 'using hum.wav (1.0 s)' in p.upload_status.value and up.value == {} and up.data == [] and up.metadata == []


@pytest.fixture
def toy(monkeypatch):
    "An engine registered as 'toy' for one test: a tone whose pitch and length follow the prosody it is handed; → the (voice, prosody) it was asked for."
    from emotion_omni_lite.tts import TTS_ENGINES, TTSEngine
    asked = []
    class Toy(TTSEngine):
        name = 'toy'
        def synthesize(self, text, voice, emotion, prosody):
            asked.append((voice, prosody)); n = int(16000 * 165 / prosody.rate)
            return (0.3 * np.sin(2 * np.pi * (100 + prosody.pitch) * np.arange(n) / 16000)).astype(np.float32), 16000
    monkeypatch.setitem(TTS_ENGINES, 'toy', Toy)
    return asked


def test_a_plain_voice_is_resynthesised_by_the_engine_the_data_speaks_it_with(toy):
    "With `data.tts` another engine, a voice without a prefix is that engine's: re-synthesised by it (espeak's clamps not said for it); by default it is espeak's, on a fresh copy as before."
    from emotion_omni_lite.tts import EMOTION_PROSODY, fresh_espeak
    from emotion_omni_lite.widgets import ESPEAK_UNITS_PER_SEMITONE
    w = resynthesize('My phone just rang.', 'en-us+m1', 'happy', Controls(pitch=2), tts='toy')
    assert [v for v, _ in toy] == ['en-us+m1'] and len(w) == int(16000 * 165 / 185)        # the toy's tone, at happy's rate
    assert toy[0][1].pitch == EMOTION_PROSODY['happy'].pitch + 2 * ESPEAK_UNITS_PER_SEMITONE  # its points taken as espeak's
    far = Controls(pitch=6, range=50, rate=2)
    assert clamp_note('en-us+m1', 'happy', far, 'toy') == '' and 'espeak-ng speaks pitch 100 at most' in clamp_note('en-us+m1', 'happy', far)
    with fresh_espeak() as e: before = resynthesize('My phone just rang.', 'en-us+m1', 'happy', Controls(pitch=2), engine=e)
    assert torch.equal(resynthesize('My phone just rang.', 'en-us+m1', 'happy', Controls(pitch=2)), before) and len(toy) == 1


def test_the_panels_and_kit_parts_speak_plain_voices_with_the_datas_engine(toy, monkeypatch, smoke_settings):
    "Stand-in parts and `kit_parts` bind `say` to the data's engine; the panel and the comparator speak through it, and the panel's clamp note follows it."
    import emotion_omni_lite.widgets as wid
    from emotion_omni_lite.config import get_config
    parts = cue_parts(tts='toy')
    assert parts.tts == 'toy' and len(toy) == 6 * 3 * 2                   # its centroids: the toy's speech
    p = ProbePanel(parts, live=True); n = len(toy)
    p.emotion.value = 'happy'; p.pitch.value = 6; p.range.value = 50       # past espeak's limits: no espeak note for the toy
    assert len(toy) > n and p.probs is not None and p.message.value == '', p.message.value
    c = EmotionComparator(parts, live=True); n = len(toy); c.compare()
    assert len(toy) == n + 6 and len(c.rows) == 6
    for name, fake in (('load_stage1', lambda cfg, s: None), ('load_semantic_encoder', lambda cfg, s: None),
                       ('load_emotion_encoder', lambda cfg, s: None), ('stage1_features', lambda cfg, s, progress=True: None),
                       ('dataset_map_and_prototypes', lambda feats, n, seed: (None, {})), ('hearing_seconds', lambda cfg: 4.5)):
        monkeypatch.setattr(wid, name, fake)                            # no trained run: only the wiring is looked at
    kit = wid.kit_parts(get_config('smoke', **{'data.tts': 'toy'}), smoke_settings, with_speech=False)
    plain = next(v for _, v in kit.voices if ':' not in v); n = len(toy)
    kit.say(kit.sentences[0], plain, 'sad', Controls())
    assert kit.tts == 'toy' and [v for v, _ in toy[n:]] == [plain]


def test_an_emotion_encoder_with_no_head_is_said_not_drawn(tmp_path):
    "A pretrained checkpoint with no classification head hears no emotion: `hear` gives no probabilities, the bars say why, the comparator and the morph say so (NaN bars and a 'neutral' top before)."
    from transformers import Wav2Vec2Config, Wav2Vec2Model
    from emotion_omni_lite.config import get_config
    from emotion_omni_lite.emotion_encoder import build_emotion_encoder, load_pretrained_emotion_encoder
    from emotion_omni_lite.widgets import _hear_with
    Wav2Vec2Model(Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                 conv_dim=(16,) * 7)).save_pretrained(tmp_path / 'bare')
    cfg, wave = get_config('smoke'), torch.randn(16000) * 0.1
    p, v = _hear_with(load_pretrained_emotion_encoder(str(tmp_path / 'bare')).eval(), cfg.audio)(wave)
    assert p is None and v.shape == (32,) and np.isfinite(v).all()
    p, _ = _hear_with(build_emotion_encoder(cfg).eval(), cfg.audio)(wave)         # the kit's own encoder: six probabilities
    assert p.shape == (6,) and abs(p.sum() - 1) < 1e-5
    parts = cue_parts(); hear = parts.hear
    bare = replace(parts, hear=lambda w: (None, hear(w)[1]))
    panel = ProbePanel(bare, live=True)
    assert panel.probs is None and 'no emotion head' in panel.bars.fig.layout.title.text and 'error' not in panel.message.value
    assert list(panel.bars.fig.data[0].y) == [0] * 6 and panel.reply_text.value      # the reply still comes
    c = EmotionComparator(bare, live=True); c.compare()
    assert 'no emotion head' in c.message.value and c.rows == []
    m = EmotionMorph(replace(bare, speak=tone_speak, prototypes={'neutral': np.eye(9)[0], 'happy': np.eye(9)[3]}), live=True)
    assert m.wave is not None and 'no emotion head' in m.heard.value


def test_a_piper_voice_held_at_its_highest_pitch_says_the_pitch_slider_is_flat():
    "Piper's voices are re-spoken by WORLD, whose F0 stops at `tts.F0_MAX`: a high voice's surprise sits there, and the panel says that raising the pitch changes nothing."
    from html import escape
    from emotion_omni_lite.tts import F0_MAX
    flat = "Piper's pitch stops at 450 Hz (most of this voice's pitch sits there for surprised): moving “pitch (st)” further up changes nothing"
    at_top, below = np.full(40, F0_MAX - 1.0), np.full(40, 300.0)
    assert clamp_note('piper:joe+p3', 'surprised', f0=at_top) == flat and clamp_note('piper:joe+p3', 'surprised', f0=below) == ''
    assert clamp_note('en-us+f3', 'surprised', f0=at_top) == ''           # espeak's limits are its own (said from its preset)
    both = clamp_note('piper:joe+p3', 'neutral', Controls(range=-50), f0=at_top)   # both limits at once: both said
    assert '“pitch range” further down' in both and flat.replace('surprised', 'neutral') in both, both
    p = ProbePanel(replace(cue_parts(), voices=('piper:joe+p3', 'en-us+m1')), live=True)
    assert p.voice.value == 'piper:joe+p3' and p.message.value == '', p.message.value
    p.emotion.value = 'surprised'                                        # +10 semitones of register and surprise's high preset
    assert escape(flat) in p.message.value, p.message.value
    p.emotion.value = 'neutral'
    assert p.message.value == '', p.message.value


def test_stand_in_parts_offer_the_voices_and_sentences_they_are_fitted_on():
    from emotion_omni_lite.tts import QUERY_VOICES
    parts = cue_parts(voices=QUERY_VOICES[1:3], sentences=('My phone just rang.',))
    assert parts.voices == tuple(QUERY_VOICES[1:3]) and parts.sentences == ('My phone just rang.',)
    p, c = ProbePanel(parts, live=True), EmotionComparator(parts, live=True)
    assert p.voice.options == c.voice.options == tuple(QUERY_VOICES[1:3]) and p.sentence.options == ('My phone just rang.',)


def test_parts_left_with_the_default_say_speak_with_their_engine(toy):
    "ProbeParts(tts=…) and replace(parts, tts=…) speak plain voices with that engine (the one the clamp notes are for); a say of one's own stays."
    from emotion_omni_lite.widgets import ProbeParts
    hear, answer = (lambda w: (None, np.zeros(2))), (lambda w: {})
    ProbeParts(hear, answer, tts='toy').say('My phone just rang.', 'en-us+m1', 'happy', Controls())
    assert [v for v, _ in toy] == ['en-us+m1']
    espeak = ProbeParts(hear, answer)
    replace(espeak, tts='toy').say('My phone just rang.', 'en-us+m2', 'sad', Controls())
    assert [v for v, _ in toy] == ['en-us+m1', 'en-us+m2']
    own = lambda *a: torch.zeros(1600)
    assert ProbeParts(hear, answer, say=own, tts='toy').say is own
    pinned = functools.partial(resynthesize, tts='espeak')               # bound to an engine by hand: kept as chosen
    assert ProbeParts(hear, answer, say=pinned, tts='toy').say is pinned
    stand_in = cue_parts(voices=('en-us+m1',), sentences=('My phone just rang.',))   # the kit's own parts follow replace
    toy.clear(); replace(stand_in, tts='toy').say('My phone just rang.', 'en-us+m3', 'sad', Controls())
    assert [v for v, _ in toy] == ['en-us+m3']


def fake_kit(monkeypatch, cfg, settings):
    "kit_parts with no trained run behind it: only its wiring runs (the loaders give None)."
    import emotion_omni_lite.widgets as wid
    for name, fake in (('load_stage1', lambda cfg, s: None), ('load_semantic_encoder', lambda cfg, s: None),
                       ('load_emotion_encoder', lambda cfg, s: None), ('stage1_features', lambda cfg, s, progress=True: None),
                       ('dataset_map_and_prototypes', lambda feats, n, seed: (None, {}))):
        monkeypatch.setattr(wid, name, fake)
    return wid.kit_parts(cfg, settings, with_speech=False)


def test_kit_parts_refuses_what_eol_chat_refuses_before_answering(monkeypatch, smoke_settings, tmp_path):
    "A query longer than the model hears is refused (not heard cut); on full, a 100–105 ms clip that the adapter makes no speech token of too."
    from emotion_omni_lite.config import get_config, get_settings
    kit = fake_kit(monkeypatch, get_config('smoke'), smoke_settings)
    with pytest.raises(AudioError, match=r'is 6\.0 s long; this model hears at most 4\.5 s'):
        kit.answer(0.1 * torch.randn(6 * 16000))
    full = fake_kit(monkeypatch, get_config('full'), get_settings(preset='full', out_dir=str(tmp_path)))
    with pytest.raises(AudioError, match="is 103 ms long, too short for this model's adapter"):
        full.answer(0.1 * torch.randn(1650))


def test_a_morph_that_cannot_speak_does_not_run_the_model():
    "No speech decoder, or fewer than two reply emotions: the morph says why and asks the model nothing, now or when the sentence changes."
    parts, calls = cue_parts(), []
    def answer(w): calls.append(1); return parts.answer(w)
    protos = {'neutral': np.eye(4)[0], 'happy': np.eye(4)[3]}
    for mute, why in ((dict(speak=None, note='', prototypes=protos), 'stage 2'),
                      (dict(speak=tone_speak, prototypes={'neutral': protos['neutral']}), 'hold 1')):
        m = EmotionMorph(replace(parts, answer=answer, **mute), live=True)
        m.sentence.value = m.sentence.options[1]
        assert calls == [] and why in m.message.value and m.reply is None, m.message.value
    m = EmotionMorph(replace(parts, answer=answer, speak=tone_speak, prototypes=protos), live=True)
    assert len(calls) == 1 and m.audio.value


def test_the_parts_own_say_follows_tts_set_after_construction(toy):
    "`parts.tts = …` after the parts are made moves the kit's own `say` too (the clamp notes read `tts` at once, so a `say` left on the old engine spoke with one engine and was judged by another's limits); a `say` of one's own stays."
    from emotion_omni_lite.widgets import ProbeParts
    hear, answer = (lambda w: (None, np.zeros(2))), (lambda w: {})
    parts = ProbeParts(hear, answer)
    parts.tts = 'toy'; parts.say('My phone just rang.', 'en-us+m1', 'happy', Controls())
    assert [v for v, _ in toy] == ['en-us+m1']
    stand_in = cue_parts(voices=('en-us+m1',), sentences=('My phone just rang.',))   # fitted on espeak, then switched
    stand_in.tts = 'toy'; toy.clear(); stand_in.say('My phone just rang.', 'en-us+m2', 'sad', Controls())
    assert [v for v, _ in toy] == ['en-us+m2']
    copy = replace(stand_in, tts='espeak'); toy.clear()                 # a copy follows its own tts, the first keeps its
    copy.say('My phone just rang.', 'en-us+m3', 'sad', Controls()); stand_in.say('My phone just rang.', 'en-us+m4', 'sad', Controls())
    assert [v for v, _ in toy] == ['en-us+m4']
    import copy as copying                                              # copy.copy and deepcopy too: a copy made so once
    for made in (copying.copy(stand_in), copying.deepcopy(stand_in)):   # kept the first one's engine
        made.tts = 'espeak'; toy.clear()
        made.say('My phone just rang.', 'en-us+m3', 'sad', Controls()); stand_in.say('My phone just rang.', 'en-us+m5', 'sad', Controls())
        assert [v for v, _ in toy] == ['en-us+m5'] and made.say is not stand_in.say
    pinned = functools.partial(resynthesize, tts='espeak')
    mine = ProbeParts(hear, answer, say=pinned); mine.tts = 'toy'
    assert mine.say is pinned                                           # bound by hand: kept as chosen


@pytest.mark.parametrize('make', ['cue_parts', 'ProbeParts'])
def test_no_voices_or_sentences_are_refused_naming_the_field(make):
    "An empty list of voices or sentences gave a torch.stack error deep in cue_parts and panels whose menus held nothing (value None); one string where a list belongs offered its letters: each is refused, naming the field and the fix."
    from emotion_omni_lite.widgets import ProbeParts
    build = (lambda **kw: cue_parts(**kw)) if make == 'cue_parts' else (lambda **kw: ProbeParts(lambda w: (None, np.zeros(2)), lambda w: {}, **kw))
    for field, e_g in (('voices', r"\('en-us\+m1',\)"), ('sentences', r"\('My phone just rang\.',\)")):
        for empty in ((), []):
            with pytest.raises(ValueError, match=rf"^{make}: {field} is empty, and the panels offer a choice from it .*give one at "
                                                 rf"least, e\.g\. {field}={e_g}$"):
                build(**{field: empty})
    with pytest.raises(ValueError, match=rf"^{make}: voices='en-us\+m1' is one string, not a list of them: pass \('en-us\+m1',\)$"):
        build(voices='en-us+m1')
    if make == 'ProbeParts':                                            # a copy is checked as the original is
        with pytest.raises(ValueError, match='voices is empty'): replace(build(), voices=())
