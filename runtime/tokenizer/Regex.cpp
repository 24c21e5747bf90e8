#include "tokenizer/Regex.h"

#include "support/Error.h"
#include "tokenizer/Utf8.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace llmrt::tok {

namespace {

std::string pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char *>(buffer);
}

// Per-thread match state: the JIT stack grows on demand up to 64 MiB, so long runs of one
// character class (a million spaces) still match instead of failing with a stack error.
struct ThreadMatchState {
  pcre2_match_data *data = nullptr;
  pcre2_match_context *context = nullptr;
  pcre2_jit_stack *stack = nullptr;
  ThreadMatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~ThreadMatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

ThreadMatchState &threadState() {
  thread_local ThreadMatchState state;
  return state;
}

// tokenizer.json patterns are Oniguruma's: its \s is the Unicode White_Space property, while
// PCRE2's (with UCP) also matches U+180E. Rewrites \s and \S (inside classes too) to the
// property; \Q...\E quoted text is left alone.
std::string toPcre2(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c != '\\' || i + 1 == pattern.size()) {
      out += c;
      continue;
    }
    char n = pattern[++i];
    if (n == 's') {
      out += "\\p{White_Space}";
    } else if (n == 'S') {
      out += "\\P{White_Space}";
    } else if (n == 'Q') {
      size_t end = pattern.find("\\E", i + 1);
      size_t stop = end == std::string_view::npos ? pattern.size() : end + 2;
      out.append(pattern.substr(i - 1, stop - (i - 1)));
      i = stop - 1;
    } else {
      out += c;
      out += n;
    }
  }
  return out;
}

} // namespace

struct Pattern::Compiled {
  pcre2_code *code = nullptr;
  bool jit = false;
  std::string source;
  ~Compiled() { pcre2_code_free(code); }
};

Pattern::Pattern(Pattern &&) noexcept = default;
Pattern &Pattern::operator=(Pattern &&) noexcept = default;
Pattern::~Pattern() = default;

Pattern Pattern::literal(std::string_view text) {
  Pattern p;
  p.literal_ = std::string(text);
  return p;
}

Pattern Pattern::regex(std::string_view pattern, std::string_view what) {
  Pattern p;
  p.compiled_ = std::make_unique<Compiled>();
  p.compiled_->source = std::string(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  std::string translated = toPcre2(pattern);
  p.compiled_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                    PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (!p.compiled_->code)
    llm::fail("tokenizer.json: {} regex '{}' does not compile (PCRE2: {} at offset {} of '{}')",
              what, pattern, pcre2Message(error), offset, translated);
  // Without JIT (an unsupported CPU) the interpreter gives the same matches, only slower.
  p.compiled_->jit = pcre2_jit_compile(p.compiled_->code, PCRE2_JIT_COMPLETE) == 0;
  return p;
}

void Pattern::findAll(std::string_view s, std::vector<Match> &out) const {
  if (!compiled_) {
    if (literal_.empty()) return;
    size_t pos = 0;
    while ((pos = s.find(literal_, pos)) != std::string_view::npos) {
      out.emplace_back(pos, pos + literal_.size());
      pos += literal_.size();
    }
    return;
  }
  ThreadMatchState &st = threadState();
  if (!st.data || !st.context) llm::fail("tokenizer: out of memory for regex matching");
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  size_t lastEnd = std::string_view::npos;
  while (pos <= s.size()) {
    int rc = compiled_->jit ? pcre2_jit_match(compiled_->code, subject, s.size(), pos,
                                              PCRE2_NO_UTF_CHECK, st.data, st.context)
                            : pcre2_match(compiled_->code, subject, s.size(), pos,
                                          PCRE2_NO_UTF_CHECK, st.data, st.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0)
      llm::fail("tokenizer: regex '{}' failed on a {}-byte input (PCRE2: {})", compiled_->source,
                s.size(), pcre2Message(rc));
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st.data);
    size_t b = ov[0], e = ov[1];
    if (b == e) {
      if (e != lastEnd) out.emplace_back(b, e);
      lastEnd = e;
      if (e >= s.size()) break;
      pos = e + charLength(s, e);
      continue;
    }
    out.emplace_back(b, e);
    lastEnd = e;
    pos = e;
  }
}

} // namespace llmrt::tok
