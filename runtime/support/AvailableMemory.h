// How much memory this process may still take: the OS's MemAvailable, lowered to what its memory
// cgroup (v2 or v1, and their ancestors) still allows under a limit. The KV cache's default
// budget and the choice to copy a CPU plan's weights rest on it: inside a container with a memory
// limit, the host's MemAvailable alone overstates it, and a server would commit memory the
// container cannot have (an OOM kill at start-up).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace llm {

// nullopt when /proc/meminfo cannot be read.
std::optional<uint64_t> availableMemoryBytes();

// The parts, for tests.
// MemAvailable from /proc/meminfo's text, in bytes.
std::optional<uint64_t> memAvailableFrom(std::string_view meminfo);
// The least headroom (limit - usage) of the memory cgroups that /proc/self/cgroup's text names
// and their ancestors, reading files under /sys/fs/cgroup through `read` (nullopt: a file that
// cannot be read); nullopt when no limit is set.
using ReadTextFn = std::function<std::optional<std::string>(const std::string &path)>;
std::optional<uint64_t> cgroupHeadroom(std::string_view procSelfCgroup, const ReadTextFn &read);

} // namespace llm
