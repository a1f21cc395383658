#include "store/account_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

#include "common/hash.h"

namespace dg {

namespace {

void random_bytes(uint8_t* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) {
    // No CSPRNG means no safe keys: refuse to go on rather than issue weak ones.
    std::fprintf(stderr, "distillguard: OpenSSL RAND_bytes failed; cannot generate keys\n");
    std::abort();
  }
}

}  // namespace

std::string generate_key_secret() {
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t b[33];
  random_bytes(b, 32);
  b[32] = 0;
  std::string s = "dg-";
  // 32 bytes -> 43 base64url characters (no padding).
  for (int i = 0; i < 33; i += 3) {
    uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8) | b[i + 2];
    s += kB64[(v >> 18) & 63];
    s += kB64[(v >> 12) & 63];
    s += kB64[(v >> 6) & 63];
    s += kB64[v & 63];
  }
  s.resize(3 + 43);
  return s;
}

std::string generate_key_id() {
  uint8_t b[6];
  random_bytes(b, sizeof b);
  // "key_" + 11 hex chars: 15 characters, so it fits std::string's inline buffer.
  return "key_" + to_hex(b, sizeof b).substr(0, 11);
}

std::string hash_key_secret(std::string_view secret) { return sha256_hex(secret); }

Status validate_account_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return invalid_argument("account name must be 1-64 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-';
    if (!ok) {
      return invalid_argument("account name '" + std::string(name) +
                              "' may only contain letters, digits and . _ @ -");
    }
  }
  return {};
}

}  // namespace dg
