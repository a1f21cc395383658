#include "gateway/stage_registry.h"

#include "stages/assess/assess_stage.h"
#include "stages/auth/auth_stage.h"
#include "stages/limit/limit_stage.h"
#include "stages/policy/policy_stage.h"

namespace dg::gateway {

const std::vector<StageRegistration>& stage_registry() {
  static const std::vector<StageRegistration> kStages = {
      {"auth", [](const StageDeps& d) { return make_auth_stage(d.store, d.mode); }},
      {"limit", [](const StageDeps& d) { return make_limit_stage(d.config, d.clock, d.mode); }},
      {"policy", [](const StageDeps& d) { return make_policy_stage(d.config, d.clock, d.mode); }},
      {"assess", [](const StageDeps& d) { return make_assess_stage(d.config, d.clock, d.mode); }},
      // Add a stage here: {"name", [](const StageDeps& d) { return make_name_stage(...); }},
  };
  return kStages;
}

Result<pipeline::Chain> build_chain(const Config& config, Clock& clock, AccountStore& store, AuditLog& audit) {
  const auto& order = config.stages.order;
  std::vector<pipeline::ChainEntry> entries;
  bool saw_forward = false;
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& name = order[i];
    StageMode mode = config.stages.mode(name);
    if (name == kForwardStage) {
      if (i + 1 != order.size())
        return invalid_argument(config.source_name + ": stages.order: 'forward' must be the last stage");
      if (mode != StageMode::kEnforce)
        return invalid_argument(config.source_name + ": stages.forward: mode must be enforce");
      saw_forward = true;
      continue;
    }
    const StageRegistration* reg = nullptr;
    for (const auto& r : stage_registry())
      if (name == r.name) reg = &r;
    if (!reg) {
      std::string known;
      for (const auto& r : stage_registry()) known += std::string(known.empty() ? "" : ", ") + r.name;
      return invalid_argument(config.source_name + ": stages.order: unknown stage '" + name + "' (known: " +
                              known + ", forward)");
    }
    if (mode == StageMode::kOff) continue;
    StageDeps deps{config, clock, store, audit, mode};
    auto stage = reg->factory(deps);
    if (!stage.ok()) return Status(stage.status().code(), "stage '" + name + "': " + stage.status().message());
    entries.push_back({std::move(stage).value(), mode});
  }
  if (!saw_forward)
    return invalid_argument(config.source_name + ": stages.order: must end with 'forward'");
  return pipeline::Chain(std::move(entries));
}

}  // namespace dg::gateway
