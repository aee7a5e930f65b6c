/* wallet.h: a wallet session at a test's gateway, as the chain-enabled
 * black-box tests need it (test_ledger_network, test_ledger_cheat; an
 * admin's JWT is keyed_bearer_role). Part of the harness library
 * (tests/integration/wallet.c). */
#ifndef ZT_TEST_WALLET_H
#define ZT_TEST_WALLET_H

#include <stddef.h>
#include <stdint.h>

/* A wallet session for address (its secp256k1 key skhex, 64 hex digits)
 * at the gateway on port: nonce, personal_sign, login; the session token
 * into token. Fails the test on any error. */
void wallet_login(uint16_t port, const char *address, const char *skhex, char *token, size_t cap);

#endif
