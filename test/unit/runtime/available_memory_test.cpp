// availableMemoryBytes' parts: MemAvailable from /proc/meminfo, and the headroom of the memory
// cgroups (v2 and v1, and their ancestors) over a faked /sys/fs/cgroup.
#include "support/AvailableMemory.h"

#include <gtest/gtest.h>

#include <map>

namespace llm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

ReadTextFn files(std::map<std::string, std::string> contents) {
  return [contents = std::move(contents)](const std::string &path) -> std::optional<std::string> {
    auto it = contents.find(path);
    if (it == contents.end())
      return std::nullopt;
    return it->second;
  };
}

TEST(AvailableMemoryTest, MemAvailableFromMeminfo) {
  EXPECT_EQ(memAvailableFrom("MemTotal:       24000000 kB\nMemFree:  100 kB\n"
                             "MemAvailable:   20000000 kB\nBuffers: 1 kB\n"),
            uint64_t{20000000} * 1024);
  EXPECT_EQ(memAvailableFrom("MemTotal: 1 kB\n"), std::nullopt);
  EXPECT_EQ(memAvailableFrom(""), std::nullopt);
}

TEST(AvailableMemoryTest, CgroupV2LimitAndItsAncestors) {
  const std::string self = "0::/box/job\n";
  // The job's own limit.
  const std::string job = "/sys/fs/cgroup/box/job";
  EXPECT_EQ(cgroupHeadroom(self, files({{job + "/memory.max", "2147483648\n"},
                                        {job + "/memory.current", "1073741824\n"}})),
            1024 * kMiB);
  // No limit of its own ("max"), a tighter one on the parent.
  EXPECT_EQ(cgroupHeadroom(self, files({{"/sys/fs/cgroup/box/job/memory.max", "max\n"},
                                        {"/sys/fs/cgroup/box/job/memory.current", "100\n"},
                                        {"/sys/fs/cgroup/box/memory.max", "1048676\n"},
                                        {"/sys/fs/cgroup/box/memory.current", "100\n"}})),
            kMiB);
  // A container's namespaced view: "0::/" and the limit at the mount.
  EXPECT_EQ(cgroupHeadroom("0::/\n", files({{"/sys/fs/cgroup/memory.max", "3145728"},
                                            {"/sys/fs/cgroup/memory.current", "1048576"}})),
            2 * kMiB);
  // Usage over the limit leaves nothing; no limit anywhere is nullopt.
  EXPECT_EQ(cgroupHeadroom(self, files({{"/sys/fs/cgroup/box/job/memory.max", "10"},
                                        {"/sys/fs/cgroup/box/job/memory.current", "20"}})),
            0u);
  EXPECT_EQ(cgroupHeadroom(self, files({{"/sys/fs/cgroup/box/job/memory.max", "max"},
                                        {"/sys/fs/cgroup/box/job/memory.current", "20"}})),
            std::nullopt);
  EXPECT_EQ(cgroupHeadroom(self, files({})), std::nullopt);
}

TEST(AvailableMemoryTest, CgroupV1MemoryController) {
  const std::string self = "9:name=systemd:/\n4:cpu,memory:/jobs/7\n0::/\n";
  const std::string job = "/sys/fs/cgroup/memory/jobs/7";
  EXPECT_EQ(cgroupHeadroom(self, files({{job + "/memory.limit_in_bytes", "8388608"},
                                        {job + "/memory.usage_in_bytes", "4194304"}})),
            4 * kMiB);
  // v1's "no limit" is a page-rounded 2^63 - 1.
  EXPECT_EQ(cgroupHeadroom(self, files({{"/sys/fs/cgroup/memory/jobs/7/memory.limit_in_bytes",
                                         "9223372036854771712"},
                                        {"/sys/fs/cgroup/memory/jobs/7/memory.usage_in_bytes",
                                         "4194304"}})),
            std::nullopt);
  // Lines of other controllers, and garbage, name no limit.
  EXPECT_EQ(cgroupHeadroom("3:cpuset:/x\nnonsense\n", files({})), std::nullopt);
}

TEST(AvailableMemoryTest, ThisMachineReportsSomething) {
  const std::optional<uint64_t> bytes = availableMemoryBytes();
  ASSERT_TRUE(bytes.has_value()); // Linux has /proc/meminfo
  EXPECT_GT(*bytes, 0u);
}

} // namespace
} // namespace llm
