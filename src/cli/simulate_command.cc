// `distillguard simulate`: writes a labelled exchange log from a distillbench scenario.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "distillbench/scenario.h"
#include "distillbench/simulator.h"

namespace dg::cli {

Command dg_command_simulate() {
  return {"simulate",
          [](int argc, char** argv) -> int {
            CLI::App app{"Simulate labelled API traffic (distillbench) from a scenario file", "simulate"};
            std::string scenario_path;
            distillbench::SimulateOptions opt;
            uint64_t seed = 0;
            app.add_option("--scenario", scenario_path, "scenario TOML file")->required();
            app.add_option("--out", opt.trace_path, "trace to write (.jsonl or .jsonl.gz)")->required();
            app.add_option("--labels", opt.labels_path, "labels file to write (.jsonl)")->required();
            auto* seed_opt = app.add_option("--seed", seed, "seed (default: the scenario's)");
            app.add_option("--prompts", opt.prompts_dir, "prompt pool directory (default: the scenario's)");
            if (auto rc = parse_args(app, argc, argv)) return *rc;
            if (*seed_opt) opt.seed = seed;
            auto sc = distillbench::load_scenario(scenario_path);
            if (!sc.ok()) {
              std::fprintf(stderr, "distillguard simulate: %s\n", sc.status().message().c_str());
              return 2;
            }
            auto t0 = std::chrono::steady_clock::now();
            auto st = distillbench::simulate(*sc, opt);
            if (!st.ok()) {
              std::fprintf(stderr, "distillguard simulate: %s\n", st.status().message().c_str());
              return st.status().code() == StatusCode::kInvalidArgument || st.status().code() == StatusCode::kNotFound ? 2 : 1;
            }
            double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::fprintf(stderr,
                         "simulate: %s: %llu exchanges (%llu from campaigns), %llu accounts (%llu attack), "
                         "%.1f MB uncompressed, %.2f s (%.0f exchanges/s)\n",
                         sc->name.c_str(), static_cast<unsigned long long>(st->records),
                         static_cast<unsigned long long>(st->attack_records), static_cast<unsigned long long>(st->accounts),
                         static_cast<unsigned long long>(st->attack_accounts), st->bytes / 1e6, secs,
                         secs > 0 ? st->records / secs : 0.0);
            return 0;
          },
          "simulate labelled API traffic from a distillbench scenario"};
}

}  // namespace dg::cli
