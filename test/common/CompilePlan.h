// Helpers shared by the tests that compile models with the llmc binary the build made (parity,
// engine and default-model end-to-end tests).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace llmtest {

// Runs `llmc compile -q FLAGS MODEL -o PLAN` (PLAN's folder is created); the shell command on
// failure, "" on success — for an assertion's message.
inline std::string compilePlan(const std::string &llmc, const std::string &model,
                               const std::string &plan, const std::string &flags = "") {
  std::filesystem::create_directories(std::filesystem::path(plan).parent_path());
  std::string cmd = llmc;
  for (const std::string &part : {std::string(" compile -q "), flags, std::string(" '"), model,
                                  std::string("' -o '"), plan, std::string("'")})
    cmd += part;
  return std::system(cmd.c_str()) == 0 ? "" : cmd;
}

// A folder of this test process (temp/PREFIX-PID), removed with everything in it when the process
// exits: compiled plans never accumulate in the temp directory.
inline std::filesystem::path processScratchDir(const std::string &prefix) {
  struct Owned {
    std::filesystem::path dir;
    ~Owned() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  static Owned owned{std::filesystem::temp_directory_path() /
                     (prefix + "-" + std::to_string(::getpid()))};
  return owned.dir;
}

// The sub-folders of `dir` that hold `marker` (e.g. config.json), sorted.
inline std::vector<std::string> fixtureNames(const std::string &dir, const std::string &marker) {
  std::vector<std::string> names;
  for (const auto &e : std::filesystem::directory_iterator(dir))
    if (std::filesystem::exists(e.path() / marker))
      names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace llmtest
