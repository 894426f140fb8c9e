"Metrics on known cases, the independent judges (pocketsphinx, DNSMOS) and the empathy-judge client against a local server."
import http.server, json, math, threading

import pytest
import torch

from emotion_omni_lite.metrics import (JudgeError, accuracy, bleu, cer, confusion_matrix, dnsmos, empathy_judge,
                                       empathy_proxy, judge_endpoint, parse_score, pocketsphinx_transcribe,
                                       pocketsphinx_wer, rouge_l, wer)
from emotion_omni_lite.config import get_settings


def test_wer_cer_known_cases():
    assert wer("the cat sat", "the cat sit down") == pytest.approx(2 / 3)
    assert wer(["a b", "c d e f"], ["a b", "c x e f"]) == pytest.approx(1 / 6)
    assert wer("Hello, World!", "hello world") == 0
    assert cer("abcd", "abed") == pytest.approx(0.25)
    with pytest.raises(ValueError): wer(["a"], ["a", "b"])


def test_bleu_known_cases():
    # Papineni et al.'s clipping example and a hand-computed 4-gram case
    assert bleu(["the cat is on the mat"], ["the the the the the the the"], max_n=1) == pytest.approx(2 / 7)
    assert bleu(["the cat is on the mat"], ["the cat is on the mat today"]) == pytest.approx((6/7 * 5/6 * 4/5 * 3/4) ** 0.25)
    assert bleu(["the cat is on the mat"], ["the cat"], max_n=1) == pytest.approx(math.exp(1 - 3))
    assert bleu(["a b c d"], ["a b c d"]) == 1.0 and bleu(["a b c"], ["x y z"]) == 0.0


def test_rouge_l_known_cases():
    assert rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(0.75)
    assert rouge_l(["a b c", "x"], ["a b c", "y"]) == pytest.approx(0.5)


def test_labels():
    y, p = ['happy', 'sad', 'sad'], ['happy', 'sad', 'happy']
    assert accuracy(y, p) == pytest.approx(2 / 3)
    m = confusion_matrix(y, p)                                          # rows: true label, columns: predicted
    assert m[1][1] == 1 and m[2][2] == 1 and m[2][1] == 1 and sum(map(sum, m)) == 3
    assert confusion_matrix(['happy', 'bored'], ['happy', 'happy']) == [[0] * 6, [0, 1, 0, 0, 0, 0]] + [[0] * 6] * 4


def test_pocketsphinx_on_clean_espeak():
    from emotion_omni_lite.tts import speak
    text = "I just got the results back from the doctor."
    w = speak(text, 'en-us+f2', 'neutral')
    assert wer(text, pocketsphinx_transcribe(w)) <= 0.25
    # the same clip at 22.05 kHz is resampled, and a wrong text gives a high WER
    from emotion_omni_lite.audio import resample
    err, hyps = pocketsphinx_wer([resample(w, 16000, 22050)], ["completely unrelated words here"], sr=22050)
    assert err >= 0.75 and len(hyps) == 1


def test_dnsmos_offline_orders_clean_above_noise():
    from emotion_omni_lite.tts import speak
    w = speak("Thank you for telling me how you feel.", 'en-us+f2', 'neutral')
    g = torch.Generator().manual_seed(0)
    clean, noisy = dnsmos(w), dnsmos(w + 0.1 * torch.randn(w.shape, generator=g))
    assert set(clean) == {'sig', 'bak', 'ovrl'} and all(1 <= v <= 5 for v in clean.values())
    assert clean["ovrl"] > noisy["ovrl"] + 0.3


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
    with pytest.raises(JudgeError, match='no score'): empathy_judge("a", 'sad', "b", url=url)
    with pytest.raises(JudgeError, match='HTTP 500'): empathy_judge("a", 'sad', "b", url=url)


def test_judge_off_by_default_and_proxy(monkeypatch, tmp_path):
    monkeypatch.delenv('EOL_JUDGE_URL', raising=False)
    assert judge_endpoint(get_settings(preset='smoke', data_dir=str(tmp_path), out_dir=str(tmp_path))) is None
    with pytest.raises(JudgeError, match='unreachable'):
        empathy_judge("a", 'sad', "b", url='http://127.0.0.1:9/v1/chat/completions', timeout=2)
    good = empathy_proxy([True, True], [True, True], ["I am so sorry.", "Great news!"], ["I am so sorry.", "Great news!"])
    bad = empathy_proxy([False, False], [False, False], ["I am so sorry.", "Great news!"], ["ok", "fine"])
    assert good == pytest.approx(5.0) and bad == pytest.approx(1.0)
    assert parse_score("Score: 3") == 3
