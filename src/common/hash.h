// Hashing helpers. SHA-256 (OpenSSL) for anything that is evidence or a
// stored secret; XXH3 (xxhash) for sketches and sharding. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dg {

using Sha256 = std::array<uint8_t, 32>;

Sha256 sha256(std::string_view data);
std::string sha256_hex(std::string_view data);
std::string to_hex(const uint8_t* data, size_t n);
// HMAC-SHA256(key, data).
Sha256 hmac_sha256(std::string_view key, std::string_view data);

uint64_t hash64(std::string_view data, uint64_t seed = 0);

}  // namespace dg
