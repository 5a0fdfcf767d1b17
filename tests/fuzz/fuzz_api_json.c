/* fuzz_api_json: libFuzzer target for everything the API parses from a client. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_json.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hound_config *cfg;
static FILE *devnull;

static void setup(void)
{
	static const char yaml[] =
	    "output: /nonexistent\n"
	    "api: {listen: 127.0.0.1:9155}\n"
	    "targets:\n"
	    "  - name: api\n    match: {comm: api}\n"
	    "  - name: db\n    match: {comm: db}\n"
	    "alerts:\n"
	    "  - match: {alertname: KubePodHighMemory}\n    target: api\n    capture: [heap]\n"
	    "  - match: {alertname: ProcessHot}\n    target_label: hound_target\n"
	    "    capture: [stacks]\n";
	if (config_load_buffer("fuzz.yaml", yaml, sizeof(yaml) - 1, &cfg, NULL) < 0)
		abort();
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_capture_body b;
	struct api_webhook w;
	char err[API_ERR_LEN], key[256];
	bool bad_kind;

	if (!cfg)
		setup();
	/* The server hands handlers a NUL-terminated copy; so does the fuzzer. */
	char *body = malloc(size + 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';

	if (api_parse_capture(body, size, &b, &bad_kind, err, sizeof(err)) < 0 &&
	    !memchr(err, '\0', sizeof(err)))
		abort(); /* error text must be terminated */
	api_capture_body_fini(&b);

	if (api_parse_webhook(body, size, &w, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < w.nalerts; i++) {
			const char *target = NULL;
			if (api_route_alert(cfg, &w.alerts[i], &target) && !target)
				abort();
			api_alert_dedup_key(&w.alerts[i], target ? target : "t", key, sizeof(key));
		}
	}
	api_webhook_fini(&w);

	api_status_render(devnull, "fuzz", 200, body, body, body);
	free(body);
	return 0;
}
