// analyze's input reader: plain and gzip files give the same lines, whatever
// the buffer boundaries; concatenated members, long lines, truncated and
// corrupt inputs.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "engine/analyze.h"

namespace dg::engine {
namespace {

std::string tmp_path(const std::string& name) {
  return ::testing::TempDir() + "line_reader_" + std::to_string(::getpid()) + "_" + name;
}

void write_plain(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string gzip_bytes(const std::string& data) {
  std::string path = tmp_path("gz_scratch");
  gzFile g = gzopen(path.c_str(), "wb");
  EXPECT_NE(g, nullptr);
  if (!data.empty()) {
    EXPECT_EQ(gzwrite(g, data.data(), static_cast<unsigned>(data.size())), static_cast<int>(data.size()));
  }
  gzclose(g);
  std::ifstream in(path, std::ios::binary);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(path.c_str());
  return out;
}

struct Read {
  std::vector<std::string> lines;
  std::string error;
  uint64_t last_line_no = 0;
};

Read read_all(const std::string& path) {
  auto r = LineReader::open(path);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  Read out;
  if (!r.ok()) return out;
  std::string_view line;
  while ((*r)->next(line)) out.lines.emplace_back(line);
  out.error = (*r)->error();
  out.last_line_no = (*r)->line_no();
  return out;
}

// Lines of every length up to a few times the 4 MiB buffer, so lines cross
// buffer boundaries at many offsets, and one line longer than the buffer.
std::string sample_text(std::vector<std::string>* lines) {
  std::string text;
  uint32_t x = 12345;
  for (int i = 0; i < 6000; ++i) {
    x = x * 1103515245u + 12345u;
    std::string l(x % 3000, static_cast<char>('a' + i % 26));
    if (i == 3000) l = std::string(9u << 20, 'L');
    if (i % 7 == 0) l += '\r';  // CR is kept (the parser skips it as whitespace)
    if (i % 11 == 0) l.clear();
    lines->push_back(l);
    text += l;
    text += '\n';
  }
  text += "last line without newline";
  lines->push_back("last line without newline");
  return text;
}

TEST(LineReader, PlainAndGzipGiveTheSameLines) {
  std::vector<std::string> want;
  std::string text = sample_text(&want);
  write_plain(tmp_path("a.jsonl"), text);
  write_plain(tmp_path("a.jsonl.gz"), gzip_bytes(text));
  for (const char* name : {"a.jsonl", "a.jsonl.gz"}) {
    Read got = read_all(tmp_path(name));
    EXPECT_EQ(got.error, "") << name;
    ASSERT_EQ(got.lines.size(), want.size()) << name;
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got.lines[i], want[i]) << name << " line " << i + 1;
    EXPECT_EQ(got.last_line_no, want.size());
  }
}

TEST(LineReader, ReadsConcatenatedGzipMembersAndIgnoresTrailingBytes) {
  std::string both = gzip_bytes("one\ntwo\n") + gzip_bytes("three\n");
  write_plain(tmp_path("cat.gz"), both);
  Read got = read_all(tmp_path("cat.gz"));
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.lines, (std::vector<std::string>{"one", "two", "three"}));
  write_plain(tmp_path("trail.gz"), both + std::string(100, '\0'));
  got = read_all(tmp_path("trail.gz"));
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.lines.size(), 3u);
}

TEST(LineReader, ReportsTruncatedAndCorruptGzip) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "{\"record\":" + std::to_string(i * 7919 % 100003) + "}\n";
  std::string gz = gzip_bytes(text);
  write_plain(tmp_path("cut.gz"), gz.substr(0, gz.size() / 2));
  Read got = read_all(tmp_path("cut.gz"));
  EXPECT_NE(got.error, "");
  EXPECT_LT(got.lines.size(), 20000u);
  std::string bad = gz;
  for (size_t i = 100; i < 200; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  write_plain(tmp_path("bad.gz"), bad);
  got = read_all(tmp_path("bad.gz"));
  EXPECT_NE(got.error, "");
}

TEST(LineReader, EmptyFilesAndBadPaths) {
  write_plain(tmp_path("empty"), "");
  Read got = read_all(tmp_path("empty"));
  EXPECT_TRUE(got.lines.empty());
  EXPECT_EQ(got.error, "");
  write_plain(tmp_path("one"), "x");
  EXPECT_EQ(read_all(tmp_path("one")).lines, std::vector<std::string>{"x"});
  auto missing = LineReader::open(tmp_path("does_not_exist"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("does_not_exist"), std::string::npos);
  EXPECT_FALSE(LineReader::open(::testing::TempDir()).ok());
}

}  // namespace
}  // namespace dg::engine
