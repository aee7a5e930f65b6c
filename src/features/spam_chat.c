/* spam_chat.c: the chat-scam cues of zt_spam_classify() (zt_spam.h, issue
 * 16). The logistic model learned from 2002-2005 mailing-list mail and knows
 * nothing of wallet drainers or parcel-fee texts; these cues are written
 * from the shapes of today's chat scams and added to its logit:
 *
 *   links   a shortener host, an IP-literal host, a punycode label
 *           ("xn--"), a cheap or abused top-level domain, a brand name in a
 *           host that is not the brand's own domain or a digit look-alike of
 *           it ("paypa1"), scam words in a host ("-verify", "airdrop"), a
 *           country code under another suffix ("bank-login.de.ms")
 *   words   groups of phrases (English, Spanish, German, French, Portuguese,
 *           Italian, Dutch), each counted once: crypto claims, seed-phrase
 *           requests, prizes, gift-card requests, parcel fees, "hi mum, new
 *           number", romance and job/task scams, account lock-outs,
 *           guaranteed returns, refunds, urgency, a call to action near a
 *           link
 *
 * A phrase matches at word boundaries of the case-folded text (ASCII
 * folding; other bytes compared as they are); a phrase ending in '*' is a
 * prefix. Some groups need a second group to be present as well (a parcel
 * and a fee; a seed phrase and a request to hand it over). The weights
 * (logit units) were set on the tuning sets of tests/data/tune/ and are
 * listed in docs/features/spam.md. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "spam_internal.h"
#include "zentalk/zt_str.h"

#define LOW_MAX 4096 /* ZT_SPAM_MAX_BYTES */

static const char *const L_SHORTENER[] = {"bit.ly", "tinyurl.com", "t.co", "cutt.ly", "is.gd", "rb.gy", "goo.gl", "ow.ly",
                                          "tiny.cc", "shorturl.at", "s.id", "rebrand.ly", "t.ly", "v.gd", "buff.ly",
                                          "shorte.st", "adf.ly", "bl.ink", "lnkd.in", "qr.co", NULL};
static const char *const L_CHEAP_TLD[] = {"xyz", "top", "site", "online", "icu", "shop", "click", "live", "win", "info",
                                          "support", "help", "cam", "buzz", "rest", "loan", "work", "gq", "tk", "ml",
                                          "cf", "ga", "monster", "sbs", "cfd", "lol", "bond", "vip", "ru", "cn", NULL};
/* brand -> its own registered label (the label before the public suffix) */
static const char *const L_BRANDS[] = {"paypal", "apple", "amazon", "netflix", "metamask", "binance", "ledger", "royalmail",
                                       "dhl", "usps", "hmrc", "chase", "microsoft", "coinbase", "trustwallet", "fedex",
                                       "evri", "hsbc", "barclays", "wellsfargo", "santander", "revolut", "whatsapp",
                                       "instagram", "facebook", "google", "outlook", "office365", "steam", "walmart",
                                       "tesco", "correos", "ups", "dpd", "irs", "gov", "dvla", "icloud", "amzn", "shein", "sparkasse", "ameli", "cashapp", "starbucks", "opensea", "arbitrum", "instagram", "linkedin", "spotify", "venmo", "zelle", "vodafone", "docusign", "dropbox", "adobe", "roblox", "postnl", "colissimo", "chronopost", "laposte", "postepay", "bbva", "caixabank", "rabobank", "abnamro", "lloydsbank", "natwest", "monzo", "commerzbank", "postbank", "marktplaats", "tikkie", "vinted", "ebay", "inpost", "telegram", "mercadona", "ezpass", NULL};
/* A country code as the second-last label of a host ("-erstattung.de.com",
 * "-seguridad.es.vg"): a look-alike of a national domain under another
 * suffix. "co" is left out ("bbc.co.uk" ends in the country code). */
static const char *const L_STACKED_CC[] = {"de", "nl", "es", "pt", "it", "fr", "uk", "be", "at", "ch", "pl", "se",
                                           "dk", "no", "fi", "ie", "us", "ca", "au", "br", "mx", "gr", "cz", "ro",
                                           "hu", "jp", NULL};
static const char *const L_HOST_WORDS[] = {"verify", "secure", "login", "signin", "update", "claim", "bonus", "reward",
                                           "airdrop", "gift", "refund", "redelivery", "track", "parcel", "billing",
                                           "account", "wallet", "winner", "prize", "unlock", "support", "locked", NULL};

static const char *const G_CRYPTO[] = {"airdrop*", "connect your wallet", "connect wallet", "sync your wallet",
                                       "validate your wallet", "verify wallet", "verify your wallet", "wallet validation",
                                       "token distribution", "free nft", "nft mint", "claim your free", "giving back to the community",
                                       "send 0.", "receive 0.", "receive your allocation", "claim * tokens", "crypto recovery", "recover your lost", "nft drop", "mint yours", "mint free", "free mint", "safe wallet", "funds are at risk", "move your funds", "move them to", "secure wallet", "send any amount", "receive double", "pending transfer", "confirm receipt", "with your wallet", "double back", "2x back", NULL};
static const char *const G_SEED[] = {"seed phrase", "recovery phrase", "secret phrase", "12-word", "12 word", "24 words",
                                     "24-word", "private key", "secret recovery", NULL};
static const char *const G_HANDOVER[] = {"reply with", "enter", "entering", "send", "verify", "validate", "provide",
                                         "share", "confirm", "we need", "type", "submit", "is safe", "import", NULL};
static const char *const G_PRIZE[] = {"you won", "you've won", "you have won", "you are our lucky", "lucky winner", "winner!",
                                      "winner!!", "been selected", "been chosen", "have been selected", "was drawn", "pending reward",
                                      "free iphone", "claim your prize", "claim your reward", "collect your", "your reward",
                                      "eligible for", "has ganado", "ha ganado", "reclama tu premio", "gewonnen", "haben einen",
                                      "vous avez gagné", "avez gagné", "você ganhou", "ganhou", "hai vinto", "u heeft",
                                      "congratulations!", "congrats!", "congratulations you", "félicitations", "felicidades",
                                      "parabéns", "complimenti", "gefeliciteerd", "herzlichen glückwunsch", "pre-approved", "pre-qualified", "prequalified", "loan approved", "you qualify", "extended warranty", "has won", "number has won", "free entry", "win a holiday", "chance to win", "lucky visitor", "spin the wheel", "spin to win", "can be forgiven", "loan forgiveness", "dear winner", "email won", "national lottery", "number won", "have won", "has been awarded", "been awarded", "randomly selected", "selected to receive", "unclaimed points", "rewards team", "points worth", "approved for a free", "free government", "annual draw", "prize draw", "our draw", 
    /* round 9 */ "memenangkan", "anda memenangkan", "selamat! anda", NULL};
static const char *const G_PRIZE_THING[] = {"gift card", "giftcard", "voucher", "prize", "reward", "iphone", "airdrop",
                                            "usdt", "points", "lottery", "giveaway", "gutschein", "carte cadeau",
                                            "cadeaukaart", "premio", "buono", "sorteio", "samsung", "ps5", "macbook", "£", "$",
                                            "€", "loan", "warranty", "cash", "gbp", "usd", "eur", "lottery", "jackpot", "draw", "phone", 
    /* round 9 */ "hadiah", "rp", "undian", NULL};
static const char *const G_GIFTCARD_ASK[] = {"gift cards", "giftcards", "steam cards", "gift card", "itunes cards", "in gift cards", NULL};
static const char *const G_CODES[] = {"the codes", "send the code", "send me the code", "scratch", "pay you back", "i'll send you", NULL};
static const char *const G_PARCEL[] = {"parcel", "package", "shipment", "delivery", "deliver", "order #", "paquete", "paket",
                                       "colis", "pacco", "encomenda", "zustellung", "pacote", "envío", "envio", 
    /* round 9 */ "kargo", "kargonuz", "kurir", "paket anda", "resi", NULL};
static const char *const G_PARCEL_FEE[] = {"could not be delivered", "incomplete address", "redelivery", "held at customs",
                                           "on hold", "fee", "update your address", "update it here", "confirm your details",
                                           "has been suspended", "confirm payment", "no pudo ser entregado",
                                           "actualice su dirección", "versandkosten", "frais", "en attente", "giacenza",
                                           "riconsegna", "wartet auf zustellung", "taxa", "pague", "tasas", "retido", "retenido", "customs fee", "reschedule your delivery", "we missed you", "missed you today", "cannot be delivered", "is waiting", "redelivery fee", "small payment", "payment of", "to release it", "release your", "pay a fee", "shipping fee", "pay only shipping", "nicht zugestellt", "zollgebühr", "is delayed", "choose a new time", "new delivery time", "returned to our warehouse", "to resend", "confirm your address", "pas pu être livré", "reprogrammation", "payez", 
    /* round 9 */ "teslim edilemedi", "tertahan", "adresinizi güncelleyin", "güncelleyin", NULL};
static const char *const G_FAMILY[] = {"mum", "mom", "dad", "mama", "mamá", "mãe", "mae", "papa", "papá", "mamma",
                                       "maman", "mammy", "mummy", "mommy", "daddy", "your daughter", "your son", 
    /* round 9 */ "anne benim", "baba benim", NULL};
static const char *const G_FAMILY_HI[] = {"hi mum", "hi mom", "hey mum", "hey mom", "hi dad", "hey dad", "mum it's me",
                                          "mom it's me", "dad it's me", "mum its me", "mom its me", "hola mamá", "hola mama",
                                          "hallo mama", "olá mãe", "ola mae", "oi mãe", "oi mae", "ciao mamma", "salut maman",
                                          /* round 8 */
                                          "grandma it's me", "grandpa it's me", "gran it's me", "nana it's me", 
    /* round 9 */ "hej mamma", "hej pappa", "anne benim", "baba benim", "mamma det är jag", NULL};
static const char *const G_NEWNUMBER[] = {"new number", "phone broke", "lost my phone", "lost my old phone", "dropped my phone",
                                          "temporary number", "friend's phone", "from a friend's", "borrowed phone",
                                          "my old phone", "phone is broken", "broke my phone", "this is my number now",
                                          "número nuevo", "numero nuevo", "neue nummer", "número novo", "perdi o telemóvel",
                                          "handy ist kaputt", "se me rompió", "nuovo numero", "nouveau numéro", "using my friend", "my friends phone", "my friend's phone", "nieuwe nummer", "mijn nieuwe", "troquei de número", "troquei de numero", "mudei de número", "nieuw nummer", "using a friend's", "changé de numéro", "changed my number", "ho cambiato numero", "cambiato numero", "cambié de número", "cambié de numero", "nummer gewechselt", "nieuw nummer", 
    /* round 9 */ "yeni numaram", "yeni numara", "telefonum bozuldu", "nytt nummer", "ny nummer", "phone got stolen", "phone was stolen", "phone got nicked", NULL};
/* a dead phone is no new number: only with a request for money ("hi mum, phone died, charging it at Tom's" is ham) */
static const char *const G_PHONEDEAD[] = {"phone died", "my phone is dead", "phone is dead", NULL};
static const char *const G_MONEYASK[] = {"send £", "send $", "send me £", "send me $", "send me €", "transfer", "pay a bill",
                                         "pay this bill", "bill for me", "bill to pay", "rent", "favour", "favor", "urgent",
                                         "urgently", "i'll explain", "pay you back", "friend's account", "überweisen", "transferencia",
                                         "transferência", "geld", "dinero", "dinheiro", "soldi", "betaling", "betalen", "some money", "pay u back", "will pay u", "help me with $", "help me with £", "pix", "help me with €", "pay the fee", "paying a fee", "send me 1*", "send me 2*", "send me 3*", "send me 5*", "m'envoyer", "me virer", "virement", "bonifico", "overmaken", "przelew",
                                         /* round 8 */
                                         "bail money", "money for the hospital", "needs money", "need money", 
    /* round 9 */ "lend me", "can you lend", "swisha", "swish", "ödeme", "can't access my bank", "cant access my bank", "me falta dinero", "falta dinero", NULL};
static const char *const G_GIVEAWAY[] = {"giveaway", "give away", "giving away", "for free", "free crypto", NULL};
static const char *const G_COINS[] = {"eth", "btc", "usdt", "bitcoin", "wallet address", "crypto", "token", "tokens", "sol", NULL};
static const char *const G_ROMANCE[] = {"saw your profile", "army doctor", "on mission", "on a mission", "lonely tonight",
                                        "private page", "western union", "flight ticket so i can", "you seem so kind",
                                        "looking for my friend", "where are you from", "hi handsome", "hello dear",
                                        "hi dear", "wrong number?", "you seem nice", "sugar daddy", "sugar mommy", "my private photos", "lonely", "want to be my friend", "new in town", "looking for a friend", "chat with me", "i'm lonely", "widow", "r u single", "are you single", "saw u on", "saw you on facebook", "saw you on instagram", "sweetie", "u look nice", "you look nice", "you look beautiful", "u r beautiful", "so i can come to you", "release my gold", "my love, i need", "i need money for my flight", "peacekeeping", "got your number from", "like to be friends", "be friends if", "looking for love", "beautiful women", "russian women", "single women", "vi seu perfil", "visto il tuo profilo", "vi tu perfil", "ton profil", "dein profil", "je profiel", "möchtest du mich kennenlernen", "quero te conhecer", "me chama no telegram", "scrivimi su telegram", "mi scrivi su telegram", "ajoute-moi sur whatsapp", "oil rig", "my only hope", 
    /* round 9 */ "from tinder", "from bumble", "from hinge", "not a bot", "verify on this site", "verify you're real", "mi amor, necesito", "mi amor necesito", "mon amour, j'ai besoin", "amore mio, ho bisogno", "meu amor, preciso", NULL};
static const char *const G_JOB[] = {"part-time", "part time", "work from home", "no experience", "earn $", "earn £", "earn €",
                                    "earn up to", "/day", "daily", "per week", "commission", "liking youtube", "rate products",
                                    "premium tasks", "simple online tasks", "online tasks", "resume was recommended",
                                    "add me on telegram", "on telegram", "message hr", "reply 1", "we are hiring", "trabajo desde casa", "desde casa", "von zuhause", "nebenjob", "travail à domicile", "lavoro da casa", "trabalho em casa", "passive income", "extra income", "pay you $", "weekly pay", "working from home", "make $", "make £", "get paid to", "earn cash", "a week working", "be your own boss", "lavoro online", "guadagni", "al giorno", "gana", "al día", "pro tag", "par jour", "por dia", "scrivimi", "escríbeme", "daily salary", "minutes a day", "hours a day", "product testing", "paid product", "online assistant*", "/hour", "per hour", "hr department", "/hr", "remote assistant*", "job opportunity", "we pay $", "we pay £", "per day", "flexible hours", "tiempo parcial", "ganancias", "reclutador*", 
    /* round 9 */ "side hustle", "ask me how", NULL};
static const char *const G_JOB2[] = {"$", "£", "€", "earn", "salary", "commission", "income", "paid", "cash", "usd",
                                     "eur", "gbp", "deposit", "telegram", "whatsapp", "recruiter", "hr", "dm me",
                                     "guadagni", "gana", "verdienen", "gagnez", "ganancias", NULL};
static const char *const G_ACCOUNT[] = {"account", "apple id", "password", "payment", "billing", "paypal", "your card",
                                        "banking", "your device", "microsoft 365", "toll", "tax", "su cuenta", "ihr konto", "votre compte", "sua conta", "il tuo conto", "il tuo account", "uw rekening", "card ending", "icloud", "storage", "membership", "subscription", "vehicle tax", "licence", "license", "bill payment", "apple pay", "google pay", "your funds", "your access", "access", "your bank", "online banking", "your profile", "social security", "your page", "facebook page", "instagram account", "insurance", "your policy", "seu cpf", "cpf", 
    /* round 9 */ "mailbox", "webmail", "email account", "reservation", "booking", NULL};
static const char *const G_LOCKED[] = {"locked", "suspended", "limited", "expires today", "expire", "failed", "unusual",
                                       "compromised", "deactivated", "frozen", "suspicious activity", "new device",
                                       "unpaid", "on hold", "sign-in", "bloqueada", "suspendida", "gesperrt", "eingeschränkt", "suspendu", "bloqué", "bloccato", "sospeso", "geblokkeerd", "fraud alert", "did you attempt", "overdue", "avoid a fine", "penalty", "disconnection", "will be deleted", "will be closed", "will be banned", "placed on hold", "renews today", "unsuccessful", "is full", "retido", "retenido", "retenu", "bloccata", "copyright violation", "community standards", "violat*", "expired", "has expired", "declined", "bloqueado", "disabled", 
    /* round 9 */ "expires in", "password expires", "will be cancelled", "will be canceled", "cancelled unless", "canceled unless", NULL};
static const char *const G_LOCK_ACTION[] = {"verify", "confirm", "update", "restore", "unlock", "secure", "validate",
                                            "reactivate", "log in", "login", "sign in", "renew", "activate", "regularize", "regularizar", 
    /* round 9 */ "keep the same", "keep your", NULL};
/* a message speaking as a company: "Amazon here:", "USPS:", "Binance support" */
static const char *const G_BRAND_VOICE[] = {"amazon here", "apple here", "paypal here", "this is amazon", "this is apple",
                                            "amazon:", "apple:", "paypal:", "netflix:", "usps:", "royal mail:", "dhl:",
                                            "hmrc:", "evri:", "fedex:", "ups:", "dpd:", "hermes:", "correos:", "irs:",
                                            "dvla:", "chase:", "hsbc:", "barclays:", "santander:", "bank of america:",
                                            "wells fargo:", "amazon prime:", "apple id:", "binance support", "binance security",
                                            "microsoft support", "apple support", "metamask support", "coinbase support",
                                            "whatsapp support", "customer support team", "facebook admin", "meta admin", NULL};
static const char *const G_ADVANCE[] = {"business proposal", "lucrative", "next of kin", "beneficiary", "inheritance",
                                        "kindly", "dear friend", "hello friend", "transfer the funds", "confidential deal",
                                        "unclaimed funds", "business offer", "banker in", "late client", "your surname", "same surname", "deceased client", "left behind $", NULL};
static const char *const G_ADVANCE2[] = {"million", "$", "£", "€", "deal", "funds", "whatsapp", "reply", "details", "usd",
                                         "percent", "%", NULL};
static const char *const G_INVEST[] = {"guaranteed", "100x", "trading bot", "signal group", "pre-sale", "presale",
                                       "% profit", "returns", "before listing", "double your", "passive income", "forex", "mining pool", "investment platform", "investment opportunity", "turned $", "turned £", "arbitrage", "financial advisor", "win rate", "signals channel", "vip signals", "% daily", "daily returns", "show you how", "get rich", "crypto bot", "% returns", "% weekly", "weekly profit", "guaranteed profit", "want me to show you", "great money with crypto", "making money with crypto", "making great money", 
    /* round 9 */ "pump group", "the pump", "pump signal*", "before the pump", "ai trading", "it trades for you", "you just deposit", "want the link", NULL};
static const char *const G_INVEST2[] = {"invest", "crypto", "profit", "returns", "buy", "earn", "token", "usdt", "btc", "bitcoin", "eth", "$", "£", "deposit", "withdraw", "signals", "telegram", "%", NULL};
static const char *const G_REFUND[] = {"tax refund", "you are due", "due a refund", "refund of", "government grant",
                                       "free grant", "grant of $", "don't have to pay it back", "overcharged",
                                       "refund department", "help you get it back", 
    /* round 9 */ "steuerrückerstattung", "rückerstattung", "remboursement d'impôt", "reembolso de impuestos", "rimborso fiscale", "belastingteruggave", "anspruch auf eine", NULL};
static const char *const G_URGENT[] = {"urgent", "urgently", "within 24h", "within 24 hours", "within 12 hours",
                                       "final notice", "immediately", "limited slots", "expire today", "expires today",
                                       "before it ends", "only 100 left", "act now", "last chance", "today only",
                                       "avoid suspension", "avoid a penalty", "avoid losing", "last reminder", "final reminder", "avoid a $", "avoid a £", "avoid late fees", "before the deadline", NULL};
static const char *const G_REPLY[] = {"reply yes", "reply y", "reply 1", "text yes", "reply stop", "reply now",
                                      "responde sí", "antworten sie mit ja", "press 1", "text win", "txt win", "reply win", "if not reply", "reply no", "reply 'no'", NULL};
static const char *const G_CODE[] = {"send me the code", "the code you received", "code you just received", "6-digit code",
                                     "6 digit code", "verification code", "code we sent", "whatsapp code", "code we just", "the code we", "code we texted", "code that was sent", "my verification code", "code i sent you by mistake",
                                     /* round 8 */
                                     "code we just texted", "send us the code", "reply with the code", "bank app code",
                                     "code to block", "code to confirm", NULL};
static const char *const G_CODE2[] = {"send", "share", "forward", "tell me", "read me", "give me", "by mistake",
                                      "reply with", "we need", NULL};
static const char *const G_CALLBACK[] = {"if this wasn't you", "if this was not you", "if you did not make", "if you didn't make",
                                         "if you did not authori*", "if you didn't authori*", "call us immediately", "call this number", "if you did not *", "if you didn't *", "not you?", "didn't order this", "did not order this", NULL};
static const char *const G_CALLBACK2[] = {"call", "ring", "dial", "reply", "1-800", "0800", NULL};
static const char *const G_SMS[] = {"t&cs apply", "t&c apply", "18+ only", "unsubscribe stop", "free msg", "text stop",
                                    "txt stop", "std rates", "per msg", "call 090*", "call 0871*", "text * to 8*", "text * to 6*",
                                    "txt * to 8*", NULL};
static const char *const G_GOODS[] = {"viagra", "cialis", "no prescription", "replica*", "rolex", "weird trick", "doctors hate",
                                      "diet pills", "weight loss", "lose weight", "lose 20 pounds", "cheap meds", "enlargement",
                                      "buy followers", "instagram followers", "followers and likes", "casino bonus",
                                      "free spins", "hot singles", "singles in your area", "diploma", "degree in", "no exams", "fake id", "doctors are shocked", "shocked by this", "this trick", "lose 10kg", "robux", "v-bucks", "vbucks", "generator", "no survey", "hot local", "local girls", "want to meet you tonight", "followers for $", "followers for £", "000 followers", "k followers", "followers on instagram", "tried to reach you about", "courtesy call", NULL};
/* lures and sextortion: "is this you in this video?", "I recorded you through your webcam" */
static const char *const G_LURE[] = {"is this you in", "is this you?", "are you in this video", "this video of you",
                                     "photos have been leaked", "photos were leaked", "recorded you", "your webcam",
                                     "video to your contacts", "send the video", "secret admirer", "see who it is", NULL};
/* "I sent you $50 by mistake, can you send it back?" */
/* round 6: a "safe account" the bank never sets up; changed payee details; sextortion */
static const char *const G_SAFE_ACCOUNT[] = {"safe account", "protected account", "holding account", "secure account we",
                                             "move your balance", "move your savings", "move all your money",
                                             "transfer everything", "cuenta segura", "sicheres konto", "compte sécurisé",
                                             "conto sicuro", "veilige rekening", NULL};
/* the scammer's voice: "we've set up", "our team", "now" ("they'll never ask you to move money to a safe account": none) */
static const char *const G_SAFE_ACCOUNT2[] = {"we've", "we have", "we will", "we'll", "our team", "for you", "opened",
                                              "set up", "now", "today", "immediately", "urgent", "wir", "hemos",
                                              "abbiamo", "nous avons", "we hebben", NULL};
static const char *const G_NEW_PAYEE[] = {"bank details have changed", "bank details changed", "new bank details",
                                          "updated bank details", "payment details have changed", "new iban",
                                          "neue bankverbindung", "nouvelles coordonnées bancaires", "nuevos datos bancarios",
                                          "nieuwe rekeningnummer", NULL};
static const char *const G_NEW_PAYEE2[] = {"invoice", "invoices", "pay", "payment", "rechnung", "facture", "factura",
                                           "fattura", "factuur", "transfer", "überweisen", NULL};
static const char *const G_SEXTORT[] = {"hacked your device", "hacked your phone", "hacked your computer",
                                        "recorded you", "i have a video of you", "i have videos of you",
                                        "access to your camera", "your webcam", "delete everything", NULL};
static const char *const G_SEXTORT2[] = {"btc", "bitcoin", "transfer", "pay", "send", "address below", "wallet", NULL};
static const char *const G_MISTAKE[] = {"by mistake", "by accident", "accidentally sent", "sent it to the wrong", NULL};
static const char *const G_MISTAKE2[] = {"send it back", "return it", "send back", "refund me", "give it back", NULL};
/* the stranded traveller: only with money */
static const char *const G_STRANDED[] = {"stuck at the airport", "stranded", "won't let me board", "let me board",
                                         "stuck abroad", "lost my wallet and",
                                         /* round 8: the grandchild in trouble */
                                         "got arrested", "i'm in jail", "in jail and", "arrested abroad",
                                         "had an accident and", "don't tell mom", "don't tell mum", "don't tell dad", 
    /* round 9 */ "atrapado en", "atrapada en", "bloccato all", "bloccata all", "coincé à", "coincée à", "sitze am flughafen", "vast op het vliegveld", NULL};
/* fake renewals and scareware: "your Norton subscription renewed for $399, call to cancel" */
static const char *const G_TECH[] = {"norton", "mcafee", "geek squad", "antivirus", "detected a virus", "virus on your",
                                     "your phone is infected", "your device is infected", "install the cleaner",
                                     "cleaner app", "call to cancel", "to cancel call", "has been renewed", "viruses detected", "virus detected",
                                     "clean now", "viruses", "tech support", "error reports", "your computer is", "anydesk", "teamviewer", "remote access", "windows defender", NULL};
static const char *const G_TECH2[] = {"$", "£", "€", "call", "install", "renewed", "cancel", "protect", "virus",
                                      "infected", "clean", "detected", NULL};
static const char *const G_PROMO[] = {"% off", "limited time offer", "special promotion", "special offers", "buy now", "order now",
                                      "exclusive offer", "lowest rates", "best price", "sign up today", "sign up free",
                                      "apply online", "free consultation", "credit score", "refinance", "mortgage rates",
                                      "unsubscribe", "mailing list", "free trial", "no credit check", "risk free", "risk-free",
                                      "offer ends", "act now", "don't miss out", "click here", "shop now", "weekend only", "free ringtones", "cheap!",
                                      "instant delivery", "discreet shipping", "online surveys", "for your opinion", NULL};
static const char *const G_CTA[] = {"claim", "verify", "click", "redeem", "update", "confirm", "pay", "unlock", "restore",
                                    "secure it", "validate", "collect", "tap the link", "tap to accept", "resgate", "reclama", "einlösen", "réclamez",
                                    "riscattalo", "klik", "actualice", "bestätigen", "réglez", "paga", "join", "visit",
                                    "reply yes", "keep your current password", NULL};

/* round 9: a warrant or legal action that a call or a payment settles
 * (not "unpaid taxes" + "pay": people say that of their own taxes,
 * review9 F3) */
static const char *const G_AUTHORITY[] = {"a warrant", "warrant has been issued", "warrant for your arrest", "arrest warrant",
                                          "legal action against you", "lawsuit against you",
                                          "this is the police", "haftbefehl", "mandat d'arrêt", "orden de arresto", NULL};
static const char *const G_AUTHORITY2[] = {"call back", "call us", "immediately", "settle", "pay", "avoid arrest", "fine",
                                           "press 1", "bezahlen", "payer", "pagar", NULL};
/* round 9: a buyer's "payment" that the seller must click to receive (Marktplaats, Vinted, OLX) */
static const char *const G_RECEIVE[] = {"to receive your money", "to receive the money", "to receive your payment",
                                        "receive the payment", "geld te ontvangen", "om je geld", "um dein geld",
                                        "pour recevoir votre argent", "pour recevoir l'argent", "recibir tu dinero",
                                        "recibir el pago", "receber o dinheiro", "ricevere il pagamento", NULL};
static const char *const G_RECEIVE2[] = {"click", "klik", "tap", "link", "klicken", "cliquez", "clic", "clique", "clicca", NULL};
/* round 9: an app to install from a message ("lihat foto resi di aplikasi ini (file .apk)") */
static const char *const G_APK[] = {"install this app", "download this app", "unduh aplikasi", NULL};
/* an .apk file only with what a lure says of it ("lihat foto resi di aplikasi ini (file .apk)"),
 * not a developer's "send me the apk when the build is done" (review9 F3) */
static const char *const G_APK_FILE[] = {".apk", "apk file", "file apk", NULL};
static const char *const G_APK_LURE[] = {"resi", "paket", "package", "parcel", "delivery", "foto", "photo", "invoice",
                                         "tagihan", "undangan", "invitation", "lihat", "buka", "open it", NULL};
/* round 9: a warning about scams, which is no scam ("fake texts from the tax office are going round, don't click") */
static const char *const G_WARNING[] = {"fake sms", "faux sms", "fake texts", "fake messages", "messaggi falsi", "sms falsi",
                                        "mensajes falsos", "gefälschte", "nep-sms", "scam going round", "scam going around",
                                        "scams going round", "scams going around", "ne cliquez sur rien", "don't click anything",
                                        "don't click on", "non cliccate", "ci è cascata", "ci è cascato", "fell for it",
                                        "watch out for", "attenzione ai", "beware of", "it's a scam", "its a scam", "it is a scam",
                                        "no hagas caso", "nunca te pediría", "never ask you for money", "would never ask",
                                        "told her to delete", "told him to delete", "told them to delete", "texts are real",
                                        "no need to send anything", "nothing to send", "ne jamais répondre", "nie antworten", NULL};

enum { REQ_URL = 1, REQ_NO_URL = 2 };
#define MORE 0.5 /* each further phrase of a matched group, up to two */

struct rule {
    const char *name;
    double w;
    const char *const *a;
    const char *const *b; /* NULL: none */
    double w_alone;       /* a without b */
    int req;              /* REQ_URL: only with a link; REQ_NO_URL: only without one */
};

static const struct rule rules[] = {
    {"crypto_claim", 2.2, G_CRYPTO, NULL, 0, 0},
    {"seed_phrase", 3.5, G_SEED, G_HANDOVER, 0.8, 0},
    {"prize", 2.2, G_PRIZE, G_PRIZE_THING, 1.0, 0},
    {"giftcard_request", 3.0, G_GIFTCARD_ASK, G_CODES, 0.5, 0},
    {"parcel_fee", 2.4, G_PARCEL, G_PARCEL_FEE, 0, 0},
    {"new_number", 2.8, G_FAMILY, G_NEWNUMBER, 0, 0},
    {"family_money", 1.8, G_FAMILY, G_MONEYASK, 0, 0},
    {"family_greeting", 0.8, G_FAMILY_HI, NULL, 0, 0},
    {"lost_phone_money", 2.4, G_NEWNUMBER, G_MONEYASK, 0, 0},
    {"dead_phone_money", 2.4, G_PHONEDEAD, G_MONEYASK, 0, 0},
    {"tech_support", 2.6, G_TECH, G_TECH2, 0.8, 0},
    {"lure", 2.6, G_LURE, NULL, 0, 0},
    {"mistaken_payment", 2.8, G_MISTAKE, G_MISTAKE2, 0, 0},
    {"stranded", 2.4, G_STRANDED, G_MONEYASK, 0, 0},
    {"lock_action", 1.0, G_LOCKED, G_LOCK_ACTION, 0, 0},
    {"brand_voice", 0.9, G_BRAND_VOICE, NULL, 0, 0},
    {"advance_fee", 2.6, G_ADVANCE, G_ADVANCE2, 0.8, 0},
    {"crypto_giveaway", 2.4, G_GIVEAWAY, G_COINS, 0, 0},
    {"romance", 3.2, G_ROMANCE, NULL, 0, 0},
    {"job_task", 3.0, G_JOB, G_JOB2, 0.6, 0},
    {"account_lock", 2.2, G_ACCOUNT, G_LOCKED, 0, 0},
    {"investment", 2.4, G_INVEST, G_INVEST2, 0.5, 0},
    {"refund", 1.6, G_REFUND, NULL, 0, 0},
    {"urgency", 0.9, G_URGENT, NULL, 0, 0},
    {"reply_keyword", 1.3, G_REPLY, NULL, 0, 0},
    {"premium_sms", 2.4, G_SMS, NULL, 0, 0},
    {"shady_goods", 3.0, G_GOODS, NULL, 0, 0},
    {"promotion", 1.4, G_PROMO, NULL, 0, 0},
    {"code_request", 3.2, G_CODE, G_CODE2, 0, 0},
    {"safe_account", 2.8, G_SAFE_ACCOUNT, G_SAFE_ACCOUNT2, 0, 0},
    {"new_payee", 2.6, G_NEW_PAYEE, G_NEW_PAYEE2, 0, 0},
    {"sextortion", 3.0, G_SEXTORT, G_SEXTORT2, 0, 0},
    {"callback", 2.0, G_CALLBACK, G_CALLBACK2, 0, 0},
    {"link_action", 1.2, G_CTA, NULL, 0, REQ_URL},
    /* round 9 */
    {"authority", 2.6, G_AUTHORITY, G_AUTHORITY2, 0, 0},
    {"receive_payment", 2.6, G_RECEIVE, G_RECEIVE2, 0.8, 0},
    {"app_install", 2.2, G_APK, NULL, 0, 0},
    {"app_install", 2.2, G_APK_FILE, G_APK_LURE, 0, 0},
    /* a warning with a link of its own is no warning: a scammer's "beware
     * of fake texts" before the link must not lower its score (review9 F3) */
    {"scam_warning", -2.5, G_WARNING, NULL, 0, REQ_NO_URL},
};

/* ---- matching ------------------------------------------------------------------ */

static int word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Which two- and three-byte beginnings of words the text has: a phrase
 * whose beginning is not among them cannot occur, so most of the ~700
 * phrases are dismissed by one bit test. */
struct starts {
    uint64_t two[64], three[64]; /* 4096 bits each */
    uint16_t pos[LOW_MAX / 2];     /* where words start */
    size_t npos;
};

static unsigned start_key(const char *p, size_t k)
{
    uint32_t v = (uint32_t)(unsigned char)p[0] << 16 | (uint32_t)(unsigned char)p[1] << 8 |
                 (k > 2 ? (uint32_t)(unsigned char)p[2] : 0u);
    return (unsigned)((v * 2654435761u) >> 20);
}

static void starts_of(const char *s, size_t n, struct starts *st)
{
    memset(st->two, 0, sizeof st->two);
    memset(st->three, 0, sizeof st->three);
    st->npos = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (word_byte((unsigned char)s[i]) && (i == 0 || !word_byte((unsigned char)s[i - 1]))) {
            if (st->npos < sizeof st->pos / sizeof st->pos[0]) st->pos[st->npos++] = (uint16_t)i;
            unsigned k = start_key(s + i, 2);
            st->two[k >> 6] |= 1ull << (k & 63);
            if (i + 2 < n) {
                k = start_key(s + i, 3);
                st->three[k >> 6] |= 1ull << (k & 63);
            }
        }
}

/* Does phrase p occur in s[0..n) at word boundaries? '*' at the end: a
 * prefix; '*' alone between spaces: any one word. */
static int phrase_in_scan(const char *s, size_t n, const char *p);

#define NO_KEY 0xFFFFu /* a phrase that the bitmaps cannot dismiss */
#define KEY3 0x8000u   /* the key is of three bytes */

/* The bitmap key of a phrase (computed once per phrase, see phrase_keys). */
static uint16_t phrase_key(const char *p)
{
    if (!word_byte((unsigned char)p[0]) || !p[1] || p[1] == '*') return NO_KEY;
    bool three = p[2] && p[2] != '*';
    return (uint16_t)(start_key(p, three ? 3 : 2) | (three ? KEY3 : 0u));
}

static int phrase_in_st(const struct starts *st, const char *s, size_t n, const char *p, uint16_t key)
{
    if (key == NO_KEY) return phrase_in_scan(s, n, p);
    unsigned k = key & 4095u;
    const uint64_t *bits = (key & KEY3) ? st->three : st->two;
    if (!(bits[k >> 6] & (1ull << (k & 63)))) return 0;
    size_t pl = strlen(p);
    if (memchr(p, '*', pl - 1)) return phrase_in_scan(s, n, p); /* "claim * tokens" */
    int prefix = p[pl - 1] == '*';
    if (prefix) pl--;
    /* a phrase that starts with a word byte starts a word: try those places only */
    for (size_t q = 0; q < st->npos; q++) {
        size_t i = st->pos[q];
        if (i + pl > n || s[i] != p[0] || memcmp(s + i, p, pl) != 0) continue;
        if (!prefix && i + pl < n && word_byte((unsigned char)s[i + pl]) && word_byte((unsigned char)p[pl - 1])) continue;
        return 1;
    }
    return 0;
}

static int phrase_in_scan(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    int prefix = pl && p[pl - 1] == '*';
    if (prefix) pl--;
    const char *star = memchr(p, '*', pl);
    if (star) { /* "claim * tokens": the parts around one word */
        size_t l1 = (size_t)(star - p);
        for (size_t i = 0; i + l1 <= n; i++) {
            if (memcmp(s + i, p, l1) != 0 || (i > 0 && word_byte((unsigned char)s[i - 1]))) continue;
            size_t j = i + l1;
            while (j < n && word_byte((unsigned char)s[j])) j++;
            size_t rest = pl - l1 - 1;
            if (j + rest <= n && memcmp(s + j, star + 1, rest) == 0) return 1;
        }
        return 0;
    }
    for (size_t i = 0; i + pl <= n; i++) {
        if (s[i] != p[0] || memcmp(s + i, p, pl) != 0) continue;
        if (i > 0 && word_byte((unsigned char)s[i - 1]) && word_byte((unsigned char)p[0])) continue;
        if (!prefix && i + pl < n && word_byte((unsigned char)s[i + pl]) && word_byte((unsigned char)p[pl - 1])) continue;
        return 1;
    }
    return 0;
}

static int any_in(const struct starts *st, const char *s, size_t n, const char *const *list, const uint16_t *keys)
{
    for (size_t i = 0; list[i]; i++)
        if (phrase_in_st(st, s, n, list[i], keys[i])) return 1;
    return 0;
}

/* How many phrases of list occur (at most 3). */
static int count_in(const struct starts *st, const char *s, size_t n, const char *const *list, const uint16_t *keys)
{
    int k = 0;
    for (size_t i = 0; list[i] && k < 3; i++) k += phrase_in_st(st, s, n, list[i], keys[i]);
    return k;
}

static int in_list(const char *w, size_t n, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && memcmp(list[i], w, n) == 0) return 1;
    return 0;
}

/* ---- links ------------------------------------------------------------------------- */

static int host_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

struct cue_out {
    struct zt__spam_cue *v;
    size_t n, max;
    double sum;
};

static void hit(struct cue_out *o, const char *name, double w)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->v[i].name, name) == 0) return; /* each cue once */
    o->sum += w;
    if (o->n < o->max) {
        o->v[o->n].name = name;
        o->v[o->n].weight = w;
        o->n++;
    }
}

static int all_digits_dots(const char *h, size_t n)
{
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '.') dots++;
        else if (h[i] < '0' || h[i] > '9') return 0;
    }
    return dots == 3;
}

/* The label before the public suffix ("paypal" of "www.paypal.co.uk"). */
static void reg_label(const char *h, size_t n, const char **lab, size_t *ll)
{
    size_t end = n, dots = 0;
    size_t cut[8] = {0};
    for (size_t i = n; i-- > 0;)
        if (h[i] == '.' && dots < 8) cut[dots++] = i;
    /* cut[0]: last dot; a two-part suffix (co.uk, com.au) when the label
     * before the TLD is short and generic */
    size_t stop = dots ? cut[0] : n;
    if (dots >= 2) {
        const char *sl = h + cut[1] + 1;
        size_t sll = cut[0] - cut[1] - 1;
        static const char *const second[] = {"co", "com", "org", "net", "gov", "ac", "uk", NULL};
        if (in_list(sl, sll, second)) stop = cut[1];
    }
    size_t start = 0;
    for (size_t i = stop; i-- > 0;)
        if (h[i] == '.') {
            start = i + 1;
            break;
        }
    (void)end;
    *lab = h + start;
    *ll = stop - start;
}

/* Is a one edit (insert, delete, substitute) away from b? */
static int one_edit(const char *a, size_t al, const char *b, size_t bl)
{
    if (al > bl + 1 || bl > al + 1) return 0;
    size_t i = 0, j = 0;
    int edits = 0;
    while (i < al && j < bl) {
        if (a[i] == b[j]) {
            i++, j++;
            continue;
        }
        if (++edits > 1) return 0;
        if (al > bl) i++;
        else if (bl > al) j++;
        else i++, j++;
    }
    edits += (int)(al - i) + (int)(bl - j);
    return edits == 1;
}

/* h[0..n) ends in COUNTRY.TLD with a label before them ("x.de.ms"). */
static int stacked_suffix(const char *h, size_t n)
{
    size_t d1 = n, d2 = n;
    for (size_t i = n; i-- > 0;)
        if (h[i] == '.') {
            if (d1 == n) d1 = i;
            else {
                d2 = i;
                break;
            }
        }
    if (d2 == n || d2 == 0 || d1 - d2 != 3 || n - d1 - 1 < 2 || n - d1 - 1 > 4) return 0;
    for (size_t i = d1 + 1; i < n; i++)
        if (h[i] < 'a' || h[i] > 'z') return 0;
    return in_list(h + d2 + 1, 2, L_STACKED_CC);
}

static void link_cues(const char *h, size_t n, struct cue_out *o)
{
    hit(o, "link", 0.3);
    if (all_digits_dots(h, n)) {
        hit(o, "link_ip_literal", 2.6);
        return;
    }
    for (size_t i = 0; L_SHORTENER[i]; i++)
        if (strlen(L_SHORTENER[i]) == n && memcmp(L_SHORTENER[i], h, n) == 0) hit(o, "link_shortener", 1.8);
    if (phrase_in_scan(h, n, "xn--*")) hit(o, "link_punycode", 2.6);
    const char *dot = NULL;
    for (size_t i = n; i-- > 0;)
        if (h[i] == '.') {
            dot = h + i;
            break;
        }
    if (dot && in_list(dot + 1, (size_t)(h + n - dot - 1), L_CHEAP_TLD)) hit(o, "link_cheap_tld", 1.8);
    if (stacked_suffix(h, n)) hit(o, "link_stacked_suffix", 2.0);
    const char *lab;
    size_t ll;
    reg_label(h, n, &lab, &ll);
    /* digit look-alikes of the registered label */
    char fold[64];
    size_t fl = ll < sizeof fold ? ll : sizeof fold - 1;
    int changed = 0;
    for (size_t i = 0; i < fl; i++) {
        char c = lab[i];
        char m = c == '0' ? 'o' : c == '1' ? 'l' : c == '3' ? 'e' : c == '5' ? 's' : c == '4' ? 'a' : c;
        changed |= m != c;
        fold[i] = m;
    }
    fold[fl] = 0;
    for (size_t b = 0; L_BRANDS[b]; b++) {
        size_t bl = strlen(L_BRANDS[b]);
        if (ll == bl && memcmp(lab, L_BRANDS[b], bl) == 0) continue; /* the brand's own domain */
        if ((changed && fl == bl && memcmp(fold, L_BRANDS[b], bl) == 0) || (bl >= 6 && one_edit(lab, ll, L_BRANDS[b], bl))) {
            hit(o, "link_lookalike", 2.8);
            break;
        }
        if (bl >= 4 && phrase_in_scan(h, n, L_BRANDS[b])) { /* the brand as a label or a hyphenated part */
            hit(o, "link_lookalike", 2.8);
            break;
        }
        if (bl >= 4) {
            /* brand glued to other words in the registered label: "paypal-secure" is caught above; "amazongift" here */
            for (size_t i = 0; i + bl <= fl; i++)
                if (memcmp(fold + i, L_BRANDS[b], bl) == 0) {
                    hit(o, "link_lookalike", 2.8);
                    goto words;
                }
        }
    }
words:
    for (size_t i = 0; L_HOST_WORDS[i]; i++) {
        size_t wl = strlen(L_HOST_WORDS[i]);
        for (size_t k = 0; k + wl <= n; k++)
            if (memcmp(h + k, L_HOST_WORDS[i], wl) == 0) {
                hit(o, "link_scam_words", 1.4);
                return;
            }
    }
}

/* Find the links of s[0..n): a scheme, "www.", or a bare host whose last
 * label is 2+ letters followed by '/', the end, or a space. */
static int scan_links(const char *s, size_t n, struct cue_out *o)
{
    int links = 0;
    size_t i = 0;
    while (i < n) {
        /* a whitespace-separated token */
        while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '(' || s[i] == '"')) i++;
        size_t st = i;
        while (i < n && s[i] != ' ' && s[i] != '\n' && s[i] != '\t') i++;
        size_t en = i;
        if (en <= st) continue;
        const char *t = s + st;
        size_t tl = en - st;
        if (memchr(t, '@', tl)) continue; /* an e-mail address */
        size_t h0 = 0;
        int scheme = 0;
        if (tl > 7 && memcmp(t, "http://", 7) == 0) h0 = 7, scheme = 1;
        else if (tl > 8 && memcmp(t, "https://", 8) == 0) h0 = 8, scheme = 1;
        else if (tl > 7 && memcmp(t, "hxxp://", 7) == 0) h0 = 7, scheme = 1;
        size_t h1 = h0;
        while (h1 < tl && host_byte((unsigned char)t[h1])) h1++;
        /* trailing dots and the end of a sentence */
        size_t he = h1;
        while (he > h0 && t[he - 1] == '.') he--;
        if (he <= h0) continue;
        const char *h = t + h0;
        size_t hl = he - h0;
        const char *last = NULL;
        for (size_t k = hl; k-- > 0;)
            if (h[k] == '.') {
                last = h + k;
                break;
            }
        if (!last) continue;
        size_t tld = (size_t)(h + hl - last - 1);
        int alpha_tld = tld >= 2 && tld <= 12;
        for (size_t k = 1; k <= tld && alpha_tld; k++) alpha_tld = last[k] >= 'a' && last[k] <= 'z';
        int www = hl > 4 && memcmp(h, "www.", 4) == 0;
        if (all_digits_dots(h, hl)) {
            if (!scheme && (h1 == tl || t[h1] != '/')) continue; /* an address, not a link */
        } else if (!scheme && !www) {
            static const char *const bare_tld[] = {"com", "net", "org", "io", "co", "uk", "de", "fr", "es", "it",
                                                   "nl", "app", "me", "ly", "gl", "gy", "gd", "cc", "id", "in", NULL};
            if (!alpha_tld || (!in_list(last + 1, tld, bare_tld) && !in_list(last + 1, tld, L_CHEAP_TLD) &&
                               !stacked_suffix(h, hl)))
                continue;
        }
        links++;
        link_cues(h, hl, o);
    }
    return links;
}

/* The keys of every rule's phrases, computed once (pthread_once): reading
 * ~700 scattered string literals per message cost more than matching. */
#define N_RULES (sizeof rules / sizeof rules[0])
#define KEY_POOL 4096
static uint16_t key_pool[KEY_POOL];
static const uint16_t *keys_a[N_RULES], *keys_b[N_RULES];
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static const uint16_t *keys_of(const char *const *list, size_t *used)
{
    size_t n = 0;
    while (list[n]) n++;
    if (*used + n > KEY_POOL) return NULL; /* cannot happen: the lists are fixed (asserted by the tests) */
    uint16_t *k = key_pool + *used;
    for (size_t i = 0; i < n; i++) k[i] = phrase_key(list[i]);
    *used += n;
    return k;
}

static void build_keys(void)
{
    size_t used = 0;
    for (size_t r = 0; r < N_RULES; r++) {
        keys_a[r] = keys_of(rules[r].a, &used);
        keys_b[r] = rules[r].b ? keys_of(rules[r].b, &used) : NULL;
    }
}

double zt__spam_chat_cues(const char *text, size_t len, struct zt__spam_cue *cues, size_t max, size_t *n_cues)
{
    pthread_once(&keys_once, build_keys);
    char low[LOW_MAX];
    size_t n = len < LOW_MAX ? len : LOW_MAX;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    /* typographic apostrophes as ASCII ("you’ve won") */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n && (unsigned char)low[i] == 0xE2 && (unsigned char)low[i + 1] == 0x80 &&
            ((unsigned char)low[i + 2] == 0x99 || (unsigned char)low[i + 2] == 0x98)) {
            low[w++] = '\'';
            i += 2;
            continue;
        }
        low[w++] = low[i];
    }
    n = w;
    struct cue_out o = {.v = cues, .max = max};
    struct starts st;
    starts_of(low, n, &st);
    int links = scan_links(low, n, &o);
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        const struct rule *ru = &rules[r];
        if ((ru->req & REQ_URL) && !links) continue;
        if ((ru->req & REQ_NO_URL) && links) continue;
        if (!keys_a[r] || (ru->b && !keys_b[r])) continue;
        int k = count_in(&st, low, n, ru->a, keys_a[r]);
        if (!k) continue;
        /* more phrases of the same scam: more evidence, less each */
        if (!ru->b || any_in(&st, low, n, ru->b, keys_b[r])) hit(&o, ru->name, ru->w + (ru->w > 0 ? MORE * (k - 1) : 0));
        else if (ru->w_alone > 0) hit(&o, ru->name, ru->w_alone);
    }
    if (n_cues) *n_cues = o.n;
    return o.sum;
}
