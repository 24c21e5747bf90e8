#include "tokenizer/AddedVocabulary.h"

#include "tokenizer/BPE.h"
#include "tokenizer/Normalizer.h"
#include "tokenizer/Utf8.h"

#include <algorithm>

namespace llmrt::tok {

namespace {

bool sameToken(const AddedToken &a, const AddedToken &b) {
  return a.content == b.content && a.singleWord == b.singleWord && a.lstrip == b.lstrip &&
         a.rstrip == b.rstrip && a.normalized == b.normalized && a.special == b.special;
}

// The character ending just before byte `end` (valid UTF-8); returns its start.
size_t previousChar(std::string_view s, size_t end, char32_t &cp) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  decodeUtf8(s, start, cp);
  return start;
}

bool endsWithWord(std::string_view s) {
  if (s.empty()) return false;
  char32_t cp = 0;
  previousChar(s, s.size(), cp);
  return isWordChar(cp);
}

bool startsWithWord(std::string_view s) {
  char32_t cp = 0;
  return !s.empty() && decodeUtf8(s, 0, cp) && isWordChar(cp);
}

// Start of the whitespace run that ends `s` (s.size() when there is none).
size_t trailingSpaceStart(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    char32_t cp = 0;
    size_t start = previousChar(s, end, cp);
    if (!isWhitespace(cp)) break;
    end = start;
  }
  return end;
}

// Length of the whitespace run that starts `s`.
size_t leadingSpaceLength(std::string_view s) {
  size_t i = 0;
  char32_t cp = 0;
  size_t n;
  while (i < s.size() && (n = decodeUtf8(s, i, cp)) && isWhitespace(cp)) i += n;
  return i;
}

} // namespace

void AddedVocabulary::Trie::clear() {
  nodes_.assign(1, Node{});
  first_.fill(false);
}

void AddedVocabulary::Trie::insert(std::string_view s, int32_t id) {
  if (s.empty()) return;
  first_[static_cast<uint8_t>(s[0])] = true;
  int32_t node = 0;
  for (unsigned char c : s) {
    auto &ch = nodes_[node].children;
    auto it = std::find_if(ch.begin(), ch.end(), [&](const auto &p) { return p.first == c; });
    if (it != ch.end()) {
      node = it->second;
    } else {
      int32_t next = static_cast<int32_t>(nodes_.size());
      nodes_[node].children.emplace_back(c, next); // before emplace_back: may reallocate
      nodes_.emplace_back();
      node = next;
    }
  }
  nodes_[node].id = id;
}

std::pair<size_t, int32_t> AddedVocabulary::Trie::longestAt(std::string_view text,
                                                            size_t pos) const {
  if (!first_[static_cast<uint8_t>(text[pos])]) return {0, -1};
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto &ch = nodes_[node].children;
    auto c = static_cast<uint8_t>(text[i]);
    auto it = std::find_if(ch.begin(), ch.end(), [&](const auto &p) { return p.first == c; });
    if (it == ch.end()) break;
    node = it->second;
    if (nodes_[node].id >= 0) best = {i + 1 - pos, nodes_[node].id};
  }
  return best;
}

void AddedVocabulary::add(const std::vector<AddedToken> &tokens, const BPE &model,
                          const Normalizer *normalizer) {
  int32_t modelSize = static_cast<int32_t>(model.entries());
  int32_t nextId = modelSize;
  if (!byId_.empty()) {
    int32_t maxId = byId_.rbegin()->first;
    nextId = maxId >= modelSize || modelSize == 0 ? maxId + 1 : modelSize;
  }
  for (const AddedToken &t : tokens) {
    if (t.content.empty()) continue;
    auto known = byContent_.find(t.content);
    if (known != byContent_.end()) {
      auto it = byId_.find(known->second);
      if (it != byId_.end() && sameToken(it->second, t)) continue;
    }
    int32_t newId;
    if (known != byContent_.end()) newId = known->second;
    else if (auto mid = model.tokenId(t.content)) newId = *mid;
    else newId = nextId++;
    if (t.normalized && normalizer) {
      std::string s = t.content;
      normalizer->normalize(s);
      if (s != t.content) normalizedForm_[newId] = std::move(s);
    }
    byContent_[t.content] = newId;
    if (t.special) special_.insert(t.content);
    byId_[newId] = t;
  }
  rebuildTries();
}

void AddedVocabulary::rebuildTries() {
  raw_.clear();
  normalizedTrie_.clear();
  for (const auto &[id, t] : byId_) {
    if (!t.normalized) {
      raw_.insert(t.content, id);
      continue;
    }
    auto nf = normalizedForm_.find(id);
    normalizedTrie_.insert(nf != normalizedForm_.end() ? nf->second : t.content, id);
  }
}

void AddedVocabulary::split(std::string_view text, const Trie &trie,
                            std::vector<Segment> &out) const {
  if (text.empty()) return;
  if (trie.empty()) {
    out.push_back({-1, 0, text.size()});
    return;
  }
  size_t startOffset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    auto [len, id] = trie.longestAt(text, pos);
    if (len == 0) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + len;
    pos = stop; // the scan resumes after every match, used or not
    const AddedToken &t = byId_.at(id);
    if (t.singleWord) {
      bool startSpace = start == 0 || !endsWithWord(text.substr(0, start));
      bool stopSpace = stop == text.size() || !startsWithWord(text.substr(stop));
      if (!startSpace || !stopSpace) continue;
    }
    if (t.lstrip) start = std::max(trailingSpaceStart(text.substr(0, start)), startOffset);
    if (t.rstrip) stop += leadingSpaceLength(text.substr(stop));
    if (startOffset < start) out.push_back({-1, startOffset, start});
    out.push_back({id, start, stop});
    startOffset = stop;
  }
  if (startOffset < text.size()) out.push_back({-1, startOffset, text.size()});
}

const AddedToken *AddedVocabulary::token(int32_t id) const {
  auto it = byId_.find(id);
  return it == byId_.end() ? nullptr : &it->second;
}

std::optional<std::string_view> AddedVocabulary::decodeText(int32_t id) const {
  auto it = byId_.find(id);
  if (it == byId_.end()) return std::nullopt;
  auto nf = normalizedForm_.find(id);
  return nf != normalizedForm_.end() ? std::string_view(nf->second)
                                     : std::string_view(it->second.content);
}

std::optional<int32_t> AddedVocabulary::id(std::string_view content) const {
  auto it = byContent_.find(content);
  if (it == byContent_.end()) return std::nullopt;
  return it->second;
}

bool AddedVocabulary::isSpecialContent(std::string_view content) const {
  return special_.find(content) != special_.end();
}

int32_t AddedVocabulary::idLimit() const { return byId_.empty() ? 0 : byId_.rbegin()->first + 1; }

} // namespace llmrt::tok
