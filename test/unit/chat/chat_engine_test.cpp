// Unit tests of the chat template engine on its own (filled in below).
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

Json engineCases() {
  std::ifstream in(kFixtures / "engine-cases.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

std::tm fixtureNow() {
  std::ifstream in(kFixtures / "conversations.json");
  std::stringstream ss;
  ss << in.rdbuf();
  Json now = Json::parse(ss.str())["now"];
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

ChatRenderOptions optionsFor(const Json &fixture) {
  ChatRenderOptions o;
  o.bosToken = fixture["bos_token"];
  o.eosToken = fixture["eos_token"];
  o.extra = fixture["variables"];
  std::tm now = fixtureNow();
  o.now = [now] { return now; };
  return o;
}

// Each small template of engine-cases.json (one engine feature each: literals, operators,
// filters, tests, methods, scoping, whitespace control, errors) against jinja2's result.
TEST(ChatEngine, FeatureCasesMatchJinja2) {
  Json fixture = engineCases();
  ChatRenderOptions options = optionsFor(fixture);
  ASSERT_GT(fixture["cases"].size(), 40u);
  for (const Json &c : fixture["cases"]) {
    std::string name = c["name"];
    SCOPED_TRACE("case " + name + ": " + c["template"].get<std::string>());
    std::string result;
    try {
      result = ChatTemplate::parse(c["template"].get<std::string>()).render(fixture["messages"], options);
    } catch (const TemplateError &e) {
      EXPECT_TRUE(c.contains("error")) << "the engine failed: " << e.what();
      if (c.contains("error") && c["raised"].get<bool>()) {
        EXPECT_TRUE(e.raisedByTemplate());
        EXPECT_EQ(e.detail(), c["message"].get<std::string>());
      }
      continue;
    } catch (const llm::Error &e) {
      EXPECT_TRUE(c.contains("error")) << "the engine failed: " << e.what();
      continue;
    }
    if (c.contains("error")) {
      ADD_FAILURE() << "jinja2 failed (" << c["error"] << ": " << c["message"] << ") but the engine rendered "
                    << Json(result).dump();
    } else {
      EXPECT_EQ(result, c["output"].get<std::string>());
    }
  }
}

std::string render(std::string_view source, const Json &messages = Json::parse(R"([{"role":"user","content":"hi"}])"),
                   ChatRenderOptions options = {}) {
  return ChatTemplate::parse(source).render(messages, options);
}

std::string errorOf(const std::function<void()> &fn) {
  try {
    fn();
  } catch (const std::exception &e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ChatEngine, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(errorOf([] { ChatTemplate::parse("line one\n  {{ 1 + }}"); }),
            "chat template line 2:10: unexpected end of print statement.");
  EXPECT_EQ(errorOf([] { ChatTemplate::parse("{% for x in y %}"); }),
            "chat template line 1:17: unexpected end of template; expected 'endfor' or 'else'.");
  EXPECT_EQ(errorOf([] { ChatTemplate::parse("\n\n   {% frobnicate %}"); }),
            "chat template line 3:7: Encountered unknown tag 'frobnicate'.");
  EXPECT_EQ(errorOf([] { ChatTemplate::parse("{{ 'unterminated }}"); }),
            "chat template line 1:4: unexpected end of string literal.");
  EXPECT_EQ(errorOf([] { ChatTemplate::parse("{# open comment"); }), "chat template line 1:1: Missing end of comment tag.");
  EXPECT_EQ(errorOf([] { ChatTemplate::parse("{{ x | nope }}"); }), "chat template line 1:8: No filter named 'nope'.");
  EXPECT_EQ(errorOf([] { ChatTemplate::parse("{{ (1, ] }}"); }), "chat template line 1:8: unexpected ']', expected ')'.");
}

TEST(ChatEngine, RuntimeErrorsNameLineAndColumn) {
  EXPECT_EQ(errorOf([] { render("ok\n{{ messages[0].content + 1 }}"); }),
            "chat template line 2:24: unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_EQ(errorOf([] { render("{{ undefined_thing.attr }}"); }), "chat template line 1:19: 'undefined_thing' is undefined");
  EXPECT_EQ(errorOf([] { render("{% if true %}{{ x | nope }}{% endif %}"); }),
            "chat template line 1:21: No filter named 'nope' found.");
  try {
    render("{{ raise_exception('Conversation roles must alternate') }}");
    FAIL() << "no error";
  } catch (const TemplateError &e) {
    EXPECT_TRUE(e.raisedByTemplate());
    EXPECT_EQ(e.detail(), "Conversation roles must alternate");
    EXPECT_EQ(e.line(), 1);
    EXPECT_EQ(e.column(), 19);
  }
}

TEST(ChatEngine, LimitsStopHostileTemplates) {
  ChatRenderOptions small;
  small.limits.maxOutputBytes = 1000;
  EXPECT_NE(errorOf([&] { render("{% for i in range(100) %}{{ 'x' * 20 }}{% endfor %}", Json::parse("[{}]"), small); })
                .find("exceeds 1000 bytes"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { render("{{ 'x' * 100000000000 }}", Json::parse("[{}]"), small); }).find("output limit"),
            std::string::npos);
  ChatRenderOptions fewLoops;
  fewLoops.limits.maxLoopIterations = 50;
  EXPECT_NE(errorOf([&] { render("{% for i in range(10) %}{% for j in range(10) %}{% endfor %}{% endfor %}", Json::parse("[{}]"), fewLoops); })
                .find("more than 50 loop iterations"),
            std::string::npos);
  EXPECT_NE(errorOf([] { render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"); }).find("macro calls nest deeper"),
            std::string::npos);
  std::string deep = std::string(5000, '(') + "1" + std::string(5000, ')');
  EXPECT_NE(errorOf([&] { ChatTemplate::parse("{{ " + deep + " }}"); }).find("nests too deeply"), std::string::npos);
  EXPECT_NE(errorOf([] { render("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}"); })
                .find("nest deeper than 512"),
            std::string::npos);
}

TEST(ChatEngine, RequestDataIsCheckedAndNormalized) {
  EXPECT_NE(errorOf([] { render("x", Json::array()); }).find("empty conversation"), std::string::npos);
  EXPECT_NE(errorOf([] { render("x", Json::parse("[1]")); }).find("messages[0] must be an object"), std::string::npos);
  // None-valued keys are dropped (apply_chat_template does it), reasoning fields are aliased.
  Json messages = Json::parse(R"([{"role":"assistant","content":null,"reasoning":"r"}])");
  EXPECT_EQ(render("{{ messages[0] }}", messages), "{'thinking': 'r', 'role': 'assistant', 'reasoning': 'r', 'reasoning_content': 'r'}");
  ChatRenderOptions o;
  o.extra = Json::parse(R"({"tools": [{"b": 1, "a": 2}], "enable_thinking": false})");
  EXPECT_EQ(render("{{ tools|tojson }} {{ enable_thinking }} {{ documents }}", Json::parse("[{}]"), o),
            "[{\"b\": 1, \"a\": 2}] False None");
  o.extra = Json::parse(R"({"messages": []})");
  EXPECT_NE(errorOf([&] { render("x", Json::parse("[{}]"), o); }).find("would replace"), std::string::npos);
}

} // namespace
