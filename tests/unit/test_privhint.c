/* test_privhint: the reason given for a refusal follows the facts, one case each. */
#include <string.h>

#include "capture/native/privhint.h"
#include "tap.h"

#define CAPS_ROOT 0x1ffffffffffULL
#define PTRACE_BIT (1ULL << 19)
#define PERFMON_BIT (1ULL << 38)

static const char *decide(struct privhint_facts f, enum privhint_need need)
{
	static char out[512];
	return privhint_decide(&f, need, 42, out, sizeof(out));
}

static struct privhint_facts root_facts(void)
{
	struct privhint_facts f = {.state = 'S', .ppid = 1, .caps = CAPS_ROOT, .self_prm = CAPS_ROOT,
				   .target_prm = CAPS_ROOT, .yama_scope = 0, .perf_paranoid = 2};
	return f;
}

int main(void)
{
	struct privhint_facts f = root_facts();
	f.state = 0;
	is_str(decide(f, PRIVHINT_PTRACE), "process 42 has exited", "gone");

	f = root_facts();
	f.state = 'Z';
	f.ppid = 7;
	ok(strstr(decide(f, PRIVHINT_PTRACE), "is a zombie") &&
	       strstr(decide(f, PRIVHINT_PTRACE), "parent (PID 7)"),
	   "zombie, as root: a zombie, never a capability (%s)", decide(f, PRIVHINT_PTRACE));
	ok(!strstr(decide(f, PRIVHINT_PTRACE), "CAP_"), "the zombie hint names no capability");

	f = root_facts();
	f.flags = 0x4;
	is_str(decide(f, PRIVHINT_PERF), "process 42 is exiting", "PF_EXITING: exiting");

	f = root_facts();
	f.comm = "newprog";
	f.expect_comm = "oldprog";
	ok(strstr(decide(f, PRIVHINT_PTRACE), "ran exec during the capture ('oldprog' is now 'newprog')") != NULL,
	   "comm changed: an exec race (%s)", decide(f, PRIVHINT_PTRACE));

	f = root_facts();
	f.tracer = 99;
	ok(strstr(decide(f, PRIVHINT_PTRACE), "already traced by PID 99") != NULL, "traced");

	f = root_facts();
	f.caps = 0;
	f.self_prm = 0;
	f.self_uid = 65534;
	f.target_uid = 0;
	is_str(decide(f, PRIVHINT_PTRACE),
	       "hound lacks CAP_SYS_PTRACE and process 42 runs as uid 0 (hound: uid 65534)",
	       "another user, no capability");
	ok(strstr(decide(f, PRIVHINT_PERF), "also needs CAP_PERFMON") != NULL,
	   "perf: also names CAP_PERFMON under paranoid 2");

	f = root_facts();
	f.caps = CAPS_ROOT & ~PTRACE_BIT;
	f.self_prm = CAPS_ROOT & ~PTRACE_BIT;
	ok(strstr(decide(f, PRIVHINT_PTRACE), "holds capabilities hound does not") != NULL,
	   "same uid, target holds more capabilities (%s)", decide(f, PRIVHINT_PTRACE));

	f = root_facts();
	f.caps = 0;
	f.self_prm = 0;
	f.target_prm = 0;
	f.self_uid = f.target_uid = 1000;
	f.proc_owner = 0;
	ok(strstr(decide(f, PRIVHINT_PTRACE), "not dumpable") != NULL, "setuid program: not dumpable");

	f.proc_owner = 1000;
	f.yama_scope = 1;
	ok(strstr(decide(f, PRIVHINT_PTRACE), "ptrace_scope is 1") != NULL, "yama scope 1");
	f = root_facts();
	f.yama_scope = 3;
	ok(strstr(decide(f, PRIVHINT_PTRACE), "ptrace_scope is 3") != NULL, "yama scope 3");

	f = root_facts();
	f.caps = CAPS_ROOT & ~(PERFMON_BIT | (1ULL << 21));
	f.perf_paranoid = 3;
	ok(strstr(decide(f, PRIVHINT_PERF), "lacks CAP_PERFMON and kernel.perf_event_paranoid is 3") != NULL,
	   "perf: paranoid without CAP_PERFMON");

	f = root_facts();
	ok(strstr(decide(f, PRIVHINT_PTRACE), "refused although hound has CAP_SYS_PTRACE") != NULL,
	   "everything allowed, still refused: a policy (%s)", decide(f, PRIVHINT_PTRACE));
	return done_testing();
}
