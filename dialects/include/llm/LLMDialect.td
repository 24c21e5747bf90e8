#ifndef LLM_DIALECT_TD
#define LLM_DIALECT_TD

include "mlir/IR/OpBase.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let cppNamespace = "::llm";
  let summary = "Transformer-level operations of decoder-only language models";
  let description = [{
    The `llm` dialect describes one forward step of a decoder-only model over a flattened batch of
    tokens: every activation is a `tensor<?xNxf32>` whose dynamic dimension is the step's token
    count. Weights are named by `llm.weight` and carry no data in the IR (the data stays in the
    checkpoint until plan emission). The KV cache is implicit: `llm.attention` of layer `L` reads
    and appends to the cache of layer `L`. See docs/RationaleLLM.md.
  }];
}

class LLM_Op<string mnemonic, list<Trait> traits = []> : Op<LLM_Dialect, mnemonic, traits>;

// A matrix of activations: one row per token of the step.
def LLM_Rows : 2DTensorOf<[F32]>;
def LLM_Ids : 1DTensorOf<[I32]>;
def LLM_Weight : TensorOf<[F32]>;

#endif // LLM_DIALECT_TD
