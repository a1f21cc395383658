#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>

#include "common/hash.h"

namespace dg::engine {

namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr int kHistory = 16;
constexpr size_t kMaxEdges = 20000;
constexpr int kSlotMembers = 6;
constexpr uint32_t kSimilarityMinExchanges = 8;
constexpr TimeNs kCreatedBucket = 12 * 3600 * kNsPerSec;
// Shared instruction wrappers (Slot::frames_varied_content, Impl::shared_wrappers).
constexpr uint32_t kWrapperSamples = 8;  // uses per account sampled for what a key frames
constexpr uint32_t kWrapperMinUses = 16;
constexpr double kWrapperSpread = 0.35;
constexpr double kWrapperTopArea = 0.7;
constexpr uint32_t kWrapperSteadyShare = 25;  // a wrapper on >= 1/25 of an account's prompts
constexpr double kWrapperSetLink = 0.65;      // two or more shared wrappers: enough alone
constexpr const char* kLinkNames[kLinkKinds] = {"shared_templates",    "shared_address_block",
                                                "shared_fingerprint",  "creation_burst",
                                                "synchronized_timing", "shared_system_prompt"};

// A bounded risk-over-time trace: a point when the risk moves by 0.05 or more;
// when full, every other point is dropped (so it stays spread over the life).
struct History {
  std::array<RiskPoint, kHistory> p{};
  uint8_t n = 0;
  void add(TimeNs ts, double risk) {
    if (n > 0 && std::abs(p[n - 1].risk - risk) < 0.05) return;
    if (n == kHistory) {
      for (int i = 1; i < kHistory / 2; ++i) p[i] = p[2 * i];
      n = kHistory / 2;
    }
    p[n++] = {ts, static_cast<float>(risk)};
  }
  std::vector<RiskPoint> vec() const { return {p.begin(), p.begin() + n}; }
};

struct Account {
  Profile profile;
  History history;
  float own_risk = 0;
  float risk = 0;
  float peak = 0;
  Verdict verdict = Verdict::kOk;
  bool flagged = false;
  FirstFlagged first;
  uint32_t parent;
  uint32_t next;             // circular list of cluster members
  uint32_t size = 1;         // valid at a root
  uint32_t cluster = kNone;  // cluster slot, valid at a root of size >= 2
  Capability last_capability = Capability::kOther;
};

struct Cluster {
  Profile agg;
  History history;
  uint32_t root = kNone;
  float risk = 0;
  Verdict verdict = Verdict::kOk;
  bool flagged = false;
  FirstFlagged first;
  std::array<uint32_t, kLinkKinds> links{};
  // Members' creation times in 12-hour buckets (unknown ones not counted): a
  // creation burst stays visible when aged accounts join the cluster too.
  TopK<8> created_buckets;
  GroupEvidence group;  // members' similarity to the group's capability mix
  void add_similarity(double cos) {
    ++group.joins;
    group.member_similarity += (cos - group.member_similarity) / group.joins;
  }
  void add_created(TimeNs c) {
    if (c != 0) created_buckets.add(static_cast<uint64_t>(c / kCreatedBucket));
  }
  // Members created within a bucket of `c` (guaranteed counts).
  uint32_t created_near(TimeNs c) const {
    const int64_t b = c / kCreatedBucket;
    uint32_t k = 0;
    for (int i = 0; i < 8; ++i)
      if (created_buckets.count[i] &&
          std::llabs(static_cast<int64_t>(created_buckets.key[i]) - b) <= 1)
        k += created_buckets.guaranteed(i);
    return k;
  }
};

struct Slot {
  uint64_t key = 0;
  std::array<uint32_t, kSlotMembers> members{};
  uint32_t count = 0;  // accounts ever registered under this key
  // Template keys: capability areas of the prompts the key framed, from each
  // account's first kWrapperSamples uses (so no one account dominates);
  // halved when full.
  std::array<uint16_t, kCapabilityCount> cap{};
  void add_capability(Capability c) {
    if (++cap[static_cast<size_t>(c)] == UINT16_MAX)
      for (auto& x : cap) x /= 2;
  }
  // An instruction wrapper rather than a dataset's own phrasing: the content it
  // frames varies in kind across the accounts using it (>= kWrapperMinUses
  // prompts; areas other than "other" spread, normalised entropy >=
  // kWrapperSpread, none above kWrapperTopArea of them).
  bool frames_varied_content() const {
    uint32_t total = 0, top = 0;
    std::array<uint32_t, kCapabilityCount - 1> h{};
    for (int c = 0, j = 0; c < kCapabilityCount; ++c) {
      if (c == static_cast<int>(Capability::kOther)) continue;
      h[j++] = cap[c];
      total += cap[c];
      top = std::max<uint32_t>(top, cap[c]);
    }
    return total >= kWrapperMinUses && top <= kWrapperTopArea * total &&
           normalized_entropy(h) >= kWrapperSpread;
  }
};
static_assert(sizeof(Slot) == 64, "link index slot: one cache line");

}  // namespace

const char* link_kind_name(int i) { return i >= 0 && i < kLinkKinds ? kLinkNames[i] : "link"; }

struct Engine::Impl {
  EngineConfig cfg;
  std::vector<Account> accounts;
  std::vector<std::string> names;
  std::vector<uint32_t> table;  // open addressing: account index or kNone
  std::vector<uint64_t> table_hash;
  std::vector<Cluster> clusters;
  std::vector<uint32_t> free_clusters;
  std::vector<Slot> slots;
  std::vector<LinkEdge> edges;
  bool united = false;  // a union happened while indexing the current record

  explicit Impl(const EngineConfig& c) : cfg(c) {
    table.assign(1024, kNone);
    table_hash.assign(1024, 0);
    if (cfg.clustering) slots.resize(size_t{1} << cfg.link_slots_log2);
  }

  uint32_t find_index(std::string_view name, uint64_t h) const {
    size_t mask = table.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      uint32_t v = table[i];
      if (v == kNone) return kNone;
      if (table_hash[i] == h && names[v] == name) return v;
    }
  }

  void grow() {
    std::vector<uint32_t> t(table.size() * 2, kNone);
    std::vector<uint64_t> th(t.size(), 0);
    size_t mask = t.size() - 1;
    for (size_t i = 0; i < table.size(); ++i) {
      if (table[i] == kNone) continue;
      size_t j = table_hash[i] & mask;
      while (t[j] != kNone) j = (j + 1) & mask;
      t[j] = table[i];
      th[j] = table_hash[i];
    }
    table.swap(t);
    table_hash.swap(th);
  }

  uint32_t intern(std::string_view name) {
    uint64_t h = hash64(name, 0x5eed);
    uint32_t v = find_index(name, h);
    if (v != kNone) return v;
    if ((accounts.size() + 1) * 4 > table.size() * 3) grow();
    v = static_cast<uint32_t>(accounts.size());
    accounts.emplace_back();
    accounts.back().parent = v;
    accounts.back().next = v;
    names.emplace_back(name);
    size_t mask = table.size() - 1;
    size_t i = h & mask;
    while (table[i] != kNone) i = (i + 1) & mask;
    table[i] = v;
    table_hash[i] = h;
    return v;
  }

  uint32_t find(uint32_t a) {
    while (accounts[a].parent != a) {
      accounts[a].parent = accounts[accounts[a].parent].parent;
      a = accounts[a].parent;
    }
    return a;
  }
  uint32_t find_const(uint32_t a) const {
    while (accounts[a].parent != a) a = accounts[a].parent;
    return a;
  }

  // --- linking

  // A template the account relies on: used at least twice and on >= 1/6 of
  // its prompts, or on every prompt of a brand-new account (so a new member
  // of a known ring links on its first exchange). Relaxing this to "one use
  // among a new account's first four" linked consumers that happened to ask
  // one dataset item into hydra rings (held-out FPR 0.9-1.4 %), so it stays strict.
  static bool established(const TopK<6>& t, uint64_t key, uint32_t n) {
    uint32_t c = t.count_of(key);
    return (c >= 2 && c * 6 >= n) || (n <= 2 && c == n && c >= 1);
  }

  size_t slot_index(uint64_t key) const {
    return (key * 0x9e3779b97f4a7c15ULL) >> (64 - cfg.link_slots_log2);
  }
  Slot& slot_for(uint64_t key) { return slots[slot_index(key)]; }
  // The slot holding `key`, or null (evicted, or clustering off).
  const Slot* slot_of(uint64_t key) const {
    if (slots.empty()) return nullptr;
    const Slot& s = slots[slot_index(key)];
    return s.key == key ? &s : nullptr;
  }

  uint32_t popularity(uint64_t key) const {
    const Slot* s = slot_of(key);
    return s ? s->count : 0;
  }

  // Instruction wrappers two accounts share: template keys that frame varied
  // content across all the accounts using them (Slot::frames_varied_content),
  // put by b on a steady share of its prompts (reused, Profile::reused_keys:
  // >= 2 uses and >= 1/kWrapperSteadyShare) and used by a either repeatedly
  // (reused, whatever the share: a reseller's extraction half can be a small
  // part of its traffic) or once while one use is that share (a young account,
  // <= kWrapperSteadyShare prompts: its first uses are in `prefixes` and
  // `suffixes`, which its own traffic has not churned yet). One script
  // rotating its wrappers over several accounts shares several; a dataset's
  // own phrasing frames one kind of content, and customers who phrase one
  // request alike share at most one, rarely.
  int shared_wrappers(const Profile& pa, const Profile& pb) const {
    auto shared = [&](uint64_t key) {
      const uint32_t cb = pb.reused_uses(key);
      if (cb < 2 || cb * kWrapperSteadyShare < pb.n) return 0;
      const Slot* s = slot_of(key);
      return s && s->frames_varied_content() ? 1 : 0;
    };
    int k = 0;
    for (int i = 0; i < 4; ++i)
      if (pa.reused_keys.count[i] && pa.reused_keys.guaranteed(i) >= 2)
        k += shared(pa.reused_keys.key[i]);
    if (pa.n <= kWrapperSteadyShare) {
      auto first_uses = [&](const TopK<6>& t, uint64_t salt) {
        for (int i = 0; i < 6; ++i) {
          if (!t.count[i]) continue;
          const uint64_t key = t.key[i] ^ salt;
          if (pa.reused_uses(key) < 2) k += shared(key);  // else counted above
        }
      };
      first_uses(pa.prefixes, kPrefixKeySalt);
      first_uses(pa.suffixes, kSuffixKeySalt);
    }
    return k;
  }

  static double capability_cosine(const Profile& a, const Profile& b) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < kCapabilityCount; ++i) {
      ab += double(a.cap[i]) * b.cap[i];
      aa += double(a.cap[i]) * a.cap[i];
      bb += double(b.cap[i]) * b.cap[i];
    }
    return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 1.0;
  }

  // Evidence that accounts a and b are run by one actor: (score, kinds).
  std::pair<double, uint8_t> link_score(uint32_t a, uint32_t b) const {
    const Profile& pa = accounts[a].profile;
    const Profile& pb = accounts[b].profile;
    double s = 0;
    uint8_t kinds = 0;
    bool tmpl = false;
    // A new account (<= 4 exchanges) that used a ring's own wrapper once links
    // to it even after an untemplated start, when that wrapper carries >= 10 %
    // of the ring's prompts (guaranteed count, ring of >= 5): the actor's
    // boilerplate, not an opening that one dataset's items share.
    const Profile* ring = nullptr;
    if (pa.n <= 4) {
      uint32_t rb = find_const(b);
      if (accounts[rb].cluster != kNone && accounts[rb].size >= 5)
        ring = &clusters[accounts[rb].cluster].agg;
    }
    auto ring_wrapper = [&](const TopK<6>& mine, const TopK<6>& theirs, uint64_t k) {
      if (!ring || mine.count_of(k) == 0) return false;
      for (int j = 0; j < 6; ++j)
        if (theirs.count[j] && theirs.key[j] == k) return theirs.guaranteed(j) * 10 >= ring->n;
      return false;
    };
    for (int i = 0; i < 6 && !tmpl; ++i) {
      uint64_t k = pa.prefixes.key[i];
      if (pa.prefixes.count[i] && established(pb.prefixes, k, pb.n) &&
          (established(pa.prefixes, k, pa.n) ||
           (ring && ring_wrapper(pa.prefixes, ring->prefixes, k))))
        tmpl = true;
      k = pa.suffixes.key[i];
      if (pa.suffixes.count[i] && established(pb.suffixes, k, pb.n) &&
          (established(pa.suffixes, k, pa.n) ||
           (ring && ring_wrapper(pa.suffixes, ring->suffixes, k))))
        tmpl = true;
    }
    const int wrappers = shared_wrappers(pa, pb);
    if (wrappers >= 2) {
      s += kWrapperSetLink;
      kinds |= kLinkTemplate;
    } else if (tmpl || wrappers == 1) {
      s += 0.5;
      kinds |= kLinkTemplate;
    }
    if (pa.block_top.max_count() && pb.block_top.count_of(pa.block_top.top_key())) {
      s += 0.3;
      kinds |= kLinkAddressBlock;
    }
    // A client fingerprint is evidence only when rare (not a popular SDK's).
    if (pa.fp_top.max_count() && pa.fp_top.top_key() == pb.fp_top.top_key() &&
        popularity(pa.fp_top.top_key() ^ 0x14) <= 8) {
      s += 0.15;
      kinds |= kLinkFingerprint;
    }
    if (pa.created && pb.created && std::llabs(pa.created - pb.created) <= 2 * 3600 * kNsPerSec) {
      s += 0.25;
      kinds |= kLinkCreationBurst;
    }
    if (!(kinds & kLinkCreationBurst) && pa.created) {
      // A new account (<= 4 exchanges) created inside a creation burst of b's
      // cluster: five or more of its members opened within a day or so of
      // it (whatever the creation times of its other members). Only while
      // it is new: an established account that later shares a template
      // with the ring (a benchmark run asking the ring's dataset items) is
      // not recruited on its creation date.
      uint32_t rb = find_const(b);
      if (pa.n <= 4 && accounts[rb].cluster != kNone) {
        const Cluster& cb = clusters[accounts[rb].cluster];
        if (accounts[rb].size >= 5 && cb.created_near(pa.created) >= 5) {
          s += 0.25;
          kinds |= kLinkCreationBurst;
        }
      }
    }
    if (pa.n >= 4 && pb.n >= 4 && pa.activity.jaccard(pb.activity) >= 0.5) {
      s += 0.2;
      kinds |= kLinkSyncTiming;
    }
    if (pa.system_top.max_count() >= 2 && pb.system_top.max_count() >= 2 &&
        pa.system_top.top_key() == pb.system_top.top_key()) {
      s += 0.2;
      kinds |= kLinkSystemPrompt;
    }
    // Accounts run by one actor ask for the same mix of things, with the same
    // request shape (a client that always sends a system prompt is not the
    // one that never does).
    if (pa.n >= 5 && pb.n >= 5 && capability_cosine(pa, pb) < 0.5) return {0.0, 0};
    if (pa.n >= 3 && pb.n >= 3 &&
        std::abs(static_cast<double>(pa.with_system) / pa.n -
                 static_cast<double>(pb.with_system) / pb.n) > 0.8)
      return {0.0, 0};
    // An application's own (long) system prompt on nearly every request is
    // not what a client without one sends, from the first exchange on.
    if (std::abs(static_cast<double>(pa.app_system) / pa.n -
                 static_cast<double>(pb.app_system) / pb.n) > 0.8)
      return {0.0, 0};
    return {s, kinds};
  }

  uint32_t new_cluster() {
    if (!free_clusters.empty()) {
      uint32_t c = free_clusters.back();
      free_clusters.pop_back();
      clusters[c] = Cluster{};
      return c;
    }
    clusters.emplace_back();
    return static_cast<uint32_t>(clusters.size() - 1);
  }

  // Joins the clusters of a and b. Returns the cluster slot of the result.
  uint32_t unite(uint32_t a, uint32_t b, uint8_t kinds, TimeNs now) {
    uint32_t ra = find(a), rb = find(b);
    if (ra == rb) return accounts[ra].cluster;
    if (accounts[ra].size < accounts[rb].size) std::swap(ra, rb);
    Account& A = accounts[ra];
    Account& B = accounts[rb];
    uint32_t ca = A.cluster;
    if (ca == kNone) {
      ca = new_cluster();
      clusters[ca].agg = A.profile;
      clusters[ca].root = ra;
      clusters[ca].risk = A.own_risk;
      clusters[ca].add_created(A.profile.created);
      A.cluster = ca;
    }
    Cluster& C = clusters[ca];
    // Split-source evidence: how alike the joining side's capability mix is
    // to the group's (measured once a side has a few exchanges).
    const Profile& joining = B.cluster != kNone ? clusters[B.cluster].agg : B.profile;
    if (joining.n >= kSimilarityMinExchanges && C.agg.n >= kSimilarityMinExchanges)
      C.add_similarity(capability_cosine(joining, C.agg));
    if (B.cluster != kNone) {
      Cluster& D = clusters[B.cluster];
      if (D.group.joins) {
        uint32_t j = C.group.joins + D.group.joins;
        C.group.member_similarity = (C.group.member_similarity * C.group.joins +
                                     D.group.member_similarity * D.group.joins) /
                                    j;
        C.group.joins = j;
      }
      C.group.links += D.group.links;
      C.group.block_links += D.group.block_links;
      C.agg.merge(D.agg);
      C.created_buckets.merge(D.created_buckets);
      for (int i = 0; i < kLinkKinds; ++i) C.links[i] += D.links[i];
      if (D.flagged && (!C.flagged || D.first.ts < C.first.ts)) {
        C.flagged = true;
        C.first = D.first;
      }
      free_clusters.push_back(B.cluster);
      B.cluster = kNone;
    } else {
      C.agg.merge(B.profile);
      C.add_created(B.profile.created);
    }
    for (int i = 0; i < kLinkKinds; ++i) C.links[i] += (kinds >> i) & 1;
    C.group.links += 1;
    C.group.block_links += (kinds & kLinkAddressBlock) ? 1 : 0;
    B.parent = ra;
    A.size += B.size;
    std::swap(A.next, B.next);  // splice the circular member lists
    if (edges.size() < kMaxEdges) edges.push_back({a, b, kinds});
    united = true;
    (void)now;
    return ca;
  }

  // `framed`: for a template key, the capability area of the prompt it framed.
  void register_key(uint32_t a, uint64_t key, TimeNs now, std::optional<Capability> framed = {}) {
    if (!cfg.clustering || key == 0) return;
    Slot& s = slot_for(key);
    if (s.key != key) {
      s = Slot{};
      s.key = key;
    }
    if (framed) s.add_capability(*framed);
    bool present = false;
    uint32_t filled = std::min<uint32_t>(s.count, kSlotMembers);
    for (uint32_t i = 0; i < filled; ++i) {
      uint32_t b = s.members[i];
      if (b == a) {
        present = true;
        continue;
      }
      uint32_t ra = find(a), rb = find(b);
      if (ra == rb) continue;
      auto [score, kinds] = link_score(a, b);
      // Guard: joining two groups that are already sizeable needs template
      // evidence, so shared infrastructure alone cannot glue crowds together.
      bool big = accounts[ra].size >= 3 && accounts[rb].size >= 3;
      if (score >= cfg.link_threshold && (!big || (kinds & kLinkTemplate))) unite(a, b, kinds, now);
    }
    if (!present) {
      s.members[s.count % kSlotMembers] = a;
      ++s.count;
    }
  }

  // The `uses`-th use of template key `key` by account a (1: a first
  // sighting, as far as Profile::reused_keys remembers): registered (links
  // checked) on uses 1, 2, 4 and 8, as the account's reuse builds up.
  void frame_key(uint32_t a, uint64_t key, uint32_t uses, const RecordFeatures& f) {
    if (uses == 1 || uses == 2 || uses == 4 || uses == 8) {
      register_key(a, key, f.ts, f.capability);
    } else if (uses <= kWrapperSamples && !slots.empty()) {
      Slot& s = slot_for(key);
      if (s.key == key) s.add_capability(f.capability);
    }
  }

  void index_keys(uint32_t a, const RecordFeatures& f) {
    const Profile& p = accounts[a].profile;
    // Template keys: what they frame is sampled on an account's first
    // kWrapperSamples uses.
    if (f.tmpl.prefix) {
      const uint64_t key = f.tmpl.prefix ^ kPrefixKeySalt;
      frame_key(a, key, std::max<uint32_t>(1, p.reused_uses(key)), f);
    }
    if (f.tmpl.suffix) {
      const uint64_t key = f.tmpl.suffix ^ kSuffixKeySalt;
      frame_key(a, key, std::max<uint32_t>(1, p.reused_uses(key)), f);
    }
    if (f.ip_block && p.block_top.count_of(f.ip_block) == 1)
      register_key(a, f.ip_block ^ 0x13, f.ts);
    if (f.fingerprint && p.fp_top.count_of(f.fingerprint) == 1)
      register_key(a, f.fingerprint ^ 0x14, f.ts);
    if (f.system_hash && p.system_top.count_of(f.system_hash) == 2)
      register_key(a, f.system_hash ^ 0x15, f.ts);
    if (p.n == 1 && f.account_created)
      register_key(
          a,
          (static_cast<uint64_t>(f.account_created / (3600 * kNsPerSec)) * 0x9e3779b97f4a7c15ULL) |
              1,
          f.ts);
    // Re-check links once the account has enough history for templates and timing.
    if (p.n == 4 || p.n == 16) {
      if (p.block_top.max_count()) register_key(a, p.block_top.top_key() ^ 0x13, f.ts);
      if (p.fp_top.max_count()) register_key(a, p.fp_top.top_key() ^ 0x14, f.ts);
    }
  }

  void flag_account(Account& acc, TimeNs ts, uint32_t exchange) {
    if (acc.flagged) return;
    acc.flagged = true;
    acc.first = {ts, std::max<uint32_t>(1, exchange)};
    acc.verdict = Verdict::kAttack;
  }
};

Engine::Engine(EngineConfig config, const CapabilityClassifier& classifier)
    : config_(config), classifier_(classifier), impl_(new Impl(config)) {}

Engine::~Engine() { delete impl_; }

Assessment Engine::observe(const ExchangeRecord& r) {
  RecordFeatures f = extract_features(r, classifier_, scratch_);
  return observe(r.account, f);
}

Assessment Engine::observe(std::string_view name, const RecordFeatures& f) {
  Impl& m = *impl_;
  uint32_t a = m.intern(name);
  m.accounts[a].profile.add(f);
  m.accounts[a].last_capability = f.capability;
  m.united = false;
  m.index_keys(a, f);

  Account& acc = m.accounts[a];
  auto checkpoint = [](uint32_t n) {
    return n == 5 || n == 10 || n == 20 || n == 50 || n == 100 || n == 200 || n == 500 ||
           n == 1000 || n == 2000 || n == 5000;
  };
  SignalValues own_sig = compute_signals(acc.profile);
  if (tap_ && checkpoint(acc.profile.n)) tap_(tap_ctx_, name, false, acc.profile.n, 1, own_sig);
  double own = risk_score(own_sig);
  acc.own_risk = static_cast<float>(own);
  uint32_t root = m.find(a);
  Account& r = m.accounts[root];
  double cluster_risk = 0;
  uint32_t size = r.size;
  Verdict cluster_verdict = Verdict::kOk;
  if (r.cluster != kNone) {
    Cluster& c = m.clusters[r.cluster];
    // When the account was merged in on this very exchange, its profile (copied
    // into the aggregate) already holds the record.
    if (!m.united) c.agg.add(f);
    if (!m.united && acc.profile.n == kSimilarityMinExchanges)
      c.add_similarity(Impl::capability_cosine(acc.profile, c.agg));
    SignalValues cs = compute_signals(c.agg, r.size, &c.group);
    if (tap_ && checkpoint(c.agg.n)) tap_(tap_ctx_, m.names[root], true, c.agg.n, r.size, cs);
    cluster_risk = risk_score(cs);
    c.risk = static_cast<float>(cluster_risk);
    c.history.add(f.ts, cluster_risk);
    Verdict cv = verdict_for(cluster_risk, config_.thresholds);
    if (c.flagged) cv = Verdict::kAttack;
    c.verdict = cv;
    cluster_verdict = cv;
    bool newly = false;
    if (cv == Verdict::kAttack && !c.flagged) {
      c.flagged = true;
      c.first = {f.ts, c.agg.n};
      newly = true;
    }
    if (c.flagged && (newly || m.united)) {
      // Everyone in the cluster carries the cluster's moment.
      uint32_t i = root;
      do {
        Account& member = m.accounts[i];
        if (!member.flagged) m.flag_account(member, f.ts, member.profile.n);
        i = member.next;
      } while (i != root);
    }
  }
  double eff = std::max(own, cluster_risk);
  acc.risk = static_cast<float>(eff);
  acc.history.add(f.ts, eff);
  Verdict v = verdict_for(eff, config_.thresholds);
  if (v == Verdict::kAttack) m.flag_account(acc, f.ts, acc.profile.n);
  if (acc.flagged) {
    v = Verdict::kAttack;
    acc.peak = std::max(acc.peak, static_cast<float>(eff));
  }
  acc.verdict = v;
  return {a, eff, own, cluster_risk, v, size, root, cluster_verdict, f.capability};
}

size_t Engine::account_count() const { return impl_->accounts.size(); }

const std::string& Engine::account_name(uint32_t index) const { return impl_->names.at(index); }

std::optional<Assessment> Engine::lookup(std::string_view account) const {
  uint32_t a = impl_->find_index(account, hash64(account, 0x5eed));
  if (a == kNone) return std::nullopt;
  const Account& acc = impl_->accounts[a];
  uint32_t root = impl_->find_const(a);
  const Account& r = impl_->accounts[root];
  double cr = r.cluster != kNone ? impl_->clusters[r.cluster].risk : 0.0;
  Verdict cv = r.cluster != kNone ? impl_->clusters[r.cluster].verdict : Verdict::kOk;
  return Assessment{a,    acc.risk, acc.own_risk,       cr, acc.verdict, r.size,
                    root, cv,       acc.last_capability};
}

EngineReport Engine::report() const {
  const Impl& m = *impl_;
  EngineReport out;
  // Cluster ids in order of their lowest account index (deterministic).
  std::vector<std::string> cluster_id_of_root(m.accounts.size());
  std::vector<uint32_t> roots;
  for (uint32_t i = 0; i < m.accounts.size(); ++i) {
    uint32_t r = m.find_const(i);
    if (m.accounts[r].size >= 2 && cluster_id_of_root[r].empty()) {
      cluster_id_of_root[r] = fmt::format("c{}", roots.size() + 1);
      roots.push_back(r);
    }
  }
  out.accounts.reserve(m.accounts.size());
  for (uint32_t i = 0; i < m.accounts.size(); ++i) {
    const Account& acc = m.accounts[i];
    AccountReport ar;
    ar.account = m.names[i];
    ar.verdict = acc.verdict;
    ar.risk = acc.flagged ? std::max(acc.risk, acc.peak) : acc.risk;
    uint32_t r = m.find_const(i);
    ar.cluster = cluster_id_of_root[r];
    ar.exchanges = acc.profile.n;
    if (acc.flagged) ar.first_flagged = acc.first;
    auto sig = compute_signals(acc.profile);
    ar.reasons = explain(acc.profile, sig);
    if (!ar.cluster.empty()) {
      const Cluster& c = m.clusters[m.accounts[r].cluster];
      if (c.risk > acc.own_risk) {
        ar.reasons.insert(ar.reasons.begin(),
                          Reason{"cluster_risk", c.risk, 0.0,
                                 fmt::format("member of cluster {} ({} accounts) with risk {:.2f}",
                                             ar.cluster, m.accounts[r].size, c.risk)});
      }
    }
    ar.capabilities = acc.profile.cap;
    ar.history = acc.history.vec();
    out.accounts.push_back(std::move(ar));
  }
  for (size_t k = 0; k < roots.size(); ++k) {
    uint32_t r = roots[k];
    const Account& ra = m.accounts[r];
    const Cluster& c = m.clusters[ra.cluster];
    ClusterReport cr;
    cr.id = cluster_id_of_root[r];
    uint32_t i = r;
    do {
      cr.accounts.push_back(m.names[i]);
      i = m.accounts[i].next;
    } while (i != r);
    std::sort(cr.accounts.begin(), cr.accounts.end());
    cr.risk = c.flagged ? std::max<double>(c.risk, c.history.n ? c.risk : 0) : c.risk;
    cr.verdict = c.verdict;
    if (c.flagged) cr.first_flagged = c.first;
    auto sig = compute_signals(c.agg, ra.size, &c.group);
    cr.reasons = explain(c.agg, sig, ra.size, &c.group);
    for (int kind = 0; kind < kLinkKinds; ++kind) {
      if (c.links[kind] == 0) continue;
      cr.reasons.push_back({kLinkNames[kind], static_cast<double>(c.links[kind]), 0.0,
                            fmt::format("{} account links with this evidence", c.links[kind])});
    }
    cr.links = c.links;
    cr.capabilities = c.agg.cap;
    cr.history = c.history.vec();
    out.clusters.push_back(std::move(cr));
  }
  out.edges = m.edges;
  return out;
}

size_t Engine::memory_bytes() const {
  const Impl& m = *impl_;
  size_t b = m.accounts.capacity() * sizeof(Account) + m.table.capacity() * 12 +
             m.clusters.capacity() * sizeof(Cluster) + m.slots.capacity() * sizeof(Slot) +
             m.edges.capacity() * sizeof(LinkEdge);
  for (const auto& n : m.names) b += sizeof(std::string) + (n.size() > 15 ? n.capacity() : 0);
  return b;
}

}  // namespace dg::engine
