// Node glue only: converts arguments, calls native/core, turns status codes into JS errors
// with a stable `code`. No algorithm lives here.
#include <napi.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "chunk_hash.h"
#include "chunk_pipeline.h"
#include "fastcdc.h"
}

#include "codecs.h"
#include "js_errors.h"
#include "upload_digests.h"

namespace {

// Environment variable that caps the helper threads used for hashing (0 disables them).
constexpr const char *kHashThreadsEnv = "CHUNKER_HASH_THREADS";

struct AddonState {
  chunk_pipeline *pipeline = nullptr;
  chunk_hasher *hasher = nullptr;  // used by the JS thread only
  ~AddonState() {
    chunk_pipeline_free(pipeline);
    chunk_hasher_free(hasher);
  }
};

using chunker::IsUint8Array;
using chunker::MakeError;

void ThrowError(Napi::Env env, const char *code, const std::string &message) {
  MakeError(env, code, message).ThrowAsJavaScriptException();
}

bool GetUint(const Napi::CallbackInfo &info, size_t index, const char *name, double max, double *out) {
  if (index >= info.Length() || !info[index].IsNumber()) {
    ThrowError(info.Env(), "invalid_argument", std::string("Expected a number for ") + name);
    return false;
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= 0) || value > max || value != static_cast<double>(static_cast<uint64_t>(value))) {
    ThrowError(info.Env(), "invalid_argument", std::string("Expected a non-negative integer for ") + name);
    return false;
  }
  *out = value;
  return true;
}

bool GetBytes(const Napi::CallbackInfo &info, size_t index, const char *name, const uint8_t **data, size_t *len) {
  if (index >= info.Length() || !IsUint8Array(info[index])) {
    ThrowError(info.Env(), "invalid_argument", std::string("Expected a Uint8Array for ") + name);
    return false;
  }
  Napi::Uint8Array array = info[index].As<Napi::Uint8Array>();
  *data = array.Data();
  *len = array.ByteLength();
  return true;
}

bool GetAlg(const Napi::CallbackInfo &info, size_t index, chunk_hash_alg *alg) {
  double value = 0;
  if (!GetUint(info, index, "hash algorithm", 2, &value)) return false;
  *alg = static_cast<chunk_hash_alg>(static_cast<int>(value));
  return true;
}

// FastCDC parameters, validated once and kept native (the gear table is 4 KiB).
class Params : public Napi::ObjectWrap<Params> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FastCdcParams",
                       {InstanceAccessor<&Params::MinSize>("minSize"), InstanceAccessor<&Params::AvgSize>("avgSize"),
                        InstanceAccessor<&Params::MaxSize>("maxSize"),
                        InstanceAccessor<&Params::Normalization>("normalization")});
  }

  explicit Params(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Params>(info) {
    Napi::Env env = info.Env();
    double min = 0, avg = 0, max = 0, level = 0;
    if (!GetUint(info, 0, "min_size", 9007199254740991.0, &min) ||
        !GetUint(info, 1, "avg_size", 9007199254740991.0, &avg) ||
        !GetUint(info, 2, "max_size", 9007199254740991.0, &max) ||
        !GetUint(info, 3, "normalization", 9007199254740991.0, &level)) {
      return;
    }
    uint64_t seed = 0;
    if (info.Length() > 4 && !info[4].IsUndefined()) {
      if (!info[4].IsBigInt()) {
        ThrowError(env, "invalid_argument", "Expected a bigint for seed");
        return;
      }
      bool lossless = false;
      seed = info[4].As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless) {
        ThrowError(env, "invalid_argument", "Expected seed to fit in an unsigned 64-bit integer");
        return;
      }
    }
    uint32_t level32 = level > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(level);
    cdc_status status = cdc_params_init(&params_, static_cast<uint64_t>(min), static_cast<uint64_t>(avg),
                                        static_cast<uint64_t>(max), level32, seed);
    if (status != CDC_OK) ThrowError(env, "invalid_options", cdc_status_message(status));
  }

  const cdc_params &Get() const { return params_; }

 private:
  Napi::Value MinSize(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), params_.min_size); }
  Napi::Value AvgSize(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), params_.avg_size); }
  Napi::Value MaxSize(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), params_.max_size); }
  Napi::Value Normalization(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), params_.normalization);
  }

  cdc_params params_{};
};

// chunk(params, data, atEnd, alg, byteBudget, maxChunks) ->
//   { lengths: Uint32Array, gears: BigUint64Array, hashes: Buffer | null, consumed: number }
Napi::Value Chunk(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  AddonState *state = env.GetInstanceData<AddonState>();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowError(env, "invalid_argument", "Expected FastCdcParams for params");
    return env.Undefined();
  }
  Napi::Object params_object = info[0].As<Napi::Object>();
  Params *params = Params::Unwrap(params_object);
  if (params == nullptr) return env.Undefined();
  const uint8_t *data = nullptr;
  size_t len = 0;
  chunk_hash_alg alg = CHUNK_HASH_NONE;
  double budget = 0, max_chunks = 0;
  if (!GetBytes(info, 1, "data", &data, &len) || !GetAlg(info, 3, &alg) ||
      !GetUint(info, 4, "byteBudget", 9007199254740991.0, &budget) ||
      !GetUint(info, 5, "maxChunks", 4294967295.0, &max_chunks)) {
    return env.Undefined();
  }
  const bool at_end = info[2].ToBoolean().Value();
  const cdc_params &p = params->Get();

  // A chunk is never shorter than min_size - 1 bytes except the final one.
  const size_t span = std::min<size_t>(len, static_cast<size_t>(budget) + p.max_size);
  const size_t shortest = p.min_size > 1 ? p.min_size - 1 : 1;
  const size_t capacity = std::min<size_t>(static_cast<size_t>(max_chunks), span / shortest + 2);

  std::vector<uint32_t> lengths(capacity);
  std::vector<uint64_t> gears(capacity);
  std::vector<uint8_t> hashes(alg == CHUNK_HASH_NONE ? 0 : capacity * CHUNK_HASH_BYTES);
  size_t count = 0, consumed = 0;
  int rc = chunk_pipeline_run(state->pipeline, state->hasher, &p, data, len, at_end ? 1 : 0, alg, capacity,
                              static_cast<size_t>(budget), lengths.data(), gears.data(), hashes.data(), &count,
                              &consumed);
  if (rc != 0) {
    ThrowError(env, "hash_failed", "libcrypto failed to compute a digest");
    return env.Undefined();
  }

  Napi::Object result = Napi::Object::New(env);
  Napi::Uint32Array out_lengths = Napi::Uint32Array::New(env, count);
  std::memcpy(out_lengths.Data(), lengths.data(), count * sizeof(uint32_t));
  Napi::BigUint64Array out_gears = Napi::BigUint64Array::New(env, count);
  std::memcpy(out_gears.Data(), gears.data(), count * sizeof(uint64_t));
  result.Set("lengths", out_lengths);
  result.Set("gears", out_gears);
  if (alg == CHUNK_HASH_NONE) {
    result.Set("hashes", env.Null());
  } else {
    result.Set("hashes", Napi::Buffer<uint8_t>::Copy(env, hashes.data(), count * CHUNK_HASH_BYTES));
  }
  result.Set("consumed", Napi::Number::New(env, static_cast<double>(consumed)));
  return result;
}

// hash(alg, data) -> Buffer(32)
Napi::Value Hash(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  AddonState *state = env.GetInstanceData<AddonState>();
  chunk_hash_alg alg = CHUNK_HASH_NONE;
  const uint8_t *data = nullptr;
  size_t len = 0;
  if (!GetAlg(info, 0, &alg) || !GetBytes(info, 1, "data", &data, &len)) return env.Undefined();
  if (alg == CHUNK_HASH_NONE) {
    ThrowError(env, "invalid_argument", "Expected sha256 or blake3 for hash algorithm");
    return env.Undefined();
  }
  uint8_t digest[CHUNK_HASH_BYTES];
  if (chunk_hash(state->hasher, alg, data, len, digest) != 0) {
    ThrowError(env, "hash_failed", "libcrypto failed to compute a digest");
    return env.Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(env, digest, CHUNK_HASH_BYTES);
}

// hashChunks(alg, data, lengths: Uint32Array) -> Buffer(32 * lengths.length)
Napi::Value HashChunks(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  AddonState *state = env.GetInstanceData<AddonState>();
  chunk_hash_alg alg = CHUNK_HASH_NONE;
  const uint8_t *data = nullptr;
  size_t len = 0;
  if (!GetAlg(info, 0, &alg) || !GetBytes(info, 1, "data", &data, &len)) return env.Undefined();
  if (info.Length() < 3 || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    ThrowError(env, "invalid_argument", "Expected a Uint32Array for lengths");
    return env.Undefined();
  }
  Napi::Uint32Array lengths = info[2].As<Napi::Uint32Array>();
  size_t total = 0;
  for (size_t i = 0; i < lengths.ElementLength(); i++) total += lengths[i];
  if (total > len) {
    ThrowError(env, "invalid_argument", "Chunk lengths add up to more than the data");
    return env.Undefined();
  }
  std::vector<uint8_t> digests(lengths.ElementLength() * CHUNK_HASH_BYTES);
  if (alg != CHUNK_HASH_NONE &&
      chunk_hash_many(state->hasher, alg, data, lengths.Data(), lengths.ElementLength(), digests.data()) != 0) {
    ThrowError(env, "hash_failed", "libcrypto failed to compute a digest");
    return env.Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(env, digests.data(), digests.size());
}

// gearTable(seed?: bigint) -> BigUint64Array(256): the table in use, for independent checks.
Napi::Value GearTable(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint64_t seed = 0;
  if (info.Length() > 0 && info[0].IsBigInt()) {
    bool lossless = false;
    seed = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  }
  cdc_params params{};
  cdc_params_init(&params, CDC_MIN_SIZE_LOWER_BYTES, CDC_AVG_SIZE_LOWER_BYTES, CDC_MAX_SIZE_LOWER_BYTES, 0, seed);
  Napi::BigUint64Array table = Napi::BigUint64Array::New(env, 256);
  std::memcpy(table.Data(), params.gear, sizeof params.gear);
  return table;
}

Napi::Value Info(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  AddonState *state = env.GetInstanceData<AddonState>();
  Napi::Object result = Napi::Object::New(env);
  result.Set("hashHelperThreads", Napi::Number::New(env, chunk_pipeline_helpers(state->pipeline)));
  return result;
}

// Largest mapping mapSharedFile accepts; the port's `spool` op has its own, smaller cap.
constexpr double kMaxSharedMapBytes = 1ull << 40;

void UnmapShared(Napi::Env /*env*/, void *data, size_t *length) {
  munmap(data, *length);
  delete length;
}

std::string SystemError(const char *what, const std::string &path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

// mapSharedFile(path, bytes) -> ArrayBuffer over the first `bytes` of the file, read-only.
// The mapping is MAP_SHARED, so it shows what the file's writer puts there later: the
// port's feed reads bytes a client wrote into the file without a copy through a pipe.
// The descriptor is closed at once (the mapping keeps the file alive, even once unlinked);
// the ArrayBuffer's finalizer unmaps it. O_NONBLOCK keeps a FIFO at `path` from blocking
// the open; the regular-file check then refuses it.
Napi::Value MapSharedFile(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowError(env, "invalid_argument", "Expected a string for path");
    return env.Undefined();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  double bytes = 0;
  if (!GetUint(info, 1, "bytes", kMaxSharedMapBytes, &bytes)) return env.Undefined();
  if (bytes < 1) {
    ThrowError(env, "invalid_argument", "Expected at least 1 for bytes");
    return env.Undefined();
  }
  const size_t length = static_cast<size_t>(bytes);

  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    ThrowError(env, "io_error", SystemError("cannot open", path));
    return env.Undefined();
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const std::string message = SystemError("cannot stat", path);
    close(fd);
    ThrowError(env, "io_error", message);
    return env.Undefined();
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    ThrowError(env, "io_error", "cannot map " + path + ": not a regular file");
    return env.Undefined();
  }
  if (static_cast<uint64_t>(st.st_size) < length) {
    close(fd);
    ThrowError(env, "io_error",
               "cannot map " + std::to_string(length) + " bytes of " + path + ": the file holds only " +
                   std::to_string(st.st_size));
    return env.Undefined();
  }
  void *data = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  const std::string map_error = data == MAP_FAILED ? SystemError("cannot map", path) : std::string();
  close(fd);
  if (data == MAP_FAILED) {
    ThrowError(env, "io_error", map_error);
    return env.Undefined();
  }
  return Napi::ArrayBuffer::New(env, data, length, UnmapShared, new size_t(length));
}

unsigned HelperThreads() {
  unsigned cores = std::thread::hardware_concurrency();
  unsigned helpers = cores > 1 ? cores - 1 : 0;
  if (const char *text = std::getenv(kHashThreadsEnv)) {
    char *end = nullptr;
    unsigned long wanted = std::strtoul(text, &end, 10);
    if (end != text && *end == '\0') helpers = static_cast<unsigned>(std::min<unsigned long>(wanted, 64));
  }
  return helpers;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto *state = new AddonState();
  state->hasher = chunk_hasher_new();
  state->pipeline = chunk_pipeline_new(HelperThreads());
  env.SetInstanceData<AddonState>(state);
  if (state->hasher == nullptr || state->pipeline == nullptr) {
    ThrowError(env, "native_init_failed", "could not initialise libcrypto digests or hashing threads");
    return exports;
  }
  exports.Set("FastCdcParams", Params::Define(env));
  exports.Set("chunk", Napi::Function::New(env, Chunk));
  exports.Set("hash", Napi::Function::New(env, Hash));
  exports.Set("hashChunks", Napi::Function::New(env, HashChunks));
  exports.Set("gearTable", Napi::Function::New(env, GearTable));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("mapSharedFile", Napi::Function::New(env, MapSharedFile));
  chunker::RegisterCodecs(env, exports);
  chunker::RegisterUploadDigests(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(chunker, Init)
