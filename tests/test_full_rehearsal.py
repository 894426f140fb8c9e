"""The `full` preset's own code path, end to end, on tiny checkpoints in the real formats of its three pretrained parts.

Only paths, sizes and step counts are overridden: the loaders, the dtype policy (bf16 mixed precision, frozen parts in
their checkpoints' dtypes), the ingestion of speech tokens you bring, and the streaming token-to-wave vocoder are the
ones a full-size run uses."""
import json

import numpy as np
import pytest
import torch

from emotion_omni_lite import vocoder
from emotion_omni_lite.audio import save_wav
from emotion_omni_lite.config import ConfigError, get_config, get_settings
from emotion_omni_lite.stages import stage_state
from emotion_omni_lite.text_llm import train_tokenizer
from emotion_omni_lite.tts import speak

DIALOGUES = [  # query, user emotion, reply, reply emotion, split
    ("i lost my keys again today", 'sad', "i am sorry, that is a rough day", 'sad', 'train'),
    ("we won the match tonight", 'happy', "that is wonderful news, well done", 'happy', 'train'),
    ("the bus left without me", 'angry', "that sounds so frustrating, i understand", 'neutral', 'train'),
    ("there is a noise in the attic", 'fearful', "stay calm, it is probably the wind", 'neutral', 'train'),
    ("my sister is visiting tomorrow", 'happy', "how lovely, enjoy your time together", 'happy', 'train'),
    ("the shop closed early", 'neutral', "you could try again in the morning", 'neutral', 'train'),
    ("my cat is not eating", 'sad', "i hope your cat feels better soon", 'sad', 'test'),
    ("they cancelled the concert", 'angry', "that is really annoying, i am sorry", 'neutral', 'test'),
    ("the printer jammed before my talk", 'angry', "that is bad timing, i hope the talk went well", 'neutral', 'train'),
    ("i finally finished the painting", 'happy', "that is great, i would love to see it", 'happy', 'train'),
]                                                           # eight to train on: an FSDP rehearsal on up to 8 GPUs
LABELS = {0: 'neu', 1: 'hap', 2: 'ang', 3: 'sad'}          # a four-class emotion checkpoint, as the common ones are


def write_checkpoints(d):
    "Tiny random checkpoints in the formats `full` loads: Whisper (fp16), a wav2vec2 emotion classifier, Qwen2 (bf16) + tokenizer."
    from transformers import (Qwen2Config, Qwen2ForCausalLM, Wav2Vec2Config, Wav2Vec2ForSequenceClassification,
                              WhisperConfig, WhisperModel)
    torch.manual_seed(0)
    WhisperModel(WhisperConfig(num_mel_bins=128, d_model=32, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64,
                               decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, vocab_size=51866,
                               max_source_positions=1500, max_target_positions=32)).half().save_pretrained(d / 'whisper')
    Wav2Vec2ForSequenceClassification(Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, use_weighted_layer_sum=True, classifier_proj_size=8,
        num_labels=4, id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
        architectures=['Wav2Vec2ForSequenceClassification'])).save_pretrained(d / 'emotion')
    texts = [t for q, _, r, _, _ in DIALOGUES for t in (q, r)] * 4
    tok = train_tokenizer(texts, 300, speech=False)         # no <speech> yet: the loader adds it and grows the embeddings
    Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                                 tie_word_embeddings=False)).to(torch.bfloat16).save_pretrained(d / 'llm')
    tok.save_pretrained(d / 'llm')
    (d / 'cosyvoice2').mkdir()                              # the vocoder checkpoint folder (a stand-in reads it)


def write_dialogues(d):
    "Spoken dialogues and their reply speech tokens (25 a second, in a 6,561-token vocabulary) as a JSON-lines manifest."
    rng, lines = np.random.default_rng(0), []
    for i, (q, ue, r, re, split) in enumerate(DIALOGUES):
        qw = speak(q, 'en-us+m1', ue, seed=i)
        rw = speak(r, 'en-us+f2', re, seed=100 + i)
        save_wav(d / f'q{i}.wav', qw); save_wav(d / f'r{i}.wav', rw)
        np.save(d / f'r{i}.npy', rng.integers(0, 6561, round(len(rw) / 16000 * 25)))
        lines.append({'id': f'x{i}', 'query_audio': f'q{i}.wav', 'query_text': q, 'user_emotion': ue, 'reply_audio': f'r{i}.wav',
                      'reply_text': r, 'reply_emotion': re, 'reply_units': f'r{i}.npy', 'split': split})
    (d / 'dialogues.jsonl').write_text(''.join(json.dumps(l) + '\n' for l in lines))
    return d / 'dialogues.jsonl'


def standin_token2wav(tokens, token_offset, finalize, cache):
    "A token-to-wave function with CosyVoice2's contract: 24 kHz, 960 samples a token, a 3-token look-ahead, a cache."
    cache['calls'] = cache.get('calls', 0) + 1
    end = tokens.shape[1] if finalize else tokens.shape[1] - 3
    t = torch.arange(token_offset * 960, end * 960) / 24000
    return 0.1 * torch.sin(2 * torch.pi * 200 * t)


def write_settings(d, device: str = 'cpu', steps: int = 3, ckpt_every: int = 2, name: str = 'settings.ini', batch_size: int = 2):
    "A settings file as a full-size user writes one: the preset, the folders, and `[emotion_omni_lite.full]` with the paths to"
    "the checkpoints and the manifest; here also the tiny sizes, batch and step counts (benchmarks/rehearse_gpu.py: on a GPU)."
    fields = {
        'semantic_encoder.pretrained': 'whisper', 'semantic_encoder.d_model': 32, 'semantic_encoder.encoder_layers': 1,
        'semantic_encoder.encoder_heads': 2, 'semantic_encoder.encoder_ffn': 64,
        'emotion_encoder.pretrained': 'emotion', 'emotion_encoder.dim': 16, 'emotion_encoder.layers': 1,
        'emotion_encoder.heads': 2, 'emotion_encoder.ffn': 32, 'fusion.adaln_cond_dim': 16,
        'llm.pretrained': 'llm', 'llm.hidden_size': 32, 'llm.num_layers': 1, 'llm.num_heads': 2,
        'llm.num_kv_heads': 1, 'llm.intermediate_size': 64, 'adapter.hidden': 32,
        'decoder.d_model': 32, 'decoder.pre_layers': 1, 'decoder.layers': 1, 'decoder.heads': 2, 'decoder.ffn': 64,
        'units.manifest': 'dialogues.jsonl', 'vocoder.pretrained': 'cosyvoice2'}
    fields.update({f'stages.{s}.{k}': v for s in ('stage1', 'stage2')
                   for k, v in (('steps', steps), ('batch_size', batch_size), ('ckpt_every', ckpt_every), ('log_every', 1))})
    (d / name).write_text(f'[emotion_omni_lite]\npreset = full\ndata_dir = data\nout_dir = runs\ndevice = {device}\n\n'
                          '[emotion_omni_lite.full]\n' + ''.join(f'{k} = {v}\n' for k, v in fields.items()))
    return d / name


def as_rehearsed(mp, d):
    "The rehearsal's settings file in effect and a CosyVoice2 stand-in in the vocoder table, on `mp` (undone with it)."
    for k in ('PRESET', 'DATA_DIR', 'OUT_DIR', 'SEED', 'DEVICE'): mp.delenv(f'EOL_{k}', raising=False)
    mp.setenv('EOL_SETTINGS', str(d / 'settings.ini'))
    mp.setitem(vocoder.VOCODERS, 'cosyvoice2', lambda cfg, s: vocoder.TokenToWave(standin_token2wav, 24000, hop=25, lookahead=3,
                                                                                   first_pad=13, max_hop=100, scale=2))   # CosyVoice2's hops


@pytest.fixture(scope='module')
def rehearsed(tmp_path_factory):
    "The main job (`eol run --preset full`, one process) on the tiny checkpoints: data, stages 1 and 2, the evaluation."
    from emotion_omni_lite.cli import run_pipeline
    d = tmp_path_factory.mktemp('full')
    write_checkpoints(d); write_dialogues(d); write_settings(d)
    with pytest.MonkeyPatch.context() as mp:
        as_rehearsed(mp, d)
        return get_config('full'), get_settings(), d, run_pipeline('full', jobs=1)


@pytest.fixture
def rehearsal(rehearsed, monkeypatch):
    "The rehearsed run, its settings and vocoder stand-in in effect for this test only (the module's other tests never see them)."
    as_rehearsed(monkeypatch, rehearsed[2])
    return rehearsed


def test_full_path_trains_with_its_dtype_policy(rehearsal):
    cfg, s, _, done = rehearsal
    assert cfg.llm.hidden_size == 32 and cfg.units.manifest.endswith('dialogues.jsonl')   # the settings file's fields
    assert 'stage1_semantic_only' not in done and 'stage2_no_adaln' not in done             # no ablations at full size
    assert cfg.stages.stage1.mixed_precision == cfg.stages.stage2.mixed_precision == 'bf16'
    for name in ('asr', 'emotion_encoder', 'text_llm', 'vocoder'): assert stage_state(name, cfg, s) == 'pretrained'
    for name in ('data', 'stage1', 'stage2'): assert stage_state(name, cfg, s) == 'done'
    conf = json.loads((s.run_path / 'stage1' / 'config.json').read_text())['precision']
    assert conf['mixed_precision'] == 'bf16'
    p = conf['parameters']
    assert p['llm'] == {'frozen': 'bfloat16', 'trainable': 'float32'}       # the base as saved, LoRA in fp32
    assert p['adapter'] == p['head'] == {'trainable': 'float32'}
    hist = json.loads((s.run_path / 'stage1' / 'history.json').read_text())
    assert len(hist) == 3 and all(np.isfinite(h['loss']) for h in hist)
    conf2 = json.loads((s.run_path / 'stage2' / 'config.json').read_text())['precision']
    assert conf2['parameters']['decoder'] == {'trainable': 'float32'}


def test_frozen_encoders_keep_their_checkpoint_dtypes(rehearsal):
    from emotion_omni_lite.emotion_encoder import emotion_features, load_emotion_encoder
    from emotion_omni_lite.semantic_encoder import load_semantic_encoder
    cfg, s, *_ = rehearsal
    sem, emo = load_semantic_encoder(cfg, s), load_emotion_encoder(cfg, s)
    assert next(sem.parameters()).dtype == torch.float16 and next(emo.parameters()).dtype == torch.float32
    f = emotion_features(emo, [torch.randn(16000) * 0.1])
    assert f.frames.dtype == f.emotion_vec.dtype == torch.float32                # fp32 out, whatever ran inside
    h, n = sem([torch.randn(16000) * 0.1])
    assert h.dtype == torch.float32 and h.shape[-1] == 32
    # without mixed precision the same checkpoints load in fp32
    cfg32 = cfg.__class__.from_dict({**cfg.to_dict(), 'stages': {**cfg.to_dict()['stages'],
                                     'stage1': {**cfg.to_dict()['stages']['stage1'], 'mixed_precision': 'no'}}})
    assert next(load_semantic_encoder(cfg32, s).parameters()).dtype == torch.float32


def test_respond_streams_speech_through_the_token_to_wave_vocoder(rehearsal):
    from emotion_omni_lite.omni import load_omni
    from emotion_omni_lite.stage1 import load_stage1
    cfg, s, d, _ = rehearsal
    omni = load_omni(cfg, s)
    assert omni.max_new_tokens == load_stage1(cfg, s).cfg.llm.max_new_tokens == 256   # replies as long as full size writes
    got = []
    r = omni.respond(str(d / 'q6.wav'), on_audio=got.append)
    assert r['sample_rate'] == 24000 and r['user_emotion'] in ('neutral', 'happy', 'sad', 'angry', 'surprised', 'fearful')
    assert len(r['units']) > 0 and all(0 <= u < 6561 for u in r['units'])
    assert len(r['audio']) == 960 * len(r['units'])                          # every token spoken once, look-ahead included
    assert sum(len(a) for a in got) == len(r['audio'])


def test_evaluation_on_a_few_rows(rehearsal):
    from emotion_omni_lite.evaluate import evaluate_full
    cfg, s, _, done = rehearsal
    m = json.loads((s.run_path / 'report' / 'full_sample.json').read_text())   # the main job's evaluation (all 2 held out)
    assert m['stage1']['n_eval'] == m['speech']['n_eval'] == 2
    assert 0 <= m['stage1']['reply_emotion_acc'] <= 1 and 0 <= m['speech']['generated_emotion_acc'] <= 1
    assert m['stage1']['style_match'] is None                                # the manifest names no reply styles: not 0
    assert m['speech']['median_first_audio_ms'] > 0
    one = evaluate_full(cfg, s, n_eval=1, progress=False)                 # a sample size of one's own, in text and speech
    assert one['speech']['n_eval'] == one['stage1']['n_eval'] == 1


def test_a_checkpoint_of_other_sizes_is_refused_with_the_fields_to_set(rehearsal):
    from emotion_omni_lite.config import set_field
    from emotion_omni_lite.semantic_encoder import load_semantic_encoder
    cfg, s, *_ = rehearsal
    with pytest.raises(ConfigError, match=r"semantic_encoder\.d_model=32"):
        load_semantic_encoder(set_field(cfg, 'semantic_encoder.d_model', 64), s)


def _rewrite(folder, change):
    "Rewrite a saved checkpoint's weights through `change(tensors) → tensors`, in the file's own format."
    from safetensors.torch import load_file, save_file
    p = folder / 'model.safetensors'
    save_file(change(load_file(str(p))), str(p), metadata={'format': 'pt'})


def test_a_pretrained_checkpoint_that_would_load_half_is_refused(tmp_path):
    "A checkpoint missing a weight, holding one in another shape, or with its tokenizer or shard index damaged or gone: transformers would load it with random weights (a warning) or a raw error; the kit names the part and the fix."
    import shutil
    from emotion_omni_lite.emotion_encoder import load_pretrained_emotion_encoder
    from emotion_omni_lite.semantic_encoder import load_asr_model, load_pretrained_semantic_encoder
    from emotion_omni_lite.text_llm import load_pretrained_llm, load_tokenizer
    write_checkpoints(tmp_path)
    cases = []
    def variant(name, part, change=None, edit=None):
        d = tmp_path / name; shutil.copytree(tmp_path / part, d)
        if change: _rewrite(d, change)
        if edit: edit(d)
        return d
    drop = lambda key: (lambda sd: {k: v for k, v in sd.items() if key not in k})
    widen = lambda key: (lambda sd: {k: (torch.zeros(v.shape[0] + 1, *v.shape[1:], dtype=v.dtype) if key in k else v) for k, v in sd.items()})
    llm = lambda d: load_pretrained_llm(d)
    cases += [(llm, variant('llm_missing', 'llm', drop('layers.0.mlp.up_proj')), r"llm\.pretrained: the checkpoint in .* lacks model\.layers\.0\.mlp\.up_proj\.weight: those weights would stay random"),
              (llm, variant('llm_shape', 'llm', widen('layers.0.mlp.up_proj')), r"holds model\.layers\.0\.mlp\.up_proj\.weight in other shapes than its config\.json says"),
              (llm, variant('llm_tok', 'llm', edit=lambda d: (d / 'tokenizer.json').write_text('{"cut')), r"llm\.pretrained: the checkpoint in .* does not load \(JSONDecodeError"),
              (llm, variant('llm_notok', 'llm', edit=lambda d: [p.unlink() for p in d.glob('tokenizer*')]), r"does not load \(FileNotFoundError: it holds no tokenizer"),
              (lambda d: load_pretrained_semantic_encoder(d), variant('whisper_missing', 'whisper', drop('encoder.layers.0.fc1')),
               r"semantic_encoder\.pretrained: the checkpoint in .* lacks encoder\.layers\.0\.fc1\.(weight|bias)"),
              (lambda d: load_pretrained_emotion_encoder(str(d)), variant('emotion_missing', 'emotion', drop('classifier')),
               r"emotion_encoder\.pretrained: the checkpoint in .* lacks classifier\.(weight|bias)")]
    sharded = tmp_path / 'llm_sharded'
    from transformers import AutoModelForCausalLM, AutoTokenizer
    AutoModelForCausalLM.from_pretrained(tmp_path / 'llm').save_pretrained(sharded, max_shard_size='20KB')
    AutoTokenizer.from_pretrained(tmp_path / 'llm').save_pretrained(sharded)
    assert len(list(sharded.glob('model-*.safetensors'))) > 1
    m, _ = load_pretrained_llm(sharded)                                # whole: it loads, every shard read
    (sharded / 'model.safetensors.index.json').write_text('{"weight_map": {')
    cases.append((llm, sharded, r"does not load \(JSONDecodeError"))
    wrong_kind = variant('llm_wav2vec2', 'emotion')                      # an audio classifier where the LLM should be
    AutoTokenizer.from_pretrained(tmp_path / 'llm').save_pretrained(wrong_kind)
    cases.append((llm, wrong_kind, r"llm\.pretrained: .*llm_wav2vec2 is not a checkpoint of a causal language model \(Unrecognized"))
    emotion = lambda d: load_pretrained_emotion_encoder(str(d))          # another kind where the emotion encoder should be
    cases += [(emotion, tmp_path / 'llm', r"emotion_encoder\.pretrained: .*llm is a 'qwen2' checkpoint, not an audio encoder that reads 16 kHz waves"),
              (emotion, tmp_path / 'whisper', r"is a 'whisper' checkpoint, not an audio encoder"),
              (emotion, variant('emotion_unknown', 'emotion', edit=lambda d: (d / 'config.json').write_text('{"model_type": "nothing-known"}')),
               r"emotion_encoder\.pretrained: .*emotion_unknown is not a checkpoint transformers can read \(.*has model type `nothing-known` but "
               r"Transformers does not recognize this architecture\): point it at a wav2vec2-like audio encoder")]
    for load, folder, said in cases:
        with pytest.raises(ConfigError, match=said): load(folder)
    with pytest.raises(ConfigError, match=r"the text_llm run: the checkpoint in .* does not load .*: train it again with "
                                          r"`eol run --preset smoke --stages text_llm --force`"):
        load_pretrained_llm(tmp_path / 'llm_tok', field='the text_llm run', fix='train it again with `eol run --preset smoke --stages text_llm --force`')
    sizes = {'llm.hidden_size': 32, 'llm.num_layers': 1, 'llm.num_heads': 2, 'llm.num_kv_heads': 1, 'llm.intermediate_size': 64,
             'decoder.d_model': 32, 'decoder.heads': 2}                # the checkpoint's: its sizes are checked first
    cfg = get_config('full', **{'llm.pretrained': str(tmp_path / 'llm_tok'), **sizes})
    with pytest.raises(ConfigError, match=r"llm\.pretrained: the checkpoint in .*llm_tok does not load \(JSONDecodeError"):
        load_tokenizer(cfg)                                             # the tokenizer alone says the same
    with pytest.raises(ConfigError, match="hears through a pretrained Whisper .*there is no ASR stand-in to load"):
        load_asr_model(get_config('full'))


def test_the_whisper_a_hub_ships_loads_its_encoder_whole(tmp_path):
    "openai/whisper-large-v3 is saved as WhisperForConditionalGeneration (weights under `model.`): the encoder the kit keeps is that one, in fp16."
    from transformers import WhisperConfig, WhisperForConditionalGeneration
    from emotion_omni_lite.semantic_encoder import load_pretrained_semantic_encoder
    torch.manual_seed(0)
    w = WhisperForConditionalGeneration(WhisperConfig(
        num_mel_bins=128, d_model=32, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64, decoder_layers=1,
        decoder_attention_heads=2, decoder_ffn_dim=64, vocab_size=51866, max_source_positions=1500, max_target_positions=32)).half()
    w.save_pretrained(tmp_path)
    enc = load_pretrained_semantic_encoder(tmp_path, dtype='auto')
    want, got = w.model.encoder.state_dict(), enc.state_dict()
    assert got.keys() == want.keys()                                    # every weight of the encoder, none besides
    assert all(torch.equal(v, want[k]) and v.dtype == torch.float16 for k, v in got.items())


def cosyvoice2_folder(d):
    "Empty stand-ins for every file CosyVoice2(folder) opens, its sub-folder's included."
    for n in vocoder.COSYVOICE2_FILES: (d / n).parent.mkdir(parents=True, exist_ok=True); (d / n).write_bytes(b'')


def test_a_cosyvoice_folder_that_is_not_there_is_named_before_cosyvoice_is_asked(tmp_path):
    "CosyVoice takes a name it cannot find for one to download: the kit refuses a missing folder first, offline or not."
    with pytest.raises(ConfigError, match=r"vocoder\.pretrained: .*nowhere is not a folder here: CosyVoice2 reads a local checkpoint folder"):
        vocoder.cosyvoice2_token2wav(tmp_path / 'nowhere', None)
    (tmp_path / 'cv').mkdir()
    with pytest.raises(ConfigError, match=r"vocoder\.pretrained: .*cv lacks cosyvoice2\.yaml, llm\.pt, .*which CosyVoice2 reads"):
        vocoder.cosyvoice2_token2wav(tmp_path / 'cv', None)             # a download cut short: named, not CosyVoice's traceback
    cosyvoice2_folder(tmp_path / 'cv')
    try: import cosyvoice  # noqa: F401
    except ImportError:                                                  # the kit does not install it: said with the fix
        with pytest.raises(ConfigError, match="needs CosyVoice, which this kit does not install"):
            vocoder.cosyvoice2_token2wav(tmp_path / 'cv', None)


class StandinCosyVoice2Model:
    "CosyVoice2Model's parts, the device it chose for itself, its streaming's hops (not CosyVoice2's: read, not assumed), and its HiFT cache per utterance (written by a streamed call, dropped by the final one)."
    def __init__(self):
        self.device, self.llm, self.flow, self.hift = torch.device('cuda'), torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
        self.llm_context, self.hift_cache_dict, self.calls = 'a cuda stream', {}, []
        self.token_hop_len, self.token_max_hop_len, self.stream_scale_factor = 20, 80, 3
        self.flow.pre_lookahead_len = 4
    def token2wav(self, token, uuid, finalize, **kw):
        self.calls.append(self.device)
        self.hift_cache_dict[uuid] = None if finalize else {'speech': torch.zeros(4)}
        return torch.zeros(1, 4)


class PromptWavFrontend:                                   # CosyVoice since 2025-12-08: the prompt's wav path
    def frontend_zero_shot(self, tts_text, prompt_text, prompt_wav, resample_rate, zero_shot_spk_id):
        self.prompt = prompt_wav                           # a voice prompt of 137 tokens
        return {'flow_prompt_speech_token': torch.zeros(1, 137, dtype=torch.long), 'prompt_speech_feat': None, 'flow_embedding': None}


def standin_cosyvoice(monkeypatch, frontend=PromptWavFrontend) -> list:
    "A stand-in `cosyvoice` package whose CosyVoice2(folder) has the model above and `frontend`; the list of those it makes."
    import sys, types
    made = []
    class CosyVoice2:
        def __init__(self, folder, load_jit, load_trt):
            self.model, self.frontend, self.sample_rate = StandinCosyVoice2Model(), frontend(), 24000
            made.append(self)
    cli = types.ModuleType('cosyvoice.cli.cosyvoice'); cli.CosyVoice2 = CosyVoice2
    for name, mod in {'cosyvoice': types.ModuleType('cosyvoice'), 'cosyvoice.cli': types.ModuleType('cosyvoice.cli'),
                      'cosyvoice.cli.cosyvoice': cli}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return made


def test_cosyvoice_runs_on_the_kits_device_not_the_one_it_picks(tmp_path, monkeypatch):
    "CosyVoice2 puts itself on CUDA whenever CUDA is there; the kit moves it to `settings.device` (a stand-in package here), and streams with the hops the model's own streaming takes."
    made = standin_cosyvoice(monkeypatch)
    (tmp_path / 'cv').mkdir()
    cosyvoice2_folder(tmp_path / 'cv')                                   # the files CosyVoice2 opens (the stand-in: none)
    fn, sr, schedule = vocoder.cosyvoice2_token2wav(tmp_path / 'cv', None, '', device='cpu')
    m = made[0].model
    assert sr == 24000 and m.device == torch.device('cpu') and m.llm_context != 'a cuda stream'
    assert schedule == dict(hop=20, lookahead=4, first_pad=3, max_hop=80, scale=3)     # prompt + first hop: 140 = 7 chunks
    assert all(p.device.type == 'cpu' for part in (m.llm, m.flow, m.hift) for p in part.parameters())
    fn(torch.zeros(1, 3, dtype=torch.long), 0, True, {})
    assert m.calls == [torch.device('cpu')] and m.hift_cache_dict == {}
    vocoder.cosyvoice2_token2wav(tmp_path / 'cv', None, '')               # no device asked: CosyVoice's own choice stays
    assert made[1].model.device == torch.device('cuda')


def test_the_voice_prompt_goes_to_cosyvoice_as_its_frontend_takes_it(tmp_path, monkeypatch):
    "CosyVoice's frontend_zero_shot took the prompt's 16 kHz samples (prompt_speech_16k) until late 2025 and a wav path (prompt_wav) since: the kit passed a path to both. It reads the parameter's name and passes each what it takes; another is refused naming the CosyVoice the kit needs."
    class SamplesFrontend:                                 # CosyVoice from 2025-04 to 2025-12
        def frontend_zero_shot(self, tts_text, prompt_text, prompt_speech_16k, resample_rate, zero_shot_spk_id):
            return PromptWavFrontend.frontend_zero_shot(self, tts_text, prompt_text, prompt_speech_16k, resample_rate, zero_shot_spk_id)
    class OtherFrontend:
        def frontend_zero_shot(self, tts_text, prompt_text, prompt_audio, resample_rate, zero_shot_spk_id): pytest.fail('called')
    (tmp_path / 'cv').mkdir(); cosyvoice2_folder(tmp_path / 'cv')
    wav = save_wav(tmp_path / 'prompt.wav', torch.sin(torch.arange(22050) / 10) * 0.1, sr=22050)   # one second, at 22.05 kHz
    made = standin_cosyvoice(monkeypatch, PromptWavFrontend)
    vocoder.cosyvoice2_token2wav(tmp_path / 'cv', str(wav), 'hello', device='cpu')
    assert made[0].frontend.prompt == str(wav)
    made = standin_cosyvoice(monkeypatch, SamplesFrontend)
    vocoder.cosyvoice2_token2wav(tmp_path / 'cv', str(wav), 'hello', device='cpu')
    x = made[0].frontend.prompt
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (1, 16000)   # [1, S] at 16 kHz, as load_wav gives
    standin_cosyvoice(monkeypatch, OtherFrontend)
    with pytest.raises(ConfigError, match=r"vocoder\.kind='cosyvoice2': this CosyVoice's frontend_zero_shot takes its voice prompt as "
                                          r"'prompt_audio', neither .*the CosyVoice of 2025-05-27 or later"):
        vocoder.cosyvoice2_token2wav(tmp_path / 'cv', str(wav), 'hello', device='cpu')


def test_a_cosyvoice_stream_stopped_early_frees_its_cache(tmp_path, monkeypatch):
    "CosyVoice2 keeps a HiFT cache per utterance until its final call: a stream given up before `finish` left it behind, one per reply. `close()` drops it (what `speak` and `stream_many` call whatever happens)."
    made = standin_cosyvoice(monkeypatch)
    (tmp_path / 'cv').mkdir(); cosyvoice2_folder(tmp_path / 'cv')
    fn, sr, schedule = vocoder.cosyvoice2_token2wav(tmp_path / 'cv', None, '', device='cpu')
    m, voc = made[0].model, vocoder.TokenToWave(fn, sr, **schedule)
    st = voc.stream(); st.push(list(range(40)))                          # one streamed call: a cache for this utterance
    assert len(m.calls) == 1 and len(m.hift_cache_dict) == 1
    st.close()
    assert m.hift_cache_dict == {}
    st = voc.stream(); st.push(list(range(40))); st.finish(); st.close()  # a whole utterance: freed by its last call, then
    assert m.hift_cache_dict == {}                                        # closing frees nothing more
    assert len(voc.stream_many([list(range(40)), list(range(30))], 15)) == 2 and m.hift_cache_dict == {}
    real = vocoder.TokenToWaveStream.push
    def push_then_stop(self, units): real(self, units); raise RuntimeError('stopped')   # speech given up mid-reply
    monkeypatch.setattr(vocoder.TokenToWaveStream, 'push', push_then_stop)
    n = len(m.calls)
    with pytest.raises(RuntimeError, match='stopped'): voc.stream_many([list(range(60))], 40)
    assert len(m.calls) == n + 1 and m.hift_cache_dict == {}              # one streamed call, its cache dropped


def test_a_16_bit_emotion_checkpoint_reads_every_frame(tmp_path):
    "A wav2vec2 emotion classifier saved in fp16 and loaded as saved: its head reads the encoder's fp32 frames (the frame-by-frame emotion track of nbs/08), not a dtype error."
    from transformers import AutoModelForAudioClassification
    from emotion_omni_lite.emotion_encoder import emotion_features, load_pretrained_emotion_encoder
    write_checkpoints(tmp_path)
    AutoModelForAudioClassification.from_pretrained(tmp_path / 'emotion').half().save_pretrained(tmp_path / 'emotion16')
    enc = load_pretrained_emotion_encoder(str(tmp_path / 'emotion16'), dtype='auto')
    assert next(enc.parameters()).dtype == torch.float16
    f = emotion_features(enc, [torch.randn(16000) * 0.1])
    p = enc.frame_logits(f)
    assert p.dtype == torch.float32 and p.shape[:2] == f.frames.shape[:2] and torch.isfinite(p[..., :4]).all()


def test_checkpoints_their_loaders_would_refuse_are_named_before_any_work(tmp_path, monkeypatch):
    "A folder holding a config.json alone (0.5 B sizes, no weights, no tokenizer) as the LLM, that folder as the Whisper, a Whisper config as the emotion encoder, an empty CosyVoice2 folder: `eol run` names each as its loader would, before the data are built (not after stage 1's encoder pass); the tiny checkpoints in the real formats pass."
    import re
    from transformers import Qwen2Config, WhisperConfig
    from emotion_omni_lite import cli
    for k in ('EOL_SETTINGS', 'EOL_PRESET', 'EOL_SEED', 'ACCELERATE_USE_FSDP', 'ACCELERATE_USE_DEEPSPEED', 'WORLD_SIZE'):
        monkeypatch.delenv(k, raising=False)
    assert vocoder.VOCODERS['cosyvoice2'] is vocoder._cosyvoice2_vocoder   # the kit's own: no stand-in left by the rehearsal
    Qwen2Config(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                intermediate_size=4864).save_pretrained(tmp_path / 'qwen')
    WhisperConfig(d_model=32, encoder_layers=1, decoder_layers=1).save_pretrained(tmp_path / 'whisper')
    (tmp_path / 'cv').mkdir()
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = full\ndata_dir = data\nout_dir = runs\ndevice = cpu\n\n[emotion_omni_lite.full]\n'
                   'semantic_encoder.pretrained = qwen\nemotion_encoder.pretrained = whisper\nllm.pretrained = qwen\nvocoder.pretrained = cv\n')
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    with pytest.raises(ConfigError) as e: cli.run_pipeline(jobs=1)
    lines = str(e.value).splitlines()
    said = [r"preset 'full' loads pretrained checkpoints that are not here \(6\):",
            r"  semantic_encoder\.pretrained: .*qwen is a 'qwen2' checkpoint: point it at a Whisper checkpoint",
            r"  emotion_encoder\.pretrained: .*whisper is a 'whisper' checkpoint: point it at a wav2vec2-like audio encoder",
            r"  llm\.pretrained: the checkpoint in .*qwen does not load \(FileNotFoundError: no weights beside its config\.json .*copy or download it again",
            r"  llm\.pretrained: the checkpoint .*qwen' does not fit the config \(llm\.hidden_size=3584, .*so set llm\.hidden_size=896, llm\.num_layers=24",
            r"  llm\.pretrained: the checkpoint in .*qwen does not load \(FileNotFoundError: it holds no tokenizer",
            r"  vocoder\.pretrained: .*cv lacks cosyvoice2\.yaml, llm\.pt, flow\.pt, hift\.pt, campplus\.onnx, speech_tokenizer_v2\.onnx, CosyVoice-BlankEN/config\.json, which CosyVoice2 reads"]
    assert len(lines) == len(said) and all(re.match(p, l) for p, l in zip(said, lines)), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cv', 'qwen', 'settings.ini', 'whisper']   # no data, no runs
    ok = tmp_path / 'ok'; ok.mkdir()
    write_checkpoints(ok)
    monkeypatch.setenv('EOL_SETTINGS', str(write_settings(ok)))
    cfg = get_config('full')
    assert [p.split(':')[0] for p in cli.missing_pretrained(cfg)] == ['vocoder.pretrained']   # only the empty CosyVoice2 folder
    monkeypatch.setitem(vocoder.VOCODERS, 'cosyvoice2', lambda cfg, s: None)   # a factory of your own reads its own files
    assert cli.missing_pretrained(cfg) == []
    monkeypatch.setitem(vocoder.VOCODERS, 'cosyvoice2', vocoder._cosyvoice2_vocoder)
    cosyvoice2_folder(ok / 'cosyvoice2')
    assert cli.missing_pretrained(cfg) == []
    (ok / 'llm' / 'model.safetensors').rename(ok / 'llm' / 'weights.bin')   # the weights under a name transformers never reads
    assert [p.split(': ')[0] for p in cli.missing_pretrained(cfg)] == ['llm.pretrained']


def test_full_on_two_workers_plans_its_sample_evaluation_alone(tmp_path, monkeypatch):
    "`eol run --preset full` on two workers (a multi-core CPU's default with device = cpu, or --jobs 2) planned every lite evaluation part, and those read runs full does not train (the ablations, the lite stand-ins): the job stopped at the first of them, never reaching `evaluate_full`. Its plan ends in the one evaluation task, after stages 1 and 2 (planned only: nothing runs)."
    from emotion_omni_lite import cli
    write_checkpoints(tmp_path); write_settings(tmp_path); as_rehearsed(monkeypatch, tmp_path)
    for k in ('ACCELERATE_USE_FSDP', 'ACCELERATE_USE_DEEPSPEED', 'WORLD_SIZE'): monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(cli, 'usable_cores', lambda: 2)                    # two workers on any machine
    planned = []
    monkeypatch.setattr(cli, 'run_tasks', lambda tasks, *a, **k: planned.extend(tasks) or {})   # the plan, not its work
    cli.run_pipeline('full', jobs=2)
    names, by = [t.name for t in planned], {t.name: t for t in planned}
    assert names[-1] == 'eval' and by['eval'].alone and not [n for n in names if n.startswith('eval_')], names
    assert {'data', 'stage1', 'stage2'} <= set(by['eval'].deps) and not {'stage1_semantic_only', 'stage2_no_adaln'} & set(names)
    assert not (tmp_path / 'runs').exists()                                 # nothing was trained or built
