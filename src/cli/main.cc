// The only code no test links: dispatches `distillguard <command> ...` to the
// subcommands in src/cli/*_command.cc.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cli/commands.h"
#include "commands.inc"

namespace {

void usage(FILE* out, const std::vector<dg::cli::Command>& commands) {
  std::fprintf(out, "usage: distillguard <command> [options]\n\ncommands:\n");
  for (const auto& c : commands) std::fprintf(out, "  %-16s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'distillguard <command> --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  auto commands = dg::cli::all_commands();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return std::strcmp(a.name, b.name) < 0; });
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout, commands);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : commands) {
    if (!std::strcmp(argv[1], c.name)) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "distillguard: unknown command '%s'\n\n", argv[1]);
  usage(stderr, commands);
  return 2;
}
