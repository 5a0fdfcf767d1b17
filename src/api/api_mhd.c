/* api_mhd: libmicrohttpd's entry points, loaded with dlopen when the API starts. */
#include "api/api_mhd.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The ABI hound is built against (Debian 12: libmicrohttpd12). */
#define LIBMHD_SONAME "libmicrohttpd.so.12"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct api_mhd mhd;
static int loaded;
static char load_error[256];

static void load(void)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
		{"MHD_start_daemon", offsetof(struct api_mhd, start_daemon)},
		{"MHD_stop_daemon", offsetof(struct api_mhd, stop_daemon)},
		{"MHD_lookup_connection_value", offsetof(struct api_mhd, lookup_connection_value)},
		{"MHD_create_response_from_buffer",
		 offsetof(struct api_mhd, create_response_from_buffer)},
		{"MHD_add_response_header", offsetof(struct api_mhd, add_response_header)},
		{"MHD_queue_response", offsetof(struct api_mhd, queue_response)},
		{"MHD_destroy_response", offsetof(struct api_mhd, destroy_response)},
		{"MHD_add_connection", offsetof(struct api_mhd, add_connection)},
		{"MHD_create_response_from_fd", offsetof(struct api_mhd, create_response_from_fd)},
	};
	void *lib = dlopen(LIBMHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(load_error, sizeof(load_error), "dlopen(%s): %s", LIBMHD_SONAME, dlerror());
		return;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *fn = dlsym(lib, syms[i].name);
		if (!fn) {
			snprintf(load_error, sizeof(load_error), "dlsym(%s, %s): %s", LIBMHD_SONAME,
				 syms[i].name, dlerror());
			return;
		}
		memcpy((char *)&mhd + syms[i].off, &fn, sizeof(fn));
	}
	loaded = 1;
}

const struct api_mhd *api_mhd_load(char *err, size_t errlen)
{
	pthread_once(&once, load);
	if (!loaded)
		snprintf(err, errlen, "%s", load_error);
	return loaded ? &mhd : NULL;
}
