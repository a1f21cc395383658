#include <gtest/gtest.h>

#include "common/hash.h"
#include "distillguard/random.h"
#include "distillguard/status.h"

namespace dg {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return invalid_argument("not positive");
  return x;
}

Status use_macro(int x, int* out) {
  DG_ASSIGN_OR_RETURN(int v, parse_positive(x));
  *out = v;
  return Status();
}

TEST(Status, ResultCarriesValueOrError) {
  int out = 0;
  EXPECT_TRUE(use_macro(3, &out).ok());
  EXPECT_EQ(out, 3);
  Status s = use_macro(-1, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.to_string(), "InvalidArgument: not positive");
}

TEST(Hash, Sha256KnownVector) {
  EXPECT_EQ(sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Rng, SameSeedSameStream) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(Rng(42).next(), c.next());
  Rng r(1);
  for (int i = 0; i < 1000; ++i) {
    double u = r.uniform();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

}  // namespace
}  // namespace dg
