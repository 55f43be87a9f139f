#include "services/readiness.hpp"

#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace parley::services {

Readiness::Readiness(std::vector<EngineProbe> engines, ReadinessOptions options) : options_(std::move(options)) {
  for (auto& probe : engines) {
    auto engine = std::make_unique<Engine>();
    engine->probe = std::move(probe);
    engines_.push_back(std::move(engine));
  }
}

Readiness::~Readiness() { stop(); }

void Readiness::watch_step(std::string name, std::function<bool()> running) {
  steps_.push_back({std::move(name), std::move(running)});
}

void Readiness::start() {
  for (auto& engine : engines_) {
    threads_.emplace_back([this, e = engine.get()] {
      name_this_thread("probe-" + e->probe.name);
      run(*e);
    });
  }
}

void Readiness::await_first_probes(std::chrono::milliseconds at_most) {
  std::unique_lock lock(mu_);
  probed_.wait_for(lock, at_most, [this] {
    for (const auto& engine : engines_) {
      if (!engine->probed) return false;
    }
    return true;
  });
}

void Readiness::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Readiness::set_draining() noexcept { draining_.store(true, std::memory_order_relaxed); }

bool Readiness::draining() const noexcept { return draining_.load(std::memory_order_relaxed); }

void Readiness::run(Engine& engine) {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    engine.in_flight_since = options_.now();
    lock.unlock();
    auto probed = engine.probe.probe(options_.timeout);
    lock.lock();
    const bool was_failing = engine.probed && engine.failure.has_value();
    engine.in_flight_since.reset();
    engine.probed = true;
    if (probed) {
      engine.failure.reset();
      if (was_failing) log::info("readiness", "engine " + engine.probe.name + " answers again");
    } else {
      if (!was_failing) log::warn("readiness", "engine " + engine.probe.name + ": " + probed.error().message);
      engine.failure = probed.error().message;
    }
    probed_.notify_all();
    wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
  }
}

std::vector<std::string> Readiness::reasons() const {
  std::vector<std::string> out;
  if (draining()) out.emplace_back("draining");
  {
    const auto now = options_.now();
    std::lock_guard lock(mu_);
    for (const auto& engine : engines_) {
      const std::string prefix = "engine " + engine->probe.name + ": ";
      if (engine->in_flight_since && now - *engine->in_flight_since >= options_.timeout) {
        out.push_back(prefix + "no answer within " + std::to_string(options_.timeout.count()) + " ms");
      } else if (!engine->probed) {
        out.push_back(prefix + "not probed yet");
      } else if (engine->failure) {
        out.push_back(prefix + *engine->failure);
      }
    }
  }
  for (const auto& step : steps_) {
    if (!step.running()) out.push_back("pipeline step " + step.name + ": not running");
  }
  return out;
}

}  // namespace parley::services
