// Every watermark position of some texts, for diagnosing students (bench/provenance/diagnose.py).
// Uses the product's own scanner and position hash (src/defend/watermark.cc, compiled into this
// bench tool), so a position here is exactly a position the embedder and `distillguard verify` use.
//
//   wm_positions --master-key-file KEY --account A < TEXTS
// TEXTS: documents separated by NUL bytes; each is scanned as its own text (scanner reset, as
// `verify` does per file). Writes one tab-separated line per occurrence (not deduplicated):
//   doc  context  group  member  k  green  u
// where green is the key's green member at (context, group) and u its selection draw.
// Bench code, not product code: errors end the process with a message.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "defend/watermark.h"

namespace {

class Dumper : public dg::defend::WordScanner {
 public:
  Dumper(const dg::defend::SynonymTable& table, const dg::defend::WatermarkKey& key)
      : WordScanner(table), key_(key) {}
  void add(size_t doc, std::string_view text) {
    doc_ = doc;
    reset();
    std::string sink;
    feed(text, sink);
    finish(sink);
  }

 protected:
  uint32_t on_candidate(std::string_view context,
                        const dg::defend::SynonymTable::Entry& entry) override {
    const auto k = static_cast<uint32_t>(table_.group(entry.group).size());
    const auto h = dg::defend::position_hash(key_, context, entry.group, k);
    std::printf("%zu\t%.*s\t%u\t%u\t%u\t%u\t%.6f\n", doc_, static_cast<int>(context.size()),
                context.data(), entry.group, entry.member, k, h.green, h.u);
    return entry.member;
  }

 private:
  dg::defend::WatermarkKey key_;
  size_t doc_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"every watermark position of NUL-separated texts on stdin (bench/provenance)"};
  std::string master_file, account;
  app.add_option("--master-key-file", master_file)->required();
  app.add_option("--account", account)->required();
  CLI11_PARSE(app, argc, argv);
  std::ifstream mf(master_file);
  if (!mf) {
    std::fprintf(stderr, "wm_positions: cannot read %s\n", master_file.c_str());
    return 1;
  }
  std::string master((std::istreambuf_iterator<char>(mf)), std::istreambuf_iterator<char>());
  while (!master.empty() && (master.back() == '\n' || master.back() == '\r')) master.pop_back();
  const auto key = dg::defend::derive_account_key(master, account);
  Dumper dumper(dg::defend::SynonymTable::builtin(), key);
  std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  size_t doc = 0, start = 0;
  while (start <= all.size()) {
    size_t end = all.find('\0', start);
    if (end == std::string::npos) end = all.size();
    dumper.add(doc++, std::string_view(all).substr(start, end - start));
    start = end + 1;
  }
  return 0;
}
