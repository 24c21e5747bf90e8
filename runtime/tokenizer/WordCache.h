// The ids of recently encoded words, shared by all threads. Most words of a text have been seen
// before, so a lookup here replaces a BPE merge. Sixteen independently locked shards, each a
// fixed open-addressing table whose keys and ids live in two arenas; a full shard is emptied at
// once (no per-entry frees), so the cache follows the text being encoded and never grows past its
// bound (about 2 MiB).
#pragma once

#include <xxhash.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::tok {

class WordCache {
public:
  static constexpr size_t kMaxWordBytes = 255; // longer words are not cached

  // Appends the cached ids of `word` to `out`; false when it is not cached.
  bool lookup(std::string_view word, std::vector<int32_t> &out) const {
    if (word.size() > kMaxWordBytes) return false;
    uint64_t h = hash(word);
    const Shard &s = shards_[h >> 60];
    std::lock_guard lock(s.mutex);
    if (s.used == 0) return false;
    for (size_t i = h & kMask;; i = (i + 1) & kMask) {
      const Slot &slot = s.slots[i];
      if (slot.hash == 0) return false;
      if (slot.hash == h && keyOf(s, slot) == word) {
        out.insert(out.end(), s.ids.begin() + slot.idsOffset,
                   s.ids.begin() + slot.idsOffset + slot.idsLength);
        return true;
      }
    }
  }

  void insert(std::string_view word, std::span<const int32_t> ids) {
    if (word.size() > kMaxWordBytes) return;
    uint64_t h = hash(word);
    Shard &s = shards_[h >> 60];
    std::lock_guard lock(s.mutex);
    if (s.slots.empty()) s.slots.resize(kSlots);
    if (s.used >= kMaxUsed) {
      std::fill(s.slots.begin(), s.slots.end(), Slot{});
      s.keys.clear();
      s.ids.clear();
      s.used = 0;
    }
    for (size_t i = h & kMask;; i = (i + 1) & kMask) {
      Slot &slot = s.slots[i];
      if (slot.hash == h && keyOf(s, slot) == word) return; // another thread was first
      if (slot.hash != 0) continue;
      slot = {h, static_cast<uint32_t>(s.keys.size()), static_cast<uint32_t>(word.size()),
              static_cast<uint32_t>(s.ids.size()), static_cast<uint32_t>(ids.size())};
      s.keys.append(word);
      s.ids.insert(s.ids.end(), ids.begin(), ids.end());
      ++s.used;
      return;
    }
  }

private:
  static constexpr size_t kSlots = 4096, kMask = kSlots - 1, kMaxUsed = kSlots * 3 / 4;
  struct Slot {
    uint64_t hash = 0; // 0 = empty
    uint32_t keyOffset = 0, keyLength = 0, idsOffset = 0, idsLength = 0;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::vector<Slot> slots; // allocated on first insert
    std::string keys;
    std::vector<int32_t> ids;
    size_t used = 0;
  };
  static uint64_t hash(std::string_view w) { return XXH3_64bits(w.data(), w.size()) | 1; }
  static std::string_view keyOf(const Shard &s, const Slot &slot) {
    return std::string_view(s.keys).substr(slot.keyOffset, slot.keyLength);
  }

  mutable std::array<Shard, 16> shards_;
};

} // namespace llmrt::tok
