// The Llama family recipe: LlamaForCausalLM (Llama 2/3, TinyLlama, SmolLM), MistralForCausalLM and
// Qwen2ForCausalLM share one decoder layer:
//   h = x + o_proj(attention(rope(q_proj(norm1(x))), rope(k_proj(..)), v_proj(..)))
//   x' = h + down_proj(act(gate_proj(norm2(h))) * up_proj(norm2(h)))
// They differ only in what the config already says: q/k/v biases (Qwen2), per-layer sliding
// windows (Mistral, Qwen2), tied embeddings, rope scaling.
#include "Recipe.h"

#include "llm/LLMDialect.h"
#include "support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <cctype>
#include <cmath>

namespace llmc {
namespace {

using namespace mlir;

// "q4_1" for a GGUF block type name ("Q4_1", "Q6_K"), "w4g128a" for a GPTQ / AWQ linear
// ("W4G128A"); empty for float storage (F32, BF16, ...).
std::string blockFormat(const std::string &dtype) {
  if (dtype.empty() || (dtype[0] != 'Q' && dtype.rfind("W4G", 0) != 0))
    return {};
  std::string f = dtype;
  for (char &c : f)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return f;
}

class LlamaFamilyBuilder {
public:
  LlamaFamilyBuilder(MLIRContext &ctx, const ModelConfig &c, const WeightSource &w)
      : ctx_(ctx), c_(c), weights_(w), b_(&ctx) {}

  OwningOpRef<ModuleOp> build(StringRef target) {
    checkWeights();
    auto loc = NameLoc::get(b_.getStringAttr(c_.architecture));
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    (*module)->setAttr("llm.target", b_.getStringAttr(target));
    (*module)->setAttr("llm.architecture", b_.getStringAttr(c_.architecture));
    b_.setInsertionPointToEnd(module->getBody());
    auto ids = RankedTensorType::get({ShapedType::kDynamic}, b_.getI32Type());
    auto logitsType = rows(c_.vocabSize);
    auto fn = b_.create<func::FuncOp>(loc, "forward",
                                      b_.getFunctionType({ids, ids, ids}, {logitsType}));
    fn.setArgAttr(0, "llm.input", b_.getStringAttr("token_ids"));
    fn.setArgAttr(1, "llm.input", b_.getStringAttr("positions"));
    fn.setArgAttr(2, "llm.input", b_.getStringAttr("logit_rows"));
    Block *entry = fn.addEntryBlock();
    b_.setInsertionPointToEnd(entry);
    tokenIds_ = entry->getArgument(0);
    positions_ = entry->getArgument(1);
    Value x = b_.create<llm::EmbeddingOp>(at("embed"), rows(c_.hiddenSize), tokenIds_,
                                          weight("model.embed_tokens.weight"));
    for (int64_t l = 0; l < c_.numLayers; ++l)
      x = layer(x, l);
    x = rmsNorm(x, "model.norm.weight", "final_norm");
    std::string head = c_.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    Value logits = b_.create<llm::LogitsOp>(at("lm_head"), logitsType, x, entry->getArgument(2),
                                            weight(head));
    b_.create<func::ReturnOp>(at("lm_head"), logits);
    return module;
  }

private:
  // Every tensor the recipe will read, with its expected shape; checked before building.
  void checkWeights() {
    auto expect = [&](const std::string &name, std::vector<int64_t> shape) {
      const SourceTensor *t = weights_.find(name);
      if (!t)
        llm::fail("{}: tensor '{}' is missing (expected shape [{}] for {})", weights_.location(),
                  name, fmt::join(shape, ", "), c_.architecture);
      if (t->shape != shape)
        llm::fail("{}: tensor '{}' has shape [{}], expected [{}] from config.json", t->file, name,
                  fmt::join(t->shape, ", "), fmt::join(shape, ", "));
      if (!t->convertible)
        llm::fail("{}: tensor '{}' is stored as {}, which llmc cannot convert", t->file, name,
                  t->dtype);
      shapes_[name] = shape;
    };
    int64_t h = c_.hiddenSize, q = c_.numHeads * c_.headDim, kv = c_.numKVHeads * c_.headDim;
    int64_t ff = c_.intermediateSize;
    expect("model.embed_tokens.weight", {c_.vocabSize, h});
    for (int64_t l = 0; l < c_.numLayers; ++l) {
      std::string p = fmt::format("model.layers.{}.", l);
      expect(p + "input_layernorm.weight", {h});
      expect(p + "post_attention_layernorm.weight", {h});
      expect(p + "self_attn.q_proj.weight", {q, h});
      expect(p + "self_attn.k_proj.weight", {kv, h});
      expect(p + "self_attn.v_proj.weight", {kv, h});
      expect(p + "self_attn.o_proj.weight", {h, q});
      if (c_.attentionBias) {
        expect(p + "self_attn.q_proj.bias", {q});
        expect(p + "self_attn.k_proj.bias", {kv});
        expect(p + "self_attn.v_proj.bias", {kv});
      }
      expect(p + "mlp.gate_proj.weight", {ff, h});
      expect(p + "mlp.up_proj.weight", {ff, h});
      expect(p + "mlp.down_proj.weight", {h, ff});
      if (c_.mlpBias) {
        expect(p + "mlp.gate_proj.bias", {ff});
        expect(p + "mlp.up_proj.bias", {ff});
        expect(p + "mlp.down_proj.bias", {h});
      }
    }
    expect("model.norm.weight", {h});
    if (!c_.tieWordEmbeddings)
      expect("lm_head.weight", {c_.vocabSize, h});
  }

  Value layer(Value x, int64_t l) {
    std::string p = fmt::format("model.layers.{}.", l);
    std::string tag = fmt::format("layers.{}.", l);
    Value h = rmsNorm(x, p + "input_layernorm.weight", tag + "input_norm");
    int64_t qw = c_.numHeads * c_.headDim, kvw = c_.numKVHeads * c_.headDim;
    Value q = linear(h, p + "self_attn.q_proj", qw, c_.attentionBias, tag + "q_proj");
    Value k = linear(h, p + "self_attn.k_proj", kvw, c_.attentionBias, tag + "k_proj");
    Value v = linear(h, p + "self_attn.v_proj", kvw, c_.attentionBias, tag + "v_proj");
    q = rope(q, c_.numHeads, tag + "q_rope");
    k = rope(k, c_.numKVHeads, tag + "k_rope");
    Value a = b_.create<llm::AttentionOp>(
        at(tag + "attention"), rows(qw), ValueRange{q, k, v}, Value(), b_.getI64IntegerAttr(l),
        b_.getI64IntegerAttr(c_.numHeads), b_.getI64IntegerAttr(c_.numKVHeads),
        b_.getI64IntegerAttr(c_.headDim), b_.getF64FloatAttr(1.0 / std::sqrt((double)c_.headDim)),
        b_.getI64IntegerAttr(c_.slidingWindow[l]), DictionaryAttr());
    Value o = linear(a, p + "self_attn.o_proj", c_.hiddenSize, false, tag + "o_proj");
    x = b_.create<llm::AddOp>(at(tag + "attn_residual"), x, o);
    h = rmsNorm(x, p + "post_attention_layernorm.weight", tag + "post_attention_norm");
    Value gate = linear(h, p + "mlp.gate_proj", c_.intermediateSize, c_.mlpBias, tag + "gate_proj");
    Value up = linear(h, p + "mlp.up_proj", c_.intermediateSize, c_.mlpBias, tag + "up_proj");
    Value m = b_.create<llm::GatedActOp>(at(tag + "act"), gate, up,
                                         b_.getStringAttr(c_.hiddenAct));
    Value d = linear(m, p + "mlp.down_proj", c_.hiddenSize, c_.mlpBias, tag + "down_proj");
    return b_.create<llm::AddOp>(at(tag + "mlp_residual"), x, d);
  }

  Value rmsNorm(Value x, const std::string &w, const std::string &tag) {
    return b_.create<llm::RMSNormOp>(at(tag), x.getType(), x, weight(w),
                                     b_.getF64FloatAttr(c_.rmsNormEps));
  }

  Value linear(Value x, const std::string &prefix, int64_t out, bool bias, const std::string &tag) {
    Value w = weight(prefix + ".weight");
    Value bv = bias ? weight(prefix + ".bias") : Value();
    return b_.create<llm::LinearOp>(at(tag), rows(out), x, w, bv, StringAttr());
  }

  Value rope(Value x, int64_t heads, const std::string &tag) {
    const RopeConfig &r = c_.rope;
    StringRef scaling = r.kind == RopeConfig::Kind::Linear   ? "linear"
                        : r.kind == RopeConfig::Kind::Llama3 ? "llama3"
                                                             : "none";
    return b_.create<llm::RopeOp>(
        at(tag), x.getType(), x, positions_, b_.getI64IntegerAttr(heads),
        b_.getI64IntegerAttr(c_.headDim), b_.getF64FloatAttr(r.theta), b_.getStringAttr(scaling),
        b_.getF64FloatAttr(r.factor), b_.getF64FloatAttr(r.lowFreqFactor),
        b_.getF64FloatAttr(r.highFreqFactor), b_.getI64IntegerAttr(r.originalMaxPositions));
  }

  // One llm.weight op per tensor name, created at the top of the function.
  Value weight(const std::string &name) {
    auto it = created_.find(name);
    if (it != created_.end())
      return it->second;
    OpBuilder::InsertionGuard guard(b_);
    // Weights are declared at the top of the function, in first-use order.
    if (lastWeight_)
      b_.setInsertionPointAfter(lastWeight_);
    else
      b_.setInsertionPointToStart(b_.getInsertionBlock());
    auto type = RankedTensorType::get(shapes_.at(name), b_.getF32Type());
    // A tensor the checkpoint stores in a block format says so (llm-quantize-weights may keep it).
    StringAttr sourceFormat;
    if (std::string f = blockFormat(weights_.find(name)->dtype); !f.empty())
      sourceFormat = b_.getStringAttr(f);
    auto op = b_.create<llm::WeightOp>(at(name), type, b_.getStringAttr(name), StringAttr(),
                                       sourceFormat);
    lastWeight_ = op;
    Value v = op;
    created_[name] = v;
    return v;
  }

  RankedTensorType rows(int64_t width) {
    return RankedTensorType::get({ShapedType::kDynamic, width}, b_.getF32Type());
  }
  Location at(const std::string &tag) { return NameLoc::get(b_.getStringAttr(tag)); }

  MLIRContext &ctx_;
  const ModelConfig &c_;
  const WeightSource &weights_;
  OpBuilder b_;
  Value tokenIds_, positions_;
  std::map<std::string, std::vector<int64_t>> shapes_;
  std::map<std::string, Value> created_;
  Operation *lastWeight_ = nullptr;
};

} // namespace

OwningOpRef<ModuleOp> buildForward(MLIRContext &ctx, const ModelConfig &config,
                                   const WeightSource &weights, llvm::StringRef target) {
  ctx.loadDialect<llm::LLMDialect, func::FuncDialect>();
  if (config.architecture == "LlamaForCausalLM" || config.architecture == "MistralForCausalLM" ||
      config.architecture == "Qwen2ForCausalLM")
    return LlamaFamilyBuilder(ctx, config, weights).build(target);
  llm::fail("no recipe for architecture '{}'", config.architecture);
}

} // namespace llmc
