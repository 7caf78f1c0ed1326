// libbpf alone, for telling whose a fuzzing finding is: the input through bpf_object__open_mem, load and
// close, as bpfkit calls them. A crash or hang here is libbpf's (or the kernel's), not bpfkit's.
//   cc -o harness test/fuzz/libbpf.c -Ideps/linux-x64/include deps/linux-x64/lib/{libbpf,libelf,libeu,libz}.a
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>

static int quiet(enum libbpf_print_level level, const char *format, va_list args) { return 0; }

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OBJECT\n", argv[0]);
    return 2;
  }
  FILE *file = fopen(argv[1], "rb");
  if (file == NULL) return 2;
  static char bytes[64 << 20];
  size_t size = fread(bytes, 1, sizeof(bytes), file);
  fclose(file);
  libbpf_set_print(quiet);
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "fuzz");
  struct bpf_object *object = bpf_object__open_mem(bytes, size, &opts);
  if (object == NULL) return 0;
  bpf_object__load(object);
  bpf_object__close(object);
  return 0;
}
