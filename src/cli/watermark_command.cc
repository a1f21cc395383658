// distillguard watermark: applies an account's watermark to texts offline (the
// same library the gateway stage uses). For experiments and for checking what
// a customer would receive. Input: JSONL with a text field, or plain text.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "defend/canary.h"
#include "defend/verify.h"

namespace dg::cli {
namespace {

int run_watermark(int argc, char** argv) {
  CLI::App app{"Apply an account's watermark to texts"};
  std::string input = "-", account, master_file, field = "response";
  double strength = 0.5;
  bool plain = false, trace = false;
  std::string prompt_field = "prompt";
  app.add_option("input", input, "JSONL file ('-' = stdin)");
  app.add_option("--account", account, "account whose key to use")->required();
  app.add_option("--master-key-file", master_file, "master secret (default: $DG_WATERMARK_MASTER_KEY)");
  app.add_option("--strength", strength, "share of eligible positions forced green")->check(CLI::Range(0.0, 1.0));
  app.add_option("--field", field, "JSONL field holding the text (default response)");
  app.add_flag("--plain", plain, "input is one plain text, not JSONL");
  app.add_flag("--trace", trace, "also plant the account's canary where the prompt is of a canary kind (as the trace rung does)");
  app.add_option("--prompt-field", prompt_field, "JSONL field holding the prompt (for --trace; default prompt)");
  if (auto rc = parse_args(app, argc, argv)) return *rc;
  auto secret = defend::load_master_secret(master_file);
  if (!secret.ok()) return std::fprintf(stderr, "watermark: %s\n", secret.status().to_string().c_str()), 2;
  const auto key = defend::derive_account_key(*secret, account);
  const auto& table = defend::SynonymTable::builtin();
  std::ifstream file;
  std::istream* in = &std::cin;
  if (input != "-") {
    file.open(input, std::ios::binary);
    if (!file) return std::fprintf(stderr, "watermark: cannot read %s\n", input.c_str()), 2;
    in = &file;
  }
  long texts = 0, eligible = 0, changed = 0, canaries = 0;
  if (plain) {
    std::stringstream ss;
    ss << in->rdbuf();
    defend::WatermarkStats st;
    std::cout << defend::watermark_text(table, key, strength, ss.str(), &st);
    texts = 1, eligible = st.eligible, changed = st.changed;
  } else {
    std::string line;
    while (std::getline(*in, line)) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object() || !v.as_object().contains(field) || !v.as_object()[field].is_string()) {
        std::cout << line << "\n";
        continue;
      }
      auto& s = v.as_object()[field].as_string();
      if (trace) {
        const auto* p = v.as_object().if_contains(prompt_field);
        const std::string kind = p && p->is_string() ? defend::classify_prompt(p->as_string().c_str()) : "";
        if (!kind.empty()) {
          s.append(defend::canary_sentence(kind, defend::canary_signature(*secret, account, kind)));
          ++canaries;
        }
      }
      defend::WatermarkStats st;
      s = defend::watermark_text(table, key, strength, std::string_view(s.data(), s.size()), &st);
      ++texts, eligible += st.eligible, changed += st.changed;
      std::cout << boost::json::serialize(v) << "\n";
    }
  }
  std::fprintf(stderr, "watermark: %ld texts, %ld eligible positions, %ld words changed (%.3f per text), %ld canaries\n",
               texts, eligible, changed, texts ? static_cast<double>(changed) / texts : 0.0, canaries);
  return 0;
}

}  // namespace

Command dg_command_watermark() { return {"watermark", run_watermark, "apply an account's watermark to texts"}; }

}  // namespace dg::cli
