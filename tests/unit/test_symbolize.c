/* test_symbolize: /proc/PID/maps parsing, and symbolizing this very process. */
#include "capture/native/symbolize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static const char maps_fixture[] =
    "55d0c0a00000-55d0c0a01000 r--p 00000000 fe:01 1311 /usr/bin/demo\n"
    "55d0c0a01000-55d0c0a02000 r-xp 00001000 fe:01 1311 /usr/bin/demo\n"
    "55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0          [heap]\n"
    "7f1000000000-7f1000010000 r-xp 00002000 fe:01 77 /opt/my app/lib one.so\n"
    "7f1000020000-7f1000030000 r-xp 00000000 00:05 99 /memfd:jit (deleted)\n"
    "7f1000040000-7f1000041000 rw-p 00000000 00:00 0 \n"
    "7ffd12345000-7ffd12347000 r-xp 00000000 00:00 0                  [vdso]\n";

static void test_parse(void)
{
	struct sym_map *m = NULL;
	size_t n = 0;

	is_int(sym_parse_maps(maps_fixture, strlen(maps_fixture), &m, &n), 0, "parse maps");
	is_int(n, 7, "seven mappings");
	if (n == 7) {
		is_int(m[1].start, 0x55d0c0a01000, "start");
		is_int(m[1].limit, 0x55d0c0a02000, "limit");
		is_int(m[1].offset, 0x1000, "offset");
		is_str(m[1].perms, "r-xp", "perms");
		is_str(m[1].path, "/usr/bin/demo", "path");
		is_str(m[2].path, "[heap]", "pseudo path");
		is_str(m[3].path, "/opt/my app/lib one.so", "a path with spaces");
		is_str(m[4].path, "/memfd:jit (deleted)", "a deleted file keeps its suffix");
		is_str(m[5].path, "", "anonymous memory has no path");
		is_str(sym_module_basename(&m[3]), "lib one.so", "basename");
		is_str(sym_module_basename(&m[5]), "?", "basename of anonymous memory");
	}
	sym_maps_free(m, n);
	is_int(sym_parse_maps("garbage\n", 8, &m, &n), -EINVAL, "a hostile line is refused");
	is_int(sym_parse_maps("1000-0500 r-xp 0 0:0 0 /x\n", 26, &m, &n), -EINVAL,
	       "limit below start is refused");
	is_int(sym_parse_maps("", 0, &m, &n), 0, "empty maps");
	is_int(n, 0, "no mappings");
	sym_maps_free(m, n);
}

__attribute__((noinline)) int probe_target(int x);
__attribute__((noinline)) int probe_target(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3 + 1;
}

static void test_self(void)
{
	symbolizer *z = symbolizer_new(4);
	sym_proc *p = NULL, *q = NULL;
	struct sym_frame f;
	char err[256];
	uint64_t pc = (uint64_t)(uintptr_t)&probe_target;

	is_int(sym_proc_open(z, getpid(), &p, err, sizeof(err)), 0, "open this process");
	if (!p)
		return;
	sym_proc_lookup(p, pc + 2, false, &f);
	is_str(f.function, "probe_target", "a static function by its .symtab name");
	is_int(f.function_offset, 2, "offset into the function");
	ok(f.map && strstr(f.map->path, "test_sym"), "module is the test binary");
	ok(f.map && strlen(f.map->build_id) == 40, "the test binary's build-id");
	ok(f.file && strstr(f.file, "test_symbolize.c") && f.line > 0,
	   "source file and line from DWARF");
	ok(f.file_offset > 0 && f.file_offset < (1u << 24), "file offset inside the binary");

	sym_proc_lookup(p, pc, true, &f);
	ok(f.lookup_pc == pc - 1 && (!f.function || strcmp(f.function, "probe_target") != 0),
	   "a return address is looked up at the call (pc - 1)");

	sym_proc_lookup(p, (uint64_t)(uintptr_t)&getpid, false, &f);
	ok(f.function && strstr(f.function, "getpid"), "a libc function by name (%s)",
	   f.function ? f.function : "null");
	ok(f.map && strstr(f.map->path, "libc"), "in libc");

	sym_proc_lookup(p, 0x10, false, &f);
	ok(!f.map && !f.function && !f.file, "an address in no mapping stays unknown");

	/* A second view of the same process reuses the cached modules. */
	is_int(sym_proc_open_flags(z, getpid(), 0, &q, err, sizeof(err)), 0, "second view");
	if (q) {
		sym_proc_lookup(q, pc + 2, false, &f);
		is_str(f.function, "probe_target", "second view names it");
		ok(f.file == NULL, "no lines unless asked");
		sym_proc_free(q);
	}
	sym_proc_free(p);
	symbolizer_free(z);

	is_int(sym_proc_open(symbolizer_shared(), 0x3ffffff0, &p, err, sizeof(err)), -ENOENT,
	       "a missing process fails");
	ok(strstr(err, "/proc/1073741808/maps") != NULL, "naming the file: %s", err);
}

int main(void)
{
	test_parse();
	test_self();
	return done_testing();
}
