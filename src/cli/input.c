/* input.c: the text a CLI command works on (input.h). */
#include <stdio.h>
#include <string.h>

#include "input.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_str.h"

int zt__cli_read_stdin(struct zt_buf *b)
{
    int rc = zt_file_read_stream(stdin, b);
    if (rc == ZT_EIO) {
        fprintf(stderr, "zentalk: cannot read stdin\n");
        return 1;
    }
    if (rc) {
        fprintf(stderr, "zentalk: the input is longer than %zu bytes\n", b->max);
        return 2;
    }
    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r')) b->data[--b->len] = '\0';
    return 0;
}

int zt__cli_read_text(int argc, char **argv, struct zt_buf *b)
{
    if (argc == 0 || (argc == 1 && strcmp(argv[0], "-") == 0)) {
        int rc = zt__cli_read_stdin(b);
        if (rc) return rc;
    } else {
        for (int i = 0; i < argc; i++)
            if ((i && zt_buf_append_byte(b, ' ') != 0) || zt_buf_append_str(b, argv[i]) != 0) {
                fprintf(stderr, "zentalk: the text is longer than %zu bytes\n", b->max);
                return 2;
            }
    }
    if (b->len == 0) {
        fprintf(stderr, "zentalk: no text given (arguments or stdin)\n");
        return 2;
    }
    if (!zt_utf8_valid(b->data, b->len)) {
        fprintf(stderr, "zentalk: the text is not valid UTF-8\n");
        return 2;
    }
    return 0;
}
