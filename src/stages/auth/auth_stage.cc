#include "stages/auth/auth_stage.h"

#include <atomic>
#include <string>
#include <unordered_map>

#include "common/hash.h"

namespace dg {

namespace {

struct SecretHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return hash64(s); }
};

// One per thread: the accepted keys of one stage instance at one store
// generation (another instance or generation empties it first).
struct AuthCache {
  uint64_t owner = 0;  // AuthStage::id_
  uint64_t generation = 0;
  std::unordered_map<std::string, AccountInfo, SecretHash, std::equal_to<>> map;
};

std::atomic<uint64_t> next_stage_id{1};

class AuthStage final : public Stage {
 public:
  AuthStage(AccountStore& store, StageMode mode)
      : store_(store), mode_(mode), id_(next_stage_id.fetch_add(1, std::memory_order_relaxed)) {}

  std::string_view name() const override { return "auth"; }

  FilterStatus on_request(ExchangeContext& ctx) override {
    if (ctx.bearer_token.empty()) {
      return refuse(ctx, 401, "invalid_request_error", "invalid_api_key",
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "missing key");
    }
    static thread_local AuthCache cache;
    // Read before asking the store: an answer is only as fresh as the generation it follows.
    const uint64_t generation = store_.generation();
    if (cache.owner != id_ || cache.generation != generation) {
      cache.map.clear();
      cache.owner = id_;
      cache.generation = generation;
    }
    if (auto it = cache.map.find(std::string_view(ctx.bearer_token)); it != cache.map.end()) {
      ctx.account = it->second;
      return FilterStatus::kContinue;
    }
    auto r = store_.authenticate(ctx.bearer_token);
    if (r.ok()) {
      if (cache.map.size() >= kAuthCacheEntries) cache.map.clear();
      ctx.account = cache.map.emplace(ctx.bearer_token, std::move(r).value()).first->second;
      return FilterStatus::kContinue;
    }
    switch (r.status().code()) {
      case StatusCode::kNotFound:
        return refuse(ctx, 401, "invalid_request_error", "invalid_api_key",
                      "Incorrect API key provided: " + redacted(ctx.bearer_token) +
                          ". You can find your API key at your provider's console.",
                      "unknown or revoked key");
      case StatusCode::kPermissionDenied:
        return refuse(ctx, 403, "invalid_request_error", "account_disabled",
                      "Your account has been disabled. Contact your provider for details.",
                      "account disabled");
      default:
        return refuse(ctx, 503, "server_error", "store_unavailable",
                      "The account store is temporarily unavailable. Please retry.",
                      r.status().message());
    }
  }

 private:
  // OpenAI shows the first and last characters of a wrong key; never all of it.
  static std::string redacted(const std::string& secret) {
    if (secret.size() < 12) return "****";
    return secret.substr(0, 5) + "*****" + secret.substr(secret.size() - 4);
  }

  FilterStatus refuse(ExchangeContext& ctx, int status, const char* type, const char* code,
                      std::string message, std::string why) {
    ctx.notes.emplace_back("auth", std::string(code) + ": " + why);
    if (mode_ != StageMode::kEnforce) return FilterStatus::kContinue;  // shadow: record only
    LocalReply reply;
    reply.status = status;
    reply.type = type;
    reply.code = code;
    reply.message = std::move(message);
    ctx.reply(std::move(reply));
    return FilterStatus::kStop;
  }

  AccountStore& store_;
  StageMode mode_;
  const uint64_t id_;  // tells this instance's cache entries from another's
};

}  // namespace

Result<std::unique_ptr<Stage>> make_auth_stage(AccountStore& store, StageMode mode) {
  return std::unique_ptr<Stage>(std::make_unique<AuthStage>(store, mode));
}

}  // namespace dg
