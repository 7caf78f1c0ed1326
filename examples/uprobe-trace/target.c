// The program uprobe-trace traces: after a line on stdin it calls checksum() on a fixed list of
// words, one call every interval_ms (argv[1], default 100), until its stdin closes.
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const words[] = { "hello", "bpfkit", "uprobe", "", "Compile Once - Run Everywhere" };

/* noinline: the call must stay a call for the uprobe and the uretprobe to see it. */
__attribute__((noinline)) int checksum(const char *s, int len)
{
	unsigned int h = 0;
	for (int i = 0; i < len; i++)
		h = h * 31 + (unsigned char)s[i];
	return (int)h;
}

int main(int argc, char **argv)
{
	int interval_ms = argc > 1 ? atoi(argv[1]) : 100;
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
	char buffer[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	/* The tracer attaches to this pid, then writes a line. */
	if (read(STDIN_FILENO, buffer, sizeof(buffer)) <= 0)
		return 1;
	for (unsigned long i = 0;; i++) {
		const char *w = words[i % (sizeof(words) / sizeof(words[0]))];
		/* Printed, so the compiler cannot drop a call whose result would be unused. */
		printf("%d\n", checksum(w, (int)strlen(w)));
		/* The pause between calls, cut short when stdin closes: the tracer is gone, so are we. */
		if (poll(&in, 1, interval_ms) > 0 && read(STDIN_FILENO, buffer, sizeof(buffer)) <= 0)
			return 0;
	}
}
