#!/usr/bin/env node
// A FAPI 2.0 relying party written only with openid-client (not the project's code), run against
// the gateway by tests/cli/test_fapi_rp.py and by hand as docs/fapi.md shows.
//
//   node rp.mjs keygen --private client.jwk.json --public client.jwks.json
//   node rp.mjs flow --issuer URL --client-id ID --client-key client.jwk.json \
//       --redirect-uri URL --username NAME [--dpop-key dpop.jwk.json] [--plain] < password
//
// flow: discovery; private_key_jwt (RFC 7523) with the client's key; a DPoP handle (RFC 9449);
// PAR (RFC 9126) with PKCE S256, state and nonce; the login form filled as a browser would,
// cookies kept; the code grant with iss checked (RFC 9207); userinfo and a refresh, both with
// DPoP proofs. It prints one JSON object of what it saw, and exits 1 with the error's code and
// description on any error. --plain sends a plain authorization URL instead (no PAR) and prints
// what the gateway answered to it.

import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import * as client from 'openid-client'

const EC = { name: 'ECDSA', namedCurve: 'P-256' }

/** RFC 7638 §3: SHA-256 of the required members, in lexicographic order, base64url. */
async function thumbprint({ crv, kty, x, y }) {
  const members = new TextEncoder().encode(JSON.stringify({ crv, kty, x, y }))
  const digest = await crypto.subtle.digest('SHA-256', members)
  return Buffer.from(digest).toString('base64url')
}

/** A JWT's claims, read without verification: this client got it from the token endpoint
 * itself, and reads it only to report what the token is bound to. */
function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'))
}

/** One JSON object on a line; indented for a person at a terminal. */
function print(object) {
  process.stdout.write(`${JSON.stringify(object, null, process.stdout.isTTY ? 2 : undefined)}\n`)
}

/** What the flow saw so far: printed whole at its end, or up to the step that failed. */
const seen = {}

function fail(what, error) {
  const out = { ok: false, step: what, error: String(error?.message ?? error) }
  for (const key of ['code', 'error', 'error_description', 'status']) {
    if (error?.[key] !== undefined) out[key] = error[key]
  }
  // oauth4webapi puts the server's answer (body, WWW-Authenticate challenges) in cause.
  // A network failure's cause is an Error, which JSON.stringify would print as {}.
  const cause = error?.cause
  if (cause instanceof Error) out.cause = { message: cause.message, code: cause.code }
  else if (cause !== undefined) out.cause = cause
  out.seen = seen
  print(out)
  process.exit(1)
}

async function step(what, work) {
  try {
    return await work()
  } catch (error) {
    fail(what, error)
  }
}

async function keygen(values) {
  if (!values.private || !values.public) throw new Error('keygen needs --private and --public')
  const { privateKey } = await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', privateKey)
  const pub = { kty, crv, x, y }
  const kid = await thumbprint(pub)
  const jwk = { ...pub, d, kid, alg: 'ES256', use: 'sig' }
  writeFileSync(values.private, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600 })
  const jwks = { keys: [{ ...pub, kid, alg: 'ES256', use: 'sig' }] }
  writeFileSync(values.public, `${JSON.stringify(jwks, null, 2)}\n`)
  print({ kid, private: values.private, public: values.public })
}

/** A private EC JWK from a file, as a CryptoKeyPair (the public half extractable: a DPoP proof
 * carries it in its header, RFC 9449 §4.2). */
async function keyPair(path) {
  const jwk = JSON.parse(readFileSync(path, 'utf8'))
  const { d, key_ops, ext, use, alg, kid, ...pub } = jwk
  if (d === undefined) throw new Error(`${path}: not a private key (no "d")`)
  const privateKey = await crypto.subtle.importKey('jwk', { ...pub, d }, EC, false, ['sign'])
  const publicKey = await crypto.subtle.importKey('jwk', pub, EC, true, ['verify'])
  return { pair: { privateKey, publicKey }, kid, thumbprint: await thumbprint(pub) }
}

/** A new key pair, as a client that keeps no DPoP key across runs makes one. */
async function randomKeyPair() {
  const pair = await client.randomDPoPKeyPair('ES256')
  const pub = await crypto.subtle.exportKey('jwk', pair.publicKey)
  return { pair, thumbprint: await thumbprint(pub) }
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === '#') {
      const hex = name[1] === 'x' || name[1] === 'X'
      return String.fromCodePoint(Number.parseInt(name.slice(hex ? 2 : 1), hex ? 16 : 10))
    }
    return ENTITIES[name.toLowerCase()] ?? whole
  })
}

function attributes(tag) {
  const found = {}
  const attribute = /([a-zA-Z_:-]+)(\s*=\s*(?:"([^"]*)"|'([^']*)'))?/g
  for (const [, name, , dq, sq] of tag.matchAll(attribute)) {
    found[name.toLowerCase()] = unescapeHtml(dq ?? sq ?? '')
  }
  return found
}

/** The login form of a page: its action, its method and its fields as a browser would submit
 * them, the person's identifier and password in its text and password inputs. */
function loginForm(html, pageUrl, username, password) {
  for (const [, formTag, body] of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const inputs = [...body.matchAll(/<input\b[^>]*>/gi)].map(([tag]) => attributes(tag))
    if (!inputs.some((input) => input.type === 'password')) continue
    const form = attributes(formTag)
    const fields = new URLSearchParams()
    for (const input of inputs) {
      if (!input.name) continue
      const type = (input.type ?? 'text').toLowerCase()
      if (type === 'password') fields.append(input.name, password)
      else if (type === 'text' || type === 'email') fields.append(input.name, username)
      else if (type === 'hidden') fields.append(input.name, input.value ?? '')
    }
    return {
      action: new URL(form.action || pageUrl, pageUrl),
      method: (form.method || 'get').toUpperCase(),
      fields,
    }
  }
  return undefined
}

/** An HTTP client that keeps cookies and does not follow redirects by itself, so that the
 * redirect to the relying party's callback is seen and not followed. */
class Browser {
  cookies = new Map()

  async request(url, init = {}) {
    const headers = new Headers(init.headers)
    const jar = this.cookies.get(url.host)
    if (jar?.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
    const response = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const at = pair.indexOf('=')
      if (!this.cookies.has(url.host)) this.cookies.set(url.host, new Map())
      this.cookies.get(url.host).set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
    }
    return response
  }

  /** From the authorization URL to the callback, logging in on the way. The callback URL, or
   * what the gateway answered instead of a redirect (status, body). */
  async authorize(start, redirectUri, username, password) {
    let url = start
    let init = {}
    let loggedIn = false
    for (let hop = 0; hop < 12; hop += 1) {
      const response = await this.request(url, init)
      init = {}
      const location = response.headers.get('location')
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, url)
        if (next.href.startsWith(redirectUri)) return { callback: next }
        url = next
        continue
      }
      const body = await response.text()
      const form = response.status === 200 && !loggedIn && loginForm(body, url, username, password)
      if (!form) return { status: response.status, body }
      loggedIn = true
      url = form.action
      init = {
        method: form.method,
        body: form.fields,
        // A browser's form post names the page's origin (Fetch standard).
        headers: {
          origin: new URL(url).origin,
          'content-type': 'application/x-www-form-urlencoded',
        },
      }
    }
    throw new Error(`more than 12 redirects from ${start}`)
  }
}

function answered(outcome) {
  if (outcome.callback) {
    const params = Object.fromEntries(outcome.callback.searchParams)
    return { redirected_to_callback: true, params }
  }
  let body = outcome.body
  try {
    body = JSON.parse(body)
  } catch {
    body = body.slice(0, 2000)
  }
  return { redirected_to_callback: false, status: outcome.status, body }
}

async function flow(values) {
  for (const name of ['issuer', 'client-id', 'client-key', 'redirect-uri', 'username']) {
    if (!values[name]) throw new Error(`flow needs --${name}`)
  }
  const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '')
  const redirectUri = values['redirect-uri']
  const signer = await step('client key', () => keyPair(values['client-key']))
  const dpopKey = await step('DPoP key', () =>
    values['dpop-key'] ? keyPair(values['dpop-key']) : randomKeyPair(),
  )

  const config = await step('discovery', () =>
    client.discovery(
      new URL(values.issuer),
      values['client-id'],
      {
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'private_key_jwt',
        id_token_signed_response_alg: 'ES256',
        // FAPI 2.0 Security Profile: the pushed request, and only it, reaches /authorize.
        require_pushed_authorization_requests: !values.plain,
        dpop_bound_access_tokens: true,
      },
      client.PrivateKeyJwt({ key: signer.pair.privateKey, kid: signer.kid }),
      // Loopback over http, as `vigie up` serves; TLS is the deployment's (docs/fapi.md).
      { execute: [client.allowInsecureRequests] },
    ),
  )
  const metadata = config.serverMetadata()
  const DPoP = client.getDPoPHandle(config, dpopKey.pair)
  const browser = new Browser()

  const verifier = client.randomPKCECodeVerifier()
  const params = {
    redirect_uri: redirectUri,
    scope: values.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: client.randomState(),
    nonce: client.randomNonce(),
  }

  if (values.plain) {
    const url = client.buildAuthorizationUrl(config, params)
    const outcome = await step('authorization', () =>
      browser.authorize(url, redirectUri, values.username, password),
    )
    return { mode: 'plain', authorization_url: url.href, ...answered(outcome) }
  }

  Object.assign(seen, { mode: 'fapi', issuer: metadata.issuer, client_id: values['client-id'] })
  seen.dpop_jkt = dpopKey.thumbprint
  const url = await step('PAR', () => client.buildAuthorizationUrlWithPAR(config, params, { DPoP }))
  seen.par = {
    request_uri: url.searchParams.get('request_uri'),
    authorization_url_params: [...url.searchParams.keys()].sort(),
  }
  const outcome = await step('authorization', () =>
    browser.authorize(url, redirectUri, values.username, password),
  )
  if (!outcome.callback) {
    fail('authorization', { message: 'no redirect to the callback', cause: answered(outcome) })
  }
  const callback = outcome.callback
  seen.callback = {
    iss: callback.searchParams.get('iss'),
    params: [...callback.searchParams.keys()].sort(),
  }
  const checks = {
    pkceCodeVerifier: verifier,
    expectedState: params.state,
    expectedNonce: params.nonce,
    idTokenExpected: true,
  }

  // RFC 9207 §2.4: a response naming another issuer is refused before its code is used (a
  // mix-up attack would send this client's code to the other issuer's token endpoint).
  const forged = new URL(callback)
  forged.searchParams.set('iss', 'https://attacker.example')
  seen.iss_mix_up = await client
    .authorizationCodeGrant(config, forged, checks, undefined, { DPoP })
    .then(
      () => ({ refused: false }),
      (error) => ({
        refused: true,
        code: error.code,
        error: error.message,
        // openid-client wraps oauth4webapi's error, which says which check failed.
        reason: error.cause?.message,
      }),
    )

  const tokens = await step('token', () =>
    client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP }),
  )
  const idToken = tokens.claims()
  Object.assign(seen, {
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    scope: tokens.scope,
    access_token: claimsOf(tokens.access_token),
    id_token: idToken,
  })
  // FAPI 2.0 Security Profile: an authorization server issues sender-constrained tokens
  // only, so a bearer token is an error here, not a fallback.
  if (tokens.token_type !== 'dpop') {
    fail('token', { message: `token_type ${tokens.token_type}, not DPoP (RFC 9449 §5)` })
  }
  seen.userinfo = await step('userinfo', () =>
    client.fetchUserInfo(config, tokens.access_token, idToken.sub, { DPoP }),
  )

  // RFC 9449 §7.1: a DPoP-bound token is refused without its proof, or with another key's.
  const asBearer = await fetch(metadata.userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  })
  seen.bearer_use = {
    status: asBearer.status,
    www_authenticate: asBearer.headers.get('www-authenticate'),
  }
  const otherKey = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
  seen.other_dpop_key = await client
    .fetchUserInfo(config, tokens.access_token, idToken.sub, { DPoP: otherKey })
    .then(
      () => ({ refused: false }),
      (error) => ({
        refused: true,
        code: error.code,
        status: error.status,
        challenge: error.cause?.[0]?.parameters,
      }),
    )

  const refreshed = await step('refresh', () =>
    client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP }),
  )
  if (refreshed.token_type !== 'dpop') {
    fail('refresh', { message: `token_type ${refreshed.token_type}, not DPoP (RFC 9449 §5)` })
  }
  seen.refresh = {
    token_type: refreshed.token_type,
    access_token: claimsOf(refreshed.access_token),
    new_access_token: refreshed.access_token !== tokens.access_token,
    new_refresh_token:
      refreshed.refresh_token !== undefined && refreshed.refresh_token !== tokens.refresh_token,
  }
  const again = await step('userinfo after refresh', () =>
    client.fetchUserInfo(config, refreshed.access_token, idToken.sub, { DPoP }),
  )
  seen.refresh.userinfo_sub = again.sub
  // A client that lost the answer to its refresh retries with the token it sent: FAPI 2.0
  // Security Profile §5.3.2.1 lets an authorization server rotate refresh tokens only if that
  // retry succeeds. The new refresh token above was never used, as after a lost answer.
  seen.refresh.retry_with_previous = await client
    .refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
    .then(
      (retried) => ({
        accepted: true,
        token_type: retried.token_type,
        cnf: claimsOf(retried.access_token).cnf,
      }),
      (error) => ({
        accepted: false,
        error: error.error,
        error_description: error.error_description,
      }),
    )
  return { ok: true, ...seen }
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-key': { type: 'string' },
    'dpop-key': { type: 'string' },
    'redirect-uri': { type: 'string' },
    username: { type: 'string' },
    scope: { type: 'string', default: 'openid profile email' },
    plain: { type: 'boolean', default: false },
    private: { type: 'string' },
    public: { type: 'string' },
  },
})

try {
  if (positionals[0] === 'keygen') await keygen(values)
  else if (positionals[0] === 'flow') print(await flow(values))
  else throw new Error('usage: rp.mjs keygen|flow [options] (see the comment at its top)')
} catch (error) {
  fail('rp', error)
}
