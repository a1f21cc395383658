#include "admin/admin_api.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "admin/web_assets.h"
#include "audit/audit_log.h"
#include "config/config.h"
#include "engine/analyze.h"
#include "http/errors.h"
#include "store/sqlite/sqlite_account_store.h"
#include "store/sqlite/sqlite_db.h"

namespace dg::admin {
namespace json = boost::json;

namespace {

constexpr int64_t kDefaultAccountsLimit = 200;
constexpr int64_t kMaxAccountsLimit = 5000;
constexpr int64_t kDefaultDecisionsLimit = 50;
constexpr size_t kSnippetBytes = 200;
constexpr size_t kMaxClusterAccountsListed = 100;

AdminResponse json_response(int status, const json::value& v) {
  AdminResponse r;
  r.status = status;
  r.body = json::serialize(v);
  r.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
  return r;
}

AdminResponse error_response(int status, std::string_view type, std::string_view code, std::string_view message) {
  AdminResponse r;
  r.status = status;
  r.body = http::error_body(message, type, code);
  r.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
  return r;
}

AdminResponse not_found(const AdminRequest& req, std::string_view path) {
  return error_response(404, "invalid_request_error", "unknown_url",
                        "Invalid URL (" + req.method + " " + std::string(path) + ")");
}

AdminResponse method_not_allowed(const AdminRequest& req, std::string_view path, const char* allow) {
  AdminResponse r = error_response(405, "invalid_request_error", "method_not_allowed",
                                   "Method " + req.method + " not allowed on " + std::string(path));
  r.headers.emplace_back("Allow", allow);
  return r;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int a = hex(s[i + 1]), b = hex(s[i + 2]);
      if (a >= 0 && b >= 0) {
        out += static_cast<char>(a * 16 + b);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

// The value of `key` in the query string ("" if absent).
std::string query_param(std::string_view target, std::string_view key) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) == key) return eq == std::string_view::npos ? std::string() : percent_decode(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

// A bounded integer query parameter; `def` when absent or unparsable.
int64_t int_param(std::string_view target, std::string_view key, int64_t def, int64_t min, int64_t max) {
  std::string v = query_param(target, key);
  if (v.empty()) return def;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0') return def;
  return std::clamp<int64_t>(n, min, max);
}

std::string_view bearer(std::string_view auth) {
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
    auth.remove_prefix(7);
    while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
    while (!auth.empty() && auth.back() == ' ') auth.remove_suffix(1);
    return auth;
  }
  return {};
}

// Constant time in the token's content (the length is not secret-bearing enough to hide).
bool token_matches(std::string_view given, std::string_view want) {
  if (given.size() != want.size() || want.empty()) return false;
  return CRYPTO_memcmp(given.data(), want.data(), want.size()) == 0;
}

// Cuts at most `n` bytes without splitting a UTF-8 sequence.
std::string snippet(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  size_t cut = n;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "…";
}

const json::value* find(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

std::string str_field(const json::object& o, std::string_view key) {
  const json::value* v = find(o, key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<int64_t> int_field(const json::object& o, std::string_view key) {
  const json::value* v = find(o, key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return std::nullopt;
}

// What an analyst needs from one record, parsed once.
struct RecordView {
  std::string action;   // "allow" when absent
  std::string code;     // local reply code, "" if none
  std::string message;  // local reply message
  std::vector<std::pair<std::string, std::string>> notes;
  std::optional<double> live_risk;  // the assess/policy stage's "risk 0.91 ..." note
  bool shadow = false;              // a stage noted "shadow: would ..."
};

RecordView view_of(const ExchangeRecord& r) {
  RecordView v;
  v.action = r.action.empty() ? "allow" : r.action;
  if (r.response) {
    if (const json::value* e = find(*r.response, "error"); e && e->is_object()) {
      v.code = str_field(e->get_object(), "code");
      v.message = str_field(e->get_object(), "message");
    }
  }
  if (const json::value* n = find(r.extra, "notes"); n && n->is_array()) {
    for (const auto& item : n->get_array()) {
      if (!item.is_object()) continue;
      std::string stage = str_field(item.get_object(), "stage");
      std::string note = str_field(item.get_object(), "note");
      if (note.rfind("shadow:", 0) == 0) v.shadow = true;
      if ((stage == "assess" || stage == "policy") && !v.live_risk) {
        size_t p = note.find("risk ");
        if (p != std::string::npos) {
          char* end = nullptr;
          double x = std::strtod(note.c_str() + p + 5, &end);
          if (end != note.c_str() + p + 5 && x >= 0 && x <= 1) v.live_risk = x;
        }
      }
      v.notes.emplace_back(std::move(stage), std::move(note));
    }
  }
  return v;
}

bool is_decision(const ExchangeRecord& r, const RecordView& v) {
  return v.action != "allow" || !v.code.empty() || v.shadow || (r.status && *r.status >= 400);
}

std::string reason_of(const RecordView& v) {
  std::string out = v.message;
  for (const auto& [stage, note] : v.notes) {
    if (note == v.message) continue;  // the stage's note is often the reply's message
    if (!out.empty()) out += "; ";
    out += stage + ": " + note;
  }
  return out;
}

// The last user message (chat) or the prompt (completions), as text.
std::string prompt_text(const json::object& req) {
  if (const json::value* m = find(req, "messages"); m && m->is_array()) {
    const auto& arr = m->get_array();
    for (auto it = arr.rbegin(); it != arr.rend(); ++it) {
      if (!it->is_object() || str_field(it->get_object(), "role") != "user") continue;
      const json::value* c = find(it->get_object(), "content");
      if (!c) return {};
      if (c->is_string()) return std::string(c->get_string());
      if (c->is_array()) {  // content parts: the text ones
        std::string out;
        for (const auto& part : c->get_array())
          if (part.is_object()) out += str_field(part.get_object(), "text");
        return out;
      }
      return {};
    }
    return {};
  }
  if (const json::value* p = find(req, "prompt"); p && p->is_string()) return std::string(p->get_string());
  return {};
}

json::array notes_json(const RecordView& v) {
  json::array a;
  for (const auto& [stage, note] : v.notes) a.push_back(json::object{{"stage", stage}, {"note", note}});
  return a;
}

struct AccountStats {
  int64_t requests = 0;     // records (exchanges) of the account
  int64_t refusals = 0;     // local replies (401/403/429/...)
  int64_t non_allow = 0;    // records whose action was not allow
  TimeNs first_ts = 0;
  TimeNs last_ts = 0;
  std::string last_action;
  int last_status = 0;
  std::string last_code;
};

struct Decision {
  int64_t seq = 0;
  TimeNs ts = 0;
  std::string account;
  std::string endpoint;
  std::string action;
  int status = 0;
  std::string code;
  std::string reason;
  std::optional<double> live_risk;
  bool shadow = false;
};

}  // namespace

bool is_admin_path(std::string_view path) {
  auto under = [&](std::string_view root) {
    return path.substr(0, root.size()) == root && (path.size() == root.size() || path[root.size()] == '/');
  };
  return under("/admin") || under("/dashboard");
}

// ------------------------------------------------------------------ Impl

struct AdminApi::Impl {
  AdminOptions options;
  AccountStore& store;
  std::unique_ptr<AccountStore> owned_store;  // when opened from a Config (declared after: destroyed first)

  std::mutex mu;  // serializes handle()
  // Audit reader (lazily opened: the database may not exist yet).
  std::unique_ptr<SqliteDb> db;
  SqliteStmt after_stmt, recent_stmt, last_seq_stmt;
  // Replica of the engine, and what the sync collected.
  std::unique_ptr<engine::Engine> eng;
  int64_t synced_seq = 0;
  int64_t last_seq = 0;
  int64_t rejected = 0;
  TimeNs last_fed_ts = 0;
  std::unordered_map<std::string, AccountStats> stats;
  std::deque<Decision> decisions;
  // engine report, recomputed only after new records
  bool report_dirty = true;
  engine::EngineReport report;
  std::unordered_map<std::string, size_t> report_index;

  Impl(AdminOptions o, AccountStore& s) : options(std::move(o)), store(s) {
    eng = std::make_unique<engine::Engine>(options.engine);
  }

  Status open_audit() {
    if (db) return Status();
    if (options.audit_path.empty() || !std::filesystem::exists(options.audit_path))
      return dg::not_found("no audit database yet");
    DG_ASSIGN_OR_RETURN(auto d, SqliteDb::open(options.audit_path, /*create=*/false, 1000));
    DG_RETURN_IF_ERROR(d->exec("PRAGMA query_only=1"));
    DG_ASSIGN_OR_RETURN(auto probe, SqliteStmt::prepare(*d,
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='audit_log'"));
    DG_ASSIGN_OR_RETURN(bool has, probe.step());
    if (!has) return dg::not_found("no audit_log table yet");
    DG_ASSIGN_OR_RETURN(after_stmt, SqliteStmt::prepare(*d,
        "SELECT seq, ts_ns, account, record FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"));
    DG_ASSIGN_OR_RETURN(recent_stmt, SqliteStmt::prepare(*d,
        "SELECT seq, record FROM audit_log WHERE account = ? ORDER BY seq DESC LIMIT ?"));
    DG_ASSIGN_OR_RETURN(last_seq_stmt, SqliteStmt::prepare(*d, "SELECT IFNULL(MAX(seq),0) FROM audit_log"));
    db = std::move(d);
    return Status();
  }

  // Replays up to max_sync_per_call new audit entries into the replica.
  Status sync() {
    if (Status st = open_audit(); !st.ok()) return st.code() == StatusCode::kNotFound ? Status() : st;
    DG_ASSIGN_OR_RETURN(bool row, last_seq_stmt.step());
    last_seq = row ? last_seq_stmt.col_int(0) : 0;
    last_seq_stmt.reset();
    if (last_seq <= synced_seq) return Status();
    after_stmt.bind(1, synced_seq).bind(2, options.max_sync_per_call);
    while (true) {
      auto r = after_stmt.step();
      if (!r.ok()) {
        after_stmt.reset();
        return r.status();
      }
      if (!*r) break;
      synced_seq = after_stmt.col_int(0);
      auto rec = parse_exchange_record(after_stmt.col_view(3));
      if (!rec.ok()) {
        ++rejected;
        continue;
      }
      ingest(synced_seq, *rec);
    }
    after_stmt.reset();
    report_dirty = true;
    return Status();
  }

  void ingest(int64_t seq, ExchangeRecord& r) {
    RecordView v = view_of(r);
    const int status = r.status.value_or(0);
    if (r.account != "-") {
      AccountStats& s = stats[r.account];
      ++s.requests;
      if (!v.code.empty()) ++s.refusals;
      if (v.action != "allow") ++s.non_allow;
      if (s.first_ts == 0) s.first_ts = r.ts;
      s.last_ts = r.ts;
      s.last_action = v.action;
      s.last_status = status;
      s.last_code = v.code;
    }
    if (is_decision(r, v)) {
      Decision d;
      d.seq = seq;
      d.ts = r.ts;
      d.account = r.account;
      d.endpoint = r.endpoint;
      d.action = v.action;
      d.status = status;
      d.code = v.code;
      d.reason = reason_of(v);
      d.live_risk = v.live_risk;
      d.shadow = v.shadow;
      decisions.push_back(std::move(d));
      while (decisions.size() > options.decisions_kept) decisions.pop_front();
    }
    // The engine wants non-decreasing time; records are appended at completion,
    // so a long stream can land after a later, shorter exchange.
    if (r.account != "-") {
      if (r.ts < last_fed_ts) r.ts = last_fed_ts;
      last_fed_ts = r.ts;
      eng->observe(r);
    }
  }

  const engine::EngineReport& current_report() {
    if (report_dirty) {
      report = eng->report();
      report_index.clear();
      for (size_t i = 0; i < report.accounts.size(); ++i) report_index.emplace(report.accounts[i].account, i);
      report_dirty = false;
    }
    return report;
  }

  const engine::AccountReport* account_report(const std::string& name) {
    const auto& rep = current_report();
    auto it = report_index.find(name);
    return it == report_index.end() ? nullptr : &rep.accounts[it->second];
  }

  json::object engine_status() const {
    return {{"synced_seq", synced_seq},
            {"last_seq", last_seq},
            {"catching_up", synced_seq < last_seq},
            {"accounts_tracked", static_cast<int64_t>(eng->account_count())},
            {"rejected_records", rejected},
            {"thresholds", json::object{{"suspicious", options.engine.thresholds.suspicious},
                                        {"attack", options.engine.thresholds.attack}}}};
  }

  json::object account_row(const std::string& name, const Account* a) {
    json::object o;
    o["id"] = name;
    o["tier"] = a ? json::value(a->tier) : json::value(nullptr);
    o["created"] = a && a->created ? json::value(format_rfc3339(a->created)) : json::value(nullptr);
    o["disabled"] = a ? a->disabled : false;
    o["in_store"] = a != nullptr;
    auto it = stats.find(name);
    const AccountStats* s = it == stats.end() ? nullptr : &it->second;
    o["requests"] = s ? s->requests : 0;
    o["refusals"] = s ? s->refusals : 0;
    o["non_allow"] = s ? s->non_allow : 0;
    o["last_seen"] = s ? json::value(format_rfc3339(s->last_ts)) : json::value(nullptr);
    o["last_action"] = s ? json::value(s->last_action) : json::value(nullptr);
    o["last_status"] = s ? json::value(s->last_status) : json::value(nullptr);
    o["last_code"] = s && !s->last_code.empty() ? json::value(s->last_code) : json::value(nullptr);
    const engine::AccountReport* ar = account_report(name);
    o["risk"] = ar ? json::value(ar->risk) : json::value(nullptr);
    o["verdict"] = ar ? json::value(engine::verdict_name(ar->verdict)) : json::value(nullptr);
    o["cluster"] = ar && !ar->cluster.empty() ? json::value(ar->cluster) : json::value(nullptr);
    return o;
  }

  AdminResponse accounts(const AdminRequest& req) {
    auto list = store.list_accounts();
    if (!list.ok()) return error_response(503, "server_error", "store_unavailable", list.status().message());
    const int64_t limit = int_param(req.target, "limit", kDefaultAccountsLimit, 1, kMaxAccountsLimit);
    const std::string q = query_param(req.target, "q");
    json::array rows;
    for (const Account& a : *list) {
      if (!q.empty() && a.name.find(q) == std::string::npos) continue;
      rows.push_back(account_row(a.name, &a));
    }
    const int64_t total = static_cast<int64_t>(rows.size());
    auto risk_of = [](const json::value& v) {
      const json::value& r = v.as_object().at("risk");
      return r.is_double() ? r.get_double() : -1.0;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const json::value& x, const json::value& y) {
      double rx = risk_of(x), ry = risk_of(y);
      if (rx != ry) return rx > ry;
      return x.as_object().at("requests").as_int64() > y.as_object().at("requests").as_int64();
    });
    if (static_cast<int64_t>(rows.size()) > limit) rows.resize(static_cast<size_t>(limit));
    return json_response(200, json::object{{"accounts", std::move(rows)}, {"total", total},
                                           {"engine", engine_status()}});
  }

  AdminResponse account(const std::string& name) {
    auto a = store.get_account(name);
    if (!a.ok() && a.status().code() != StatusCode::kNotFound)
      return error_response(503, "server_error", "store_unavailable", a.status().message());
    const bool seen = stats.count(name) > 0;
    if (!a.ok() && !seen)
      return error_response(404, "invalid_request_error", "account_not_found", "No account '" + name + "'");
    json::object out;
    out["account"] = account_row(name, a.ok() ? &*a : nullptr);
    json::array history, reasons;
    json::object caps;
    json::value first_flagged = nullptr;
    if (const engine::AccountReport* ar = account_report(name)) {
      for (const auto& p : ar->history)
        history.push_back(json::object{{"ts", format_rfc3339(p.ts)}, {"risk", static_cast<double>(p.risk)}});
      for (const auto& r : ar->reasons)
        reasons.push_back(json::object{{"signal", r.signal}, {"value", r.value}, {"weight", r.weight},
                                       {"detail", r.detail}});
      for (int i = 0; i < engine::kCapabilityCount; ++i)
        if (ar->capabilities[i])
          caps[engine::capability_name(static_cast<engine::Capability>(i))] = ar->capabilities[i];
      if (ar->first_flagged)
        first_flagged = json::object{{"ts", format_rfc3339(ar->first_flagged->ts)},
                                     {"exchange", ar->first_flagged->exchange}};
    }
    out["risk_history"] = std::move(history);
    out["reasons"] = std::move(reasons);
    out["capabilities"] = std::move(caps);
    out["first_flagged"] = std::move(first_flagged);
    json::array recent;
    if (db) {
      recent_stmt.bind(1, name).bind(2, static_cast<int64_t>(options.recent_exchanges));
      while (true) {
        auto r = recent_stmt.step();
        if (!r.ok()) {
          recent_stmt.reset();
          return error_response(503, "server_error", "audit_unavailable", r.status().message());
        }
        if (!*r) break;
        auto rec = parse_exchange_record(recent_stmt.col_view(1));
        if (!rec.ok()) continue;
        recent.push_back(exchange_json(recent_stmt.col_int(0), *rec));
      }
      recent_stmt.reset();
    }
    out["recent"] = std::move(recent);
    out["engine"] = engine_status();
    return json_response(200, out);
  }

  static json::object exchange_json(int64_t seq, const ExchangeRecord& r) {
    RecordView v = view_of(r);
    json::object o;
    o["seq"] = seq;
    o["ts"] = format_rfc3339(r.ts);
    o["endpoint"] = r.endpoint;
    o["model"] = str_field(r.request, "model");
    o["status"] = r.status ? json::value(*r.status) : json::value(nullptr);
    o["action"] = v.action;
    o["code"] = v.code.empty() ? json::value(nullptr) : json::value(v.code);
    o["message"] = v.message.empty() ? json::value(nullptr) : json::value(v.message);
    o["live_risk"] = v.live_risk ? json::value(*v.live_risk) : json::value(nullptr);
    o["latency_ms"] = r.latency_ms ? json::value(*r.latency_ms) : json::value(nullptr);
    json::value pt = nullptr, ct = nullptr;
    if (r.response) {
      if (const json::value* u = find(*r.response, "usage"); u && u->is_object()) {
        if (auto x = int_field(u->get_object(), "prompt_tokens")) pt = *x;
        if (auto x = int_field(u->get_object(), "completion_tokens")) ct = *x;
      }
    }
    o["prompt_tokens"] = pt;
    o["completion_tokens"] = ct;
    o["stream"] = [&] {
      const json::value* s = find(r.request, "stream");
      return s && s->is_bool() && s->get_bool();
    }();
    o["prompt"] = snippet(prompt_text(r.request), kSnippetBytes);
    o["ip"] = r.ip;
    o["key_id"] = r.key_id;
    o["notes"] = notes_json(v);
    return o;
  }

  AdminResponse set_disabled(const std::string& name, bool disabled) {
    Status st = store.set_disabled(name, disabled);
    if (st.code() == StatusCode::kNotFound)
      return error_response(404, "invalid_request_error", "account_not_found", "No account '" + name + "'");
    if (!st.ok()) return error_response(503, "server_error", "store_unavailable", st.message());
    std::fprintf(stderr, "distillguard admin: account %s %s\n", name.c_str(), disabled ? "disabled" : "enabled");
    auto a = store.get_account(name);
    if (!a.ok()) return error_response(503, "server_error", "store_unavailable", a.status().message());
    return json_response(200, json::object{{"account", account_row(name, &*a)}});
  }

  AdminResponse decisions_page(const AdminRequest& req) {
    const int64_t limit = int_param(req.target, "limit", kDefaultDecisionsLimit, 1,
                                    static_cast<int64_t>(options.decisions_kept));
    const std::string account = query_param(req.target, "account");
    json::array out;
    for (auto it = decisions.rbegin(); it != decisions.rend() && static_cast<int64_t>(out.size()) < limit; ++it) {
      if (!account.empty() && it->account != account) continue;
      out.push_back(json::object{
          {"seq", it->seq},
          {"ts", format_rfc3339(it->ts)},
          {"account", it->account},
          {"endpoint", it->endpoint},
          {"action", it->action},
          {"status", it->status},
          {"code", it->code.empty() ? json::value(nullptr) : json::value(it->code)},
          {"reason", it->reason},
          {"live_risk", it->live_risk ? json::value(*it->live_risk) : json::value(nullptr)},
          {"shadow", it->shadow},
      });
    }
    return json_response(200, json::object{{"decisions", std::move(out)}, {"engine", engine_status()}});
  }

  AdminResponse clusters() {
    const auto& rep = current_report();
    json::array out;
    for (const auto& c : rep.clusters) {
      json::array accts;
      for (size_t i = 0; i < c.accounts.size() && i < kMaxClusterAccountsListed; ++i) accts.push_back(json::value(c.accounts[i]));
      json::object links;
      for (int k = 0; k < engine::kLinkKinds; ++k)
        if (c.links[k]) links[engine::link_kind_name(k)] = c.links[k];
      json::array reasons;
      for (const auto& r : c.reasons)
        reasons.push_back(json::object{{"signal", r.signal}, {"value", r.value}, {"weight", r.weight},
                                       {"detail", r.detail}});
      json::array history;
      for (const auto& p : c.history)
        history.push_back(json::object{{"ts", format_rfc3339(p.ts)}, {"risk", static_cast<double>(p.risk)}});
      out.push_back(json::object{
          {"id", c.id},
          {"size", static_cast<int64_t>(c.accounts.size())},
          {"accounts", std::move(accts)},
          {"risk", c.risk},
          {"verdict", engine::verdict_name(c.verdict)},
          {"first_flagged", c.first_flagged ? json::value(format_rfc3339(c.first_flagged->ts)) : json::value(nullptr)},
          {"links", std::move(links)},
          {"reasons", std::move(reasons)},
          {"risk_history", std::move(history)},
      });
    }
    std::string note = options.engine.clustering
                           ? "clusters from the engine replica fed with the audit log"
                           : "clustering is off ([engine] clustering = false)";
    return json_response(200, json::object{{"clusters", std::move(out)}, {"note", note}, {"engine", engine_status()}});
  }

  AdminResponse verify() {
    if (options.audit_path.empty() || !std::filesystem::exists(options.audit_path))
      return json_response(200, json::object{{"ok", true}, {"entries", 0}, {"first_bad_seq", 0}, {"reason", ""},
                                             {"head_hash", ""}, {"note", "no audit database yet"}});
    const auto t0 = std::chrono::steady_clock::now();
    auto rep = verify_audit_chain(options.audit_path);
    if (!rep.ok()) return error_response(503, "server_error", "audit_unavailable", rep.status().message());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return json_response(200, json::object{{"ok", rep->first_bad_seq == 0},
                                           {"entries", rep->entries},
                                           {"first_bad_seq", rep->first_bad_seq},
                                           {"reason", rep->reason},
                                           {"head_hash", rep->head_hash},
                                           {"seconds", secs}});
  }

  AdminResponse route(const AdminRequest& req) {
    const std::string_view path = path_of(req.target);
    const bool get = req.method == "GET" || req.method == "HEAD";
    const bool post = req.method == "POST";
    if (Status st = sync(); !st.ok())
      return error_response(503, "server_error", "audit_unavailable", "cannot read the audit log: " + st.message());

    if (path == "/admin/accounts") return get ? accounts(req) : method_not_allowed(req, path, "GET");
    if (path == "/admin/decisions") return get ? decisions_page(req) : method_not_allowed(req, path, "GET");
    if (path == "/admin/clusters") return get ? clusters() : method_not_allowed(req, path, "GET");
    if (path == "/admin/audit/verify") return get ? verify() : method_not_allowed(req, path, "GET");
    constexpr std::string_view kAcc = "/admin/accounts/";
    if (path.substr(0, kAcc.size()) == kAcc) {
      std::string_view rest = path.substr(kAcc.size());
      size_t slash = rest.find('/');
      std::string name = percent_decode(rest.substr(0, slash));
      if (!validate_account_name(name).ok())
        return error_response(400, "invalid_request_error", "invalid_account", "invalid account name");
      if (slash == std::string_view::npos) return get ? account(name) : method_not_allowed(req, path, "GET");
      std::string_view verb = rest.substr(slash + 1);
      if (verb == "disable" || verb == "enable")
        return post ? set_disabled(name, verb == "disable") : method_not_allowed(req, path, "POST");
    }
    return not_found(req, path);
  }
};

// ------------------------------------------------------------------ AdminApi

AdminApi::AdminApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminApi::~AdminApi() = default;

Result<std::unique_ptr<AdminApi>> AdminApi::create(AdminOptions options, AccountStore& store) {
  if (options.max_sync_per_call < 1) return invalid_argument("admin: max_sync_per_call must be >= 1");
  if (options.decisions_kept < 1) return invalid_argument("admin: decisions_kept must be >= 1");
  if (options.recent_exchanges < 1) return invalid_argument("admin: recent_exchanges must be >= 1");
  return std::unique_ptr<AdminApi>(new AdminApi(std::make_unique<Impl>(std::move(options), store)));
}

Result<std::unique_ptr<AdminApi>> AdminApi::open(const Config& config, Clock& clock) {
  SqliteAccountStoreOptions so;
  so.path = config.storage.sqlite_path;
  so.poll_interval = 0;  // management calls only: no cache watcher
  DG_ASSIGN_OR_RETURN(auto store, open_sqlite_account_store(so, clock));
  AdminOptions o;
  o.admin_token = config.server.admin_token;
  o.audit_path = config.audit.effective_sqlite_path(config.storage);
  DG_ASSIGN_OR_RETURN(o.engine, engine::engine_config_from(config));
  DG_ASSIGN_OR_RETURN(auto api, create(std::move(o), *store));
  api->impl_->owned_store = std::move(store);
  return api;
}

std::optional<AdminResponse> AdminApi::answer_without_data(const AdminRequest& req, std::string_view admin_token) {
  const std::string_view path = path_of(req.target);
  if (admin_token.empty() || !is_admin_path(path)) return not_found(req, path);
  if (path.substr(0, 10) == "/dashboard") {
    if (req.method != "GET" && req.method != "HEAD") return method_not_allowed(req, path, "GET");
    std::string_view file = path == "/dashboard" || path == "/dashboard/" ? "/dashboard/index.html" : path;
    for (const WebAsset& a : web_assets()) {
      if (a.path != file) continue;
      AdminResponse r;
      r.content_type = std::string(a.content_type);
      if (req.method == "GET") r.body = std::string(a.body);
      r.headers = {
          {"Cache-Control", "no-cache"},
          {"X-Content-Type-Options", "nosniff"},
          {"X-Frame-Options", "DENY"},
          {"Referrer-Policy", "no-referrer"},
          {"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
      };
      return r;
    }
    return not_found(req, path);
  }
  if (!token_matches(bearer(req.authorization), admin_token)) {
    AdminResponse r = error_response(401, "invalid_request_error", "invalid_admin_token",
                                     "This endpoint needs the admin token: Authorization: Bearer <server.admin_token>");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"distillguard-admin\"");
    return r;
  }
  return std::nullopt;
}

bool AdminApi::catch_up() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->sync().ok()) return false;  // retried on the next call
  return impl_->synced_seq < impl_->last_seq;
}

AdminResponse AdminApi::handle(const AdminRequest& request) {
  if (auto quick = answer_without_data(request, impl_->options.admin_token)) return std::move(*quick);
  std::lock_guard<std::mutex> lock(impl_->mu);
  AdminResponse r = impl_->route(request);
  if (request.method == "HEAD") r.body.clear();
  return r;
}

}  // namespace dg::admin
