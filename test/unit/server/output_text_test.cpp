// Streaming text with stop strings: whatever the split into tokens, the released pieces add up to
// the decoded text cut at the first stop string, and nothing that may still become a stop string
// is released early.
#include "server/OutputText.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

namespace llmrt::server {
namespace {

std::unique_ptr<Tokenizer> load(const std::string &name) {
  std::ifstream in(std::string(LLM_TOKENIZER_FIXTURES) + "/" + name + "/tokenizer.json");
  std::stringstream s;
  s << in.rdbuf();
  return Tokenizer::fromJson(s.str(), "");
}

struct Streamed {
  std::string text;
  std::optional<std::string> stop;
  std::vector<std::string> pieces;
};

Streamed stream(const Tokenizer &tok, const std::vector<int32_t> &ids,
                std::vector<std::string> stops, bool includeStop = false) {
  OutputText out(tok, {}, std::move(stops), includeStop, true);
  Streamed s;
  for (int32_t id : ids) {
    OutputText::Delta d = out.push(id);
    s.pieces.push_back(d.text);
    s.text += d.text;
    if (d.stopString) {
      s.stop = d.stopString;
      break;
    }
  }
  if (!s.stop) {
    OutputText::Delta d = out.finish();
    s.text += d.text;
    s.stop = d.stopString;
  }
  EXPECT_EQ(s.text, out.text());
  return s;
}

TEST(OutputTextTest, StopStringsCutTheTextWhereverTokensSplitIt) {
  for (const char *name : {"smollm2", "llama-spm"}) {
    auto tok = load(name);
    std::mt19937_64 rng(5);
    const std::string text = "The answer is 42.\nUser: what? Ünïcödé ✓ done. The end. ###";
    std::vector<int32_t> ids = tok->encode(text, false);
    std::string full = tok->decode(ids, true);
    for (int trial = 0; trial < 200; ++trial) {
      size_t at = rng() % full.size(), len = 1 + rng() % 6;
      std::string stop = full.substr(at, len);
      Streamed s = stream(*tok, ids, {"never-there", stop});
      size_t first = full.find(stop);
      EXPECT_EQ(s.text, full.substr(0, first)) << name << " stop '" << stop << "'";
      ASSERT_TRUE(s.stop.has_value());
      EXPECT_EQ(*s.stop, stop);
      Streamed inc = stream(*tok, ids, {stop}, true);
      EXPECT_EQ(inc.text, full.substr(0, first + stop.size()));
    }
    Streamed none = stream(*tok, ids, {"absent"});
    EXPECT_EQ(none.text, full);
    EXPECT_FALSE(none.stop);
  }
}

TEST(OutputTextTest, HoldsBackOnlyWhatMayBecomeAStopString) {
  auto tok = load("smollm2");
  OutputText out(*tok, {}, {"User:"}, false, true);
  std::string released;
  for (int32_t id : tok->encode("Hello Us", false))
    released += out.push(id).text;
  EXPECT_EQ(released, "Hello "); // "Us" may start "User:"
  for (int32_t id : tok->encode("ually fine", false))
    released += out.push(id).text;
  EXPECT_EQ(released + out.finish().text, "Hello Usually fine");
}

TEST(OutputTextTest, EarliestStopWinsAndLaterTokensAreIgnored) {
  auto tok = load("smollm2");
  std::vector<int32_t> ids = tok->encode("one two three four", false);
  Streamed s = stream(*tok, ids, {"four", "two"});
  EXPECT_EQ(s.text, "one ");
  EXPECT_EQ(*s.stop, "two");
  OutputText out(*tok, {}, {"two"}, false, true);
  for (int32_t id : ids)
    out.push(id);
  EXPECT_TRUE(out.stopped());
  EXPECT_EQ(out.text(), "one ");
  EXPECT_TRUE(out.push(ids[0]).text.empty());
  EXPECT_EQ(tokenPiece(*tok, ids[1]), " two");
}

} // namespace
} // namespace llmrt::server
