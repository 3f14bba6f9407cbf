// Speed measurement: memory read bandwidth of this machine, and prefill/decode tokens per second
// of a model with the decode roofline (bytes read per token / bandwidth).
#pragma once

#include <cstdint>

#include "model/llama.h"

namespace quanta {

// Read bandwidth in bytes/s: all pool threads sum a buffer much larger than the caches.
double measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes = size_t(1) << 30);

// Weight bytes one decode step reads, from the matrices as the engine holds them (compressed
// sizes for compressed Linears: codes + scales + zero points).
struct WeightBytes {
  double layers = 0;     // every Linear and norm of every decoder layer
  double lm_head = 0;    // the whole output matrix (the tied embedding table if tied)
  double embedding = 0;  // one row looked up
  double total() const { return layers + lm_head + embedding; }
};
WeightBytes weight_bytes_read(const LlamaModel& model);

struct SpeedResult {
  WeightBytes weights;
  int64_t prompt_tokens = 0, decode_tokens = 0;
  int rounds = 1;
  double prefill_tok_s = 0, decode_tok_s = 0;  // medians over the rounds
  double decode_tok_s_min = 0, decode_tok_s_max = 0;
  double bytes_per_decode_token = 0;  // weights read + mean KV cache read per step
  double bandwidth_working_set = 0;   // bytes/s streaming a buffer of bytes_per_decode_token (median)
  double bandwidth_dram = 0;          // bytes/s streaming a buffer far larger than the caches
  double bandwidth = 0;               // the higher of the two: the roofline's bandwidth
  double roofline_tok_s = 0;          // bandwidth / bytes_per_decode_token
  // Decode as a share of the roofline: the median over rounds of each round's decode against the
  // bandwidth streamed right after it (or bandwidth_dram where that is higher), and the range.
  double roofline_share = 0, roofline_share_min = 0, roofline_share_max = 0;
  uint64_t peak_rss = 0;  // bytes: the process's peak after load, prefill and decode (not the probes)
};

// weight_bytes_read(model).total().
double weight_bytes_per_token(const LlamaModel& model);

// Prefill tok/s of one prompt of prompt_tokens, then decode tok/s of decode_tokens single-token
// steps after it (one sequence, after a short warm-up); no bandwidth measurement.
struct TokensPerSecond {
  double prefill = 0, decode = 0;
};
TokensPerSecond measure_prefill_decode(LlamaModel& model, int64_t prompt_tokens, int64_t decode_tokens);

// `rounds` x (measure_prefill_decode, then the read bandwidth of a decode step's bytes), and once
// the bandwidth of a buffer far larger than the caches: medians and the decode roofline.
SpeedResult measure_speed(LlamaModel& model, int64_t prompt_tokens, int64_t decode_tokens, int rounds = 1);

}  // namespace quanta
