// PageMemory (anonymous huge-page memory) and MappedFile's two backings: the same bytes either way,
// read-only, aligned, and clear errors for a file that cannot be read.
#include "TestPlanWriter.h"
#include "support/Error.h"
#include "support/MappedFile.h"
#include "support/PageMemory.h"

#include <gtest/gtest.h>

#include <csetjmp>
#include <csignal>
#include <cstring>
#include <fstream>
#include <numeric>
#include <vector>

namespace llmrt::test {
namespace {

using llm::MappedFile;
using llm::PageMemory;

TEST(PageMemoryTest, ZeroedAlignedAndWritable) {
  const size_t bytes = 5 * PageMemory::kHugePageBytes / 2 + 123; // not a whole number of pages
  PageMemory m = PageMemory::allocate(bytes, "test buffer");
  ASSERT_NE(m.data(), nullptr);
  EXPECT_EQ(m.size(), bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % PageMemory::kHugePageBytes, 0u);
  for (size_t at = 0; at < bytes; at += 4093)
    ASSERT_EQ(m.data()[at], std::byte{0}) << at;
  EXPECT_EQ(m.data()[bytes - 1], std::byte{0});
  std::memset(m.data(), 0x5a, bytes);
  EXPECT_EQ(m.data()[bytes - 1], std::byte{0x5a});
}

TEST(PageMemoryTest, EmptyAndMoved) {
  PageMemory empty = PageMemory::allocate(0, "nothing");
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);

  PageMemory a = PageMemory::allocate(4096, "a");
  std::byte *data = a.data();
  data[7] = std::byte{42};
  PageMemory b = std::move(a);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.data()[7], std::byte{42});
  PageMemory c = PageMemory::allocate(4096, "c");
  c = std::move(b); // c's own region is released, b's taken over
  EXPECT_EQ(c.data(), data);
  EXPECT_EQ(c.size(), 4096u);
  EXPECT_EQ(b.data(), nullptr);
}

TEST(PageMemoryTest, AbsurdSizeIsAnError) {
  try {
    PageMemory::allocate(SIZE_MAX - 10, "KV cache keys");
    ADD_FAILURE() << "allocated SIZE_MAX bytes";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("KV cache keys"), std::string::npos) << e.what();
  }
}

sigjmp_buf gFaultJump;
void onFault(int) { siglongjmp(gFaultJump, 1); }

TEST(PageMemoryTest, ReadOnlyRegionFaultsOnWrite) {
  PageMemory m = PageMemory::allocate(8192, "weights");
  m.data()[100] = std::byte{9};
  m.protectReadOnly();
  EXPECT_EQ(m.data()[100], std::byte{9}); // still readable
  struct sigaction fault {}, old {};
  fault.sa_handler = onFault;
  sigemptyset(&fault.sa_mask);
  ASSERT_EQ(sigaction(SIGSEGV, &fault, &old), 0);
  volatile bool faulted = false; // set after the jump: kept in memory
  if (sigsetjmp(gFaultJump, 1) == 0)
    *static_cast<volatile std::byte *>(m.data() + 100) = std::byte{1};
  else
    faulted = true;
  sigaction(SIGSEGV, &old, nullptr);
  EXPECT_TRUE(faulted);
  EXPECT_EQ(m.data()[100], std::byte{9});
}

class MappedFileTest : public ::testing::Test {
protected:
  std::filesystem::path write(const std::string &name, const std::vector<uint8_t> &bytes) {
    std::filesystem::path p = dir_.path() / name;
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    return p;
  }
  TempDir dir_;
};

TEST_F(MappedFileTest, BothBackingsHoldTheFilesBytes) {
  std::vector<uint8_t> bytes(3 * 4096 + 17);
  std::iota(bytes.begin(), bytes.end(), uint8_t{3});
  const std::string path = write("w.bin", bytes).string();
  for (auto backing : {MappedFile::Backing::Mapped, MappedFile::Backing::HugePages}) {
    MappedFile f = MappedFile::open(path, backing);
    EXPECT_EQ(f.backing(), backing);
    ASSERT_EQ(f.size(), bytes.size());
    EXPECT_EQ(std::memcmp(f.data(), bytes.data(), bytes.size()), 0);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f.data()) % 4096, 0u);
    MappedFile moved;
    moved = std::move(f); // the bytes stay where they are
    EXPECT_EQ(std::memcmp(moved.data(), bytes.data(), bytes.size()), 0);
    EXPECT_EQ(f.data(), nullptr);
  }
}

TEST_F(MappedFileTest, EmptyFileAndErrors) {
  const std::string empty = write("empty.bin", {}).string();
  for (auto backing : {MappedFile::Backing::Mapped, MappedFile::Backing::HugePages}) {
    MappedFile f = MappedFile::open(empty, backing);
    EXPECT_EQ(f.size(), 0u);
    EXPECT_EQ(f.data(), nullptr);
    try {
      MappedFile::open((dir_.path() / "missing.bin").string(), backing);
      ADD_FAILURE() << "opened a missing file";
    } catch (const llm::Error &e) {
      EXPECT_NE(std::string(e.what()).find("missing.bin"), std::string::npos) << e.what();
    }
    EXPECT_THROW(MappedFile::open(dir_.path().string(), backing), llm::Error); // a directory
  }
}

} // namespace
} // namespace llmrt::test
