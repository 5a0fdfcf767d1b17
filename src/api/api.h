/* api: the HTTP API (libmicrohttpd): health, metrics, targets, captures, alerts. */
#ifndef HOUND_API_H
#define HOUND_API_H

#include "agent/agent.h"
#include "config/config.h"

struct api_server;

/* Starts listening on conf->listen; the server only calls agent_* functions. 0 or -errno. */
int api_server_start(agent *a, const struct api_conf *conf, struct api_server **out);
/* Stops accepting, finishes in-flight requests, frees. NULL is fine. */
void api_server_stop(struct api_server *s);
/* The API as a service of the agent: started when the config has an api: section. */
const struct agent_service *api_agent_service(void);

#endif
