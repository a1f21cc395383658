#include "distillbench/scenario.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "distillguard/exchange_record.h"

namespace dg::distillbench {
namespace {

// Reads one TOML table strictly: each getter marks its key as known; finish()
// reports the first key nobody asked for. Errors carry "origin:line: path.key".
class TableReader {
 public:
  TableReader(const toml::table& t, std::string path, const std::string& origin)
      : t_(t), path_(std::move(path)), origin_(origin) {}

  Status error_at(const toml::node* n, const std::string& key, const std::string& what) const {
    const auto& src = n ? n->source() : t_.source();
    std::string where = origin_ + ":" + std::to_string(src.begin.line) + ": ";
    return invalid_argument(where + full(key) + ": " + what);
  }
  std::string full(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  const toml::node* get(const char* key) {
    seen_.insert(key);
    return t_.get(key);
  }

  Status str(const char* key, std::string* out, bool required = false) {
    const toml::node* n = get(key);
    if (!n) return required ? error_at(nullptr, key, "missing required key") : Status();
    if (!n->is_string()) return error_at(n, key, "must be a string");
    *out = **n->as_string();
    return Status();
  }
  Status num(const char* key, double* out, double lo, double hi, bool required = false) {
    const toml::node* n = get(key);
    if (!n) return required ? error_at(nullptr, key, "missing required key") : Status();
    if (!n->is_number()) return error_at(n, key, "must be a number");
    double v = n->value<double>().value();
    if (!(v >= lo && v <= hi))
      return error_at(n, key, "must be in [" + fmt(lo) + ", " + fmt(hi) + "], got " + fmt(v));
    *out = v;
    return Status();
  }
  Status integer(const char* key, int* out, int lo, int hi, bool required = false) {
    const toml::node* n = get(key);
    if (!n) return required ? error_at(nullptr, key, "missing required key") : Status();
    if (!n->is_integer()) return error_at(n, key, "must be an integer");
    int64_t v = **n->as_integer();
    if (v < lo || v > hi)
      return error_at(n, key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = static_cast<int>(v);
    return Status();
  }
  Status u64(const char* key, uint64_t* out) {
    const toml::node* n = get(key);
    if (!n) return Status();
    if (!n->is_integer() || **n->as_integer() < 0) return error_at(n, key, "must be a non-negative integer");
    *out = static_cast<uint64_t>(**n->as_integer());
    return Status();
  }
  Status boolean(const char* key, bool* out) {
    const toml::node* n = get(key);
    if (!n) return Status();
    if (!n->is_boolean()) return error_at(n, key, "must be true or false");
    *out = **n->as_boolean();
    return Status();
  }
  Status oneof(const char* key, std::string* out, std::initializer_list<const char*> allowed) {
    DG_RETURN_IF_ERROR(str(key, out));
    for (const char* a : allowed)
      if (*out == a) return Status();
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return error_at(t_.get(key), key, "must be one of " + list + ", got '" + *out + "'");
  }
  Status num_list(const char* key, std::vector<double>* out, double lo, double hi, size_t min_n = 1,
                  size_t max_n = 1 << 20) {
    const toml::node* n = get(key);
    if (!n) return Status();
    if (!n->is_array()) return error_at(n, key, "must be an array of numbers");
    std::vector<double> v;
    for (const auto& e : *n->as_array()) {
      if (!e.is_number()) return error_at(&e, key, "must be an array of numbers");
      double x = e.value<double>().value();
      if (!(x >= lo && x <= hi)) return error_at(&e, key, "values must be in [" + fmt(lo) + ", " + fmt(hi) + "]");
      v.push_back(x);
    }
    if (v.size() < min_n || v.size() > max_n)
      return error_at(n, key, "must have " + (min_n == max_n ? std::to_string(min_n) : "between " + std::to_string(min_n) + " and " + std::to_string(max_n)) + " values");
    *out = std::move(v);
    return Status();
  }
  Status int_list(const char* key, std::vector<int>* out, int lo, int hi, size_t min_n = 1,
                  size_t max_n = 1 << 20) {
    const toml::node* n = get(key);
    if (!n) return Status();
    if (!n->is_array()) return error_at(n, key, "must be an array of integers");
    std::vector<int> v;
    for (const auto& e : *n->as_array()) {
      if (!e.is_integer()) return error_at(&e, key, "must be an array of integers");
      int64_t x = **e.as_integer();
      if (x < lo || x > hi) return error_at(&e, key, "values must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      v.push_back(static_cast<int>(x));
    }
    if (v.size() < min_n || v.size() > max_n)
      return error_at(n, key, "must have between " + std::to_string(min_n) + " and " + std::to_string(max_n) + " values");
    *out = std::move(v);
    return Status();
  }
  Status str_list(const char* key, std::vector<std::string>* out, size_t min_n = 0) {
    const toml::node* n = get(key);
    if (!n) return Status();
    if (!n->is_array()) return error_at(n, key, "must be an array of strings");
    std::vector<std::string> v;
    for (const auto& e : *n->as_array()) {
      if (!e.is_string()) return error_at(&e, key, "must be an array of strings");
      v.push_back(**e.as_string());
    }
    if (v.size() < min_n) return error_at(n, key, "must have at least " + std::to_string(min_n) + " values");
    *out = std::move(v);
    return Status();
  }
  // An array of tables ([[key]]); null when absent.
  Result<const toml::array*> tables(const char* key) {
    const toml::node* n = get(key);
    if (!n) return static_cast<const toml::array*>(nullptr);
    if (!n->is_array_of_tables()) return error_at(n, key, "must be an array of tables ([[" + full(key) + "]])");
    return n->as_array();
  }
  Status finish() const {
    for (const auto& [k, v] : t_) {
      if (!seen_.count(std::string(k.str()))) return error_at(&v, std::string(k.str()), "unknown key");
    }
    return Status();
  }
  const toml::table& table() const { return t_; }

 private:
  static std::string fmt(double v) {
    std::ostringstream o;
    o << v;
    return o.str();
  }
  const toml::table& t_;
  std::string path_;
  const std::string& origin_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace

Result<Scenario> parse_scenario(std::string_view text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return invalid_argument(origin + ":" + std::to_string(e.source().begin.line) + ": " +
                            std::string(e.description()));
  }
  Scenario sc;
  TableReader r(root, "", origin);
  DG_RETURN_IF_ERROR(r.str("name", &sc.name, true));
  DG_RETURN_IF_ERROR(r.str("description", &sc.description));
  std::string start;
  DG_RETURN_IF_ERROR(r.str("start", &start, true));
  auto st = parse_rfc3339(start);
  if (!st.ok()) return r.error_at(r.table().get("start"), "start", st.status().message());
  sc.start = *st;
  DG_RETURN_IF_ERROR(r.num("days", &sc.days, 0.01, 3650, true));
  DG_RETURN_IF_ERROR(r.u64("seed", &sc.seed));
  DG_RETURN_IF_ERROR(r.str("prompts_dir", &sc.prompts_dir));
  DG_RETURN_IF_ERROR(r.str("new_model", &sc.new_model));
  DG_RETURN_IF_ERROR(r.num("new_model_day", &sc.new_model_day, 0, 3650));
  DG_RETURN_IF_ERROR(r.boolean("response_content", &sc.response_content));
  if (!sc.prompts_dir.empty() && std::filesystem::path(sc.prompts_dir).is_relative()) {
    auto base = std::filesystem::path(origin).parent_path();
    sc.prompts_dir = (base / sc.prompts_dir).lexically_normal().string();
  }
  DG_ASSIGN_OR_RETURN(const toml::array* pops, r.tables("population"));
  if (!pops || pops->empty()) return r.error_at(nullptr, "population", "missing required key (at least one [[population]])");
  std::set<std::string> names;
  for (size_t i = 0; i < pops->size(); ++i) {
    const toml::table& pt = *pops->get(i)->as_table();
    std::string path = "population[" + std::to_string(i) + "]";
    TableReader p(pt, path, origin);
    PopulationSpec pop;
    DG_RETURN_IF_ERROR(p.str("name", &pop.name, true));
    if (!names.insert(pop.name).second) return p.error_at(pt.get("name"), "name", "duplicate population name '" + pop.name + "'");
    std::string kind;
    DG_RETURN_IF_ERROR(p.str("kind", &kind, true));
    if (kind != "persona" && kind != "campaign") return p.error_at(pt.get("kind"), "kind", "must be \"persona\" or \"campaign\"");
    pop.attack = kind == "campaign";
    pop.persona = pop.name;
    DG_RETURN_IF_ERROR(p.str("persona", &pop.persona));
    DG_RETURN_IF_ERROR(p.integer("accounts", &pop.accounts, 1, 10'000'000, true));
    DG_RETURN_IF_ERROR(p.num_list("created_days", &pop.created_days, -36500, 3650, 2, 2));
    if (pop.created_days[1] < pop.created_days[0]) return p.error_at(pt.get("created_days"), "created_days", "must be [low, high]");
    DG_RETURN_IF_ERROR(p.num("created_burst_hours", &pop.created_burst_hours, 0, 1e5));
    DG_RETURN_IF_ERROR(p.int_list("keys_per_account", &pop.keys_per_account, 1, 1000, 2, 2));
    DG_RETURN_IF_ERROR(p.str_list("ip_blocks", &pop.ip_blocks, 1));
    DG_RETURN_IF_ERROR(p.oneof("ip_mode", &pop.ip_mode, {"per_account", "rotating"}));
    DG_RETURN_IF_ERROR(p.int_list("ips_per_account", &pop.ips_per_account, 1, 1000, 2, 2));
    DG_RETURN_IF_ERROR(p.num("session_ip_share", &pop.session_ip_share, 0, 1));
    DG_RETURN_IF_ERROR(p.str_list("user_agents", &pop.user_agents, 1));
    DG_RETURN_IF_ERROR(p.oneof("ua_mode", &pop.ua_mode, {"per_account", "rotate"}));
    DG_RETURN_IF_ERROR(p.integer("headers_fp_variants", &pop.headers_fp_variants, 1, 1000));
    DG_RETURN_IF_ERROR(p.num("pivot_share", &pop.pivot_share, 0, 1));
    DG_RETURN_IF_ERROR(p.num_list("pivot_delay_hours", &pop.pivot_delay_hours, 0, 1e5, 2, 2));
    DG_RETURN_IF_ERROR(p.num("pivot_traffic", &pop.pivot_traffic, 0, 1));
    if (pop.ip_blocks.empty()) return p.error_at(nullptr, "ip_blocks", "missing required key");
    for (const auto& b : pop.ip_blocks) {
      unsigned a1, a2, a3, a4, len;
      char tail;
      if (std::sscanf(b.c_str(), "%u.%u.%u.%u/%u%c", &a1, &a2, &a3, &a4, &len, &tail) != 5 || a1 > 255 ||
          a2 > 255 || a3 > 255 || a4 > 255 || len < 8 || len > 32)
        return p.error_at(pt.get("ip_blocks"), "ip_blocks", "'" + b + "' is not an IPv4 CIDR block a.b.c.d/8..32");
    }
    if (pop.user_agents.empty()) return p.error_at(nullptr, "user_agents", "missing required key");
    DG_ASSIGN_OR_RETURN(const toml::array* streams, p.tables("stream"));
    if (!streams || streams->empty()) return p.error_at(nullptr, "stream", "missing required key (at least one [[" + path + ".stream]])");
    for (size_t j = 0; j < streams->size(); ++j) {
      const toml::table& stt = *streams->get(j)->as_table();
      TableReader s(stt, path + ".stream[" + std::to_string(j) + "]", origin);
      StreamSpec spec;
      DG_RETURN_IF_ERROR(s.num("requests_per_day", &spec.requests_per_day, 0, 1e7, true));
      DG_RETURN_IF_ERROR(s.num("rate_sigma", &spec.rate_sigma, 0, 4));
      DG_RETURN_IF_ERROR(s.num("start_day", &spec.start_day, 0, 3650));
      DG_RETURN_IF_ERROR(s.num("end_day", &spec.end_day, 0, 3650));
      DG_RETURN_IF_ERROR(s.oneof("timing", &spec.timing, {"poisson", "regular"}));
      DG_RETURN_IF_ERROR(s.num("jitter", &spec.jitter, 0, 1));
      DG_RETURN_IF_ERROR(s.num_list("hourly", &spec.hourly, 0, 1e6, 24, 24));
      DG_RETURN_IF_ERROR(s.num_list("weekly", &spec.weekly, 0, 1e6, 7, 7));
      DG_RETURN_IF_ERROR(s.num_list("utc_offsets", &spec.utc_offsets, -12, 14));
      DG_RETURN_IF_ERROR(s.num("multi_turn", &spec.multi_turn, 0, 1));
      DG_RETURN_IF_ERROR(s.num("turns_mean", &spec.turns_mean, 2, 50));
      DG_RETURN_IF_ERROR(s.num_list("think_seconds", &spec.think_seconds, 0, 86400, 2, 2));
      DG_RETURN_IF_ERROR(s.oneof("order", &spec.order, {"random", "sequential", "split"}));
      DG_RETURN_IF_ERROR(s.boolean("once", &spec.once));
      DG_RETURN_IF_ERROR(s.str_list("templates", &spec.templates));
      DG_RETURN_IF_ERROR(s.num("template_prob", &spec.template_prob, 0, 1));
      DG_RETURN_IF_ERROR(s.str_list("languages", &spec.languages));
      DG_RETURN_IF_ERROR(s.str("context_pool", &spec.context_pool));
      DG_RETURN_IF_ERROR(s.int_list("context_items", &spec.context_items, 0, 50, 2, 2));
      DG_RETURN_IF_ERROR(s.str_list("system_prompts", &spec.system_prompts));
      DG_RETURN_IF_ERROR(s.oneof("system_mode", &spec.system_mode, {"fixed", "per_account", "per_request"}));
      DG_RETURN_IF_ERROR(s.num("system_prob", &spec.system_prob, 0, 1));
      DG_RETURN_IF_ERROR(s.str_list("models", &spec.models, 1));
      DG_RETURN_IF_ERROR(s.num_list("temperature", &spec.temperature, 0, 2));
      DG_RETURN_IF_ERROR(s.num_list("top_p", &spec.top_p, 0, 1));
      DG_RETURN_IF_ERROR(s.int_list("n", &spec.n, 1, 128));
      DG_RETURN_IF_ERROR(s.int_list("max_tokens", &spec.max_tokens, 0, 1'000'000));
      DG_RETURN_IF_ERROR(s.num("logprobs_prob", &spec.logprobs_prob, 0, 1));
      DG_RETURN_IF_ERROR(s.int_list("top_logprobs", &spec.top_logprobs, 0, 20));
      DG_RETURN_IF_ERROR(s.num("stream_prob", &spec.stream_prob, 0, 1));
      DG_RETURN_IF_ERROR(s.boolean("params_per_account", &spec.params_per_account));
      DG_RETURN_IF_ERROR(s.num("completions_endpoint_prob", &spec.completions_endpoint_prob, 0, 1));
      DG_RETURN_IF_ERROR(s.num("response_tokens", &spec.response_tokens, 0, 1e6));
      DG_RETURN_IF_ERROR(s.num("response_sigma", &spec.response_sigma, 0, 4));
      DG_RETURN_IF_ERROR(s.num("response_scale", &spec.response_scale, 0.01, 100));
      DG_RETURN_IF_ERROR(s.boolean("response_from_prompt", &spec.response_from_prompt));
      if (spec.end_day >= 0 && spec.end_day <= spec.start_day)
        return s.error_at(stt.get("end_day"), "end_day", "must be after start_day");
      if (spec.context_items[1] < spec.context_items[0])
        return s.error_at(stt.get("context_items"), "context_items", "must be [low, high]");
      if (spec.context_items[1] > 0 && spec.context_pool.empty())
        return s.error_at(stt.get("context_items"), "context_pool", "missing (context_items > 0 needs a context_pool)");
      for (const auto& t : spec.templates)
        if (t.find("{prompt}") == std::string::npos)
          return s.error_at(stt.get("templates"), "templates", "every template must contain {prompt}");
      DG_ASSIGN_OR_RETURN(const toml::array* prompts, s.tables("prompts"));
      if (!prompts || prompts->empty())
        return s.error_at(nullptr, "prompts", "missing required key (at least one [[" + s.full("prompts") + "]])");
      for (size_t k = 0; k < prompts->size(); ++k) {
        TableReader q(*prompts->get(k)->as_table(), s.full("prompts") + "[" + std::to_string(k) + "]", origin);
        PromptSource src;
        DG_RETURN_IF_ERROR(q.str("pool", &src.pool, true));
        DG_RETURN_IF_ERROR(q.str("source", &src.source));
        DG_RETURN_IF_ERROR(q.str("category", &src.category));
        DG_RETURN_IF_ERROR(q.num("weight", &src.weight, 0, 1e9));
        DG_RETURN_IF_ERROR(q.finish());
        spec.prompts.push_back(std::move(src));
      }
      DG_RETURN_IF_ERROR(s.finish());
      pop.streams.push_back(std::move(spec));
    }
    DG_RETURN_IF_ERROR(p.finish());
    sc.populations.push_back(std::move(pop));
  }
  DG_RETURN_IF_ERROR(r.finish());
  return sc;
}

Result<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument("cannot read scenario file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_scenario(ss.str(), path);
}

}  // namespace dg::distillbench
