// The SSE splitter against the openai package's decoder (reference/, made by make_reference.py):
// a stream in vLLM's format with every line ending and field the grammar allows, cut at every
// point, at every pair of nearby points, and byte by byte.
#include "tools/SseClient.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using llmrt::tools::SseEvent;
using llmrt::tools::SseSplitter;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::string &stream() {
  static const std::string s = readFile(LLM_TOOLS_REFERENCE "/sse_stream.bin");
  return s;
}

const std::vector<SseEvent> &expectedEvents() {
  static const std::vector<SseEvent> events = [] {
    std::vector<SseEvent> v;
    auto j = nlohmann::json::parse(readFile(LLM_TOOLS_REFERENCE "/sse_events.json"));
    for (const auto &e : j)
      v.push_back({e["type"].get<std::string>(), e["data"].get<std::string>()});
    return v;
  }();
  return events;
}

// Feeds `s` cut at the given points (increasing) and returns the events.
std::vector<SseEvent> splitAt(std::string_view s, std::initializer_list<size_t> cuts,
                              bool *pending = nullptr) {
  SseSplitter splitter;
  std::vector<SseEvent> out;
  size_t from = 0;
  for (size_t cut : cuts) {
    splitter.feed(s.substr(from, cut - from), out);
    from = cut;
  }
  splitter.feed(s.substr(from), out);
  if (pending)
    *pending = splitter.pending();
  return out;
}

TEST(SseSplitter, WholeStreamGivesTheReferenceEvents) {
  ASSERT_GT(expectedEvents().size(), 10u);
  bool pending = true;
  EXPECT_EQ(splitAt(stream(), {}, &pending), expectedEvents());
  EXPECT_FALSE(pending);
}

TEST(SseSplitter, EverySplitPointGivesTheSameEvents) {
  const std::string &s = stream();
  for (size_t cut = 0; cut <= s.size(); ++cut)
    ASSERT_EQ(splitAt(s, {cut}), expectedEvents()) << "cut at byte " << cut;
}

TEST(SseSplitter, EveryPairOfNearbySplitPointsGivesTheSameEvents) {
  // A middle read of 1 to 4 bytes: "\r" and "\n" of one line end in different reads, a
  // delimiter alone in a read, a multi-byte UTF-8 character spread over three reads.
  const std::string &s = stream();
  for (size_t a = 0; a <= s.size(); ++a)
    for (size_t len = 1; len <= 4 && a + len <= s.size(); ++len)
      ASSERT_EQ(splitAt(s, {a, a + len}), expectedEvents()) << "cuts at " << a << ", " << a + len;
}

TEST(SseSplitter, ByteByByte) {
  SseSplitter splitter;
  std::vector<SseEvent> out;
  for (char c : stream())
    splitter.feed(std::string_view(&c, 1), out);
  EXPECT_EQ(out, expectedEvents());
  EXPECT_FALSE(splitter.pending());
}

TEST(SseSplitter, SeveralEventsInOneReadAndAnEventWithoutItsBlankLine) {
  SseSplitter splitter;
  std::vector<SseEvent> out;
  splitter.feed("data: 1\n\ndata: 2\n\ndata: [DO", out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].data, "1");
  EXPECT_EQ(out[1].data, "2");
  EXPECT_TRUE(splitter.pending());
  splitter.feed("NE]\n", out);
  EXPECT_EQ(out.size(), 2u) << "an event is complete only at its blank line";
  EXPECT_TRUE(splitter.pending());
  splitter.feed("\n", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].data, "[DONE]");
  EXPECT_FALSE(splitter.pending());
}

TEST(SseSplitter, SkipsALeadingByteOrderMarkOnly) {
  // The WHATWG rule (the openai decoder keeps the mark, so this case is not in the reference).
  std::vector<SseEvent> out;
  SseSplitter splitter;
  splitter.feed("\xEF\xBB", out);
  splitter.feed("\xBF"
                "data: x\n\n\xEF\xBB\xBF"
                "data: y\n\n",
                out);
  ASSERT_EQ(out.size(), 1u) << "a mark after the start makes the field name unknown";
  EXPECT_EQ(out[0].data, "x");
}

TEST(SseSplitter, EventsWithoutDataAreNotDispatched) {
  std::vector<SseEvent> out;
  SseSplitter splitter;
  splitter.feed("event: ping\n\nid: 7\n\nretry: 10\n\n: comment\n\n\n\n", out);
  EXPECT_TRUE(out.empty());
  splitter.feed("data: after\n\n", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, "message") << "the type of an undispatched event does not carry over";
}

} // namespace
