#include <gtest/gtest.h>

#include "distillbench/scorer.h"

namespace dg::distillbench {
namespace {
TEST(Quantile, Interpolates) {
  EXPECT_EQ(*quantile({1, 2, 3, 4}, 0.5), 2.5);
}
}  // namespace
}  // namespace dg::distillbench
