/* test_moderation.c: word-list moderation (zt_moderation.h) on the real
 * asset (data/assets/moderation.zta from LDNOOBW and config/moderation/;
 * `make data`): categories, obfuscations, the Scunthorpe problem, links,
 * thresholds and actions, masking, malformed payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_moderation.h"
#include "zt_test.h"

static struct zt_moderation *mod;

/* the asset of `make data`; tests skip (with the reason printed) without it */
#define NEED_ASSET()          \
    do {                      \
        if (!mod) skip();     \
    } while (0)
static struct zt_moderation_policy pol = {
    .threshold = 0.7,
    .actions = {ZT_MOD_FLAG, ZT_MOD_FLAG, ZT_MOD_BLOCK, ZT_MOD_BLOCK, ZT_MOD_FLAG, ZT_MOD_FLAG},
};

static int setup(void **state)
{
    (void)state;
    char path[4096];
    if (zt_asset_path("data", ZT_MODERATION_ASSET, path, sizeof path) != 0) return -1;
    int rc = zt_moderation_load(path, &mod);
    if (rc) {
        zt_skip_part("cannot load %s: %s (run `make data`)", path, zt_strerror(rc));
        mod = NULL;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zt_moderation_free(mod);
    return 0;
}

static struct zt_moderation_result check(const char *text)
{
    struct zt_moderation_result r;
    int rc = zt_moderation_check(mod, text, strlen(text), &pol, &r);
    assert_int_equal(rc, 0);
    return r;
}

static void dump(const char *text, const struct zt_moderation_result *r)
{
    print_error("%s: action %s,", text, zt_moderation_action_name(r->action));
    for (int c = 0; c < ZT_MOD_N_CATEGORIES; c++)
        if (r->score[c] > 0) print_error(" %s=%.3f", zt_moderation_category_name((enum zt_mod_category)c), r->score[c]);
    for (size_t i = 0; i < r->n_matches; i++) print_error(" [%s]", r->matches[i].term);
    print_error("\n");
}

static void expect(const char *text, enum zt_mod_category cat, const char *term)
{
    struct zt_moderation_result r = check(text);
    bool found = !term;
    for (size_t i = 0; i < r.n_matches && !found; i++)
        found = r.matches[i].category == cat && strcmp(r.matches[i].term, term) == 0;
    if (!r.matched[cat] || !found) {
        dump(text, &r);
        fail_msg("expected %s %s", zt_moderation_category_name(cat), term ? term : "");
    }
}

static void expect_clean(const char *text)
{
    struct zt_moderation_result r = check(text);
    if (r.n_matches != 0 || r.action != ZT_MOD_ALLOW) {
        dump(text, &r);
        fail_msg("expected no match");
    }
}

static void test_clean_and_scunthorpe(void **state)
{
    (void)state;
    NEED_ASSET();
    assert_true(zt_moderation_size(mod) > 2000);
    expect_clean("");
    expect_clean("Hello, how are you today?");
    expect_clean("Scunthorpe United won on Saturday");
    expect_clean("The assassin hid in the classroom");
    expect_clean("She is a therapist in Essex");
    expect_clean("Our class passed the assessment");
    expect_clean("I owe you 455 dollars and 13 cents");
    expect_clean("Visit https://example.com/docs for the manual");
    expect_clean("mail me at someone@example.com");
    expect_clean("Cocktails at the Dickens pub, then shitake mushrooms");
}

static void test_categories(void **state)
{
    (void)state;
    NEED_ASSET();
    expect("what the fuck is this", ZT_MOD_PROFANITY, "f***");
    expect("this is bullshit", ZT_MOD_PROFANITY, "b*******");
    expect("free porn here", ZT_MOD_SEXUAL, "p***");
    expect("pornification everywhere", ZT_MOD_SEXUAL, "p***");
    expect("you stupid faggot", ZT_MOD_HATE, "f*****");
    expect("I will kill you tomorrow", ZT_MOD_HARASSMENT, "i w*** k*** y**");
    expect("I'll kill you", ZT_MOD_HARASSMENT, NULL);
    expect("sometimes I want to kill myself", ZT_MOD_SELF_HARM, "k*** m*****");
    expect("thinking about self-harm again", ZT_MOD_SELF_HARM, NULL);
    /* German list: full weight when the message is known to be German */
    struct zt_moderation_result r = check("du bist ein arschloch");
    assert_true(r.score[ZT_MOD_PROFANITY] > 0.59 && !r.matched[ZT_MOD_PROFANITY]);
    struct zt_moderation_policy de = pol;
    de.lang = "de";
    assert_int_equal(zt_moderation_check(mod, "du bist ein arschloch", 21, &de, &r), 0);
    assert_true(r.matched[ZT_MOD_PROFANITY]);
    assert_string_equal(r.matches[0].term, "a********");
    r = check("I will kill you");
    assert_int_equal(r.action, ZT_MOD_BLOCK);
    r = check("fuck");
    assert_int_equal(r.action, ZT_MOD_FLAG);
    assert_false(r.matches[0].obfuscated);
}

static void test_obfuscation(void **state)
{
    (void)state;
    NEED_ASSET();
    const char *const fucks[] = {"FUCK", "fuuuuuck", "f u c k", "f.u.c.k", "f*ck", "f**k", "fu©k",
                                 "\xEF\xBC\xA6\xEF\xBC\xB5\xEF\xBC\xA3\xEF\xBC\xAB", /* fullwidth */
                                 "fu\xD1\x81k",                     /* Cyrillic es */
                                 "f\xE2\x80\x8Buck",                /* zero-width space */
                                 "you fück"};
    for (size_t i = 0; i < sizeof fucks / sizeof fucks[0]; i++) {
        if (i == 6) continue; /* © is not a letter: "fu k" */
        expect(fucks[i], ZT_MOD_PROFANITY, NULL);
    }
    expect("sh1t happens", ZT_MOD_PROFANITY, "s***");
    expect("$hit", ZT_MOD_PROFANITY, "s***");
    expect("b1tch", ZT_MOD_PROFANITY, NULL);
    expect("sh!t", ZT_MOD_PROFANITY, "s***");
    expect("a$$hole", ZT_MOD_PROFANITY, NULL);
    expect("what a b!tch", ZT_MOD_PROFANITY, NULL);
    struct zt_moderation_result r = check("f.u.c.k");
    assert_true(r.n_matches >= 1 && r.matches[0].obfuscated);
    /* a trailing "!" is punctuation, not an i */
    expect("shit!", ZT_MOD_PROFANITY, "s***");
    expect_clean("*hugs* and **bold** text");
}

static void test_links(void **state)
{
    (void)state;
    NEED_ASSET();
    expect("click bit.ly/3xYz now", ZT_MOD_SPAM_LINKS, "bit.ly");
    expect("see https://www.tinyurl.com/abc", ZT_MOD_SPAM_LINKS, "www.tinyurl.com");
    expect("login at http://192.168.10.1/bank", ZT_MOD_SPAM_LINKS, NULL);
    expect("claim: https://grabify.link/ABC", ZT_MOD_SPAM_LINKS, NULL);
    struct zt_moderation_result r = check("prize at http://win-big.xyz/now");
    assert_true(r.score[ZT_MOD_SPAM_LINKS] > 0.4 && !r.matched[ZT_MOD_SPAM_LINKS]); /* 0.5 < 0.7 */
    r = check("http://paypal.com@evil.example/x");
    assert_true(r.matched[ZT_MOD_SPAM_LINKS]);
    expect_clean("bit.lyrics are fun");
}

static void test_scores_and_policy(void **state)
{
    (void)state;
    NEED_ASSET();
    struct zt_moderation_policy p = pol;
    p.threshold = 0.95;
    struct zt_moderation_result r;
    assert_int_equal(zt_moderation_check(mod, "fuck", 4, &p, &r), 0);
    assert_false(r.matched[ZT_MOD_PROFANITY]);
    assert_true(r.score[ZT_MOD_PROFANITY] > 0.79 && r.score[ZT_MOD_PROFANITY] < 0.81);
    assert_int_equal(r.action, ZT_MOD_ALLOW);
    const char *two = "fuck this shit, fuck";
    assert_int_equal(zt_moderation_check(mod, two, strlen(two), &p, &r), 0);
    assert_true(r.matched[ZT_MOD_PROFANITY]); /* 1 - 0.2 * 0.2 = 0.96; the repeated word counts once */
    assert_true(r.score[ZT_MOD_PROFANITY] > 0.959 && r.score[ZT_MOD_PROFANITY] < 0.961);
    assert_int_equal(r.n_matches, 2);
    p.actions[ZT_MOD_PROFANITY] = ZT_MOD_BLOCK;
    assert_int_equal(zt_moderation_check(mod, two, strlen(two), &p, &r), 0);
    assert_int_equal(r.action, ZT_MOD_BLOCK);
    /* another language's list counts less unless the message is in it */
    r = check("don't bite me");
    assert_false(r.matched[ZT_MOD_PROFANITY]);
    p = pol;
    p.lang = "fr";
    assert_int_equal(zt_moderation_check(mod, "quelle bite", 11, &p, &r), 0);
    assert_true(r.matched[ZT_MOD_PROFANITY]);
    /* names and parsing */
    enum zt_mod_action a;
    assert_int_equal(zt_moderation_action_parse("block", &a), 0);
    assert_int_equal(a, ZT_MOD_BLOCK);
    assert_int_equal(zt_moderation_action_parse("ban", &a), ZT_EINVAL);
    assert_string_equal(zt_moderation_category_name(ZT_MOD_SELF_HARM), "self_harm");
    /* many matches: truncated, still scored */
    char many[2048] = "";
    const char *words[] = {"fuck", "shit", "cunt", "bitch", "bastard", "asshole", "dickhead", "wanker",
                           "twat", "bollocks", "motherfucker", "bullshit", "jackass", "dumbass",
                           "piss off", "shitty", "fucker", "asshat"};
    size_t used = 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        used += (size_t)snprintf(many + used, sizeof many - used, "%s ", words[i]);
    r = check(many);
    assert_true(r.truncated);
    assert_int_equal(r.n_matches, ZT_MODERATION_MAX_MATCHES);
}

static void expect_allow(const char *text)
{
    struct zt_moderation_result r = check(text);
    if (r.action != ZT_MOD_ALLOW) {
        dump(text, &r);
        fail_msg("expected allow");
    }
}

/* Issue 16: harassment and insults aimed at a person, threats with intent,
 * doxxing, the short English insult detected as Czech; the hard allow
 * cases stay clean. */
static void test_harassment_rules(void **state)
{
    (void)state;
    NEED_ASSET();
    /* the row: flag or block, whichever features.yaml sets (block) */
    struct zt_moderation_result r = check("you're such an idiot, nobody wants you here");
    assert_true(r.matched[ZT_MOD_HARASSMENT]);
    assert_int_equal(r.action, ZT_MOD_BLOCK);
    /* an English insult of a dozen words that the detector calls Czech */
    struct zt_moderation_policy cs = pol;
    cs.lang = "cs";
    const char *en = "you stupid jerk, shut up, nobody likes a snob like you, prat";
    assert_int_equal(zt_moderation_check(mod, en, strlen(en), &cs, &r), 0);
    assert_true(r.matched[ZT_MOD_HARASSMENT]);
    expect("shut up you pathetic loser", ZT_MOD_HARASSMENT, "insult");
    expect("u r such a clown lol", ZT_MOD_HARASSMENT, "insult");
    expect("nobody likes you, just leave the group", ZT_MOD_HARASSMENT, "exclusion");
    expect("no one in this group likes you", ZT_MOD_HARASSMENT, "exclusion");
    expect("just die already", ZT_MOD_HARASSMENT, "self_harm_incitement");
    expect("I'll beat the crap out of you tomorrow", ZT_MOD_HARASSMENT, "threat");
    expect("keep talking and I'll break your legs", ZT_MOD_HARASSMENT, "threat");
    expect("i know where u live", ZT_MOD_HARASSMENT, NULL);
    expect("everyone spam this idiot, his number is 555-213-4478", ZT_MOD_HARASSMENT, "doxxing");
    expect("found his address, 18 Elm Road, Leeds LS6 2AB, let's show up", ZT_MOD_HARASSMENT, "doxxing");
    /* round 2 (issue 16): grave verbs at a third person, a bare threat at the end, fixed shapes */
    expect("I'm gonna stab him", ZT_MOD_HARASSMENT, "threat");
    expect("I will get you fired and then I'll get you", ZT_MOD_HARASSMENT, "threat_end");
    expect("I'm coming over there to beat you up", ZT_MOD_HARASSMENT, "threat");
    expect("your days are numbered", ZT_MOD_HARASSMENT, "threat_phrase");
    expect("the creep's email is jdoe88@gmail.com, spam him", ZT_MOD_HARASSMENT, "doxxing");
    expect("his mum's number is 555 876 1234 lets prank call her all night", ZT_MOD_HARASSMENT, "doxxing");
    expect_allow("I'll get you the report by noon");
    expect("get lost, freak", ZT_MOD_HARASSMENT, "insult");
    expect("the world would be better without you", ZT_MOD_HARASSMENT, "exclusion");
    expect("if I see you again you're finished", ZT_MOD_HARASSMENT, "threat_condition");
    expect("I will destroy your car", ZT_MOD_HARASSMENT, "threat");
    expect_allow("ping Sarah when you're done");
    expect("we're going to jump you after the game", ZT_MOD_HARASSMENT, NULL);
    expect("keep posting and see what happens", ZT_MOD_HARASSMENT, "threat_outcome");
    expect_allow("let's try it and see what happens");
    expect_allow("I'll get my brothers to help you move");
    expect_allow("we'll sort you out with a ticket");
    expect_allow("I'll get your mum a present");
    /* round 6: quoted word-list terms, standing by the target, banter, skills, games */
    expect_allow("he wrote \"I know where you live\" to my sister, we called the police");
    expect_allow("a stranger commented \"go kill yourself\" under my post, I reported it and blocked him");
    expect_allow("please don't listen to anyone who says you're worthless, you matter to us");
    expect_allow("you absolute clown, you left your keys in the door again 😂 love you");
    expect_allow("you're hopeless at directions, follow me");
    expect_allow("I'll crush you in the tournament, prepare to lose");
    expect("you're hopeless, nobody wants you here", ZT_MOD_HARASSMENT, NULL);
    expect("I know where you live and I'm coming for you tonight", ZT_MOD_HARASSMENT, NULL);
    expect("si abres la boca te reviento", ZT_MOD_HARASSMENT, "threat_phrase");
    expect("als je dat nog eens doet maak ik je af", ZT_MOD_HARASSMENT, "threat_phrase");
    expect("fai schifo a tutti, ammazzati", ZT_MOD_HARASSMENT, "self_harm_incitement");
    expect_allow("te voy a matar a besos cuando llegues");
    expect_allow("ti ammazzo di coccole");
    expect("found the reviewer's home on Elm Grove, flat 3. teach him a lesson", ZT_MOD_HARASSMENT, "doxxing");
    expect_allow("can you show up at 8 to help set up the hall?");
    expect("we're going to jump you after the game", ZT_MOD_HARASSMENT, NULL); /* not a game: after it */
    expect_allow("shut up, that's amazing!");
    expect_allow("let's try it and see what happens");
    expect_allow("email me at jdoe88@gmail.com");
    /* not insults, not threats, not doxxing */
    expect_clean("let's kill this presentation tomorrow");
    expect_clean("we're driving through Scunthorpe and Penistone");
    expect_allow("I'll destroy you at chess tonight haha");
    expect_allow("I'm such an idiot, left my keys again");
    expect_allow("you're killing it, keep going!");
    expect_allow("he's a stupid cat but we love him");
    expect_allow("you're not stupid, the form is confusing");
    expect_allow("my boss will murder me if I'm late lol");
    expect_allow("call me on 555-123-4567 when you land");
    expect_allow("his number is 212 867 5309 if you need the plumber");
    expect_allow("nobody wants to work on friday");
    expect_allow("I hope you get the job!");
    /* round 5 (issue 16): doxxing without an insult (a call to go at the
     * person, a grudge, a disclosure; short numbers, other languages'
     * addresses), other languages' dismissals, veiled threats; and their
     * benign look-alikes */
    static const struct {
        const char *text, *rule; /* rule NULL: allowed */
    } r5[] = {
        {"the ref who sent me off lives at 4 Alder Close, go knock on his door", "doxxing"},
        {"his personal number is 555-0190, make sure he never gets a quiet night", "doxxing"},
        {"the tutor who reported me works at the library on Queen Street, let's pay her a visit", "doxxing"},
        {"voici l'adresse du traître : 3 rue des Roses, Nantes. allez lui rendre visite", "doxxing"},
        {"das ist die Adresse vom Verpetzer: Gartenstraße 3, Kiel. geht mal vorbei", "doxxing"},
        {"aquí está la dirección del soplón: calle Luna 7, id a hacerle una visita", "doxxing"},
        {"cierra el pico, gilipollas", "insult"},
        {"it would be a shame if something happened to your bike", "threat_phrase"},
        {"the plumber's mobile is 555-0190, ring him if the sink leaks", NULL},
        {"meine neue Adresse ist Gartenstraße 3, Kiel, kommt gern vorbei", NULL},
        {"voici l'adresse du gîte : 3 rue des Roses, on arrive à 18h", NULL},
        {"everyone, the picnic is at 9 Alder Close on Sunday", NULL},
        {"ring me at midnight when you land, my number is 555-0190", NULL},
        {"is the abuse hotline number still 0808 2000 247?", NULL},
        {"ten cuidado con el hielo en la carretera", NULL},
    };
    for (size_t i = 0; i < sizeof r5 / sizeof r5[0]; i++) {
        if (r5[i].rule) expect(r5[i].text, ZT_MOD_HARASSMENT, r5[i].rule);
        else expect_allow(r5[i].text);
    }
    /* round 8 (issue 16): a plate written out, a grudge with whereabouts,
     * someone's home shown, where a third person works and when they come
     * out, calls to confront or keep calling; threats with a time or a
     * place; and benign look-alikes */
    static const struct {
        const char *text, *rule; /* rule NULL: allowed */
    } r8[] = {
        {"her reg is KT66 WPL, the silver Corsa by the gym", "doxxing"},
        {"the guy who grassed lives above the bakery on Mill Road", "doxxing"},
        {"I found his house on Street View, it's 8 Ash Grove", "doxxing"},
        {"er arbeitet im Baumarkt am Ring, Schicht endet um 18 Uhr", "doxxing"},
        {"her husband's mobile is 07700 900461, keep calling till he answers", "doxxing"},
        {"she drops her son at Hillside Nursery at 8, that's where to find her", "doxxing"},
        {"I'll beat you black and blue after work on Monday", "threat"},
        {"I'll put you in a coma if you touch my bike", "threat_phrase"},
        {"my reg is KT66 WPL, can you add it to the visitor list?", NULL},
        {"the girl who reported the leak lives at number 4, I took her some biscuits", NULL},
        {"she works at the pharmacy on the square, mornings, ask her about the cream", NULL},
        {"I'll beat you to the office tomorrow", NULL},
        {"I'll beat you at darts on Friday", NULL},
        /* review 8 F6: "get you" / "find you" with a time or a place is kind; the violent weak
         * verbs still count it */
        {"I'll get you a coffee tomorrow", NULL},
        {"I'll get you a present on Friday", NULL},
        {"we will find you a black dress for the party", NULL},
        {"I'll get you tomorrow's notes", NULL},
        {"I'll get you something nice for Monday", NULL},
        {"we'll get you a cake on Saturday", NULL},
        {"I'll get you the keys on Sunday", NULL},
        {"I can find you a black jacket tonight", NULL},
        {"I'll beat you senseless on Friday at the bus stop", "threat"},
        {"I'll fight you outside", "threat"},
        {"I'll jump you tonight", "threat"},
        /* review 8 F7: units, clock times and months are no plate; "plate" and "registration"
         * are a vehicle's only beside a vehicle word; a third person's leaving time needs a
         * shift, a grudge, a call or a disclosure */
        {"the plate is 12 cm wide", NULL},
        {"the plate is 12cm wide", NULL},
        {"the plate is 20 x 30 cm", NULL},
        {"registration closes on 15 may", NULL},
        {"registration closes on 3 jun", NULL},
        {"registration opens at 9 am", NULL},
        {"registration opens at 9am", NULL},
        {"he works at the bakery and finishes at 4", NULL},
        {"he works at the bakery and finishes at 4 pm", NULL},
        {"she works at the library and finishes at 5", NULL},
        {"the shop closes at 5 and he leaves at 6", NULL},
        {"his car plate is KD19 XYZ, he works at Tesco", "doxxing"},
        {"the ref who grassed works at the bakery and finishes at 4", "doxxing"},
        {"he works at the bakery and finishes at 4, go wait for him", "doxxing"},
    };
    for (size_t i = 0; i < sizeof r8 / sizeof r8[0]; i++) {
        if (r8[i].rule) expect(r8[i].text, ZT_MOD_HARASSMENT, r8[i].rule);
        else expect_allow(r8[i].text);
    }
    /* round 9 (issue 16): calls to scare or pester, what the person did to the poster, who
     * they are; opening insults; "nobody cares" at the end; threats against the reader's
     * kin or for money; praise that the learned model read as an insult; and look-alikes */
    static const struct {
        const char *text, *rule; /* rule NULL: allowed */
    } r9[] = {
        {"got the address of the guy who keyed my car, 14 Birch Avenue, go and scare him", "doxxing"},
        {"the man who got me fired lives at 3 Oak Close, you know what to do", "doxxing"},
        {"his name is Dan Reeve, he runs on the river path every morning, easy target", "doxxing"},
        {"her work email is j.doe@example.com, everyone message her boss", "doxxing"},
        {"pathetic. totally pathetic.", "insult"},
        {"spineless coward, grow up", "insult"},
        {"imagine being this dumb", "insult"},
        {"cry more, nobody cares", "exclusion"},
        {"no one will miss you", "exclusion"},
        {"pay what you owe or your legs get broken", "threat_phrase"},
        {"your husband should be careful driving home tonight", "threat_phrase"},
        {"I'll throw you off the roof", "threat_phrase"},
        {"seni öldüreceğim", "threat_phrase"},
        {"stupid printer jammed again", NULL},
        {"trash day is tomorrow", NULL},
        {"everyone will miss you at the party", NULL},
        {"we will miss you so much", NULL},
        {"nobody cares about the dress code, come as you are", NULL},
        {"his name is Dan, he lives on Oak Close, we met at the fair", NULL},
        {"you're brilliant, thanks for covering my shift", NULL},
        {"you're too kind, honestly", NULL},
        {"you should be careful on the ice", NULL},
        {"ik ga dood van de honger", NULL},
        {"I'll wait for you outside the cinema", NULL},
        {"Creepy!", NULL}, /* review9 F8: one word alone is a reaction */
    };
    for (size_t i = 0; i < sizeof r9 / sizeof r9[0]; i++) {
        if (r9[i].rule) expect(r9[i].text, ZT_MOD_HARASSMENT, r9[i].rule);
        else expect_allow(r9[i].text);
    }
    /* round 12 (issue 16): the learned model's threshold 1.5 -> 0.75 for a text that
     * names a second person (its gates 2.75: a text naming nobody or a third person
     * needs the same logit as before); second-person insults it now flags, and the
     * friendly second person it must not: thanks, praise, advice, a judgement of a
     * skill and "as you are" at the end (damped like banter) */
    static const struct {
        const char *text, *rule; /* rule NULL: allowed */
    } r12[] = {
        {"you really think anyone wants your opinion?", "learned"},
        {"you're so annoying it's unreal", "learned"},
        {"nobody is as useless as you are", "learned"},
        {"you're welcome", NULL},
        {"you're welcome, any time", NULL},
        {"you're the best, thank you so much", NULL},
        {"you're a lifesaver", NULL},
        {"you look tired, get some rest", NULL},
        {"you're right, my bad", NULL},
        {"you are hopeless at parking, let me do it", NULL},
        {"stay just as you are", NULL},
        {"fuck", NULL}, /* profanity (flag), never harassment (block): below */
    };
    for (size_t i = 0; i < sizeof r12 / sizeof r12[0]; i++) {
        if (r12[i].rule) expect(r12[i].text, ZT_MOD_HARASSMENT, r12[i].rule);
        else if (strcmp(r12[i].text, "fuck") != 0) expect_allow(r12[i].text);
        else assert_false(check(r12[i].text).matched[ZT_MOD_HARASSMENT]);
    }
    /* quoted or reported abuse */
    expect_allow("my brother said \"you're useless\" to the ref and got a yellow card");
    expect_allow("the chorus goes \"I'm coming for you\" over and over");
}

/* When detection is unsure, the fallback languages' terms count fully. */
static void test_fallback_languages(void **state)
{
    (void)state;
    NEED_ASSET();
    const char *t = "bite";
    struct zt_moderation_result a, b;
    struct zt_moderation_policy p = pol;
    p.lang = "en";
    assert_int_equal(zt_moderation_check(mod, t, strlen(t), &p, &a), 0);
    static const char *const also[] = {"en", "fr"};
    p.also_langs = also;
    p.n_also_langs = 2;
    assert_int_equal(zt_moderation_check(mod, t, strlen(t), &p, &b), 0);
    assert_true(b.score[ZT_MOD_PROFANITY] == a.score[ZT_MOD_PROFANITY]); /* sure of English: no change */
    p.lang_unsure = true;
    assert_int_equal(zt_moderation_check(mod, t, strlen(t), &p, &b), 0);
    bool any = false;
    for (int c = 0; c < ZT_MOD_N_CATEGORIES; c++) any |= b.score[c] > a.score[c];
    assert_true(any);
}

static void test_errors_and_payload(void **state)
{
    (void)state;
    NEED_ASSET();
    struct zt_moderation_result r;
    assert_int_equal(zt_moderation_check(mod, "bad \xc0\x80", 6, &pol, &r), ZT_EPARSE);
    char *big = zt_malloc(ZT_MODERATION_MAX_TEXT + 1);
    assert_non_null(big);
    memset(big, 'a', ZT_MODERATION_MAX_TEXT + 1);
    assert_int_equal(zt_moderation_check(mod, big, ZT_MODERATION_MAX_TEXT + 1, &pol, &r), ZT_ETOOBIG);
    for (size_t i = 0; i < ZT_MODERATION_MAX_TEXT; i++) big[i] = "f u*k "[i % 6];
    assert_int_equal(zt_moderation_check(mod, big, ZT_MODERATION_MAX_TEXT, &pol, &r), 0);
    zt_free(big);

    struct zt_moderation_builder *b = NULL;
    assert_int_equal(zt_moderation_builder_new(&b), 0);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_HATE, "Bad Word", 8, 0.9, NULL), 0);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_PROFANITY, "bad  word", 9, 0.5, NULL), 1);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_SEXUAL, "lewd*", 5, 0.8, "xx"), 0);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_SPAM_LINKS, "Short.EXAMPLE", 13, 0.8, NULL), 0);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_HATE, "13.", 3, 0.9, NULL), ZT_EINVAL);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_HATE, "...", 3, 0.9, NULL), ZT_EINVAL);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_HATE, "a b c d e f g", 13, 0.9, NULL), ZT_EINVAL);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_HATE, "x", 1, 1.5, NULL), ZT_EINVAL);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_HATE, "x", 1, 0.5, "EN"), ZT_EINVAL);
    assert_int_equal(zt_moderation_builder_add(b, ZT_MOD_SPAM_LINKS, "no_host", 7, 0.5, NULL), ZT_EINVAL);
    assert_true(zt_moderation_builder_touches(b, ZT_MOD_SEXUAL, "so lewdly", 9));
    assert_false(zt_moderation_builder_touches(b, ZT_MOD_SEXUAL, "lew", 3));
    uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(zt_moderation_builder_payload(b, &p, &n), 0);
    zt_moderation_builder_free(b);
    struct zt_moderation *m = NULL;
    assert_int_equal(zt_moderation_from_payload(p, n, &m), 0);
    assert_int_equal(zt_moderation_size(m), 3);
    struct zt_moderation_policy lp = pol;
    assert_int_equal(zt_moderation_check(m, "so BAD word", 11, &lp, &r), 0);
    assert_true(r.matched[ZT_MOD_HATE]);
    assert_string_equal(r.matches[0].term, "b** w***");
    assert_int_equal(zt_moderation_check(m, "lewdness", 8, &lp, &r), 0);
    assert_true(r.score[ZT_MOD_SEXUAL] > 0.59 && r.score[ZT_MOD_SEXUAL] < 0.61); /* 0.8 x 0.75: list "xx" */
    assert_int_equal(zt_moderation_check(m, "see https://a.short.example/x", 29, &lp, &r), 0);
    assert_true(r.matched[ZT_MOD_SPAM_LINKS]);
    zt_moderation_free(m);
    for (size_t k = 0; k < n; k++) {
        m = NULL;
        assert_int_not_equal(zt_moderation_from_payload(p, k, &m), 0);
        assert_null(m);
    }
    p[4] = 9; /* bad category */
    assert_int_equal(zt_moderation_from_payload(p, n, &m), ZT_EPARSE);
    zt_free(p);
    assert_int_equal(zt_moderation_load("/nonexistent/m.zta", &m), ZT_ENOTFOUND);
    zt_moderation_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_and_scunthorpe),
        cmocka_unit_test(test_categories),
        cmocka_unit_test(test_obfuscation),
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_scores_and_policy),
        cmocka_unit_test(test_errors_and_payload),
        cmocka_unit_test(test_harassment_rules),
        cmocka_unit_test(test_fallback_languages),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
