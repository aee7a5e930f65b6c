/* wallet.h: a wallet session and HS256 JWTs against a test's gateway, as
 * the chain-enabled black-box tests need them (test_ledger_network,
 * test_ledger_cheat). Part of the harness library (tests/integration/
 * wallet.c). */
#ifndef ZT_TEST_WALLET_H
#define ZT_TEST_WALLET_H

#include <stddef.h>
#include <stdint.h>

/* "Bearer <HS256 JWT>" for sub with role, signed with secret (iss
 * zentalk-api, aud zentalk-ai, ten minutes), as test_auth_api mints them. */
void wallet_jwt_bearer(const char *secret, const char *sub, const char *role, char *out, size_t cap);
/* A wallet session for address (its secp256k1 key skhex, 64 hex digits)
 * at the gateway on port: nonce, personal_sign, login; the session token
 * into token. Fails the test on any error. */
void wallet_login(uint16_t port, const char *address, const char *skhex, char *token, size_t cap);

#endif
