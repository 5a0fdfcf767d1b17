/* api: the HTTP API (libmicrohttpd): health, metrics, targets, captures, alerts. */
#ifndef HOUND_API_H
#define HOUND_API_H

#include <stddef.h>
#include <stdio.h>

#include "agent/agent.h"
#include "config/config.h"

struct api_server;

/* Starts listening on conf->listen; the server only calls agent_* functions. 0 or -errno. */
int api_server_start(agent *a, const struct api_conf *conf, struct api_server **out);
/* Stops accepting, finishes in-flight requests, frees. NULL is fine. */
void api_server_stop(struct api_server *s);
/*
 * What writes a bundle's HTML page for GET /v1/captures/{id}/report.html
 * (the report layer sits beside the API, so the command that runs the agent
 * hands it over). It writes the page for the bundle directory dir to out and
 * returns 0, or -errno with a sentence in err. Unset: that URL answers 404.
 */
typedef int (*api_report_fn)(const char *dir, FILE *out, char *err, size_t errlen);
void api_set_report_renderer(api_report_fn fn);

/* The API as a service of the agent: started when the config has an api: section. */
const struct agent_service *api_agent_service(void);

#endif
