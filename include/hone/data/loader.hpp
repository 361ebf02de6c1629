// hone/data/loader.hpp — batches from a Dataset: shuffling, batching, and decoding plus
// augmentation on worker threads with a bounded prefetch.
//
// Determinism: the order of an epoch is a Fisher-Yates shuffle drawn from
// Generator(seed).fork(2 * epoch), and sample i's transform draws from
// Generator(seed).fork(2 * epoch + 1).fork(i), where i is its index in the dataset. Which
// thread builds which batch never enters, so the batches of an epoch are bit-identical
// for 0 (the caller decodes), 1, 2 or any number of workers.
//
// Threads: `num_workers` threads (created by start_epoch, joined by the next start_epoch or
// the destructor) build whole batches. At most `prefetch` batches are built or waiting
// ahead of the consumer at any time, which bounds memory. An exception thrown while
// building a batch (e.g. an IOError for a corrupt file under OnError::raise) is rethrown by
// next() when that batch is due; the following call goes on with the next batch.
// Destroying a Loader mid-epoch stops the workers after the sample they are decoding.
#pragma once

#include <algorithm>           // std::min, std::copy_n
#include <atomic>              // the stop flag
#include <condition_variable>  // workers waiting for room, the consumer waiting for a batch
#include <cstddef>             // std::size_t
#include <cstdint>             // std::int64_t, std::uint64_t
#include <exception>           // std::exception_ptr
#include <map>                 // finished batches by number
#include <mutex>               // the shared queue state
#include <optional>            // next() at the end of an epoch
#include <span>                // batch extents
#include <thread>              // workers
#include <utility>             // std::move
#include <vector>              // order, workers

#include "hone/core/error.hpp"
#include "hone/core/rng.hpp"
#include "hone/core/tensor.hpp"
#include "hone/data/datasets.hpp"

namespace hone::data {

/// One batch: inputs (B, ...) stacked from the samples' transformed inputs, labels (B), the
/// dataset indices of the samples, and how many samples of this batch were skipped
/// (OnError::skip), so B may be less than the batch size.
struct Batch {
  Tensor<float> inputs;
  Tensor<std::int64_t> labels;
  std::vector<std::size_t> indices;
  std::size_t skipped = 0;
};

/// How a Loader batches a dataset.
struct LoaderOptions {
  std::size_t batch_size = 32;  ///< samples per batch (the last may be smaller)
  bool shuffle = true;          ///< a new seeded order every epoch; otherwise dataset order
  bool drop_last = false;       ///< drop a last batch smaller than batch_size
  std::size_t num_workers = 2;  ///< decoding threads; 0 decodes on the calling thread in next()
  std::size_t prefetch = 4;     ///< most batches in flight or waiting (at least 1)
  std::uint64_t seed = 0;       ///< seeds the order and every random transform
};

/// Produces the batches of a Dataset, epoch by epoch; see the file comment.
///   Loader loader(train, {.batch_size = 32, .seed = 1});
///   for (std::uint64_t epoch = 0; epoch < 5; ++epoch) {
///     loader.start_epoch(epoch);
///     while (auto batch = loader.next()) step(batch->inputs, batch->labels);
///   }
class Loader {
 public:
  /// Throws InvalidArgument for a zero batch size.
  Loader(Dataset data, LoaderOptions options) : data_(std::move(data)), options_(options) {
    if (options_.batch_size == 0) throw InvalidArgument("Loader: batch_size must be positive");
    options_.prefetch = std::max<std::size_t>(options_.prefetch, 1);
  }
  ~Loader() { stop_workers(); }
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  const Dataset& dataset() const noexcept { return data_; }
  const LoaderOptions& options() const noexcept { return options_; }

  /// Batches per epoch: ceil(size / batch_size), or floor with drop_last.
  std::size_t batches_per_epoch() const noexcept {
    const std::size_t n = data_.size(), b = options_.batch_size;
    return options_.drop_last ? n / b : (n + b - 1) / b;
  }

  /// The dataset indices of an epoch in the order they are batched.
  std::vector<std::size_t> epoch_order(std::uint64_t epoch) const {
    std::vector<std::size_t> order(data_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (options_.shuffle) {
      Generator gen = Generator(options_.seed).fork(2 * epoch);
      for (std::size_t j = order.size(); j > 1; --j) std::swap(order[j - 1], order[gen.uniform_int(j)]);
    }
    return order;
  }

  /// Starts (or restarts) epoch `epoch`, abandoning what is left of the current one, and
  /// starts the workers.
  void start_epoch(std::uint64_t epoch) {
    stop_workers();
    epoch_ = epoch;
    order_ = epoch_order(epoch);
    num_batches_ = batches_per_epoch();
    next_claim_ = 0;
    next_consume_ = 0;
    done_.clear();
    stop_.store(false);
    started_ = true;
    const std::size_t workers = std::min(options_.num_workers, num_batches_);
    for (std::size_t w = 0; w < workers; ++w) workers_.emplace_back([this] { worker_loop(); });
  }

  /// The next batch of the epoch, or no value when the epoch is over (a batch whose every
  /// sample was skipped is passed over). Rethrows an error raised while building the batch.
  /// Throws StateError before the first start_epoch().
  std::optional<Batch> next() {
    if (!started_) throw StateError("Loader::next: call start_epoch(epoch) first");
    while (next_consume_ < num_batches_) {
      const std::size_t number = next_consume_;
      Finished finished;
      if (workers_.empty()) {
        ++next_consume_;
        finished = build_guarded(number);
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        batch_ready_.wait(lock, [&] { return done_.count(number) != 0; });
        finished = std::move(done_.at(number));
        done_.erase(number);
        ++next_consume_;
        lock.unlock();
        room_.notify_all();
      }
      if (finished.error) std::rethrow_exception(finished.error);
      if (finished.batch.indices.empty()) continue;
      return std::move(finished.batch);
    }
    return std::nullopt;
  }

  /// Builds batch `number` of epoch `epoch` on the calling thread (what the workers do).
  Batch build_batch(std::uint64_t epoch, std::size_t number) const {
    const std::vector<std::size_t> order = epoch == epoch_ && started_ ? order_ : epoch_order(epoch);
    return build(order, epoch, number, nullptr);
  }

 private:
  struct Finished {
    Batch batch;
    std::exception_ptr error;
  };

  Batch build(const std::vector<std::size_t>& order, std::uint64_t epoch, std::size_t number,
              const std::atomic<bool>* stop) const {
    const std::size_t begin = number * options_.batch_size;
    const std::size_t end = std::min(begin + options_.batch_size, order.size());
    const Generator samples = Generator(options_.seed).fork(2 * epoch + 1);
    Batch batch;
    std::vector<Tensor<float>> inputs;
    std::vector<std::int64_t> labels;
    for (std::size_t p = begin; p < end; ++p) {
      if (stop && stop->load(std::memory_order_relaxed)) return {};
      Generator gen = samples.fork(order[p]);
      std::optional<Example> ex = data_.get(order[p], gen);
      if (!ex) {
        ++batch.skipped;
        continue;
      }
      if (!inputs.empty() && !(ex->input.shape() == inputs.front().shape()))
        throw ShapeError(hone::detail::concat("Loader: sample ", data_.describe(order[p]), " has shape ",
                                              ex->input.shape(), " but ", data_.describe(batch.indices.front()),
                                              " in the same batch has ", inputs.front().shape(),
                                              " (add a resize or crop to the transform)"));
      inputs.push_back(std::move(ex->input));
      labels.push_back(ex->label);
      batch.indices.push_back(order[p]);
    }
    if (inputs.empty()) return batch;
    const Shape& one = inputs.front().shape();
    std::vector<std::int64_t> dims{static_cast<std::int64_t>(inputs.size())};
    for (std::size_t a = 0; a < one.rank(); ++a) dims.push_back(one[a]);
    batch.inputs = Tensor<float>(Shape(std::span<const std::int64_t>(dims.data(), dims.size())));
    const std::int64_t per = one.numel();
    for (std::size_t i = 0; i < inputs.size(); ++i)
      std::copy_n(inputs[i].data(), per, batch.inputs.data() + static_cast<std::int64_t>(i) * per);
    batch.labels = Tensor<std::int64_t>({static_cast<std::int64_t>(labels.size())});
    std::copy(labels.begin(), labels.end(), batch.labels.data());
    return batch;
  }

  Finished build_guarded(std::size_t number) const {
    Finished f;
    try {
      f.batch = build(order_, epoch_, number, &stop_);
    } catch (...) {
      f.error = std::current_exception();
    }
    return f;
  }

  void worker_loop() {
    for (;;) {
      std::size_t number = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        room_.wait(lock, [&] {
          return stop_.load() || next_claim_ >= num_batches_ || next_claim_ < next_consume_ + options_.prefetch;
        });
        if (stop_.load() || next_claim_ >= num_batches_) return;
        number = next_claim_++;
      }
      Finished finished = build_guarded(number);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.emplace(number, std::move(finished));
      }
      batch_ready_.notify_all();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
    }
    room_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    done_.clear();
  }

  Dataset data_;
  LoaderOptions options_;
  bool started_ = false;
  std::uint64_t epoch_ = 0;
  std::vector<std::size_t> order_;
  std::size_t num_batches_ = 0;
  std::size_t next_claim_ = 0;    // guarded by mutex_ while workers run
  std::size_t next_consume_ = 0;  // guarded by mutex_ while workers run
  std::map<std::size_t, Finished> done_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable room_;
  std::condition_variable batch_ready_;
  std::vector<std::thread> workers_;
};

}  // namespace hone::data
