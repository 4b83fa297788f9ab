// The load generator bench/bench_sso.py drives both providers with: one JSON job on argv, one
// JSON result on stdout. Being outside Python, it takes no CPU from the gateway's interpreter,
// and it is the same client for both sides.
//
// job: {url, method, path, headers, body, connections, duration, refreshTokens?, paced?}
// - saturate (default): autocannon, `connections` keep-alive clients each sending its next
//   request as soon as the previous one is answered: the most the server can do.
// - paced: `connections` keep-alive clients, each sending `paced` requests per second on
//   average at random (exponential) intervals, so their requests do not arrive in lockstep:
//   the latency a client sees under that many concurrent clients at a given load.
// With refreshTokens, every request presents a refresh token the provider returned earlier
// (rotation, RFC 9700 §4.14.2): each token is used once.
// With dpop, every request carries a fresh DPoP proof (RFC 9449 §4.2) of one ES256 key, as a
// client holding its key would send: the proof's signature is the client's cost, its check the
// provider's.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import autocannon from 'autocannon';

// `@file` names a file holding the job: Keycloak's refresh tokens are JWTs, too many for one
// argument (Linux limits one to 128 KiB).
const arg = process.argv[2];
const job = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg);
const tokens = job.refreshTokens ? [...job.refreshTokens] : null;

const b64url = (data) => Buffer.from(data).toString('base64url');
const dpopKey = job.dpop ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : null;
const dpopHeader = dpopKey && b64url(JSON.stringify({
  typ: 'dpop+jwt',
  alg: 'ES256',
  jwk: (({ kty, crv, x, y }) => ({ kty, crv, x, y }))(dpopKey.publicKey.export({ format: 'jwk' })),
}));
const htu = new URL(job.path, job.url).href;

function headersFor() {
  if (!dpopKey) return job.headers;
  const claims = b64url(JSON.stringify({
    jti: randomUUID(), htm: job.method, htu, iat: Math.floor(Date.now() / 1000),
  }));
  const input = `${dpopHeader}.${claims}`;
  const signature = sign('sha256', Buffer.from(input), { key: dpopKey.privateKey, dsaEncoding: 'ieee-p1363' });
  return { ...job.headers, DPoP: `${input}.${b64url(signature)}` };
}

function bodyFor() {
  if (!tokens) return job.body;
  // 'exhausted' is only reached once the run is over (more tokens than connections are given).
  return `grant_type=refresh_token&refresh_token=${tokens.pop() ?? 'exhausted'}`;
}

function rotated(status, body) {
  if (tokens && status === 200) tokens.push(JSON.parse(body).refresh_token);
}

function percentile(sorted, pct) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.round((pct / 100) * (sorted.length - 1)))];
}

async function saturate() {
  const request = { method: job.method, path: job.path, headers: job.headers, body: job.body };
  if (tokens || dpopKey) {
    // A shared queue, not autocannon's per-connection context (reset after every request
    // when there is one request template).
    request.setupRequest = (req) => ({ ...req, body: bodyFor(), headers: headersFor() });
    request.onResponse = rotated;
  }
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.duration,
    requests: [request],
    timeout: 30,
  });
  return {
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

async function paced() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const target = new URL(job.path, job.url);
  const latencies = [];
  let failed = 0;
  const started = performance.now();
  const until = started + job.duration * 1000;
  const send = () => new Promise((resolve) => {
    const body = bodyFor();
    const t0 = performance.now();
    const req = http.request(target, { method: job.method, headers: headersFor(), agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        latencies.push(performance.now() - t0);
        rotated(res.statusCode, Buffer.concat(chunks).toString());
        if (res.statusCode !== 200) failed += 1;
        resolve();
      });
    });
    req.on('error', () => { failed += 1; resolve(); });
    if (body) req.end(body); else req.end();
  });
  const client = async () => {
    for (;;) {
      const pause = -Math.log(1 - Math.random()) * (1000 / job.paced);
      await new Promise((resolve) => { setTimeout(resolve, pause); });
      if (performance.now() >= until) return;
      await send();
    }
  };
  await Promise.all(Array.from({ length: job.connections }, client));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    ok: latencies.length - failed,
    failed,
    seconds: (performance.now() - started) / 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

process.stdout.write(`${JSON.stringify(job.paced ? await paced() : await saturate())}\n`);
process.exit(0);
