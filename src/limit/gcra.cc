#include "limit/gcra.h"
namespace dg {
}  // namespace dg
