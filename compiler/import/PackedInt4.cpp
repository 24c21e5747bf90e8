#include "import/PackedInt4.h"

#include "plan/QuantFormat.h"
#include "support/Error.h"

#include <cstring>
#include <vector>

namespace llmc {
namespace {

template <class T> T load(std::span<const uint8_t> bytes, int64_t index) {
  T v;
  std::memcpy(&v, bytes.data() + index * sizeof(T), sizeof(T));
  return v;
}

// The checkpoint's integers, output-feature major: q[n][k], zero[n][g], d[n][g].
struct Unpacked {
  std::vector<uint8_t> q, zero;
  std::vector<uint16_t> d;
};

llm::quant::Scheme scheme(int64_t groupSize, std::string_view what) {
  switch (groupSize) {
  case 32: return llm::quant::Scheme::W4G32A;
  case 64: return llm::quant::Scheme::W4G64A;
  case 128: return llm::quant::Scheme::W4G128A;
  }
  llm::fail("{}: group size {} is not supported (expected 32, 64 or 128)", what, groupSize);
}

void checkSizes(const PackedInt4 &t, std::span<uint8_t> out, std::string_view what) {
  const int64_t K = t.inFeatures, N = t.outFeatures, G = t.groupSize;
  llm::quant::Scheme s = scheme(G, what);
  if (K <= 0 || N <= 0 || K % G != 0 || N % 8 != 0)
    llm::fail("{}: {} x {} (out x in) is not whole groups of {} and whole 8-feature words", what,
              N, K, G);
  auto expect = [&](std::span<const uint8_t> bytes, int64_t n, const char *name) {
    if (bytes.size() != static_cast<size_t>(n))
      llm::fail("{}: {} holds {} bytes, expected {}", what, name, bytes.size(), n);
  };
  expect(t.qweight, K * N / 2, "qweight");
  expect(t.qzeros, K / G * N / 2, "qzeros");
  expect(t.scales, K / G * N * 2, "scales");
  if (out.size() != llm::quant::tensorBytes(s, N, K))
    llm::fail("{}: the w4g{}a output holds {} bytes, expected {}", what, G, out.size(),
              llm::quant::tensorBytes(s, N, K));
}

Unpacked scalesOnly(const PackedInt4 &t) {
  const int64_t K = t.inFeatures, N = t.outFeatures, groups = K / t.groupSize;
  Unpacked u;
  u.q.resize(N * K);
  u.zero.resize(N * groups);
  u.d.resize(N * groups);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t n = 0; n < N; ++n)
      u.d[n * groups + g] = load<uint16_t>(t.scales, g * N + n);
  return u;
}

// Groups in order, each {d, zero, 0, nibbles}; a 32-element run's nibbles in q4_0's order.
void writeRows(const PackedInt4 &t, const Unpacked &u, std::span<uint8_t> out) {
  const int64_t K = t.inFeatures, N = t.outFeatures, G = t.groupSize, groups = K / G;
  uint8_t *p = out.data();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      llm::quant::W4GroupHeader h{u.d[n * groups + g], u.zero[n * groups + g], 0};
      std::memcpy(p, &h, sizeof h);
      p += sizeof h;
      const uint8_t *q = &u.q[n * K + g * G];
      for (int64_t r = 0; r < G / 32; ++r, p += 16)
        for (int i = 0; i < 16; ++i)
          p[i] = static_cast<uint8_t>(q[32 * r + i] | (q[32 * r + 16 + i] << 4));
    }
}

} // namespace

void repackGPTQv1(const PackedInt4 &t, std::span<uint8_t> out, std::string_view what) {
  checkSizes(t, out, what);
  const int64_t K = t.inFeatures, N = t.outFeatures, G = t.groupSize, groups = K / G;
  if (!t.gIdx.empty()) {
    if (t.gIdx.size() != static_cast<size_t>(K) * 4)
      llm::fail("{}: g_idx holds {} bytes, expected {} int32 values", what, t.gIdx.size(), K);
    for (int64_t k = 0; k < K; ++k)
      if (int32_t g = load<int32_t>(t.gIdx, k); g != k / G)
        llm::fail("{}: g_idx[{}] is {}, expected {} (only the identity grouping k / group_size "
                  "is supported; act-order, desc_act, checkpoints permute the groups)",
                  what, k, g, k / G);
  }
  Unpacked u = scalesOnly(t);
  for (int64_t i = 0; i < K / 8; ++i)
    for (int64_t n = 0; n < N; ++n) {
      uint32_t w = load<uint32_t>(t.qweight, i * N + n);
      for (int j = 0; j < 8; ++j)
        u.q[n * K + 8 * i + j] = (w >> (4 * j)) & 15;
    }
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t c = 0; c < N / 8; ++c) {
      uint32_t w = load<uint32_t>(t.qzeros, g * (N / 8) + c) + 0x11111111u;
      for (int j = 0; j < 8; ++j)
        u.zero[(8 * c + j) * groups + g] = (w >> (4 * j)) & 15;
    }
  writeRows(t, u, out);
}

void repackAWQGemm(const PackedInt4 &t, std::span<uint8_t> out, std::string_view what) {
  checkSizes(t, out, what);
  const int64_t K = t.inFeatures, N = t.outFeatures, G = t.groupSize, groups = K / G;
  Unpacked u = scalesOnly(t);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < N / 8; ++c) {
      uint32_t w = load<uint32_t>(t.qweight, k * (N / 8) + c);
      for (int i = 0; i < 8; ++i)
        u.q[(8 * c + kAWQOrder[i]) * K + k] = (w >> (4 * i)) & 15;
    }
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t c = 0; c < N / 8; ++c) {
      uint32_t w = load<uint32_t>(t.qzeros, g * (N / 8) + c);
      for (int i = 0; i < 8; ++i)
        u.zero[(8 * c + kAWQOrder[i]) * groups + g] = (w >> (4 * i)) & 15;
    }
  writeRows(t, u, out);
}

} // namespace llmc
