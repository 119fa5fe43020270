// Node glue for the compression codecs (native/core/codec.h): converts arguments, runs the
// core either on the calling thread or on the libuv thread pool (a Promise), and turns
// codec statuses into JS errors whose `code` is codec_status_code()'s name.
//
// Every thread that runs codec work keeps one codec_context (thread_local below): the
// JS thread for synchronous calls, each pool thread for asynchronous ones. Contexts are
// therefore reused across calls and never shared between threads.
#include "codecs.h"
#include "js_errors.h"

#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <zstd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" {
#include "codec.h"
}

namespace chunker {
namespace {

// Tags ZstdDictionary objects so an argument of another wrapped class is never taken for one.
constexpr napi_type_tag kDictionaryTag = {0x6368756e6b657231ULL, 0x7a73746464696374ULL};

class ThreadContext {
 public:
  ~ThreadContext() { codec_context_free(context_); }
  codec_context *Get() {
    if (context_ == nullptr) context_ = codec_context_new();
    return context_;
  }

 private:
  codec_context *context_ = nullptr;
};

thread_local ThreadContext thread_context;

Napi::Error CodecError(Napi::Env env, const codec_error &error) {
  return MakeError(env, codec_status_code(error.status), error.message);
}

bool Fail(Napi::Env env, const char *code, const std::string &message) {
  MakeError(env, code, message).ThrowAsJavaScriptException();
  return false;
}

bool GetInt(const Napi::CallbackInfo &info, size_t index, const char *name, double min, double max, double *out) {
  if (index >= info.Length() || !info[index].IsNumber()) {
    return Fail(info.Env(), "invalid_argument", std::string("Expected a number for ") + name);
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= min && value <= max) || std::trunc(value) != value) {
    return Fail(info.Env(), "invalid_argument", std::string("Expected an integer in range for ") + name);
  }
  *out = value;
  return true;
}

bool GetCodec(const Napi::CallbackInfo &info, size_t index, bool allow_auto, codec_id *out) {
  double value = 0;
  if (!GetInt(info, index, "codec", 0, allow_auto ? CODEC_AUTO : CODEC_BZIP2, &value)) return false;
  *out = static_cast<codec_id>(static_cast<int>(value));
  return true;
}

bool GetBytes(const Napi::CallbackInfo &info, size_t index, const char *name, Napi::Uint8Array *out) {
  if (index >= info.Length() || !IsUint8Array(info[index])) {
    return Fail(info.Env(), "invalid_argument", std::string("Expected a Uint8Array for ") + name);
  }
  *out = info[index].As<Napi::Uint8Array>();
  return true;
}

// A loaded zstd dictionary; immutable, so pool threads may use it while JS holds it.
class ZstdDictionary : public Napi::ObjectWrap<ZstdDictionary> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ZstdDictionary",
                       {InstanceAccessor<&ZstdDictionary::Id>("id"), InstanceAccessor<&ZstdDictionary::Size>("size")});
  }

  explicit ZstdDictionary(const Napi::CallbackInfo &info) : Napi::ObjectWrap<ZstdDictionary>(info) {
    Napi::Uint8Array bytes;
    if (!GetBytes(info, 0, "dictionary", &bytes)) return;
    codec_error error{};
    if (codec_dict_new(bytes.Data(), bytes.ByteLength(), &dict_, &error) != CODEC_OK) {
      CodecError(info.Env(), error).ThrowAsJavaScriptException();
      return;
    }
    info.This().As<Napi::Object>().TypeTag(&kDictionaryTag);
  }

  ~ZstdDictionary() override { codec_dict_free(dict_); }

  const codec_dict *Get() const { return dict_; }

 private:
  Napi::Value Id(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), codec_dict_id(dict_)); }
  Napi::Value Size(const Napi::CallbackInfo &info) {
    size_t len = 0;
    codec_dict_bytes(dict_, &len);
    return Napi::Number::New(info.Env(), static_cast<double>(len));
  }

  codec_dict *dict_ = nullptr;
};

// The dictionary argument: undefined or null for none, else a ZstdDictionary.
bool GetDictionary(const Napi::CallbackInfo &info, size_t index, Napi::Object *object, const codec_dict **out) {
  *out = nullptr;
  if (index >= info.Length() || info[index].IsUndefined() || info[index].IsNull()) return true;
  if (!info[index].IsObject() || !info[index].As<Napi::Object>().CheckTypeTag(&kDictionaryTag)) {
    return Fail(info.Env(), "invalid_argument", "Expected a ZstdDictionary (or null) for dictionary");
  }
  *object = info[index].As<Napi::Object>();
  ZstdDictionary *dictionary = ZstdDictionary::Unwrap(*object);
  if (dictionary == nullptr || dictionary->Get() == nullptr) {
    return Fail(info.Env(), "invalid_argument", "The dictionary was not loaded");
  }
  *out = dictionary->Get();
  return true;
}

void FreeOutput(Napi::Env env, uint8_t *data, size_t *length) {
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(*length));
  std::free(data);
  delete length;
}

// Hands a malloc'd output to JS without copying; the garbage collector is told its size.
Napi::Buffer<uint8_t> OutputBuffer(Napi::Env env, codec_output *out) {
  uint8_t *data = out->data;
  const size_t length = out->len;
  out->data = nullptr;
  out->len = 0;
  if (length == 0) {
    std::free(data);
    return Napi::Buffer<uint8_t>::New(env, 0);
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(length));
  return Napi::Buffer<uint8_t>::New(env, data, length, FreeOutput, new size_t(length));
}

// What one codec call needs, gathered on the JS thread, run anywhere.
struct CodecJob {
  enum class Kind { Compress, Decompress, Train } kind = Kind::Compress;
  codec_id codec = CODEC_NONE;
  int level = 0;
  const uint8_t *input = nullptr;
  size_t input_len = 0;
  size_t max_output = 0;
  const codec_dict *dict = nullptr;
  std::vector<size_t> sample_sizes;
  size_t capacity = 0;

  codec_status status = CODEC_OK;
  codec_error error{};
  codec_output output{nullptr, 0};

  void Run() {
    codec_context *context = thread_context.Get();
    if (context == nullptr && kind != Kind::Train) {
      status = CODEC_NO_MEMORY;
      error.status = status;
      snprintf(error.message, sizeof error.message, "cannot create a codec context");
      return;
    }
    switch (kind) {
      case Kind::Compress:
        status = codec_compress(context, codec, level, dict, input, input_len, &output, &error);
        break;
      case Kind::Decompress:
        status = codec_decompress(context, codec, dict, input, input_len, max_output, &output, &error);
        break;
      case Kind::Train: {
        output.data = static_cast<uint8_t *>(std::malloc(capacity));
        if (output.data == nullptr) {
          status = CODEC_NO_MEMORY;
          error.status = status;
          snprintf(error.message, sizeof error.message, "cannot allocate %zu bytes for the dictionary", capacity);
          return;
        }
        status = codec_dict_train(input, sample_sizes.data(), static_cast<unsigned>(sample_sizes.size()), capacity,
                                  output.data, &output.len, &error);
        if (status != CODEC_OK) {
          std::free(output.data);
          output = {nullptr, 0};
        } else if (uint8_t *fitted = static_cast<uint8_t *>(std::realloc(output.data, output.len > 0 ? output.len : 1))) {
          output.data = fitted;
        }
        break;
      }
    }
  }
};

// Runs a CodecJob on the libuv pool and settles a Promise with its outcome. The input's
// JS object and the dictionary's are held until then, so neither is collected meanwhile.
class CodecWorker : public Napi::AsyncWorker {
 public:
  CodecWorker(Napi::Env env, Napi::Uint8Array input, Napi::Object dictionary)
      : Napi::AsyncWorker(env, "chunker:codec"), deferred_(Napi::Promise::Deferred::New(env)) {
    input_ = Napi::Persistent(input);
    if (!dictionary.IsEmpty()) dictionary_ = Napi::Persistent(dictionary);
  }

  CodecJob job;

  // The output is handed to JS in OnOK; this frees it only if that never ran.
  ~CodecWorker() override { std::free(job.output.data); }

  // Queues `job` on the thread pool; `input` and `dictionary` stay referenced until it ends.
  static Napi::Promise Start(Napi::Env env, CodecJob job, Napi::Uint8Array input, Napi::Object dictionary) {
    auto *worker = new CodecWorker(env, input, dictionary);
    worker->job = std::move(job);
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override { job.Run(); }

  void OnOK() override {
    Napi::Env env = Env();
    if (job.status == CODEC_OK) {
      deferred_.Resolve(OutputBuffer(env, &job.output));
    } else {
      deferred_.Reject(CodecError(env, job.error).Value());
    }
  }

  void OnError(const Napi::Error &error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> input_;
  Napi::ObjectReference dictionary_;
};

Napi::Value Settle(Napi::Env env, CodecJob &job) {
  job.Run();
  if (job.status != CODEC_OK) {
    CodecError(env, job.error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return OutputBuffer(env, &job.output);
}

// Reads (codec, level, data, dictionary) into a compression job.
bool ReadCompress(const Napi::CallbackInfo &info, CodecJob *job, Napi::Uint8Array *data, Napi::Object *dict) {
  double level = 0;
  if (!GetCodec(info, 0, false, &job->codec) || !GetInt(info, 1, "level", -1e9, 1e9, &level) ||
      !GetBytes(info, 2, "data", data) || !GetDictionary(info, 3, dict, &job->dict)) {
    return false;
  }
  job->kind = CodecJob::Kind::Compress;
  job->level = static_cast<int>(level);
  job->input = data->Data();
  job->input_len = data->ByteLength();
  return true;
}

// Reads (codec, data, maxOutput, dictionary) into a decompression job.
bool ReadDecompress(const Napi::CallbackInfo &info, CodecJob *job, Napi::Uint8Array *data, Napi::Object *dict) {
  double max_output = 0;
  if (!GetCodec(info, 0, true, &job->codec) || !GetBytes(info, 1, "data", data) ||
      !GetInt(info, 2, "maxOutput", 0, 9007199254740991.0, &max_output) ||
      !GetDictionary(info, 3, dict, &job->dict)) {
    return false;
  }
  job->kind = CodecJob::Kind::Decompress;
  job->input = data->Data();
  job->input_len = data->ByteLength();
  job->max_output = static_cast<size_t>(max_output);
  return true;
}

// compressSync(codec, level, data, dictionary | null) -> Buffer
Napi::Value CompressSync(const Napi::CallbackInfo &info) {
  CodecJob job;
  Napi::Uint8Array data;
  Napi::Object dict;
  if (!ReadCompress(info, &job, &data, &dict)) return info.Env().Undefined();
  return Settle(info.Env(), job);
}

// compress(codec, level, data, dictionary | null) -> Promise<Buffer>, on the thread pool
Napi::Value Compress(const Napi::CallbackInfo &info) {
  Napi::Uint8Array data;
  Napi::Object dict;
  CodecJob job;
  if (!ReadCompress(info, &job, &data, &dict)) return info.Env().Undefined();
  return CodecWorker::Start(info.Env(), std::move(job), data, dict);
}

// decompressSync(codec | auto, data, maxOutput, dictionary | null) -> Buffer
Napi::Value DecompressSync(const Napi::CallbackInfo &info) {
  CodecJob job;
  Napi::Uint8Array data;
  Napi::Object dict;
  if (!ReadDecompress(info, &job, &data, &dict)) return info.Env().Undefined();
  return Settle(info.Env(), job);
}

// decompress(codec | auto, data, maxOutput, dictionary | null) -> Promise<Buffer>, on the thread pool
Napi::Value Decompress(const Napi::CallbackInfo &info) {
  Napi::Uint8Array data;
  Napi::Object dict;
  CodecJob job;
  if (!ReadDecompress(info, &job, &data, &dict)) return info.Env().Undefined();
  return CodecWorker::Start(info.Env(), std::move(job), data, dict);
}

// trainDictionary(samples: Uint8Array (back to back), sizes: number[], capacity) -> Promise<Buffer>
Napi::Value TrainDictionary(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array samples;
  double capacity = 0;
  if (!GetBytes(info, 0, "samples", &samples)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsArray()) {
    Fail(env, "invalid_argument", "Expected an array of numbers for sizes");
    return env.Undefined();
  }
  if (!GetInt(info, 2, "capacity", 256, 1 << 30, &capacity)) return env.Undefined();
  Napi::Array sizes = info[1].As<Napi::Array>();
  CodecJob job;
  job.kind = CodecJob::Kind::Train;
  job.capacity = static_cast<size_t>(capacity);
  double total = 0;
  for (uint32_t i = 0; i < sizes.Length(); i++) {
    Napi::Value size = sizes.Get(i);
    double value = size.IsNumber() ? size.As<Napi::Number>().DoubleValue() : -1;
    if (!(value >= 0) || std::trunc(value) != value) {
      Fail(env, "invalid_argument", "Expected non-negative integers for sizes");
      return env.Undefined();
    }
    job.sample_sizes.push_back(static_cast<size_t>(value));
    total += value;
  }
  if (total != static_cast<double>(samples.ByteLength())) {
    Fail(env, "invalid_argument", "Expected sizes to add up to the length of samples");
    return env.Undefined();
  }
  job.input = samples.Data();
  job.input_len = samples.ByteLength();
  return CodecWorker::Start(env, std::move(job), samples, Napi::Object());
}

// Shrinks a step's output allocation (made for a whole piece) to what was produced.
void FitOutput(codec_output *out) {
  if (out->data == nullptr) return;
  if (uint8_t *fitted = static_cast<uint8_t *>(std::realloc(out->data, out->len > 0 ? out->len : 1))) out->data = fitted;
}

// What a step resolves (or returns) with: { output: Buffer, consumed: number, done: boolean }.
Napi::Object StepResult(Napi::Env env, codec_output *output, size_t consumed, int done) {
  FitOutput(output);
  Napi::Object result = Napi::Object::New(env);
  result.Set("output", OutputBuffer(env, output));
  result.Set("consumed", Napi::Number::New(env, static_cast<double>(consumed)));
  result.Set("done", Napi::Boolean::New(env, done != 0));
  return result;
}

// A decompression stream fed piece by piece (a compressed file read in pieces): each
// step decodes into an output of at most `outputBytes`, and the whole stream never
// produces more than `maxOutput` bytes (one more is size_exceeded).
//
// new StreamDecoder(codec, maxOutput, dictionary | null)
// step(input, atEnd, outputBytes) -> Promise<{ output: Buffer, consumed: number, done: boolean }>
//   Decodes on the thread pool from the start of `input` until the output piece is full,
//   `input` is used up (then call again with the next piece), or the stream ends (`done`).
// stepSync(input, atEnd, outputBytes) -> { output, consumed, done }
//   The same on the calling thread, for callers that bound each step's work themselves
//   (a session's budget). One step at a time, of either kind.
class StreamDecoder : public Napi::ObjectWrap<StreamDecoder> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "StreamDecoder",
                       {InstanceMethod<&StreamDecoder::Step>("step"),
                        InstanceMethod<&StreamDecoder::StepSync>("stepSync"),
                        InstanceAccessor<&StreamDecoder::Produced>("produced")});
  }

  explicit StreamDecoder(const Napi::CallbackInfo &info) : Napi::ObjectWrap<StreamDecoder>(info) {
    Napi::Env env = info.Env();
    double max_output = 0;
    codec_id codec = CODEC_NONE;
    Napi::Object dict_object;
    if (!GetCodec(info, 0, false, &codec) || !GetInt(info, 1, "maxOutput", 0, 9007199254740991.0, &max_output) ||
        !GetDictionary(info, 2, &dict_object, &dict_)) {
      return;
    }
    if (!dict_object.IsEmpty()) dictionary_ = Napi::Persistent(dict_object);
    limit_ = static_cast<size_t>(max_output);
    codec_ = codec;
    decoder_ = codec_decoder_new();
    codec_error error{};
    if (decoder_ == nullptr) {
      Fail(env, "no_memory", "cannot create a decoder");
      return;
    }
    if (codec_decoder_begin(decoder_, codec, dict_, &error) != CODEC_OK) {
      CodecError(env, error).ThrowAsJavaScriptException();
    }
  }

  ~StreamDecoder() override { codec_decoder_free(decoder_); }

  // Runs on the pool; touches only this object's decoder (busy_ keeps steps apart).
  void Run(const uint8_t *in, size_t len, bool at_end, size_t piece, codec_output *out, size_t *consumed, int *done,
           codec_error *error, codec_status *status) {
    *status = CODEC_OK;
    *done = 0;
    const size_t room = limit_ - produced_;
    const size_t cap = piece < room ? piece : room;
    out->data = static_cast<uint8_t *>(std::malloc(cap > 0 ? cap : 1));
    out->len = 0;
    if (out->data == nullptr) {
      *status = CODEC_NO_MEMORY;
      snprintf(error->message, sizeof error->message, "cannot allocate %zu bytes", cap);
      return;
    }
    size_t in_pos = 0;
    for (;;) {
      if (out->len == cap && cap == room) {
        // At the stream's limit: it must end without one more byte.
        uint8_t probe[1];
        size_t probe_pos = 0;
        *status = codec_decoder_step(decoder_, in, len, &in_pos, probe, sizeof probe, &probe_pos, at_end ? 1 : 0, done,
                                     error);
        if (*status == CODEC_OK && probe_pos > 0) {
          *status = CODEC_SIZE_EXCEEDED;
          snprintf(error->message, sizeof error->message, "%s: the output exceeds the limit of %zu bytes",
                   codec_name(codec_), limit_);
        }
        break;
      }
      if (out->len == cap) break;  // a full piece; the caller comes back for more
      *status = codec_decoder_step(decoder_, in, len, &in_pos, out->data, cap, &out->len, at_end ? 1 : 0, done, error);
      if (*status != CODEC_OK || *done || out->len < cap) break;
    }
    *consumed = in_pos;
    produced_ += out->len;
  }

  std::atomic<bool> busy{false};

 private:
  Napi::Value Step(const Napi::CallbackInfo &info);
  Napi::Value StepSync(const Napi::CallbackInfo &info);
  // Reads step's arguments and claims the decoder (busy); false with a JS exception pending.
  bool BeginStep(const Napi::CallbackInfo &info, Napi::Uint8Array *input, bool *at_end, size_t *piece);
  Napi::Value Produced(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), static_cast<double>(produced_));
  }

  codec_decoder *decoder_ = nullptr;
  codec_id codec_ = CODEC_NONE;
  const codec_dict *dict_ = nullptr;
  Napi::ObjectReference dictionary_;
  size_t limit_ = 0;
  size_t produced_ = 0;
};

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, StreamDecoder *decoder, Napi::Object self, Napi::Uint8Array input, bool at_end,
             size_t piece)
      : Napi::AsyncWorker(env, "chunker:codec-stream"),
        deferred_(Napi::Promise::Deferred::New(env)),
        decoder_(decoder),
        at_end_(at_end),
        piece_(piece) {
    self_ = Napi::Persistent(self);
    input_ = Napi::Persistent(input);
    data_ = input.Data();
    len_ = input.ByteLength();
  }

  ~StepWorker() override { std::free(output_.data); }

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { decoder_->Run(data_, len_, at_end_, piece_, &output_, &consumed_, &done_, &error_, &status_); }

  void OnOK() override {
    Napi::Env env = Env();
    decoder_->busy = false;
    if (status_ != CODEC_OK) {
      error_.status = status_;
      deferred_.Reject(CodecError(env, error_).Value());
      return;
    }
    deferred_.Resolve(StepResult(env, &output_, consumed_, done_));
  }

  void OnError(const Napi::Error &error) override {
    decoder_->busy = false;
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  StreamDecoder *decoder_;
  Napi::ObjectReference self_;
  Napi::Reference<Napi::Uint8Array> input_;
  const uint8_t *data_ = nullptr;
  size_t len_ = 0;
  bool at_end_;
  size_t piece_;
  codec_output output_{nullptr, 0};
  size_t consumed_ = 0;
  int done_ = 0;
  codec_error error_{};
  codec_status status_ = CODEC_OK;
};

bool StreamDecoder::BeginStep(const Napi::CallbackInfo &info, Napi::Uint8Array *input, bool *at_end, size_t *piece) {
  double piece_bytes = 0;
  if (!GetBytes(info, 0, "input", input) || !GetInt(info, 2, "outputBytes", 1, 1 << 30, &piece_bytes)) return false;
  bool expected = false;
  if (!busy.compare_exchange_strong(expected, true)) {
    return Fail(info.Env(), "invalid_argument", "a step of this stream is still running");
  }
  *at_end = info.Length() > 1 && info[1].ToBoolean().Value();
  *piece = static_cast<size_t>(piece_bytes);
  return true;
}

Napi::Value StreamDecoder::Step(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array input;
  bool at_end = false;
  size_t piece = 0;
  if (!BeginStep(info, &input, &at_end, &piece)) return env.Undefined();
  auto *worker = new StepWorker(env, this, info.This().As<Napi::Object>(), input, at_end, piece);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value StreamDecoder::StepSync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array input;
  bool at_end = false;
  size_t piece = 0;
  if (!BeginStep(info, &input, &at_end, &piece)) return env.Undefined();
  codec_output output{nullptr, 0};
  size_t consumed = 0;
  int done = 0;
  codec_error error{};
  codec_status status = CODEC_OK;
  Run(input.Data(), input.ByteLength(), at_end, piece, &output, &consumed, &done, &error, &status);
  busy = false;
  if (status != CODEC_OK) {
    std::free(output.data);
    error.status = status;
    CodecError(env, error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return StepResult(env, &output, consumed, done);
}

// detect(data) -> codec id, or the id of auto when no magic bytes match
Napi::Value Detect(const Napi::CallbackInfo &info) {
  Napi::Uint8Array data;
  if (!GetBytes(info, 0, "data", &data)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), codec_detect(data.Data(), data.ByteLength()));
}

Napi::Object Levels(Napi::Env env) {
  Napi::Object levels = Napi::Object::New(env);
  for (int id = CODEC_NONE; id <= CODEC_BZIP2; id++) {
    codec_levels range{};
    codec_level_range(static_cast<codec_id>(id), &range);
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("id", id);
    entry.Set("min", range.min_level);
    entry.Set("max", range.max_level);
    entry.Set("default", range.default_level);
    levels.Set(codec_name(static_cast<codec_id>(id)), entry);
  }
  return levels;
}

Napi::Object Versions(Napi::Env env) {
  Napi::Object versions = Napi::Object::New(env);
  versions.Set("zstd", ZSTD_versionString());
  versions.Set("lz4", LZ4_versionString());
  versions.Set("xz", lzma_version_string());
  std::string bzip2 = BZ2_bzlibVersion();
  versions.Set("bzip2", bzip2.substr(0, bzip2.find(',')));
  return versions;
}

}  // namespace

void RegisterCodecs(Napi::Env env, Napi::Object exports) {
  Napi::Object codecs = Napi::Object::New(env);
  codecs.Set("ZstdDictionary", ZstdDictionary::Define(env));
  codecs.Set("StreamDecoder", StreamDecoder::Define(env));
  codecs.Set("compressSync", Napi::Function::New(env, CompressSync));
  codecs.Set("compress", Napi::Function::New(env, Compress));
  codecs.Set("decompressSync", Napi::Function::New(env, DecompressSync));
  codecs.Set("decompress", Napi::Function::New(env, Decompress));
  codecs.Set("trainDictionary", Napi::Function::New(env, TrainDictionary));
  codecs.Set("detect", Napi::Function::New(env, Detect));
  codecs.Set("levels", Levels(env));
  codecs.Set("versions", Versions(env));
  codecs.Set("autoId", Napi::Number::New(env, CODEC_AUTO));
  codecs.Set("defaultDictionaryBytes", Napi::Number::New(env, static_cast<double>(CODEC_DICT_DEFAULT_BYTES)));
  exports.Set("codecs", codecs);
}

}  // namespace chunker
