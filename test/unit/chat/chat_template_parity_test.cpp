// Every real chat template in test/fixtures/chat-templates rendered over every fixture
// conversation must give byte-identical text to transformers' apply_chat_template (jinja2), or
// fail where jinja2 failed; raise_exception() must surface with the template's own message.
#include "chat/ChatTemplate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using llmrt::chat::ChatRenderOptions;
using llmrt::chat::ChatTemplate;
using llmrt::chat::TemplateError;
using Json = nlohmann::ordered_json;

namespace {

const std::filesystem::path kFixtures = LLM_CHAT_TEMPLATE_FIXTURES;

Json readJson(const std::filesystem::path &p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

std::vector<std::string> templateIds() {
  std::vector<std::string> ids;
  for (const auto &e : std::filesystem::directory_iterator(kFixtures))
    if (e.path().extension() == ".json" && e.path().stem() != "conversations" && e.path().stem() != "engine-cases")
      ids.push_back(e.path().stem().string());
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The fixture's fixed clock as local broken-down time (weekday and day of year filled in).
std::tm fixedNow(const Json &now) {
  std::tm t{};
  t.tm_year = now[0].get<int>() - 1900;
  t.tm_mon = now[1].get<int>() - 1;
  t.tm_mday = now[2].get<int>();
  t.tm_hour = now[3].get<int>();
  t.tm_min = now[4].get<int>();
  t.tm_sec = now[5].get<int>();
  std::time_t secs = timegm(&t);
  gmtime_r(&secs, &t);
  return t;
}

// Where two strings first differ, with some context, for a readable failure.
std::string firstDifference(const std::string &got, const std::string &want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) + "\n  got:  " + Json(got.substr(from, 100)).dump() +
         "\n  want: " + Json(want.substr(from, 100)).dump();
}

class ChatTemplateParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateParity, MatchesJinja2) {
  Json fixture = readJson(kFixtures / (GetParam() + ".json"));
  Json conversations = readJson(kFixtures / "conversations.json");
  const Json &cases = fixture["cases"];
  ASSERT_FALSE(cases.empty());
  if (cases[0]["conversation"] == "*") {
    EXPECT_THROW(ChatTemplate::parse(fixture["template"].get<std::string>()), llm::Error);
    return;
  }
  ChatTemplate tmpl = ChatTemplate::parse(fixture["template"].get<std::string>());
  std::tm now = fixedNow(conversations["now"]);
  for (const Json &c : cases) {
    std::string name = c["conversation"];
    SCOPED_TRACE("template " + GetParam() + ", conversation " + name);
    const Json &conv = conversations["conversations"][name];
    ChatRenderOptions options;
    options.addGenerationPrompt = conv.value("add_generation_prompt", true);
    options.bosToken = fixture["bos_token"];
    options.eosToken = fixture["eos_token"];
    options.extra = fixture["extra"];
    if (conv.contains("extra"))
      for (const auto &[k, v] : conv["extra"].items()) options.extra[k] = v;
    options.now = [now] { return now; };
    if (c.contains("output")) {
      std::string got;
      try {
        got = tmpl.render(conv["messages"], options);
      } catch (const std::exception &e) {
        ADD_FAILURE() << "jinja2 rendered it, but the engine failed: " << e.what();
        continue;
      }
      std::string want = c["output"];
      EXPECT_TRUE(got == want) << firstDifference(got, want);
      continue;
    }
    try {
      std::string got = tmpl.render(conv["messages"], options);
      ADD_FAILURE() << "jinja2 failed with " << c["error"] << ": " << c["message"] << "\nbut the engine rendered "
                    << Json(got).dump();
    } catch (const TemplateError &e) {
      EXPECT_EQ(e.raisedByTemplate(), c["raised"].get<bool>()) << e.what();
      if (c["raised"].get<bool>()) {
        EXPECT_EQ(e.detail(), c["message"].get<std::string>());
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RealTemplates, ChatTemplateParity, ::testing::ValuesIn(templateIds()),
                         [](const auto &info) {
                           std::string n = info.param;
                           for (char &ch : n)
                             if (!isalnum((unsigned char)ch)) ch = '_';
                           return n;
                         });

} // namespace
