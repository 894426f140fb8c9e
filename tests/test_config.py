"Settings order, presets and config validation."
import subprocess, sys
from pathlib import Path
import pytest
from emotion_omni_lite.config import (LENGTH_GROUPED, ConfigError, EMOTIONS, PRESETS, emotion_index, get_config,
                                      get_settings, set_field)

ROOT = Path(__file__).resolve().parents[1]


def test_presets_exist_and_differ():
    assert set(PRESETS) == {'lite', 'full', 'smoke'}
    full, lite = get_config('full'), get_config('lite')
    assert full.semantic_encoder.d_model == 1280 and full.semantic_encoder.encoder_layers == 32
    assert full.semantic_encoder.n_mels == 128 and lite.semantic_encoder.n_mels == 80
    assert full.emotion_encoder.dim == 768 and full.emotion_encoder.frame_rate == 50
    assert full.adapter.k == 5 and full.adapter.hidden == 2048
    assert (full.llm.hidden_size, full.llm.num_layers, full.llm.num_heads, full.llm.num_kv_heads) == (3584, 28, 28, 4)
    assert (full.lora.r, full.lora.alpha) == (8, 16) and (lite.lora.r, lite.lora.alpha) == (8, 16)
    d = full.decoder
    assert (d.pre_layers, d.layers, d.d_model, d.heads, d.ffn) == (2, 4, 3584, 32, 14336)
    assert full.units.n_units == 6561 and full.units.rate_hz == 25
    assert lite.llm.hidden_size < full.llm.hidden_size and lite.llm.pretrained is None


def test_full_steps_are_one_pass_over_the_kits_own_full_size_plan():
    "full's stage 1 and 2 steps × batch cover the training split of the kit's own full-size plan (seed 0's `plan_dialogues`) once, all but fewer than a batch (`fit` leaves an epoch's remainder), none twice; full trains from units.manifest, whose own size sets the steps of one pass (training lines // 16), as the notebook says."
    from emotion_omni_lite.dataset import plan_dialogues
    full = get_config('full')
    assert full.stages.stage1.aug_copies == 0 and full.stages.stage2.cross_emotion == 0 and not full.emotion_encoder.train_engine
    n = sum(r['split'] == 'train' for r in plan_dialogues(full))           # the kit's own plan at full size (seed 0)
    assert n == 129_015, n                                                 # the figure full_config quotes
    for t in (full.stages.stage1, full.stages.stage2):
        assert 0 <= n - t.steps * t.batch_size < t.batch_size, (t.steps, t.batch_size, n)


def test_one_pass_over_a_manifest_is_its_lines_rounded_down():
    "`batch_indices` draws a new order after n // batch whole batches, so one pass is the rounded-down count: what the lesson and full_config tell a full-size user to set (ceil would start the second pass)."
    import json, re
    from emotion_omni_lite.train import batch_indices
    n, bs = 16 * 62 + 13, 16                                           # 13 lines past a multiple of 16
    first = {i for step in range(n // bs) for i in batch_indices(n, bs, step, 0)}
    assert len(first) == n // bs * bs                                  # no example twice in the pass …
    assert set(batch_indices(n, bs, n // bs, 0)) & first                # … and step n // bs already repeats some: a new pass
    lesson = ' '.join(''.join(c['source']) for c in json.loads((ROOT / 'nbs' / '00_config.ipynb').read_text())['cells'])
    said = re.search(r'training lines ÷ 16, rounded (\w+)', lesson)
    assert said and said[1] == 'down', said
    assert 'its training lines // 16' in (ROOT / 'emotion_omni_lite' / 'config.py').read_text()


def test_incompatible_fields_are_named():
    with pytest.raises(ConfigError, match='fusion.adaln_cond_dim'):
        get_config('lite', **{'fusion.adaln_cond_dim': 999})
    with pytest.raises(ConfigError, match='semantic_encoder.n_mels'):
        get_config('lite', **{'audio.n_mels': 128})
    with pytest.raises(ConfigError, match='decoder.d_model'):
        get_config('lite', **{'decoder.d_model': 64})
    with pytest.raises(ConfigError, match='llm.num_kv_heads'):
        get_config('lite', **{'llm.num_kv_heads': 3})
    with pytest.raises(ConfigError, match=r'llm\.max_new_tokens: 129 is longer than the replies stage 2 speaks \(decoder\.max_reply_tokens=128\)'):
        get_config('lite', **{'llm.max_new_tokens': 129})
    with pytest.raises(ConfigError, match='has no field'):
        get_config('lite', **{'llm.width': 3})
    with pytest.raises(ConfigError, match='data.n_piper_voices.*8 pseudo-speakers'):
        get_config('lite', **{'data.n_piper_voices': 9})
    with pytest.raises(ConfigError, match='data.n_test_piper_voices'):
        get_config('lite', **{'data.n_test_piper_voices': 0})
    with pytest.raises(ConfigError, match=r'data\.n_test_piper_voices: 2 must be between 1 and n_piper_voices-1=-1, or 0 when '
                                          r'data\.n_piper_voices is 0 \(no Piper voice: set both to 0\)'):   # Piper switched off alone
        get_config('lite', **{'data.n_piper_voices': 0})
    with pytest.raises(ConfigError, match="emotion_encoder.train_engine.*'espeak' or 'piper'"):
        get_config('lite', **{'emotion_encoder.train_engine': 'festival'})
    with pytest.raises(ConfigError, match='unknown'):
        get_config('gigantic')



def test_a_vocabulary_too_small_for_the_kits_tokenizer_is_named():
    "Below 256 byte tokens and 4 chat marks the config passed and stage 0's tokenizer failed later, without naming the field; a pretrained LLM brings its own."
    with pytest.raises(ConfigError, match=r"llm\.vocab_size: 259 is too small for the tokenizer the kit trains \(llm\.pretrained is unset\).*"
                                          r"use at least 260 \(lite: 1024\)"):
        get_config('lite', **{'llm.vocab_size': 259})
    assert get_config('smoke', **{'llm.vocab_size': 260}).llm.vocab_size == 260
    assert get_config('full', **{'llm.vocab_size': 100}).llm.vocab_size == 100     # Qwen's tokenizer: not the kit's


def test_settings_a_part_would_not_read_are_refused():
    "A pretrained Whisper fed the lite envelope, a trained encoder heard against neutral clips picked by their labels, a Griffin-Lim vocoder said to speak at another rate: refused when the config is built, naming the field and the fix; every preset and stage still builds."
    from emotion_omni_lite.stages import STAGES, stage_config
    with pytest.raises(ConfigError, match=r"semantic_encoder\.envelope_ceps: 12: a pretrained Whisper \(openai/whisper-large-v3\) "
                                          r".*plain log-mel.*set envelope_ceps=0, or pretrained=None"):
        get_config('full', **{'semantic_encoder.envelope_ceps': 12})
    with pytest.raises(ConfigError, match='semantic_encoder.envelope_ceps'):          # a lite config given a pretrained Whisper
        get_config('smoke', **{'semantic_encoder.pretrained': 'whisper', 'semantic_encoder.fit_window': False})
    assert get_config('smoke', **{'semantic_encoder.pretrained': 'whisper', 'semantic_encoder.fit_window': False,
                                  'semantic_encoder.envelope_ceps': 0}).semantic_encoder.envelope_ceps == 0
    with pytest.raises(ConfigError, match=r"emotion_encoder\.speaker_reference: 'neutral': use '' .*'voice' .*or 'calm' .*"
                                          r"held-out voices' too.*cues\.speaker_normalized"):
        get_config('lite', **{'emotion_encoder.train_engine': 'espeak', 'emotion_encoder.speaker_reference': 'neutral'})
    for ref in ('voice', 'calm'):
        assert get_config('lite', **{'emotion_encoder.train_engine': 'espeak', 'emotion_encoder.speaker_reference': ref})
    # settings that would be accepted and then ignored: a relative pitch row without pitch, a manifest beside own units
    with pytest.raises(ConfigError, match=r"emotion_encoder\.relative_pitch: .*tracks no pitch.*set emotion_encoder\.pitch=True, "
                                          r"or emotion_encoder\.relative_pitch=False"):
        get_config('lite', **{'emotion_encoder.pitch': False})
    assert not get_config('lite', **{'emotion_encoder.pitch': False, 'emotion_encoder.relative_pitch': False}).emotion_encoder.pitch
    with pytest.raises(ConfigError, match=r"units\.manifest: d\.jsonl: .*units\.kind='kmeans_mel'\): clear units\.manifest, "
                                          r"or set units\.kind='external'"):
        get_config('smoke', **{'units.manifest': 'd.jsonl'})
    with pytest.raises(ConfigError, match=r"vocoder\.sample_rate: 24000 Hz, but a griffin_lim vocoder speaks at the audio's rate, "
                                          r"audio\.sample_rate=16000: set vocoder\.sample_rate=16000"):
        get_config('full', **{'vocoder.kind': 'griffin_lim'})
    with pytest.raises(ConfigError, match='vocoder.sample_rate'):
        get_config('lite', **{'vocoder.sample_rate': 22050})
    assert get_config('full', **{'vocoder.kind': 'griffin_lim', 'vocoder.sample_rate': 16000}).vocoder.sample_rate == 16000
    full, lite, smoke = (get_config(p) for p in ('full', 'lite', 'smoke'))
    assert (full.vocoder.kind, full.vocoder.sample_rate) == ('cosyvoice2', 24000)      # CosyVoice2's own rate: left as it is
    assert lite.vocoder.sample_rate == smoke.vocoder.sample_rate == lite.audio.sample_rate == 16000
    assert full.semantic_encoder.envelope_ceps == 0 and lite.semantic_encoder.envelope_ceps == 12
    for c in (full, lite, smoke):
        for name in STAGES: stage_config(name, c)                       # every stage's own config builds


def test_settings_a_pretrained_emotion_encoder_or_greedy_decoding_would_not_read_are_refused():
    "The lite encoder's pitch rows and cepstral smoothing beside a pretrained wav2vec2 (which hears the wave itself), and a top_k at temperature 0 (greedy): accepted, ignored and hashed before; refused now, naming the fields and the fix, while no preset or stage sets them so."
    from emotion_omni_lite.stages import STAGES, stage_config
    with pytest.raises(ConfigError, match=r"emotion_encoder\.pitch: pitch=True, relative_pitch=True: a pretrained emotion encoder \(emo\) "
                                          r"hears the 16 kHz wave .*set pitch=False, relative_pitch=False, or pretrained=None"):
        get_config('smoke', **{'emotion_encoder.pretrained': 'emo'})
    with pytest.raises(ConfigError, match=r"emotion_encoder\.envelope_ceps: envelope_ceps=12: .*set envelope_ceps=0, or pretrained=None"):
        get_config('full', **{'emotion_encoder.envelope_ceps': 12})
    with pytest.raises(ConfigError, match=r"emotion_encoder\.relative_pitch: relative_pitch=True: a pretrained"):   # not "set pitch=True"
        get_config('full', **{'emotion_encoder.relative_pitch': True})
    ok = get_config('smoke', **{'emotion_encoder.pretrained': 'emo', 'emotion_encoder.pitch': False, 'emotion_encoder.relative_pitch': False})
    assert ok.emotion_encoder.pretrained == 'emo'
    with pytest.raises(ConfigError, match=r"decoder\.top_k: 20: .*decoder\.temperature=0 decodes greedily .*set decoder\.temperature "
                                          r"above 0 \(e\.g\. 0\.7\) to sample, or decoder\.top_k=0"):
        get_config('lite', **{'decoder.top_k': 20})
    assert get_config('lite', **{'decoder.top_k': 20, 'decoder.temperature': 0.7}).decoder.top_k == 20
    for p in PRESETS:                                                   # no preset nor stage row sets either combination
        for name in STAGES:
            c = stage_config(name, get_config(p)); ec = c.emotion_encoder
            assert not (ec.pretrained and (ec.pitch or ec.relative_pitch or ec.envelope_ceps)), (p, name)
            assert not (c.decoder.top_k and not c.decoder.temperature), (p, name)


def test_stage_hash_follows_what_not_how():
    # the to_dict/from_dict round trip is checked in nbs/00_config.ipynb (cell 5734cf6f)
    lite = get_config('lite')
    from emotion_omni_lite.stages import stage_hash
    assert stage_hash('data', lite, 0) == stage_hash('data', get_config('lite'), 0)
    assert stage_hash('data', lite, 0) != stage_hash('data', set_field(lite, 'data.n_dialogues', 10), 0)
    assert stage_hash('data', lite, 0) == stage_hash('data', set_field(lite, 'data.workers', 1), 0)   # how, not what
    # fields added later count only once set: one engine's data keeps the hash it had before the second engine existed
    from emotion_omni_lite.stages import hashed_part
    one = get_config('lite', **{'data.n_piper_voices': 0, 'data.n_test_piper_voices': 0})
    assert 'n_piper_voices' not in hashed_part(one, 'data') and 'n_piper_voices' in hashed_part(lite, 'data')
    assert stage_hash('data', one, 0) != stage_hash('data', lite, 0)


def test_cross_engine_stages_only_where_two_engines_speak():
    from emotion_omni_lite.cli import plan_tasks
    from emotion_omni_lite.config import get_settings
    from emotion_omni_lite.stages import stage_applies, stage_config
    cross = ('emotion_encoder_espeak_only', 'emotion_encoder_piper_only')
    s = get_settings(preset='smoke', data_dir='/nonexistent/data', out_dir='/nonexistent/runs')
    one = get_config('smoke', **{'data.n_piper_voices': 0, 'data.n_test_piper_voices': 0})
    assert all(stage_applies(n, get_config('smoke')) for n in cross) and not any(stage_applies(n, one) for n in cross)
    assert set(cross) <= {t.name for t in plan_tasks(get_config('smoke'), s)}
    assert not set(cross) & {t.name for t in plan_tasks(one, s)}
    assert stage_config('emotion_encoder_piper_only', get_config('smoke')).emotion_encoder.train_engine == 'piper'
    from emotion_omni_lite.stages import stage_hash
    lite = get_config('lite')
    for n in cross:                       # a third of the kit's steps, once: a run's own config hashes as the table's
        once = stage_config(n, lite)
        assert once.stages.emotion.steps == lite.stages.emotion.steps // 3 and once.stages.emotion.aug_copies == 0
        assert stage_config(n, once) is once and stage_hash(n, once, 0) == stage_hash(n, lite, 0)
        changed = set_field(once, 'stages.emotion.lr', 1e-3)            # a copy of the row's config: still applied once
        assert stage_config(n, changed).stages.emotion.steps == once.stages.emotion.steps
    engine = {'emotion_encoder_espeak_only': 'espeak', 'emotion_encoder_piper_only': 'piper'}
    for n in cross:                       # a base that already holds the row's fixed fields still gets its third
        base = get_config('lite', **{'emotion_encoder.train_engine': engine[n], 'stages.emotion.aug_copies': 0})
        assert stage_config(n, base).stages.emotion.steps == lite.stages.emotion.steps // 3
    row = stage_config('stage1_espeak_only', lite)                    # a row's upstream row, read through the row's config
    assert stage_hash('emotion_encoder_espeak_only', row, 0) == stage_hash('emotion_encoder_espeak_only', lite, 0)


def test_unknown_emotion():
    assert emotion_index('happy') == EMOTIONS.index('happy')
    with pytest.raises(ConfigError, match='use one of'):
        emotion_index('bored')


def test_settings_order(tmp_path, monkeypatch):
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = full\nseed = 7\nout_dir = out\n')
    monkeypatch.delenv('EOL_PRESET', raising=False)
    s = get_settings(ini)
    assert (s.preset, s.seed, s.out_dir) == ('full', 7, tmp_path / 'out')     # file
    monkeypatch.setenv('EOL_PRESET', 'smoke'); monkeypatch.setenv('EOL_SEED', '11')
    s = get_settings(ini)
    assert (s.preset, s.seed) == ('smoke', 11)                                # environment beats file
    s = get_settings(ini, preset='lite', seed=3)
    assert (s.preset, s.seed) == ('lite', 3)                                  # arguments beat environment
    assert s.run_path == tmp_path / 'out' / 'lite'


def test_bad_settings(tmp_path, monkeypatch):
    monkeypatch.delenv('EOL_PRESET', raising=False)
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = lite\ncolour = blue\n')
    with pytest.raises(ConfigError, match='colour'):
        get_settings(ini)
    ini.write_text('[emotion_omni_lite]\nseed = many\n')
    with pytest.raises(ConfigError, match='seed'):
        get_settings(ini)
    monkeypatch.setenv('EOL_DEVICE', 'tpu')
    ini.write_text('[emotion_omni_lite]\npreset = lite\n')
    with pytest.raises(ConfigError, match='device'):
        get_settings(ini)


def test_a_home_folder_is_expanded_and_one_folder_for_data_and_runs_is_refused(tmp_path, monkeypatch):
    "`~/labs` in settings.ini is the home folder's labs (not a folder named ~ beside the file); data and runs in one folder would share one <preset> folder."
    for k in ('EOL_PRESET', 'EOL_DATA_DIR', 'EOL_OUT_DIR'): monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = lite\ndata_dir = ~/labs/data\nout_dir = ~/labs/runs\n')
    s = get_settings(ini)
    assert (s.data_path, s.run_path) == (tmp_path / 'home' / 'labs' / 'data' / 'lite', tmp_path / 'home' / 'labs' / 'runs' / 'lite')
    ini.write_text('[emotion_omni_lite]\npreset = lite\ndata_dir = shared\nout_dir = ./shared/\n')
    with pytest.raises(ConfigError, match=r"data_dir and out_dir are the same folder, .*shared: .*give each its own folder"):
        get_settings(ini)
    monkeypatch.setenv('EOL_OUT_DIR', str(tmp_path / 'shared'))
    with pytest.raises(ConfigError, match='the same folder'): get_settings(ini)

@pytest.mark.parametrize('text, said', [
    ('[emotion_omni_lite]\npreset = lite\npreset = smoke\n', "line 3.*'preset'.*already exists"),
    ('[emotion_omni_lite]\npreset lite\n', "cannot read.*line 2.*preset lite"),
    ('[emotion_omni_lite]\npreset = lite\n[emotion_omni_lite.lit]\nllm.hidden_size = 16\n', r'\[emotion_omni_lite.lit\] names no preset'),
])
def test_a_settings_file_it_cannot_read_is_named_with_the_line(tmp_path, monkeypatch, text, said):
    "A malformed line, a setting given twice, a section for no preset: a ConfigError naming the file and what to fix, for settings and config alike."
    monkeypatch.delenv('EOL_PRESET', raising=False)
    ini = tmp_path / 'settings.ini'; ini.write_text(text)
    with pytest.raises(ConfigError, match=said) as e: get_settings(ini)
    assert str(ini) in str(e.value)
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    with pytest.raises(ConfigError, match=said): get_config('lite')


def test_every_settings_example_in_readme_reads_as_written(tmp_path, monkeypatch):
    "README's settings blocks, end-of-line notes and all, are read by the kit with the values they show."
    import re
    blocks = re.findall(r"```ini\n(.*?)```", (ROOT / 'README.md').read_text(), re.S)
    assert len(blocks) >= 2
    monkeypatch.delenv('EOL_PRESET', raising=False); monkeypatch.delenv('EOL_OFFLINE', raising=False)
    for text in blocks:
        ini = tmp_path / 'settings.ini'; ini.write_text(text)
        s = get_settings(ini)
        assert s.preset in PRESETS and '#' not in str(s.data_dir) and s.offline is True, text
        monkeypatch.setenv('EOL_SETTINGS', str(ini))
        cfg = get_config(s.preset)
        for line in text.splitlines():                                 # each dotted field holds its value, not its note
            m = re.match(r"(\w+\.[\w.]+)\s*=\s*(\S+)", line)
            if m and s.preset == 'full':
                obj = cfg
                for part in m.group(1).split('.'): obj = getattr(obj, part)
                assert str(obj).lower().endswith(m.group(2).lstrip('./').lower()) and '#' not in str(obj), (line, obj)


def test_readme_colab_folders_reach_the_kernel(tmp_path, monkeypatch):
    "README's Colab folders are set in the notebook's own process (`%env`), which get_settings reads at each call, after the kit is imported: a `!VAR=...` shell line would never reach it."
    import re
    readme = (ROOT / 'README.md').read_text()
    set_env = dict(re.findall(r"^%env (EOL_\w+)=(\S+)$", readme, re.M))
    assert set(set_env) == {'EOL_DATA_DIR', 'EOL_OUT_DIR'}, set_env
    assert not re.search(r"(?<!%env )(?<![\w.])EOL_DATA_DIR=/content", readme)   # a shell-form line sets nothing in the kernel
    monkeypatch.delenv('EOL_SETTINGS', raising=False); monkeypatch.chdir(tmp_path)   # as in Colab: no settings.ini
    before = get_settings()
    for k, v in set_env.items(): monkeypatch.setenv(k, v)                # what %env does, after the import
    s = get_settings()
    assert (str(s.data_dir), str(s.out_dir)) == (set_env['EOL_DATA_DIR'], set_env['EOL_OUT_DIR']) != (str(before.data_dir), str(before.out_dir))


def test_repo_settings_file_is_found_from_notebooks_folder(monkeypatch):
    monkeypatch.delenv('EOL_SETTINGS', raising=False); monkeypatch.delenv('EOL_PRESET', raising=False)
    monkeypatch.chdir(ROOT / 'nbs')
    s = get_settings()
    assert Path(s.source) == ROOT / 'settings.ini'
    assert s.data_dir == ROOT / 'data' and s.out_dir == ROOT / 'runs'


def test_python_c_shows_presets():
    out = subprocess.run([sys.executable, '-c', 'from emotion_omni_lite.config import PRESETS; print(sorted(PRESETS))'],
                         capture_output=True, text=True, check=True).stdout
    assert 'lite' in out and 'full' in out



def test_the_main_job_at_full_size_leaves_the_ablations_to_be_named():
    "`job_stages` says what `eol run` trains: at full size (pretrained parts) no ablation row, each a second big training; in lite every row that applies."
    from emotion_omni_lite.stages import STAGES, job_stages
    full, lite = job_stages(get_config('full')), job_stages(get_config('lite'))
    ablations = [n for n in STAGES if STAGES[n].overrides]
    assert 'stage1_semantic_only' in ablations and 'stage2_no_adaln' in ablations
    assert not set(ablations) & set(full) and {'stage1', 'stage2'} <= set(full)
    assert {'stage1_semantic_only', 'stage2_no_adaln'} <= set(lite)


def test_eol_pack_names_only_runs_the_main_job_would_train(monkeypatch, tmp_path, capsys):
    "A packed full-size run lacking stage 1: the lab is told to train stage 1, not the pretrained parts nor the ablations `eol run` leaves out there."
    import argparse
    from emotion_omni_lite import cli
    (tmp_path / 'run.tar').write_bytes(b'x' * 10)
    monkeypatch.setattr(cli, 'pack_run', lambda archive, preset, overwrite=False: tmp_path / 'run.tar')
    monkeypatch.setattr(cli, 'read_pack', lambda p: {'preset': 'full', 'not_packed': {
        'asr': 'pretrained', 'emotion_encoder': 'pretrained', 'text_llm': 'pretrained', 'stage1': 'missing',
        'stage1_semantic_only': 'missing', 'stage2_no_adaln': 'missing'}})
    cli._pack(argparse.Namespace(archive=str(tmp_path / 'run.tar'), preset='full', overwrite=False))
    said = capsys.readouterr().out
    assert 'not finished, so not in it: stage1 (a lab would train them' in said, said


@pytest.mark.parametrize('stage', ['stage1', 'text', 'vocoder'])
def test_length_groups_on_a_stage_without_lengths_is_refused(stage):
    "Only the stages whose examples carry lengths group by them; elsewhere the setting would be accepted and do nothing."
    with pytest.raises(ConfigError, match=rf'stages\.{stage}\.length_groups: 2: .*set it to 1'):
        get_config('lite', **{f'stages.{stage}.length_groups': 2})
    for ok in LENGTH_GROUPED: get_config('lite', **{f'stages.{ok}.length_groups': 2})


def test_the_kits_own_units_come_at_one_rate():
    "The kit's k-means units are four mel frames each (25 a second): another units.rate_hz would size stage 2's reply limit wrongly, so it is refused; speech tokens one brings may come at any rate."
    with pytest.raises(ConfigError, match=r"units\.rate_hz: 50: .*four mel frames each, 25 a second: set units\.rate_hz=25"):
        get_config('lite', **{'units.rate_hz': 50})
    assert get_config('full', **{'units.rate_hz': 50}).units.rate_hz == 50       # external tokens: their own rate


def test_a_settings_files_relative_paths_are_read_from_its_folder(tmp_path, monkeypatch):
    "A manifest is a path wherever `eol` starts; a pretrained name is a folder there when it exists or says ./, else a hub name."
    from emotion_omni_lite.config import preset_overrides
    (tmp_path / 'conf' / 'emo').mkdir(parents=True)
    f = tmp_path / 'conf' / 'settings.ini'
    f.write_text('[emotion_omni_lite.full]\nunits.manifest = mydata/d.jsonl\nsemantic_encoder.pretrained = ./whisper\n'
                 'emotion_encoder.pretrained = emo\nllm.pretrained = Qwen/Qwen2.5-7B-Instruct\n')
    monkeypatch.chdir(tmp_path)                                          # started elsewhere: the file's folder still counts
    got = preset_overrides('full', f)
    assert got['units.manifest'] == str(tmp_path / 'conf' / 'mydata' / 'd.jsonl')   # not there yet: still the file's folder
    assert got['semantic_encoder.pretrained'] == str(tmp_path / 'conf' / 'whisper')
    assert got['emotion_encoder.pretrained'] == str(tmp_path / 'conf' / 'emo')
    assert got['llm.pretrained'] == 'Qwen/Qwen2.5-7B-Instruct'


def test_data_fields_that_would_leave_silent_clips_or_nothing_to_learn():
    "A prosody jitter of 1 or more (a rate or volume scaled to 0 or below: silent or 5-ms clips) is refused; a held-out share near 1 keeps one sentence of each group in training, and lite's held-out sentences stay as they were."
    import math
    from emotion_omni_lite.dataset import plan_dialogues
    from emotion_omni_lite.dialogues import all_sentences, heldout_sentences
    for j in (1.0, 1.5):
        with pytest.raises(ConfigError, match=rf"data\.prosody_jitter: {j}: each prosody number is scaled by a factor from 1 - jitter "
                                              r"to 1 \+ jitter.*use 0 to below 1, e\.g\. 0\.05"):
            get_config('smoke', **{'data.prosody_jitter': j})
    assert get_config('smoke', **{'data.prosody_jitter': 0.5}).data.prosody_jitter == 0.5 and get_config('lite').data.prosody_jitter == 0.05
    groups = {}
    for s in all_sentences(): groups.setdefault((s['kind'], s['emotions']), []).append(s['sentence_id'])
    for frac in (0.2, 0.9, 0.995):
        held = heldout_sentences(frac, 0)
        assert all(len(held & set(ids)) == min(math.ceil(frac * len(ids)), len(ids) - 1) for ids in groups.values())
    assert len(heldout_sentences(0.2, 0)) == 17 + 6 * 2                  # lite and smoke: 17 of 84 tone sentences, 2 of 8 per emotion
    assert sorted(heldout_sentences(0.2, 0)) == [1, 5, 7, 11, 13, 16, 23, 29, 33, 36, 37, 46, 49, 50, 55, 69, 76, 88, 89, 94,
                                                 95, 101, 102, 110, 112, 120, 123, 126, 130]   # the set seed 0's lite data hold out
    plan = plan_dialogues(get_config('lite', **{'data.heldout_sentence_frac': 0.995}), 0)   # once no training row at all
    assert any(r['split'] == 'train' and r['sentence_kind'] == 'explicit' for r in plan)


def test_auto_never_picks_apples_gpu(monkeypatch):
    "`device = auto` on Apple silicon trains on the CPU, where the figures are measured; mps runs only when named."
    import torch
    from emotion_omni_lite.config import resolve_device, run_device
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: True)
    assert resolve_device('auto') == 'cpu' and run_device(get_settings(device='auto')) == 'cpu'
    assert resolve_device('mps') == 'mps'                               # named: it runs there
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert resolve_device('auto') == 'cuda'


def test_every_package_the_kit_imports_is_declared():
    "Each third-party module the kit imports is declared in pyproject.toml (not left to arrive through another package): at the module's top, in [project].dependencies; inside a function, there or in an extra."
    import ast, importlib.metadata as md, re, tomllib
    project = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
    name = lambda r: re.sub(r'[-_.]+', '-', re.match(r'[A-Za-z0-9._-]+', r)[0]).lower()
    required = {name(r) for r in project['dependencies']}
    extra = {name(r) for rs in project['optional-dependencies'].values() for r in rs}
    optional = {'google', 'cosyvoice', 'deepspeed', 'kaleido'}   # Colab's own; the full vocoder and ZeRO, installed by hand for
                                                                # those runs; static figures, drawn when it is there
    dists, missing = md.packages_distributions(), []
    for f in sorted((ROOT / 'emotion_omni_lite').glob('*.py')):
        tree = ast.parse(f.read_text())
        top = {id(n) for s in tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
               for n in ast.walk(s)}                                    # run when the module is imported
        for n in ast.walk(tree):
            mods = ([a.name for a in n.names] if isinstance(n, ast.Import) else
                    [n.module] if isinstance(n, ast.ImportFrom) and not n.level else [])
            for m in {m.split('.')[0] for m in mods} - set(sys.stdlib_module_names) - {'emotion_omni_lite'} - optional:
                declared = {name(d) for d in dists.get(m, [m])} & (required if id(n) in top else required | extra)
                if not declared: missing.append(f"{f.name}: {m} ({'top' if id(n) in top else 'in a function'})")
    assert not missing, (f"imported but not declared: {missing}; add each to pyproject.toml, [project].dependencies for one "
                         "imported at a module's top, else there or in the extra that needs it")


def test_offline_sets_the_hub_offline_even_over_an_inherited_zero(monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '0')
    get_settings(offline='true')
    import os; assert os.environ['HF_HUB_OFFLINE'] == '1'


def test_a_bad_judge_url_is_refused_with_the_settings_and_an_empty_argument_turns_the_judge_off(monkeypatch):
    with pytest.raises(ConfigError, match=r"judge_url .*'localhost:8000/v1'.*write it in full, e.g. http://localhost:8000/v1"):
        get_settings(judge_url='localhost:8000/v1')
    from emotion_omni_lite.metrics import judge_endpoint
    monkeypatch.setenv('EOL_JUDGE_URL', 'http://judge.test/v1'); monkeypatch.setenv('EOL_JUDGE_MODEL', 'm')
    assert judge_endpoint(get_settings()) == ('http://judge.test/v1/chat/completions', 'm')   # the settings read the variables
    assert judge_endpoint(get_settings(judge_url='')) is None                                  # … and the argument beats them
    assert judge_endpoint(None) == ('http://judge.test/v1/chat/completions', 'm')


def test_a_settings_file_with_only_a_presets_section_is_found_and_named(tmp_path, monkeypatch):
    from emotion_omni_lite.config import find_settings_file
    monkeypatch.delenv('EOL_SETTINGS', raising=False)
    ini = tmp_path / 'settings.ini'; ini.write_text('[emotion_omni_lite.lite]\nstages.stage1.steps = 300\n')
    (tmp_path / 'nbs').mkdir(); monkeypatch.chdir(tmp_path / 'nbs')
    assert find_settings_file() == ini
    with pytest.raises(ConfigError, match=r'add an \[emotion_omni_lite\] section \(it may be empty\)'): get_settings()
    assert get_config('lite').stages.stage1.steps == 300                # its fields are not skipped
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    with pytest.raises(ConfigError, match=r'add an \[emotion_omni_lite\] section'): get_settings()
    monkeypatch.setenv('EOL_SETTINGS', str(tmp_path / 'missing.ini'))   # a missing file: refused by both, not defaults
    for f in (get_settings, lambda: get_config('lite')):
        with pytest.raises(ConfigError, match=r'missing.ini does not exist: fix EOL_SETTINGS'): f()
    ini.write_text('[emotion_omni_lite]\nstages.stage1.steps = 300\n')
    with pytest.raises(ConfigError, match=r'stages.stage1.steps under \[emotion_omni_lite\] .*move it to \[emotion_omni_lite.<preset>\]'):
        get_settings(ini)
    ini.write_text('[emotion_omni_lite]\nseed = -1\n')
    with pytest.raises(ConfigError, match=rf"seed must be 0 or more, got -1 \(from {ini}\)"): get_settings(ini)
    monkeypatch.setenv('EOL_SEED', 'x')
    with pytest.raises(ConfigError, match=r"seed must be an integer, got 'x' \(from EOL_SEED\)"): get_settings(ini)


@pytest.mark.parametrize('field, value, said', [
    ('audio.hop_length', 159, r'audio\.hop_length: mel rate 100\.629 Hz must be exactly twice .*set hop_length=160'),
    ('lora.dropout', 1.0, r'lora\.dropout: 1\.0: .*from 0 \(none\) to below 1, e\.g\. 0\.05'),
    ('semantic_encoder.decoder_heads', 5, r'semantic_encoder\.decoder_heads: d_model=96 is not divisible by 5 heads'),
    ('data.n_query_voices', 200, r'data\.n_query_voices: 200: the kit lists 16 espeak query voices .*use at most 16'),
])
def test_sizes_that_cannot_work_name_their_own_field(field, value, said):
    with pytest.raises(ConfigError, match=said): get_config('lite', **{field: value})


def test_the_query_voice_limit_is_the_voices_the_kit_lists():
    from emotion_omni_lite.config import N_QUERY_VOICES
    from emotion_omni_lite.tts import QUERY_VOICES
    assert N_QUERY_VOICES == len(QUERY_VOICES)
    assert get_config('lite', **{'data.n_query_voices': N_QUERY_VOICES}).data.n_query_voices == N_QUERY_VOICES


def test_the_preset_is_not_a_field(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r'preset is chosen, not set as a field: write preset = <name> under \[emotion_omni_lite\].*--preset'):
        set_field(get_config('lite'), 'preset', 'full')
    ini = tmp_path / 'settings.ini'; ini.write_text('[emotion_omni_lite]\n[emotion_omni_lite.lite]\npreset = full\n')
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    with pytest.raises(ConfigError, match=r'\[emotion_omni_lite\.lite\]: preset is chosen, not set as a field'): get_config('lite')


def test_quoted_settings_are_read_as_their_text(tmp_path, monkeypatch):
    "`data_dir = \"my data\"` is the folder my data, as a preset's section reads a quoted value: one matching pair of quotes comes off, under [emotion_omni_lite] as there."
    from emotion_omni_lite.config import preset_overrides
    ini = tmp_path / 'settings.ini'
    ini.write_text('[emotion_omni_lite]\npreset = "smoke"\ndata_dir = "my data"\nout_dir = \'runs\'\nseed = "3"\noffline = \'true\'\n'
                   'judge_url = "http://judge.test/v1"\njudge_model = "gpt-4o"\n\n[emotion_omni_lite.smoke]\ndata.tts = "espeak"\n')
    s = get_settings(ini)
    assert (s.preset, s.data_dir, s.out_dir, s.seed, s.offline) == ('smoke', tmp_path / 'my data', tmp_path / 'runs', 3, True)
    assert (s.judge_url, s.judge_model) == ('http://judge.test/v1', 'gpt-4o')
    assert preset_overrides('smoke', ini) == {'data.tts': 'espeak'}      # the same rule on both sides
    ini.write_text('[emotion_omni_lite]\ndata_dir = ""\n')
    with pytest.raises(ConfigError, match='data_dir is empty'): get_settings(ini)
    ini.write_text('[emotion_omni_lite]\njudge_url = http://judge.test/v1\njudge_model = "gpt-4o\n')   # only a matching pair comes off
    assert get_settings(ini).judge_model == '"gpt-4o'


def test_a_home_folder_in_a_path_field_is_stored_expanded(tmp_path, monkeypatch):
    "`~/ckpt` in [emotion_omni_lite.full] (or --set) is the home folder's: stored so, since transformers would take '~/ckpt' for a hub name and the kit call a sound folder damaged."
    from emotion_omni_lite.config import parse_field, preset_overrides
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    f = tmp_path / 'conf' / 'settings.ini'; f.parent.mkdir()
    f.write_text('[emotion_omni_lite.full]\nemotion_encoder.pretrained = ~/ckpt/emo\nunits.manifest = ~/data/d.jsonl\n'
                 'llm.pretrained = Qwen/Qwen2.5-7B-Instruct\n')
    got = preset_overrides('full', f)
    assert got['emotion_encoder.pretrained'] == str(tmp_path / 'home' / 'ckpt' / 'emo')
    assert got['units.manifest'] == str(tmp_path / 'home' / 'data' / 'd.jsonl')
    assert got['llm.pretrained'] == 'Qwen/Qwen2.5-7B-Instruct'
    assert parse_field('vocoder.pretrained', '~/cv', 'full') == str(tmp_path / 'home' / 'cv')
    assert parse_field('data.assistant_voice', '~x', 'full') == '~x'  # a path field's only
    with pytest.raises(ConfigError, match=r"units\.manifest = '~nosuchuser1/d\.jsonl': this machine knows no such home folder"):
        parse_field('units.manifest', '~nosuchuser1/d.jsonl', 'full')


@pytest.mark.parametrize('section, right', [('emotion-omni-lite', 'emotion_omni_lite'), ('Emotion_Omni_Lite', 'emotion_omni_lite'),
                                            ('emotion_omni_lite.LITE', 'emotion_omni_lite.lite')])
def test_a_misspelt_section_is_refused_not_skipped(tmp_path, monkeypatch, section, right):
    "A settings.ini whose section is spelt near the kit's was skipped, and the defaults ran; now found and refused, naming the section and its spelling, whether found from a folder below or named in EOL_SETTINGS."
    import re
    from emotion_omni_lite.config import find_settings_file
    monkeypatch.delenv('EOL_SETTINGS', raising=False)
    ini = tmp_path / 'settings.ini'
    ini.write_text(f'[emotion_omni_lite]\n[{section}]\npreset = full\n' if '.' in section else f'[{section}]\npreset = full\n')
    before = ini.read_bytes()
    (tmp_path / 'nbs').mkdir(); monkeypatch.chdir(tmp_path / 'nbs')
    assert find_settings_file() == ini
    said = re.escape(f"{ini}: section [{section}] is spelt otherwise than the kit reads") + '.*' + re.escape(f"rename it [{right}]")
    for f in (get_settings, lambda: get_config('lite')):
        with pytest.raises(ConfigError, match=said): f()
    monkeypatch.setenv('EOL_SETTINGS', str(ini))
    with pytest.raises(ConfigError, match=said): get_settings()
    assert ini.read_bytes() == before
    ini.write_text('[tool]\nname = other\n')                           # another program's settings.ini: still passed over
    monkeypatch.delenv('EOL_SETTINGS')
    assert find_settings_file() != ini


def test_a_settings_folder_is_refused_naming_its_file(tmp_path, monkeypatch):
    "EOL_SETTINGS naming a folder raised a bare IsADirectoryError; now a ConfigError that names the file inside."
    import re
    (tmp_path / 'settings.ini').write_text('[emotion_omni_lite]\n')
    monkeypatch.setenv('EOL_SETTINGS', str(tmp_path))
    said = re.escape(f"settings file {tmp_path} is a folder, not a file: point EOL_SETTINGS (or the path given) at the settings "
                     f"file itself, e.g. {tmp_path / 'settings.ini'}")
    for f in (get_settings, lambda: get_config('lite')):
        with pytest.raises(ConfigError, match=said): f()
    with pytest.raises(ConfigError, match='is a folder'): get_settings(tmp_path)      # the path given, too
