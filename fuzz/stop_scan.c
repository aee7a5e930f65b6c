/* fuzz/stop_scan.c: the runner's stop-string cutting (src/engine/stopscan.c)
 * with arbitrary text, empty tails and stop strings (issue 17 item 4: the
 * runner's text emission with edge values). Input: one byte n_stop (mod 5),
 * then n_stop NUL-terminated stop strings, then the text; the byte after
 * the stops chooses a chunk size. Properties: the text fed in chunks, with
 * what may not be emitted held back exactly as the runner holds it, emits
 * a prefix of the text that never contains a stop string, stops exactly
 * when the text holds one, and otherwise ends with all of the text (a
 * shorter stop completing inside a longer one's prefix may end the stream
 * earlier than a one-pass scan would); one final pass emits up to where the
 * first stop string starts, or everything. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/engine/stopscan.h"

#define MAX_STOP 4
#define MAX_STOP_LEN 32
#define MAX_TEXT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool occurs(const char *h, size_t hl, const char *n)
{
    size_t nl = strlen(n);
    for (size_t i = 0; i + nl <= hl; i++)
        if (memcmp(h + i, n, nl) == 0) return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t n_stop = data[0] % (MAX_STOP + 1), pos = 1;
    char stops_buf[MAX_STOP][MAX_STOP_LEN + 1];
    const char *stops[MAX_STOP];
    size_t ns = 0;
    for (size_t s = 0; s < n_stop && pos < size; s++) {
        size_t l = 0;
        while (pos < size && data[pos] && l < MAX_STOP_LEN) stops_buf[ns][l++] = (char)data[pos++];
        if (pos < size && !data[pos]) pos++;
        stops_buf[ns][l] = '\0';
        if (l) { /* the runner refuses empty stop strings at submit */
            stops[ns] = stops_buf[ns];
            ns++;
        }
    }
    size_t chunk = pos < size ? (size_t)data[pos++] % 7 + 1 : 1;
    const char *text = (const char *)data + pos;
    size_t tl = size - pos;
    if (tl > MAX_TEXT) tl = MAX_TEXT;

    /* one pass, final */
    size_t whole_emit = 0;
    bool whole_stop = zt__stop_scan(tl ? text : NULL, tl, stops, ns, true, &whole_emit);
    if (whole_emit > tl) abort();
    if (!whole_stop && whole_emit != tl) abort();
    for (size_t s = 0; s < ns; s++)
        if (occurs(text, whole_emit, stops[s])) abort();
    if (whole_stop) {
        bool starts = false;
        for (size_t s = 0; s < ns; s++)
            starts |= whole_emit + strlen(stops[s]) <= tl &&
                      memcmp(text + whole_emit, stops[s], strlen(stops[s])) == 0;
        if (!starts) abort();
    }

    /* streamed in chunks, holding back as the runner does */
    char held[MAX_TEXT], out[MAX_TEXT];
    size_t hl = 0, ol = 0, i = 0;
    bool stopped = false;
    while (!stopped) {
        bool final = i >= tl;
        size_t take = final ? 0 : (tl - i < chunk ? tl - i : chunk);
        memcpy(held + hl, text + i, take);
        hl += take;
        i += take;
        size_t emit = 0;
        stopped = zt__stop_scan(hl ? held : NULL, hl, stops, ns, final, &emit);
        if (emit > hl) abort();
        memcpy(out + ol, held, emit);
        ol += emit;
        memmove(held, held + emit, hl - emit);
        hl -= emit;
        if (final) break;
    }
    if (ol > tl || memcmp(out, text, ol) != 0) abort();
    for (size_t s = 0; s < ns; s++)
        if (occurs(out, ol, stops[s])) abort();
    if (stopped != whole_stop) abort();
    if (!stopped && ol != tl) abort();
    return 0;
}
