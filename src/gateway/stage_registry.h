// The one list of gateway stages: name -> factory. Adding a stage = one line
// in stage_registry.cc (plus its folder under src/stages/ or src/defend/ and
// the library in this folder's CMakeLists.txt DEPS).
//
// The chain is built from [stages] order in the config (default "auth",
// "limit", "forward"); each stage gets its [stages.<name>] mode. Stages whose
// mode is off are not built. "forward" is the chain's terminal step, built by
// the gateway itself (see stages/forward/forwarder.h): it must be last and
// cannot be off or shadow. An unknown name stops start-up with a message that
// lists the known ones.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "config/config.h"
#include "distillguard/clock.h"
#include "distillguard/stage.h"
#include "pipeline/chain.h"
#include "store/account_store.h"

namespace dg::gateway {

// What a stage factory may use. All references outlive the stage.
struct StageDeps {
  const Config& config;   // whole config; stages read their own section via ConfigSection
  Clock& clock;
  AccountStore& store;
  AuditLog& audit;
  StageMode mode;         // shadow or enforce (off stages are never built)
};

using StageFactory = Result<std::unique_ptr<Stage>> (*)(const StageDeps&);

struct StageRegistration {
  const char* name;
  StageFactory factory;
};

// The registry, in no particular order (the config gives the order).
const std::vector<StageRegistration>& stage_registry();

inline constexpr const char* kForwardStage = "forward";

// Builds the chain for config.stages (without "forward").
Result<pipeline::Chain> build_chain(const Config& config, Clock& clock, AccountStore& store, AuditLog& audit);

}  // namespace dg::gateway
