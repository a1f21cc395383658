// The only code no test links: dispatches `distillguard <command> ...`.
#include <cstdio>
#include <cstring>

#include "cli/commands.h"

namespace dg::cli {
// One line per subcommand; each is defined in src/cli/<name>_command.cc.
// (declarations)
}  // namespace dg::cli

namespace {

using dg::cli::Command;

const Command kCommands[] = {
    // name, function, summary
    {"version", [](int, char**) { std::puts("distillguard 0.1.0"); return 0; }, "print the version"},
};

void usage(FILE* out) {
  std::fprintf(out, "usage: distillguard <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-16s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'distillguard <command> --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCommands) {
    if (!std::strcmp(argv[1], c.name)) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "distillguard: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
