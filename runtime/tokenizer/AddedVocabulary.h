// tokenizer.json "added_tokens": strings matched whole in the input before the model runs
// (special tokens such as <|im_start|>, and user-added ones). Matching is leftmost-longest over
// all tokens; single_word, lstrip and rstrip adjust a match as the `tokenizers` library does.
// Tokens with normalized=false are matched in the raw text, the others in the normalized text.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace llmrt::tok {

class BPE;
class Normalizer;

struct AddedToken {
  std::string content;
  bool singleWord = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

class AddedVocabulary {
public:
  // A cut of the text: an added token (id >= 0) or the text [begin, end) between tokens.
  struct Segment {
    int32_t id;
    size_t begin, end;
  };

  // Adds `tokens` in order, giving each the id the `tokenizers` library gives it: its id in the
  // model's vocabulary when it is there, else the next free id from the model's entry count.
  void add(const std::vector<AddedToken> &tokens, const BPE &model, const Normalizer *normalizer);

  // Cuts `text` at the tokens matched in raw text (normalized=false) or in normalized text.
  void splitRaw(std::string_view text, std::vector<Segment> &out) const {
    split(text, raw_, out);
  }
  void splitNormalized(std::string_view text, std::vector<Segment> &out) const {
    split(text, normalizedTrie_, out);
  }

  const AddedToken *token(int32_t id) const;
  // What decoding shows for an added token: its content, or its normalized form when normalized.
  std::optional<std::string_view> decodeText(int32_t id) const;
  std::optional<int32_t> id(std::string_view content) const;
  bool isSpecialContent(std::string_view content) const;
  // Largest id + 1 (0 when empty).
  int32_t idLimit() const;
  bool empty() const { return byId_.empty(); }

private:
  // A byte trie over token strings for leftmost-longest matching.
  class Trie {
  public:
    void clear();
    void insert(std::string_view s, int32_t id);
    bool empty() const { return nodes_.size() <= 1; }
    // The longest token starting at `pos`: (length, id), or (0, -1).
    std::pair<size_t, int32_t> longestAt(std::string_view text, size_t pos) const;

  private:
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;
      int32_t id = -1;
    };
    std::vector<Node> nodes_{1};
    std::array<bool, 256> first_{};
  };

  void split(std::string_view text, const Trie &trie, std::vector<Segment> &out) const;
  void rebuildTries();

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> byContent_;
  std::map<int32_t, AddedToken> byId_;
  std::unordered_map<int32_t, std::string> normalizedForm_; // only where it differs
  std::unordered_set<std::string, StringHash, std::equal_to<>> special_;
  Trie raw_, normalizedTrie_;
};

} // namespace llmrt::tok
