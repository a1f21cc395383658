#include "stages/auth/auth_stage.h"
namespace dg {
Result<std::unique_ptr<Stage>> make_auth_stage(AccountStore&, StageMode) { return internal_error("todo"); }
}  // namespace dg
