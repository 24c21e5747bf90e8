// The tuning database: version 1 files still load, version 2 token buckets round-trip through
// toJson/parse, overlapping buckets and bad ranges are refused, saving replaces the file whole.
#include "support/Error.h"
#include "tuning/TuningDB.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using llmc::TuningDB;

namespace {

const char *kVersion1 = R"({"format": "llmc-tuning-db", "version": 1, "entries": [
  {"target": "cpu", "kernel": "linear", "shape": {"in_features": 16, "out_features": 8},
   "params": {"block_cols": 32, "block_rows": 6}, "time_us": 1.5}]})";

TEST(TuningDB, Version1Loads) {
  TuningDB db = TuningDB::parse(kVersion1, "v1.json");
  ASSERT_EQ(db.size(), 1u);
  const TuningDB::Params *p = db.lookup("cpu", "linear", "in_features=16,out_features=8");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->at("block_cols"), 32);
  EXPECT_TRUE(db.buckets("cpu", "linear", "in_features=16,out_features=8").empty());
}

TEST(TuningDB, Version2BucketsRoundTrip) {
  TuningDB db;
  for (auto [lo, hi, cols] : {std::tuple{1, 1, 8}, {2, 8, 16}, {9, 0, 64}})
    db.add({"cpu", "linear", {{"in_features", 16}, {"out_features", 8}},
            TuningDB::TokenRange{lo, hi}, {{"block_cols", cols}}, 2.5, 3.0, ""});
  TuningDB again = TuningDB::parse(db.toJson(), "round-trip");
  EXPECT_EQ(again.toJson(), db.toJson());
  auto b = again.buckets("cpu", "linear", "in_features=16,out_features=8");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0]->tokens->str(), "1");
  EXPECT_EQ(b[1]->tokens->str(), "2-8");
  EXPECT_EQ(b[2]->tokens->str(), "9+");
  EXPECT_EQ(b[2]->params.at("block_cols"), 64);
  EXPECT_EQ(again.lookup("cpu", "linear", "in_features=16,out_features=8"), nullptr);
}

TEST(TuningDB, RefusesOverlapsBadRangesAndTokensInVersion1) {
  const char *overlap = R"({"format": "llmc-tuning-db", "version": 2, "entries": [
    {"target": "cpu", "kernel": "linear", "shape": {"in_features": 16, "out_features": 8},
     "tokens": {"min": 1, "max": 8}, "params": {}},
    {"target": "cpu", "kernel": "linear", "shape": {"in_features": 16, "out_features": 8},
     "tokens": {"min": 8}, "params": {}}]})";
  EXPECT_THROW(
      {
        try {
          TuningDB::parse(overlap, "o.json");
        } catch (const llm::Error &e) {
          EXPECT_NE(std::string(e.what()).find("o.json: entry 1: tokens 8+ overlap the bucket 1-8"),
                    std::string::npos)
              << e.what();
          throw;
        }
      },
      llm::Error);
  const char *badRange = R"({"format": "llmc-tuning-db", "version": 2, "entries": [
    {"target": "cpu", "kernel": "linear", "shape": {"in_features": 16, "out_features": 8},
     "tokens": {"min": 9, "max": 8}, "params": {}}]})";
  EXPECT_THROW(TuningDB::parse(badRange, "r.json"), llm::Error);
  std::string v1Tokens = kVersion1;
  v1Tokens.replace(v1Tokens.find("\"params\""), 0, "\"tokens\": {\"min\": 1}, ");
  EXPECT_THROW(TuningDB::parse(v1Tokens, "t.json"), llm::Error);
  EXPECT_THROW(TuningDB::parse(R"({"format": "llmc-tuning-db", "version": 3, "entries": []})",
                               "v3.json"),
               llm::Error);
}

TEST(TuningDB, LaterEntryReplacesSameKey) {
  TuningDB db = TuningDB::parse(kVersion1, "v1.json");
  db.add({"cpu", "linear", {{"in_features", 16}, {"out_features", 8}}, std::nullopt,
          {{"block_cols", 64}}, 0, 0, ""});
  EXPECT_EQ(db.size(), 1u);
  EXPECT_EQ(db.lookup("cpu", "linear", "in_features=16,out_features=8")->at("block_cols"), 64);
}

TEST(TuningDB, SaveWritesAWholeFile) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "llmc_tuning_db_test";
  std::filesystem::create_directories(dir);
  std::string path = (dir / "db.json").string();
  TuningDB db = TuningDB::parse(kVersion1, "v1.json");
  db.save(path);
  EXPECT_EQ(TuningDB::load(path).toJson(), db.toJson());
  for (const auto &f : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(f.path().filename(), "db.json"); // no temporary left behind
  std::filesystem::remove_all(dir);
}

} // namespace
