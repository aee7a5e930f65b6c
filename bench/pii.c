/* bench/pii.c: PII detection and pseudonymisation throughput on one core.
 *
 *   bench_pii [seconds]     (default 2 per row)
 *
 * Messages are chat-sized (60..300 bytes) drawn from a fixed mix: plain
 * text, text with one or two PII values, and number-heavy text (dates,
 * prices, order numbers) that the validators must reject. Rows: detect
 * only; detect + pseudonymise (one mapping per 20-message job); the same
 * with a custom PCRE2 pattern; detect with the names asset (PERSON_NAME and
 * its context model) when it is installed, and then one adversarial body
 * with it: "Abc x@ " repeated over 64 KiB, 256 KiB and 1 MiB (a capitalised
 * candidate and an '@' every 7 bytes; review finding F7: the e-mail check
 * walked every '@' for every candidate, quadratic). Prints messages/s and
 * MB/s (and ms per body); asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_asset.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_pseudo.h"
#include "zentalk/zt_time.h"

static const char *const msgs[] = {
    "Hey, are we still on for lunch tomorrow? I was thinking about that new place near the station.",
    "Sure! Send the invoice to alice.martin@example.com and copy bob@example.org please.",
    "My number changed, it's +44 20 7946 0018 now, or try the office (212) 555-0123 after 5pm.",
    "Order 1234567890 shipped on 2024-03-01, total $1,299.00, tracking 1Z999AA10123456784.",
    "Pay to DE89 3704 0044 0532 0130 00 before Friday, reference INV-2024-0042, thanks!",
    "The card ending 1111 was declined: 4111 1111 1111 1111, exp 12/27. Can you retry?",
    "Server 192.0.2.17 and 2001:db8::42 are down again since 10:30, version 2.10.3 deployed.",
    "Tip me at 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed or bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "lol that was hilarious, see you at 8, room 4.12, bring 3 x 4 boards and the 2024 report",
    "Meeting moved to 15.01.2025 14:00, call-in 0049 30 1234567, PIN 4412, agenda attached.",
    "Ask Priya and Will about the deck; Sophie said Mark already booked the room with Grace.",
};
#define N_MSGS (sizeof msgs / sizeof msgs[0])

/* One zt_pii_detect of "Abc x@ " repeated over size bytes: ms. */
static void adversarial(const struct zt_pii_detector *d, size_t size)
{
    static const char unit[] = "Abc x@ ";
    char *t = malloc(size);
    if (!t) abort();
    for (size_t i = 0; i < size; i++) t[i] = unit[i % (sizeof unit - 1)];
    struct zt_pii_hits h;
    zt_pii_hits_init(&h);
    uint64_t t0 = zt_time_mono_ns();
    int rc = zt_pii_detect(d, t, size, &h);
    double ms = (double)(zt_time_mono_ns() - t0) / 1e6;
    printf("names, \"Abc x@ \" x %4zu KiB: %10.1f ms  (rc %d, %zu hits)\n", size >> 10, ms, rc, h.n);
    zt_pii_hits_deinit(&h);
    free(t);
}

static void row(const char *name, const struct zt_pii_detector *d, bool pseudo, double secs)
{
    struct zt_pii_hits h;
    zt_pii_hits_init(&h);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    struct zt_pseudo *p = NULL;
    uint64_t n = 0, bytes = 0, hits = 0;
    uint64_t t0 = zt_time_mono_ns(), deadline = t0 + (uint64_t)(secs * 1e9);
    uint64_t now = t0;
    while (now < deadline) {
        for (int k = 0; k < 20; k++, n++) {
            const char *m = msgs[n % N_MSGS];
            size_t len = strlen(m);
            if (zt_pii_detect(d, m, len, &h) != 0) abort();
            hits += h.n;
            if (pseudo) {
                if (!p && zt_pseudo_new(d, &p) != 0) abort();
                zt_buf_reset(&out);
                if (zt_pseudo_apply(p, m, len, &h, &out) != 0) abort();
            }
            bytes += len;
        }
        zt_pseudo_free(p); /* one job = 20 messages */
        p = NULL;
        now = zt_time_mono_ns();
    }
    double el = (double)(now - t0) / 1e9;
    printf("%-34s %10.0f msg/s %8.1f MB/s  (%.2f hits/msg)\n", name, (double)n / el, (double)bytes / el / 1e6,
           (double)hits / (double)n);
    zt_buf_deinit(&out);
    zt_pii_hits_deinit(&h);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    if (!(secs > 0 && secs < 600)) secs = 2.0;
    struct zt_cfg_pii_pattern pat = {.type = "INVOICE", .regex = "INV-[0-9]{4}-[0-9]{4}"};
    struct zt_cfg_privacy cfg = {.extra_patterns = &pat, .n_extra_patterns = 1};
    struct zt_pii_detector *custom = NULL;
    if (zt_pii_detector_new(&cfg, &custom, NULL) != 0) return 1;
    printf("PII detection, one core, %zu-message mix, %.0f s per row\n", N_MSGS, secs);
    row("detect (built-in types)", NULL, false, secs);
    row("detect + pseudonymise", NULL, true, secs);
    row("detect + pseudonymise + 1 PCRE2", custom, true, secs);
    zt_pii_detector_free(custom);
    /* PERSON_NAME: the names asset (and the name model) when installed */
    struct zt_pii_detector *names = NULL;
    char path[4096];
    struct zt_asset a;
    if (zt_asset_path("data", ZT_PII_NAMES_ASSET, path, sizeof path) == 0 &&
        zt_asset_load(path, ZT_PII_NAMES_KIND, ZT_PII_NAMES_VERSION, &a) == 0) {
        if (zt_pii_detector_new(NULL, &names, NULL) == 0 && zt_pii_detector_set_names(names, a.data, a.len) == 0)
        {
            row("detect with the names list", names, false, secs);
            for (size_t kib = 64; kib <= 1024; kib *= 4) adversarial(names, kib << 10);
        }
        zt_pii_detector_free(names);
        zt_asset_deinit(&a);
    } else {
        printf("detect with the names list: skipped (data/assets/%s not installed)\n", ZT_PII_NAMES_ASSET);
    }
    return 0;
}
