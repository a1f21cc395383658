#include "stages/auth/auth_stage.h"

namespace dg {

namespace {

class AuthStage final : public Stage {
 public:
  AuthStage(AccountStore& store, StageMode mode) : store_(store), mode_(mode) {}

  std::string_view name() const override { return "auth"; }

  FilterStatus on_request(ExchangeContext& ctx) override {
    if (ctx.bearer_token.empty()) {
      return refuse(ctx, 401, "invalid_request_error", "invalid_api_key",
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "missing key");
    }
    auto r = store_.authenticate(ctx.bearer_token);
    if (r.ok()) {
      ctx.account = std::move(r).value();
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
};

}  // namespace

Result<std::unique_ptr<Stage>> make_auth_stage(AccountStore& store, StageMode mode) {
  return std::unique_ptr<Stage>(std::make_unique<AuthStage>(store, mode));
}

}  // namespace dg
