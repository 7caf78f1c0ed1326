// Types for dependencies that ship none.
declare module 'node-gyp-build' {
  /** Loads the addon of the package in `dir`: its local build, else the prebuild matching this platform. */
  function nodeGypBuild(dir: string): unknown
  namespace nodeGypBuild {
    /** The file nodeGypBuild(dir) would load; throws when there is none. */
    function path(dir: string): string
  }
  export = nodeGypBuild
}
