/* html: escaping untrusted text for HTML pages. */
#ifndef HOUND_HTML_H
#define HOUND_HTML_H

#include <stdio.h>

/*
 * Writes s with & < > " ' as character references, so text from a bundle
 * (process names, frame names, alert labels) is inert in element content and
 * in quoted attribute values alike. NULL writes nothing.
 */
void html_escape(FILE *out, const char *s);

#endif
