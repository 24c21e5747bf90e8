// One completion or chat completion request while the engine runs it: turns the engine's tokens
// into the response the client asked for (a stream of server-sent events, or one JSON body).
//
// A job has P prompts (completions accept several) of n samples each: P engine requests, choice
// index = prompt * n + sample. Each choice has its own OutputText (detokenizer + stop strings).
// Engine callbacks arrive on the engine thread only, so the job's state needs no lock; the
// writer queues what it is given for the connection's I/O thread. When the client goes away, the
// writer's close callback (on an I/O thread) aborts the job's engine requests: their KV blocks
// return at once.
#pragma once

#include "engine/AsyncEngine.h"
#include "http/ResponseWriter.h"
#include "server/OpenAIRequest.h"
#include "server/OpenAIResponse.h"
#include "server/OutputText.h"
#include "server/ServedModel.h"
#include "server/ServerMetrics.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmrt::server {

enum class Endpoint { Completions, Chat };

struct JobPrompt {
  std::vector<int32_t> tokens;
  std::string echo; // completions with echo: the prompt's text, prepended to each choice
};

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
public:
  using Clock = std::chrono::steady_clock;

  GenerationJob(Endpoint endpoint, const ServedModel &model, ServerMetrics &metrics,
                ResponseHeader header, SamplingRequest sampling,
                std::shared_ptr<http::ResponseWriter> writer, Clock::time_point arrival);

  // Submits one engine request per prompt (`requests[i]` carries prompt i's tokens). Throws
  // ApiError 503 when the engine refuses (overloaded or stopping); requests submitted before
  // are aborted then.
  void start(AsyncEngine &engine, std::vector<Request> requests, std::vector<JobPrompt> prompts);

  // Engine thread (through PromptSink).
  void rejected(int prompt, const std::string &message);
  bool token(int prompt, int sample, int32_t token, const TokenLogprobs *logprobs);
  void finished(int prompt, int sample, const Request &final);

private:
  struct Choice {
    std::unique_ptr<OutputText> text;
    std::vector<TokenLogprob> logprobs; // non-streaming: all of them
    bool opened = false;                // streams: the first chunk (role, echo) was sent
    bool done = false;
    FinishReason finishReason = FinishReason::None;
    StopReason stopReason;
    int64_t textOffset = 0;             // completions: code points sent so far
    std::optional<Clock::time_point> lastToken;
  };

  Choice &choice(int prompt, int sample) { return choices_[size_t(prompt) * n_ + sample]; }
  TokenLogprob convert(int32_t token, const TokenLogprobs &lp) const;
  std::string piece(int32_t token) const;
  // Streams one chunk for choice `index` with `text` (and logprobs, a finish reason).
  void sendChunk(int index, Choice &c, std::string text, std::vector<TokenLogprob> logprobs,
                 FinishReason reason);
  void complete(); // every choice is done: the last chunks, or the whole body
  void fail(int status, const std::string &message);
  Usage usage() const;

  Endpoint endpoint_;
  const ServedModel &model_;
  ServerMetrics &metrics_;
  ResponseHeader header_;
  SamplingRequest sampling_;
  std::shared_ptr<http::ResponseWriter> writer_;
  Clock::time_point arrival_;
  AsyncEngine *engine_ = nullptr;
  int n_ = 1;
  std::vector<JobPrompt> prompts_;
  std::vector<Choice> choices_;
  std::vector<std::string> requestIds_;
  std::vector<int64_t> cachedTokens_; // per prompt, from its first sample's final state
  int64_t completionTokens_ = 0;
  int numDone_ = 0;
  bool streaming_ = false; // the stream's headers were sent
  bool firstToken_ = true;
  bool failed_ = false;
};

} // namespace llmrt::server
