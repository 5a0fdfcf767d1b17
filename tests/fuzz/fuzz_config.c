/* fuzz_config: libFuzzer target for the YAML config loader and printer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = {0};
	struct hound_config *c = NULL;
	static FILE *devnull;

	if (!devnull) {
		/* Expansion must be deterministic: pin the variables the seeds use. */
		setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
		setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
		unsetenv("CLUSTER");
		devnull = fopen("/dev/null", "w");
	}
	if (config_load_buffer("fuzz.yaml", (const char *)data, size, &c, &errs) == 0) {
		/* A loaded config must print; a printed config must load again. */
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		struct hound_config *c2 = NULL;
		struct config_errors e2 = {0};

		config_print(c, f);
		fclose(f);
		if (config_load_buffer("fuzz.yaml", buf, len, &c2, &e2) != 0) {
			fprintf(stderr, "printed config does not load:\n%s\n", buf);
			for (size_t i = 0; i < e2.n; i++)
				fprintf(stderr, "%s\n", e2.msgs[i]);
			abort();
		}
		config_free(c2);
		config_errors_fini(&e2);
		free(buf);
		config_print(c, devnull);
	}
	config_free(c);
	config_errors_fini(&errs);
	return 0;
}
