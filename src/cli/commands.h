// The `distillguard` subcommands. Each takes the arguments after its own name
// (argv[0] is the subcommand name) and returns the process exit status:
// 0 success, 1 failure at run time, 2 bad arguments or unreadable input.
#pragma once

namespace dg::cli {

using CommandFn = int (*)(int argc, char** argv);

struct Command {
  const char* name;
  CommandFn run;
  const char* summary;
};

}  // namespace dg::cli
