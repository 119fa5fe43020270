// What every part of the addon shares when it talks back to JS: errors carry a `code`
// (port/errors.ts maps them to protocol error codes), and byte arguments are Uint8Arrays
// (a Buffer is one).
#pragma once

#include <napi.h>

#include <string>

namespace chunker {

inline Napi::Error MakeError(Napi::Env env, const char *code, const std::string &message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

inline bool IsUint8Array(const Napi::Value &value) {
  return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
}

}  // namespace chunker
