// Node glue for native/core/upload_digest.h; see upload_digests.cc.
#pragma once

#include <napi.h>

namespace chunker {

// Adds the `UploadDigest` class to the addon's exports.
void RegisterUploadDigests(Napi::Env env, Napi::Object exports);

}  // namespace chunker
