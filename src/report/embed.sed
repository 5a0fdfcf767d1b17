# embed.sed: each line of a text file as a line of a C string literal.
s/\\/\\\\/g
s/"/\\"/g
s/	/\\t/g
s/^/	"/
s/$/\\n"/
