"Stage 0 text side: tokenizer, chat prompt and labels, Qwen2 builder (full size on meta), full-size loader, LoRA."
import json
import pytest
import torch
from emotion_omni_lite.config import ConfigError, get_config, get_settings
from emotion_omni_lite.text_llm import (IM_END, add_lora, build_llm, build_prompt, collate_lm,
                                        load_pretrained_llm, load_text_llm, speech_token_id, text_llm_job,
                                        train_tokenizer, generate_text)

TEXTS = ["I lost my keys again today.", "Oh no, that sounds frustrating. Let's retrace your steps together.",
         "We won the match!", "That's wonderful news, congratulations!", "Is it raining outside?"] * 10


@pytest.fixture(scope='module')
def tok():
    return train_tokenizer(TEXTS, vocab_size=400)


def test_prompt_holds_one_speech_token_and_ends_at_the_assistant_turn(tok):
    # speech_token_id and the byte-level round trip: checked in nbs/09_text_llm.ipynb (cell 392ffaf2)
    p = build_prompt(tok)
    assert p['input_ids'].count(3) == 1                                   # <speech> is one token
    assert tok.decode(p['input_ids']).endswith('<|im_start|>assistant\n')


def test_labels_cover_only_reply_and_end_token(tok):
    p = build_prompt(tok, user="We won the match!", reply="That's wonderful news!")
    lab = torch.tensor(p['labels'])
    n = p['n_prompt']
    assert (lab[:n] == -100).all() and (lab[n:] != -100).all()
    assert lab[-1].item() == tok.convert_tokens_to_ids(IM_END)
    # the decoded reply labels and the shared inference/training prefix: checked in nbs/09_text_llm.ipynb (cell 3bf03f0e)
    b = collate_lm([p, build_prompt(tok, reply="Hi.")], pad_id=tok.pad_token_id)
    assert b['input_ids'].shape == b['labels'].shape == b['attention_mask'].shape
    assert ((b['attention_mask'] == 0) <= (b['labels'] == -100)).all()   # padding is never a target


def test_full_llm_on_meta_matches_qwen25_7b():
    # the 7.62 B parameter count: checked in nbs/09_text_llm.ipynb (cell a2070a2a)
    with torch.device('meta'):
        m = build_llm(get_config('full'))
    c = m.config
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.vocab_size) == (3584, 28, 28, 4, 152064)


def test_pretrained_loader_offline(tmp_path):
    tiny = build_llm(get_config('smoke')).eval()
    plain = train_tokenizer(TEXTS, vocab_size=400, speech=False)
    tiny.save_pretrained(tmp_path); plain.save_pretrained(tmp_path)
    cfg = get_config('smoke', **{'llm.pretrained': str(tmp_path)})
    m, t = load_text_llm(cfg, get_settings(preset='smoke', out_dir=str(tmp_path / 'runs')))
    assert speech_token_id(t) == len(plain)
    x = torch.tensor([[1, 5, 9]])
    assert torch.equal(m(x).logits, tiny(x).logits)
    with pytest.raises(ConfigError, match='llm.pretrained: there is no folder'):
        load_pretrained_llm(tmp_path / 'missing')
    w = tmp_path / 'model.safetensors'; w.write_bytes(w.read_bytes()[:len(w.read_bytes()) // 2])   # an interrupted copy
    with pytest.raises(ConfigError, match='does not load .*damaged or incomplete'):
        load_pretrained_llm(tmp_path)


def test_lora_file_is_small_and_merge_is_exact(tmp_path):
    # targets, only-LoRA-trains, unchanged at the start and the saved file names: checked in nbs/09_text_llm.ipynb
    # (cells 505133ca, 1177dd84)
    cfg = get_config('smoke')
    torch.manual_seed(0)
    base = build_llm(cfg).eval()
    x = torch.tensor([[1, 7, 9, 11]])
    ref = base(x).logits
    lm = add_lora(base, cfg).eval()
    with torch.no_grad():
        for n, p in lm.named_parameters():
            if 'lora_B' in n: p.normal_(0, 0.05)
    unmerged = lm(x).logits
    assert not torch.allclose(unmerged, ref, atol=1e-4)                    # so the merge check below has work to do
    lm.save_pretrained(tmp_path / 'lora')
    size = (tmp_path / 'lora' / 'adapter_model.safetensors').stat().st_size
    assert size < 0.25 * 4 * sum(p.numel() for p in base.parameters())   # far smaller than the model
    merged = lm.merge_and_unload()(x).logits
    assert torch.allclose(merged, unmerged, atol=1e-5)


def _toy_rows():
    pairs = [("I lost my keys again today.", 'sad', "Oh no, I'm sorry. Let's look together."),
             ("We won the match!", 'happy', "That's wonderful, congratulations!")]
    return [{'query_text': q, 'user_emotion': e, 'reply_text': a, 'sentence_kind': 'tone',
             'split': 'train' if i < 24 else 'test_sentence'} for i, (q, e, a) in enumerate(pairs * 14)]


def test_text_stage_trains_and_answers(tmp_path):
    s = get_settings(preset='smoke', out_dir=str(tmp_path / 'runs'), data_dir=str(tmp_path / 'data'), device='cpu')
    cfg = get_config('smoke', **{'stages.text.steps': 60, 'stages.text.lr': 1e-2, 'stages.text.log_every': 10,
                                 'stages.text.ckpt_every': 60})
    from emotion_omni_lite.stages import run_stage, stage_folder, stage_hash
    data = stage_folder('data', s); data.mkdir(parents=True)                    # the toy rows stand in for the dataset
    (data / 'build.json').write_text(json.dumps({'status': 'done', 'config_hash': stage_hash('data', cfg, s.seed)}))
    run = run_stage('text_llm', cfg, lambda c, s_: text_llm_job(c, s_, rows=_toy_rows()), s)
    hist = json.loads((run / 'history.json').read_text())
    assert hist[-1]['loss'] < 0.5 * hist[0]['loss']
    assert json.loads((run / 'config.json').read_text())['preset'] == 'smoke'
    # reuse of a finished run: checked in nbs/09_text_llm.ipynb (cell fa379fd7)
    m, t = load_text_llm(cfg, s)
    assert generate_text(m, t, "(happy) We won the match!", max_new_tokens=12) == "That's wonderful, congratulations!"
