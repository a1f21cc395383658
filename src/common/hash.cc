#include "common/hash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <xxhash.h>

#include <memory>

namespace dg {

namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

Sha256 sha256(std::string_view data) {
  // The digest is fetched once and each thread keeps one context (freed at
  // thread exit): an EVP_Digest() call would fetch and allocate every time,
  // and this runs on the hot path (API key lookup).
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  Sha256 out{};
  unsigned int len = 0;
  if (md && ctx && EVP_DigestInit_ex2(ctx.get(), md, nullptr) &&
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) &&
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len)) {
    return out;
  }
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string to_hex(const uint8_t* data, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = kHex[data[i] >> 4];
    s[2 * i + 1] = kHex[data[i] & 15];
  }
  return s;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h = sha256(data);
  return to_hex(h.data(), h.size());
}

Sha256 hmac_sha256(std::string_view key, std::string_view data) {
  Sha256 out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

uint64_t hash64(std::string_view data, uint64_t seed) {
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

}  // namespace dg
