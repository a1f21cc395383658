#include "limit/limiter.h"
namespace dg {
}  // namespace dg
