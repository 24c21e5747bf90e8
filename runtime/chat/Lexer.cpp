#include "chat/Lexer.h"

#include "chat/PyString.h"
#include "support/Error.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace llmrt::chat {

std::string normalizeNewlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isIdentChar(char c) { return isIdentStart(c) || (c >= '0' && c <= '9'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
public:
  explicit Lexer(std::string src) : src_(std::move(src)) {
    lineStarts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') lineStarts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) lexRoot();
    push(Token::Type::End, "", src_.size());
    return std::move(tokens_);
  }

private:
  std::string src_;
  size_t pos_ = 0;
  bool lineStarting_ = true;  // the last match ended with a newline (lstrip_blocks needs it)
  std::vector<size_t> lineStarts_;
  std::vector<Token> tokens_;

  [[noreturn]] void error(size_t at, std::string_view message) const {
    auto [line, column] = position(at);
    llm::fail("chat template line {}:{}: {}", line, column, message);
  }

  std::pair<int, int> position(size_t at) const {
    auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), at);
    size_t lineStart = *(it - 1);
    int column = 1 + int(pystr::length(std::string_view(src_).substr(lineStart, at - lineStart)));
    return {int(it - lineStarts_.begin()), column};
  }

  Token &push(Token::Type type, std::string text, size_t at) {
    Token t{type, std::move(text)};
    std::tie(t.line, t.column) = position(at);
    tokens_.push_back(std::move(t));
    return tokens_.back();
  }

  // Length of the whitespace code point at `at`, or 0.
  size_t spaceAt(size_t at) const {
    if (at >= src_.size()) return 0;
    unsigned char c = src_[at];
    if (c < 0x80) return pystr::isSpace(c) ? 1 : 0;
    size_t n = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    auto cps = pystr::decode(std::string_view(src_).substr(at, n));
    return cps.size() == 1 && pystr::isSpace(cps[0]) ? n : 0;
  }

  size_t skipSpace(size_t at) const {
    while (size_t n = spaceAt(at)) at += n;
    return at;
  }

  static bool allSpace(std::string_view text) {
    if (text.empty()) return false;
    for (uint32_t cp : pystr::decode(text))
      if (!pystr::isSpace(cp)) return false;
    return true;
  }

  // Text before a tag: `-` strips trailing whitespace; otherwise lstrip_blocks drops the
  // indentation of a block or comment tag that starts its line.
  void emitText(std::string text, char sign, bool variableTag) {
    if (sign == '-') {
      text = pystr::strip(text, std::nullopt, false, true);
    } else if (sign != '+' && !variableTag) {
      size_t lpos = text.rfind('\n');
      lpos = lpos == std::string::npos ? 0 : lpos + 1;
      if ((lpos > 0 || lineStarting_) && allSpace(std::string_view(text).substr(lpos))) text.resize(lpos);
    }
    if (!text.empty()) push(Token::Type::Text, std::move(text), pos_);
  }

  // After a `%}` or `#}`: `-` eats all whitespace, `+` nothing, otherwise one newline.
  size_t afterBlockEnd(size_t endPos, char sign) const {
    if (sign == '-') return skipSpace(endPos);
    if (sign != '+' && endPos < src_.size() && src_[endPos] == '\n') return endPos + 1;
    return endPos;
  }

  // `{%[-+]? raw [-]?%}` at `at`: returns the end of the tag, or 0.
  size_t matchRawBegin(size_t at) const {
    size_t p = at + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p = skipSpace(p);
    if (src_.compare(p, 3, "raw") != 0) return 0;
    p = skipSpace(p + 3);
    if (src_.compare(p, 3, "-%}") == 0) return skipSpace(p + 3);
    if (src_.compare(p, 2, "%}") == 0) return p + 2;
    return 0;
  }

  void lexRoot() {
    size_t tag = pos_;
    while (true) {
      tag = src_.find('{', tag);
      if (tag == std::string::npos || tag + 1 >= src_.size()) {
        emitTextRaw(src_.substr(pos_));
        pos_ = src_.size();
        return;
      }
      char k = src_[tag + 1];
      if (k == '{' || k == '%' || k == '#') break;
      ++tag;
    }
    char kind = src_[tag + 1];
    char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
    std::string text = src_.substr(pos_, tag - pos_);
    if (kind == '%') {
      if (size_t rawEnd = matchRawBegin(tag)) {
        emitText(std::move(text), sign, false);
        lineStarting_ = src_[rawEnd - 1] == '\n';
        lexRaw(tag, rawEnd);
        return;
      }
    }
    emitText(std::move(text), sign, kind == '{');
    size_t bodyStart = tag + 2 + (sign ? 1 : 0);
    if (kind == '#') {
      lexComment(tag, bodyStart);
    } else {
      push(kind == '{' ? Token::Type::VarBegin : Token::Type::BlockBegin, "", tag);
      pos_ = bodyStart;
      lexTag(kind == '{', tag);
    }
  }

  void emitTextRaw(std::string text) {
    if (!text.empty()) push(Token::Type::Text, std::move(text), pos_);
  }

  void lexComment(size_t tag, size_t bodyStart) {
    size_t q = src_.find("#}", bodyStart);
    if (q == std::string::npos) error(tag, "Missing end of comment tag.");
    char sign = q > bodyStart && (src_[q - 1] == '-' || src_[q - 1] == '+') ? src_[q - 1] : 0;
    pos_ = afterBlockEnd(q + 2, sign);
    lineStarting_ = src_[pos_ - 1] == '\n';
  }

  void lexRaw(size_t tag, size_t contentStart) {
    for (size_t p = src_.find("{%", contentStart); p != std::string::npos; p = src_.find("{%", p + 1)) {
      size_t q = p + 2;
      char sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : 0;
      if (sign) ++q;
      q = skipSpace(q);
      if (src_.compare(q, 6, "endraw") != 0) continue;
      q = skipSpace(q + 6);
      char endSign = 0;
      if (src_.compare(q, 3, "+%}") == 0 || src_.compare(q, 3, "-%}") == 0) {
        endSign = src_[q];
        ++q;
      } else if (src_.compare(q, 2, "%}") != 0) {
        continue;
      }
      pos_ = contentStart;
      emitText(src_.substr(contentStart, p - contentStart), sign, false);
      pos_ = afterBlockEnd(q + 2, endSign);
      lineStarting_ = src_[pos_ - 1] == '\n';
      return;
    }
    error(tag, "Missing end of raw directive.");
  }

  // Inside {{ }} or {% %}: names, literals and operators until the closing delimiter.
  void lexTag(bool variable, size_t tagStart) {
    std::vector<char> brackets;
    while (true) {
      if (pos_ >= src_.size())
        error(tagStart, variable ? "unexpected end of template, expected '}}'." : "unexpected end of template, expected '%}'.");
      if (brackets.empty() && closeTag(variable)) return;
      if (size_t n = spaceAt(pos_)) {
        pos_ = skipSpace(pos_ + n);
        continue;
      }
      char c = src_[pos_];
      if (isDigit(c)) {
        lexNumber();
      } else if (isIdentStart(c)) {
        size_t b = pos_;
        while (pos_ < src_.size() && isIdentChar(src_[pos_])) ++pos_;
        push(Token::Type::Name, src_.substr(b, pos_ - b), b);
      } else if (c == '\'' || c == '"') {
        lexString();
      } else {
        lexOperator(brackets);
      }
    }
  }

  bool closeTag(bool variable) {
    const char *close = variable ? "}}" : "%}";
    char sign = 0;
    size_t p = pos_;
    if (src_[p] == '-' || (src_[p] == '+' && !variable)) sign = src_[p++];
    if (src_.compare(p, 2, close) != 0) return false;
    push(variable ? Token::Type::VarEnd : Token::Type::BlockEnd, "", pos_);
    if (variable) {
      pos_ = sign == '-' ? skipSpace(p + 2) : p + 2;
    } else {
      pos_ = afterBlockEnd(p + 2, sign);
    }
    lineStarting_ = src_[pos_ - 1] == '\n';
    return true;
  }

  void lexNumber() {
    size_t b = pos_;
    auto digits = [&] {
      while (pos_ < src_.size() && (isDigit(src_[pos_]) || (src_[pos_] == '_' && pos_ + 1 < src_.size() && isDigit(src_[pos_ + 1]))))
        ++pos_;
    };
    digits();
    bool isFloat = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && isDigit(src_[pos_ + 1])) {
      ++pos_;
      digits();
      isFloat = true;
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && isDigit(src_[p])) {
        pos_ = p;
        digits();
        isFloat = true;
      }
    }
    std::string spelled;
    for (size_t i = b; i < pos_; ++i)
      if (src_[i] != '_') spelled += src_[i];
    if (isFloat) {
      push(Token::Type::Float, spelled, b).floatValue = std::strtod(spelled.c_str(), nullptr);
      return;
    }
    errno = 0;
    long long v = std::strtoll(spelled.c_str(), nullptr, 10);
    if (errno == ERANGE) error(b, "integer literal is too large.");
    push(Token::Type::Int, spelled, b).intValue = v;
  }

  void lexString() {
    size_t b = pos_;
    char quote = src_[pos_++];
    std::string raw;
    while (true) {
      if (pos_ >= src_.size()) error(b, "unexpected end of string literal.");
      char c = src_[pos_++];
      if (c == quote) break;
      raw += c;
      if (c == '\\') {
        if (pos_ >= src_.size()) error(b, "unexpected end of string literal.");
        raw += src_[pos_++];
      }
    }
    push(Token::Type::String, unescape(raw, b), b);
  }

  // Python's "unicode-escape" decoding, which jinja2 applies to string literals.
  std::string unescape(const std::string &raw, size_t at) const {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\' || i + 1 >= raw.size()) {
        out += raw[i];
        continue;
      }
      char e = raw[++i];
      switch (e) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': case 'u': case 'U': {
        size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        std::string hex = raw.substr(i + 1, n);
        if (hex.size() != n || !std::all_of(hex.begin(), hex.end(), ::isxdigit))
          error(at, "truncated escape in string literal.");
        uint32_t cp = uint32_t(std::stoul(hex, nullptr, 16));
        if (cp > 0x10FFFF) error(at, "illegal Unicode character in string literal.");
        pystr::append(out, cp);
        i += n;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = 0;
          size_t n = 0;
          while (n < 3 && i < raw.size() && raw[i] >= '0' && raw[i] <= '7') cp = cp * 8 + (raw[i++] - '0'), ++n;
          --i;
          pystr::append(out, cp);
        } else {
          out += '\\';
          out += e;
        }
      }
    }
    return out;
  }

  void lexOperator(std::vector<char> &brackets) {
    static const char *twoChar[] = {"**", "//", "==", "!=", ">=", "<="};
    for (const char *op : twoChar)
      if (src_.compare(pos_, 2, op) == 0) {
        push(Token::Type::Op, op, pos_);
        pos_ += 2;
        return;
      }
    char c = src_[pos_];
    if (!std::strchr("+-/*%~[](){}=><.:|,;", c)) {
      error(pos_, fmt::format("unexpected char '{}'.", c));
    }
    if (c == '(' || c == '[' || c == '{') brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty()) error(pos_, fmt::format("unexpected '{}'.", c));
      if (brackets.back() != c) error(pos_, fmt::format("unexpected '{}', expected '{}'.", c, brackets.back()));
      brackets.pop_back();
    }
    push(Token::Type::Op, std::string(1, c), pos_);
    ++pos_;
  }
};

} // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(normalizeNewlines(source)).run(); }

} // namespace llmrt::chat
