#include "stages/limit/limit_stage.h"
namespace dg {
Result<std::unique_ptr<Stage>> make_limit_stage(const Config&, Clock&, StageMode) { return internal_error("todo"); }
}  // namespace dg
