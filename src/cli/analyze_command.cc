// distillguard analyze --input FILE [--input FILE ...] [--config FILE]
//                      [--format text|json|html] [--output PATH]
// Replays exchange logs through the detection engine (spec/analyze-report.md).
// The logic lives in src/engine/analyze.{h,cc}.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "config/config.h"
#include "engine/analyze.h"

namespace dg::cli {

namespace {

int run(int argc, char** argv) {
  CLI::App app{"Replay exchange logs through the detection engine and report what it finds", "analyze"};
  std::vector<std::string> inputs;
  std::string config_path, format = "text", output;
  app.add_option("--input,-i", inputs, "exchange log: .jsonl, .jsonl.gz, or - for stdin (repeatable)")->required();
  app.add_option("--config,-c", config_path, "config file ([engine] section)");
  app.add_option("--format,-f", format, "text | json | html")->check(CLI::IsMember({"text", "json", "html"}));
  app.add_option("--output,-o", output, "write the report here (default: stdout)");
  if (auto rc = parse_args(app, argc, argv)) return *rc;
  engine::AnalyzeOptions opt;
  opt.inputs = inputs;
  if (!config_path.empty()) {
    auto cfg = load_config_file(config_path);
    if (!cfg.ok()) {
      std::fprintf(stderr, "distillguard analyze: config '%s': %s\n", config_path.c_str(), cfg.status().message().c_str());
      return 2;
    }
    auto ec = engine::engine_config_from(*cfg);
    if (!ec.ok()) {
      std::fprintf(stderr, "distillguard analyze: %s\n", ec.status().message().c_str());
      return 2;
    }
    opt.engine = *ec;
  }
  opt.progress = isatty(STDERR_FILENO) != 0;
  auto res = engine::run_analyze(opt);
  if (!res.ok()) {
    std::fprintf(stderr, "distillguard analyze: %s\n", res.status().message().c_str());
    return 2;
  }
  for (size_t i = 0; i < std::min<size_t>(res->input.rejected_lines.size(), 20); ++i) {
    const auto& l = res->input.rejected_lines[i];
    std::fprintf(stderr, "distillguard analyze: %s:%llu: rejected: %s\n", l.file.c_str(),
                 static_cast<unsigned long long>(l.line), l.error.c_str());
  }
  if (res->input.rejected > 20)
    std::fprintf(stderr, "distillguard analyze: ... %llu rejected lines in all\n",
                 static_cast<unsigned long long>(res->input.rejected));
  std::string body = format == "json" ? engine::report_json(*res)
                     : format == "html" ? engine::report_html(*res)
                                        : engine::report_text(*res);
  if (output.empty() || output == "-") {
    std::fwrite(body.data(), 1, body.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::ofstream f(output, std::ios::binary | std::ios::trunc);
  f << body;
  f.close();
  if (!f) {
    std::fprintf(stderr, "distillguard analyze: cannot write '%s'\n", output.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

Command dg_command_analyze() {
  return {"analyze", run, "replay exchange logs through the detection engine and report"};
}

}  // namespace dg::cli
