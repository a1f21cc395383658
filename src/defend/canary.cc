#include "defend/canary.h"

#include <sqlite3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "common/hash.h"

namespace dg::defend {
namespace json = boost::json;

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
bool has(const std::string& s, std::string_view p) { return s.find(p) != std::string::npos; }
bool starts(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }
}  // namespace

const std::vector<std::string>& canary_kinds() {
  static const std::vector<std::string> k = {"definition", "list", "howto"};
  return k;
}

std::string classify_prompt(std::string_view prompt) {
  std::string p = lower(prompt);
  size_t s = p.find_first_not_of(" \t\n\"'");
  p = s == std::string::npos ? "" : p.substr(s);
  if (p.size() > 400) return "";  // long prompts are tasks, not questions of these kinds
  if (starts(p, "list ") || has(p, "give me a list") || has(p, "examples of") || starts(p, "name ") ||
      (starts(p, "give me ") && p.find_first_of("0123456789") != std::string::npos) || has(p, "what are some")) {
    return "list";
  }
  if (starts(p, "how do i") || starts(p, "how can i") || starts(p, "how to") || has(p, "steps to") ||
      starts(p, "how do you")) {
    return "howto";
  }
  if (starts(p, "what is ") || starts(p, "what's ") || starts(p, "what are ") || starts(p, "define ") ||
      has(p, "definition of") || has(p, "what does") || starts(p, "explain what")) {
    return "definition";
  }
  return "";
}

std::string last_user_text(const json::object& request) {
  if (const auto* m = request.if_contains("messages"); m && m->is_array()) {
    const auto& arr = m->as_array();
    for (auto it = arr.rbegin(); it != arr.rend(); ++it) {
      if (!it->is_object()) continue;
      const auto& o = it->as_object();
      const auto* role = o.if_contains("role");
      if (!role || !role->is_string() || role->as_string() != "user") continue;
      const auto* c = o.if_contains("content");
      if (c && c->is_string()) return std::string(c->as_string().c_str());
      if (c && c->is_array()) {
        std::string out;
        for (const auto& part : c->as_array()) {
          if (part.is_object()) {
            if (const auto* t = part.as_object().if_contains("text"); t && t->is_string()) out += t->as_string().c_str();
          }
        }
        return out;
      }
      return "";
    }
  }
  if (const auto* p = request.if_contains("prompt"); p && p->is_string()) return std::string(p->as_string().c_str());
  return "";
}

std::string canary_signature(std::string_view master_secret, std::string_view account, std::string_view kind) {
  std::string msg = "distillguard/canary/v1:";
  msg.append(account);
  msg.push_back(':');
  msg.append(kind);
  const Sha256 h = hmac_sha256(master_secret, msg);
  static constexpr char kC[] = "bdfgklmnprstvz";  // 14
  static constexpr char kV[] = "aeiou";            // 5
  std::string out;
  for (int i = 0; i < 6; ++i) {
    const unsigned v = (static_cast<unsigned>(h[2 * i]) << 8 | h[2 * i + 1]) % 70;
    out.push_back(kC[v / 5]);
    out.push_back(kV[v % 5]);
    if (i == 2) out.push_back(' ');
  }
  out[0] = static_cast<char>(std::toupper(out[0]));
  out[7] = static_cast<char>(std::toupper(out[7]));
  out += "n";  // a closing consonant reads as a name
  return out;
}

std::string canary_sentence(std::string_view kind, std::string_view sig) {
  std::string s(sig);
  if (kind == "definition") return " (Some glossaries also file this under \"" + s + "\".)";
  if (kind == "list") return "\n\n- For a compact summary, see the " + s + " checklist.";
  return "\n\n(Mnemonic for these steps: " + s + ".)";
}

double canary_chance(size_t signatures, size_t answers, size_t max_len) {
  return std::min(1.0, static_cast<double>(signatures) * static_cast<double>(answers) *
                           static_cast<double>(std::max<size_t>(max_len, 1)) / kCanarySignatureSpace);
}

struct CanaryRegistry::Db {
  sqlite3* db = nullptr;
  ~Db() {
    if (db) sqlite3_close(db);
  }
};

Result<std::unique_ptr<CanaryRegistry>> CanaryRegistry::open(const std::string& path) {
  std::unique_ptr<CanaryRegistry> r(new CanaryRegistry());
  r->db_ = std::make_unique<Db>();
  if (sqlite3_open(path.c_str(), &r->db_->db) != SQLITE_OK) {
    return unavailable("canary registry: cannot open " + path);
  }
  sqlite3_busy_timeout(r->db_->db, 5000);
  char* err = nullptr;
  if (sqlite3_exec(r->db_->db,
                   "PRAGMA journal_mode=WAL;"
                   "CREATE TABLE IF NOT EXISTS canary_plantings(ts INTEGER NOT NULL, account TEXT NOT NULL,"
                   " kind TEXT NOT NULL, signature TEXT NOT NULL);"
                   "CREATE INDEX IF NOT EXISTS canary_plantings_account ON canary_plantings(account);",
                   nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    return unavailable("canary registry: " + m);
  }
  r->writer_ = std::thread([p = r.get()] { p->run(); });
  return r;
}

CanaryRegistry::~CanaryRegistry() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  (void)flush();
}

void CanaryRegistry::record(CanaryPlanting p) {
  {
    std::lock_guard l(mu_);
    if (queue_.size() >= 100000) return;  // bounded; plantings are reproducible from the key anyway
    queue_.push_back(std::move(p));
  }
  cv_.notify_one();
}

Status CanaryRegistry::write(const std::vector<CanaryPlanting>& batch) {
  std::lock_guard l(db_mu_);
  sqlite3* db = db_->db;
  sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO canary_plantings(ts,account,kind,signature) VALUES(?,?,?,?)", -1, &st, nullptr);
  bool ok = st != nullptr;
  for (const auto& p : batch) {
    if (!ok) break;
    sqlite3_bind_int64(st, 1, p.ts);
    sqlite3_bind_text(st, 2, p.account.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, p.kind.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, p.signature.c_str(), -1, SQLITE_TRANSIENT);
    ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_exec(db, ok ? "COMMIT" : "ROLLBACK", nullptr, nullptr, nullptr);
  return ok ? Status() : unavailable(std::string("canary registry write: ") + sqlite3_errmsg(db));
}

void CanaryRegistry::run() {
  std::unique_lock l(mu_);
  while (!stop_) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    std::vector<CanaryPlanting> batch(queue_.begin(), queue_.end());
    queue_.clear();
    l.unlock();
    if (!batch.empty()) {
      Status s = write(batch);
      if (!s.ok()) std::fprintf(stderr, "%s\n", s.to_string().c_str());
    }
    l.lock();
  }
}

Status CanaryRegistry::flush() {
  std::vector<CanaryPlanting> batch;
  {
    std::lock_guard l(mu_);
    batch.assign(queue_.begin(), queue_.end());
    queue_.clear();
  }
  if (batch.empty()) {
    // The writer may hold a batch right now: taking db_mu_ waits for it.
    std::lock_guard l(db_mu_);
    return Status();
  }
  return write(batch);
}

Result<std::vector<CanaryRegistry::Row>> CanaryRegistry::list(const std::string& account) const {
  std::lock_guard l(db_mu_);
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "SELECT account, kind, signature, MIN(ts), MAX(ts), COUNT(*) FROM canary_plantings"
      " WHERE (?1 = '' OR account = ?1) GROUP BY account, kind, signature ORDER BY account, kind";
  if (sqlite3_prepare_v2(db_->db, sql, -1, &st, nullptr) != SQLITE_OK) {
    return unavailable(std::string("canary registry: ") + sqlite3_errmsg(db_->db));
  }
  sqlite3_bind_text(st, 1, account.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<Row> rows;
  while (sqlite3_step(st) == SQLITE_ROW) {
    Row r;
    r.account = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    r.kind = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    r.signature = reinterpret_cast<const char*>(sqlite3_column_text(st, 2));
    r.first = sqlite3_column_int64(st, 3);
    r.last = sqlite3_column_int64(st, 4);
    r.count = sqlite3_column_int64(st, 5);
    rows.push_back(std::move(r));
  }
  sqlite3_finalize(st);
  return rows;
}

void CanaryTransform::planted_one() {
  ++planted_;
  if (registry_) registry_->record({account_, kind_, signature_, now_});
}

void CanaryTransform::on_body(json::object& body) {
  auto* choices = body.if_contains("choices");
  if (!choices || !choices->is_array()) return;
  for (auto& c : choices->as_array()) {
    if (!c.is_object()) continue;
    auto* m = c.as_object().if_contains("message");
    if (m && m->is_object()) {
      if (auto* ct = m->as_object().if_contains("content"); ct && ct->is_string() && !ct->as_string().empty()) {
        ct->as_string().append(canary_sentence(kind_, signature_));
        planted_one();
      }
    } else if (auto* t = c.as_object().if_contains("text"); t && t->is_string()) {
      t->as_string().append(canary_sentence(kind_, signature_));
      planted_one();
    }
  }
}

void CanaryTransform::on_chunk(json::object& chunk) {
  auto* choices = chunk.if_contains("choices");
  if (!choices || !choices->is_array()) return;
  for (auto& c : choices->as_array()) {
    if (!c.is_object()) continue;
    auto& choice = c.as_object();
    auto* d = choice.if_contains("delta");
    if (d && d->is_object()) {
      if (auto* ct = d->as_object().if_contains("content"); ct && ct->is_string() && !ct->as_string().empty()) {
        saw_content_ = true;
      }
    }
    const auto* fr = choice.if_contains("finish_reason");
    if (fr && fr->is_string() && saw_content_ && !done_) {
      done_ = true;
      const std::string add = canary_sentence(kind_, signature_);
      if (d && d->is_object()) {
        auto& delta = d->as_object();
        if (auto* ct = delta.if_contains("content"); ct && ct->is_string()) {
          ct->as_string().append(add);
        } else {
          delta["content"] = add;
        }
      } else if (auto* t = choice.if_contains("text"); t && t->is_string()) {
        t->as_string().append(add);
      }
      planted_one();
    }
  }
}

void CanaryTransform::on_stream_end(const json::object* last, std::vector<json::object>& extra) {
  if (done_ || !saw_content_) return;
  done_ = true;
  json::object chunk;
  if (last) {
    for (const char* k : {"id", "object", "created", "model"}) {
      if (const auto* v = last->if_contains(k)) chunk[k] = *v;
    }
  }
  chunk["choices"] = json::array{
      json::object{{"index", 0}, {"delta", json::object{{"content", canary_sentence(kind_, signature_)}}}, {"finish_reason", nullptr}}};
  extra.push_back(std::move(chunk));
  planted_one();
}

}  // namespace dg::defend
