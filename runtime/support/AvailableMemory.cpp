#include "support/AvailableMemory.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

namespace llm {

namespace {

// v1 reports "no limit" as a page-rounded 2^63 - 1; anything this large is no limit.
constexpr uint64_t kNoLimit = uint64_t{1} << 60;

std::optional<std::string> readText(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<uint64_t> parseBytes(std::optional<std::string> text) {
  if (!text)
    return std::nullopt;
  std::string_view v(*text);
  while (!v.empty() && (v.back() == '\n' || v.back() == ' '))
    v.remove_suffix(1);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty())
    return std::nullopt; // "max" (v2's no limit) or garbage
  return n;
}

// dir, then its ancestors up to base: "/sys/fs/cgroup" + "/a/b" gives .../a/b, .../a, base.
std::vector<std::string> selfAndAncestors(const std::string &base, std::string_view path) {
  std::vector<std::string> dirs;
  std::string p(path);
  while (!p.empty() && p.back() == '/')
    p.pop_back();
  for (;;) {
    dirs.push_back(base + p);
    if (p.empty())
      return dirs;
    p.erase(p.rfind('/'));
  }
}

} // namespace

std::optional<uint64_t> memAvailableFrom(std::string_view meminfo) {
  std::istringstream lines{std::string(meminfo)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name, unit;
    uint64_t kib = 0;
    if (fields >> name >> kib >> unit && name == "MemAvailable:" && unit == "kB")
      return kib * 1024;
  }
  return std::nullopt;
}

std::optional<uint64_t> cgroupHeadroom(std::string_view procSelfCgroup, const ReadTextFn &read) {
  std::optional<uint64_t> least;
  std::istringstream lines{std::string(procSelfCgroup)};
  std::string line;
  while (std::getline(lines, line)) {
    // "id:controllers:path"; v2 is "0::path", v1 lists its controllers ("4:memory:/x").
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos)
      continue;
    const std::string id = line.substr(0, a), controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    std::string base, limitFile, usageFile;
    if (id == "0" && controllers.empty()) {
      base = "/sys/fs/cgroup", limitFile = "/memory.max", usageFile = "/memory.current";
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      base = "/sys/fs/cgroup/memory", limitFile = "/memory.limit_in_bytes";
      usageFile = "/memory.usage_in_bytes";
    } else {
      continue;
    }
    for (const std::string &dir : selfAndAncestors(base, path)) {
      const std::optional<uint64_t> limit = parseBytes(read(dir + limitFile));
      const std::optional<uint64_t> usage = parseBytes(read(dir + usageFile));
      if (!limit || *limit >= kNoLimit || !usage)
        continue;
      const uint64_t headroom = *limit > *usage ? *limit - *usage : 0;
      least = least ? std::min(*least, headroom) : headroom;
    }
  }
  return least;
}

std::optional<uint64_t> availableMemoryBytes() {
  std::optional<std::string> meminfo = readText("/proc/meminfo");
  std::optional<uint64_t> available = meminfo ? memAvailableFrom(*meminfo) : std::nullopt;
  if (!available)
    return std::nullopt;
  if (std::optional<std::string> cgroup = readText("/proc/self/cgroup"))
    if (std::optional<uint64_t> headroom = cgroupHeadroom(*cgroup, readText))
      return std::min(*available, *headroom);
  return available;
}

} // namespace llm
