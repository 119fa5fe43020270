// Node glue for native/core/upload_digest.h: an `UploadDigest` object per upload whose
// `part(bytes)` digests the next part on the libuv pool and resolves to its MD5 and
// SHA-256, and whose `objectMd5()` ends the object with the MD5 of all its parts.
#include "upload_digests.h"

#include "js_errors.h"

#include <string>

extern "C" {
#include "upload_digest.h"
}

namespace chunker {
namespace {

class UploadDigest : public Napi::ObjectWrap<UploadDigest> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UploadDigest",
                       {InstanceMethod("part", &UploadDigest::Part), InstanceMethod("objectMd5", &UploadDigest::ObjectMd5)});
  }

  explicit UploadDigest(const Napi::CallbackInfo &info) : Napi::ObjectWrap<UploadDigest>(info) {
    digest_ = upload_digest_new();
    if (digest_ == nullptr) {
      MakeError(info.Env(), "native_init_failed", "out of memory, or libcrypto provides no SHA-256").ThrowAsJavaScriptException();
    }
  }

  ~UploadDigest() override { upload_digest_free(digest_); }

  // Lets the worker below use the state; the worker holds a reference to the JS object.
  upload_digest *state() { return digest_; }
  void set_busy(bool busy) { busy_ = busy; }

 private:
  // The state is used by one pool thread at a time and only in part order, so a second
  // call before the first settled, or a call after objectMd5(), is the caller's bug.
  bool Usable(Napi::Env env, const char *what) {
    const char *problem = digest_ == nullptr ? "has no digest state"
                          : busy_            ? "is still digesting the previous part"
                          : ended_           ? "already ended with objectMd5()"
                                             : nullptr;
    if (problem == nullptr) return true;
    MakeError(env, "invalid_state", std::string("UploadDigest.") + what + ": the upload " + problem)
        .ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value Part(const Napi::CallbackInfo &info);
  Napi::Value ObjectMd5(const Napi::CallbackInfo &info);

  upload_digest *digest_ = nullptr;
  bool busy_ = false;
  bool ended_ = false;
};

class PartWorker : public Napi::AsyncWorker {
 public:
  PartWorker(Napi::Env env, UploadDigest *owner, Napi::Object owner_object, Napi::Uint8Array bytes)
      : Napi::AsyncWorker(env, "chunker:upload-digest"),
        deferred_(Napi::Promise::Deferred::New(env)),
        owner_(owner),
        data_(bytes.Data()),
        len_(bytes.ByteLength()) {
    owner_object_ = Napi::Persistent(owner_object);
    bytes_ = Napi::Persistent(bytes);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    if (upload_digest_part(owner_->state(), data_, len_, md5_, sha256_) != 0) SetError("libcrypto failed to digest a part");
  }

  void OnOK() override {
    Napi::Env env = Env();
    owner_->set_busy(false);
    Napi::Object result = Napi::Object::New(env);
    result.Set("md5", Napi::Buffer<uint8_t>::Copy(env, md5_, UPLOAD_MD5_BYTES));
    result.Set("sha256", Napi::Buffer<uint8_t>::Copy(env, sha256_, UPLOAD_SHA256_BYTES));
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error &error) override {
    owner_->set_busy(false);
    deferred_.Reject(MakeError(Env(), "digest_failed", error.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  UploadDigest *owner_;
  Napi::ObjectReference owner_object_;
  Napi::Reference<Napi::Uint8Array> bytes_;
  const uint8_t *data_;
  size_t len_;
  uint8_t md5_[UPLOAD_MD5_BYTES] = {};
  uint8_t sha256_[UPLOAD_SHA256_BYTES] = {};
};

Napi::Value UploadDigest::Part(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !IsUint8Array(info[0])) {
    MakeError(env, "invalid_argument", "UploadDigest.part: expected a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!Usable(env, "part")) return env.Undefined();
  busy_ = true;
  auto *worker = new PartWorker(env, this, info.This().As<Napi::Object>(), info[0].As<Napi::Uint8Array>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value UploadDigest::ObjectMd5(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!Usable(env, "objectMd5")) return env.Undefined();
  ended_ = true;
  uint8_t md5[UPLOAD_MD5_BYTES];
  upload_digest_object_md5(digest_, md5);
  return Napi::Buffer<uint8_t>::Copy(env, md5, UPLOAD_MD5_BYTES);
}

}  // namespace

void RegisterUploadDigests(Napi::Env env, Napi::Object exports) { exports.Set("UploadDigest", UploadDigest::Define(env)); }

}  // namespace chunker
