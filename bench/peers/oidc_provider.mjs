// panva's oidc-provider configured like the gateway, for bench/bench_sso.py: one process,
// client_secret_basic, RFC 9068-style JWT access tokens signed ES256 for a resource indicator
// (RFC 8707), ES256 and RS256 keys published, refresh tokens rotated at each use. Storage is
// the library's default in-memory adapter (the gateway writes every grant to PostgreSQL).
//
// Run: PORT=... CLIENT_SECRET=... node oidc_provider.mjs (from the folder holding node_modules).
// POST /bench/refresh-tokens?n=N mints N refresh tokens (as a code exchange would have), so the
// refresh benchmark needs no login UI; POST /bench/access-tokens mints one opaque access token
// of a user's grant with the openid scope (as a code exchange would have), which its UserInfo
// endpoint and introspection answer for; everything else is the provider itself.
import http from 'node:http';

import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const secret = process.env.CLIENT_SECRET;
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = 'urn:vigie:bench-api';

async function privateJwk(alg) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg.toLowerCase()}-bench` };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench',
    client_secret: secret,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    redirect_uris: ['https://bench.example/cb'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
    scope: 'openid offline_access api',
  }],
  jwks: { keys: [await privateJwk('ES256'), await privateJwk('RS256')] },
  scopes: ['openid', 'offline_access', 'api'],
  cookies: { keys: ['bench-cookie-key-not-a-secret'] },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 900,
    ClientCredentials: 900,
    Grant: 30 * 24 * 3600,
    RefreshToken: 30 * 24 * 3600,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    // RFC 9449: a token request with a DPoP proof gets a token bound to its key.
    dPoP: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: RESOURCE,
        accessTokenTTL: 900,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});

async function mintRefreshTokens(n) {
  const client = await provider.Client.find('bench');
  const now = Math.floor(Date.now() / 1000);
  const tokens = [];
  for (let i = 0; i < n; i += 1) {
    const accountId = `bench-user-${i}`;
    const grant = new provider.Grant({ accountId, clientId: 'bench' });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(RESOURCE, 'api');
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      gty: 'authorization_code',
      iiat: now,
      authTime: now,
      resource: RESOURCE,
      rotations: 0,
      scope: 'offline_access api',
    });
    tokens.push(await token.save());
  }
  return tokens;
}

async function mintUserAccessToken() {
  const client = await provider.Client.find('bench');
  const accountId = 'bench-user-userinfo';
  const grant = new provider.Grant({ accountId, clientId: 'bench' });
  grant.addOIDCScope('openid');
  const grantId = await grant.save();
  // No resource: the token is the provider's own, for its UserInfo endpoint (opaque, as
  // oidc-provider issues those), not a JWT for the API.
  const token = new provider.AccessToken({
    accountId, client, grantId, gty: 'authorization_code', scope: 'openid',
  });
  return token.save();
}

const callback = provider.callback();

function answer(res, minting) {
  minting.then((minted) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(minted));
  }, (error) => {
    res.writeHead(500);
    res.end(String(error));
  });
}

http.createServer((req, res) => {
  if (req.method === 'POST' && req.url.startsWith('/bench/refresh-tokens')) {
    const n = Number(new URL(req.url, issuer).searchParams.get('n') || '1');
    answer(res, mintRefreshTokens(n));
    return;
  }
  if (req.method === 'POST' && req.url === '/bench/access-tokens') {
    answer(res, mintUserAccessToken());
    return;
  }
  callback(req, res);
}).listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
