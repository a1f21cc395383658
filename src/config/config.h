// The one TOML config file: parsed and validated at start-up. Every error names
// the file, the line and the full key ("cfg.toml:12: unknown key
// 'tiers.new.rpmm'"), so a bad config stops start-up with a message a human can
// act on. docs/config.md documents every key; config/distillguard.example.toml
// is a complete, commented example (a test parses it).
//
// Sections owned here: [server] [[upstream]] [tiers.<name>] [limits] [storage]
// [audit] [stages]. Other parts own their own top-level sections: they add the
// section name to kKnownSections in config.cc (one line) and read it from
// Config::raw with a ConfigSection (below), which gives them the same key+line
// errors and unknown-key detection.
//
// Thread-safety: a Config is an immutable value after parsing; share it freely.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "distillguard/stage.h"
#include "distillguard/status.h"

namespace dg {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 = pick a free port
  int64_t max_body_bytes = 4 << 20;       // request bodies above this get 413
  int io_threads = 1;                     // I/O threads (>= 1)
  std::string admin_token;                // "" = admin API disabled
};

struct UpstreamConfig {
  std::string name;                 // unique, for metrics and logs
  std::string url;                  // http://host:port[/prefix] or https://...
  std::vector<std::string> models;  // model names served; "*" = any
  int64_t connect_timeout_ms = 2000;
  int64_t first_byte_timeout_ms = 60000;  // request sent -> first response byte
  int64_t idle_timeout_ms = 30000;        // max silence between two body chunks
  int pool_size = 64;                     // max idle pooled connections
  bool tls_verify = true;                 // verify the upstream's certificate (https)
  std::string ca_file;                    // "" = system CA store
  // The upstream's own API key is never written in the config file: name the
  // environment variable that holds it. Resolved at load; a named but unset
  // variable is a config error. api_key is sent as "Authorization: Bearer".
  std::string api_key_env;                // "" = no key sent upstream
  std::string api_key;                    // resolved from api_key_env; never logged
};

// New accounts start at start_fraction of the tier's limits, growing linearly
// to the full limits after full_after_days of account age. With
// requires_clean_history, the age counts from the account's last strike
// (e.g. ignoring a Retry-After) instead of its creation.
struct RampConfig {
  double start_fraction = 1.0;  // in (0, 1]; 1 = no ramp
  double full_after_days = 0;   // >= 0
  bool requires_clean_history = true;
};

struct TierConfig {
  std::string name;
  int64_t requests_per_minute = 60;     // > 0
  int64_t tokens_per_minute = 100000;   // > 0
  double burst_seconds = 60;            // how many seconds of the rate may arrive at once (> 0)
  RampConfig ramp;
};

struct LimitsConfig {
  std::string default_tier = "new";          // tier of accounts created without --tier
  int64_t max_tracked_keys = 1'000'000;      // limiter memory bound (entries, ~64 bytes each)
  int64_t default_completion_tokens = 256;   // estimate when a request sets no max_tokens
};

struct StorageConfig {
  std::string sqlite_path = "./distillguard.db";  // accounts, keys (and the audit log by default)
  std::string redis_url;                          // "" = no Redis (limits local to this process)
};

struct AuditConfig {
  std::string sqlite_path;   // "" = storage.sqlite_path
  std::string jsonl_path;    // "" = no JSONL mirror
  int64_t max_backlog = 100000;  // records held in memory while the disk lags or fails
  bool keep_content = true;      // false: message/prompt/answer text is not stored
  // The effective audit database path.
  const std::string& effective_sqlite_path(const StorageConfig& s) const {
    return sqlite_path.empty() ? s.sqlite_path : sqlite_path;
  }
};

struct StagesConfig {
  std::vector<std::string> order = {"auth", "limit", "forward"};
  std::map<std::string, StageMode, std::less<>> modes;  // [stages.<name>] mode; absent = enforce
  // kOff for a stage not in `order`, else its configured mode (default enforce).
  StageMode mode(std::string_view stage) const;
};

struct Config {
  std::string source_name;  // file the config came from ("<defaults>" for default_config())
  ServerConfig server;
  std::vector<UpstreamConfig> upstreams;
  std::map<std::string, TierConfig, std::less<>> tiers;
  LimitsConfig limits;
  StorageConfig storage;
  AuditConfig audit;
  StagesConfig stages;
  // The whole parsed document, for parts that own their own sections.
  toml::table raw;

  // The tier, or null when unknown.
  const TierConfig* tier(std::string_view name) const;
};

// Reads and validates a config file. Errors: kNotFound (unreadable file),
// kInvalidArgument ("path:line: message").
Result<Config> load_config_file(const std::string& path);
// Same, from text; `source_name` prefixes error messages.
Result<Config> parse_config(std::string_view text, std::string_view source_name);
// The embedded defaults the demo runs on: listen 127.0.0.1:8080, one upstream
// http://127.0.0.1:8000 for "*", tiers new/standard/verified/enterprise,
// sqlite ./distillguard.db, stages auth, limit, forward all enforce.
Config default_config();
// "enforce" | "shadow" | "off".
Result<StageMode> parse_stage_mode(std::string_view s);
const char* stage_mode_name(StageMode m);

// Reads one table of the config with key+line errors and unknown-key detection.
// Getters return the default when the key is absent, and record the first
// error (wrong type, out of range) otherwise; finish() returns that error, or
// an "unknown key" error for any key no getter asked for. Not thread-safe; use
// once, at start-up.
//
//   ConfigSection s(config, "engine");
//   double t = s.get_double("threshold", 0.5, 0.0, 1.0);
//   DG_RETURN_IF_ERROR(s.finish());
class ConfigSection {
 public:
  // Top-level section `name` of config.raw (absent = empty section).
  ConfigSection(const Config& config, std::string_view name);
  // A table at dotted path `path` (used for sub-tables and array elements).
  ConfigSection(const toml::table* table, std::string path, std::string source_name,
                int line);

  bool present() const { return table_ != nullptr; }
  bool has(std::string_view key) const;
  const std::string& path() const { return path_; }

  int64_t get_int(std::string_view key, int64_t def, int64_t min = INT64_MIN,
                  int64_t max = INT64_MAX);
  // Accepts integers too.
  double get_double(std::string_view key, double def, double min = -1e308, double max = 1e308);
  std::string get_string(std::string_view key, const std::string& def);
  bool get_bool(std::string_view key, bool def);
  std::vector<std::string> get_string_list(std::string_view key,
                                           const std::vector<std::string>& def);
  // A nested table (absent = not present()). Marks the key as known; the
  // caller must call finish() on the sub-section too (its own unknown keys).
  ConfigSection sub(std::string_view key);
  // Keys of this table, in file order (for tables keyed by name, like [tiers]).
  std::vector<std::string> keys() const;
  // Marks a key as known without reading it.
  void accept(std::string_view key);

  // Records an error about `key` (or the table itself if key is empty).
  void fail(std::string_view key, std::string_view message);
  // "source:line: " for a key (or the table).
  std::string where(std::string_view key) const;
  // The first error, or unknown-key; ok otherwise.
  Status finish();

 private:
  const toml::node* node(std::string_view key);
  const toml::table* table_ = nullptr;
  std::string path_;
  std::string source_name_;
  int line_ = 0;
  std::vector<std::string> seen_;
  Status error_;
};

}  // namespace dg
