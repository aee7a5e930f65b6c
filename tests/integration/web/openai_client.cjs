// openai_client.cjs: the official OpenAI Node.js client (npm "openai" 6.x,
// pinned in scripts/data.sh) against a running node, with the calls
// applications make every day. Run by test_web_clients (harness.h):
//   NODE_PATH=data/node_modules node openai_client.cjs http://127.0.0.1:PORT MODEL
// Prints one line per check; exit 0 when all pass, 1 on a failure, 77 when
// the client package is not installed (a skip, tests/README.md).
"use strict";

const { need, check, run } = require("./common.cjs");
const { OpenAI } = need("openai");

const [base, model] = process.argv.slice(2);
if (!base || !model) {
  console.log("usage: openai_client.cjs URL MODEL");
  process.exit(2);
}
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "unused-on-a-loopback-node", maxRetries: 0, timeout: 60000 });

// A call the node must refuse with a 400 whose message says why.
async function refused(what, fn, needle) {
  try {
    await fn();
    check(false, what, "accepted; expected a 400");
  } catch (e) {
    const msg = e && e.error && e.error.message ? e.error.message : String(e && e.message);
    check(e instanceof OpenAI.BadRequestError && msg.includes(needle), what, e.status + " " + msg);
  }
}

async function main() {
  // models.list() and models.retrieve(id): GET /v1/models/{id}
  const list = await client.models.list();
  const ids = list.data.map((m) => m.id);
  check(ids.includes(model), "models.list() names " + model, ids.join(","));
  const m = await client.models.retrieve(model);
  check(m.id === model && m.object === "model", "models.retrieve(" + model + ")", JSON.stringify(m));
  try {
    await client.models.retrieve("no-such-model");
    check(false, "models.retrieve(unknown) is a 404");
  } catch (e) {
    check(e instanceof OpenAI.NotFoundError, "models.retrieve(unknown) is a 404", e.status);
  }

  // embeddings.create(): the client asks for base64 by default and decodes
  // it (little-endian float32) into numbers; float must give the same vector
  const e64 = await client.embeddings.create({ model, input: ["hello world", "a cat"] });
  const v64 = e64.data[0].embedding;
  check(Array.isArray(v64) && v64.length > 0 && v64.every(Number.isFinite), "embeddings.create() (base64 by default)",
    "dim " + v64.length);
  check(e64.data.length === 2 && e64.data[1].index === 1, "embeddings.create() answers each input in order");
  const ef = await client.embeddings.create({ model, input: "hello world", encoding_format: "float" });
  const vf = ef.data[0].embedding;
  check(vf.length === v64.length && vf.every((x, i) => Math.abs(x - v64[i]) <= 1e-6 * Math.max(1, Math.abs(x))),
    "base64 and float embeddings are the same vector");
  const raw = await client.embeddings.create({ model, input: "hello world", encoding_format: "base64" });
  const b = Buffer.from(raw.data[0].embedding, "base64");
  check(typeof raw.data[0].embedding === "string" && b.length === 4 * vf.length &&
        Math.abs(b.readFloatLE(0) - vf[0]) <= 1e-6 * Math.max(1, Math.abs(vf[0])),
    "encoding_format base64 is little-endian float32", b.length + " bytes");

  // completions.create() with stop and seed: the same seed, the same text
  const c1 = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 24, seed: 7, temperature: 0.9 });
  const c2 = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 24, seed: 7, temperature: 0.9 });
  check(c1.object === "text_completion" && c1.choices[0].text.length > 0, "completions.create()", JSON.stringify(c1.choices[0].text));
  check(c1.choices[0].text === c2.choices[0].text, "seed: the same seed gives the same completion");
  check(c1.usage && c1.usage.completion_tokens > 0, "completions.create() reports usage", JSON.stringify(c1.usage));
  const words = c1.choices[0].text.trim().split(/\s+/);
  if (words.length >= 2) {
    const stopAt = words[1];
    const cs = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 24, seed: 7, temperature: 0.9, stop: [stopAt] });
    check(!cs.choices[0].text.includes(stopAt) && cs.choices[0].finish_reason === "stop",
      "stop ends the completion before the stop string", JSON.stringify(cs.choices[0].text) + " stop " + JSON.stringify(stopAt));
  } else {
    check(false, "stop: the seeded completion has fewer than two words to stop at", JSON.stringify(c1.choices[0].text));
  }

  // chat.completions.create(), whole and streamed (the same seed: the same text)
  const msgs = [{ role: "system", content: "You tell short stories." }, { role: "user", content: "Tell me about a dog." }];
  const chat = await client.chat.completions.create({ model, messages: msgs, max_tokens: 24, seed: 3, n: 1,
    response_format: { type: "text" } });
  const whole = chat.choices[0].message.content;
  check(chat.object === "chat.completion" && chat.choices[0].message.role === "assistant" && whole.length > 0,
    "chat.completions.create() (n 1, response_format text)", JSON.stringify(whole));
  const stream = await client.chat.completions.create({ model, messages: msgs, max_tokens: 24, seed: 3, stream: true,
    stream_options: { include_usage: true } });
  let streamed = "", chunks = 0, usage = null, finish = null;
  for await (const ch of stream) {
    if (ch.usage) usage = ch.usage;
    const c = ch.choices[0];
    if (!c) continue;
    if (c.delta && c.delta.content) { streamed += c.delta.content; chunks++; }
    if (c.finish_reason) finish = c.finish_reason;
  }
  check(chunks >= 2 && streamed === whole, "chat.completions.create({stream: true}) streams the same answer",
    chunks + " chunks");
  check(finish === "stop" || finish === "length", "the stream ends with a finish_reason", finish);
  check(usage && usage.completion_tokens > 0, "stream_options.include_usage gives a usage chunk", JSON.stringify(usage));

  // what the engine cannot do is a clear 400, not a silent answer without it
  await refused("n: 2 is refused", () => client.chat.completions.create({ model, messages: msgs, max_tokens: 4, n: 2 }),
    "one choice per request");
  await refused("logprobs is refused", () => client.chat.completions.create({ model, messages: msgs, max_tokens: 4, logprobs: true, top_logprobs: 2 }),
    "token probabilities");
  await refused("completions logprobs is refused", () => client.completions.create({ model, prompt: "x", max_tokens: 4, logprobs: 2 }),
    "token probabilities");
  await refused("response_format json_object is refused", () => client.chat.completions.create({ model, messages: msgs,
    max_tokens: 4, response_format: { type: "json_object" } }), "no constrained decoding");
  await refused("response_format json_schema is refused", () => client.chat.completions.create({ model, messages: msgs,
    max_tokens: 4, response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } } }),
    "no constrained decoding");
}

run(main);
