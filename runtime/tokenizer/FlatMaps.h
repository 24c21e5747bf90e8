// Open-addressing hash maps for the BPE model's hot lookups: token string -> id (every character
// of every new word, and every merge while loading) and (left id, right id) -> merge. Power-of-two
// tables with linear probing, keys in one arena: no per-entry allocation, no division, few cache
// misses. Built once; lookups are const and thread-safe.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::tok {

class TokenIdMap {
public:
  void reserve(size_t entries, size_t keyBytes) {
    size_t cap = 64;
    while (cap * 3 < entries * 4) cap *= 2;
    while (slots_.size() < cap) grow();
    arena_.reserve(keyBytes);
  }

  // Inserts `key` or gives it a new id.
  void insertOrAssign(std::string_view key, int32_t id) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    uint64_t h = hash(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot &s = slots_[i];
      if (s.hash == 0) {
        s = {h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), id};
        arena_.append(key);
        ++size_;
        return;
      }
      if (s.hash == h && keyOf(s) == key) {
        s.id = id;
        return;
      }
    }
  }

  // The id of `key`, or -1.
  int32_t find(std::string_view key) const {
    if (size_ == 0) return -1;
    uint64_t h = hash(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot &s = slots_[i];
      if (s.hash == 0) return -1;
      if (s.hash == h && keyOf(s) == key) return s.id;
    }
  }

  size_t size() const { return size_; }

  // Calls f(key, id) for every entry; the keys stay valid while the map is not modified.
  template <typename F> void forEach(F &&f) const {
    for (const Slot &s : slots_)
      if (s.hash != 0) f(keyOf(s), s.id);
  }

private:
  struct Slot {
    uint64_t hash = 0; // 0 = empty (hash() never returns 0)
    uint32_t offset = 0, length = 0;
    int32_t id = -1;
  };
  static uint64_t hash(std::string_view key) { return XXH3_64bits(key.data(), key.size()) | 1; }
  std::string_view keyOf(const Slot &s) const {
    return std::string_view(arena_).substr(s.offset, s.length);
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot &s : old) {
      if (s.hash == 0) continue;
      size_t i = s.hash & mask_;
      while (slots_[i].hash != 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
  uint64_t mask_ = 0;
};

// (left id, right id) -> (rank, merged id).
class MergeMap {
public:
  struct Merge {
    int32_t rank = -1, result = -1;
  };

  void reserve(size_t n) {
    size_t cap = 64;
    while (cap * 3 < n * 4) cap *= 2;
    if (cap > slots_.size()) rehash(cap);
  }

  void insertOrAssign(int32_t left, int32_t right, Merge m) {
    if ((size_ + 1) * 4 > slots_.size() * 3) rehash(slots_.empty() ? 64 : slots_.size() * 2);
    uint64_t k = key(left, right);
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      Slot &s = slots_[i];
      if (s.key == kEmpty) {
        s = {k, m};
        ++size_;
        return;
      }
      if (s.key == k) {
        s.merge = m;
        return;
      }
    }
  }

  // nullptr when the pair does not merge.
  const Merge *find(int32_t left, int32_t right) const {
    if (size_ == 0) return nullptr;
    uint64_t k = key(left, right);
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      const Slot &s = slots_[i];
      if (s.key == k) return &s.merge;
      if (s.key == kEmpty) return nullptr;
    }
  }

  size_t size() const { return size_; }

private:
  static constexpr uint64_t kEmpty = ~0ull; // ids are >= 0, so no pair maps to it
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge;
  };
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  size_t slot(uint64_t k) const { return (k * 0x9E3779B97F4A7C15ull) >> shift_; }
  void rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(capacity));
    for (const Slot &s : old) {
      if (s.key == kEmpty) continue;
      size_t i = slot(s.key);
      while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
  uint64_t mask_ = 0;
  unsigned shift_ = 64;
};

} // namespace llmrt::tok
