"""Exercise 00.1: change the full preset from the settings file, not from code. Give `settings.ini` a section
`[emotion_omni_lite.full]` with `llm.num_layers = 2` and `stages.stage1.gradient_checkpointing = true`; read
`get_config('full')` and the lite config; then write a field that does not exist and a value of the wrong type.

The section's fields are typed as the config fields are (`'2'` becomes the integer 2, `'true'` a bool) and apply to
the full preset only: lite keeps its 4 layers. A misspelt field or a value that does not parse is refused with the
file, the section and the field named, before anything runs. Run on `lite`'s kit: full's LLM went from 28 to 2
layers, lite's stayed at 4.
"""
import os, tempfile
from pathlib import Path
from emotion_omni_lite.config import ConfigError, get_config


def main() -> dict:
    out, old = {}, os.environ.get('EOL_SETTINGS')
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / 'settings.ini'
        os.environ['EOL_SETTINGS'] = str(f)
        try:
            f.write_text('[emotion_omni_lite]\npreset = lite\n\n[emotion_omni_lite.full]\nllm.num_layers = 2\n'
                         'stages.stage1.gradient_checkpointing = true\n')
            full, lite = get_config('full'), get_config('lite')
            out['full_layers'], out['checkpointing'], out['lite_layers'] = full.llm.num_layers, full.stages.stage1.gradient_checkpointing, lite.llm.num_layers
            for bad in ('llm.num_layerz = 2', 'llm.num_layers = two'):
                f.write_text(f'[emotion_omni_lite]\n\n[emotion_omni_lite.full]\n{bad}\n')
                try: get_config('full'); out[bad] = 'accepted'
                except ConfigError as e: out[bad] = str(e)
        finally:
            if old is None: os.environ.pop('EOL_SETTINGS', None)
            else: os.environ['EOL_SETTINGS'] = old
    return out


if __name__ == '__main__':
    for k, v in main().items(): print(f"{k}: {v}")
