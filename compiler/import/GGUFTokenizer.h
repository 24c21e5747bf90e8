// GGUF tokenizer metadata (tokenizer.ggml.*) to the Hugging Face files the runtime reads: a
// tokenizer.json equivalent to the one transformers builds from the same GGUF
// (AutoTokenizer.from_pretrained(dir, gguf_file=...), transformers 5), and a tokenizer_config.json
// naming the special tokens (and the chat template).
//
// tokenizer.ggml.model "gpt2": byte-level BPE; tokenizer.ggml.pre picks the pre-tokenizer: the
// Split regex transformers has for llama3 / llama-bpe / qwen2 / tekken / gpt-4o / ... followed by
// ByteLevel without its regex, or ByteLevel with GPT-2's regex for gpt-2 and smollm. Any other
// pre value is refused (transformers would silently use GPT-2's regex, which is not what llama.cpp
// does for those vocabularies).
// tokenizer.ggml.model "llama": SentencePiece-style BPE with byte fallback and Metaspace
// (prepend_scheme first); Phi-3 files get the Prepend + Replace normalizer instead. Without
// tokenizer.ggml.merges, merges are derived from the scores as transformers derives them.
// Control tokens become special added tokens, user-defined ones plain added tokens; BOS/EOS are
// added per tokenizer.ggml.add_bos_token / add_eos_token (BOS by default for "llama").
// Refused with llm::Error naming the key: other models (t5, gemma4, Gemma's sentencepiece files),
// malformed arrays, ids out of range, tokens that are not UTF-8.
#pragma once

#include "import/GGUF.h"

#include <string>

namespace llmc {

std::string ggufTokenizerJson(const GGUFFile &f);
std::string ggufTokenizerConfigJson(const GGUFFile &f);

} // namespace llmc
