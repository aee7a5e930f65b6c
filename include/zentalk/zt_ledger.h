/* zt_ledger.h: the CHAIN token ledger (issue 12; docs/internals/ledger.md):
 * unsigned 128-bit amounts in base units (18 decimals) with exact decimal
 * text, a double-entry ledger with idempotency keys in the store (owner
 * "ledger"), escrow/settle/refund/slash per job id, and payout batches
 * whose Merkle root and proofs follow OpenZeppelin's StandardMerkleTree.
 *
 * A struct zt_ledger is bound to one store handle and, like it, is not
 * thread-safe: one ledger (and one store) per thread. Every movement runs
 * in zt_store_tx, so several handles (threads, processes) share one
 * database safely. No floating point anywhere. */
#ifndef ZT_LEDGER_H
#define ZT_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

/* ---- 128-bit amounts -------------------------------------------------------- */

__extension__ typedef unsigned __int128 zt_u128;

#define ZT_U128_MAX (~(zt_u128)0)
#define ZT_U128_DIGITS 39    /* 2^128 - 1 has 39 decimal digits */
#define ZT_U128_STR_LEN 41   /* "-" + 39 digits + NUL (signed balances) */
#define ZT_LEDGER_DECIMALS 18 /* base units per token: 10^18, as an ERC-20 */

/* Base units as decimal text: digits only ("0" or no leading zeros), at
 * most 39 of them. ZT_EPARSE for anything else (sign, point, exponent,
 * space, empty), ZT_ERANGE above 2^128 - 1. n: bytes of s. */
ZT_NODISCARD int zt_u128_parse(const char *s, size_t n, zt_u128 *out);
/* Tokens as decimal text ("1.5", "0.000000000000000001", "12"): at most
 * ZT_LEDGER_DECIMALS digits after the point, converted exactly to base
 * units. Same refusals as zt_u128_parse (no exponent, no sign), plus more
 * than 18 fractional digits (ZT_EPARSE). */
ZT_NODISCARD int zt_u128_parse_tokens(const char *s, size_t n, zt_u128 *out);
/* Decimal text of v into out; returns its length. */
size_t zt_u128_format(zt_u128 v, char out[static ZT_U128_STR_LEN]);
/* Checked arithmetic: ZT_ERANGE on overflow/underflow, *out untouched. */
ZT_NODISCARD int zt_u128_add(zt_u128 a, zt_u128 b, zt_u128 *out);
ZT_NODISCARD int zt_u128_sub(zt_u128 a, zt_u128 b, zt_u128 *out);
ZT_NODISCARD int zt_u128_mul(zt_u128 a, zt_u128 b, zt_u128 *out);

/* A signed balance (only kinds that may go negative ever have neg set). */
struct zt_ledger_bal {
    zt_u128 mag;
    bool neg;
};

/* ---- accounts and transactions ------------------------------------------- */

enum zt_ledger_kind {
    ZT_LEDGER_USER = 1,     /* owner: wallet address 0x + 40 hex (lower-cased) */
    ZT_LEDGER_PROVIDER = 2, /* owner: node id; payout wallet address */
    ZT_LEDGER_STAKE = 3,    /* owner: node id; a provider's locked stake */
    ZT_LEDGER_FEE = 4,      /* owner: "fee" (the orchestrator's fee account) */
    ZT_LEDGER_TREASURY = 5, /* owner: "treasury"; the only kind that may go negative */
    ZT_LEDGER_ESCROW = 6,   /* owner: "escrow"; holds every job's reservation */
    ZT_LEDGER_PAYOUT = 7,   /* owner: "payouts"; earnings batched, awaiting the chain */
};

/* Whether accounts of this kind may go below zero (only the treasury). */
bool zt_ledger_kind_may_go_negative(enum zt_ledger_kind k);
const char *zt_ledger_kind_name(enum zt_ledger_kind k);

struct zt_store;
struct zt_ledger;

/* Migrate the owner "ledger" and prepare the statements. st outlives the
 * ledger. */
ZT_NODISCARD int zt_ledger_new(struct zt_store *st, struct zt_ledger **out);
void zt_ledger_free(struct zt_ledger *l); /* NULL is a no-op */

/* The account of (kind, owner), created with a zero balance if absent.
 * payout: the payout wallet of a provider (0x + 40 hex), NULL otherwise;
 * for an existing provider a different payout updates it. ZT_EINVAL for a
 * bad owner or address. */
ZT_NODISCARD int zt_ledger_account(struct zt_ledger *l, enum zt_ledger_kind kind, const char *owner,
                                   const char *payout, int64_t *id);
/* The account of (kind, owner) and its balance without creating it
 * (read-only; owner canonical: a lower-cased 0x address or a node id);
 * ZT_ENOTFOUND when there is none. */
ZT_NODISCARD int zt_ledger_find(struct zt_ledger *l, enum zt_ledger_kind kind, const char *owner, int64_t *id,
                                struct zt_ledger_bal *out);
/* The well-known singletons (fee, treasury, escrow, payouts) by kind. */
ZT_NODISCARD int zt_ledger_system_account(struct zt_ledger *l, enum zt_ledger_kind kind, int64_t *id);
ZT_NODISCARD int zt_ledger_balance(struct zt_ledger *l, int64_t account, struct zt_ledger_bal *out);
/* Total minted so far. */
ZT_NODISCARD int zt_ledger_minted(struct zt_ledger *l, zt_u128 *out);

/* One entry: credit adds amount (> 0) to the account, debit subtracts. */
struct zt_ledger_entry {
    int64_t account;
    zt_u128 amount;
    bool credit;
};

#define ZT_LEDGER_KEY_MAX 128 /* idempotency keys: 1..128 printable ASCII bytes */
#define ZT_LEDGER_MAX_ENTRIES 64

/* Post a balanced transaction (sum of credits == sum of debits, 1 to
 * ZT_LEDGER_MAX_ENTRIES entries, no zero amount) under idempotency key
 * key, atomically. A key seen before with the same body returns the
 * original transaction (*replayed = true, nothing moves again); with
 * another body ZT_EEXIST. ZT_ERANGE when a balance would go negative (on
 * a kind that may not) or overflow; ZT_EINVAL for an unbalanced body or
 * an unknown account. tx_id/replayed may be NULL. */
ZT_NODISCARD int zt_ledger_post(struct zt_ledger *l, const char *key, const char *memo,
                                const struct zt_ledger_entry *e, size_t n, int64_t *tx_id, bool *replayed);
/* Mint amount into account (the deposit of an admin or the bridge): the
 * one unbalanced kind of transaction; adds to the total minted. Same
 * idempotency as zt_ledger_post. */
ZT_NODISCARD int zt_ledger_mint(struct zt_ledger *l, const char *key, int64_t account, zt_u128 amount,
                                int64_t *tx_id, bool *replayed);

/* Check the books: every transaction balanced (mints only credit), every
 * account's history replays from zero to its balance_after values and its
 * stored balance without going negative where its kind may not, the mints
 * add up to the total minted, the balances sum to the total minted, and
 * no earning sits in two batches. 0 when all hold; ZT_ERANGE with the first
 * discrepancy in why (NUL-terminated, may be NULL) otherwise; other
 * negative codes are store errors. */
ZT_NODISCARD int zt_ledger_audit(struct zt_ledger *l, char *why, size_t cap);
/* The two ways out of a rebuild refused because the database's ledger and
 * the chain's each hold changes the other lacks (docs/architecture/
 * MESH_INTEGRATION.md "Rebuild on a shared PostgreSQL"; `zentalk ledger
 * prefer`). Keep the database's: its ledger version set above both its
 * own and chain_version (the version the refusal named for the chain), the
 * restored mark cleared, so the next rebuild keeps it and replays only the
 * orchestrator's jobs; the new version in *v. ZT_EINVAL when chain_version
 * is negative. On a ledger awaiting its rebuild (zt_ledger_clear) this is
 * the way back: the awaiting mark goes too, and the emptied ledger is the
 * database's from then on (database sync publishes it, deletes included). */
ZT_NODISCARD int zt_ledger_prefer_database(struct zt_ledger *l, int64_t chain_version, int64_t *v);
/* Take the chain's: every ledger row deleted (accounts, transactions,
 * entries, escrows, earnings, batches) and the minted total set to 0, in
 * one transaction, so the ledger is a fresh seed and the next rebuild
 * restores the chain's. The handle's system accounts are gone with the
 * rest: free l after this and open the ledger again (zt_ledger_new makes
 * them). The same transaction marks the ledger awaiting its rebuild
 * (ledger_version.restored = -1): until a rebuild from the mesh replays a
 * chain's ledger, every ledger write (on any handle, of any orchestrator
 * on the database) fails with ZT_EBUSY, and database sync publishes none
 * of the ledger's tables, so the deletes never reach a chain. Run the
 * rebuild right after. */
ZT_NODISCARD int zt_ledger_clear(struct zt_ledger *l);

/* ---- jobs: escrow, settlement, refund, stake, slash ---------------------- */

#define ZT_LEDGER_JOB_MAX 96 /* job ids: 1..96 printable ASCII bytes */

/* Reserve amount of user's balance for job_id (user -> escrow). Idempotent
 * by job id: the same call again is a no-op success, another amount or
 * user ZT_EEXIST. ZT_ERANGE when the user's balance is short. */
ZT_NODISCARD int zt_ledger_reserve(struct zt_ledger *l, const char *job_id, int64_t user, zt_u128 amount);
/* Settle a reserved job: cost to provider (recorded as an earning for the
 * payout queue at now_ms), fee to the fee account, the rest of the
 * reservation back to the user. cost + fee must not exceed the
 * reservation (ZT_ERANGE). Idempotent by job id (another body ZT_EEXIST);
 * ZT_EPERM when the job was refunded; ZT_ENOTFOUND when never reserved. */
ZT_NODISCARD int zt_ledger_settle(struct zt_ledger *l, const char *job_id, int64_t provider, zt_u128 cost,
                                  zt_u128 fee, int64_t now_ms);
/* Refund a reserved job's whole reservation (failure). Idempotent;
 * ZT_EPERM when it was settled; ZT_ENOTFOUND when never reserved. */
ZT_NODISCARD int zt_ledger_refund(struct zt_ledger *l, const char *job_id);
/* Lock amount of provider node_id's balance as stake (its PROVIDER
 * account -> its STAKE account), under idempotency key key. */
ZT_NODISCARD int zt_ledger_stake(struct zt_ledger *l, const char *key, const char *node_id, zt_u128 amount);
/* A verification mismatch on job_id: take amount from node_id's
 * stake (ZT_ERANGE when the stake is short), split it evenly among the
 * n_verifiers (0..16) honest verifiers' accounts, the remainder of the
 * division (all of it without verifiers) to the treasury. Idempotent by
 * job id. */
ZT_NODISCARD int zt_ledger_slash(struct zt_ledger *l, const char *job_id, const char *node_id, zt_u128 amount,
                                 const int64_t *verifiers, size_t n_verifiers);
/* What zt_ledger_penalize did. */
struct zt_ledger_slash_result {
    zt_u128 slashed;     /* taken from the stake */
    zt_u128 clawed_back; /* the job's earning returned to its payer */
    bool replayed;       /* done before: nothing moved now */
};
/* A confirmed mismatch on job_id by node_id, in one transaction: slash
 * min(amount, its stake) as zt_ledger_slash does ("slash:<job>"), and,
 * when the job's earning is in no payout batch yet (the dispute window),
 * move it back from the provider to the job's payer ("clawback:<job>")
 * and drop it from the payout queue. Idempotent by job id: again, nothing
 * moves (out->replayed). */
ZT_NODISCARD int zt_ledger_penalize(struct zt_ledger *l, const char *job_id, const char *node_id, zt_u128 amount,
                                    const int64_t *verifiers, size_t n_verifiers,
                                    struct zt_ledger_slash_result *out);
/* The verification bonus of job_id (chain.verification_bonus), in one
 * transaction under "vbonus:<job>": the fee account pays each of the
 * n_verifiers (1..16) accounts min(bonus, fee balance / n) (nothing when
 * that is 0: *paid_each = 0). Idempotent by job id: again, nothing moves
 * (*replayed). bonus 0: nothing, no key. paid_each, replayed may be NULL. */
ZT_NODISCARD int zt_ledger_verification_bonus(struct zt_ledger *l, const char *job_id, zt_u128 bonus,
                                              const int64_t *verifiers, size_t n_verifiers, zt_u128 *paid_each,
                                              bool *replayed);

/* ---- Merkle trees (OpenZeppelin StandardMerkleTree) --------------------- */

#define ZT_MERKLE_HASH 32
#define ZT_MERKLE_MAX_DEPTH 64

/* Leaf of an ABI-encoded tuple of n 32-byte words (uint256, address
 * left-padded): keccak256(keccak256(abi.encode(words))). */
void zt_merkle_leaf_words(const uint8_t (*words)[32], size_t n, uint8_t out[static ZT_MERKLE_HASH]);
/* The payout leaf (uint256 index, address account, uint256 amount). */
void zt_merkle_leaf(uint64_t index, const uint8_t addr[static 20], zt_u128 amount,
                    uint8_t out[static ZT_MERKLE_HASH]);
/* keccak256 of the two hashes in ascending byte order. */
void zt_merkle_pair(const uint8_t a[static ZT_MERKLE_HASH], const uint8_t b[static ZT_MERKLE_HASH],
                    uint8_t out[static ZT_MERKLE_HASH]);

struct zt_merkle;
/* Build the tree of n >= 1 leaf hashes as StandardMerkleTree.of does
 * (leaves sorted by hash, a complete binary tree in an array). */
ZT_NODISCARD int zt_merkle_build(const uint8_t (*leaves)[ZT_MERKLE_HASH], size_t n, struct zt_merkle **out);
void zt_merkle_free(struct zt_merkle *m);
void zt_merkle_root(const struct zt_merkle *m, uint8_t out[static ZT_MERKLE_HASH]);
/* The proof of input leaf i (sibling hashes, leaf to root) into proof;
 * *n its length. ZT_ERANGE for a bad i, ZT_ETOOBIG when cap is short. */
ZT_NODISCARD int zt_merkle_proof(const struct zt_merkle *m, size_t i, uint8_t (*proof)[ZT_MERKLE_HASH],
                                 size_t cap, size_t *n);
/* MerkleProof.verify: fold leaf with the proof by sorted pairs. */
bool zt_merkle_verify(const uint8_t root[static ZT_MERKLE_HASH], const uint8_t leaf[static ZT_MERKLE_HASH],
                      const uint8_t (*proof)[ZT_MERKLE_HASH], size_t n);

/* ---- payout batches ------------------------------------------------------- */

/* Collect every provider earning recorded at or before cutoff_ms (now minus
 * the dispute window) and not yet in a batch, per provider; providers whose
 * total is at least min_payout become leaves (index, payout address,
 * amount), the rest wait. In one transaction: a batch row with the Merkle
 * root, its leaves, one row per earning (earning id unique: no earning is
 * ever in two batches) and the transfer of the amounts from the providers
 * to the payouts account. *batch_id, *n_leaves; ZT_ENOTFOUND when nothing
 * is due. */
ZT_NODISCARD int zt_ledger_batch(struct zt_ledger *l, int64_t cutoff_ms, zt_u128 min_payout,
                                 int64_t now_ms, int64_t *batch_id, size_t *n_leaves);

struct zt_ledger_leaf {
    uint64_t index;
    uint8_t address[20];
    zt_u128 amount;
};
/* A batch's root, and the leaf and proof of address in it (ZT_ENOTFOUND
 * when it has none). proof holds at least ZT_MERKLE_MAX_DEPTH hashes. */
ZT_NODISCARD int zt_ledger_batch_root(struct zt_ledger *l, int64_t batch_id, uint8_t root[static ZT_MERKLE_HASH]);
ZT_NODISCARD int zt_ledger_batch_proof(struct zt_ledger *l, int64_t batch_id, const char *address,
                                       struct zt_ledger_leaf *leaf, uint8_t (*proof)[ZT_MERKLE_HASH],
                                       size_t *n);

/* "0x" + 40 hex digits into 20 bytes (ZT_EINVAL otherwise). */
ZT_NODISCARD int zt_ledger_parse_address(const char *s, uint8_t out[static 20]);

/* ---- EIP-712 signatures of payout batches ------------------------------- */

/* The typed-data domain, EIP712Domain(string name,string version,uint256
 * chainId,address verifyingContract): the payout contract's. */
struct zt_eip712_domain {
    const char *name;    /* "Zentalk Payouts" by default (chain.yaml) */
    const char *version; /* "1" */
    uint64_t chain_id;
    uint8_t contract[20]; /* verifyingContract */
};
#define ZT_PAYOUT_DOMAIN_NAME "Zentalk Payouts"
#define ZT_PAYOUT_DOMAIN_VERSION "1"
/* The signed struct: its type string (EIP-712's encodeType). */
#define ZT_PAYOUT_BATCH_TYPE "PayoutBatch(uint256 batchId,bytes32 root,uint256 total,uint256 leaves)"
#define ZT_EIP712_SIG_LEN 65 /* r || s || v, v = 27 or 28 (as eth_signTypedData) */

/* hashStruct(domain) (the domain separator). */
void zt_eip712_domain_separator(const struct zt_eip712_domain *d, uint8_t out[static 32]);
/* keccak256(0x19 0x01 || domain separator || struct hash). */
void zt_eip712_digest(const uint8_t domain_sep[static 32], const uint8_t struct_hash[static 32],
                      uint8_t out[static 32]);
/* hashStruct(PayoutBatch{batchId, root, total, leaves}). */
void zt_payout_batch_hash(uint64_t batch_id, const uint8_t root[static ZT_MERKLE_HASH], zt_u128 total,
                          uint64_t n_leaves, uint8_t out[static 32]);

/* The payout key: a secp256k1 secret kept in locked memory (libsodium's
 * sodium_malloc), in its own passphrase-protected file (Argon2id +
 * XSalsa20-Poly1305, crypto_pwhash + crypto_secretbox). */
struct zt_payout_key;
ZT_NODISCARD int zt_payout_key_generate(struct zt_payout_key **out);
/* From a 32-byte secret (ZT_EINVAL when it is not a valid secp256k1 key). */
ZT_NODISCARD int zt_payout_key_from_secret(const uint8_t sk[static 32], struct zt_payout_key **out);
void zt_payout_key_free(struct zt_payout_key *k); /* NULL is a no-op; wipes the secret */
/* The key's Ethereum address (keccak256 of the public key, last 20 bytes). */
void zt_payout_key_address(const struct zt_payout_key *k, uint8_t out[static 20]);
/* A recoverable ECDSA signature of digest (RFC 6979 nonce, low s): r || s || v. */
ZT_NODISCARD int zt_payout_key_sign(const struct zt_payout_key *k, const uint8_t digest[static 32],
                                    uint8_t sig[static ZT_EIP712_SIG_LEN]);
/* Argon2id cost of a key file; 0/0 takes libsodium's MODERATE (tests pass
 * the minimum). Bounded on load as identity key files are. */
struct zt_payout_kdf {
    uint64_t opslimit;
    size_t memlimit;
};
/* Write the key to path: a new 0600 file (ZT_EEXIST when path exists),
 * written to a temporary file, fsynced and renamed. pass_len >= 1. */
ZT_NODISCARD int zt_payout_key_save(const struct zt_payout_key *k, const char *path, const char *pass,
                                    size_t pass_len, const struct zt_payout_kdf *kdf);
/* Read a key file: ZT_ENOTFOUND no file, ZT_EPERM group/other-readable,
 * ZT_ECRYPTO wrong passphrase or altered file, ZT_EPARSE malformed,
 * ZT_ERANGE a cost out of bounds. */
ZT_NODISCARD int zt_payout_key_load(const char *path, const char *pass, size_t pass_len,
                                    struct zt_payout_key **out);

/* ---- batch states: pending -> signed -> submitted -> confirmed ------------- */

enum zt_ledger_batch_state {
    ZT_BATCH_PENDING = 0,
    ZT_BATCH_SIGNED = 1,
    ZT_BATCH_SUBMITTED = 2,
    ZT_BATCH_CONFIRMED = 3,
};
const char *zt_ledger_batch_state_name(int state);

struct zt_ledger_batch_info {
    int64_t id;
    int state;
    uint8_t root[ZT_MERKLE_HASH];
    zt_u128 total;
    uint64_t n_leaves;
    int64_t created_ms;
    bool has_sig;
    uint8_t sig[ZT_EIP712_SIG_LEN];
    char tx_ref[256]; /* "" until submitted */
};
ZT_NODISCARD int zt_ledger_batch_info(struct zt_ledger *l, int64_t batch_id, struct zt_ledger_batch_info *out);

/* pending -> signed: the EIP-712 signature of the batch (domain d) with
 * key, stored with it. Idempotent: a batch already signed returns its
 * stored signature (never signs twice; ECDSA with RFC 6979 is
 * deterministic anyway). sig may be NULL. */
ZT_NODISCARD int zt_ledger_batch_sign(struct zt_ledger *l, int64_t batch_id, const struct zt_eip712_domain *d,
                                      const struct zt_payout_key *key, uint8_t *sig);
/* signed -> submitted through a file: write the batch (domain, root,
 * signature, leaves with their proofs) as JSON to path (temporary file,
 * fsync, rename: the bytes are the same each time), then record
 * "file:<path>" as its submission. Again on a submitted or confirmed
 * batch: the file is rewritten, the state stays. ZT_EPERM on a pending
 * batch (sign it first). */
ZT_NODISCARD int zt_ledger_batch_export(struct zt_ledger *l, int64_t batch_id, const struct zt_eip712_domain *d,
                                        const char *path);
/* signed -> submitted through a hook: hook(batch json, ud, ref, cap) hands
 * the batch to the chain and writes its reference (a transaction hash)
 * into ref; 0 on success. A batch already submitted is not handed again
 * (0, nothing called): a crash after the hook and before the record hands
 * it again, so the contract must refuse a batch id twice (it does: the
 * claimed bitmap and batch id are its). */
typedef int (*zt_ledger_submit_fn)(const char *json, size_t len, void *ud, char *ref, size_t cap);
ZT_NODISCARD int zt_ledger_batch_submit(struct zt_ledger *l, int64_t batch_id, const struct zt_eip712_domain *d,
                                        zt_ledger_submit_fn hook, void *ud);
/* submitted -> confirmed (the chain included it). Again with the same
 * batch: no-op. ZT_EPERM before it was submitted. */
ZT_NODISCARD int zt_ledger_batch_confirm(struct zt_ledger *l, int64_t batch_id);
/* The batch as the export file holds it (JSON, zt_malloc'd, *len bytes). */
ZT_NODISCARD int zt_ledger_batch_json(struct zt_ledger *l, int64_t batch_id, const struct zt_eip712_domain *d,
                                      char **out, size_t *len);

/* ---- reading the books: an account's history, the batches ------------------ */

/* One entry of an account's history (newest first). */
struct zt_ledger_hist {
    int64_t entry_id, tx_id;
    char key[ZT_LEDGER_KEY_MAX + 1]; /* the transaction's idempotency key ("settle:<job>") */
    char memo[64];                   /* its memo ("settle", "mint", "payout", ...), cut to fit */
    bool credit;
    zt_u128 amount;
    struct zt_ledger_bal balance_after;
};
/* Up to max entries of account, newest first, with entry ids below
 * before_id (0: from the newest), into out; *n how many. A page ends
 * where the next begins: pass the last entry_id as before_id. */
ZT_NODISCARD int zt_ledger_history(struct zt_ledger *l, int64_t account, int64_t before_id,
                                   struct zt_ledger_hist *out, size_t max, size_t *n);
/* Up to max batches, newest first, with ids below before_id (0: from the
 * newest), into out; *n how many. address (0x + 40 hex, may be NULL):
 * only the batches with a leaf paying it, whose leaf goes to leaves[i]
 * (leaves may be NULL). */
ZT_NODISCARD int zt_ledger_batch_list(struct zt_ledger *l, const char *address, int64_t before_id,
                                      struct zt_ledger_batch_info *out, struct zt_ledger_leaf *leaves, size_t max,
                                      size_t *n);
/* A provider's payout wallet ("" when none is set); ZT_ENOTFOUND when the
 * node has no provider account. */
ZT_NODISCARD int zt_ledger_payout_address(struct zt_ledger *l, const char *node_id, char out[static 43]);
/* The batches not yet submitted (pending or signed), oldest first: what a
 * payout round must still finish after a crash. */
ZT_NODISCARD int zt_ledger_batch_unfinished(struct zt_ledger *l, int64_t *ids, size_t max, size_t *n);

/* As JSON (jansson; NULL on ENOMEM): an array of entries {entry, tx, key,
 * memo, direction, amount, balance_after}; a batch {batch, state, root,
 * total, leaves, created_ms, signature?, submission?, leaf?{index,
 * address, amount}}. Amounts are decimal strings of base units. */
struct json_t;
struct json_t *zt_ledger_history_to_json(const struct zt_ledger_hist *h, size_t n);
struct json_t *zt_ledger_batch_to_json(const struct zt_ledger_batch_info *b, const struct zt_ledger_leaf *leaf);

/* ---- pricing and the job path (chain.yaml; issue 12 item 2) ------------- */

/* chain.yaml's amounts, parsed exactly (base units). */
struct zt_ledger_prices {
    zt_u128 prompt_per_1k, completion_per_1k; /* default prices per 1000 tokens */
    zt_u128 min_payout, verification_bonus, slash_amount, min_stake;
    uint32_t fee_bps; /* the orchestrator's fee, basis points of the cost */
    int64_t dispute_window_ms;
};
/* A worker's own prices per 1000 prompt / completion tokens, in base
 * units (its signed join record's caps; docs/internals/ledger.md). */
struct zt_ledger_rate {
    zt_u128 prompt_per_1k, completion_per_1k;
};
/* p with rate's two prices instead of chain.yaml's (rate NULL: p as it is). */
void zt_ledger_prices_at(const struct zt_ledger_prices *p, const struct zt_ledger_rate *rate,
                         struct zt_ledger_prices *out);
struct zt_cfg_chain;
/* ZT_ECONFIG (with the key in why) for an amount that does not parse or
 * overflows. */
ZT_NODISCARD int zt_ledger_prices_from_config(const struct zt_cfg_chain *c, struct zt_ledger_prices *out,
                                              char *why, size_t cap);
/* cost of a job: ceil((prompt x prompt price + completion x completion
 * price) / 1000); its fee: floor(cost x fee_bps / 10000). */
ZT_NODISCARD int zt_ledger_job_cost(const struct zt_ledger_prices *p, uint64_t prompt_tokens,
                                    uint64_t completion_tokens, zt_u128 *cost, zt_u128 *fee);
/* What a job reserves at submission: the cost and fee of ctx prompt and
 * max_tokens completion tokens. */
ZT_NODISCARD int zt_ledger_job_estimate(const struct zt_ledger_prices *p, uint64_t ctx_tokens, uint64_t max_tokens,
                                        zt_u128 *out);
/* Submission: reserve the estimate from the USER account of wallet address
 * user_addr (created if new). ZT_ERANGE when its balance does not cover
 * it (the gateway answers 402), ZT_EINVAL for a bad address. *reserved
 * (may be NULL): the amount. Idempotent by job id. */
ZT_NODISCARD int zt_ledger_job_open(struct zt_ledger *l, const struct zt_ledger_prices *p, const char *job_id,
                                    const char *user_addr, uint64_t ctx_tokens, uint64_t max_tokens,
                                    zt_u128 *reserved);
/* Completion: the actual cost to node_id's PROVIDER account (created if
 * new), the fee to the fee account, the rest back to the user; a cost and
 * fee over the reservation are cut to it (the user never pays more than
 * was reserved). Idempotent by job id. */
ZT_NODISCARD int zt_ledger_job_close(struct zt_ledger *l, const struct zt_ledger_prices *p, const char *job_id,
                                     const char *node_id, uint64_t prompt_tokens, uint64_t completion_tokens,
                                     int64_t now_ms);
/* Failure: the whole reservation back (zt_ledger_refund). */
ZT_NODISCARD int zt_ledger_job_fail(struct zt_ledger *l, const char *job_id);
/* The stake gate: *ok when node_id's STAKE balance is at least
 * min_stake (always with min_stake 0). */
ZT_NODISCARD int zt_ledger_stake_ok(struct zt_ledger *l, const struct zt_ledger_prices *p, const char *node_id,
                                    bool *ok);
/* The escrow row of a job: its user account, amount and state (1
 * reserved, 2 settled, 3 refunded); ZT_ENOTFOUND. */
ZT_NODISCARD int zt_ledger_escrow(struct zt_ledger *l, const char *job_id, int64_t *user, zt_u128 *amount,
                                  int *state);

/* ---- the node's books (the gateway's job path) ------------------------------ */

/* A struct zt_ledger on the node's database (database.yaml) behind a
 * mutex, with chain.yaml's prices: safe from any thread. */
struct zt_chain;
struct zt_config;
struct zt_buf;
ZT_NODISCARD int zt_chain_open(const struct zt_config *cfg, struct zt_chain **out, struct zt_buf *err);
void zt_chain_free(struct zt_chain *c); /* NULL is a no-op */
const struct zt_ledger_prices *zt_chain_prices(const struct zt_chain *c);
/* The wallet address that pays for a caller: its identity
 * "wallet:0x<40 hex>" (a wallet session); ZT_EPERM for any other. */
ZT_NODISCARD int zt_chain_payer(const char *identity, char out[static 43]);
/* The prompt tokens a gateway reserves for (it does not tokenize): one
 * per byte of the texts at most (byte-level tokenizers), plus the chat
 * template's allowance per text and once more. */
#define ZT_CHAIN_TEMPLATE_ALLOWANCE 64u
uint64_t zt_chain_prompt_bound(uint64_t prompt_bytes, uint64_t n_texts);
/* At submission: reserve job_id's estimate (zt_chain_prompt_bound prompt
 * tokens, max_tokens completion tokens) from the caller's wallet account,
 * at rate (the chosen worker's prices, or the client's ceiling for both
 * while no worker is chosen; NULL: chain.yaml's prices). ZT_EPERM: not a
 * wallet caller; ZT_ERANGE: the balance does not cover it (both: the
 * gateway's 402, with msg). */
ZT_NODISCARD int zt_chain_job_open(struct zt_chain *c, const char *identity, const char *job_id,
                                   uint64_t prompt_bytes, uint64_t n_texts, uint64_t max_tokens,
                                   const struct zt_ledger_rate *rate, char *msg, size_t cap);
/* At the end: settle (ok: the worker's earning at rate, the worker's own
 * prices, NULL for chain.yaml's; the fee; the rest back; the cost cut to
 * the reservation) or refund. A job never reserved is left alone; errors
 * are logged. */
void zt_chain_job_end(struct zt_chain *c, const char *job_id, bool ok, const char *worker,
                      const struct zt_ledger_rate *rate, uint64_t prompt_tokens, uint64_t completion_tokens);

/* The payout wallet a worker announced in its signed join record (caps
 * "wallet", accepted by the registry): node_id's PROVIDER account pays
 * there from now on (written only when it differs). NULL or "" : no-op.
 * Errors are logged. */
void zt_chain_provider_wallet(struct zt_chain *c, const char *node_id, const char *wallet);

/* An answer from the gateway's result cache (zt_rcache.h): charge price
 * (base units, chain.price_cache_hit) from the caller's wallet to
 * provider's PROVIDER account under job_id, through the job hooks (escrow,
 * then settle at once; no fee). price 0: nothing is written. ZT_EPERM: not
 * a wallet caller; ZT_ERANGE: the balance does not cover it (both the
 * gateway's 402, with msg). Idempotent by job id. */
ZT_NODISCARD int zt_chain_cache_hit(struct zt_chain *c, const char *identity, const char *job_id,
                                    const char *provider, zt_u128 price, char *msg, size_t cap);

/* The balance of (kind, owner) (a new account reads 0). */
ZT_NODISCARD int zt_chain_balance(struct zt_chain *c, enum zt_ledger_kind kind, const char *owner, zt_u128 *out);
/* An admin's deposit: mint amount into address's USER account under the
 * idempotency key "deposit:<key>" (the same key and body again: a replay,
 * *replayed; another body: ZT_EEXIST). */
ZT_NODISCARD int zt_chain_deposit(struct zt_chain *c, const char *key, const char *address, zt_u128 amount,
                                  bool *replayed);

/* The books for a reader (routes, the CLI): the ledger, borrowed under
 * the chain's mutex until zt_chain_unlock. Call zt_ledger_* on it, nothing
 * that locks c again. */
struct zt_ledger *zt_chain_lock(struct zt_chain *c);
void zt_chain_unlock(struct zt_chain *c);

/* A wallet's account for a data export (GDPR): address's USER account,
 * looked up without creating one, under the chain's mutex, as
 * {address, balance, decimals, count, truncated, history} with up to max
 * history entries, newest first (zt_ledger_history_to_json; truncated:
 * max were listed). ZT_ENOTFOUND: no account (it never deposited or paid
 * here); ZT_ENOMEM, ZT_EINVAL (max 0), or the store's error. */
ZT_NODISCARD int zt_chain_account_export(struct zt_chain *c, const char *address, size_t max, struct json_t **out);

/* The ledger as a provider of a GDPR export and erase (struct zt_gdpr_provider,
 * zt_gdpr.h, registered by the node; chain: the struct zt_chain, or NULL
 * on a node with chain.enabled false). Export: a wallet identity's
 * account (zt_chain_account_export, at most ZT_CHAIN_EXPORT_ENTRIES
 * entries, with a note that payment records survive erasure), or *out
 * NULL and *why saying why none is kept; budget is not used (the entries
 * are bounded by count), *used 0. Erase: nothing is erased; kept.ledger
 * says why. ZT_ENOMEM, or the store's error. */
#define ZT_CHAIN_EXPORT_ENTRIES 1000
ZT_NODISCARD int zt_chain_gdpr_export(void *chain, const char *identity, size_t budget, size_t *used,
                                      struct json_t **out, const char **why);
ZT_NODISCARD int zt_chain_gdpr_erase(void *chain, const char *identity, struct json_t *erased, struct json_t *kept);

/* ---- a worker's books, each call under the chain's lock once (src/ledger/provider.c) ---- */

/* A worker's rewards page: its unpaid earnings (the PROVIDER balance) and
 * its stake (the STAKE balance; both accounts created if new, as
 * zt_chain_balance does; a negative balance reads 0), its payout wallet
 * ("" when none is set), and up to max entries (max >= 1) of the PROVIDER
 * account's history (of_stake: the STAKE account's) with entry ids below
 * before_id (0: from the newest), newest first, into hist. */
struct zt_chain_rewards {
    zt_u128 unpaid, staked;
    char wallet[43];
    size_t n; /* entries written to hist */
};
ZT_NODISCARD int zt_chain_rewards(struct zt_chain *c, const char *node_id, bool of_stake, int64_t before_id,
                                  struct zt_ledger_hist *hist, size_t max, struct zt_chain_rewards *out);
/* A stake deposit (an admin, or the bridge) and the stake it leaves:
 * zt_ledger_stake_deposit, then node_id's STAKE balance into *staked.
 * ZT_EEXIST: the key was used for another deposit. */
ZT_NODISCARD int zt_chain_stake_deposit(struct zt_chain *c, const char *key, const char *node_id, zt_u128 amount,
                                        bool *replayed, zt_u128 *staked);
/* An admin's deposit into a wallet (zt_chain_deposit: ZT_EEXIST, the key
 * used for another deposit; ZT_EINVAL, ZT_ERANGE, refused) and the
 * balance it leaves: address normalised into norm (lowercase 0x + 40 hex)
 * and that account's balance, read just after the deposit (a deposit
 * between the two shows in it) into *balance; ZT_EIO when address is not
 * a wallet address. */
ZT_NODISCARD int zt_chain_wallet_deposit(struct zt_chain *c, const char *key, const char *address, zt_u128 amount,
                                         bool *replayed, char norm[static 43], zt_u128 *balance);
/* Up to max payout batches, newest first, with ids below before_id (0:
 * from the newest), into out, and the address's leaf in each into leaves:
 * with node_id, those paying node_id's payout wallet (copied into wallet;
 * "" and *n 0 when the node has none or no account); otherwise those
 * paying address (NULL: every batch; leaves are then not meaningful). */
ZT_NODISCARD int zt_chain_payouts(struct zt_chain *c, const char *node_id, const char *address, int64_t before_id,
                                  struct zt_ledger_batch_info *out, struct zt_ledger_leaf *leaves, size_t max,
                                  size_t *n, char wallet[static 43]);
/* What a claimant submits to the payout contract, checked: batch_id's
 * info, address's leaf in it, the leaf's Merkle proof (*n hashes; proof
 * holds ZT_MERKLE_MAX_DEPTH) and the leaf's hash, verified against the
 * stored root. ZT_ENOTFOUND: no such batch, or the address has no leaf in
 * it; ZT_EIO: the stored leaves no longer give the stored root (the books
 * check that first); ZT_ECRYPTO: the proof does not verify against it. */
ZT_NODISCARD int zt_chain_batch_proof(struct zt_chain *c, int64_t batch_id, const char *address,
                                      struct zt_ledger_batch_info *info, struct zt_ledger_leaf *leaf,
                                      uint8_t (*proof)[ZT_MERKLE_HASH], size_t *n,
                                      uint8_t leaf_hash[static ZT_MERKLE_HASH]);
/* Set node_id's payout wallet (zt_ledger_set_wallet: its PROVIDER account,
 * created if new) and read it back as stored (lower-case) into norm. */
ZT_NODISCARD int zt_chain_set_payout_wallet(struct zt_chain *c, const char *node_id, const char *address,
                                            char norm[static 43]);

/* A stake deposit (an admin, or the bridge): mint amount into node_id's
 * STAKE account under the key "stake:<key>" (a replay: *replayed). */
ZT_NODISCARD int zt_ledger_stake_deposit(struct zt_ledger *l, const char *key, const char *node_id, zt_u128 amount,
                                         bool *replayed);
/* Set node_id's payout wallet (its PROVIDER account, created if new). */
ZT_NODISCARD int zt_ledger_set_wallet(struct zt_ledger *l, const char *node_id, const char *address);

/* The stake gate for placement (zt_sched_set_admit, wired by the node):
 * true when node_id's stake is at least chain.min_stake (always with
 * min_stake 0); false, logged, when the ledger cannot answer. ud is the
 * struct zt_chain. */
bool zt_chain_stake_admit(void *ud, const char *node_id);

/* A decided verification of job_id (the node wires it to the verifier's
 * settled hook, zt_verifier_set_on_settled): honest are the node ids of
 * the checkers in the majority (at most 16 are used). worker_wrong (the
 * worker outvoted): zt_ledger_penalize(job, worker, chain.slash_amount)
 * with the honest checkers' PROVIDER accounts sharing the slash (the
 * treasury takes the remainder, all of it when none). Then, any verdict,
 * each honest checker gets chain.verification_bonus from the fee account
 * (zt_ledger_verification_bonus: at most an equal share of what the fee
 * account holds). Each idempotent by job id; logged, counted in /metrics.
 * 0, or the ledger's error (nothing or part done: a second call completes
 * it, the done part replayed as a no-op; the orchestrator's settlement
 * outbox calls it again). */
ZT_NODISCARD int zt_chain_verified(struct zt_chain *c, const char *job_id, const char *worker, bool worker_wrong,
                       const char *const *honest, size_t n_honest);
/* The verdict hook for a confirmed mismatch with no checker known
 * (zt_sched_set_on_rejected): zt_chain_verified(ud, job, worker, true,
 * NULL, 0), the slash to the treasury. ud is the struct zt_chain. */
void zt_chain_slash_job(void *ud, const char *job_id, const char *worker);

/* ---- the payout loop (chain.payout_interval_s) ----------------------------------- */

/* What one payout round did. */
struct zt_chain_round {
    int64_t batch_id;  /* the batch built now (0: nothing was due) */
    size_t n_leaves;   /* its leaves */
    size_t n_signed;   /* batches signed now (this one, or left pending by a crash) */
    size_t n_exported; /* batches exported now (signed -> submitted) */
    size_t n_waiting;  /* batches left pending: no payout key */
};
/* One round at now_ms: build the batch of the earnings past the dispute
 * window (providers at or above min_payout), then take every batch not
 * yet submitted, oldest first, through sign (with the payout key, if one
 * is loaded) and export to <data_dir>/payouts/batch-<id>.json. Each step
 * is the ledger's compare-and-set, so a round after a crash finishes what
 * the crashed one began and nothing is batched, signed or submitted twice. */
ZT_NODISCARD int zt_chain_payout_round(struct zt_chain *c, int64_t now_ms, struct zt_chain_round *out);
/* Load the payout key (chain.payout_key_file under node.data_dir, its
 * passphrase in the variable chain.payout_passphrase_env; no variable
 * named or set: no key, batches wait in pending with a warning) and start
 * the loop thread: a round now, then every chain.payout_interval_s.
 * ZT_ECRYPTO/ZT_EPERM/ZT_EPARSE (err says why) when a key is named and
 * does not load. zt_chain_free stops the thread. */
ZT_NODISCARD int zt_chain_payouts_start(struct zt_chain *c, struct zt_buf *err);
/* fn(ud, batch) after each batch a payout round builds (state pending)
 * and each it exports (state submitted), outside the books' lock, on the
 * round's thread (the node's API bridge sends payout webhooks from it).
 * Set before zt_chain_payouts_start; NULL: none. */
void zt_chain_set_on_batch(struct zt_chain *c, void (*fn)(void *ud, const struct zt_ledger_batch_info *bi), void *ud);
/* The EIP-712 domain of this node's batch signatures (chain.yaml). */
const struct zt_eip712_domain *zt_chain_domain(const struct zt_chain *c);

/* /metrics: zentalk_ledger_jobs_{reserved,settled,refunded}_total,
 * zentalk_ledger_payments_refused_total, zentalk_ledger_deposits_total
 * (c NULL, chain.enabled false: the same families, always 0). */
struct zt_metrics;
ZT_NODISCARD int zt_chain_register_metrics(struct zt_chain *c, struct zt_metrics *m);

#endif
