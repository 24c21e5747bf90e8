#include "chat/PyString.h"

#include <algorithm>
#include <stdexcept>

#include <utf8proc.h>

namespace llmrt::chat::pystr {

std::vector<uint32_t> decode(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    uint32_t cp = n == 1 ? c : (c & (0x7F >> n));
    bool ok = true;
    for (int k = 1; k < n; ++k) {
      unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

void append(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

std::string encode(const std::vector<uint32_t> &cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) append(out, cps[i]);
  return out;
}

bool isAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (unsigned char)c < 0x80; });
}

size_t length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

bool isSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// The code point that starts at byte `i` (invalid bytes read as U+FFFD) and its length.
static std::pair<uint32_t, size_t> codePointAt(std::string_view s, size_t i) {
  unsigned char c = s[i];
  if (c < 0x80) return {c, 1};
  size_t n = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (n == 1 || i + n > s.size()) return {0xFFFD, 1};
  auto cps = decode(s.substr(i, n));
  return cps.size() == 1 ? std::pair{cps[0], n} : std::pair{uint32_t(0xFFFD), size_t(1)};
}

std::string strip(std::string_view s, const std::optional<std::string> &chars, bool left, bool right) {
  if (!chars) {
    // Whitespace only: walk the ends without decoding the middle (contents can be long).
    size_t b = 0, e = s.size();
    while (left && b < e) {
      auto [cp, n] = codePointAt(s, b);
      if (!isSpace(cp)) break;
      b += n;
    }
    while (right && e > b) {
      size_t start = e - 1;
      while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && e - start < 4) --start;
      auto [cp, n] = codePointAt(s, start);
      if (start + n != e || !isSpace(cp)) break;
      e = start;
    }
    return std::string(s.substr(b, e - b));
  }
  std::vector<uint32_t> cps = decode(s);
  std::vector<uint32_t> set;
  if (chars) set = decode(*chars);
  auto strippable = [&](uint32_t cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : isSpace(cp);
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strippable(cps[b])) ++b;
  if (right)
    while (e > b && strippable(cps[e - 1])) --e;
  return encode(cps, b, e);
}

// Splits on runs of whitespace, dropping empty pieces (str.split() without a separator).
static std::vector<std::string> splitWhitespace(std::string_view s, int64_t maxsplit, bool fromRight) {
  std::vector<uint32_t> cps = decode(s);
  std::vector<std::pair<size_t, size_t>> words;
  size_t i = 0;
  while (i < cps.size()) {
    while (i < cps.size() && isSpace(cps[i])) ++i;
    if (i == cps.size()) break;
    size_t b = i;
    while (i < cps.size() && !isSpace(cps[i])) ++i;
    words.emplace_back(b, i);
  }
  std::vector<std::string> out;
  if (maxsplit < 0 || size_t(maxsplit) >= words.size()) {
    for (auto [b, e] : words) out.push_back(encode(cps, b, e));
    return out;
  }
  // Only maxsplit splits: the remainder keeps its inner whitespace and the whitespace at its
  // far end (Python: 'a b  c '.split(None, 1) == ['a', 'b  c ']).
  size_t n = words.size();
  if (!fromRight) {
    for (int64_t k = 0; k < maxsplit; ++k) out.push_back(encode(cps, words[k].first, words[k].second));
    out.push_back(encode(cps, words[maxsplit].first, cps.size()));
    return out;
  }
  out.push_back(encode(cps, 0, words[n - 1 - maxsplit].second));
  for (int64_t k = maxsplit - 1; k >= 0; --k)
    out.push_back(encode(cps, words[n - 1 - k].first, words[n - 1 - k].second));
  return out;
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string> &sep, int64_t maxsplit) {
  if (!sep) return splitWhitespace(s, maxsplit, false);
  if (sep->empty()) throw std::invalid_argument("empty separator");
  std::vector<std::string> out;
  size_t pos = 0;
  while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
    size_t hit = s.find(*sep, pos);
    if (hit == std::string_view::npos) break;
    out.emplace_back(s.substr(pos, hit - pos));
    pos = hit + sep->size();
  }
  out.emplace_back(s.substr(pos));
  return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string> &sep, int64_t maxsplit) {
  if (!sep) return splitWhitespace(s, maxsplit, true);
  if (sep->empty()) throw std::invalid_argument("empty separator");
  std::vector<std::string> rev;
  size_t end = s.size();
  while (maxsplit < 0 || int64_t(rev.size()) < maxsplit) {
    if (end < sep->size()) break;
    size_t hit = s.rfind(*sep, end - sep->size());
    if (hit == std::string_view::npos) break;
    rev.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
    end = hit;
  }
  rev.emplace_back(s.substr(0, end));
  return {rev.rbegin(), rev.rend()};
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  std::vector<uint32_t> cps = decode(s);
  std::vector<std::string> out;
  size_t b = 0, i = 0;
  auto isBreak = [](uint32_t c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
           c == 0x85 || c == 0x2028 || c == 0x2029;
  };
  while (i < cps.size()) {
    if (!isBreak(cps[i])) {
      ++i;
      continue;
    }
    size_t e = i;
    i += (cps[i] == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ? 2 : 1;
    out.push_back(encode(cps, b, keepends ? i : e));
    b = i;
  }
  if (b < cps.size()) out.push_back(encode(cps, b, cps.size()));
  return out;
}

std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` between characters (and at both ends).
    std::vector<uint32_t> cps = decode(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (i < cps.size()) append(out, cps[i]);
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

int64_t find(std::string_view s, std::string_view sub) {
  size_t hit = s.find(sub);
  return hit == std::string_view::npos ? -1 : int64_t(length(s.substr(0, hit)));
}

int64_t rfind(std::string_view s, std::string_view sub) {
  size_t hit = s.rfind(sub);
  return hit == std::string_view::npos ? -1 : int64_t(length(s.substr(0, hit)));
}

int64_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return int64_t(length(s)) + 1;
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size())) ++n;
  return n;
}

std::string htmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&#34;"; break;
    case '\'': out += "&#39;"; break;
    default: out += c;
    }
  }
  return out;
}

static char up(char c) { return c >= 'a' && c <= 'z' ? char(c - 32) : c; }
static char down(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }

static bool isCased(uint32_t cp) {
  auto cat = utf8proc_category(utf8proc_int32_t(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

// Python's full case mapping where it differs from the one-to-one mapping: only ß (-> SS) is
// common in chat text; other multi-character mappings keep the one-to-one result.
static void appendUpper(std::string &out, uint32_t cp) {
  if (cp == 0xDF) {
    out += "SS";
    return;
  }
  append(out, uint32_t(utf8proc_toupper(utf8proc_int32_t(cp))));
}

static void appendLower(std::string &out, uint32_t cp) { append(out, uint32_t(utf8proc_tolower(utf8proc_int32_t(cp)))); }

std::string upper(std::string_view s) {
  std::string out;
  if (isAscii(s)) {
    out.assign(s);
    for (char &c : out) c = up(c);
    return out;
  }
  for (uint32_t cp : decode(s)) appendUpper(out, cp);
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  if (isAscii(s)) {
    out.assign(s);
    for (char &c : out) c = down(c);
    return out;
  }
  for (uint32_t cp : decode(s)) appendLower(out, cp);
  return out;
}

std::string capitalize(std::string_view s) {
  std::vector<uint32_t> cps = decode(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i == 0) append(out, uint32_t(utf8proc_totitle(utf8proc_int32_t(cps[0]))));
    else appendLower(out, cps[i]);
  }
  return out;
}

std::string title(std::string_view s) {
  // A cased character after a cased character is lowered; any other is title-cased.
  std::string out;
  bool prevCased = false;
  for (uint32_t cp : decode(s)) {
    if (prevCased) appendLower(out, cp);
    else append(out, uint32_t(utf8proc_totitle(utf8proc_int32_t(cp))));
    prevCased = isCased(cp);
  }
  return out;
}

} // namespace llmrt::chat::pystr
