// The program uprobe-core reads: two builds of one source whose `struct data` differs. Built plain it
// is {a, c, d}; with -DLAYOUT2 a field b comes before c. Both fill a=1 (b=2) c=3 d=4 and pass the struct
// to add_test(), once, after a line on stdin (the tracer attaches first).
#include <stdio.h>
#include <unistd.h>

struct data {
	int a;
#ifdef LAYOUT2
	int b;
#endif
	int c;
	int d;
};

/* noinline: add_test() must be a real function with a symbol for the uprobe. */
__attribute__((noinline)) int add_test(struct data *d)
{
	return d->a + d->c;
}

int main(void)
{
#ifdef LAYOUT2
	struct data d = { .a = 1, .b = 2, .c = 3, .d = 4 };
#else
	struct data d = { .a = 1, .c = 3, .d = 4 };
#endif
	char line[16];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	if (read(STDIN_FILENO, line, sizeof(line)) <= 0)
		return 1;
	/*
	 * The compiler sees that add_test() reads only a and c and would drop the stores to b and d: this
	 * makes the whole struct reach memory, as in a real program whose callee reads every field.
	 */
	__asm__ volatile("" : : "r"(&d) : "memory");
	printf("add_test(&d) = %d\n", add_test(&d));
	return 0;
}
