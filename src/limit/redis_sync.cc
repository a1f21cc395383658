#include "limit/redis_sync.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/hash.h"

namespace dg {

namespace {

// KEYS[1] key; ARGV[1] now (us); ARGV[2] delta (us). Returns the shared TAT (us).
constexpr const char* kScript = R"lua(
local now = tonumber(ARGV[1])
local t = tonumber(redis.call('GET', KEYS[1]) or '0')
if t < now then t = now end
t = t + tonumber(ARGV[2])
if t <= now then
  redis.call('DEL', KEYS[1])
  return now
end
redis.call('SET', KEYS[1], string.format('%.0f', t), 'PX', math.floor((t - now) / 1000) + 1000)
return string.format('%.0f', t)
)lua";

std::string key_name(const LimitKey& k) {
  uint8_t b[16];
  std::memcpy(b, &k.hi, 8);
  std::memcpy(b + 8, &k.lo, 8);
  return "dg:gcra:" + to_hex(b, 16);
}

}  // namespace

Status parse_redis_url(const std::string& url, std::string* host, int* port, int* db,
                       std::string* unix_path) {
  if (url.rfind("unix:", 0) == 0) {
    *unix_path = url.substr(5);
    if (unix_path->rfind("//", 0) == 0) *unix_path = unix_path->substr(2);
    if (unix_path->empty()) return invalid_argument("redis url '" + url + "': empty socket path");
    return {};
  }
  if (url.rfind("redis://", 0) != 0) {
    return invalid_argument("redis url '" + url + "' must be redis://host:port[/db] or unix:/path");
  }
  std::string rest = url.substr(8);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos && slash + 1 < rest.size()) {
    try {
      *db = std::stoi(rest.substr(slash + 1));
    } catch (...) {
      return invalid_argument("redis url '" + url + "': bad database number");
    }
  }
  size_t at = hostport.rfind('@');  // credentials are not supported; ignore user part
  if (at != std::string::npos) hostport = hostport.substr(at + 1);
  size_t colon = hostport.rfind(':');
  *host = hostport.substr(0, colon);
  if (colon != std::string::npos) {
    try {
      *port = std::stoi(hostport.substr(colon + 1));
    } catch (...) {
      return invalid_argument("redis url '" + url + "': bad port");
    }
  }
  if (host->empty()) return invalid_argument("redis url '" + url + "': no host");
  return {};
}

RedisLimitSync::RedisLimitSync(GcraStore& store, Clock& clock, const RedisSyncOptions& options)
    : store_(store), clock_(clock), options_(options) {}

Result<std::unique_ptr<RedisLimitSync>> RedisLimitSync::start(GcraStore& store, Clock& clock,
                                                              const RedisSyncOptions& options) {
  std::unique_ptr<RedisLimitSync> s(new RedisLimitSync(store, clock, options));
  DG_RETURN_IF_ERROR(parse_redis_url(options.url, &s->host_, &s->port_, &s->db_, &s->unix_path_));
  store.enable_sharing();
  {
    std::lock_guard<std::mutex> l(s->mu_);
    (void)s->connect();  // fail open: retried every round
  }
  if (options.interval > 0) s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

RedisLimitSync::~RedisLimitSync() {
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)sync_now();  // last deltas, best effort
  if (ctx_) redisFree(ctx_);
}

// Caller holds mu_.
Status RedisLimitSync::connect() {
  if (ctx_) return {};
  timeval tv{static_cast<time_t>(options_.connect_timeout / kNsPerSec),
             static_cast<suseconds_t>((options_.connect_timeout % kNsPerSec) / 1000)};
  redisContext* c = unix_path_.empty() ? redisConnectWithTimeout(host_.c_str(), port_, tv)
                                       : redisConnectUnixWithTimeout(unix_path_.c_str(), tv);
  if (!c || c->err) {
    std::string m = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return unavailable("redis " + options_.url + ": " + m);
  }
  redisSetTimeout(c, tv);
  auto* r = static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", kScript));
  if (!r || r->type != REDIS_REPLY_STRING) {
    std::string m = r && r->type == REDIS_REPLY_ERROR ? r->str : (c->err ? c->errstr : "no reply");
    if (r) freeReplyObject(r);
    redisFree(c);
    return unavailable("redis " + options_.url + ": SCRIPT LOAD: " + m);
  }
  script_sha_.assign(r->str, r->len);
  freeReplyObject(r);
  if (db_ != 0) {
    r = static_cast<redisReply*>(redisCommand(c, "SELECT %d", db_));
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    if (!ok) {
      redisFree(c);
      return unavailable("redis " + options_.url + ": SELECT failed");
    }
  }
  ctx_ = c;
  connected_ = true;
  return {};
}

Status RedisLimitSync::sync_now() {
  std::lock_guard<std::mutex> l(mu_);
  rounds_.fetch_add(1, std::memory_order_relaxed);
  store_.drain_pending(carry_);
  if (carry_.empty()) return {};
  // Merge duplicate keys (a delta carried over from a failed round plus new ones).
  std::sort(carry_.begin(), carry_.end(), [](const auto& a, const auto& b) {
    return a.first.hi != b.first.hi ? a.first.hi < b.first.hi : a.first.lo < b.first.lo;
  });
  size_t w = 0;
  for (size_t i = 0; i < carry_.size(); ++i) {
    if (w > 0 && carry_[w - 1].first == carry_[i].first) {
      carry_[w - 1].second += carry_[i].second;
    } else {
      carry_[w++] = carry_[i];
    }
  }
  carry_.resize(w);
  if (carry_.size() > options_.max_pending) {
    dropped_.fetch_add(static_cast<int64_t>(carry_.size() - options_.max_pending));
    carry_.resize(options_.max_pending);
  }

  Status st = connect();
  const TimeNs now = clock_.now();
  if (st.ok()) {
    const std::string now_us = std::to_string(now / 1000);
    for (const auto& [key, delta] : carry_) {
      const std::string name = key_name(key);
      const std::string d = std::to_string(delta / 1000);
      const char* argv[] = {"EVALSHA", script_sha_.c_str(), "1", name.c_str(), now_us.c_str(),
                            d.c_str()};
      size_t lens[] = {7, script_sha_.size(), 1, name.size(), now_us.size(), d.size()};
      redisAppendCommandArgv(ctx_, 6, argv, lens);
    }
    for (size_t i = 0; i < carry_.size(); ++i) {
      void* reply = nullptr;
      if (redisGetReply(ctx_, &reply) != REDIS_OK || !reply) {
        st = unavailable("redis " + options_.url + ": " + ctx_->errstr);
        break;
      }
      auto* r = static_cast<redisReply*>(reply);
      TimeNs shared = 0;
      if (r->type == REDIS_REPLY_STRING) {
        shared = std::strtoll(r->str, nullptr, 10) * 1000;
      } else if (r->type == REDIS_REPLY_INTEGER) {
        shared = r->integer * 1000;
      } else if (r->type == REDIS_REPLY_ERROR) {
        st = unavailable("redis " + options_.url + ": " + std::string(r->str, r->len));
      }
      freeReplyObject(r);
      if (shared > 0) store_.merge_remote(carry_[i].first, shared, now);
    }
    if (st.ok()) {
      keys_sent_.fetch_add(static_cast<int64_t>(carry_.size()), std::memory_order_relaxed);
      carry_.clear();
      if (reported_outage_) {
        std::fprintf(stderr, "distillguard: redis %s reachable again; limits shared\n",
                     options_.url.c_str());
        reported_outage_ = false;
      }
      return {};
    }
    // The connection is in an unknown state: drop it. Some deltas may have been
    // applied; resending them overcharges slightly, which errs on the safe side.
    redisFree(ctx_);
    ctx_ = nullptr;
    connected_ = false;
  }
  errors_.fetch_add(1, std::memory_order_relaxed);
  if (!reported_outage_) {
    std::fprintf(stderr,
                 "distillguard: LIMITS NOT SHARED: %s; limits stay local to this gateway, "
                 "retrying\n",
                 st.message().c_str());
    reported_outage_ = true;
  }
  return st;
}

void RedisLimitSync::run() {
  std::unique_lock<std::mutex> l(stop_mu_);
  while (!stop_) {
    stop_cv_.wait_for(l, std::chrono::nanoseconds(options_.interval), [&] { return stop_; });
    if (stop_) break;
    l.unlock();
    (void)sync_now();
    l.lock();
  }
}

RedisLimitSync::Counters RedisLimitSync::counters() const {
  Counters c;
  c.rounds = rounds_.load();
  c.errors = errors_.load();
  c.keys_sent = keys_sent_.load();
  c.dropped = dropped_.load();
  c.connected = connected_.load();
  return c;
}

}  // namespace dg
