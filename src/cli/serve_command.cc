// `distillguard serve [--config FILE]`: the gateway. Logic lives in src/gateway.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "config/config.h"
#include "gateway/gateway.h"

namespace dg::cli {

Command dg_command_serve() {
  return {"serve",
          [](int argc, char** argv) {
            CLI::App app{"Run the gateway (OpenAI-compatible proxy with the stage chain)", "serve"};
            std::string config_path;
            app.add_option("--config,-c", config_path, "TOML config file (default: embedded defaults)");
            if (auto rc = parse_args(app, argc, argv)) return *rc;
            Config config = default_config();
            if (!config_path.empty()) {
              auto c = load_config_file(config_path);
              if (!c.ok()) {
                std::fprintf(stderr, "distillguard serve: %s\n", c.status().message().c_str());
                return 2;
              }
              config = std::move(c).value();
            }
            return gateway::serve(config);
          },
          "run the gateway (OpenAI-compatible proxy)"};
}

}  // namespace dg::cli
