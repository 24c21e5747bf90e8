#include "server/OpenAIServer.h"

#include "server/GenerationJob.h"
#include "server/OpenAIRequest.h"
#include "server/OpenAIResponse.h"
#include "support/Error.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <chrono>
#include <random>

namespace llmrt::server {

namespace {

using Clock = std::chrono::steady_clock;

void respondJson(http::ResponseWriter &writer, int status, const nlohmann::ordered_json &body) {
  writer.respond(status, dumpJson(body));
}

// A seed for requests that give none: different for every request.
uint64_t freshSeed() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                          uint64_t(Clock::now().time_since_epoch().count()));
  return rng() >> 1;
}

} // namespace

OpenAIServer::OpenAIServer(const LoadedPlan &plan, OpenAIServerOptions options)
    : model_(ServedModel::fromPlan(plan, options.servedModelName)) {
  AsyncEngineOptions engineOptions;
  engineOptions.maxPendingRequests = options.maxPendingRequests;
  engineOptions.stepObserver = [this](const EngineOutput &, const EngineSnapshot &s) {
    metrics_.observeEngine(s);
  };
  engine_ = std::make_unique<AsyncEngine>(plan, options.engine, std::move(engineOptions));
  model_.maxModelLen = engine_->maxModelLen();
  model_.vocabSize = engine_->vocabSize();
}

OpenAIServer::~OpenAIServer() { stop(); }

void OpenAIServer::stop() {
  if (engine_)
    engine_->stop();
}

std::vector<OpenAIServer::Route> OpenAIServer::routes() const {
  return {{"POST", "/v1/completions", false},
          {"POST", "/v1/chat/completions", false},
          {"GET", "/v1/models", false},
          {"GET", "/v1/models/" + model_.name, false},
          {"POST", "/tokenize", false},
          {"POST", "/detokenize", false},
          {"GET", "/health", true},
          {"GET", "/metrics", true}};
}

void OpenAIServer::handle(const http::Request &request,
                          std::shared_ptr<http::ResponseWriter> writer) {
  try {
    const std::string &path = request.path;
    if (path == "/v1/completions")
      completions(request, writer);
    else if (path == "/v1/chat/completions")
      chat(request, writer);
    else if (path == "/tokenize")
      tokenize(request, *writer);
    else if (path == "/detokenize")
      detokenize(request, *writer);
    else if (path == "/v1/models" || path.starts_with("/v1/models/"))
      models(request, *writer);
    else if (path == "/health")
      writer->respond(engine_->snapshot().failed ? 503 : 200, "{}");
    else if (path == "/metrics")
      writer->respond(200, metrics_.registry.render(),
                      std::string(metrics::Registry::kContentType));
    else
      throw ApiError(404, fmt::format("There is no route {} {}.", request.method, path), "",
                     "not_found");
  } catch (const ApiError &e) {
    metrics_.errors.labels({std::to_string(e.status)}).inc();
    respondJson(*writer, e.status, errorJson(e));
  } catch (const llm::Error &e) {
    // Input the tokenizer or the chat template refused (raise_exception in a template, text it
    // cannot encode): the client's request, not a server fault.
    metrics_.errors.labels({"400"}).inc();
    respondJson(*writer, 400, errorJson(ApiError::badRequest(e.what(), "", "invalid_request")));
  } catch (const std::exception &e) {
    metrics_.errors.labels({"500"}).inc();
    respondJson(*writer, 500,
                errorJson(ApiError(500, fmt::format("Internal server error: {}", e.what()))));
  }
}

namespace {

void checkModel(const ServedModel &model, const std::string &name, bool optional = false) {
  if ((optional && name.empty()) || name == model.name)
    return;
  throw ApiError::modelNotFound(name);
}

// The context: prompt tokens plus max_tokens must fit in max_model_len (vLLM's messages).
int maxTokensFor(const ServedModel &model, size_t promptTokens, std::optional<int> maxTokens,
                 const char *param) {
  const int limit = model.maxModelLen;
  if (promptTokens == 0)
    throw ApiError::badRequest("The prompt is empty: it must have at least one token.", param);
  if (promptTokens >= size_t(limit))
    throw ApiError::badRequest(
        fmt::format("This model's maximum context length is {} tokens. However, your request "
                    "has {} input tokens. Please reduce the length of the input.",
                    limit, promptTokens),
        param, "context_length_exceeded");
  if (maxTokens && promptTokens + size_t(*maxTokens) > size_t(limit))
    throw ApiError::badRequest(
        fmt::format("This model's maximum context length is {} tokens. However, you requested "
                    "{} tokens ({} in the input, {} in the completion). Please reduce the length "
                    "of the input or of the completion.",
                    limit, promptTokens + size_t(*maxTokens), promptTokens, *maxTokens),
        "max_tokens", "context_length_exceeded");
  return maxTokens ? *maxTokens : limit - static_cast<int>(promptTokens);
}

void checkTokenIds(const ServedModel &model, const std::vector<int32_t> &ids, const char *param) {
  for (int32_t id : ids)
    if (id < 0 || id >= model.vocabSize)
      throw ApiError::badRequest(
          fmt::format("Token id {} is outside the vocabulary [0, {}).", id, model.vocabSize),
          param);
}

Request engineRequest(const ServedModel &model, std::string id, std::vector<int32_t> tokens,
                      const SamplingRequest &s, int maxTokens) {
  StopParams stop;
  stop.maxTokens = maxTokens;
  stop.minTokens = std::min(s.minTokens, maxTokens);
  stop.ignoreEos = s.ignoreEos;
  stop.stopTokenIds = s.stopTokenIds;
  SamplingParams p;
  p.temperature = s.temperature.value_or(model.defaults.temperature);
  p.topP = s.topP.value_or(model.defaults.topP);
  p.topK = s.topK.value_or(model.defaults.topK);
  p.minP = s.minP;
  p.presencePenalty = s.presencePenalty;
  p.frequencyPenalty = s.frequencyPenalty;
  p.repetitionPenalty = s.repetitionPenalty;
  p.seed = s.seed ? *s.seed : freshSeed();
  p.logprobs = s.logprobs ? *s.logprobs : -1;
  Request r(std::move(id), std::move(tokens), std::move(stop), p, s.priority);
  if (!s.cacheSalt.empty())
    r.cacheSalt = XXH3_64bits(s.cacheSalt.data(), s.cacheSalt.size()) | 1;
  return r;
}

ResponseHeader responseHeader(const ServedModel &model, const SamplingRequest &s,
                              std::string_view prefix) {
  ResponseHeader h;
  h.id = s.requestId.empty() ? newResponseId(prefix) : std::string(prefix) + s.requestId;
  h.created = unixTimeNow();
  h.model = model.name;
  h.includeUsage = s.stream && s.includeUsage;
  return h;
}

// transformers' apply_chat_template(continue_final_message=True): the rendered text ends right
// after the final message's content (the template's end-of-turn tokens are cut off).
std::string cutAfterFinalMessage(const std::string &rendered,
                                 const nlohmann::ordered_json &messages) {
  const nlohmann::ordered_json &content = messages.back()["content"];
  std::string last;
  if (content.is_string())
    last = content.get<std::string>();
  else if (content.is_array() && !content.empty() && content.back().contains("text"))
    last = content.back()["text"].get<std::string>();
  size_t at = last.empty() ? std::string::npos : rendered.rfind(last);
  if (at == std::string::npos)
    throw ApiError::badRequest("continue_final_message: the final message's content does not "
                               "appear in the rendered chat template, so it cannot be continued.",
                               "continue_final_message");
  return rendered.substr(0, at + last.size());
}

std::string renderChat(const ServedModel &model, const nlohmann::ordered_json &messages,
                       const nlohmann::ordered_json &tools, bool addGenerationPrompt,
                       bool continueFinalMessage, const nlohmann::ordered_json &kwargs) {
  if (!model.chatTemplate)
    throw ApiError::badRequest("This model has no chat template, so chat completions are not "
                               "available; use /v1/completions with a formatted prompt.",
                               "messages", "no_chat_template");
  chat::ChatRenderOptions options;
  options.addGenerationPrompt = addGenerationPrompt;
  options.bosToken = model.bosToken;
  options.eosToken = model.eosToken;
  options.extra = kwargs;
  if (!tools.is_null())
    options.extra["tools"] = tools;
  std::string rendered = model.chatTemplate->render(messages, options);
  return continueFinalMessage ? cutAfterFinalMessage(rendered, messages) : rendered;
}

} // namespace

void OpenAIServer::completions(const http::Request &request,
                               std::shared_ptr<http::ResponseWriter> writer) {
  const auto arrival = Clock::now();
  CompletionRequest req = parseCompletionRequest(request.body);
  checkModel(model_, req.model);
  if (req.echo && req.sampling.logprobs)
    throw ApiError::badRequest("echo together with logprobs is not supported (prompt "
                               "log-probabilities are not computed).",
                               "echo", "unsupported_parameter");
  ResponseHeader header = responseHeader(model_, req.sampling, "cmpl-");
  std::vector<Request> requests;
  std::vector<JobPrompt> prompts;
  for (size_t i = 0; i < req.prompts.size(); ++i) {
    const PromptInput &in = req.prompts[i];
    JobPrompt p;
    if (in.isTokens) {
      p.tokens = in.tokens;
      checkTokenIds(model_, p.tokens, "prompt");
      if (req.echo)
        p.echo = model_.tokenizer->decode(p.tokens, req.sampling.skipSpecialTokens);
    } else {
      p.tokens = model_.tokenizer->encode(in.text, req.addSpecialTokens);
      if (req.echo)
        p.echo = in.text;
    }
    int maxTokens = maxTokensFor(model_, p.tokens.size(), req.sampling.maxTokens, "prompt");
    requests.push_back(engineRequest(model_, fmt::format("{}-{}", header.id, i), p.tokens,
                                     req.sampling, maxTokens));
    prompts.push_back(std::move(p));
  }
  auto job = std::make_shared<GenerationJob>(Endpoint::Completions, model_, metrics_,
                                             std::move(header), req.sampling, std::move(writer),
                                             arrival);
  job->start(*engine_, std::move(requests), std::move(prompts));
}

void OpenAIServer::chat(const http::Request &request,
                        std::shared_ptr<http::ResponseWriter> writer) {
  const auto arrival = Clock::now();
  ChatRequest req = parseChatRequest(request.body);
  checkModel(model_, req.model);
  std::string text = renderChat(model_, req.messages, req.tools, req.addGenerationPrompt,
                                req.continueFinalMessage, req.chatTemplateKwargs);
  JobPrompt p;
  p.tokens = model_.tokenizer->encode(text, req.addSpecialTokens);
  int maxTokens = maxTokensFor(model_, p.tokens.size(), req.sampling.maxTokens, "messages");
  ResponseHeader header = responseHeader(model_, req.sampling, "chatcmpl-");
  std::vector<Request> requests;
  requests.push_back(engineRequest(model_, header.id, p.tokens, req.sampling, maxTokens));
  std::vector<JobPrompt> prompts;
  prompts.push_back(std::move(p));
  auto job = std::make_shared<GenerationJob>(Endpoint::Chat, model_, metrics_, std::move(header),
                                             req.sampling, std::move(writer), arrival);
  job->start(*engine_, std::move(requests), std::move(prompts));
}

void OpenAIServer::tokenize(const http::Request &request, http::ResponseWriter &writer) {
  TokenizeRequest req = parseTokenizeRequest(request.body);
  checkModel(model_, req.model, /*optional=*/true);
  std::vector<int32_t> tokens;
  if (req.isChat)
    tokens = model_.tokenizer->encode(renderChat(model_, req.messages, req.tools,
                                                 req.addGenerationPrompt,
                                                 req.continueFinalMessage, req.chatTemplateKwargs),
                                      req.addSpecialTokens);
  else
    tokens = model_.tokenizer->encode(req.prompt, req.addSpecialTokens);
  std::vector<std::string> strs;
  if (req.returnTokenStrs)
    for (int32_t t : tokens)
      strs.emplace_back(model_.tokenizer->tokenText(t));
  respondJson(writer, 200, tokenizeJson(tokens, model_.maxModelLen,
                                        req.returnTokenStrs ? &strs : nullptr));
}

void OpenAIServer::detokenize(const http::Request &request, http::ResponseWriter &writer) {
  DetokenizeRequest req = parseDetokenizeRequest(request.body);
  checkModel(model_, req.model, /*optional=*/true);
  for (int32_t t : req.tokens)
    if (t >= model_.tokenizer->vocabSize())
      throw ApiError::badRequest(fmt::format("Token id {} is outside the tokenizer's vocabulary "
                                             "[0, {}).",
                                             t, model_.tokenizer->vocabSize()),
                                 "tokens");
  respondJson(writer, 200, detokenizeJson(model_.tokenizer->decode(req.tokens, false)));
}

void OpenAIServer::models(const http::Request &request, http::ResponseWriter &writer) {
  ModelCard card;
  card.id = model_.name;
  card.created = unixTimeNow();
  card.maxModelLen = model_.maxModelLen;
  nlohmann::ordered_json body;
  if (request.path == "/v1/models") {
    body = modelListJson(std::span(&card, 1));
  } else {
    std::string id = request.path.substr(std::string_view("/v1/models/").size());
    if (id != model_.name) // routes() registers the served id only
      throw ApiError::modelNotFound(id);
    body = modelJson(card);
  }
  // bench-serve draws prompt token ids below the vocabulary size.
  if (body.contains("data"))
    for (nlohmann::ordered_json &m : body["data"])
      m["vocab_size"] = model_.vocabSize;
  else
    body["vocab_size"] = model_.vocabSize;
  respondJson(writer, 200, body);
}

} // namespace llmrt::server
