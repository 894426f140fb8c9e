"Metrics on known cases, the independent judges (pocketsphinx, DNSMOS) and the empathy-judge client against a local server."
import http.server, json, threading

import pytest

from emotion_omni_lite.metrics import (JudgeError, accuracy, confusion_matrix, dnsmos, empathy_judge, empathy_proxy,
                                       judge_endpoint, pocketsphinx_wer, wer)
from emotion_omni_lite.config import get_settings


# WER, CER, BLEU and ROUGE-L on known cases are checked in nbs/05a_metrics.ipynb (cells 1f44eea1, 55e4b818, 15597383).
def test_wer_length_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match='1 references but 2 hypotheses'): wer(["a"], ["a", "b"])


def test_labels():
    y, p = ['happy', 'sad', 'sad'], ['happy', 'sad', 'happy']
    assert accuracy(y, p) == pytest.approx(2 / 3)
    m = confusion_matrix(y, p)                                          # rows: true label, columns: predicted
    assert m[1][1] == 1 and m[2][2] == 1 and m[2][1] == 1 and sum(map(sum, m)) == 3
    assert confusion_matrix(['happy', 'bored'], ['happy', 'happy']) == [[0] * 6, [0, 1, 0, 0, 0, 0]] + [[0] * 6] * 4


def test_pocketsphinx_wer_resamples_a_clip_of_another_rate():
    "A clip at 22.05 kHz is heard as well as at 16 kHz (the judge resamples it; unresampled, its words are lost), and a wrong text scores high."
    from emotion_omni_lite.tts import speak
    from emotion_omni_lite.audio import resample
    text = "I just got the results back from the doctor."
    w = speak(text, 'en-us+f2', 'neutral')
    err16, hyps16 = pocketsphinx_wer([w], [text])
    err, hyps = pocketsphinx_wer([resample(w, 16000, 22050)], [text], sr=22050)
    assert err16 <= 0.25 and err <= 0.25 and len(hyps) == 1, (err16, hyps16, err, hyps)
    assert pocketsphinx_wer([resample(w, 16000, 22050)], ["completely unrelated words here"], sr=22050)[0] >= 0.75


def test_dnsmos_offline_gives_three_scores_on_the_mos_scale(online_but_unreachable, monkeypatch):
    # clean > noisy > noise only is checked in nbs/05a_metrics.ipynb (cell da79edbf)
    from emotion_omni_lite import metrics
    from emotion_omni_lite.tts import speak
    monkeypatch.setattr(metrics, '_DN', {})                              # its model loaded here, with the network cut
    clean = dnsmos(speak("Thank you for telling me how you feel.", 'en-us+f2', 'neutral'))
    assert set(clean) == {'sig', 'bak', 'ovrl'} and all(1 <= v <= 5 for v in clean.values())
    assert 'sess' in metrics._DN and online_but_unreachable == []        # no connection tried


class _Judge(http.server.BaseHTTPRequestHandler):
    answers, seen = [], []
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        _Judge.seen.append((self.path, body, self.headers.get('Authorization')))
        content = _Judge.answers.pop(0)
        if content is None:
            self.send_response(500); self.end_headers(); self.wfile.write(b'boom'); return
        out = json.dumps({'choices': [{'message': {'role': 'assistant', 'content': content}}]}).encode()
        self.send_response(200); self.send_header('Content-Type', 'application/json'); self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a): pass


@pytest.fixture
def judge_server():
    srv = http.server.HTTPServer(('127.0.0.1', 0), _Judge)
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    yield f'http://127.0.0.1:{srv.server_port}/v1'
    srv.shutdown(); srv.server_close()


def test_judge_client_against_local_server(judge_server, monkeypatch):
    monkeypatch.setenv('EOL_JUDGE_API_KEY', 'k123')
    s = get_settings(preset='smoke', judge_url=judge_server, judge_model='judge-tiny')
    url, model = judge_endpoint(s)
    assert url.endswith('/v1/chat/completions') and model == 'judge-tiny'
    _Judge.answers[:] = ['Score: 5 - warm, names the fear.', 'I would say 2.', 'no number here', None]
    assert empathy_judge("I lost my keys.", 'fearful', "Don't worry, we'll find them.", 'sad', url=url, model=model) == 5
    path, body, auth = _Judge.seen[-1]
    assert path == '/v1/chat/completions' and body['model'] == 'judge-tiny' and auth == 'Bearer k123'
    assert 'Score 1 to 5' in body['messages'][0]['content'] and 'fearful voice' in body['messages'][1]['content']
    assert empathy_judge("a", 'sad', "b", url=url) == 2
    with pytest.raises(JudgeError, match='no clear score'): empathy_judge("a", 'sad', "b", url=url)
    with pytest.raises(JudgeError, match='HTTP 500'): empathy_judge("a", 'sad', "b", url=url)


def test_judge_off_by_default_and_proxy(monkeypatch, tmp_path):
    monkeypatch.delenv('EOL_JUDGE_URL', raising=False)
    assert judge_endpoint(get_settings(preset='smoke', data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'runs'))) is None
    with pytest.raises(JudgeError, match='unreachable'):
        empathy_judge("a", 'sad', "b", url='http://127.0.0.1:9/v1/chat/completions', timeout=2)
    # the proxy's top score and parse_score are checked in nbs/05a_metrics.ipynb (cell 53d16e9b); here its floor
    bad = empathy_proxy([False, False], [False, False], ["I am so sorry.", "Great news!"], ["ok", "fine"])
    assert bad == pytest.approx(1.0)


def test_peak_memory_starts_afresh_when_reset():
    "A worker that trained a stage before the evaluation reported that stage's peak: the part's own peak is measured from its start."
    import sys
    from emotion_omni_lite.metrics import peak_memory_mb, reset_peak_memory
    if sys.platform != 'linux': pytest.skip('the resident-set peak is reset through /proc (Linux)')
    try:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')
    except OSError: pytest.skip('this kernel does not let a process reset its peak (/proc/self/clear_refs)')
    big = bytearray(200 * 2**20); big[::4096] = b'x' * len(big[::4096]); del big    # 200 MiB touched, then freed
    before = peak_memory_mb()
    reset_peak_memory()
    assert peak_memory_mb() < before - 150


def test_text_scores_of_nothing_are_nan_not_perfect():
    "No pairs at all: nothing was scored, so no WER, CER, BLEU or ROUGE-L of 0 (or 1) a report would show as a result."
    import math
    from emotion_omni_lite.metrics import bleu, cer, rouge_l
    for f in (wer, cer, bleu, rouge_l): assert math.isnan(f([], [])), f.__name__
    assert wer([''], ['']) == 0.0 and wer([''], ['a b']) == 2.0        # references with no word: still scored


def test_text_scores_take_strings_only():
    "None or NaN is not scored as a word, and a string beside a list is not zipped character by character."
    from emotion_omni_lite.metrics import cer, normalize_text, rouge_l
    for refs, hyps in ((['a b'], [None]), ([float('nan')], ['nan'])):
        with pytest.raises(TypeError, match=r"is (None|nan) \(\w+\), not text: pass strings"): wer(refs, hyps)
    for refs, hyps in (('abc', ['a', 'b', 'c']), (['a', 'b', 'c'], 'abc')):
        with pytest.raises(TypeError, match='pass two strings or two lists of strings'): cer(refs, hyps)
    with pytest.raises(TypeError, match='pass two strings'): rouge_l('a b', ['a b'])
    with pytest.raises(TypeError, match=r"None is not text \(NoneType\)"): normalize_text(None)


def test_labels_and_the_proxy_refuse_lists_of_other_lengths():
    from emotion_omni_lite.metrics import per_class_accuracy
    for f in (confusion_matrix, per_class_accuracy):
        with pytest.raises(ValueError, match='3 labels but 2 predictions: give one prediction per label'):
            f(['happy', 'sad', 'sad'], ['happy', 'sad'])
    with pytest.raises(ValueError, match='2 style checks, 2 emotion checks, 2 references and 1 replies'):
        empathy_proxy([True, False], [True, True], ['a', 'b'], ['a'])


def test_pocketsphinx_refuses_a_clip_that_is_not_finite():
    import numpy as np
    from emotion_omni_lite.metrics import pocketsphinx_transcribe
    for bad in (np.full(1600, np.nan, np.float32), np.r_[np.zeros(1600, np.float32), np.inf]):
        with pytest.raises(ValueError, match='pocketsphinx needs a finite clip'): pocketsphinx_transcribe(bad)


def test_judge_answer_without_text_is_a_judge_error(monkeypatch):
    "An OpenAI-compatible answer whose content is null (a refusal, a tool call): named as the judge's, not a TypeError."
    import io, urllib.request
    answer = json.dumps({'choices': [{'message': {'role': 'assistant', 'content': None}}]}).encode()
    class Reply(io.BytesIO):
        def __enter__(self): return self
    monkeypatch.setattr(urllib.request, 'urlopen', lambda *a, **k: Reply(answer))
    with pytest.raises(JudgeError, match=r"judge at http://judge\.test/v1/chat/completions answered without text \(content None\); check that judge_model"):
        empathy_judge("a", 'sad', "b", url='http://judge.test/v1/chat/completions')


def test_judges_refuse_a_clip_they_would_misread():
    "Stereo would be interleaved, int16 PCM clamped to a square wave, a rate of 0 divide by zero: each refused, naming the fix. One channel is one clip whichever way round: [T], [1, T] and [T, 1] are heard alike."
    import numpy as np, torch
    from emotion_omni_lite.metrics import pocketsphinx_transcribe
    from emotion_omni_lite.tts import speak
    w = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    for f in (pocketsphinx_transcribe, dnsmos):
        for bad in (np.stack([w, w], 1), np.stack([w, w])):
            with pytest.raises(ValueError, match=r"one mono clip, \[T\], \[1, T\] or \[T, 1\], not \[(16000, 2|2, 16000)\]: for stereo average the channels"): f(bad)
        with pytest.raises(TypeError, match='not int16: for int16 PCM divide by 32768'): f((w * 32767).astype(np.int16))
        for sr in (0, -16000, 22050.5):
            with pytest.raises(ValueError, match=rf"positive whole number of Hz, not {sr}: pass it, e.g. sr=16000"): f(w, sr=sr)
    with pytest.raises(ValueError, match='DNSMOS needs a non-empty, finite clip: this one is empty'): dnsmos(np.zeros(0, np.float32), sr=22050)
    said = speak("I just got the results back from the doctor.", 'en-us+f2', 'neutral')   # words, so a transcript to compare
    heard = pocketsphinx_transcribe(said)
    assert heard and pocketsphinx_transcribe(said[None]) == pocketsphinx_transcribe(said[:, None].numpy()) == heard
    assert dnsmos(said[:, None]) == dnsmos(said)


def test_text_scores_fold_accents():
    "An accented letter is folded, not deleted: 'café' is not 'caf' (and an error), and ASCII text is unchanged."
    from emotion_omni_lite.metrics import normalize_text
    assert normalize_text("Crème BRÛLÉE, naïve!") == 'creme brulee naive' and wer('café naïve', 'cafe naive') == 0.0
    assert normalize_text("Oh no, I'm SO sorry… 'really'") == "oh no i'm so sorry really"


def test_judge_url_without_http_scheme_is_a_config_error(monkeypatch):
    "An address without http:// or https:// is refused when read, naming judge_url and the fix, not reported 'unreachable' at evaluation."
    from emotion_omni_lite.config import ConfigError
    monkeypatch.delenv('EOL_JUDGE_URL', raising=False)
    for url, fix in (('127.0.0.1:8000/v1', 'http://127.0.0.1:8000/v1'), ('htp://127.0.0.1:9/v1', 'http://127.0.0.1:9/v1'), ('http://', 'http://127.0.0.1:8000/v1')):
        with pytest.raises(ConfigError, match=rf"judge_url .*{url!r} is not an http:// or https:// address with a host: write it in full, e.g. {fix} "):
            judge_endpoint(get_settings(preset='smoke', judge_url=url))
    with pytest.raises(ConfigError, match='judge_url'): empathy_judge("a", 'sad', "b", url='localhost:8000/v1/chat/completions')
    assert judge_endpoint(get_settings(preset='smoke', judge_url='HTTPS://judge.test/v1'))[0] == 'HTTPS://judge.test/v1/chat/completions'


def test_cosine_similarity_needs_one_shape():
    "[1, d] against [N, d] would broadcast unnoticed: refused, both shapes named; two [d] vectors (the evaluation's case) give one value."
    import torch
    from emotion_omni_lite.metrics import cosine_similarity
    for a, b, shapes in (([[1, 0]], [[1, 0], [0, 1], [1, 1]], r'\[1, 2\] and \[3, 2\]'), ([[1, 0], [0, 1]], [[1, 0]] * 3, r'\[2, 2\] and \[3, 2\]'),
                         ([1, 0], [1, 0, 0], r'\[2\] and \[3\]'), ([1, 0], [[1, 0]], r'\[2\] and \[1, 2\]')):
        with pytest.raises(ValueError, match=rf"of one shape, not {shapes}: give one row of each per pair"): cosine_similarity(a, b)
    assert cosine_similarity(torch.tensor([1., 0.]), torch.tensor([1., 1.])) == pytest.approx([2 ** -0.5])


def test_peak_memory_reads_the_gpu_it_is_given(monkeypatch):
    "On 'cuda:1' the peak is that GPU's, not the current device's (cuda:0 by default)."
    import torch
    from emotion_omni_lite.metrics import peak_memory_mb, reset_peak_memory
    asked = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'max_memory_allocated', lambda device=None: asked.append(('peak', device)) or 2**20)
    monkeypatch.setattr(torch.cuda, 'reset_peak_memory_stats', lambda device=None: asked.append(('reset', device)))
    reset_peak_memory('cuda:1'); assert peak_memory_mb('cuda:1') == 1.0
    assert asked == [('reset', torch.device('cuda:1')), ('peak', torch.device('cuda:1'))]


def test_pocketsphinx_wer_refuses_texts_of_another_count_before_transcribing(monkeypatch):
    "Three clips against two texts is said at once, not after every clip was transcribed (0.4 s each) and then a WER error."
    import numpy as np
    from emotion_omni_lite import metrics
    monkeypatch.setattr(metrics, 'pocketsphinx_transcribe', lambda *a: pytest.fail('transcribed before the check'))
    w = np.zeros(1600, np.float32)
    with pytest.raises(ValueError, match=r"pocketsphinx_wer: 3 clips but 2 texts: give one reference text a clip"): pocketsphinx_wer([w] * 3, ['a', 'b'])
    with pytest.raises(ValueError, match=r"1 clips but 2 texts"): pocketsphinx_wer(iter([w]), iter(['a', 'b']))


def test_a_judge_model_without_an_endpoint_is_refused_naming_both(monkeypatch):
    "judge_model set with judge_url empty was accepted and never asked (the report said only that the judge was off): refused, naming both settings and the fix."
    from types import SimpleNamespace
    from emotion_omni_lite.config import ConfigError
    from emotion_omni_lite.metrics import judge_endpoint
    from emotion_omni_lite.config import get_settings
    monkeypatch.setenv('EOL_JUDGE_URL', ''); monkeypatch.setenv('EOL_JUDGE_MODEL', 'qwen')
    with pytest.raises(ConfigError, match=r"judge_model = 'qwen' \(from EOL_JUDGE_MODEL\) .*judge_url is empty.*set judge_url "
                                          r"\(or EOL_JUDGE_URL\).*or clear judge_model"):
        get_settings()                                                   # said when the settings are read, before any work
    with pytest.raises(ConfigError, match='judge_url is empty'): judge_endpoint(None)   # the variables alone: the same
    assert judge_endpoint(get_settings(judge_url='')) is None          # judge_url='' passed: the judge is off, as asked
    assert judge_endpoint(SimpleNamespace(judge_url='', judge_model='')) is None
    assert judge_endpoint(SimpleNamespace(judge_url='http://127.0.0.1:8000/v1', judge_model='qwen')) == ('http://127.0.0.1:8000/v1/chat/completions', 'qwen')
