{
  "targets": [
    {
      "target_name": "bpfkit",
      "sources": ["<!@(node scripts/build-config.js sources)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/build-config.js include <(target_arch))"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "BPFKIT_SOURCE_HASH=\"<!(node scripts/build-config.js hash)\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-fexceptions", "<!@(node scripts/build-config.js cflags)"],
      "libraries": ["<!@(node scripts/build-config.js libs <(target_arch))"]
    }
  ]
}
