"""Convert a checkpoint once into a vitzoo safetensors file that loads without conversion.

    python tools/convert_checkpoint.py rmt_t.pth rmt_t.safetensors --model rmt_t
    timm.create_model("rmt_t", pretrained=True, pretrained_cfg_overlay=dict(file="rmt_t.safetensors"))

IN is any checkpoint vitzoo reads (the authors' .pth/.pt/.bin or safetensors; bare, or nested under
model / model_ema / state_dict / ...). It goes through the same path as pretrained=True: the family's
checkpoint filter converts it, and it must load strictly (every weight, classifier included) into
timm.create_model(NAME). OUT holds the model's own state dict. Reading never runs pickled code.
"""
from __future__ import annotations

import argparse
import difflib
import os
import tempfile
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file

# importing vitzoo (any of its modules) registers its models with timm
from vitzoo.checkpoint import CheckpointError, load_checkpoint_file, unwrap_state_dict
from vitzoo.hub import file_sha256


def convert(source: Path, model_name: str, prefer_ema: bool) -> dict[str, torch.Tensor]:
    """The vitzoo-layout state dict of ``model_name`` with the weights of checkpoint ``source``."""
    state_dict = unwrap_state_dict(load_checkpoint_file(source), prefer_ema=prefer_ema)
    try:
        model = timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=dict(state_dict=state_dict))
    except RuntimeError as e:  # load_state_dict(strict=True): the classifier, which the filter check skips
        raise CheckpointError(
            f"{source} does not load strictly into {model_name}: {e}. If only the classifier differs, name "
            "the pretrained tag whose head the checkpoint has (e.g. NAME.in22k; see timm.list_pretrained(NAME + '*'))"
        ) from e
    # Shared weights appear under every name that uses them; safetensors stores each as its own tensor.
    return {key: value.detach().clone().contiguous() for key, value in model.state_dict().items()}


def write_safetensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """Write to a temporary file beside ``path`` and rename it: an interrupted run leaves no partial OUT."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="the checkpoint to convert (authors', timm's or vitzoo's layout)")
    parser.add_argument("output", type=Path, help="the vitzoo safetensors file to write (.safetensors)")
    parser.add_argument("--model", required=True, help="the timm model name the checkpoint is for, e.g. rmt_t")
    parser.add_argument(
        "--ema",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when the file holds both, take the EMA weights (model_ema / state_dict_ema; the default) or not",
    )
    parser.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    args = parser.parse_args(argv)

    if not timm.is_model(args.model):
        close = difflib.get_close_matches(args.model, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see timm.list_models('pattern*')"
        parser.error(f"unknown model {args.model!r}{hint}")
    if not args.input.is_file():
        parser.error(f"checkpoint file {str(args.input)!r} does not exist")
    if args.output.suffix != ".safetensors":
        parser.error(f"the output is a safetensors file: name it *.safetensors, not {args.output.name!r}")
    if args.output.exists() and not args.force:
        parser.error(f"{args.output} exists; pass --force to overwrite it")
    if not args.output.parent.is_dir():
        parser.error(f"the output folder {str(args.output.parent)!r} does not exist")

    try:
        tensors = convert(args.input, args.model, prefer_ema=args.ema)
    except CheckpointError as e:
        raise SystemExit(f"error: {e}") from None
    metadata = {"format": "pt", "model": args.model, "converted_from": args.input.name}
    write_safetensors(tensors, args.output, metadata)
    print(f"wrote {len(tensors)} tensors of {args.model} to {args.output}")
    print(f"SHA-256 {file_sha256(args.output)}")
    print(
        f"load it with: timm.create_model({args.model!r}, pretrained=True, "
        f"pretrained_cfg_overlay=dict(file={str(args.output)!r}))"
    )


if __name__ == "__main__":
    main()
