/* test_fds: /proc/net lines, group keys and the fd limit, table-driven. */
#include <string.h>

#include "capture/native/fds.h"
#include "tap.h"

static void net_lines(void)
{
	static const struct {
		const char *proto, *line, *desc;
		unsigned long long inode;
	} cases[] = {
	    {"tcp",
	     "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
	     "31337 1 0000000000000000 100 0 0 10 0",
	     "tcp LISTEN 127.0.0.1:8080", 31337},
	    {"tcp",
	     "   1: 0100007F:A2C4 0500000A:1538 01 00000000:00000000 00:00000000 00000000  1000        0 "
	     "4242 1 0000000000000000 20 4 30 10 -1",
	     "tcp ESTABLISHED peer 10.0.0.5:5432", 4242},
	    {"tcp",
	     "   2: 0100007F:A2C4 0500000A:1538 08 00000000:00000000 00:00000000 00000000  1000        0 "
	     "99 1 0000000000000000 20 4 30 10 -1",
	     "tcp CLOSE_WAIT peer 10.0.0.5:5432", 99},
	    {"tcp6",
	     "   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A "
	     "00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0",
	     "tcp6 LISTEN [::1]:80", 777},
	    {"udp",
	     "  12: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 "
	     "555 2 0000000000000000 0",
	     "udp UNCONN 0.0.0.0:5353", 555},
	    {"unix", "0000000000000000: 00000002 00000000 00010000 0001 01 1234 /run/app.sock",
	     "unix STREAM LISTEN /run/app.sock", 1234},
	    {"unix", "0000000000000000: 00000003 00000000 00000000 0001 03 5678",
	     "unix STREAM CONNECTED (unnamed)", 5678},
	    {"unix", "0000000000000000: 00000002 00000000 00000000 0002 01 91 @/tmp/.X11-unix/X0",
	     "unix DGRAM UNCONNECTED @/tmp/.X11-unix/X0", 91},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fds_socket s;
		int rc = fds_parse_net_line(cases[i].proto, cases[i].line, &s);
		is_int(rc, 0, "%s: parsed", cases[i].desc);
		ok(!strcmp(s.desc, cases[i].desc), "%s: described", cases[i].desc);
		if (strcmp(s.desc, cases[i].desc))
			printf("#   got '%s'\n", s.desc);
		is_int((long long)s.inode, (long long)cases[i].inode, "%s: inode", cases[i].desc);
	}
	struct fds_socket s;
	ok(fds_parse_net_line("unix", "Num       RefCount Protocol Flags    Type St Inode Path", &s) < 0,
	   "the unix header line is refused");
	ok(fds_parse_net_line("tcp",
			      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
			      "retrnsmt   uid  timeout inode",
			      &s) < 0,
	   "the header line is refused");
	ok(fds_parse_net_line("tcp", "   0: zz:1 00000000:0000 0A", &s) < 0, "garbage is refused");
}

static void keys(void)
{
	struct fds_socket socks[] = {{.inode = 10, .desc = "tcp LISTEN 0.0.0.0:80"},
				     {.inode = 20, .desc = "tcp ESTABLISHED peer 10.0.0.5:5432"}};
	char k[256];
	fds_group_key("socket:[20]", socks, 2, k, sizeof(k));
	ok(!strcmp(k, "tcp ESTABLISHED peer 10.0.0.5:5432"), "a known socket: its description");
	fds_group_key("socket:[30]", socks, 2, k, sizeof(k));
	ok(!strncmp(k, "socket (not tcp, udp or unix", 28), "an unknown socket: said so");
	fds_group_key("pipe:[12345]", socks, 2, k, sizeof(k));
	ok(!strcmp(k, "pipe"), "pipes group together whatever their inode");
	fds_group_key("/dev/null", socks, 2, k, sizeof(k));
	ok(!strcmp(k, "/dev/null"), "a file: its path");
	fds_group_key("anon_inode:[eventfd]", socks, 2, k, sizeof(k));
	ok(!strcmp(k, "anon_inode:[eventfd]"), "an anonymous inode: its kind");
	fds_group_key("/tmp/x (deleted)", socks, 2, k, sizeof(k));
	ok(!strcmp(k, "/tmp/x (deleted)"), "a deleted file keeps the mark");
}

static void limits(void)
{
	long long s, h;
	const char *l = "Limit                     Soft Limit           Hard Limit           Units\n"
			"Max processes             63704                63704                processes\n"
			"Max open files            1024                 524288               files\n";
	is_int(fds_parse_limits(l, &s, &h), 0, "limits parsed");
	is_int(s, 1024, "soft limit");
	is_int(h, 524288, "hard limit");
	is_int(fds_parse_limits("Max open files unlimited unlimited files\n", &s, &h), 0,
	       "unlimited parsed");
	is_int(s, -1, "unlimited is -1");
	ok(fds_parse_limits("Max processes 1 1\n", &s, &h) < 0, "no fd line: an error");
}

int main(void)
{
	net_lines();
	keys();
	limits();
	return done_testing();
}
