// Node glue for native/core/codec.h; see codecs.cc.
#pragma once

#include <napi.h>

namespace chunker {

// Adds `codecs` (compression, decompression, dictionaries) to the addon's exports.
void RegisterCodecs(Napi::Env env, Napi::Object exports);

}  // namespace chunker
