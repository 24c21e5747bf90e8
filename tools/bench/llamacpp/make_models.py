#!/usr/bin/env python3
"""Makes the default model at each benchmarked precision, same weights:

  F32   every tensor of the default Q4_1 GGUF dequantized by the gguf package (gguf.quants) and
        written with GGUFWriter, every metadata key kept (general.file_type says ALL_F32);
  Q8_0  llama.cpp's own quantizer on the F32 file (llama_model_quantize), every tensor Q8_0;
  Q4_0  the same, Q4_0 weights with Q8_0 token embeddings (= the tied output matrix), the scheme of
        the default Q4_1 file (llama.cpp would otherwise pick Q6_K for that tensor);
  Q4_1  the default model file itself (Q4_1 weights, Q8_0 embeddings);
  Q4_K_M  llama.cpp's quantizer on the F32 file with its own Q4_K_M choices (the most common
        GGUF mix): as the hidden size, 576, is not a multiple of 256, most matrices fall back to
        Q5_0 and only ffn_down is Q4_K / Q6_K.

    make_models.py SOURCE.gguf OUT_DIR      (prints a JSON {precision: path})

Run with the benchmark venv's python (tools/bench/llamacpp/setup.sh). Idempotent: an existing
output file is kept.
"""
import ctypes
import json
import pathlib
import shutil
import sys

import numpy as np
import gguf


def write_f32(source: pathlib.Path, out: pathlib.Path) -> None:
    reader = gguf.GGUFReader(source)
    arch = reader.get_field("general.architecture").contents()
    tmp = out.with_suffix(".tmp")
    writer = gguf.GGUFWriter(tmp, arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue  # written by GGUFWriter itself
        vtype = field.types[0]
        value = field.contents()
        if key == "general.file_type":
            value = int(gguf.LlamaFileType.ALL_F32)
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, vtype, sub_type=sub_type)
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        writer.add_tensor(t.name, np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.rename(out)


def quantize(source: pathlib.Path, out: pathlib.Path, ftype: int, embedding_type=None) -> None:
    """embedding_type None: llama.cpp's own choice for the token embeddings and the output."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = 2
    params.ftype = ftype
    if embedding_type is not None:
        params.token_embedding_type = embedding_type
        params.output_tensor_type = embedding_type
    tmp = out.with_suffix(".tmp")
    rc = llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(),
                                        ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize failed ({rc}) for {out}")
    tmp.rename(out)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, out_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = source.name.split(".")[0]
    files = {p: out_dir / f"{stem}.{p}.gguf" for p in ("F32", "Q8_0", "Q4_0", "Q4_1", "Q4_K_M")}
    if not files["Q4_1"].exists():
        shutil.copyfile(source, files["Q4_1"])
    if not files["F32"].exists():
        write_f32(source, files["F32"])
    import llama_cpp

    q8 = llama_cpp.GGML_TYPE_Q8_0
    if not files["Q8_0"].exists():
        quantize(files["F32"], files["Q8_0"], llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, q8)
    if not files["Q4_0"].exists():
        quantize(files["F32"], files["Q4_0"], llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0, q8)
    if not files["Q4_K_M"].exists():
        quantize(files["F32"], files["Q4_K_M"], llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M)
    for precision, path in files.items():  # what each file really holds
        types = sorted({t.tensor_type.name for t in gguf.GGUFReader(path).tensors})
        print(f"{precision}: {path} ({', '.join(types)})", file=sys.stderr)
    print(json.dumps({p: str(f) for p, f in files.items()}))


if __name__ == "__main__":
    main()
