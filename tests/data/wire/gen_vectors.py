#!/usr/bin/env python3
"""Wire v2 test vectors (docs/architecture/WIRE.md), computed independently
of the C code with Python's hashlib and cryptography (Ed25519). Writes
vectors.json beside this file; tests/unit/test_wire.c checks the C
implementation against it. Run: python3 tests/data/wire/gen_vectors.py"""
import hashlib, json, os, struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

M64 = (1 << 64) - 1


def b2(x):
    return hashlib.blake2b(x, digest_size=32).digest()


def f32(v):
    return struct.unpack('<I', struct.pack('<f', v))[0]


# ---- hash chain ------------------------------------------------------------
params = dict(temperature=0.8, top_p=0.95, min_p=0.05, repeat_penalty=1.1, frequency_penalty=0.0,
              presence_penalty=0.0, top_k=40, repeat_last_n=64, seed=0x0123456789ABCDEF)
n_vocab = 16
logit_bias = [(3, -1.5)]
init = b'zentalk-seq-v1'
for k in ('temperature', 'top_p', 'min_p', 'repeat_penalty', 'frequency_penalty', 'presence_penalty'):
    init += struct.pack('<I', f32(params[k]))
init += struct.pack('<iiII', params['top_k'], params['repeat_last_n'], n_vocab, len(logit_bias))
init += struct.pack('<II', params['seed'] & 0xFFFFFFFF, params['seed'] >> 32)
h = b2(init)
for tok, bias in logit_bias:
    h = b2(h + struct.pack('<iI', tok, f32(bias)))
h0 = h
prompt = [1, 5, 9]
for t in prompt:
    h = b2(h + struct.pack('<i', t))
steps = []
for s in range(3):
    logits = [round(((i * 7 + s * 5) % 16) * 0.375 - 2.0, 3) for i in range(n_vocab)]
    logits[2] = logits[11]  # a tie: broken by id
    logits = [struct.unpack('<f', struct.pack('<f', v))[0] for v in logits]
    token = [4, 11, 2][s]
    top = sorted(range(n_vocab), key=lambda i: (-logits[i], i))[:8]
    link = h + struct.pack('<i', token)
    for i in top:
        link += struct.pack('<iI', i, f32(logits[i]))
    h = b2(link)
    steps.append(dict(token=token, logits=logits, chain=h.hex()))
chain = dict(params=params, n_vocab=n_vocab, logit_bias=[[t, b] for t, b in logit_bias], prompt=prompt,
             h0=h0.hex(), after_prompt=None, steps=steps)
hp = h0
for t in prompt:
    hp = b2(hp + struct.pack('<i', t))
chain['after_prompt'] = hp.hex()


# ---- draws: the sampler's random number at (seed, position) -----------------
def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


def draw(seed, pos):
    x = seed ^ ((pos * 0xD6E8FEB86659FD93) & M64)
    s = []
    for _ in range(4):
        x, v = splitmix64(x)
        s.append(v)
    r = (rotl((s[1] * 5) & M64, 7) * 9) & M64
    return (r >> 11)  # the double is this times 2^-53


draws = [dict(seed=seed, pos=pos, u53=draw(seed, pos)) for seed in (0, 42, 0x0123456789ABCDEF)
         for pos in (0, 1, 2, 1000, (1 << 32) + 5)]

# ---- a checkpoint record ------------------------------------------------------
seed = bytes(range(32))
key = Ed25519PrivateKey.from_private_bytes(seed)
pk = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
ck = dict(flags=1, job_id=bytes(range(0x10, 0x20)).hex(), subject=hashlib.sha256(b'subject').hexdigest(),
          model_sha256=hashlib.sha256(b'model').hexdigest(), prev=hashlib.sha256(b'prev').hexdigest(),
          n_tokens=300, chain=steps[-1]['chain'], build_id='zentalk-engine test 1')
body = b'ZTK1' + bytes([ck['flags']]) + bytes.fromhex(ck['job_id']) + bytes.fromhex(ck['subject']) + \
    bytes.fromhex(ck['model_sha256']) + bytes.fromhex(ck['prev']) + struct.pack('<I', ck['n_tokens']) + \
    bytes.fromhex(ck['chain']) + pk + bytes([len(ck['build_id'])]) + ck['build_id'].encode()
sig = key.sign(b'zentalk-checkpoint-v1' + body)
record = body + sig
ck['ed25519_seed'] = seed.hex()
ck['ed25519_pk'] = pk.hex()
ck['record'] = record.hex()
ck['id'] = hashlib.sha256(record).hexdigest()


# ---- result records and the output hash -----------------------------------------
def rec(t, payload):
    return bytes([t]) + struct.pack('<I', len(payload)) + payload


def tokens(ids, text):
    return rec(0x54, struct.pack('<H', len(ids)) + b''.join(struct.pack('<I', i) for i in ids) + text.encode())


final = '{"finish_reason":"stop","usage":{"completion_tokens":2,"prompt_tokens":3,"total_tokens":5}}'
stream = [dict(ids=[17], text='Once'), dict(ids=[300, 2], text=' upon'), dict(ids=[], text='!')]
plain = b''.join(tokens(s['ids'], s['text']) for s in stream)
plain_ck = rec(0x4B, record)
records = dict(stream=stream, tokens_hex=[tokens(s['ids'], s['text']).hex() for s in stream],
               checkpoint_record_hex=plain_ck.hex(), final=final,
               output_hash=hashlib.sha256(plain + plain_ck + final.encode()).hexdigest())

# ---- job bodies -------------------------------------------------------------------
sub = hashlib.sha256(b'the first body').hexdigest()
bodies = dict(
    v1='{"v":1,"kind":"completion","prompt":"Hi","seed":7}',
    v2='{"v":2,"kind":"chat","messages":[{"role":"user","content":"Hi"}],"seed":7,"nonce":"00"}',
    resume='{"v":2,"kind":"completion","prompt":"Hi","seed":7,"subject":"%s","resume":{"ids":[17,300,2]}}' % sub,
    verify='{"v":2,"kind":"completion","prompt":"Hi","subject":"%s","verify":{"ids":[17,300,2,0]}}' % sub,
    v3='{"v":3,"kind":"completion","prompt":"Hi"}',
    subject=sub)

out = dict(chain=chain, draws=draws, checkpoint=ck, records=records, bodies=bodies)
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, 'vectors.json'), 'w') as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write('\n')
