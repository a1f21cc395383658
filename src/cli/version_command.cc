#include <cstdio>

#include "cli/commands.h"

namespace dg::cli {

Command dg_command_version() {
  return {"version", [](int, char**) { std::puts("distillguard 0.1.0"); return 0; },
          "print the version"};
}

}  // namespace dg::cli
