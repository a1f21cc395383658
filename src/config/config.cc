#include "config/config.h"

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>

namespace dg {

namespace {

// The one list of top-level sections. A part that owns a section adds its
// name here (one line) and reads it with ConfigSection.
constexpr std::string_view kKnownSections[] = {
    "server", "upstream", "tiers", "limits", "storage", "audit", "stages",
    "engine",
    "policy",  // owned by src/defend/policy.h
};

int line_of(const toml::node* n) {
  return n ? static_cast<int>(n->source().begin.line) : 0;
}

std::string join_path(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string s(a);
  s += '.';
  s += b;
  return s;
}

std::string format_num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------- ConfigSection

ConfigSection::ConfigSection(const Config& config, std::string_view name)
    : path_(name), source_name_(config.source_name) {
  if (const toml::node* n = config.raw.get(name)) {
    table_ = n->as_table();
    line_ = line_of(n);
    if (!table_) fail("", "must be a table");
  }
}

ConfigSection::ConfigSection(const toml::table* table, std::string path, std::string source_name,
                             int line)
    : table_(table), path_(std::move(path)), source_name_(std::move(source_name)), line_(line) {}

bool ConfigSection::has(std::string_view key) const { return table_ && table_->get(key); }

const toml::node* ConfigSection::node(std::string_view key) {
  accept(key);
  return table_ ? table_->get(key) : nullptr;
}

void ConfigSection::accept(std::string_view key) {
  if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) seen_.emplace_back(key);
}

std::string ConfigSection::where(std::string_view key) const {
  int line = line_;
  if (!key.empty() && table_) {
    if (const toml::node* n = table_->get(key)) {
      int l = line_of(n);
      if (l > 0) line = l;
    }
  }
  return source_name_ + ":" + std::to_string(line) + ": ";
}

void ConfigSection::fail(std::string_view key, std::string_view message) {
  std::string full = key.empty() ? path_ : join_path(path_, key);
  std::string m = where(key) + full + " " + std::string(message);
  if (error_.ok()) {
    error_ = invalid_argument(std::move(m));
  } else {
    error_ = invalid_argument(error_.message() + "\n" + m);
  }
}

int64_t ConfigSection::get_int(std::string_view key, int64_t def, int64_t min, int64_t max) {
  const toml::node* n = node(key);
  if (!n) return def;
  auto range_msg = [&] {
    if (min == 1 && max == INT64_MAX) return std::string("must be a positive integer");
    if (min == 0 && max == INT64_MAX) return std::string("must be a non-negative integer");
    if (max == INT64_MAX) return "must be an integer >= " + std::to_string(min);
    return "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  };
  if (!n->is_integer()) {
    fail(key, range_msg());
    return def;
  }
  int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    fail(key, range_msg());
    return def;
  }
  return v;
}

double ConfigSection::get_double(std::string_view key, double def, double min, double max) {
  const toml::node* n = node(key);
  if (!n) return def;
  auto range_msg = [&] {
    if (min == -1e308 && max == 1e308) return std::string("must be a number");
    if (max == 1e308) return "must be a number >= " + format_num(min);
    return "must be a number in [" + format_num(min) + ", " + format_num(max) + "]";
  };
  double v;
  if (n->is_integer()) {
    v = static_cast<double>(n->as_integer()->get());
  } else if (n->is_floating_point()) {
    v = n->as_floating_point()->get();
  } else {
    fail(key, range_msg());
    return def;
  }
  if (!(v >= min && v <= max)) {
    fail(key, range_msg());
    return def;
  }
  return v;
}

std::string ConfigSection::get_string(std::string_view key, const std::string& def) {
  const toml::node* n = node(key);
  if (!n) return def;
  if (!n->is_string()) {
    fail(key, "must be a string");
    return def;
  }
  return n->as_string()->get();
}

bool ConfigSection::get_bool(std::string_view key, bool def) {
  const toml::node* n = node(key);
  if (!n) return def;
  if (!n->is_boolean()) {
    fail(key, "must be true or false");
    return def;
  }
  return n->as_boolean()->get();
}

std::vector<std::string> ConfigSection::get_string_list(std::string_view key,
                                                        const std::vector<std::string>& def) {
  const toml::node* n = node(key);
  if (!n) return def;
  const toml::array* a = n->as_array();
  std::vector<std::string> out;
  if (!a) {
    fail(key, "must be a list of strings");
    return def;
  }
  for (const toml::node& e : *a) {
    if (!e.is_string()) {
      fail(key, "must be a list of strings");
      return def;
    }
    out.push_back(e.as_string()->get());
  }
  return out;
}

ConfigSection ConfigSection::sub(std::string_view key) {
  const toml::node* n = node(key);
  std::string p = join_path(path_, key);
  if (!n) return ConfigSection(nullptr, p, source_name_, line_);
  const toml::table* t = n->as_table();
  int l = line_of(n);
  if (!t) {
    fail(key, "must be a table");
    return ConfigSection(nullptr, p, source_name_, l > 0 ? l : line_);
  }
  return ConfigSection(t, p, source_name_, l > 0 ? l : line_);
}

std::vector<std::string> ConfigSection::keys() const {
  std::vector<std::pair<int, std::string>> ks;
  if (table_) {
    for (auto&& [k, v] : *table_) ks.emplace_back(line_of(&v), std::string(k.str()));
  }
  std::stable_sort(ks.begin(), ks.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [l, k] : ks) out.push_back(std::move(k));
  return out;
}

Status ConfigSection::finish() {
  if (table_) {
    for (const std::string& k : keys()) {
      if (std::find(seen_.begin(), seen_.end(), k) == seen_.end()) {
        std::string full = join_path(path_, k);
        std::string m = where(k) + "unknown key '" + full + "'";
        error_ = error_.ok() ? invalid_argument(m) : invalid_argument(error_.message() + "\n" + m);
      }
    }
  }
  return error_;
}

// ---------------------------------------------------------------- helpers

Result<StageMode> parse_stage_mode(std::string_view s) {
  if (s == "enforce") return StageMode::kEnforce;
  if (s == "shadow") return StageMode::kShadow;
  if (s == "off") return StageMode::kOff;
  return invalid_argument("unknown stage mode '" + std::string(s) +
                          "' (want enforce, shadow or off)");
}

const char* stage_mode_name(StageMode m) {
  switch (m) {
    case StageMode::kEnforce: return "enforce";
    case StageMode::kShadow: return "shadow";
    case StageMode::kOff: return "off";
  }
  return "off";
}

StageMode StagesConfig::mode(std::string_view stage) const {
  if (std::find(order.begin(), order.end(), stage) == order.end()) return StageMode::kOff;
  auto it = modes.find(stage);
  return it == modes.end() ? StageMode::kEnforce : it->second;
}

const TierConfig* Config::tier(std::string_view name) const {
  auto it = tiers.find(name);
  return it == tiers.end() ? nullptr : &it->second;
}

Config default_config() {
  Config c;
  c.source_name = "<defaults>";
  UpstreamConfig u;
  u.name = "local";
  u.url = "http://127.0.0.1:8000";
  u.models = {"*"};
  c.upstreams.push_back(u);
  auto add = [&](const char* name, int64_t rpm, int64_t tpm, double burst, double start,
                 double days) {
    TierConfig t;
    t.name = name;
    t.requests_per_minute = rpm;
    t.tokens_per_minute = tpm;
    t.burst_seconds = burst;
    t.ramp.start_fraction = start;
    t.ramp.full_after_days = days;
    t.ramp.requires_clean_history = true;
    c.tiers[name] = t;
  };
  add("new", 20, 20000, 30, 0.5, 14);
  add("standard", 600, 400000, 30, 1.0, 0);
  add("verified", 3000, 2000000, 30, 1.0, 0);
  add("enterprise", 10000, 10000000, 30, 1.0, 0);
  // The full system: assess puts the account's risk in ctx.risk before policy
  // (the countermeasure ladder, which sets the share of its limits a throttled
  // account keeps) and limit (which enforces it) read it; forward last.
  c.stages.order = {"auth", "assess", "policy", "limit", "forward"};
  return c;
}

namespace {

bool valid_listen(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size()) return false;
  std::string host = s.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') return false;
  std::string port = s.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) return false;
  return std::stol(port) <= 65535;
}

bool valid_url(const std::string& u) {
  std::string_view rest;
  if (u.rfind("http://", 0) == 0) rest = std::string_view(u).substr(7);
  else if (u.rfind("https://", 0) == 0) rest = std::string_view(u).substr(8);
  else return false;
  std::string_view host = rest.substr(0, rest.find('/'));
  return !host.empty() && host.front() != ':';
}

void read_server(ConfigSection& s, ServerConfig& out) {
  out.listen = s.get_string("listen", out.listen);
  if (!valid_listen(out.listen)) s.fail("listen", "must be host:port (port 0-65535)");
  out.max_body_bytes = s.get_int("max_body_bytes", out.max_body_bytes, 1);
  out.io_threads = static_cast<int>(s.get_int("io_threads", out.io_threads, 1, 256));
  out.admin_token = s.get_string("admin_token", out.admin_token);
}

void read_upstream(ConfigSection& s, size_t index, UpstreamConfig& u) {
  u.name = s.get_string("name", "upstream-" + std::to_string(index + 1));
  if (u.name.empty()) s.fail("name", "must not be empty");
  if (!s.has("url")) s.fail("", "needs a url");
  u.url = s.get_string("url", u.url);
  if (s.has("url") && !valid_url(u.url)) s.fail("url", "must be an http:// or https:// URL");
  u.models = s.get_string_list("models", {"*"});
  if (u.models.empty()) s.fail("models", "must list at least one model (or \"*\")");
  u.connect_timeout_ms = s.get_int("connect_timeout_ms", u.connect_timeout_ms, 1);
  u.first_byte_timeout_ms = s.get_int("first_byte_timeout_ms", u.first_byte_timeout_ms, 1);
  u.idle_timeout_ms = s.get_int("idle_timeout_ms", u.idle_timeout_ms, 1);
  u.pool_size = static_cast<int>(s.get_int("pool_size", u.pool_size, 0, 100000));
  u.tls_verify = s.get_bool("tls_verify", u.tls_verify);
  u.ca_file = s.get_string("ca_file", u.ca_file);
  u.api_key_env = s.get_string("api_key_env", u.api_key_env);
  if (!u.api_key_env.empty()) {
    const char* key = std::getenv(u.api_key_env.c_str());
    if (!key || !*key) {
      s.fail("api_key_env", "environment variable '" + u.api_key_env + "' is not set");
    } else {
      u.api_key = key;
    }
  }
}

void read_tier(ConfigSection& s, const std::string& name, TierConfig& t,
               const std::function<void(Status)>& collect) {
  t.name = name;
  t.requests_per_minute = s.get_int("requests_per_minute", t.requests_per_minute, 1);
  t.tokens_per_minute = s.get_int("tokens_per_minute", t.tokens_per_minute, 1);
  t.burst_seconds = s.get_double("burst", t.burst_seconds, 0.001, 86400);
  ConfigSection r = s.sub("ramp");
  if (r.present()) {
    t.ramp.start_fraction = r.get_double("start_fraction", t.ramp.start_fraction, 0.001, 1.0);
    t.ramp.full_after_days = r.get_double("full_after_days", t.ramp.full_after_days, 0, 3650);
    t.ramp.requires_clean_history =
        r.get_bool("requires_clean_history", t.ramp.requires_clean_history);
    collect(r.finish());
  }
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source_name) {
  Config c = default_config();
  c.source_name = std::string(source_name);
  try {
    c.raw = toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    return invalid_argument(std::string(source_name) + ":" +
                            std::to_string(e.source().begin.line) + ": " +
                            std::string(e.description()));
  }

  std::vector<std::string> errors;
  std::function<void(Status)> collect = [&](Status st) {
    if (st.ok()) return;
    std::istringstream in(st.message());
    std::string line;
    while (std::getline(in, line)) errors.push_back(line);
  };

  for (auto&& [k, v] : c.raw) {
    std::string_view key = k.str();
    if (std::find(std::begin(kKnownSections), std::end(kKnownSections), key) ==
        std::end(kKnownSections)) {
      errors.push_back(c.source_name + ":" + std::to_string(line_of(&v)) + ": unknown key '" +
                       std::string(key) + "'");
    }
  }

  {
    ConfigSection s(c, "server");
    read_server(s, c.server);
    collect(s.finish());
  }
  if (const toml::node* n = c.raw.get("upstream")) {
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      errors.push_back(c.source_name + ":" + std::to_string(line_of(n)) +
                       ": upstream must be an array of tables ([[upstream]])");
    } else {
      c.upstreams.clear();
      for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = (*arr)[i];
        ConfigSection s(e.as_table(), "upstream[" + std::to_string(i) + "]", c.source_name,
                        line_of(&e));
        UpstreamConfig u;
        read_upstream(s, i, u);
        for (const auto& other : c.upstreams) {
          if (other.name == u.name) s.fail("name", "'" + u.name + "' is used twice");
        }
        collect(s.finish());
        c.upstreams.push_back(std::move(u));
      }
      if (c.upstreams.empty()) {
        errors.push_back(c.source_name + ":" + std::to_string(line_of(n)) +
                         ": upstream needs at least one [[upstream]]");
      }
    }
  }
  {
    ConfigSection s(c, "tiers");
    if (s.present()) {
      c.tiers.clear();
      for (const std::string& name : s.keys()) {
        ConfigSection t = s.sub(name);
        if (!t.present()) continue;  // sub() recorded "must be a table"
        TierConfig tier;
        read_tier(t, name, tier, collect);
        collect(t.finish());
        c.tiers[name] = std::move(tier);
      }
      if (c.tiers.empty()) s.fail("", "must define at least one tier ([tiers.<name>])");
    }
    collect(s.finish());
  }
  {
    ConfigSection s(c, "limits");
    c.limits.default_tier = s.get_string("default_tier", c.limits.default_tier);
    if (!c.tier(c.limits.default_tier)) {
      s.fail("default_tier", "names an unknown tier '" + c.limits.default_tier + "'");
    }
    c.limits.max_tracked_keys = s.get_int("max_tracked_keys", c.limits.max_tracked_keys, 64);
    c.limits.default_completion_tokens =
        s.get_int("default_completion_tokens", c.limits.default_completion_tokens, 1);
    collect(s.finish());
  }
  {
    ConfigSection s(c, "storage");
    c.storage.sqlite_path = s.get_string("sqlite_path", c.storage.sqlite_path);
    if (c.storage.sqlite_path.empty()) s.fail("sqlite_path", "must not be empty");
    c.storage.redis_url = s.get_string("redis_url", c.storage.redis_url);
    if (!c.storage.redis_url.empty() && c.storage.redis_url.rfind("redis://", 0) != 0 &&
        c.storage.redis_url.rfind("unix:", 0) != 0) {
      s.fail("redis_url", "must be redis://host:port[/db] or unix:/path (or absent)");
    }
    collect(s.finish());
  }
  {
    ConfigSection s(c, "audit");
    c.audit.sqlite_path = s.get_string("sqlite_path", c.audit.sqlite_path);
    c.audit.jsonl_path = s.get_string("jsonl_path", c.audit.jsonl_path);
    c.audit.max_backlog = s.get_int("max_backlog", c.audit.max_backlog, 1);
    c.audit.keep_content = s.get_bool("keep_content", c.audit.keep_content);
    collect(s.finish());
  }
  {
    ConfigSection s(c, "stages");
    c.stages.order = s.get_string_list("order", c.stages.order);
    for (size_t i = 0; i < c.stages.order.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (c.stages.order[i] == c.stages.order[j]) {
          s.fail("order", "lists '" + c.stages.order[i] + "' twice");
        }
      }
    }
    for (const std::string& name : s.keys()) {
      if (name == "order") continue;
      ConfigSection st = s.sub(name);
      if (!st.present()) continue;
      std::string mode = st.get_string("mode", "enforce");
      auto m = parse_stage_mode(mode);
      if (!m.ok()) {
        st.fail("mode", "must be \"enforce\", \"shadow\" or \"off\"");
      } else {
        c.stages.modes[name] = m.value();
      }
      collect(st.finish());
    }
    collect(s.finish());
  }

  if (!errors.empty()) {
    std::string m;
    for (const auto& e : errors) {
      if (!m.empty()) m += "\n";
      m += e;
    }
    return invalid_argument(m);
  }
  return c;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot read config file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace dg
