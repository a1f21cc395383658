#include "distillguard/stage.h"

namespace dg {

const char* action_name(Action a) {
  switch (a) {
    case Action::kAllow: return "allow";
    case Action::kThrottle: return "throttle";
    case Action::kDegrade: return "degrade";
    case Action::kTrace: return "trace";
    case Action::kBlock: return "block";
  }
  return "allow";
}

}  // namespace dg
