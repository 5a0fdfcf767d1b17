/*
 * api_mhd: libmicrohttpd's entry points, loaded with dlopen when the API
 * starts. Linking it would load GnuTLS and its dependencies (about 2.5 MiB of
 * resident pages) into every agent, including the ones configured without an
 * API, and into `hound stacks` and `hound capture`.
 */
#ifndef HOUND_API_MHD_H
#define HOUND_API_MHD_H

#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

struct api_mhd {
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
	__typeof__(&MHD_lookup_connection_value) lookup_connection_value;
	__typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
	__typeof__(&MHD_add_response_header) add_response_header;
	__typeof__(&MHD_queue_response) queue_response;
	__typeof__(&MHD_destroy_response) destroy_response;
	__typeof__(&MHD_add_connection) add_connection;
	__typeof__(&MHD_create_response_from_fd) create_response_from_fd;
};

/*
 * The entry points, loaded once (thread-safe); they stay loaded until exit.
 * NULL with err set ("dlopen(libmicrohttpd.so.12): ...") when the library or
 * one of its symbols is missing.
 */
const struct api_mhd *api_mhd_load(char *err, size_t errlen);

#endif
