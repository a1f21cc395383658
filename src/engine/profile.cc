#include "engine/profile.h"

#include <algorithm>

namespace dg::engine {

void Profile::add(const RecordFeatures& f) {
  if (n == 0) {
    first_ts = f.ts;
  } else {
    double g = static_cast<double>(std::max<TimeNs>(0, f.ts - last_ts)) / kNsPerSec;
    gap.add(g);
    bursts += g < 2.0;
  }
  last_ts = std::max(last_ts, f.ts);
  ++n;
  if (f.account_created && (created == 0 || f.account_created < created))
    created = f.account_created;
  int64_t secs = f.ts / kNsPerSec;
  hour[static_cast<size_t>(((secs / 3600) % 24 + 24) % 24)]++;
  days.add(static_cast<uint64_t>(secs / 86400) * 0x9e3779b97f4a7c15ULL + 11);
  activity.add(static_cast<uint64_t>(secs / 600));
  cap[static_cast<size_t>(f.capability)]++;
  temp0 += f.temp0;
  multi_sample += f.multi_sample;
  logprobs += f.logprobs;
  with_system += f.has_system;
  multi_turn += f.multi_turn;
  tools += f.has_tools;
  cot += f.cot;
  rubric += f.rubric;
  benchmark += f.benchmark;
  prompt_tokens += f.prompt_tokens;
  completion_tokens += f.completion_tokens;
  app_system += f.app_system;
  if (!f.multi_turn && !f.has_system) {
    ++bare;
    bare_cap[static_cast<size_t>(f.capability)]++;
  }
  prompts.add(f.prompt_hash);
  templates.add(f.tmpl.whole);
  const uint32_t ph = static_cast<uint32_t>(f.prompt_hash >> 32) | 1;
  bool repeat = std::find(recent_prompts.begin(), recent_prompts.end(), ph) != recent_prompts.end();
  if (!repeat) {
    recent_prompts[recent_next] = ph;
    recent_next = static_cast<uint8_t>((recent_next + 1) % recent_prompts.size());
  }
  bool reused = !repeat && ((f.tmpl.prefix && prefixes.count_of(f.tmpl.prefix)) ||
                            (f.tmpl.suffix && suffixes.count_of(f.tmpl.suffix)));
  rewrapped += reused;
  bare_rewrapped += reused && !f.multi_turn && !f.has_system;
  if (f.tmpl.prefix) prefixes.add(f.tmpl.prefix);
  if (f.tmpl.suffix) suffixes.add(f.tmpl.suffix);
  auto sight = [this](uint64_t key) {
    if (reused_keys.count_of(key)) {
      reused_keys.add(key);
      return;
    }
    const uint16_t h = static_cast<uint16_t>((key * 0x9e3779b97f4a7c15ULL) >> 48) | 1;
    auto it = std::find(seen_once.begin(), seen_once.end(), h);
    if (it != seen_once.end()) {
      *it = 0;
      reused_keys.add(key, 2);
      return;
    }
    seen_once[seen_once_next] = h;
    seen_once_next = static_cast<uint8_t>((seen_once_next + 1) % seen_once.size());
  };
  if (f.tmpl.prefix) sight(f.tmpl.prefix ^ kPrefixKeySalt);
  if (f.tmpl.suffix) sight(f.tmpl.suffix ^ kSuffixKeySalt);
  if (f.system_hash) {
    systems.add(f.system_hash);
    system_top.add(f.system_hash);
  }
  if (f.model_hash) {
    models.add(f.model_hash);
    model_top.add(f.model_hash);
  }
  if (f.ip_hash) {
    ips.add(f.ip_hash);
    blocks.add(f.ip_block);
    block_top.add(f.ip_block);
  }
  if (f.fingerprint) fp_top.add(f.fingerprint);
}

void Profile::merge(const Profile& o) {
  if (o.n == 0) return;
  if (n == 0) {
    *this = o;
    return;
  }
  first_ts = std::min(first_ts, o.first_ts);
  last_ts = std::max(last_ts, o.last_ts);
  n += o.n;
  if (o.created && (created == 0 || o.created < created)) created = o.created;
  gap.merge(o.gap);
  bursts += o.bursts;
  for (size_t i = 0; i < hour.size(); ++i) hour[i] += o.hour[i];
  for (size_t i = 0; i < cap.size(); ++i) cap[i] += o.cap[i];
  temp0 += o.temp0;
  multi_sample += o.multi_sample;
  logprobs += o.logprobs;
  with_system += o.with_system;
  multi_turn += o.multi_turn;
  tools += o.tools;
  cot += o.cot;
  rubric += o.rubric;
  benchmark += o.benchmark;
  prompt_tokens += o.prompt_tokens;
  completion_tokens += o.completion_tokens;
  app_system += o.app_system;
  bare += o.bare;
  for (size_t i = 0; i < bare_cap.size(); ++i) bare_cap[i] += o.bare_cap[i];
  rewrapped += o.rewrapped;
  bare_rewrapped += o.bare_rewrapped;
  prompts.merge(o.prompts);
  templates.merge(o.templates);
  days.merge(o.days);
  ips.merge(o.ips);
  blocks.merge(o.blocks);
  systems.merge(o.systems);
  models.merge(o.models);
  prefixes.merge(o.prefixes);
  suffixes.merge(o.suffixes);
  reused_keys.merge(o.reused_keys);
  system_top.merge(o.system_top);
  block_top.merge(o.block_top);
  fp_top.merge(o.fp_top);
  model_top.merge(o.model_top);
  activity.merge(o.activity);
}

uint32_t Profile::reused_uses(uint64_t key) const {
  for (int i = 0; i < 4; ++i)
    if (reused_keys.count[i] && reused_keys.key[i] == key) return reused_keys.guaranteed(i);
  return 0;
}

double Profile::template_share() const {
  if (n == 0) return 0;
  return static_cast<double>(std::max(prefixes.max_count(), suffixes.max_count())) / n;
}

double Profile::top2_template_share() const {
  if (n == 0) return 0;
  // Guaranteed counts: many one-off openings (a chat user's) churn the
  // top-k and inflate inherited counts; they must not look like formats.
  auto top2 = [](const TopK<6>& t) {
    uint32_t a = 0, b = 0;
    for (int i = 0; i < 6; ++i) {
      uint32_t c = t.guaranteed(i);
      if (c > a) {
        b = a;
        a = c;
      } else if (c > b)
        b = c;
    }
    return a + b;
  };
  return std::min(1.0, static_cast<double>(std::max(top2(prefixes), top2(suffixes))) / n);
}

double Profile::wrapper_rotation() const {
  if (bare == 0 || bare_rewrapped == 0) return 0;
  double reused = static_cast<double>(bare_rewrapped) / bare;
  // Less what the two most used formats carry: one or two fixed formats are a
  // pipeline (an application, a judge harness), not rotation.
  double top = std::max(0.0, top2_template_share() - 2.0 / n);
  return std::clamp(reused - top, 0.0, 1.0);
}

}  // namespace dg::engine
