// `distillguard score`: grades an analyze report against distillbench labels.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "distillbench/scorer.h"

namespace dg::cli {

Command dg_command_score() {
  return {"score",
          [](int argc, char** argv) -> int {
            CLI::App app{"Grade an analyze JSON report against distillbench labels", "score"};
            std::string report_path, labels_path, trace_path, json_path;
            app.add_option("--report", report_path, "analyze report (JSON)")->required();
            app.add_option("--labels", labels_path, "labels file (JSONL)")->required();
            app.add_option("--trace", trace_path, "the trace the report was made from (exact leaked counts)");
            app.add_option("--json", json_path, "write the scores as JSON here ('-' for stdout)");
            if (auto rc = parse_args(app, argc, argv)) return *rc;
            auto labels = distillbench::load_labels(labels_path);
            if (!labels.ok()) {
              std::fprintf(stderr, "distillguard score: %s\n", labels.status().message().c_str());
              return 2;
            }
            std::ifstream in(report_path, std::ios::binary);
            if (!in) {
              std::fprintf(stderr, "distillguard score: cannot read report '%s'\n", report_path.c_str());
              return 2;
            }
            std::stringstream ss;
            ss << in.rdbuf();
            auto r = distillbench::score_report(*labels, ss.str(), trace_path);
            if (!r.ok()) {
              std::fprintf(stderr, "distillguard score: %s\n", r.status().message().c_str());
              return 2;
            }
            std::string js = boost::json::serialize(distillbench::score_to_json(*r));
            if (json_path == "-") {
              std::printf("%s\n", js.c_str());
              return 0;
            }
            std::fputs(distillbench::format_score_table(*r).c_str(), stdout);
            if (!json_path.empty()) {
              std::ofstream out(json_path, std::ios::binary);
              out << js << "\n";
              if (!out) {
                std::fprintf(stderr, "distillguard score: cannot write '%s'\n", json_path.c_str());
                return 1;
              }
            }
            return 0;
          },
          "grade an analyze report against distillbench labels"};
}

}  // namespace dg::cli
