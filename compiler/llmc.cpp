// llmc: the compiler driver. `llmc compile MODEL -o plan.fb` imports a Hugging Face model folder,
// runs the pass pipeline (Pipelines.cpp) and emits a plan; --emit shows any stage.
#include "Passes.h"
#include "Recipe.h"
#include "emit/EmitPlan.h"
#include "import/GGUF.h"
#include "import/GGUFModel.h"
#include "import/GGUFTokenizer.h"
#include "registry/KernelRegistry.h"
#include "support/Error.h"
#include "tune/Tuner.h"
#include "tuning/TuningDB.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/Timing.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct CompileOptions {
  std::string model;
  std::string output = "plan.fb";
  std::string target = "cpu";
  std::string emit = "plan";
  bool printIRAfterAll = false;
  bool timing = false;
  bool statistics = false;
  bool fusion = true;
  std::string tuningDb;
  std::string quant = "keep";
  std::vector<std::string> quantExclude;
  std::string kvCacheDtype = "f32";
  bool quiet = false;
};

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string readFile(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Tokenizer files travel inside the plan; the chat template comes from tokenizer_config.json or
// chat_template.jinja.
void collectTokenizer(const fs::path &dir, llmc::EmitInputs &in) {
  for (const char *name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                           "chat_template.jinja", "tokenizer.model"}) {
    if (fs::exists(dir / name))
      in.tokenizerFiles.emplace_back(name, readFile(dir / name));
  }
  if (fs::exists(dir / "chat_template.jinja"))
    in.chatTemplate = readFile(dir / "chat_template.jinja");
  if (fs::exists(dir / "tokenizer_config.json")) {
    auto j = nlohmann::json::parse(readFile(dir / "tokenizer_config.json"), nullptr, false);
    if (!j.is_discarded() && j.contains("chat_template") && j["chat_template"].is_string())
      in.chatTemplate = j["chat_template"].get<std::string>();
  }
}

// The name an op's location carries (the first of a fused location's).
std::string locName(mlir::Location loc) {
  if (auto n = mlir::dyn_cast<mlir::NameLoc>(loc))
    return n.getName().str();
  if (auto f = mlir::dyn_cast<mlir::FusedLoc>(loc))
    return f.getLocations().empty() ? std::string() : locName(f.getLocations().front());
  return {};
}

// Computing ops (llm ops other than weights, or kernel calls) of the first decoder layer.
int opsOfLayer0(mlir::ModuleOp module) {
  int n = 0;
  module.walk([&](mlir::Operation *op) {
    bool computes = mlir::isa<kplan::CallOp>(op) ||
                    (mlir::isa<llm::LLMDialect>(op->getDialect()) &&
                     !mlir::isa<llm::WeightOp, llm::WeightConcatOp>(op));
    if (computes && llvm::StringRef(locName(op->getLoc())).starts_with("layers.0."))
      ++n;
  });
  return n;
}

int64_t intAttr(mlir::Operation *op, llvm::StringRef name) {
  auto a = op ? op->getAttrOfType<mlir::IntegerAttr>(name) : nullptr;
  return a ? a.getInt() : 0;
}
int64_t tunedCalls(mlir::ModuleOp m) { return intAttr(m, "kplan.tuned_calls"); }
// ", per token-count bucket (1, 2-8, 9-64, 65+)" when the database had bucketed entries.
std::string tunedBuckets(mlir::ModuleOp m) {
  auto list = m->getAttrOfType<mlir::ArrayAttr>("kplan.tuned_buckets");
  if (!list)
    return {};
  std::string names;
  for (mlir::Attribute a : list)
    names += (names.empty() ? "" : ", ") + mlir::cast<mlir::StringAttr>(a).str();
  return fmt::format(" in {} token-count buckets ({})", list.size(), names);
}
int64_t unsharedBytes(mlir::ModuleOp m) {
  return intAttr(m.lookupSymbol("forward"), kplan::kUnsharedAttr);
}

// A model as the pipeline needs it, from a Hugging Face folder or a GGUF file.
struct ImportedModel {
  llmc::ModelConfig config;
  std::unique_ptr<llmc::WeightSource> weights;
  llmc::EmitInputs emit; // name, generation defaults, tokenizer files, chat template
};

std::string modelName(const fs::path &path) {
  fs::path p = path.lexically_normal();
  if (p.filename().empty())
    p = p.parent_path();
  return p.has_extension() && p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

ImportedModel importModel(const std::string &path) {
  ImportedModel m;
  m.emit.modelName = modelName(path);
  if (fs::is_regular_file(path) && fs::path(path).extension() == ".gguf") {
    llmc::GGUFFile file = llmc::GGUFFile::open(path);
    // The tokenizer travels as tokenizer.json: the runtime has one tokenizer front-end.
    m.emit.tokenizerFiles.emplace_back("tokenizer.json", llmc::ggufTokenizerJson(file));
    m.emit.tokenizerFiles.emplace_back("tokenizer_config.json",
                                       llmc::ggufTokenizerConfigJson(file));
    llmc::GGUFModel g = llmc::ggufModelFromFile(std::move(file));
    m.config = std::move(g.config);
    m.weights = std::move(g.weights);
    m.emit.generation = std::move(g.generation);
    m.emit.chatTemplate = std::move(g.chatTemplate);
    return m;
  }
  if (!fs::is_directory(path))
    llm::fail("'{}' is neither a model folder (config.json + *.safetensors) nor a .gguf file", path);
  m.config = llmc::loadModelConfig(path);
  m.weights = llmc::openSafetensorsFolder(path, m.config.quantization);
  m.emit.generation = llmc::loadGenerationConfig(path, m.config);
  collectTokenizer(path, m.emit);
  return m;
}

void printProgress(uint64_t done, uint64_t total) {
  if (!isatty(STDERR_FILENO) && done != total)
    return;
  int pct = total ? static_cast<int>(100.0 * done / total) : 100;
  int bar = pct / 4;
  std::cerr << fmt::format("\r  weights [{:<25}] {:3}% {:.1f}/{:.1f} MiB", std::string(bar, '#'),
                           pct, done / 1048576.0, total / 1048576.0)
            << (done == total ? "\n" : "") << std::flush;
}

int compile(const CompileOptions &o) {
  auto start = std::chrono::steady_clock::now();
  if (!llm::isKnownTarget(o.target))
    llm::fail("unknown target '{}' (known: {})", o.target, llm::registry::targetNames());
  if (o.emit != "llm" && o.emit != "kplan" && o.emit != "plan")
    llm::fail("--emit must be llm, kplan or plan, got '{}'", o.emit);
  ImportedModel model = importModel(o.model);
  const llmc::ModelConfig &config = model.config;
  double tImport = secondsSince(start);

  mlir::MLIRContext ctx;
  ctx.loadDialect<llm::LLMDialect, kplan::KPlanDialect, mlir::func::FuncDialect>();
  auto t1 = std::chrono::steady_clock::now();
  mlir::OwningOpRef<mlir::ModuleOp> module = llmc::buildForward(ctx, config, *model.weights, o.target);
  double tBuild = secondsSince(t1);
  int unfusedPerLayer = opsOfLayer0(*module);

  mlir::PassManager pm(&ctx);
  if (o.printIRAfterAll) {
    ctx.disableMultithreading();
    pm.enableIRPrinting([](mlir::Pass *, mlir::Operation *) { return false; },
                        [](mlir::Pass *, mlir::Operation *) { return true; },
                        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false);
  }
  if (o.timing)
    pm.enableTiming();
  if (o.statistics)
    pm.enableStatistics();
  if (o.emit == "llm")
    llm::buildImportPipeline(pm);
  else
    llm::buildCompilePipeline(pm,
                              llm::CompileOptions{o.fusion, o.tuningDb, o.quant, o.quantExclude});
  auto t2 = std::chrono::steady_clock::now();
  if (mlir::failed(pm.run(*module)))
    llm::fail("compilation of '{}' failed (see the diagnostics above)", o.model);
  double tPasses = secondsSince(t2);

  if (o.emit != "plan") {
    if (o.output == "-" || o.output == "plan.fb") {
      module->print(llvm::outs());
      llvm::outs() << "\n";
    } else {
      std::error_code ec;
      llvm::raw_fd_ostream out(o.output, ec);
      if (ec)
        llm::fail("cannot write '{}': {}", o.output, ec.message());
      module->print(out);
    }
    return 0;
  }

  llmc::EmitInputs in = std::move(model.emit);
  in.config = &config;
  in.kvCacheDtype = llmrt::parseKVCacheDtype(o.kvCacheDtype);
  in.weights = model.weights.get();
  auto t3 = std::chrono::steady_clock::now();
  llmc::EmitSummary s =
      llmc::emitPlan(*module, in, o.output, o.quiet ? llmc::Progress() : printProgress);
  double tEmit = secondsSince(t3);
  if (o.quiet)
    return 0;
  std::cerr << fmt::format("llmc: wrote {} and {}\n", o.output, s.weightFile);
  std::cerr << fmt::format("  model      {} ({}), {} layers, hidden {}, vocab {}\n", in.modelName,
                           config.architecture, config.numLayers, config.hiddenSize,
                           config.vocabSize);
  std::cerr << fmt::format("  target     {}\n", o.target);
  std::cerr << fmt::format("  kernels    {} calls:", s.numCalls);
  for (const auto &[k, n] : s.callsByKernel)
    std::cerr << fmt::format(" {} x{}", k, n);
  std::cerr << "\n";
  std::cerr << fmt::format("  per layer  {} kernel calls ({} before fusion)\n",
                           opsOfLayer0(*module), unfusedPerLayer);
  std::cerr << fmt::format("  tuning     {} of {} calls tuned{}{}\n", tunedCalls(*module),
                           s.numCalls, tunedBuckets(*module),
                           o.tuningDb.empty() ? " (no --tuning-db: registry defaults)" : "");
  std::cerr << fmt::format("  arena      {} bytes per token + {} bytes per logit row ({} bytes "
                           "per token without reuse)\n",
                           s.arenaBytesPerToken, s.arenaBytesPerLogitRow, unsharedBytes(*module));
  std::string byDType;
  for (const auto &[dtype, bytes] : s.bytesByDType)
    byDType += fmt::format("{}{} {:.2f} MiB", byDType.empty() ? "" : ", ", dtype,
                           bytes / 1048576.0);
  std::cerr << fmt::format("  weights    {} tensors, {:.2f} MiB ({}; --quant {})\n", s.numWeights,
                           s.weightBytes / 1048576.0, byDType, o.quant);
  std::cerr << fmt::format("  kv cache   {}\n", llmrt::kvCacheDtypeName(in.kvCacheDtype));
  std::cerr << fmt::format("  time       read {:.3f}s, import {:.3f}s, passes {:.3f}s, emit "
                           "{:.3f}s, total {:.3f}s\n",
                           tImport, tBuild, tPasses, tEmit, secondsSince(start));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// llmc tune

struct TuneCliOptions {
  std::string input; // a model (folder or .gguf) or a plan (.fb)
  std::string tokens = "1,8,64,512";
  bool list = false;
  llmc::tune::TuneOptions tune;
};

// A kernel call's parameters as the runtime decodes them.
llmc::tune::CallSite callSite(kplan::CallOp c) {
  llmc::tune::CallSite site{c.getKernel().str(), {}, {}};
  for (mlir::NamedAttribute na : c.getParams()) {
    std::string name = na.getName().str();
    mlir::Attribute a = na.getValue();
    if (auto i = mlir::dyn_cast<mlir::IntegerAttr>(a)) {
      site.params.setInt(name, i.getInt());
      site.ints[name] = i.getInt();
    } else if (auto f = mlir::dyn_cast<mlir::FloatAttr>(a)) {
      site.params.setFloat(name, f.getValueAsDouble());
    } else if (auto str = mlir::dyn_cast<mlir::StringAttr>(a)) {
      site.params.setString(name, str.str());
    } else if (auto arr = mlir::dyn_cast<mlir::DenseF32ArrayAttr>(a)) {
      site.params.setFloatArray(name, std::vector<float>(arr.asArrayRef().begin(),
                                                         arr.asArrayRef().end()));
    }
  }
  return site;
}

// The kernel calls of a plan file, or of a model compiled (in memory) for the target.
std::vector<llmc::tune::CallSite> tuneCalls(const std::string &input, const std::string &target) {
  if (fs::is_regular_file(input) && fs::path(input).extension() == ".fb")
    return llmc::tune::callsFromPlanFile(input);
  ImportedModel model = importModel(input);
  mlir::MLIRContext ctx;
  ctx.loadDialect<llm::LLMDialect, kplan::KPlanDialect, mlir::func::FuncDialect>();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      llmc::buildForward(ctx, model.config, *model.weights, target);
  mlir::PassManager pm(&ctx);
  llm::buildCompilePipeline(pm, llm::CompileOptions{});
  if (mlir::failed(pm.run(*module)))
    llm::fail("compilation of '{}' failed (see the diagnostics above)", input);
  std::vector<llmc::tune::CallSite> calls;
  module->walk([&](kplan::CallOp c) { calls.push_back(callSite(c)); });
  return calls;
}

std::vector<int64_t> parseTokens(const std::string &list) {
  std::vector<int64_t> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stoll(item, &used));
      if (used != item.size())
        throw std::invalid_argument(item);
    } catch (const std::exception &) {
      llm::fail("--tokens must be a comma-separated list of token counts, got '{}'", list);
    }
  }
  return out;
}

int tune(TuneCliOptions &o) {
  o.tune.tokens = parseTokens(o.tokens);
  llmc::tune::bucketsFromPoints(o.tune.tokens); // validates
  std::vector<llmc::tune::CallSite> calls = tuneCalls(o.input, o.tune.target);
  if (o.list) {
    for (const llmc::tune::PlannedProblem &p : llmc::tune::planSweep(calls, o.tune))
      std::cout << fmt::format("{} {} tokens {} (measured at {}): {} calls, {} of {} candidates\n",
                               p.problem.kernel, p.problem.shapeKey,
                               llmc::TuningDB::TokenRange{p.problem.bucket.min,
                                                          p.problem.bucket.max}
                                   .str(),
                               p.problem.bucket.measureRows, p.calls, p.candidates, p.fullSpace);
    return 0;
  }
  o.tune.log = &std::cerr;
  o.tune.tty = isatty(STDERR_FILENO);
  llmc::tune::TuneReport r = llmc::tune::runTune(calls, o.tune);
  std::cerr << fmt::format(
      "llmc tune: {} entries for {} calls on {} in {:.1f}s ({} measured now, {} from the existing "
      "file); {} candidates run, {} stopped early, {} rejected for wrong output\n",
      r.written + r.resumed, r.calls, o.tune.target, r.seconds, r.written, r.resumed, r.candidates,
      r.stoppedEarly, r.rejected);
  if (r.complete) {
    std::cerr << fmt::format("llmc tune: wrote {} ({} of {} entries: complete)\n", o.tune.output,
                             r.written + r.resumed, r.problems);
    return 0;
  }
  std::cerr << fmt::format("llmc tune: stopped ({}) after {} of {} entries; {} is valid, and "
                           "--resume continues the sweep\n",
                           r.stopReason, r.written + r.resumed, r.problems, o.tune.output);
  return r.stopReason == "interrupt" ? 130 : 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"llmc: compiles language models into llmrt plans"};
  app.require_subcommand(1);
  CompileOptions o;
  CLI::App *c = app.add_subcommand("compile", "compile a model (HF folder or GGUF file) into a plan");
  c->add_option("MODEL", o.model, "Hugging Face model folder (config.json + *.safetensors) or GGUF file")
      ->required();
  c->add_option("-o,--output", o.output, "plan file to write (with --emit=llm|kplan: IR file, "
                                         "default stdout)");
  c->add_option("--target", o.target,
                "compilation target: " + llm::registry::targetNames())->capture_default_str();
  c->add_option("--emit", o.emit, "stage to emit: llm, kplan or plan")->capture_default_str();
  c->add_flag("--print-ir-after-all", o.printIRAfterAll, "print the IR after every pass");
  c->add_flag("--mlir-timing", o.timing, "time every pass");
  c->add_flag("--mlir-pass-statistics", o.statistics, "print pass statistics");
  c->add_flag("-q,--quiet", o.quiet, "no progress or summary");
  c->add_flag("!--no-fusion", o.fusion, "skip the fusion passes (one kernel call per llm op)");
  c->add_option("--tuning-db", o.tuningDb, "tuning database (JSON) written by llmc tune");
  c->add_option("--quant", o.quant,
                "weight storage: keep (the checkpoint's q8_0/q4_0/q4_1/q5_0/q5_1/k-quant blocks and "
                "GPTQ/AWQ int4 groups, else f32), none (all f32), q8_0, q4_0, q4_1, q5_0, q5_1 (ggml blocks of 32), w8 "
                "(int8 per output "
                "channel), w4g32, w4g64, w4g128 (int4 groups, symmetric), w4g32a, w4g64a, w4g128a "
                "(int4 groups with zero points) or fp8 (e4m3fn per output channel)")
      ->capture_default_str();
  c->add_option("--quant-exclude", o.quantExclude,
                "weights to store otherwise: PATTERN (f32) or PATTERN=FORMAT (f32, keep or a "
                "--quant scheme), PATTERN a substring of weight names, e.g. lm_head,embed_tokens=q8_0")
      ->delimiter(',');
  c->add_option("--kv-cache-dtype", o.kvCacheDtype,
                "KV cache element type the plan asks for: f32, bf16 or fp8_e4m3 (fp8; one scale "
                "per token and kv head); llmrt --kv-cache-dtype overrides it")
      ->check([](const std::string &v) {
        try {
          llmrt::parseKVCacheDtype(v);
          return std::string();
        } catch (const llm::Error &e) {
          return std::string(e.what());
        }
      })
      ->capture_default_str();
  TuneCliOptions t;
  CLI::App *tc = app.add_subcommand("tune", "measure kernel variants and write a tuning database");
  tc->add_option("MODEL_OR_PLAN", t.input, "model (HF folder or GGUF file) or plan (.fb)")
      ->required();
  tc->add_option("--target", t.tune.target, "target to tune for: " + llm::registry::targetNames())
      ->capture_default_str();
  tc->add_option("-o,--output", t.tune.output, "tuning database to write")->capture_default_str();
  tc->add_option("--budget", t.tune.budgetSeconds,
                 "stop (cleanly, keeping finished entries) after this many seconds; 0: none")
      ->capture_default_str();
  tc->add_flag("--resume", t.tune.resume, "continue the sweep in the existing output file");
  tc->add_option("--tokens", t.tokens,
                 "token counts to measure; each is the top of a bucket, the last one open-ended")
      ->capture_default_str();
  tc->add_flag("--list", t.list, "print the problems and candidate counts without measuring");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  try {
    if (*tc)
      return tune(t);
    return compile(o);
  } catch (const llm::Error &e) {
    std::cerr << "llmc: error: " << e.what() << "\n";
    return 1;
  }
}
