#include "server/GenerationJob.h"

#include <algorithm>

namespace llmrt::server {

namespace {

// Forwards one engine request's callbacks to its job.
class PromptSink : public RequestSink {
public:
  PromptSink(std::shared_ptr<GenerationJob> job, int prompt) : job_(std::move(job)), prompt_(prompt) {}
  void onRejected(const std::string &message) override { job_->rejected(prompt_, message); }
  bool onToken(int sample, int32_t token, const TokenLogprobs *logprobs, RequestStatus) override {
    return job_->token(prompt_, sample, token, logprobs);
  }
  void onFinished(int sample, const Request &final) override {
    job_->finished(prompt_, sample, final);
  }

private:
  std::shared_ptr<GenerationJob> job_;
  int prompt_;
};

double seconds(GenerationJob::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

} // namespace

GenerationJob::GenerationJob(Endpoint endpoint, const ServedModel &model, ServerMetrics &metrics,
                             ResponseHeader header, SamplingRequest sampling,
                             std::shared_ptr<http::ResponseWriter> writer,
                             Clock::time_point arrival)
    : endpoint_(endpoint), model_(model), metrics_(metrics), header_(std::move(header)),
      sampling_(std::move(sampling)), writer_(std::move(writer)), arrival_(arrival),
      n_(sampling_.n) {}

void GenerationJob::start(AsyncEngine &engine, std::vector<Request> requests,
                          std::vector<JobPrompt> prompts) {
  prompts_ = std::move(prompts);
  choices_.resize(prompts_.size() * n_);
  for (size_t p = 0; p < prompts_.size(); ++p) {
    // The detokenizer decodes the first output after the prompt's last tokens.
    const std::vector<int32_t> &t = prompts_[p].tokens;
    std::span<const int32_t> context(t.data() + t.size() - std::min<size_t>(t.size(), 8),
                                     std::min<size_t>(t.size(), 8));
    for (int s = 0; s < n_; ++s) {
      Choice &c = choice(int(p), s);
      c.text = std::make_unique<OutputText>(*model_.tokenizer, context, sampling_.stop,
                                            sampling_.includeStopStrInOutput,
                                            sampling_.skipSpecialTokens);
      c.textOffset = countCodePoints(prompts_[p].echo);
    }
    cachedTokens_.push_back(0);
  }
  for (const Request &r : requests)
    requestIds_.push_back(r.id);
  // NOTE: the close callback may run at once (the client is already gone) or later, on an I/O
  // thread; aborting unknown or finished ids is harmless.
  engine_ = &engine;
  AsyncEngine *enginePtr = &engine;
  std::vector<std::string> ids = requestIds_;
  for (size_t p = 0; p < requests.size(); ++p) {
    if (!engine.submit(std::move(requests[p]), n_,
                       std::make_shared<PromptSink>(shared_from_this(), int(p)))) {
      for (size_t q = 0; q < p; ++q)
        engine.abort(ids[q]);
      throw ApiError(503, "The server is overloaded or shutting down; retry later.", "",
                     "overloaded");
    }
  }
  writer_->onClose([enginePtr, ids] {
    for (const std::string &id : ids)
      enginePtr->abort(id);
  });
}

std::string GenerationJob::piece(int32_t token) const {
  return sampling_.returnTokensAsTokenIds ? tokenIdText(token) : tokenPiece(*model_.tokenizer, token);
}

TokenLogprob GenerationJob::convert(int32_t token, const TokenLogprobs &lp) const {
  TokenLogprob out;
  out.sampled = Logprob{piece(token), lp.logprob, std::nullopt};
  bool sampledInTop = false;
  for (const auto &[id, value] : lp.top) {
    out.top.push_back(Logprob{piece(id), value, std::nullopt});
    sampledInTop = sampledInTop || id == token;
  }
  // Completions (OpenAI, vLLM) list the sampled token among the alternatives too.
  if (endpoint_ == Endpoint::Completions && !sampledInTop)
    out.top.push_back(out.sampled);
  return out;
}

Usage GenerationJob::usage() const {
  Usage u;
  for (const JobPrompt &p : prompts_)
    u.promptTokens += static_cast<int64_t>(p.tokens.size());
  u.completionTokens = completionTokens_;
  int64_t cached = 0;
  for (int64_t t : cachedTokens_)
    cached += t;
  u.cachedTokens = cached;
  return u;
}

void GenerationJob::sendChunk(int index, Choice &c, std::string text,
                              std::vector<TokenLogprob> logprobs, FinishReason reason) {
  if (!streaming_) {
    writer_->beginStream(200, "text/event-stream");
    streaming_ = true;
  }
  const bool wantLogprobs = sampling_.logprobs.has_value();
  Usage soFar = usage();
  const Usage *continuous = sampling_.continuousUsageStats ? &soFar : nullptr;
  std::string frame;
  if (endpoint_ == Endpoint::Chat) {
    if (!c.opened) {
      ChatChoice open;
      open.index = index;
      open.roleDelta = true;
      frame += sseEvent(chatCompletionChunkJson(header_, std::span(&open, 1), continuous));
      c.opened = true;
    }
    ChatChoice ch;
    ch.index = index;
    ch.content = std::move(text);
    ch.finishReason = reason;
    ch.stopReason = reason == FinishReason::None ? StopReason{} : c.stopReason;
    if (wantLogprobs)
      ch.logprobs = std::move(logprobs);
    frame += sseEvent(chatCompletionChunkJson(header_, std::span(&ch, 1), continuous));
  } else {
    CompletionChoice ch;
    ch.index = index;
    ch.textOffset = c.textOffset; // starts after the echoed prompt (set in start())
    c.textOffset += countCodePoints(text);
    if (!c.opened) { // echo: the prompt's text opens the choice
      text = prompts_[size_t(index) / n_].echo + text;
      c.opened = true;
    }
    ch.text = std::move(text);
    ch.finishReason = reason;
    ch.stopReason = reason == FinishReason::None ? StopReason{} : c.stopReason;
    if (wantLogprobs)
      ch.logprobs = std::move(logprobs);
    frame += sseEvent(completionChunkJson(header_, std::span(&ch, 1), continuous));
  }
  writer_->write(std::move(frame));
}

bool GenerationJob::token(int prompt, int sample, int32_t token, const TokenLogprobs *logprobs) {
  if (failed_)
    return false;
  Choice &c = choice(prompt, sample);
  const auto now = Clock::now();
  if (firstToken_) {
    metrics_.timeToFirstToken.observe(seconds(now - arrival_));
    firstToken_ = false;
  }
  if (c.lastToken)
    metrics_.interTokenLatency.observe(seconds(now - *c.lastToken));
  c.lastToken = now;
  ++completionTokens_;
  metrics_.generationTokens.inc();
  OutputText::Delta delta = c.text->push(token);
  if (delta.stopString)
    c.stopReason = *delta.stopString;
  std::vector<TokenLogprob> lps;
  if (logprobs && sampling_.logprobs)
    lps.push_back(convert(token, *logprobs));
  if (sampling_.stream) {
    if (!delta.text.empty() || !lps.empty())
      sendChunk(prompt * n_ + sample, c, std::move(delta.text), std::move(lps),
                FinishReason::None);
  } else {
    for (TokenLogprob &lp : lps)
      c.logprobs.push_back(std::move(lp));
  }
  return !delta.stopString.has_value(); // a stop string ends the choice
}

void GenerationJob::finished(int prompt, int sample, const Request &final) {
  Choice &c = choice(prompt, sample);
  if (c.done)
    return;
  c.done = true;
  ++numDone_;
  if (sample == 0) {
    cachedTokens_[prompt] = final.numCachedTokens;
    metrics_.promptTokens.inc(double(prompts_[prompt].tokens.size()));
  }
  switch (final.status) {
  case RequestStatus::FinishedStopped:
    c.finishReason = FinishReason::Stop;
    if (std::holds_alternative<std::monostate>(c.stopReason) && final.numOutputTokens() > 0) {
      int32_t last = final.tokens.back();
      const auto &ids = sampling_.stopTokenIds;
      if (std::find(ids.begin(), ids.end(), last) != ids.end())
        c.stopReason = last;
    }
    metrics_.finishedStop.inc();
    break;
  case RequestStatus::FinishedLength:
    c.finishReason = FinishReason::Length;
    metrics_.finishedLength.inc();
    break;
  default:
    c.finishReason = FinishReason::Abort;
    metrics_.finishedAbort.inc();
    break;
  }
  if (!failed_) {
    OutputText::Delta rest = c.text->finish();
    if (rest.stopString && c.finishReason != FinishReason::Abort) {
      c.stopReason = *rest.stopString;
      c.finishReason = FinishReason::Stop;
    }
    if (sampling_.stream)
      sendChunk(prompt * n_ + sample, c, std::move(rest.text), {}, c.finishReason);
  }
  if (numDone_ == static_cast<int>(choices_.size()))
    complete();
}

void GenerationJob::rejected(int prompt, const std::string &message) {
  for (int s = 0; s < n_; ++s) {
    Choice &c = choice(prompt, s);
    if (!c.done) {
      c.done = true;
      ++numDone_;
    }
  }
  fail(400, message);
  if (numDone_ == static_cast<int>(choices_.size()))
    complete();
}

void GenerationJob::fail(int status, const std::string &message) {
  if (failed_)
    return;
  failed_ = true;
  metrics_.errors.labels({std::to_string(status)}).inc();
  ApiError error(status, message);
  if (streaming_) // headers are out: the error travels as an event, as vLLM sends it
    writer_->write(sseEvent(errorJson(error)));
  else
    writer_->respond(status, dumpJson(errorJson(error)));
  for (const std::string &id : requestIds_) // the other prompts end too
    engine_->abort(id);
}

void GenerationJob::complete() {
  metrics_.e2eLatency.observe(seconds(Clock::now() - arrival_));
  if (failed_) {
    if (streaming_) {
      writer_->write(std::string(kSseDone));
      writer_->end();
    }
    return;
  }
  if (sampling_.stream) {
    std::string tail;
    if (sampling_.includeUsage) {
      Usage u = usage();
      tail += sseEvent(endpoint_ == Endpoint::Chat ? chatUsageChunkJson(header_, u)
                                                   : completionUsageChunkJson(header_, u));
    }
    tail += kSseDone;
    writer_->write(std::move(tail));
    writer_->end();
    return;
  }
  bool aborted = std::any_of(choices_.begin(), choices_.end(),
                             [](const Choice &c) { return c.finishReason == FinishReason::Abort; });
  if (aborted) { // the server is shutting down (a gone client reads nothing)
    ApiError error(503, "The request was aborted: the server is shutting down.", "", "aborted");
    writer_->respond(503, dumpJson(errorJson(error)));
    return;
  }
  nlohmann::ordered_json body;
  if (endpoint_ == Endpoint::Chat) {
    std::vector<ChatChoice> out(choices_.size());
    for (size_t i = 0; i < choices_.size(); ++i) {
      out[i].index = static_cast<int>(i);
      out[i].content = choices_[i].text->text();
      out[i].finishReason = choices_[i].finishReason;
      out[i].stopReason = choices_[i].stopReason;
      if (sampling_.logprobs)
        out[i].logprobs = std::move(choices_[i].logprobs);
    }
    body = chatCompletionJson(header_, out, usage());
  } else {
    std::vector<CompletionChoice> out(choices_.size());
    for (size_t i = 0; i < choices_.size(); ++i) {
      out[i].index = static_cast<int>(i);
      out[i].text = prompts_[i / n_].echo + choices_[i].text->text();
      out[i].textOffset = countCodePoints(prompts_[i / n_].echo);
      out[i].finishReason = choices_[i].finishReason;
      out[i].stopReason = choices_[i].stopReason;
      if (sampling_.logprobs)
        out[i].logprobs = std::move(choices_[i].logprobs);
    }
    body = completionJson(header_, out, usage());
  }
  writer_->respond(200, dumpJson(body));
}

} // namespace llmrt::server
