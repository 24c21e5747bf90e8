#include "tools/ServeMetrics.h"

#include "tools/SseClient.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace llmrt::tools {

namespace {

using json = nlohmann::json;

// numpy's pairwise summation (the inner loop of np.add.reduce on float64): blocks of at most 128
// summed with 8 accumulators, larger ranges split in two at a multiple of 8.
double pairwiseSum(const double *a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i)
      res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j)
      r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j)
        r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i)
      res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwiseSum(a, n2) + pairwiseSum(a + n2, n - n2);
}

// numpy's _lerp: a + (b - a) * t, computed from b's side when t >= 0.5.
double lerp(double a, double b, double t) {
  double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

std::string oneLine(std::string_view text, size_t limit) {
  std::string s(text.substr(0, limit));
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  size_t first = s.find_first_not_of(" \t"), last = s.find_last_not_of(" \t");
  s = first == std::string::npos ? "" : s.substr(first, last - first + 1);
  if (text.size() > limit)
    s += "...";
  return s;
}

// The message of an OpenAI-style error object ({"error": {"message": ...}}), a bare
// {"message": ...} or a FastAPI {"detail": ...}; empty if none.
std::string errorText(const json &j) {
  if (!j.is_object())
    return "";
  for (const char *key : {"error", "message", "detail"}) {
    auto it = j.find(key);
    if (it == j.end())
      continue;
    if (it->is_string())
      return it->get<std::string>();
    if (it->is_object()) {
      std::string inner = errorText(*it);
      return inner.empty() ? it->dump() : inner;
    }
    return it->dump();
  }
  return "";
}

std::string_view stringField(const json &object, const char *key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string()
             ? std::string_view(it->get_ref<const std::string &>())
             : std::string_view();
}

// Whether a choice carries a generated token (see ServeMetrics.h).
bool carriesToken(const json &choice, ServeApi api) {
  if (!choice.is_object())
    return false;
  std::string_view text;
  bool roleAnnouncement = false;
  if (api == ServeApi::Completions) {
    text = stringField(choice, "text");
  } else {
    auto delta = choice.find("delta");
    if (delta != choice.end() && delta->is_object()) {
      text = stringField(*delta, "content");
      roleAnnouncement = delta->contains("role");
    }
  }
  if (!text.empty())
    return true;
  if (roleAnnouncement)
    return false;
  auto finish = choice.find("finish_reason");
  return finish == choice.end() || finish->is_null();
}

int64_t intField(const json &object, const char *key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

} // namespace

double numpyMean(const std::vector<double> &values) {
  if (values.empty())
    return 0;
  return pairwiseSum(values.data(), values.size()) / double(values.size());
}

double numpyStd(const std::vector<double> &values) {
  if (values.empty())
    return 0;
  double mean = numpyMean(values);
  std::vector<double> squares(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    double d = values[i] - mean;
    squares[i] = d * d;
  }
  return std::sqrt(pairwiseSum(squares.data(), squares.size()) / double(values.size()));
}

double numpyMedian(std::vector<double> values) {
  if (values.empty())
    return 0;
  size_t n = values.size(), half = n / 2;
  std::nth_element(values.begin(), values.begin() + half, values.end());
  if (n % 2 == 1)
    return values[half];
  double upper = values[half];
  double lower = *std::max_element(values.begin(), values.begin() + half);
  return (lower + upper) / 2.0; // np.mean of the two middle values
}

double numpyPercentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  double q = p / 100;
  double virtualIndex = double(n - 1) * q;
  if (virtualIndex >= double(n - 1))
    return values.back();
  if (virtualIndex < 0)
    return values.front();
  double previous = std::floor(virtualIndex);
  size_t i = static_cast<size_t>(previous);
  return lerp(values[i], values[i + 1], virtualIndex - previous);
}

LatencyStats latencyStats(const std::vector<double> &seconds) {
  // vLLM scales each statistic (np.mean(x) * 1000), not the samples: the same here.
  LatencyStats s;
  s.mean = numpyMean(seconds) * 1000;
  s.median = numpyMedian(seconds) * 1000;
  s.std = numpyStd(seconds) * 1000;
  s.p90 = numpyPercentile(seconds, 90) * 1000;
  s.p99 = numpyPercentile(seconds, 99) * 1000;
  return s;
}

ResponseStream::ResponseStream(ServeApi api, int64_t promptTokens, double arrival, double start)
    : api_(api) {
  out_.promptTokens = promptTokens;
  out_.arrival = arrival;
  out_.start = start;
}

void ResponseStream::fail(std::string message) {
  if (out_.error.empty())
    out_.error = std::move(message);
}

void ResponseStream::onEvent(const SseEvent &event, double now) {
  if (done_ || !out_.error.empty())
    return; // after [DONE] or a failure nothing counts
  ++events_;
  if (event.type == "error")
    return fail(fmt::format("the server sent an error event: {}", oneLine(event.data, 300)));
  if (event.data == "[DONE]") {
    done_ = true;
    return;
  }
  json chunk = json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (!chunk.is_object())
    return fail(fmt::format("event {} of the stream is not a JSON object: {}", events_,
                            oneLine(event.data, 200)));
  if (chunk.contains("error"))
    return fail(fmt::format("the server reported an error in the stream: {}", errorText(chunk)));
  auto choices = chunk.find("choices");
  if (choices != chunk.end() && choices->is_array() && !choices->empty() &&
      carriesToken(choices->front(), api_)) {
    if (out_.contentChunks++ == 0)
      out_.ttft = now - out_.start;
    else
      out_.itl.push_back(now - lastContent_);
    lastContent_ = now;
  }
  auto usage = chunk.find("usage");
  if (usage != chunk.end() && usage->is_object()) {
    usageCompletion_ = intField(*usage, "completion_tokens");
    usagePrompt_ = intField(*usage, "prompt_tokens");
  }
}

RequestOutcome ResponseStream::finish(int status, const std::string &transportError,
                                      const std::string &body) {
  if (status == 0)
    fail(transportError.empty() ? std::string("no response") : transportError);
  else if (status != 200)
    fail(httpErrorMessage(status, body));
  else if (!transportError.empty())
    fail(fmt::format("the stream broke after {} content chunks: {}", out_.contentChunks,
                     transportError));
  else if (!done_)
    fail("the stream ended without 'data: [DONE]'");
  else if (out_.contentChunks == 0)
    fail("the stream carried no content chunk (no generated token)");
  out_.success = out_.error.empty();
  if (!out_.success) {
    out_.outputTokens = 0;
    return out_;
  }
  out_.latency = lastContent_ - out_.start;
  out_.outputTokens = usageCompletion_ >= 0 ? usageCompletion_ : out_.contentChunks;
  if (usagePrompt_ >= 0)
    out_.promptTokens = usagePrompt_;
  return out_;
}

std::string httpErrorMessage(int status, const std::string &body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string text = errorText(j);
  if (text.empty())
    text = oneLine(body, 300);
  return text.empty() ? fmt::format("HTTP {}", status) : fmt::format("HTTP {}: {}", status, text);
}

namespace {

// vLLM's peak output tokens per second: content chunks counted in whole-second buckets from the
// first send of a successful request.
double peakOutputTokensPerSecond(const std::vector<RequestOutcome> &requests) {
  double first = INFINITY, last = -INFINITY;
  for (const RequestOutcome &r : requests)
    if (r.success) {
      first = std::min(first, r.start);
      last = std::max(last, r.start + r.latency);
    }
  if (first > last)
    return 0;
  std::vector<double> buckets(static_cast<size_t>(std::ceil(last - first)) + 1, 0.0);
  for (const RequestOutcome &r : requests) {
    if (!r.success)
      continue;
    double t = r.start + r.ttft;
    auto count = [&](double time) {
      double bucket = std::trunc(time - first);
      if (bucket >= 0 && bucket < double(buckets.size()))
        buckets[static_cast<size_t>(bucket)] += 1;
    };
    count(t);
    for (double gap : r.itl)
      count(t += gap);
  }
  return *std::max_element(buckets.begin(), buckets.end());
}

} // namespace

ServeReport summarizeRun(std::vector<RequestOutcome> requests, double duration,
                         int maxConcurrentRequests) {
  ServeReport r;
  r.duration = duration;
  r.maxConcurrentRequests = maxConcurrentRequests;
  std::vector<double> ttft, tpot, itl, e2el, queue;
  for (const RequestOutcome &o : requests) {
    if (!o.success) {
      ++r.failed;
      continue;
    }
    ++r.completed;
    r.totalInputTokens += o.promptTokens;
    r.totalOutputTokens += o.outputTokens;
    ttft.push_back(o.ttft);
    e2el.push_back(o.latency);
    queue.push_back(o.start - o.arrival);
    if (o.outputTokens > 1)
      tpot.push_back((o.latency - o.ttft) / double(o.outputTokens - 1));
    itl.insert(itl.end(), o.itl.begin(), o.itl.end());
  }
  if (duration > 0) {
    r.requestThroughput = r.completed / duration;
    r.outputThroughput = double(r.totalOutputTokens) / duration;
    r.totalTokenThroughput = double(r.totalInputTokens + r.totalOutputTokens) / duration;
  }
  r.ttft = latencyStats(ttft);
  r.tpot = latencyStats(tpot);
  r.itl = latencyStats(itl);
  r.e2el = latencyStats(e2el);
  r.queue = latencyStats(queue);
  r.maxOutputTokensPerSecond = peakOutputTokensPerSecond(requests);
  r.requests = std::move(requests);
  return r;
}

} // namespace llmrt::tools
