// A small neural student for the provenance proof: a word-level causal transformer (pre-LN,
// learned absolute positions, tied input/output embeddings) trained with libtorch on this CPU,
// then sampled to produce the text `distillguard verify` is run on.
//
// Tokenisation lives in Python (bench/provenance/neural_students.py): this program reads and
// writes little-endian int32 token ids; id 0 is the document separator (EOS).
//
//   neural_student train --train T.bin --valid V.bin --vocab-size N --model DIR [--init BASE] [--d
//   128 ...]
//       prints "step S loss L" lines and a final "valid_loss L ppl P tokens N seconds S" line;
//       writes DIR/model.pt and DIR/model.cfg (the hyper-parameters); with --save-every K also a
//       checkpoint DIR/step-S/ (model.pt, model.cfg) every K steps, so a run cut short can still be
//       sampled.
//   neural_student generate --model DIR --tokens N --out G.bin [--batch 64 --temperature 1 --seed
//   1]
//       samples N tokens in total from `batch` independent streams (each starts at EOS and runs
//       on across document ends); a stream's context is the last `ctx` tokens: when it is full,
//       the key/value cache is rebuilt from the newest ctx/2 tokens. Writes the streams one
//       after another, each followed by an EOS.
//   neural_student serve --model DIR [--seed 1 --temperature 1]
//       reads one integer per stdin line (max tokens), answers one line of space-separated ids
//       of one sampled document (stops at EOS or the limit). For student_server.py.
//
// Deterministic for a given seed and thread count (single process, CPU, fixed --threads).
// Bench code, not product code: errors throw and end the process with a message.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Config {
  int64_t vocab = 0;
  int64_t d = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t ctx = 64;
};

void save_config(const Config& c, const std::string& path) {
  std::ofstream f(path);
  f << "vocab " << c.vocab << "\nd " << c.d << "\nlayers " << c.layers << "\nheads " << c.heads
    << "\nctx " << c.ctx << "\n";
}

Config load_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::map<std::string, int64_t> kv;
  std::string k;
  int64_t v;
  while (f >> k >> v) kv[k] = v;
  Config c;
  c.vocab = kv.at("vocab");
  c.d = kv.at("d");
  c.layers = kv.at("layers");
  c.heads = kv.at("heads");
  c.ctx = kv.at("ctx");
  return c;
}

std::vector<int32_t> read_ids(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot read " + path);
  auto n = static_cast<size_t>(f.tellg()) / sizeof(int32_t);
  std::vector<int32_t> out(n);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n * sizeof(int32_t)));
  return out;
}

// One pre-LN transformer block. The key/value cache (for generation) is owned by the caller.
struct BlockImpl : torch::nn::Module {
  BlockImpl(int64_t d, int64_t heads) : heads_(heads), dh_(d / heads) {
    ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    qkv_ = register_module("qkv", torch::nn::Linear(d, 3 * d));
    proj_ = register_module("proj", torch::nn::Linear(d, d));
    fc1_ = register_module("fc1", torch::nn::Linear(d, 4 * d));
    fc2_ = register_module("fc2", torch::nn::Linear(4 * d, d));
  }

  // x: [B, T, d] at positions start..start+T-1. If k_cache/v_cache are defined ([B, h, ctx, dh]),
  // the new keys/values are written at those positions and attention covers 0..start+T-1.
  torch::Tensor forward(const torch::Tensor& x, int64_t start, torch::Tensor* k_cache,
                        torch::Tensor* v_cache) {
    auto b = x.size(0), t = x.size(1), d = x.size(2);
    auto qkv = qkv_(ln1_(x)).view({b, t, 3, heads_, dh_}).permute({2, 0, 3, 1, 4});
    auto q = qkv[0], k = qkv[1], v = qkv[2];  // [B, h, T, dh]
    int64_t total = t;
    if (k_cache != nullptr) {
      k_cache->narrow(2, start, t).copy_(k);
      v_cache->narrow(2, start, t).copy_(v);
      total = start + t;
      k = k_cache->narrow(2, 0, total);
      v = v_cache->narrow(2, 0, total);
    }
    auto att = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(dh_));
    if (t > 1) {
      // Query i (absolute start+i) sees keys 0..start+i.
      auto mask = torch::ones({t, total}, torch::kBool).triu(start + 1);
      att = att.masked_fill(mask, -std::numeric_limits<float>::infinity());
    }
    auto y = torch::matmul(torch::softmax(att, -1), v).transpose(1, 2).reshape({b, t, d});
    auto h = x + proj_(y);
    return h + fc2_(torch::gelu(fc1_(ln2_(h))));
  }

  int64_t heads_, dh_;
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(Block);

struct StudentImpl : torch::nn::Module {
  explicit StudentImpl(const Config& c) : cfg_(c) {
    tok_ = register_module("tok", torch::nn::Embedding(c.vocab, c.d));
    pos_ = register_module("pos", torch::nn::Embedding(c.ctx, c.d));
    for (int64_t i = 0; i < c.layers; ++i)
      blocks_.push_back(register_module("block" + std::to_string(i), Block(c.d, c.heads)));
    ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d})));
    torch::NoGradGuard g;
    tok_->weight.normal_(0, 0.02);
    pos_->weight.normal_(0, 0.02);
  }

  // ids: [B, T] (int64) at positions start.. ; caches: per layer (may be empty = no cache).
  torch::Tensor forward(const torch::Tensor& ids, int64_t start, std::vector<torch::Tensor>* kc,
                        std::vector<torch::Tensor>* vc) {
    auto t = ids.size(1);
    auto x = tok_(ids) + pos_(torch::arange(start, start + t, torch::kLong));
    for (size_t i = 0; i < blocks_.size(); ++i)
      x = blocks_[i]->forward(x, start, kc ? &(*kc)[i] : nullptr, vc ? &(*vc)[i] : nullptr);
    return torch::matmul(ln_f_(x), tok_->weight.t());  // tied output embedding
  }

  Config cfg_;
  torch::nn::Embedding tok_{nullptr}, pos_{nullptr};
  std::vector<Block> blocks_;
  torch::nn::LayerNorm ln_f_{nullptr};
};
TORCH_MODULE(Student);

double mean_loss(Student& model, const std::vector<int32_t>& ids, int64_t ctx) {
  torch::NoGradGuard g;
  model->eval();
  double sum = 0;
  int64_t n = 0;
  const int64_t windows = (static_cast<int64_t>(ids.size()) - 1) / ctx;
  const int64_t batch = 64;
  for (int64_t w = 0; w < windows; w += batch) {
    int64_t b = std::min(batch, windows - w);
    auto x = torch::empty({b, ctx}, torch::kLong), y = torch::empty({b, ctx}, torch::kLong);
    auto xa = x.accessor<int64_t, 2>(), ya = y.accessor<int64_t, 2>();
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < ctx; ++j) {
        xa[i][j] = ids[(w + i) * ctx + j];
        ya[i][j] = ids[(w + i) * ctx + j + 1];
      }
    auto logits = model->forward(x, 0, nullptr, nullptr);
    auto loss = torch::nn::functional::cross_entropy(
        logits.view({-1, logits.size(-1)}), y.view({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    sum += loss.item<double>();
    n += b * ctx;
  }
  model->train();
  return n ? sum / static_cast<double>(n) : std::nan("");
}

int train(const std::string& train_path, const std::string& valid_path, Config cfg,
          const std::string& init, const std::string& dir, int64_t steps, int64_t batch, double lr,
          uint64_t seed, int64_t save_every) {
  torch::manual_seed(seed);
  auto ids = read_ids(train_path);
  auto valid = read_ids(valid_path);
  if (static_cast<int64_t>(ids.size()) <= cfg.ctx + 1)
    throw std::runtime_error("training set too small");
  if (!init.empty()) cfg = load_config(init + "/model.cfg");  // fine-tune: the base's shape
  Student model(cfg);
  if (!init.empty()) torch::load(model, init + "/model.pt");
  model->train();
  int64_t params = 0;
  for (auto& p : model->parameters()) params += p.numel();
  std::printf("params %lld train_tokens %zu valid_tokens %zu\n", static_cast<long long>(params),
              ids.size(), valid.size());
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& kv : model->named_parameters())
    (kv.value().dim() >= 2 ? decay : no_decay).push_back(kv.value());
  torch::optim::AdamW opt(
      {torch::optim::OptimizerParamGroup(decay), torch::optim::OptimizerParamGroup(no_decay)},
      torch::optim::AdamWOptions(lr).betas({0.9, 0.98}).weight_decay(0.01));
  static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[1].options()).weight_decay(0.0);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> start_dist(0,
                                                    static_cast<int64_t>(ids.size()) - cfg.ctx - 2);
  const int64_t warmup = std::max<int64_t>(1, steps / 20);
  auto t0 = std::chrono::steady_clock::now();
  double ema = 0;
  for (int64_t s = 1; s <= steps; ++s) {
    double f =
        s <= warmup
            ? static_cast<double>(s) / warmup
            : 0.1 + 0.9 * 0.5 *
                        (1 + std::cos(M_PI * (s - warmup) / std::max<int64_t>(1, steps - warmup)));
    for (auto& g : opt.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr * f);
    auto x = torch::empty({batch, cfg.ctx}, torch::kLong),
         y = torch::empty({batch, cfg.ctx}, torch::kLong);
    auto xa = x.accessor<int64_t, 2>(), ya = y.accessor<int64_t, 2>();
    for (int64_t i = 0; i < batch; ++i) {
      int64_t st = start_dist(rng);
      for (int64_t j = 0; j < cfg.ctx; ++j) {
        xa[i][j] = ids[st + j];
        ya[i][j] = ids[st + j + 1];
      }
    }
    auto logits = model->forward(x, 0, nullptr, nullptr);
    auto loss = torch::nn::functional::cross_entropy(logits.view({-1, cfg.vocab}), y.view({-1}));
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    opt.step();
    double l = loss.item<double>();
    ema = s == 1 ? l : 0.98 * ema + 0.02 * l;
    if (s % 50 == 0 || s == steps) {
      double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("step %lld loss %.4f ema %.4f lr %.2e seconds %.1f\n", static_cast<long long>(s),
                  l, ema, lr * f, sec);
      std::fflush(stdout);
    }
    if (save_every > 0 && s % save_every == 0 && s < steps) {
      const std::string ck = dir + "/step-" + std::to_string(s);
      std::filesystem::create_directories(ck);
      torch::save(model, ck + "/model.pt");
      save_config(cfg, ck + "/model.cfg");
    }
  }
  double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double vl = mean_loss(model, valid, cfg.ctx);
  double tl = mean_loss(
      model,
      std::vector<int32_t>(ids.begin(),
                           ids.begin() + std::min<size_t>(ids.size(), valid.size() + cfg.ctx + 1)),
      cfg.ctx);
  std::printf(
      "final train_loss %.4f train_ppl %.2f valid_loss %.4f valid_ppl %.2f steps %lld tokens_seen "
      "%lld seconds %.1f\n",
      tl, std::exp(tl), vl, std::exp(vl), static_cast<long long>(steps),
      static_cast<long long>(steps * batch * cfg.ctx), sec);
  torch::save(model, dir + "/model.pt");
  save_config(cfg, dir + "/model.cfg");
  return 0;
}

Student load(const std::string& dir) {
  Config cfg = load_config(dir + "/model.cfg");
  Student model(cfg);
  torch::load(model, dir + "/model.pt");
  model->eval();
  return model;
}

// Lock-step sampler over `batch` streams with a key/value cache per layer.
class Sampler {
 public:
  Sampler(Student model, int64_t batch, double temperature)
      : m_(std::move(model)), b_(batch), temp_(temperature) {
    const auto& c = m_->cfg_;
    for (int64_t i = 0; i < c.layers; ++i) {
      kc_.push_back(torch::zeros({b_, c.heads, c.ctx, c.d / c.heads}));
      vc_.push_back(torch::zeros({b_, c.heads, c.ctx, c.d / c.heads}));
    }
    hist_.assign(b_, std::vector<int64_t>{0});  // every stream starts after an EOS
    logits_ = m_->forward(torch::zeros({b_, 1}, torch::kLong), 0, &kc_, &vc_).select(1, -1);
    len_ = 1;
  }

  // Samples one token per stream; returns them.
  std::vector<int64_t> step() {
    torch::NoGradGuard g;
    auto probs = torch::softmax(logits_ / temp_, -1);
    auto next = torch::multinomial(probs, 1);  // [B, 1]
    std::vector<int64_t> out(b_);
    auto na = next.accessor<int64_t, 2>();
    for (int64_t i = 0; i < b_; ++i) {
      out[i] = na[i][0];
      hist_[i].push_back(out[i]);
    }
    const int64_t ctx = m_->cfg_.ctx;
    if (len_ == ctx) {  // window full: rebuild the cache from the newest ctx/2 tokens
      int64_t keep = ctx / 2;
      auto ids = torch::empty({b_, keep}, torch::kLong);
      auto ia = ids.accessor<int64_t, 2>();
      for (int64_t i = 0; i < b_; ++i)
        for (int64_t j = 0; j < keep; ++j) ia[i][j] = hist_[i][hist_[i].size() - keep + j];
      logits_ = m_->forward(ids, 0, &kc_, &vc_).select(1, -1);
      len_ = keep;
    } else {
      logits_ = m_->forward(next, len_, &kc_, &vc_).select(1, -1);
      ++len_;
    }
    return out;
  }

  std::vector<std::vector<int64_t>>& history() { return hist_; }

 private:
  Student m_;
  int64_t b_;
  double temp_;
  std::vector<torch::Tensor> kc_, vc_;
  std::vector<std::vector<int64_t>> hist_;
  torch::Tensor logits_;
  int64_t len_ = 0;
};

int generate(const std::string& dir, int64_t tokens, int64_t batch, double temperature,
             uint64_t seed, const std::string& out_path) {
  torch::manual_seed(seed);
  torch::NoGradGuard g;
  auto t0 = std::chrono::steady_clock::now();
  Sampler s(load(dir), batch, temperature);
  const int64_t per_stream = (tokens + batch - 1) / batch;
  for (int64_t i = 0; i < per_stream; ++i) s.step();
  std::ofstream f(out_path, std::ios::binary);
  int64_t written = 0;
  for (auto& h : s.history()) {
    for (size_t j = 1; j < h.size(); ++j) {
      int32_t v = static_cast<int32_t>(h[j]);
      f.write(reinterpret_cast<const char*>(&v), sizeof v);
    }
    int32_t eos = 0;
    f.write(reinterpret_cast<const char*>(&eos), sizeof eos);
    written += static_cast<int64_t>(h.size()) - 1;
  }
  double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("generated %lld tokens in %lld streams, seconds %.1f\n",
              static_cast<long long>(written), static_cast<long long>(batch), sec);
  return 0;
}

int serve(const std::string& dir, double temperature, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard g;
  Student model = load(dir);
  std::string line;
  while (std::getline(std::cin, line)) {
    int64_t limit = std::max<int64_t>(1, std::stoll(line));
    Sampler s(model, 1, temperature);
    std::string out;
    for (int64_t i = 0; i < limit; ++i) {
      int64_t t = s.step()[0];
      if (t == 0) break;
      if (!out.empty()) out += ' ';
      out += std::to_string(t);
    }
    std::cout << out << std::endl;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"small neural student (bench/provenance)"};
  app.require_subcommand(1);
  int threads = 2;
  app.add_option("--threads", threads, "intra-op threads");
  Config cfg;
  std::string train_path, valid_path, dir, out_path, init;
  int64_t steps = 1000, batch = 32, tokens = 100000, gen_batch = 64, save_every = 0;
  double lr = 3e-3, temperature = 1.0;
  uint64_t seed = 1;
  auto* tr = app.add_subcommand("train", "train a student");
  tr->add_option("--train", train_path)->required();
  tr->add_option("--valid", valid_path)->required();
  tr->add_option("--vocab-size", cfg.vocab)->required();
  tr->add_option("--init", init, "start from this model directory (fine-tuning); its shape wins");
  tr->add_option("--model", dir)->required();
  tr->add_option("--d", cfg.d);
  tr->add_option("--layers", cfg.layers);
  tr->add_option("--heads", cfg.heads);
  tr->add_option("--ctx", cfg.ctx);
  tr->add_option("--steps", steps);
  tr->add_option("--batch", batch);
  tr->add_option("--lr", lr);
  tr->add_option("--seed", seed);
  tr->add_option("--save-every", save_every,
                 "also write DIR/step-S every this many steps (0: never)");
  auto* ge = app.add_subcommand("generate", "sample tokens");
  ge->add_option("--model", dir)->required();
  ge->add_option("--tokens", tokens);
  ge->add_option("--batch", gen_batch);
  ge->add_option("--temperature", temperature);
  ge->add_option("--seed", seed);
  ge->add_option("--out", out_path)->required();
  auto* sv = app.add_subcommand("serve", "sample one document per stdin line");
  sv->add_option("--model", dir)->required();
  sv->add_option("--seed", seed);
  sv->add_option("--temperature", temperature);
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  try {
    if (*tr)
      return train(train_path, valid_path, cfg, init, dir, steps, batch, lr, seed, save_every);
    if (*ge) return generate(dir, tokens, gen_batch, temperature, seed, out_path);
    if (*sv) return serve(dir, temperature, seed);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "neural_student: %s\n", e.what());
    return 1;
  }
  return 0;
}
