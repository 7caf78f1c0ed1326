// Capabilities: dropping all but a kept set in every thread of the process (capset is per thread).
#pragma once

#include <napi.h>

namespace bpfkit {

// dropCapabilities(keep: number[]) → { threads, failed: [{ tid, errno }], unanswered: tid[], unreachable: tid[] }
Napi::Value DropCapabilities(const Napi::CallbackInfo& info);

}  // namespace bpfkit
